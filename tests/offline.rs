//! Offline meta-RL on point-robot (configs/demo/focal-point-robot.json): `metarl offline collect`
//! writes datasets whose expert level beats the random one and that numpy reads; FOCAL trained
//! from them reaches far above the random level and separates the test tasks; runs are
//! reproducible, resumable and stop on NaN; bad datasets fail naming the file. The dataset is
//! collected once and shared by the tests. How FOCAL compares with Batch PEARL and its
//! distance-loss variants is measured over seeds by tools/focal_orderings.py (README).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;


const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/demo/focal-point-robot.json");

fn metarl(args: &[&str], env: &[(&str, &str)]) -> Output {
    common::metarl().args(args).envs(env.iter().copied()).output().unwrap()
}

fn ok(out: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "should have failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The demo dataset, collected once for all tests of this file.
fn dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("offline-point-robot");
        let _ = std::fs::remove_dir_all(&dir);
        print!("{}", ok(&metarl(&["offline", "collect", "--env", "point-robot", "--config", CONFIG, "--out", dir.to_str().unwrap()], &[])));
        dir
    })
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Mean level return over the dataset's tasks of `split`.
fn level_return(split: &str, level: &str) -> f64 {
    let manifest = json(&dataset().join("manifest.json"));
    let tasks: Vec<_> = manifest["tasks"].as_array().unwrap().iter().filter(|t| t["split"] == split).collect();
    tasks.iter().map(|t| json(&dataset().join(t["file"].as_str().unwrap().replace(".npz", ".json")))["level_returns"][level].as_f64().unwrap()).sum::<f64>()
        / tasks.len() as f64
}

fn config_with(dir: &Path, name: &str, overrides: serde_json::Value) -> PathBuf {
    let mut config = json(Path::new(CONFIG));
    config.as_object_mut().unwrap().extend(overrides.as_object().unwrap().clone());
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn train_args<'a>(config: &'a str, out: &'a str, dataset: &'a str) -> Vec<&'a str> {
    vec!["train", "focal", "--env", "point-robot", "--seed", "1", "--config", config, "--dataset", dataset, "--out", out]
}

fn progress(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("progress.csv")).unwrap().lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

/// The mean of a progress.csv column over the last `rows` iterations (meta-test returns of a
/// few test tasks are noisy from one iteration to the next).
fn column(dir: &Path, name: &str, rows: usize) -> f64 {
    let text = std::fs::read_to_string(dir.join("progress.csv")).unwrap();
    let index = text.lines().next().unwrap().split(',').position(|c| c == name).unwrap();
    let all = progress(dir);
    let last = &all[all.len() - rows..];
    last.iter().map(|r| r[index].parse::<f64>().unwrap()).sum::<f64>() / rows as f64
}

