//! MCAT (papers/004) on point-robot-wind, the cheap dynamics-like family (one wind per task),
//! with the small budget of configs/demo/mcat-point-robot-wind.json: it learns, its runs are
//! reproducible and resumable, a NaN loss stops a run naming it; the §5.1 translator moves a
//! source policy's behaviour on a target task towards its behaviour on the source task; with
//! delayed rewards MCAT learns on the median of five seeds.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use metarl::envs::np_random::RandomState;
use metarl::envs::registry::{lookup, DEFAULT_TASK_SEED};
use metarl::envs::rollout::{run_episode, Policy};
use metarl::envs::EnvOptions;

use common::metarl;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/demo/mcat-point-robot-wind.json");

fn train(config: &Path, seed: u64, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    metarl()
        .args(["train", "mcat", "--env", "point-robot-wind", "--seed", &seed.to_string(), "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> &Output {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn progress(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("progress.csv")).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

/// Columns except the last (wall clock).
fn without_clock(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r[..r.len() - 1].to_vec()).collect()
}

/// Mean test return (column 3) of the last `n` iterations.
fn last_test_returns(dir: &Path, n: usize) -> f64 {
    let rows = progress(dir);
    rows[rows.len() - n..].iter().map(|r| r[3].parse::<f64>().unwrap()).sum::<f64>() / n as f64
}

/// The demo config with `changes` applied, written to `dir`.
fn config_with(dir: &Path, name: &str, changes: serde_json::Value) -> PathBuf {
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(DEMO).unwrap()).unwrap();
    config.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
    let path = dir.join(name);
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Mean return of uniformly random actions on the demo's test tasks (the first 4, horizon 25).
fn random_policy_return() -> f64 {
    let entry = lookup("point-robot-wind").unwrap();
    let options = EnvOptions { horizon: Some(25), ..EnvOptions::default() };
    let tasks = entry.tasks(&options, DEFAULT_TASK_SEED).unwrap();
    let mut env = entry.make(&options).unwrap();
    let mut returns = vec![];
    for (i, task) in tasks.test[..4].iter().enumerate() {
        env.set_task(task).unwrap();
        let mut policy = Policy::Random(RandomState::new(100 + i as u32));
        for _ in 0..20 {
            returns.push(run_episode(env.as_mut(), &mut policy).unwrap().total_reward());
        }
    }
    returns.iter().sum::<f64>() / returns.len() as f64
}

#[test]
fn mcat_learns_and_its_runs_are_reproducible_and_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, second, killed) = (tmp.path().join("first"), tmp.path().join("second"), tmp.path().join("killed"));
    let output = succeeded(&train(Path::new(DEMO), 3, &first, &[], &[])).stdout.clone();
    println!("{}", String::from_utf8_lossy(&output));
    succeeded(&train(Path::new(DEMO), 3, &second, &[], &[]));
    assert_eq!(without_clock(&progress(&first)), without_clock(&progress(&second)), "same seed, same progress.csv");
    for file in ["config.json", "eval.csv", "summary.csv", "checkpoint/state.safetensors", "checkpoint/manifest.json"] {
        assert!(first.join(file).is_file(), "{file}");
    }

    let random = random_policy_return();
    let rows = progress(&first);
    let (start, learned) = (rows[0][3].parse::<f64>().unwrap(), last_test_returns(&first, 5));
    let header = std::fs::read_to_string(first.join("progress.csv")).unwrap().lines().next().unwrap().to_owned();
    let transfer_column = header.split(',').position(|c| c == "transfer_episodes").unwrap();
    let transfers: usize = rows.iter().map(|r| r[transfer_column].parse::<usize>().unwrap()).sum();
    println!("mcat point-robot-wind: random policy {random:.2}, test return at iteration 0 {start:.2}, mean of the last 5 iterations {learned:.2}, {transfers} transferred episodes");
    assert!(learned > random + 10.0 && learned > start + 5.0, "learned {learned:.2} vs random {random:.2}, start {start:.2}");
    assert!(transfers > 0, "policy transfer is on in the demo config");

    // Killed mid-iteration 20, resumed: the same rows as the uninterrupted run.
    let output = train(Path::new(DEMO), 3, &killed, &[], &[("METARL_FAULT_KILL_ITERATION", "20")]);
    assert_eq!(output.status.code(), Some(137));
    assert_eq!(progress(&killed).len(), 20);
    succeeded(&train(Path::new(DEMO), 3, &killed, &["--resume"], &[]));
    assert_eq!(without_clock(&progress(&killed)), without_clock(&progress(&first)), "resumed = uninterrupted");

    // `metarl eval` re-runs the checkpoint's meta-test.
    let output = succeeded(&metarl().arg("eval").arg(&first).output().unwrap()).stdout.clone();
    assert!(String::from_utf8_lossy(&output).contains("checkpoint of iteration 39"), "{}", String::from_utf8_lossy(&output));
    assert!(first.join("reeval_iteration39.csv").is_file());
}

