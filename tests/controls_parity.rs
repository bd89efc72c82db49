//! Every Controls, point-robot and MCAT env replays the reference's golden trajectories
//! (tools/reference_envs.py on the official mujoco bindings, same MuJoCo 3.3.7 and model files):
//! the same task, reset seed and actions give the same observations, rewards and flags.

use std::collections::BTreeMap;
use std::path::Path;

use metarl::envs::np_random::RandomState;
use metarl::envs::registry::{lookup, DEFAULT_TASK_SEED};
use metarl::envs::rollout::{run_episode, Policy};
use metarl::envs::{EnvOptions, Suite, REGISTRY};
use serde::Deserialize;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Golden {
    env: String,
    task_seed: u32,
    episodes: Vec<GoldenEpisode>,
}

#[derive(Deserialize)]
struct GoldenEpisode {
    policy: String,
    task: usize,
    reset_seed: u32,
    action_seed: u32,
    reset_obs: Vec<f64>,
    reward: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    sparse_reward: Vec<Option<f64>>,
    obs_sum: Vec<f64>,
    full_obs: BTreeMap<usize, Vec<f64>>,
}

/// Largest absolute difference, with NaN counted as infinitely far.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| if (x - y).is_nan() { f64::INFINITY } else { (x - y).abs() }).fold(0.0, f64::max)
}

/// (max obs difference, max reward difference, steps compared) for one golden file.
fn replay(golden: &Golden) -> (f64, f64, usize) {
    let entry = lookup(&golden.env).unwrap();
    let tasks = entry.tasks(&EnvOptions::default(), golden.task_seed).unwrap();
    let mut env = entry.make(&EnvOptions::default()).unwrap();
    let (mut obs_diff, mut reward_diff, mut steps) = (0.0f64, 0.0f64, 0);
    let mut current = None;
    let mut actions = RandomState::new(0);
    for (e, ep) in golden.episodes.iter().enumerate() {
        if current != Some(ep.task) {
            env.seed(ep.reset_seed);
            env.set_task(tasks.get(ep.task).unwrap()).unwrap();
            actions = RandomState::new(ep.action_seed);
            current = Some(ep.task);
        }
        let mut policy = match ep.policy.as_str() {
            "random" => Policy::Random(actions.clone()),
            _ => Policy::Zero,
        };
        let episode = run_episode(env.as_mut(), &mut policy).unwrap();
        if let Policy::Random(rng) = policy {
            actions = rng;
        }
        let at = format!("{} episode {e} (task {}, {})", golden.env, ep.task, ep.policy);
        assert_eq!(episode.steps.len(), ep.reward.len(), "{at}: episode length");
        obs_diff = obs_diff.max(max_diff(&episode.reset_obs, &ep.reset_obs));
        for (t, step) in episode.steps.iter().enumerate() {
            assert_eq!((step.terminated, step.truncated), (ep.terminated[t], ep.truncated[t]), "{at}: flags at step {t}");
            assert_eq!(step.sparse_reward.is_some(), ep.sparse_reward[t].is_some(), "{at}: sparse reward at step {t}");
            reward_diff = reward_diff.max(max_diff(&[step.reward], &[ep.reward[t]]));
            if let (Some(ours), Some(theirs)) = (step.sparse_reward, ep.sparse_reward[t]) {
                reward_diff = reward_diff.max((ours - theirs).abs());
            }
            let sum: f64 = step.obs.iter().sum();
            obs_diff = obs_diff.max(max_diff(&[sum], &[ep.obs_sum[t]]));
            if let Some(full) = ep.full_obs.get(&t) {
                obs_diff = obs_diff.max(max_diff(&step.obs, full));
            }
        }
        steps += episode.steps.len();
    }
    (obs_diff, reward_diff, steps)
}

#[test]
fn every_env_matches_its_reference_goldens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/goldens/controls");
    let mut failures = vec![];
    // Meta-World has its own goldens and test (tests/metaworld_parity.rs).
    for entry in REGISTRY.iter().filter(|e| e.suite != Suite::Metaworld) {
        let path = dir.join(format!("{}.json", entry.name));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; regenerate with tools/reference_envs.py goldens", path.display()));
        let golden: Golden = serde_json::from_str(&text).unwrap();
        assert_eq!(golden.task_seed, DEFAULT_TASK_SEED);
        let (obs, reward, steps) = replay(&golden);
        println!("{:<20} {steps:>5} steps  max |Δobs| {obs:.1e}  max |Δreward| {reward:.1e}", entry.name);
        if obs > TOLERANCE || reward > TOLERANCE {
            failures.push(entry.name);
        }
    }
    assert!(failures.is_empty(), "beyond {TOLERANCE}: {failures:?}");
}
