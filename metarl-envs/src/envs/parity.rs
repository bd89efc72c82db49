//! Live parity with the Python reference (`metarl envs parity`): the `metaworld` package in the
//! cache venv plays full episodes (tools/reference_metaworld.py `live`), and our env replays the
//! same actions under the same ML1 task, every observation, reward and flag compared.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{registry, EnvOptions, Suite};
use crate::paths;

/// Largest difference in an observation or reward counted as a match (the goldens' bound).
pub const TOLERANCE: f64 = 1e-9;

/// One env's episodes as the reference played them.
#[derive(Deserialize)]
struct ReferenceRun {
    env: String,
    task_seed: u32,
    episodes: Vec<ReferenceEpisode>,
}

#[derive(Deserialize)]
struct ReferenceEpisode {
    /// Index in the train tasks of `ML1(env, task_seed)`.
    task: usize,
    reset_obs: Vec<f64>,
    actions: Vec<Vec<f64>>,
    obs: Vec<Vec<f64>>,
    reward: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    success: Vec<bool>,
}

/// What `envs parity` prints per env.
#[derive(Debug, Clone, Serialize)]
pub struct ParityReport {
    pub env: String,
    pub episodes: usize,
    pub steps: usize,
    pub max_obs_diff: f64,
    pub max_reward_diff: f64,
    /// Steps whose success flag differs.
    pub success_mismatches: usize,
    /// Steps whose terminated/truncated flags differ.
    pub flag_mismatches: usize,
    /// Successful steps in the reference (how much of the success logic was exercised).
    pub reference_successes: usize,
}

impl ParityReport {
    pub fn within_tolerance(&self) -> bool {
        self.max_obs_diff <= TOLERANCE && self.max_reward_diff <= TOLERANCE && self.success_mismatches == 0 && self.flag_mismatches == 0
    }
}

/// Largest absolute difference, NaN counted as infinitely far.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| if (x - y).is_nan() { f64::INFINITY } else { (x - y).abs() }).fold(0.0, f64::max)
}

/// Replays the reference's episodes on our env and measures the differences.
fn compare(run: &ReferenceRun) -> Result<ParityReport> {
    let entry = registry::lookup(&run.env)?;
    let tasks = entry.tasks(&EnvOptions::default(), run.task_seed)?;
    let mut env = entry.make(&EnvOptions::default())?;
    let mut report = ParityReport {
        env: entry.name.to_string(),
        episodes: run.episodes.len(),
        steps: 0,
        max_obs_diff: 0.0,
        max_reward_diff: 0.0,
        success_mismatches: 0,
        flag_mismatches: 0,
        reference_successes: 0,
    };
    for episode in &run.episodes {
        env.set_task(&tasks.train[episode.task])?;
        report.max_obs_diff = report.max_obs_diff.max(max_diff(env.reset()?, &episode.reset_obs));
        for (t, action) in episode.actions.iter().enumerate() {
            let step = env.step(action)?;
            report.max_obs_diff = report.max_obs_diff.max(max_diff(env.observation(), &episode.obs[t]));
            report.max_reward_diff = report.max_reward_diff.max(max_diff(&[step.reward], &[episode.reward[t]]));
            report.success_mismatches += usize::from(step.success != Some(episode.success[t]));
            report.flag_mismatches += usize::from((step.terminated, step.truncated) != (episode.terminated[t], episode.truncated[t]));
            report.reference_successes += usize::from(episode.success[t]);
        }
        report.steps += episode.actions.len();
    }
    Ok(report)
}

/// Runs the reference on `envs` (ML1 names) and compares each as its line arrives; `on_env` sees
/// each report.
pub fn metaworld(envs: &[String], episodes: usize, seed: u32, mut on_env: impl FnMut(&ParityReport)) -> Result<Vec<ParityReport>> {
    let mut names = Vec::new();
    for name in envs {
        let entry = registry::lookup(name)?;
        if entry.suite != Suite::Metaworld {
            bail!("{}: live parity covers the Meta-World ML1 suite; the {} envs are checked against their references by tests/controls_parity.rs", entry.name, entry.suite.label());
        }
        names.push(format!("{}-v3", entry.name.trim_end_matches("-v3")));
    }
    let script = paths::repository().join("tools/reference_metaworld.py");
    let mut command = Command::new(paths::reference_python());
    command.arg(&script).args(["live", "--episodes", &episodes.to_string(), "--seed", &seed.to_string()]);
    for name in &names {
        command.args(["--env", name]);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run the reference {}; {}", paths::reference_python().display(), paths::FIX_DEPS))?;
    let mut reports = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let run: ReferenceRun = serde_json::from_str(&line?).context("the reference wrote a line that is not an episode record")?;
        let report = compare(&run)?;
        on_env(&report);
        reports.push(report);
    }
    let status = child.wait()?;
    if !status.success() || reports.len() != names.len() {
        bail!("the reference stopped after {} of {} envs ({status}); run {} {} live --env {} to see why", reports.len(), names.len(), paths::reference_python().display(), script.display(), names[reports.len().min(names.len() - 1)]);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of our own reach-v3 under random actions, as the reference would write it.
    fn own_record(episodes: usize) -> ReferenceRun {
        let entry = registry::lookup("reach-v3").unwrap();
        let tasks = entry.tasks(&EnvOptions::default(), 5).unwrap();
        let mut env = entry.make(&EnvOptions::default()).unwrap();
        let mut draws = crate::envs::np_random::RandomState::new(5);
        let episodes = (0..episodes)
            .map(|task| {
                env.set_task(&tasks.train[task]).unwrap();
                let reset_obs = env.reset().unwrap().to_vec();
                let mut episode = ReferenceEpisode { task, reset_obs, actions: vec![], obs: vec![], reward: vec![], terminated: vec![], truncated: vec![], success: vec![] };
                for _ in 0..50 {
                    let action = draws.uniform_n(-1.0, 1.0, 4);
                    let step = env.step(&action).unwrap();
                    episode.actions.push(action);
                    episode.obs.push(env.observation().to_vec());
                    episode.reward.push(step.reward);
                    episode.terminated.push(step.terminated);
                    episode.truncated.push(step.truncated);
                    episode.success.push(step.success.unwrap());
                }
                episode
            })
            .collect();
        ReferenceRun { env: "reach-v3".into(), task_seed: 5, episodes }
    }

    #[test]
    fn a_faithful_record_matches_and_each_kind_of_drift_is_caught() {
        let report = compare(&own_record(2)).unwrap();
        assert!(report.within_tolerance() && report.max_obs_diff == 0.0 && report.steps == 100, "{report:?}");

        let mut drifted = own_record(2);
        drifted.episodes[1].reward[7] += 1e-6;
        drifted.episodes[0].obs[3][36] -= 2e-9;
        drifted.episodes[1].success[9] = !drifted.episodes[1].success[9];
        drifted.episodes[0].truncated[49] = true;
        let report = compare(&drifted).unwrap();
        assert!(!report.within_tolerance());
        assert!((report.max_reward_diff - 1e-6).abs() < 1e-12 && report.max_obs_diff > TOLERANCE, "{report:?}");
        assert_eq!((report.success_mismatches, report.flag_mismatches), (1, 1));
    }
}
