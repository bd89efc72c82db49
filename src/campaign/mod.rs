//! Campaigns: many runs (algorithms × envs × seeds) planned into one folder, run where the compute
//! is (a local worker pool or a Slurm job array), resumable, and collected into tables.
//!
//! A campaign folder holds `manifest.csv` (one line per run: algo, env, seed, steps, config, run
//! dir; deterministic, so two plans with the same arguments are byte-identical), `configs/` (the
//! fully resolved config of every algo × env, shipped values plus overrides, validated at plan
//! time), `runs/<algo>/<env>/seed<k>/` (ordinary run folders), `logs/`, and for offline
//! algorithms `datasets/<algo>/<env>/`: the env's dataset, collected once by whichever of its
//! runs comes first and read by every seed.

pub mod collect;
pub mod local;
pub mod lock;
pub mod slurm;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::envs::{registry, Suite};
use crate::protocol::config::{self, Algorithm, Config, MamlConfig, McatConfig, OnPolicyRun, Rl2Config};
use crate::protocol::offline::FocalConfig;
use crate::results::write_atomic;

/// One line of manifest.csv; paths are relative to the campaign folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    pub algo: String,
    pub env: String,
    pub seed: u64,
    /// `--steps` budget, if any.
    pub steps: Option<u64>,
    pub config: PathBuf,
    pub run_dir: PathBuf,
    /// `train --device` of the run: cpu or cuda (`plan --device`).
    #[serde(default = "cpu")]
    pub device: String,
}

fn cpu() -> String {
    "cpu".into()
}

impl PlannedRun {
    pub fn name(&self) -> String {
        format!("{}/{}/seed{}", self.algo, self.env, self.seed)
    }

    /// The dataset folder an offline run trains from (shared by the env's seeds); `None` for
    /// the algorithms that collect their own data.
    pub fn dataset(&self) -> Option<PathBuf> {
        Algorithm::parse(&self.algo).is_ok_and(Algorithm::is_offline).then(|| PathBuf::from("datasets").join(&self.algo).join(&self.env))
    }
}

/// What `campaign plan` is asked for.
pub struct PlanRequest<'a> {
    /// A suite (`ml1`, `controls`, `point`, `dynamics`) or a comma-separated list of envs.
    pub targets: &'a str,
    pub algos: &'a [String],
    pub seeds: &'a [u64],
    /// Env-step budget of every run that takes env steps (offline runs keep their schedule).
    pub steps: Option<u64>,
    /// `field=value` pairs applied on top of each shipped config (value as JSON, else a string).
    pub overrides: &'a [String],
    /// The device every run trains on: cpu or cuda.
    pub device: &'a str,
}

/// The envs a target names: a whole suite, or a list of env names (each checked).
pub fn expand_targets(targets: &str) -> Result<Vec<String>> {
    if let Ok(suite) = Suite::parse(targets) {
        return Ok(suite.envs().map(String::from).collect());
    }
    targets
        .split(',')
        .map(|name| Ok(registry::lookup(name.trim())?.name.to_string()))
        .collect::<Result<_>>()
        .with_context(|| format!("--suite {targets:?} is neither a suite (controls, point, dynamics, ml1) nor a list of envs"))
}

/// `field=value` overrides applied to `config`; the result is checked as any config file is,
/// so an unknown field or a bad value is named.
pub fn apply_overrides<T: Serialize + serde::de::DeserializeOwned + Default>(config: &T, overrides: &[String], source: &str) -> Result<T> {
    let mut value = serde_json::to_value(config)?;
    let fields = value.as_object_mut().expect("a config serialises to an object");
    for pair in overrides {
        let (name, raw) = pair.split_once('=').with_context(|| format!("--config-overrides {pair:?}: write field=value"))?;
        let parsed = serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_string()));
        fields.insert(name.trim().to_string(), parsed);
    }
    config::parse_json(&value.to_string(), source)
}

