//! MAML-TRPO and RL²-PPO meta-learn (small configs in configs/demo/): MAML's policy after its
//! inner step earns more on the test tasks than before it, and RL²'s later episodes of a trial earn
//! more than its first. Their runs are reproducible and resumable, a NaN stops them naming the
//! number and the iteration, and bad input is named.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::metarl;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/demo");

fn train(algo: &str, env: &str, config: &str, out: &Path, extra: &[&str], vars: &[(&str, &str)]) -> Output {
    metarl()
        .args(["train", algo, "--env", env, "--config", &format!("{DEMO}/{config}"), "--seed", "3", "--out"])
        .arg(out)
        .args(extra)
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

/// progress.csv as (header, rows).
fn progress(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(dir.join("progress.csv")).unwrap();
    let mut lines = text.lines().map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>());
    (lines.next().unwrap(), lines.collect())
}

/// Column `name` of progress.csv.
fn column(dir: &Path, name: &str) -> Vec<f64> {
    let (header, rows) = progress(dir);
    let col = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    rows.iter().map(|r| r[col].parse().unwrap()).collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Mean of column `name` over the last `n` rows.
fn last_mean(dir: &Path, name: &str, n: usize) -> f64 {
    let values = column(dir, name);
    mean(&values[values.len() - n..])
}

fn succeeded(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn maml_post_update_return_exceeds_the_pre_update_return_on_point_robot() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(&train("maml-trpo", "point-robot", "maml-trpo-point-robot.json", dir.path(), &[], &[]));
    let (pre, post) = (last_mean(dir.path(), "test_explore_return", 5), last_mean(dir.path(), "test_return", 5));
    let (train_pre, train_post) = (last_mean(dir.path(), "train_pre_return", 5), last_mean(dir.path(), "train_return", 5));
    let first = column(dir.path(), "test_explore_return")[0];
    println!("MAML-TRPO point-robot, last five iterations: test tasks pre-update {pre:.2} → post-update {post:.2}; train tasks {train_pre:.2} → {train_post:.2} (first iteration, pre-update: {first:.2})");
    assert!(post > pre + 2.0, "the inner step should help on the test tasks: {pre:.2} → {post:.2}");
    assert!(train_post > train_pre + 2.0, "and on the train tasks: {train_pre:.2} → {train_post:.2}");
}

#[test]
fn rl2_later_episodes_of_a_trial_beat_the_first() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(&train("rl2-ppo", "sparse-point-robot", "rl2-ppo-sparse-point-robot.json", dir.path(), &[], &[]));
    let (first, later) = (last_mean(dir.path(), "test_explore_return", 10), last_mean(dir.path(), "test_return", 10));
    let start = mean(&column(dir.path(), "test_return")[..10]);
    println!("RL2-PPO sparse-point-robot (dense reward), last ten iterations: first episode {first:.2}, episodes 2-4 {later:.2} (first ten iterations, episodes 2-4: {start:.2})");
    assert!(later > first + 2.0, "later episodes should use what the first found: {first:.2} vs {later:.2}");
    assert!(later > start + 5.0, "and the trials should have improved with training: {start:.2} → {later:.2}");
}

#[test]
fn on_policy_runs_are_reproducible_resumable_and_stop_at_a_nan() {
    let root = tempfile::tempdir().unwrap();
    let run = |name: &str| -> PathBuf { root.path().join(name) };
    let short = ["--steps", "24000"];
    let maml = |name: &str, extra: &[&str], vars: &[(&str, &str)]| train("maml-trpo", "point-robot", "maml-trpo-point-robot.json", &run(name), extra, vars);
    let without_clock = |rows: Vec<Vec<String>>| rows.into_iter().map(|r| r[..r.len() - 1].to_vec()).collect::<Vec<_>>();
    for name in ["a", "b"] {
        succeeded(&maml(name, &short, &[]));
    }
    let a = without_clock(progress(&run("a")).1);
    assert_eq!(a.len(), 3, "24000 env steps are three iterations of 8000");
    assert_eq!(a, without_clock(progress(&run("b")).1), "same seed, same threads: same progress.csv");

    let killed = maml("k", &short, &[("METARL_FAULT_KILL_ITERATION", "1")]);
    assert_eq!(killed.status.code(), Some(137));
    succeeded(&maml("k", &[&short[..], &["--resume"]].concat(), &[]));
    assert_eq!(without_clock(progress(&run("k")).1), a, "killed + resumed = uninterrupted");
    assert_eq!(std::fs::read_to_string(run("k").join("eval.csv")).unwrap(), std::fs::read_to_string(run("a").join("eval.csv")).unwrap());
    assert!(run("a").join("summary.csv").is_file() && run("a").join("config.json").is_file());

    let nan = train("rl2-ppo", "sparse-point-robot", "rl2-ppo-sparse-point-robot.json", &run("n"), &["--steps", "6400"], &[("METARL_FAULT_NAN_ITERATION", "1")]);
    let stderr = String::from_utf8_lossy(&nan.stderr);
    assert_eq!(nan.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("loss_before became NaN at iteration 1") && stderr.contains("last good checkpoint (iteration 0)"), "{stderr}");
    assert_eq!(progress(&run("n")).1.len(), 1);
    succeeded(&train("rl2-ppo", "sparse-point-robot", "rl2-ppo-sparse-point-robot.json", &run("n"), &["--steps", "6400", "--resume"], &[]));
    assert_eq!(progress(&run("n")).1.len(), 2);
}

#[test]
fn on_policy_names_mistyped_algorithms_and_config_fields() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    let run = |algo: &str| {
        let out = metarl()
            .args(["train", algo, "--env", "point-robot", "--config", config.to_str().unwrap(), "--out"])
            .arg(dir.path().join("run"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    std::fs::write(&config, "{}").unwrap();
    assert!(run("maml-trop").contains("unknown algorithm \"maml-trop\" (did you mean \"maml-trpo\"?)"));
    std::fs::write(&config, r#"{"inner_lrr": 0.1}"#).unwrap();
    assert!(run("maml-trpo").contains("unknown config field \"inner_lrr\" (did you mean \"inner_lr\"?)"));
    // A field of the other algorithm is unknown too.
    std::fs::write(&config, r#"{"gru_hidden": 32}"#).unwrap();
    assert!(run("maml-trpo").contains("unknown config field \"gru_hidden\""));
    std::fs::write(&config, r#"{"meta_batch": "many"}"#).unwrap();
    assert!(run("rl2-ppo").contains("config field \"meta_batch\" has a bad value \"many\""));
    assert!(!dir.path().join("run/progress.csv").exists());
}
