//! `metarl envs ...`: listing, task lists, rollouts, and clear errors for bad input.

use std::path::Path;
use std::process::{Command, Output};

use metarl::envs::registry::lookup;
use metarl::envs::{EnvError, EnvOptions};

fn metarl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metarl")).args(args).output().unwrap()
}

/// Exit code 1, every expected fragment in stderr, and no panic.
fn assert_clear_failure(out: &Output, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for fragment in expected {
        assert!(stderr.contains(fragment), "missing {fragment:?} in: {stderr}");
    }
}

fn write_npy(path: &Path, rows: &[[f64; 6]]) {
    let header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, 6), }}", rows.len());
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    rows.iter().flatten().for_each(|v| bytes.extend(v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn list_shows_every_env_with_its_sizes() {
    let out = metarl(&["envs", "list"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = stdout.lines().find(|l| l.starts_with("humanoid-dir ")).unwrap();
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&fields[1..7], ["controls", "376", "17", "200", "100", "30"]);
    assert_eq!(stdout.lines().count(), 1 + metarl::envs::REGISTRY.len());
}

#[test]
fn unknown_names_suggest_the_closest() {
    assert_clear_failure(&metarl(&["envs", "show", "cheetah-vle"]), &["unknown environment \"cheetah-vle\"", "did you mean \"cheetah-vel\""]);
    assert_clear_failure(&metarl(&["envs", "list", "--suite", "contrls"]), &["unknown suite", "did you mean \"controls\""]);
}

#[test]
fn rollout_rejects_bad_tasks_and_actions_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("traj.json");
    let out = out_file.to_str().unwrap();
    assert_clear_failure(&metarl(&["envs", "rollout", "cheetah-vel", "--task", "130", "--out", out]), &["task index 130 is out of range", "130 tasks (100 train, 30 test)"]);

    let short = dir.path().join("short.json");
    std::fs::write(&short, "[[0.1, 0.2]]").unwrap();
    assert_clear_failure(&metarl(&["envs", "rollout", "cheetah-vel", "--actions", short.to_str().unwrap(), "--out", out]), &["action has 2 entries, the action space has 6"]);

    let nan = dir.path().join("nan.npy");
    write_npy(&nan, &[[0.0; 6], [0.0, 0.0, f64::NAN, 0.0, 0.0, 0.0]]);
    assert_clear_failure(&metarl(&["envs", "rollout", "cheetah-vel", "--actions", nan.to_str().unwrap(), "--out", out]), &["action entry 2 is NaN, not a finite number"]);
    assert!(!out_file.exists(), "a failed rollout leaves no partial output");
}

#[test]
fn rollout_replays_actions_like_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let actions = dir.path().join("actions.npy");
    let rows: Vec<[f64; 6]> = (0..5).map(|t| [0.1 * t as f64, -0.2, 0.3, 0.0, 0.5, -1.0]).collect();
    write_npy(&actions, &rows);
    let out_file = dir.path().join("traj.json");
    let out = metarl(&["envs", "rollout", "cheetah-vel", "--task", "4", "--seed", "3", "--actions", actions.to_str().unwrap(), "--out", out_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();

    let entry = lookup("cheetah-vel").unwrap();
    let tasks = entry.tasks(&EnvOptions::default(), 1337).unwrap();
    let mut env = entry.make(&EnvOptions::default()).unwrap();
    env.seed(3);
    env.set_task(tasks.get(4).unwrap()).unwrap();
    env.reset().unwrap();
    let steps = written["episodes"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    for (row, step) in rows.iter().zip(steps) {
        let reward = env.step(row).unwrap().reward;
        assert_eq!(step["reward"].as_f64().unwrap(), reward);
        let obs: Vec<f64> = serde_json::from_value(step["obs"].clone()).unwrap();
        assert_eq!(obs, env.observation());
    }
    assert_eq!(written["task"]["velocity"], serde_json::json!(tasks.get(4).unwrap().oracle[0]));
}

#[test]
fn library_errors_instead_of_panicking() {
    for entry in metarl::envs::REGISTRY {
        let mut env = entry.make(&EnvOptions::default()).unwrap();
        let dim = env.action_space().dim();
        assert!(matches!(env.step(&vec![0.0; dim]), Err(EnvError::NotReset)), "{}: step before reset", entry.name);
        env.reset().unwrap();
        assert!(matches!(env.step(&vec![0.0; dim + 1]), Err(EnvError::ActionLength { .. })), "{}", entry.name);
        let mut bad = vec![0.0; dim];
        bad[dim - 1] = f64::INFINITY;
        assert!(matches!(env.step(&bad), Err(EnvError::ActionNotFinite { .. })), "{}", entry.name);
        let wrong = metarl::envs::Task { index: 0, params: metarl::envs::TaskParams::CrippledLeg { leg: 9 }, oracle: vec![] };
        assert!(matches!(env.set_task(&wrong), Err(EnvError::WrongTask { .. })), "{}: a task of another family", entry.name);
    }
}

/// `bench envs --reference`: our rate, the raw `mj_step` replay and the Python reference for a
/// Controls env and an ML1 env, their ratios consistent; the point robot has no physics to replay.
#[test]
fn bench_envs_measures_the_raw_limit_and_the_references() {
    let dir = tempfile::tempdir().unwrap();
    let out_csv = dir.path().join("envs.csv");
    let out = metarl(&["bench", "envs", "--env", "cheetah-vel", "--env", "reach-v3", "--env", "point-robot", "--steps", "300",
                       "--rounds", "1", "--reference", "--out", out_csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut reader = csv::Reader::from_path(&out_csv).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let headers = reader.headers().unwrap().clone();
    let field = |row: &csv::StringRecord, name: &str| -> Option<f64> { row[headers.iter().position(|h| h == name).unwrap()].parse().ok() };
    assert_eq!(rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(), ["cheetah-vel", "reach-v3", "point-robot"]);
    for row in &rows {
        let (ours, reference) = (field(row, "steps_per_s").unwrap(), field(row, "reference_steps_per_s").unwrap());
        assert!(ours > 0.0 && reference > 0.0);
        assert!((field(row, "vs_reference").unwrap() - ours / reference).abs() < 1e-9 * ours / reference);
        match field(row, "raw_steps_per_s") {
            Some(raw) => assert!((field(row, "of_raw").unwrap() - ours / raw).abs() < 1e-9),
            None => assert_eq!(&row[0], "point-robot"),
        }
    }
}