/// What one run of the meta-training loop costs, from its config (oyster's schedule).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunCost {
    pub iterations: u64,
    pub gradient_steps: u64,
    /// Training transitions, counted as the papers count them.
    pub env_steps: u64,
    /// Meta-test transitions on top (at least; trajectories run to their end).
    pub eval_steps: u64,
}

/// The on-policy loops' cost: per iteration `meta_batch` tasks × `episodes_per_task` episodes
/// (MAML twice: before and after its inner step) of at most `max_path_length` steps, one outer
/// update; the meta-test's episodes on every test task on top.
pub fn on_policy_cost(run: &OnPolicyRun, episodes_factor: u64, n_test: usize, budget: Option<u64>) -> RunCost {
    let n_test = run.n_eval_tasks.map_or(n_test, |n| n.min(n_test)) as u64;
    let per_iteration = episodes_factor * (run.meta_batch * run.episodes_per_task * run.max_path_length) as u64;
    let iterations = budget.map_or(run.num_iterations as u64, |b| (run.num_iterations as u64).min(b.div_ceil(per_iteration.max(1)).max(1)));
    RunCost {
        iterations,
        gradient_steps: iterations,
        env_steps: iterations * per_iteration,
        eval_steps: iterations * n_test * ((run.num_exp_traj_eval + run.num_eval_episodes) * run.max_path_length) as u64,
    }
}

/// An algorithm's shipped config for an env with the overrides, as the JSON a run reads, what a
/// run of it costs, and what its dataset costs (offline algorithms; shared by the env's seeds).
fn resolve(algo: Algorithm, env: &str, overrides: &[String], budget: Option<u64>) -> Result<(serde_json::Value, RunCost, Option<RunCost>)> {
    resolve_checked(algo, env, overrides, budget).with_context(|| format!("{} on {env}: `metarl train` would refuse this run", algo.name()))
}

/// [`resolve`], each config checked as `metarl train` checks it ([`config::checks`]).
fn resolve_checked(algo: Algorithm, env: &str, overrides: &[String], budget: Option<u64>) -> Result<(serde_json::Value, RunCost, Option<RunCost>)> {
    use crate::protocol::config::checks;
    let entry = registry::lookup(env)?;
    let suite = entry.suite.label();
    let source = format!("--config-overrides for {} on {env}", algo.name());
    let family = |task_seed| entry.tasks(&crate::envs::EnvOptions::default(), task_seed);
    Ok(match algo {
        Algorithm::MamlTrpo => {
            let c: MamlConfig = apply_overrides(&config::shipped("maml-trpo", env, suite)?, overrides, &source)?;
            checks::on_policy(&c.run, true)?;
            let cost = on_policy_cost(&c.run, 2, family(c.run.task_seed)?.test.len(), budget);
            (serde_json::to_value(c)?, cost, None)
        }
        Algorithm::Rl2Ppo => {
            let c: Rl2Config = apply_overrides(&config::shipped("rl2-ppo", env, suite)?, overrides, &source)?;
            checks::on_policy(&c.run, false)?;
            let cost = on_policy_cost(&c.run, 1, family(c.run.task_seed)?.test.len(), budget);
            (serde_json::to_value(c)?, cost, None)
        }
        Algorithm::Mcat => {
            let c: McatConfig = apply_overrides(&config::shipped("mcat", env, suite)?, overrides, &source)?;
            checks::mcat(&c)?;
            let tasks = family(c.task_seed)?;
            let horizon = c.max_path_length.unwrap_or(entry.horizon);
            let cost = mcat_cost(&c, horizon, tasks.train.len(), tasks.test.len(), budget);
            (serde_json::to_value(c)?, cost, None)
        }
        Algorithm::Focal => {
            let c: FocalConfig = apply_overrides(&config::shipped("focal", env, suite)?, overrides, &source)?;
            checks::focal(&c)?;
            let tasks = family(c.task_seed)?;
            let (cost, dataset) = (offline_cost(&c, tasks.test.len()), dataset_cost(&c, tasks.train.len(), tasks.test.len()));
            (serde_json::to_value(c)?, cost, Some(dataset))
        }
        _ => {
            let c = apply_overrides(&Config::shipped(algo.name(), env, suite)?, overrides, &source)?;
            checks::pearl(algo, &c)?;
            let tasks = family(c.task_seed)?;
            let cost = run_cost(&c, tasks.train.len(), tasks.test.len(), budget);
            (serde_json::to_value(c)?, cost, None)
        }
    })
}