#[test]
fn a_nan_loss_stops_the_run_naming_the_loss_and_the_iteration() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("nan");
    let output = train(Path::new(DEMO), 0, &out, &[], &[("METARL_FAULT_NAN_ITERATION", "3")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("critic_loss became NaN at iteration 3") && stderr.contains("last good checkpoint (iteration 2)"), "{stderr}");
    assert_eq!(progress(&out).len(), 3);
    // Bad input is named.
    let config = config_with(tmp.path(), "typo.json", serde_json::json!({ "policy_transfr": false }));
    let stderr = String::from_utf8_lossy(&train(&config, 0, &tmp.path().join("typo"), &[], &[]).stderr).into_owned();
    assert!(stderr.contains("policy_transfr") && stderr.contains("did you mean \"policy_transfer\""), "{stderr}");
}

/// papers/004 §5.1 on point-robot-wind: the source policy (TD3, dense rewards) on the target
/// task strays from the states it visits on the source task; the translated one stays closer
/// and earns more.
#[test]
fn the_translator_moves_the_source_policy_towards_its_source_task_behaviour() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("transfer.csv");
    let output = metarl().args(["mcat", "transfer-eval", "--env", "point-robot-wind", "--config", DEMO, "--seed", "1", "--out"]).arg(&csv).output().unwrap();
    println!("{}", String::from_utf8_lossy(&succeeded(&output).stdout));
    let text = std::fs::read_to_string(&csv).unwrap();
    let row = |policy: &str| -> (f64, f64) {
        let fields: Vec<&str> = text.lines().find(|l| l.split(',').nth(3) == Some(policy)).unwrap().split(',').collect();
        (fields[5].parse().unwrap(), fields[6].parse().unwrap())
    };
    let (source_return, _) = row("source-on-source");
    let (untranslated_return, untranslated_distance) = row("source-on-target");
    let (transferred_return, transferred_distance) = row("transferred-on-target");
    assert!(source_return > untranslated_return, "the target task is harder for the source policy: {source_return} vs {untranslated_return}");
    assert!(transferred_distance < 0.8 * untranslated_distance, "state distance to the source run: translated {transferred_distance} vs untranslated {untranslated_distance}");
    assert!(transferred_return > untranslated_return, "return on the target task: translated {transferred_return} vs untranslated {untranslated_return}");
}

/// papers/004 Table 3/4 in miniature: rewards paid every 10 steps, 60 iterations, seeds 0-4 in
/// reproducible numerics (the same values on any machine). MCAT does not learn on every seed (one
/// or two of five stay near random on both numeric paths), so the assertion is on the median
/// seed: measured over seeds 0-4, with the last 5 of 25 steps' reward never paid (as
/// `delay_reward_env.py` pays it), the median's margin over random is 14.9 in reproducible
/// numerics and 9.7 in fast numerics on an Intel Xeon (AVX-512). MCAT w/o PT beside it: README
/// (MCAT), measured over eight seeds.
#[test]
fn with_delayed_rewards_mcat_learns_on_the_median_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config_with(tmp.path(), "pt.json", serde_json::json!({ "num_iterations": 60 }));
    let random = random_policy_return();
    let runs: Vec<(u64, PathBuf)> = (0..5).map(|seed| (seed, tmp.path().join(format!("seed{seed}")))).collect();
    let children: Vec<_> = runs
        .iter()
        .map(|(seed, out)| {
            metarl()
                .args(["train", "mcat", "--env", "point-robot-wind", "--reward-delay", "10", "--seed", &seed.to_string(), "--config"])
                .arg(&config)
                .arg("--out")
                .arg(out)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let returns: Vec<f64> = runs.iter().map(|(_, out)| last_test_returns(out, 10)).collect();
    let mut sorted = returns.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[2];
    println!("MCAT with delayed rewards: test return (mean of the last 10 iterations) per seed {returns:.2?}, median {median:.2}; random policy {random:.2}");
    assert!(median > random + 8.0, "MCAT with delayed rewards: median seed {median:.2} vs random {random:.2} (per seed {returns:.2?})");
}
