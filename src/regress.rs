//! `metarl regress`: short deterministic training runs whose final meta-test return is checked
//! against `tests/regression/baselines.csv`, so a change that breaks learning (a flipped sign, a
//! detached gradient, a drifted reward) fails CI.
//!
//! Each case is one `metarl train` run in its own process (seed 0, CPU, the config's thread
//! count); an offline case trains from a dataset `metarl offline collect` writes first, once for
//! all its seeds. A baseline is recorded over several seeds: its band is the seeds' mean ± 3 standard
//! deviations, so it comes from the measured spread, not from a guess. Baselines are recorded in
//! reproducible numerics, so a check on any machine first compares seed 0 bit for bit
//! ("identical" or "changed by X"); `--exact` fails a changed case, the band judges the rest.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::numerics::{self, Machine, Numerics};
use crate::protocol::config::Algorithm;
use crate::results::{mean_std, write_atomic};
use crate::suggest::closest_match;

/// One regression run: an algorithm on a cheap task where it learns quickly.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub algo: &'static str,
    pub env: &'static str,
    /// Config file, relative to the repository.
    pub config: &'static str,
    /// `quick` cases run in CI (2 cores); `full` adds the ones that need a bigger machine.
    pub quick: bool,
}

pub const CASES: &[Case] = &[
    Case { algo: "pearl", env: "point-robot", config: "configs/demo/point-robot.json", quick: true },
    Case { algo: "oracle-sac", env: "point-robot", config: "configs/demo/point-robot.json", quick: true },
    Case { algo: "tcl", env: "point-robot", config: "configs/demo/point-robot.json", quick: true },
    Case { algo: "cocoa", env: "point-robot", config: "configs/demo/point-robot.json", quick: true },
    Case { algo: "maml-trpo", env: "point-robot", config: "configs/demo/maml-trpo-point-robot.json", quick: true },
    Case { algo: "rl2-ppo", env: "sparse-point-robot", config: "configs/demo/rl2-ppo-sparse-point-robot.json", quick: true },
    Case { algo: "focal", env: "point-robot", config: "configs/regress/focal-point-robot.json", quick: true },
    Case { algo: "mcat", env: "point-robot-wind", config: "configs/demo/mcat-point-robot-wind.json", quick: true },
    Case { algo: "pearl", env: "cheetah-vel", config: "configs/regress/cheetah-vel.json", quick: false },
    Case { algo: "oracle-sac", env: "cheetah-vel", config: "configs/regress/cheetah-vel.json", quick: false },
    Case { algo: "tcl", env: "cheetah-vel", config: "configs/regress/cheetah-vel.json", quick: false },
    Case { algo: "cocoa", env: "cheetah-vel", config: "configs/regress/cheetah-vel.json", quick: false },
];

impl Case {
    pub fn name(&self) -> String {
        format!("{}/{}", self.algo, self.env)
    }
}

/// The cases of a suite, narrowed to `only` (algorithm names) if given.
pub fn select(suite: &str, only: &[String]) -> Result<Vec<Case>> {
    let quick = match suite {
        "quick" => true,
        "full" => false,
        other => bail!("unknown regression suite {other:?}; use quick or full"),
    };
    let algos: Vec<&str> = CASES.iter().map(|c| c.algo).collect();
    for name in only {
        if !algos.contains(&name.as_str()) {
            let hint = closest_match(name, algos.iter().copied()).map(|h| format!(" (did you mean {h:?}?)")).unwrap_or_default();
            bail!("--only {name:?}: no regression case runs that algorithm{hint}");
        }
    }
    Ok(CASES.iter().filter(|c| (c.quick || !quick) && (only.is_empty() || only.iter().any(|o| o == c.algo))).copied().collect())
}

/// One row of baselines.csv.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    pub algo: String,
    pub env: String,
    pub config: String,
    /// The seeds the band was measured over, `;`-separated.
    pub seeds: String,
    pub mean: f64,
    pub std: f64,
    pub low: f64,
    pub high: f64,
    /// Seed 0's value, the one a check run reproduces.
    pub seed0: f64,
    pub command: String,
    pub date: String,
    /// The numerics mode and CPU the values came from: in reproducible mode a check on any
    /// machine reproduces `seed0` bit for bit; in fast mode only on the same CPU model.
    #[serde(default)]
    pub numerics: String,
    #[serde(default)]
    pub cpu: String,
}

pub fn read_baselines(path: &Path) -> Result<Vec<Baseline>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    reader.deserialize().collect::<Result<_, _>>().with_context(|| format!("{} is not a baselines table", path.display()))
}