/// Where each value of a planned config came from: the shipped files (built in, or
/// `METARL_CONFIGS`), `--config-overrides`, or the defaults. Written next to the resolved config
/// as `<env>.sources.json`; a run of that config copies it into its `config_sources.json`.
fn plan_sources(algo: Algorithm, env: &str, overrides: &[String]) -> Result<config::ConfigSources> {
    let suite = registry::lookup(env)?.suite.label();
    let mut sources = match algo {
        Algorithm::MamlTrpo => config::shipped_with_sources::<MamlConfig>("maml-trpo", env, suite)?.1,
        Algorithm::Rl2Ppo => config::shipped_with_sources::<Rl2Config>("rl2-ppo", env, suite)?.1,
        Algorithm::Mcat => config::shipped_with_sources::<McatConfig>("mcat", env, suite)?.1,
        Algorithm::Focal => config::shipped_with_sources::<FocalConfig>("focal", env, suite)?.1,
        _ => Config::shipped_with_sources(algo.name(), env, suite)?.1,
    };
    for pair in overrides {
        if let Some((name, _)) = pair.split_once('=') {
            sources.fields.insert(name.trim().to_string(), "--config-overrides".into());
        }
    }
    if !overrides.is_empty() {
        sources.files.push(format!("--config-overrides {}", overrides.join(" ")));
    }
    Ok(sources)
}

/// MCAT's cost: per iteration one episode of `horizon` steps per train task, then its C/F, H
/// and TD3 steps (counted together as gradient steps); the meta-test's episodes on top.
pub fn mcat_cost(config: &McatConfig, horizon: usize, n_train: usize, n_test: usize, budget: Option<u64>) -> RunCost {
    let n_train = config.n_train_tasks.map_or(n_train, |n| n.min(n_train)) as u64;
    let n_test = config.n_eval_tasks.map_or(n_test, |n| n.min(n_test)) as u64;
    let per_iteration = n_train * horizon as u64;
    let iterations = budget.map_or(config.num_iterations as u64, |b| (config.num_iterations as u64).min(b.div_ceil(per_iteration.max(1)).max(1)));
    let td3_steps = config.td3_steps_per_iteration.map_or(per_iteration, |n| n as u64);
    let steps = (config.model_steps_per_iteration + config.translator_steps_per_iteration) as u64 + td3_steps;
    RunCost {
        iterations,
        gradient_steps: iterations * steps,
        env_steps: iterations * per_iteration,
        eval_steps: iterations * n_test * (config.num_eval_episodes * horizon) as u64,
    }
}

/// An offline run's cost: its gradient steps and meta-test episodes (no env steps while training).
pub fn offline_cost(config: &FocalConfig, n_test: usize) -> RunCost {
    let n_test = config.n_eval_tasks.map_or(n_test, |n| n.min(n_test)) as u64;
    let iterations = config.num_iterations as u64;
    RunCost {
        iterations,
        gradient_steps: iterations * config.num_train_steps_per_itr as u64,
        env_steps: 0,
        eval_steps: iterations * n_test * (config.num_evals * config.num_steps_per_eval.max(config.max_path_length)) as u64,
    }
}

/// The cost of an offline env's dataset, which its seeds share: per train and test task a SAC
/// behaviour policy (one gradient step per env step after the random ones) and `n_trj` episodes
/// per checkpoint (at the multiples of `checkpoint_every` past the random steps, before the last).
pub fn dataset_cost(config: &FocalConfig, n_train: usize, n_test: usize) -> RunCost {
    let tasks = (config.n_train_tasks.map_or(n_train, |n| n.min(n_train)) + config.n_eval_tasks.map_or(n_test, |n| n.min(n_test))) as u64;
    let (steps, initial, every) = (config.behaviour_env_steps as u64, config.behaviour_initial_steps as u64, config.checkpoint_every.max(1) as u64);
    let checkpoints = (steps.saturating_sub(1) / every).saturating_sub(initial / every);
    RunCost {
        iterations: 0,
        gradient_steps: tasks * steps.saturating_sub(initial),
        env_steps: tasks * (steps + checkpoints * (config.n_trj * config.max_path_length) as u64),
        eval_steps: 0,
    }
}

