//! `metarl regress`: short deterministic training runs whose final meta-test return is checked
//! against `tests/regression/baselines.csv`, so a change that breaks learning (a flipped sign, a
//! detached gradient, a drifted reward) fails CI.
//!
//! Each case is one `metarl train` run per seed in its own process (CPU, the config's thread
//! count); an offline case trains from a dataset `metarl offline collect` writes first, once for
//! all its seeds. A baseline is recorded over several seeds and keeps each seed's value. Baselines
//! are recorded in reproducible numerics, so a check on any machine first compares each seed bit
//! for bit ("identical" or "changed by X"); `--exact` fails a changed case. Then statistics judge
//! the values: one seed against the band (the baseline seeds' mean ± 3 standard deviations), several
//! seeds by Welch's t-test of their mean against the baseline seeds' at significance [`ALPHA`].

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
    /// Every seed's value, `;`-separated in the order of `seeds` (older rows kept only seed 0's).
    #[serde(default)]
    pub values: String,
}

impl Baseline {
    /// The recorded value of `seed`, where the baseline kept it.
    pub fn value_of(&self, seed: u64) -> Option<f64> {
        if seed == 0 && self.seeds.split(';').any(|s| s == "0") {
            return Some(self.seed0);
        }
        let at = self.seeds.split(';').position(|s| s.parse() == Ok(seed))?;
        self.values.split(';').nth(at)?.parse().ok()
    }

    pub fn seed_count(&self) -> usize {
        self.seeds.split(';').filter(|s| !s.is_empty()).count()
    }
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

/// Significance level of the several-seed check: a case whose seeds' mean differs from the
/// baseline's with p < ALPHA (two-sided) fails, above or below.
pub const ALPHA: f64 = 0.01;

/// The baseline recorded for `case` (same algorithm, env and config file).
pub fn baseline_for<'a>(case: &Case, baselines: &'a [Baseline]) -> Option<&'a Baseline> {
    baselines.iter().find(|b| (b.algo.as_str(), b.env.as_str(), b.config.as_str()) == (case.algo, case.env, case.config))
}

/// Welch's two-sample t-test of a check's seeds against the baseline's (mean, std, count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchTest {
    pub mean: f64,
    pub t: f64,
    pub degrees_of_freedom: f64,
    /// Two-sided p-value.
    pub p: f64,
}

pub fn welch_test(values: &[f64], baseline: &Baseline) -> WelchTest {
    let (mean, std) = mean_std(values);
    let (n1, n2) = (values.len() as f64, baseline.seed_count() as f64);
    let (v1, v2) = (std * std / n1, baseline.std * baseline.std / n2);
    let t = (mean - baseline.mean) / (v1 + v2).sqrt();
    let degrees_of_freedom = (v1 + v2).powi(2) / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0));
    let p = if t.is_nan() { if mean == baseline.mean { 1.0 } else { 0.0 } } else { student_t_two_sided_p(t, degrees_of_freedom) };
    WelchTest { mean, t, degrees_of_freedom, p }
}

/// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2).
pub fn student_t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5)
}

/// I_x(a, b) by its continued fraction (modified Lentz), on the side where it converges fast.
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 || x >= 1.0 {
        return x.clamp(0.0, 1.0);
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - regularized_incomplete_beta(1.0 - x, b, a);
    }
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    d = 1.0 / if d.abs() < tiny { tiny } else { d };
    let mut fraction = d;
    for m in 1..300 {
        let m = m as f64;
        for numerator in [m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)), -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))] {
            d = 1.0 + numerator * d;
            d = 1.0 / if d.abs() < tiny { tiny } else { d };
            c = 1.0 + numerator / c;
            c = if c.abs() < tiny { tiny } else { c };
            fraction *= c * d;
        }
        if (c * d - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * fraction / a
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [0.999_999_999_999_809_9, 676.520_368_121_885_1, -1_259.139_216_722_402_8, 771.323_428_777_653_1, -176.615_029_162_140_6,
        12.507_343_278_686_905, -0.138_571_095_265_720_12, 9.984_369_578_019_572e-6, 1.505_632_735_149_311_6e-7];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let series = G[1..].iter().enumerate().fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// The statistical verdict on one case's check seeds: a single seed against the band, several by
/// Welch's t-test at [`ALPHA`] (with the test's figures). A failed run fails the case.
pub fn judge(case: &Case, outcomes: &[&Outcome], baselines: &[Baseline]) -> (Verdict, Option<WelchTest>) {
    let mut values = Vec::new();
    for outcome in outcomes {
        match &outcome.test_return {
            Ok(v) => values.push(*v),
            Err(e) => return (Verdict::Failed(format!("seed {}: {e}", outcome.seed)), None),
        }
    }
    let Some(b) = baseline_for(case, baselines) else { return (Verdict::NoBaseline, None) };
    if values.iter().any(|v| !v.is_finite()) {
        return (Verdict::Below, None);
    }
    if let [value] = values[..] {
        let verdict = if value < b.low { Verdict::Below } else if value > b.high { Verdict::Above } else { Verdict::Within };
        return (verdict, None);
    }
    let test = welch_test(&values, b);
    let verdict = match test.p < ALPHA {
        false => Verdict::Within,
        true if test.mean < b.mean => Verdict::Below,
        true => Verdict::Above,
    };
    (verdict, Some(test))
}

/// How a check's value of a seed compares with the baseline's, bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub enum Exactness {
    Identical,
    /// Changed by this much (check minus baseline).
    Changed(f64),
    /// The baseline came from another numerics mode, or from fast mode on another CPU: its
    /// seed 0 is not expected to be reproduced, only its band.
    NotComparable(String),
}

