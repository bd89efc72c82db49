//! The scripted policies of `metaworld.policies`, ported: on observations of real episodes they
//! act exactly as the package does (all 50 policies), and on every registered Meta-World env
//! they succeed on at least as many ML1 train tasks as the package's policy on the package's env.
//!
//! Fixtures from tools/reference_policies.py in the cache's venv:
//! `pairs.json.gz` (`... pairs`), `success_seed0.json` (`... success <all 50 envs> --seed 0`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use metarl::envs::metaworld::policies::{self, scripted_action};
use metarl::envs::rollout::{run_episode, Policy};
use metarl::envs::{EnvOptions, Suite, REGISTRY};
use serde::Deserialize;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/goldens/metaworld_policies");
const TASK_SEED: u32 = 0;

#[derive(Deserialize)]
struct Pairs {
    task_seed: u32,
    policies: BTreeMap<String, Vec<Pair>>,
}

#[derive(Deserialize)]
struct Pair {
    task: usize,
    step: usize,
    obs: Vec<f64>,
    action: Vec<f64>,
}

#[derive(Deserialize)]
struct Reference {
    share: f64,
    per_task: Vec<bool>,
}

#[test]
fn actions_equal_the_package_policies() {
    let mut json = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(Path::new(FIXTURES).join("pairs.json.gz")).unwrap())
        .read_to_string(&mut json)
        .unwrap();
    let pairs: Pairs = serde_json::from_str(&json).unwrap();
    assert_eq!(pairs.policies.len(), policies::POLICIES.len(), "the fixture covers every policy");
    let mut checked = 0;
    for (env, pairs_of_env) in &pairs.policies {
        assert!(pairs_of_env.len() >= 4, "{env}: only {} pairs", pairs_of_env.len());
        for pair in pairs_of_env {
            let ours = scripted_action(env, &pair.obs).unwrap();
            let worst = ours.iter().zip(&pair.action).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(
                worst <= 1e-12,
                "{env} (task seed {}, train task {}, step {}): ours {ours:?}, package {:?}",
                pairs.task_seed, pair.task, pair.step, pair.action
            );
            checked += 1;
        }
    }
    println!("{checked} actions of {} policies equal the package's", pairs.policies.len());
}

#[test]
fn scripted_policies_succeed_at_least_as_often_as_the_package() {
    let reference: BTreeMap<String, BTreeMap<String, Reference>> =
        serde_json::from_str(&std::fs::read_to_string(Path::new(FIXTURES).join("success_seed0.json")).unwrap()).unwrap();
    let entries: Vec<_> = REGISTRY.iter().filter(|e| e.suite == Suite::Metaworld).collect();
    let shares = std::thread::scope(|scope| {
        let runs: Vec<_> = entries
            .iter()
            .map(|entry| {
                scope.spawn(move || {
                    let options = EnvOptions::default();
                    let tasks = entry.tasks(&options, TASK_SEED).unwrap().train;
                    let mut env = entry.make(&options).unwrap();
                    let mut policy = Policy::Scripted(policies::lookup(entry.name).unwrap());
                    tasks
                        .iter()
                        .map(|task| {
                            env.set_task(task).unwrap();
                            run_episode(env.as_mut(), &mut policy).unwrap().success().unwrap()
                        })
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect::<Vec<_>>()
    });
    let mut failures = Vec::new();
    for (entry, ours) in entries.iter().zip(shares) {
        let theirs = reference
            .get(entry.name)
            .and_then(|seeds| seeds.get(&TASK_SEED.to_string()))
            .unwrap_or_else(|| panic!("no reference share for {}: rerun tools/reference_policies.py success", entry.name));
        let share = ours.iter().filter(|s| **s).count() as f64 / ours.len() as f64;
        let differing: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != theirs.per_task[i]).collect();
        println!(
            "{:<26} rust {share:.2}  python {:.2}  ({} tasks, seed {TASK_SEED}; tasks where they differ: {differing:?})",
            entry.name,
            theirs.share,
            ours.len()
        );
        if share < theirs.share {
            failures.push(entry.name);
        }
    }
    assert!(failures.is_empty(), "the scripted policy succeeds less often than the package's on {failures:?}");
}

#[test]
fn rollout_cli_runs_the_scripted_policy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("push.json");
    let run = |env: &str| {
        Command::new(env!("CARGO_BIN_EXE_metarl"))
            .args(["envs", "rollout", env, "--policy", "scripted", "--task-seed", "0", "--out", out.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let ok = run("push");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let steps = report["episodes"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 500);
    assert!(steps.iter().any(|s| s["success"] == true), "push-v3 train task 0 is solved");
    // The goal stays hidden in what the rollout records.
    assert!(steps.iter().all(|s| s["obs"].as_array().unwrap()[36..].iter().all(|v| v == 0.0)));

    let bad = run("cheetah-vel");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`--policy scripted` is for Meta-World envs"), "{stderr}");
}
