//! PEARL and oracle SAC learn (point-robot, a small budget and small networks set in
//! configs/demo/point-robot.json), runs are reproducible and resumable, and a NaN loss
//! stops a run with the iteration and loss named while the last good checkpoint survives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use metarl::envs::np_random::RandomState;
use metarl::envs::registry::{lookup, DEFAULT_TASK_SEED};
use metarl::envs::rollout::{run_episode, Policy};
use metarl::envs::EnvOptions;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/demo/point-robot.json");

fn train(algo: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metarl"))
        .args(["train", algo, "--env", "point-robot", "--config", CONFIG, "--seed", "3", "--out"])
        .arg(out)
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn progress(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("progress.csv")).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

/// Columns except the last (wall clock).
fn without_clock(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r[..r.len() - 1].to_vec()).collect()
}

/// Mean return of uniformly random actions on the test tasks of the config (the last 5 of 100,
/// horizon 20).
fn random_policy_return() -> f64 {
    let entry = lookup("point-robot").unwrap();
    let options = EnvOptions { horizon: Some(20), ..EnvOptions::default() };
    let tasks = entry.tasks(&options, DEFAULT_TASK_SEED).unwrap();
    let mut env = entry.make(&options).unwrap();
    let mut returns = vec![];
    for (i, task) in tasks.test[..5].iter().enumerate() {
        env.seed(i as u32);
        env.set_task(task).unwrap();
        let mut policy = Policy::Random(RandomState::new(100 + i as u32));
        for _ in 0..20 {
            returns.push(run_episode(env.as_mut(), &mut policy).unwrap().total_reward());
        }
    }
    returns.iter().sum::<f64>() / returns.len() as f64
}

fn learns(algo: &str, margin: f64) {
    let dir = tempfile::tempdir().unwrap();
    let out = train(algo, dir.path(), &[], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = progress(dir.path());
    let returns: Vec<f64> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
    let final_return = returns[returns.len() - 5..].iter().sum::<f64>() / 5.0;
    let random = random_policy_return();
    println!("{algo}: random policy {random:.2}, first iteration {:.2}, last five iterations {final_return:.2}", returns[0]);
    assert!(final_return > random + margin * random.abs(), "{algo} did not learn: {final_return:.2} vs random {random:.2}");
}

#[test]
fn pearl_learns_point_robot() {
    // Task inference is the slow part of PEARL: on this budget it beats random by ~35%.
    learns("pearl", 0.25);
}

#[test]
fn oracle_sac_learns_point_robot() {
    learns("oracle-sac", 0.5);
}

#[test]
fn same_seed_same_progress_and_a_killed_run_resumes_to_the_same_end() {
    let root = tempfile::tempdir().unwrap();
    let run = |name: &str| -> PathBuf { root.path().join(name) };
    let short = ["--steps", "8000"];
    for name in ["a", "b"] {
        let out = train("pearl", &run(name), &short, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let a = progress(&run("a"));
    assert_eq!(a.len(), 2, "8000 env steps take two iterations of this config");
    assert_eq!(without_clock(&a), without_clock(&progress(&run("b"))), "same seed, same threads: same progress.csv");

    let killed = train("pearl", &run("k"), &short, &[("METARL_FAULT_KILL_ITERATION", "1")]);
    assert_eq!(killed.status.code(), Some(137));
    assert_eq!(progress(&run("k")).len(), 1, "only iteration 0 finished before the kill");
    let resumed = train("pearl", &run("k"), &[&short[..], &["--resume"]].concat(), &[]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(without_clock(&progress(&run("k"))), without_clock(&a), "killed + resumed = uninterrupted");
    assert_eq!(std::fs::read_to_string(run("k").join("eval.csv")).unwrap(), std::fs::read_to_string(run("a").join("eval.csv")).unwrap());

    let again = train("pearl", &run("a"), &short, &[]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run; pass --resume"));
}

#[test]
fn nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = train("oracle-sac", dir.path(), &[], &[("METARL_FAULT_NAN_ITERATION", "1")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("qf_loss became NaN at iteration 1") && stderr.contains("last good checkpoint (iteration 0)"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    let checkpoint: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("checkpoint/progress.json")).unwrap()).unwrap();
    assert_eq!(checkpoint["iteration"], 0);
    assert_eq!(progress(dir.path()).len(), 1);
    let resumed = train("oracle-sac", dir.path(), &["--resume", "--steps", "8000"], &[]);
    assert!(resumed.status.success(), "the kept checkpoint resumes: {}", String::from_utf8_lossy(&resumed.stderr));
}