#[test]
fn collect_writes_levels_numpy_reads_and_resumes_per_task() {
    let (random, expert) = (level_return("test", "random"), level_return("test", "expert"));
    let (medium, mixed) = (level_return("test", "medium"), level_return("test", "mixed"));
    println!("test-task mean returns by level: random {random:.2}, medium {medium:.2}, expert {expert:.2}, mixed {mixed:.2}");
    assert!(expert > random + 8.0, "expert {expert} should clearly beat random {random}");
    // pytorch_sac's schedule: checkpoints at the multiples of 300 past the 200 random steps and
    // before the last of 1,500; the manifest records the behaviour SAC.
    let task = json(&dataset().join("task_000.json"));
    let steps: Vec<u64> = task["checkpoints"].as_array().unwrap().iter().map(|c| c["env_steps"].as_u64().unwrap()).collect();
    assert_eq!(steps, [300, 600, 900, 1200]);
    let behaviour = &json(&dataset().join("manifest.json"))["collection"]["behaviour_sac"];
    assert_eq!((&behaviour["hidden"], &behaviour["batch_size"], &behaviour["target_update_every"]), (&serde_json::json!([64, 64]), &serde_json::json!(64), &serde_json::json!(2)));

    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/venv/bin/python");
    let script = "import json, sys, numpy as np\n\
        d = sys.argv[1]; m = json.load(open(d + '/manifest.json'))\n\
        for t in m['tasks']:\n\
        \x20   a = np.load(d + '/' + t['file'])\n\
        \x20   assert a['obs'].dtype == np.float32 and a['obs'].shape == (len(a['rewards']), m['obs_dim']), a['obs'].shape\n\
        \x20   assert a['actions'].shape[1] == m['action_dim'] and np.abs(a['actions']).max() <= 1\n\
        \x20   ends = np.flatnonzero(np.diff(a['trajectory'])) + 1\n\
        \x20   returns = [r.sum() for r in np.split(a['rewards'], ends)]\n\
        \x20   first, last = a['checkpoint'].min(), a['checkpoint'].max()\n\
        \x20   print(t['file'], a['obs'].shape, 'return at step', int(first), round(float(a['rewards'][a['checkpoint'] == first].sum() / 10), 2),\n\
        \x20         'at step', int(last), round(float(a['rewards'][a['checkpoint'] == last].sum() / 10), 2), 'trajectories', len(returns))\n";
    let out = Command::new(python).args(["-c", script]).arg(dataset()).output().unwrap();
    print!("numpy: {}", ok(&out));

    // A task whose manifest is missing is collected again; the others are skipped.
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dataset()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().unwrap() != "task_002.json" {
            std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let rerun = ok(&metarl(&["offline", "collect", "--env", "point-robot", "--config", CONFIG, "--out", copy.path().to_str().unwrap()], &[]));
    assert_eq!(rerun.matches("(already collected)").count(), 79, "{rerun}");
    assert!(rerun.contains("train task 2: mean return") && copy.path().join("task_002.json").is_file(), "{rerun}");
    let original = std::fs::read(dataset().join("task_002.npz")).unwrap();
    assert_eq!(std::fs::read(copy.path().join("task_002.npz")).unwrap(), original, "a task's collection is deterministic");
}

#[test]
fn focal_learns_offline_and_separates_test_tasks() {
    let scratch = tempfile::tempdir().unwrap();
    let (config, out) = (config_with(scratch.path(), "focal", serde_json::json!({})), scratch.path().join("run"));
    ok(&metarl(&train_args(config.to_str().unwrap(), out.to_str().unwrap(), dataset().to_str().unwrap()), &[]));
    let (ret, esr) = (column(&out, "test_return", 3), column(&out, "effective_separation_rate", 3));
    let (random, expert) = (level_return("test", "random"), level_return("test", "expert"));
    println!("FOCAL on the mixed level (mean of the last 3 iterations): meta-test return {ret:.2}, effective separation rate {esr:.3}; test-task levels: random {random:.2}, expert {expert:.2}");
    assert!(ret > random + 0.4 * (expert - random), "FOCAL {ret} should be far above random {random} (expert {expert})");
    // papers/002 §5.2.1: the metric loss separates the test tasks' embeddings.
    assert!(esr > 0.3, "FOCAL separates test tasks: ESR {esr}");
}

#[test]
fn runs_are_reproducible_resumable_evaluable_and_stop_on_nan() {
    let data = dataset().to_str().unwrap().to_owned();
    let scratch = tempfile::tempdir().unwrap();
    let config = config_with(scratch.path(), "short", serde_json::json!({"num_iterations": 3, "num_train_steps_per_itr": 20}));
    let config = config.to_str().unwrap();
    let dir = |name: &str| scratch.path().join(name);
    let without_clock = |rows: Vec<Vec<String>>| rows.into_iter().map(|r| r[..r.len() - 1].to_vec()).collect::<Vec<_>>();

    let (a, b) = (dir("a"), dir("b"));
    ok(&metarl(&train_args(config, a.to_str().unwrap(), &data), &[]));
    ok(&metarl(&train_args(config, b.to_str().unwrap(), &data), &[]));
    assert_eq!(without_clock(progress(&a)), without_clock(progress(&b)), "same seed, same progress.csv");

    let killed = dir("killed");
    let out = metarl(&train_args(config, killed.to_str().unwrap(), &data), &[("METARL_FAULT_KILL_ITERATION", "1")]);
    assert!(!out.status.success());
    let mut resume = train_args(config, killed.to_str().unwrap(), &data);
    resume.push("--resume");
    ok(&metarl(&resume, &[]));
    assert_eq!(without_clock(progress(&killed)), without_clock(progress(&a)), "a resumed run matches an uninterrupted one");

    // FOCAL-ICLR's meta-test: 20 dataset transitions join the context before each of the 60 / 20
    // = 3 rollouts of a run; the third is scored.
    let eval_rows = std::fs::read_to_string(a.join("eval.csv")).unwrap();
    let header: Vec<&str> = eval_rows.lines().next().unwrap().split(',').collect();
    assert_eq!(header[5..], ["rollouts", "context_transitions"]);
    assert!(eval_rows.lines().skip(1).all(|l| l.ends_with(",3,60")), "{eval_rows}");

    let eval = ok(&metarl(&["eval", a.to_str().unwrap()], &[]));
    assert!(eval.contains("checkpoint of iteration 2: test return"), "{eval}");

    let nan = dir("nan");
    let err = failure(&metarl(&train_args(config, nan.to_str().unwrap(), &data), &[("METARL_FAULT_NAN_ITERATION", "1")]));
    assert!(err.contains("qf_loss became NaN at iteration 1") && err.contains("last good checkpoint (iteration 0)"), "{err}");
}

#[test]
fn bad_datasets_fail_naming_the_file() {
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("data");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(dataset()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
        }
    }
    let data = copy.to_str().unwrap().to_owned();
    let out = scratch.path().join("run");
    let train = |env: &str| metarl(&["train", "focal", "--env", env, "--config", CONFIG, "--dataset", &data, "--out", out.to_str().unwrap()], &[]);

    let err = failure(&train("sparse-point-robot"));
    assert!(err.contains("manifest.json") && err.contains("the dataset is of env \"point-robot\", not \"sparse-point-robot\""), "{err}");

    let no_dataset = failure(&metarl(&["train", "focal", "--env", "point-robot", "--out", out.to_str().unwrap()], &[]));
    assert!(no_dataset.contains("--dataset"), "{no_dataset}");

    // An array with the wrong width (numpy-written, as a user's edit would be).
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/venv/bin/python");
    let script = "import sys, numpy as np\nf = sys.argv[1]; a = dict(np.load(f))\na['obs'] = np.zeros((len(a['rewards']), 3), np.float32)\nnp.savez(f, **a)\n";
    ok(&Command::new(python).args(["-c", script]).arg(copy.join("task_000.npz")).output().unwrap());
    let err = failure(&train("point-robot"));
    assert!(err.contains("task_000.npz") && err.contains("\"obs\" has shape") && err.contains("obs_dim 2"), "{err}");
    std::fs::copy(dataset().join("task_000.npz"), copy.join("task_000.npz")).unwrap();

    let bytes = std::fs::read(copy.join("task_001.npz")).unwrap();
    std::fs::write(copy.join("task_001.npz"), &bytes[..bytes.len() / 3]).unwrap();
    let err = failure(&train("point-robot"));
    assert!(err.contains("task_001.npz"), "{err}");
    std::fs::copy(dataset().join("task_001.npz"), copy.join("task_001.npz")).unwrap();

    std::fs::remove_file(copy.join("task_081.npz")).unwrap();
    let err = failure(&train("point-robot"));
    assert!(err.contains("task_081.npz: missing") && err.contains("task 81"), "{err}");
}
