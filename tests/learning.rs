//! PEARL, oracle SAC, TCL-PEARL and CoCOA learn (point-robot, a small budget and small networks
//! set in configs/demo/point-robot.json), TCL's and CoCOA's encoders separate the test tasks
//! better than their initial weights, runs are reproducible and resumable, and a NaN loss stops a
//! run with the iteration and loss named while the last good checkpoint survives.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use metarl::envs::np_random::RandomState;
use metarl::envs::registry::{lookup, DEFAULT_TASK_SEED};
use metarl::envs::rollout::{run_episode, Policy};
use metarl::envs::EnvOptions;

use common::metarl;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/demo/point-robot.json");

fn train(algo: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    train_with(algo, Path::new(CONFIG), out, extra, env)
}

fn train_with(algo: &str, config: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    metarl()
        .args(["train", algo, "--env", "point-robot", "--seed", "3", "--config"])
        .arg(config)
        .arg("--out")
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

/// Train `algo`, print its returns and seconds per iteration, and check it beats random actions.
fn learns(algo: &str, margin: f64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = train(algo, dir.path(), &[], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = progress(dir.path());
    let returns: Vec<f64> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
    let final_return = returns[returns.len() - 5..].iter().sum::<f64>() / 5.0;
    let random = random_policy_return();
    let seconds: f64 = rows.last().unwrap().last().unwrap().parse().unwrap();
    println!("{algo}: random policy {random:.2}, first iteration {:.2}, last five iterations {final_return:.2}; {:.2} s per iteration", returns[0], seconds / rows.len() as f64);
    assert!(final_return > random + margin * random.abs(), "{algo} did not learn: {final_return:.2} vs random {random:.2}");
    dir
}

/// `metarl analyze embeddings` on a finished run: (encoder, mean distance to centroid, mean
/// distance between centroids, separation) for the initial and the trained encoder.
fn embedding_metrics(run: &Path) -> Vec<(String, f64, f64, f64)> {
    let out = metarl().args(["analyze", "embeddings"]).arg(run).args(["--tasks", "5", "--rollouts", "20"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run.join("analysis/embeddings.png").is_file());
    let text = std::fs::read_to_string(run.join("analysis/embedding_metrics.csv")).unwrap();
    text.lines().skip(1).map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        (f[0].to_owned(), f[4].parse().unwrap(), f[5].parse().unwrap(), f[6].parse().unwrap())
    }).collect()
}

/// papers/001 Table 2 on raw embeddings of 5 test tasks × 20 windows: the trained encoder's
/// clusters are further apart relative to their width than the randomly initialised encoder's.
fn separates_tasks(algo: &str) {
    let run = learns(algo, 0.2);
    let metrics = embedding_metrics(run.path());
    for (encoder, within, between, separation) in &metrics {
        println!("{algo} {encoder:<8} encoder: mean distance to centroid {within:.4}, mean distance between centroids {between:.4}, separation {separation:.2}");
    }
    let [(_, _, _, initial), (_, _, _, trained)] = [metrics[0].clone(), metrics[1].clone()];
    assert_eq!((metrics[0].0.as_str(), metrics[1].0.as_str()), ("initial", "trained"));
    assert!(trained > 2.0 * initial, "{algo}'s encoder does not separate tasks: separation {trained:.2} vs {initial:.2} at initialisation");
}

#[test]
fn tcl_learns_point_robot_and_separates_its_tasks() {
    separates_tasks("tcl");
}

#[test]
fn cocoa_learns_point_robot_and_separates_its_tasks() {
    separates_tasks("cocoa");
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
fn a_killed_cocoa_run_with_the_bilinear_ablation_resumes_to_the_same_end() {
    // The key encoder, W and its Adam moments, and the buffers' trajectory boundaries are all
    // in the checkpoint, or the resumed run would differ.
    let root = tempfile::tempdir().unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(CONFIG).unwrap()).unwrap();
    config["similarity"] = "bilinear".into();
    let config_path = root.path().join("bilinear.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let short = ["--steps", "8000"];
    let whole = train_with("cocoa", &config_path, &root.path().join("a"), &short, &[]);
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let killed = train_with("cocoa", &config_path, &root.path().join("k"), &short, &[("METARL_FAULT_KILL_ITERATION", "1")]);
    assert_eq!(killed.status.code(), Some(137));
    let resumed = train_with("cocoa", &config_path, &root.path().join("k"), &[&short[..], &["--resume"]].concat(), &[]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let (a, k) = (progress(&root.path().join("a")), progress(&root.path().join("k")));
    assert_eq!(without_clock(&k), without_clock(&a), "killed + resumed = uninterrupted");
    assert!(a.iter().all(|row| !row[9].is_empty() && !row[10].is_empty()), "CoCOA logs its contrastive loss and query KL: {a:?}");
}

#[test]
fn a_window_as_long_as_the_horizon_is_refused_by_name() {
    let root = tempfile::tempdir().unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(CONFIG).unwrap()).unwrap();
    config["contrastive_window"] = 20.into();
    let config_path = root.path().join("w20.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let out = train_with("tcl", &config_path, &root.path().join("run"), &[], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("contrastive_window is 20") && stderr.contains("max_path_length - 2 = 18"), "{stderr}");
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

/// A PEARL demo run of `iterations` iterations in `root`/run.
fn finished_run(root: &Path, iterations: usize) -> PathBuf {
    let dir = root.join("run");
    let out = train("pearl", &dir, &["--set", &format!("num_iterations={iterations}")], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// The checkpoint Python reads: docs/act_from_checkpoint.py (the README's snippet) loads the
/// policy from `checkpoint/state.safetensors` in the reference venv's torch and acts as ours does.
#[test]
fn python_reads_the_checkpoint_and_acts_as_our_policy() {
    use metarl::protocol::config::Algorithm;
    use metarl::protocol::meta_train::{build_learner, RunSpec};
    use metarl::protocol::run_dir::RunDir;
    use rand::SeedableRng;
    use tch::{Device, Tensor};

    let root = tempfile::tempdir().unwrap();
    let dir = finished_run(root.path(), 2);

    let spec = RunSpec::read(&dir).unwrap();
    let (mut learner, _) = build_learner(Algorithm::Pearl, &spec.config, (2, 2, 2), spec.config.n_train_tasks.unwrap(), Device::Cpu);
    let (_, tensors) = RunDir { path: dir.clone() }.load_checkpoint::<serde_json::Value>().unwrap();
    learner.load_state(&tensors).unwrap();
    let obs = [[0.1f32, -0.2], [0.5, 0.3], [-0.7, 0.9]];
    let z = [[0.3f32, -0.1], [0.0, 0.0], [-1.2, 0.8]];
    let tensor = |rows: &[[f32; 2]; 3]| Tensor::from_slice(rows.as_flattened()).reshape([3, 2]);
    let ours = learner.act(&tensor(&obs), &tensor(&z), true, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/act_from_checkpoint.py");
    let python = std::process::Command::new(metarl::paths::reference_python())
        .arg(&script)
        .arg(&dir)
        .arg(serde_json::to_string(&obs).unwrap())
        .arg(serde_json::to_string(&z).unwrap())
        .output()
        .unwrap();
    assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
    let theirs: Vec<Vec<f64>> = serde_json::from_slice(&python.stdout).unwrap();
    let theirs: Vec<f64> = theirs.concat();
    assert_eq!(ours.len(), theirs.len());
    let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-6, "ours {ours:?}, python {theirs:?}");
    assert!(ours.iter().any(|a| a.abs() > 1e-3), "a trained policy acts: {ours:?}");

    // The README shows the snippet that was tested.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let snippet = std::fs::read_to_string(&script).unwrap();
    let body = &snippet[snippet.find("import json").unwrap()..];
    assert!(readme.contains(body.trim_end()), "README's snippet differs from docs/act_from_checkpoint.py");
}

/// A damaged checkpoint stops `--resume` and `eval` with one line naming the file, what is wrong
/// and what to do, for a truncated file and for one flipped byte.
#[test]
fn a_damaged_checkpoint_is_named_in_one_line() {
    let root = tempfile::tempdir().unwrap();
    let dir = finished_run(root.path(), 1);
    let state = dir.join("checkpoint/state.safetensors");
    let pristine = std::fs::read(&state).unwrap();
    let mut flipped = pristine.clone();
    flipped[pristine.len() / 2] ^= 0x10;
    for (damage, bytes) in [("truncated", &pristine[..pristine.len() / 3]), ("one flipped byte", &flipped[..])] {
        std::fs::write(&state, bytes).unwrap();
        for (what, output) in [
            ("--resume", train("pearl", &dir, &["--set", "num_iterations=1", "--resume"], &[])),
            ("eval", metarl().arg("eval").arg(&dir).output().unwrap()),
        ] {
            let stderr = String::from_utf8_lossy(&output.stderr).to_string();
            assert!(!output.status.success(), "{damage}, {what}: should fail");
            let error: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
            assert_eq!(error.len(), 1, "{damage}, {what}: one error line:\n{stderr}");
            for needle in ["state.safetensors is damaged", "sha256", "restore the checkpoint folder"] {
                assert!(error[0].contains(needle), "{damage}, {what}: {needle:?} missing from:\n{stderr}");
            }
            assert!(!stderr.contains("frame #") && !stderr.contains("panicked"), "{damage}, {what}:\n{stderr}");
        }
    }
}

/// TensorBoard's own reader (the reference venv's `EventAccumulator`) finds every numeric
/// progress column as a scalar per iteration, equal to progress.csv, also after a killed run
/// resumed (its event file is rewritten from the rows the checkpoint kept, so no step repeats).
#[test]
fn tensorboard_reads_every_progress_column_of_a_resumed_run() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    let args = ["--set", "num_iterations=3"];
    let killed = train("pearl", &dir, &args, &[("METARL_FAULT_KILL_ITERATION", "2")]);
    assert!(!killed.status.success());
    let resumed = train("pearl", &dir, &[&args[..], &["--resume"]].concat(), &[]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));

    let read = "import json, sys\n\
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n\
        events = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0})\n\
        events.Reload()\n\
        print(json.dumps({tag: [[e.step, e.value] for e in events.Scalars(tag)] for tag in events.Tags()['scalars']}))";
    let python = std::process::Command::new(metarl::paths::reference_python()).args(["-c", read]).arg(dir.join("tb")).output().unwrap();
    assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
    let scalars: std::collections::BTreeMap<String, Vec<(i64, f64)>> = serde_json::from_slice(&python.stdout).unwrap();

    let text = std::fs::read_to_string(dir.join("progress.csv")).unwrap();
    let columns: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let rows = progress(&dir);
    assert_eq!(rows.len(), 3);
    for (c, column) in columns.iter().enumerate().skip(1) {
        let expected: Vec<(i64, f64)> =
            rows.iter().filter_map(|row| row[c].parse::<f64>().ok().map(|v| (row[0].parse().unwrap(), f64::from(v as f32)))).collect();
        if expected.is_empty() {
            assert!(!scalars.contains_key(*column), "{column} has no values in progress.csv");
            continue;
        }
        assert_eq!(scalars.get(*column), Some(&expected), "{column}");
    }
}