pub fn exactness(seed: u64, value: f64, baseline: &Baseline, here: &Machine) -> Exactness {
    let comparable = Numerics::parse(&baseline.numerics).is_ok_and(|numerics| here.reproduces(numerics, &baseline.cpu));
    if !comparable {
        let numerics = if baseline.numerics.is_empty() { "unknown" } else { &baseline.numerics };
        return Exactness::NotComparable(format!("baseline from {numerics} numerics on {}", if baseline.cpu.is_empty() { "an unrecorded CPU" } else { &baseline.cpu }));
    }
    match baseline.value_of(seed) {
        None => Exactness::NotComparable(format!("the baseline kept no value of seed {seed}")),
        Some(recorded) if value.to_bits() == recorded.to_bits() => Exactness::Identical,
        Some(recorded) => Exactness::Changed(value - recorded),
    }
}

/// A baseline from one case's runs over several seeds: each value, and the band mean ± 3 sample
/// standard deviations.
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
        values: values.iter().map(|v| v.1.to_string()).collect::<Vec<_>>().join(";"),
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
    fn one_seed_is_judged_by_the_band_and_several_by_welchs_test() {
        let case = CASES[0];
        let b = baseline_from(&case, &[(0, -10.0), (1, -12.0), (2, -14.0)], "cmd", "2026-01-01");
        assert_eq!((b.mean, b.std, b.seed0, b.seeds.as_str(), b.values.as_str()), (-12.0, 2.0, -10.0, "0;1;2", "-10;-12;-14"));
        assert_eq!((b.low, b.high), (-18.0, -6.0));
        let outcomes = |values: &[f64]| values.iter().enumerate().map(|(seed, &v)| Outcome { case, seed: seed as u64, test_return: Ok(v) }).collect::<Vec<_>>();
        let verdict = |values: &[f64]| judge(&case, &outcomes(values).iter().collect::<Vec<_>>(), std::slice::from_ref(&b)).0;
        assert_eq!((verdict(&[-17.9]), verdict(&[-18.1]), verdict(&[-5.9]), verdict(&[f64::NAN])), (Verdict::Within, Verdict::Below, Verdict::Above, Verdict::Below));
        // Several seeds: Welch against a five-seed baseline (mean -12, std 1.58, band [-16.74, -7.26]).
        let b = baseline_from(&case, &[(0, -10.0), (1, -11.0), (2, -12.0), (3, -13.0), (4, -14.0)], "cmd", "2026-01-01");
        let verdict = |values: &[f64]| judge(&case, &outcomes(values).iter().collect::<Vec<_>>(), std::slice::from_ref(&b));
        // Three seeds 1 below its mean with a larger spread: t = -0.74, p ≈ 0.5: no change.
        let (within, test) = verdict(&[-11.0, -13.0, -15.0]);
        assert_eq!(within, Verdict::Within);
        assert!((test.unwrap().t + 0.7385).abs() < 1e-3 && test.unwrap().p > 0.4, "{test:?}");
        // Each inside the single-seed band, but their mean 3.6 below with a small spread: p < 0.01.
        assert_eq!(verdict(&[-15.5, -15.6, -15.7]).0, Verdict::Below);
        assert_eq!(verdict(&[-8.3, -8.4, -8.5]).0, Verdict::Above);
        let failed = judge(&case, &[&Outcome { case, seed: 3, test_return: Err("killed".into()) }], std::slice::from_ref(&b)).0;
        assert_eq!(failed, Verdict::Failed("seed 3: killed".into()));
        assert_eq!(judge(&CASES[1], &[&outcomes(&[0.0])[0]], &[b]).0, Verdict::NoBaseline);
    }

    #[test]
    fn students_t_p_values_match_the_tables() {
        // Two-sided critical values: t(0.975; 4) = 2.776, t(0.995; 10) = 3.169, t(0.95; 1) = 6.314.
        for (t, df, p) in [(2.776445, 4.0, 0.05), (3.169273, 10.0, 0.01), (6.313752, 1.0, 0.10), (0.0, 7.0, 1.0)] {
            let got = student_t_two_sided_p(t, df);
            assert!((got - p).abs() < 1e-6, "t = {t}, df = {df}: p = {got}, expected {p}");
        }
        let (a, b) = (student_t_two_sided_p(1.5, 5.3), student_t_two_sided_p(-1.5, 5.3));
        assert!(a == b && a > 0.1 && a < 0.3);
    }

    #[test]
    fn seeds_are_compared_bit_for_bit_only_where_they_can_be_reproduced() {
        let mut b = baseline_from(&CASES[0], &[(0, -10.0), (1, -12.0)], "cmd", "2026-01-01");
        let machine = |cpu: &str, numerics| Machine { cpu: cpu.into(), isa: "avx2".into(), numerics, kernels: String::new(), torch_threads: 1 };
        (b.numerics, b.cpu) = ("reproducible".into(), "Intel Xeon".into());
        let amd = machine("AMD EPYC", Numerics::Reproducible);
        assert_eq!(exactness(0, -10.0, &b, &amd), Exactness::Identical);
        assert_eq!(exactness(0, -10.5, &b, &amd), Exactness::Changed(-0.5));
        assert_eq!(exactness(1, -12.0, &b, &amd), Exactness::Identical);
        assert!(matches!(exactness(2, -12.0, &b, &amd), Exactness::NotComparable(_)), "seed 2 was not recorded");
        assert!(matches!(exactness(0, -10.0, &b, &machine("Intel Xeon", Numerics::Fast)), Exactness::NotComparable(_)));
        b.numerics = "fast".into();
        assert_eq!(exactness(0, -10.0, &b, &machine("Intel Xeon", Numerics::Fast)), Exactness::Identical);
        let other_cpu = exactness(0, -10.0, &b, &machine("AMD EPYC", Numerics::Fast));
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