/// The cost of a run with `config` on a family of `n_train` / `n_test` tasks, stopping at the
/// iteration that reaches `budget` env steps if one is given.
pub fn run_cost(config: &Config, n_train: usize, n_test: usize, budget: Option<u64>) -> RunCost {
    let n_train = config.n_train_tasks.map_or(n_train, |n| n.min(n_train)) as u64;
    let n_test = config.n_eval_tasks.map_or(n_test, |n| n.min(n_test)) as u64;
    let initial = budget.map_or(config.num_initial_steps as u64, |b| (config.num_initial_steps as u64).min(b / n_train.max(1)).max(1)) * n_train;
    let per_iteration = (config.num_tasks_sample * (config.num_steps_prior + config.num_steps_posterior + config.num_extra_rl_steps_posterior)) as u64;
    let mut iterations = config.num_iterations as u64;
    if let Some(b) = budget {
        // Iteration i ends with initial + (i + 1) · per_iteration steps; the run stops after the
        // first iteration at or past the budget.
        let needed = if b <= initial { 1 } else { (b - initial).div_ceil(per_iteration.max(1)) };
        iterations = iterations.min(needed.max(1));
    }
    RunCost {
        iterations,
        gradient_steps: iterations * config.num_train_steps_per_itr as u64,
        env_steps: initial + iterations * per_iteration,
        eval_steps: iterations * n_test * (config.num_evals * config.num_steps_per_eval) as u64,
    }
}

/// Plans the campaign into `out`: validates every name and override before writing anything,
/// then writes the resolved configs and manifest.csv.
pub fn plan(request: &PlanRequest, out: &Path) -> Result<(Vec<PlannedRun>, RunCost)> {
    if request.algos.is_empty() || request.seeds.is_empty() {
        bail!("a campaign needs at least one algorithm (--algos) and one seed (--seeds)");
    }
    let algos = request.algos.iter().map(|a| Algorithm::parse(a.trim())).collect::<Result<Vec<_>>>()?;
    if !["cpu", "cuda"].contains(&request.device) {
        bail!("--device {:?}: use cpu or cuda", request.device);
    }
    let envs = expand_targets(request.targets)?;
    let mut configs = Vec::new();
    let mut runs = Vec::new();
    let mut total = RunCost::default();
    for &algo in &algos {
        let algo_name = algo.name();
        for env in &envs {
            let (config, cost, dataset) = resolve(algo, env, request.overrides, request.steps)?;
            let seeds = request.seeds.len() as u64;
            total.iterations += seeds * cost.iterations;
            total.gradient_steps += seeds * cost.gradient_steps;
            total.env_steps += seeds * cost.env_steps;
            total.eval_steps += seeds * cost.eval_steps;
            // An offline env's dataset is collected once for all its seeds.
            if let Some(dataset) = dataset {
                total.gradient_steps += dataset.gradient_steps;
                total.env_steps += dataset.env_steps;
            }
            let config_path = PathBuf::from("configs").join(algo_name).join(format!("{env}.json"));
            for &seed in request.seeds {
                let run_dir = PathBuf::from("runs").join(algo_name).join(env).join(format!("seed{seed}"));
                // An offline run takes no env steps: it keeps its config's gradient-step schedule.
                let steps = request.steps.filter(|_| !algo.is_offline());
                runs.push(PlannedRun { algo: algo_name.to_string(), env: env.clone(), seed, steps, config: config_path.clone(), run_dir, device: request.device.to_string() });
            }
            configs.push((config_path, config, plan_sources(algo, env, request.overrides)?));
        }
    }
    if out.join("manifest.csv").exists() && read_manifest(out)? != runs {
        bail!("{} already holds another campaign; plan into a new folder", out.display());
    }
    for (path, config, sources) in &configs {
        let path = out.join(path);
        std::fs::create_dir_all(path.parent().expect("configs/<algo>/"))?;
        write_atomic(&path, format!("{}\n", serde_json::to_string_pretty(config)?).as_bytes())?;
        write_atomic(&config::sources_path(&path), format!("{}\n", serde_json::to_string_pretty(sources)?).as_bytes())?;
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for run in &runs {
        writer.serialize(run)?;
    }
    write_atomic(&out.join("manifest.csv"), &writer.into_inner()?)?;
    Ok((runs, total))
}

pub fn read_manifest(dir: &Path) -> Result<Vec<PlannedRun>> {
    let path = dir.join("manifest.csv");
    let mut reader = csv::Reader::from_path(&path).with_context(|| format!("{} is not a campaign folder (no manifest.csv; run `metarl campaign plan`)", dir.display()))?;
    reader.deserialize().collect::<Result<_, _>>().with_context(|| format!("{} is not a campaign manifest", path.display()))
}

/// Where a run stands, read from its folder.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    /// No checkpoint yet.
    Pending,
    /// A checkpoint after this iteration; a rerun resumes from it.
    Partial { iteration: usize },
    /// summary.csv written: the run finished.
    Complete,
}