pub fn write_baselines(path: &Path, rows: &[Baseline]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_atomic(path, &writer.into_inner()?)
}

/// What one case's run gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub case: Case,
    pub seed: u64,
    /// The final iteration's meta-test return, or why the run failed.
    pub test_return: Result<f64, String>,
}

/// Runs `runs` (case, seed) with at most `jobs` processes at once, each `metarl train` writing
/// into `out/<algo>-<env>-seed<k>/` (replaced) and its log next to it.
pub fn run_cases(runs: &[(Case, u64)], jobs: usize, out: &Path, repo: &Path) -> Result<Vec<Outcome>> {
    let exe = std::env::current_exe().context("cannot find the metarl binary")?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let dataset = |case: &Case| Algorithm::parse(case.algo).is_ok_and(Algorithm::is_offline).then(|| out.join(format!("dataset-{}-{}", case.algo, case.env)));
    let mut collected = Vec::new();
    for (case, _) in runs {
        let Some(dir) = dataset(case).filter(|d| !collected.contains(d)) else { continue };
        let log_path = out.join(format!("dataset-{}-{}.log", case.algo, case.env));
        let log = std::fs::File::create(&log_path)?;
        let status = Command::new(&exe)
            .args(["offline", "collect", "--env", case.env, "--config"])
            .arg(repo.join(case.config))
            .arg("--out")
            .arg(&dir)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .status()?;
        if !status.success() {
            bail!("collecting the dataset of {} failed ({status}); see {}", case.name(), log_path.display());
        }
        collected.push(dir);
    }
    let mut outcomes = Vec::new();
    for chunk in runs.chunks(jobs.max(1)) {
        let children = chunk
            .iter()
            .map(|&(case, seed)| {
                let dir = out.join(format!("{}-{}-seed{seed}", case.algo, case.env));
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                let log = std::fs::File::create(out.join(format!("{}-{}-seed{seed}.log", case.algo, case.env)))?;
                let child = Command::new(&exe)
                    .args(["train", case.algo, "--env", case.env, "--seed", &seed.to_string()])
                    .arg("--config")
                    .arg(repo.join(case.config))
                    .arg("--out")
                    .arg(&dir)
                    .args(dataset(&case).map(|d| vec!["--dataset".into(), d.into_os_string()]).unwrap_or_default())
                    .stdout(Stdio::from(log.try_clone()?))
                    .stderr(Stdio::from(log))
                    .spawn()?;
                Ok((case, seed, dir, child))
            })
            .collect::<Result<Vec<_>>>()?;
        for (case, seed, dir, mut child) in children {
            let status = child.wait()?;
            let test_return = if status.success() {
                final_return(&dir).map_err(|e| format!("{e:#}"))
            } else {
                Err(format!("the run failed ({status}); see {}.log", dir.display()))
            };
            outcomes.push(Outcome { case, seed, test_return });
        }
    }
    Ok(outcomes)
}

/// `test_return` of a run folder's summary.csv.
fn final_return(dir: &Path) -> Result<f64> {
    let mut reader = csv::Reader::from_path(dir.join("summary.csv"))?;
    let headers = reader.headers()?.clone();
    let column = headers.iter().position(|h| h == "test_return").context("summary.csv has no test_return column")?;
    let row = reader.records().next().context("summary.csv is empty")??;
    Ok(row[column].parse()?)
}

/// A check's verdict on one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Within,
    Below,
    Above,
    NoBaseline,
    Failed(String),
}

/// The baseline recorded for `case` (same algorithm, env and config file).
pub fn baseline_for<'a>(case: &Case, baselines: &'a [Baseline]) -> Option<&'a Baseline> {
    baselines.iter().find(|b| (b.algo.as_str(), b.env.as_str(), b.config.as_str()) == (case.algo, case.env, case.config))
}

pub fn judge(outcome: &Outcome, baselines: &[Baseline]) -> Verdict {
    let value = match &outcome.test_return {
        Ok(v) => *v,
        Err(e) => return Verdict::Failed(e.clone()),
    };
    match baseline_for(&outcome.case, baselines) {
        None => Verdict::NoBaseline,
        Some(b) if value < b.low || !value.is_finite() => Verdict::Below,
        Some(b) if value > b.high => Verdict::Above,
        Some(_) => Verdict::Within,
    }
}

/// How a check's seed-0 value compares with the baseline's, bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub enum Exactness {
    Identical,
    /// Changed by this much (check minus baseline).
    Changed(f64),
    /// The baseline came from another numerics mode, or from fast mode on another CPU: its
    /// seed 0 is not expected to be reproduced, only its band.
    NotComparable(String),
}

pub fn exactness(value: f64, baseline: &Baseline, here: &Machine) -> Exactness {
    let comparable = Numerics::parse(&baseline.numerics).is_ok_and(|numerics| here.reproduces(numerics, &baseline.cpu));
    if !comparable {
        let numerics = if baseline.numerics.is_empty() { "unknown" } else { &baseline.numerics };
        return Exactness::NotComparable(format!("baseline from {numerics} numerics on {}", if baseline.cpu.is_empty() { "an unrecorded CPU" } else { &baseline.cpu }));
    }
    if value.to_bits() == baseline.seed0.to_bits() {
        Exactness::Identical
    } else {
        Exactness::Changed(value - baseline.seed0)
    }
}

/// A baseline from one case's runs over several seeds: mean ± 3 sample standard deviations.
pub fn baseline_from(case: &Case, values: &[(u64, f64)], command: &str, date: &str) -> Baseline {
    let (mean, std) = mean_std(&values.iter().map(|v| v.1).collect::<Vec<_>>());
    let seed0 = values.iter().find(|v| v.0 == 0).map_or(f64::NAN, |v| v.1);
    Baseline {
        algo: case.algo.into(),
        env: case.env.into(),
        config: case.config.into(),
        seeds: values.iter().map(|v| v.0.to_string()).collect::<Vec<_>>().join(";"),
        mean,
        std,
        low: mean - 3.0 * std,
        high: mean + 3.0 * std,
        seed0,
        command: command.into(),
        date: date.into(),
        numerics: numerics::active().name().into(),
        cpu: Machine::current().cpu,
    }
}

/// Where baselines live in a checkout.
pub fn baselines_path(repo: &Path) -> PathBuf {
    repo.join("tests/regression/baselines.csv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_come_from_the_seed_spread_and_judge_both_sides() {
        let case = CASES[0];
        let b = baseline_from(&case, &[(0, -10.0), (1, -12.0), (2, -14.0)], "cmd", "2026-01-01");
        assert_eq!((b.mean, b.std, b.seed0, b.seeds.as_str()), (-12.0, 2.0, -10.0, "0;1;2"));
        assert_eq!((b.low, b.high), (-18.0, -6.0));
        let at = |v: f64| judge(&Outcome { case, seed: 0, test_return: Ok(v) }, std::slice::from_ref(&b));
        assert_eq!((at(-17.9), at(-18.1), at(-5.9), at(f64::NAN)), (Verdict::Within, Verdict::Below, Verdict::Above, Verdict::Below));
        assert_eq!(judge(&Outcome { case: CASES[1], seed: 0, test_return: Ok(0.0) }, &[b]), Verdict::NoBaseline);
    }

    #[test]
    fn seed_zero_is_compared_bit_for_bit_only_where_it_can_be_reproduced() {
        let mut b = baseline_from(&CASES[0], &[(0, -10.0), (1, -12.0)], "cmd", "2026-01-01");
        let machine = |cpu: &str, numerics| Machine { cpu: cpu.into(), isa: "avx2".into(), numerics, kernels: String::new(), torch_threads: 1 };
        (b.numerics, b.cpu) = ("reproducible".into(), "Intel Xeon".into());
        let amd = machine("AMD EPYC", Numerics::Reproducible);
        assert_eq!(exactness(-10.0, &b, &amd), Exactness::Identical);
        assert_eq!(exactness(-10.5, &b, &amd), Exactness::Changed(-0.5));
        assert!(matches!(exactness(-10.0, &b, &machine("Intel Xeon", Numerics::Fast)), Exactness::NotComparable(_)));
        b.numerics = "fast".into();
        assert_eq!(exactness(-10.0, &b, &machine("Intel Xeon", Numerics::Fast)), Exactness::Identical);
        let other_cpu = exactness(-10.0, &b, &machine("AMD EPYC", Numerics::Fast));
        assert_eq!(other_cpu, Exactness::NotComparable("baseline from fast numerics on Intel Xeon".into()));
    }

    #[test]
    fn suites_and_only_select_cases_and_typos_are_named() {
        assert!(select("quick", &[]).unwrap().iter().all(|c| c.quick));
        assert!(select("full", &[]).unwrap().len() > select("quick", &[]).unwrap().len());
        let only = select("quick", &["oracle-sac".into()]).unwrap();
        assert!(only.iter().all(|c| c.algo == "oracle-sac") && !only.is_empty());
        let err = select("quick", &["oracle-sca".into()]).unwrap_err().to_string();
        assert!(err.contains("did you mean \"oracle-sac\""), "{err}");
        assert!(select("nightly", &[]).unwrap_err().to_string().contains("quick or full"));
    }
}