pub fn run_state(campaign: &Path, run: &PlannedRun) -> RunState {
    let dir = campaign.join(&run.run_dir);
    if dir.join("summary.csv").is_file() {
        return RunState::Complete;
    }
    let progress = std::fs::read(dir.join("checkpoint/progress.json")).ok();
    let iteration = progress.and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok()).and_then(|v| v["iteration"].as_u64());
    match iteration {
        Some(i) => RunState::Partial { iteration: i as usize },
        None => RunState::Pending,
    }
}

/// A step count as `--steps` and `--window` take it: digits, or a number with `k` (thousand) or
/// `M` (million), e.g. `100k`, `1M`, `2.5M`.
pub fn parse_step_count(text: &str) -> Result<u64, String> {
    let (number, scale) = match text.strip_suffix(['k', 'K']) {
        Some(n) => (n, 1e3),
        None => text.strip_suffix('M').map_or((text, 1.0), |n| (n, 1e6)),
    };
    let value = number.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v * scale);
    match value {
        Some(v) if v.fract() == 0.0 && v <= u64::MAX as f64 => Ok(v as u64),
        _ => Err(format!("{text:?} is not a step count (e.g. 1000000, 100k, 2.5M)")),
    }
}

/// A run's latest row of progress.csv: its iteration and `wall_clock_s`.
pub fn latest_progress(campaign: &Path, run: &PlannedRun) -> Option<(usize, f64)> {
    let text = std::fs::read_to_string(campaign.join(&run.run_dir).join("progress.csv")).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let wall = header.iter().position(|c| *c == "wall_clock_s")?;
    let last = lines.filter(|l| !l.trim().is_empty()).last()?;
    let fields: Vec<&str> = last.split(',').collect();
    Some((fields.first()?.parse().ok()?, fields.get(wall)?.parse().ok()?))
}

/// The iterations a run of the campaign makes, from its resolved config and budget.
pub fn planned_iterations(campaign: &Path, run: &PlannedRun) -> Result<u64> {
    let algo = Algorithm::parse(&run.algo)?;
    let entry = registry::lookup(&run.env)?;
    let path = campaign.join(&run.config);
    let family = |task_seed| entry.tasks(&crate::envs::EnvOptions::default(), task_seed);
    Ok(match algo {
        Algorithm::MamlTrpo => {
            let c: MamlConfig = config::read_file(&path)?;
            on_policy_cost(&c.run, 2, family(c.run.task_seed)?.test.len(), run.steps).iterations
        }
        Algorithm::Rl2Ppo => {
            let c: Rl2Config = config::read_file(&path)?;
            on_policy_cost(&c.run, 1, family(c.run.task_seed)?.test.len(), run.steps).iterations
        }
        Algorithm::Mcat => {
            let c: McatConfig = config::read_file(&path)?;
            let tasks = family(c.task_seed)?;
            mcat_cost(&c, c.max_path_length.unwrap_or(entry.horizon), tasks.train.len(), tasks.test.len(), run.steps).iterations
        }
        Algorithm::Focal => config::read_file::<FocalConfig>(&path)?.num_iterations as u64,
        _ => {
            let c = Config::from_file(&path)?;
            let tasks = family(c.task_seed)?;
            run_cost(&c, tasks.train.len(), tasks.test.len(), run.steps).iterations
        }
    })
}

/// "iteration 2 (3/6), 12.0 s per iteration, ETA 36.0 s" from a run's progress and planned iterations.
pub fn progress_note(done: (usize, f64), total: Option<u64>) -> String {
    let (iteration, wall) = done;
    let per = wall / (iteration + 1) as f64;
    match total {
        Some(total) => {
            let left = total.saturating_sub(iteration as u64 + 1);
            format!("iteration {iteration} ({}/{total}), {} per iteration, ETA {}", iteration + 1, crate::progress::duration(per), crate::progress::duration(per * left as f64))
        }
        None => format!("iteration {iteration}, {} per iteration", crate::progress::duration(per)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn step_counts_read_k_and_m() {
        assert_eq!(super::parse_step_count("1M"), Ok(1_000_000));
        assert_eq!(super::parse_step_count("2.5M"), Ok(2_500_000));
        assert_eq!(super::parse_step_count("100k"), Ok(100_000));
        assert_eq!(super::parse_step_count("0"), Ok(0));
        assert!(super::parse_step_count("1.5").is_err() && super::parse_step_count("-1M").is_err() && super::parse_step_count("M").is_err());
    }

    use super::*;

    fn request<'a>(targets: &'a str, algos: &'a [String], overrides: &'a [String]) -> PlanRequest<'a> {
        PlanRequest { targets, algos, seeds: &[0, 1], steps: Some(500), overrides, device: "cpu" }
    }

    #[test]
    fn a_plan_is_deterministic_and_carries_the_resolved_configs() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let algos = ["pearl".to_string(), "oracle-sac".to_string()];
        let overrides = ["num_iterations=3".to_string(), "net_size=32".to_string()];
        let (runs, cost) = plan(&request("point-robot,sparse-point-robot", &algos, &overrides), a.path()).unwrap();
        // configs/pearl/point-robot.json schedule, 3 iterations (or fewer under --steps 500).
        let point = Config::shipped("pearl", "point-robot", "point").unwrap();
        let one = run_cost(&apply_overrides(&point, &overrides, "t").unwrap(), 40, 10, Some(500));
        assert!(one.iterations <= 3 && one.env_steps >= 500 && cost.gradient_steps > 0, "{one:?} {cost:?}");
        plan(&request("point-robot,sparse-point-robot", &algos, &overrides), b.path()).unwrap();
        assert_eq!(runs.len(), 8);
        assert_eq!(std::fs::read(a.path().join("manifest.csv")).unwrap(), std::fs::read(b.path().join("manifest.csv")).unwrap());
        assert_eq!(read_manifest(a.path()).unwrap(), runs);
        assert_eq!(runs[3].name(), "pearl/sparse-point-robot/seed1");
        let config = Config::from_file(&a.path().join(&runs[3].config)).unwrap();
        // Next to it, where each value came from.
        let (_, sources) = config::from_file_with_sources::<Config>(&a.path().join(&runs[3].config)).unwrap();
        assert_eq!(sources.fields["net_size"], "--config-overrides");
        assert_eq!(sources.fields["sparse_rewards"], "configs/pearl/sparse-point-robot.json (built in)");
        assert_eq!(sources.fields["soft_target_tau"], "default");
        // Shipped configs/pearl/sparse-point-robot.json plus the overrides.
        let shipped = Config::shipped("pearl", "sparse-point-robot", "point").unwrap();
        assert_eq!((config.num_iterations, config.net_size, config.sparse_rewards), (3, 32, shipped.sparse_rewards));
        assert_eq!(expand_targets("ml1").unwrap().len(), 50);

        // An on-policy algorithm gets its own config type, overrides checked against it.
        let c = tempfile::tempdir().unwrap();
        let (runs, cost) = plan(&request("point-robot", &["maml-trpo".to_string()], &["num_iterations=4".to_string()]), c.path()).unwrap();
        let maml: MamlConfig = config::read_file(&c.path().join(&runs[0].config)).unwrap();
        // One outer step per iteration; the 500-step budget stops each of the 2 seeds after one.
        assert_eq!((maml.run.num_iterations, cost.gradient_steps), (4, 2));
        let err = plan(&request("point-robot", &["rl2-ppo".to_string()], &["kl_lambda=1".to_string()]), c.path()).unwrap_err();
        assert!(format!("{err:#}").contains("unknown config field \"kl_lambda\""), "{err:#}");

        // An offline algorithm: its own config type, no env-step budget, a dataset per env.
        let d = tempfile::tempdir().unwrap();
        let focal = PlanRequest { targets: "point-robot", algos: &["focal".to_string()], seeds: &[0, 1], steps: None, overrides: &["num_iterations=3".to_string()], device: "cpu" };
        let (runs, cost) = plan(&focal, d.path()).unwrap();
        let config: FocalConfig = config::read_file(&d.path().join(&runs[1].config)).unwrap();
        let dataset = dataset_cost(&config, 80, 20);
        assert_eq!((config.num_iterations, cost.gradient_steps), (3, 2 * 3 * config.num_train_steps_per_itr as u64 + dataset.gradient_steps));
        assert_eq!(cost.env_steps, dataset.env_steps, "one dataset for both seeds");
        assert_eq!(runs[0].dataset(), runs[1].dataset());
        assert_eq!(runs[0].dataset().unwrap(), Path::new("datasets/focal/point-robot"));
        // An env-step budget leaves an offline run its schedule.
        let budgeted = tempfile::tempdir().unwrap();
        let (runs, _) = plan(&PlanRequest { steps: Some(500), ..focal }, budgeted.path()).unwrap();
        assert!(runs.iter().all(|r| r.steps.is_none()), "{runs:?}");

        // MCAT: its own config type; an iteration is one episode per train task.
        let e = tempfile::tempdir().unwrap();
        let overrides = ["max_path_length=25".to_string(), "td3_steps_per_iteration=7".to_string()];
        let mcat = PlanRequest { targets: "point-robot-wind", algos: &["mcat".to_string()], seeds: &[0], steps: Some(40 * 25 * 3), overrides: &overrides, device: "cpu" };
        let (runs, cost) = plan(&mcat, e.path()).unwrap();
        let config: McatConfig = config::read_file(&e.path().join(&runs[0].config)).unwrap();
        let per_iteration = (config.model_steps_per_iteration + config.translator_steps_per_iteration + 7) as u64;
        assert_eq!((cost.iterations, cost.env_steps, cost.gradient_steps), (3, 3 * 40 * 25, 3 * per_iteration), "40 train tasks × 25 steps, 3 iterations");
    }

    #[test]
    fn every_algorithm_has_a_config_train_accepts_for_every_env() {
        for algo in config::ALGORITHMS {
            let algo = Algorithm::parse(algo).unwrap();
            for suite in crate::envs::Suite::ALL {
                for env in suite.envs() {
                    let budget = (!algo.is_offline()).then_some(10_000);
                    if let Err(e) = resolve(algo, env, &[], budget) {
                        panic!("{} on {env}: {e:#}", algo.name());
                    }
                }
            }
        }
    }

    #[test]
    fn a_plan_refuses_a_run_train_would_refuse_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("c");
        let algos = ["pearl".to_string(), "tcl".to_string()];
        // point-robot's episodes are 20 steps: no 64-step window fits.
        let err = plan(&request("point-robot,sparse-point-robot", &algos, &["contrastive_window=64".to_string()]), &out).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("tcl on point-robot") && err.contains("config field contrastive_window is 64") && err.contains("max_path_length - 2 = 18"), "{err}");
        let err = plan(&PlanRequest { steps: None, ..request("point-robot", &["focal".to_string()], &["meta_batch=1".to_string()]) }, &out);
        assert!(format!("{:#}", err.unwrap_err()).contains("config field meta_batch is 1"));
        assert!(!out.exists(), "nothing written");
        // The shipped TCL config of the point robots fits their horizon.
        plan(&request("point-robot,sparse-point-robot", &algos, &[]), &out).unwrap();
        let tcl = Config::from_file(&out.join("configs/tcl/point-robot.json")).unwrap();
        assert!(tcl.contrastive_window < tcl.max_path_length);
        let err = plan(&PlanRequest { device: "gpu", ..request("point-robot", &algos, &[]) }, &dir.path().join("d")).unwrap_err();
        assert!(err.to_string().contains("--device \"gpu\""), "{err}");
    }

    #[test]
    fn run_cost_follows_the_schedule_and_stops_at_the_budget() {
        let config = Config { num_iterations: 10, num_initial_steps: 100, num_tasks_sample: 2, num_steps_prior: 30, num_steps_posterior: 0,
            num_extra_rl_steps_posterior: 20, num_train_steps_per_itr: 7, num_evals: 2, num_steps_per_eval: 15, ..Config::default() };
        let full = run_cost(&config, 4, 3, None);
        assert_eq!(full, RunCost { iterations: 10, gradient_steps: 70, env_steps: 400 + 10 * 100, eval_steps: 10 * 3 * 30 });
        // 600 steps: the initial pool (400) and two iterations of 100.
        assert_eq!(run_cost(&config, 4, 3, Some(600)).iterations, 2);
        // A budget below the pool shrinks the pool to it; one iteration still runs.
        let small = run_cost(&config, 4, 3, Some(200));
        assert_eq!((small.iterations, small.env_steps), (1, 200 + 100));
    }

    #[test]
    fn a_dataset_costs_a_behaviour_policy_and_its_checkpoints_rollouts_per_task() {
        let config = FocalConfig { n_train_tasks: Some(3), n_eval_tasks: Some(2), behaviour_env_steps: 5000, behaviour_initial_steps: 2000,
            checkpoint_every: 200, n_trj: 3, max_path_length: 20, ..FocalConfig::default() };
        // Per task: 5000 steps, gradient steps at steps 2000..5000, checkpoints at 2200, 2400, …,
        // 4800 (14; none at 2000 nor at 5000) × 3 episodes × 20.
        assert_eq!(dataset_cost(&config, 40, 10), RunCost { iterations: 0, gradient_steps: 5 * 3000, env_steps: 5 * (5000 + 14 * 3 * 20), eval_steps: 0 });
        // One step more makes 5000 a checkpoint.
        assert_eq!(dataset_cost(&FocalConfig { behaviour_env_steps: 5001, ..config }, 40, 10).env_steps, 5 * (5001 + 15 * 3 * 20));
    }

    #[test]
    fn bad_names_and_fields_fail_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("c");
        let algos = ["pearl".to_string()];
        let err = plan(&request("point-robt", &algos, &[]), &out).unwrap_err();
        assert!(format!("{err:#}").contains("did you mean \"point-robot\""), "{err:#}");
        let err = plan(&request("point-robot", &["perl".to_string()], &[]), &out).unwrap_err();
        assert!(format!("{err:#}").contains("did you mean \"pearl\""), "{err:#}");
        let err = plan(&request("point-robot", &algos, &["meta_bacth=4".to_string()]), &out).unwrap_err();
        assert!(format!("{err:#}").contains("unknown config field \"meta_bacth\""), "{err:#}");
        let err = plan(&request("point-robot", &algos, &["meta_batch=four".to_string()]), &out).unwrap_err();
        assert!(format!("{err:#}").contains("meta_batch"), "{err:#}");
        assert!(!out.exists(), "nothing written");
    }
}
