//! A small campaign (2 algorithms × 2 point envs × 2 seeds, tiny budgets) on the local backend:
//! killed midway and rerun, every run completes exactly once, the interrupted ones continue from
//! their checkpoints; two runners on one manifest never run the same run twice.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use metarl::campaign::{read_manifest, run_state, RunState};

use common::metarl;

const TINY: &[&str] = &[
    "n_train_tasks=4", "n_eval_tasks=2", "latent_size=2", "net_size=16", "encoder_hidden=[16,16]", "meta_batch=2",
    "num_iterations=6", "num_initial_steps=20", "num_tasks_sample=2", "num_steps_prior=20", "num_extra_rl_steps_posterior=20",
    "num_train_steps_per_itr=60", "batch_size=16", "embedding_batch_size=16", "num_evals=1", "num_steps_per_eval=20",
    "max_path_length=10",
];

fn plan(dir: &Path) {
    let out = metarl()
        .args(["campaign", "plan", "--suite", "point-robot,sparse-point-robot", "--algos", "pearl,oracle-sac", "--seeds", "0,1", "--out"])
        .arg(dir)
        .arg("--config-overrides")
        .args(TINY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn runner(dir: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    metarl().args(["campaign", "run", "--jobs", "2"]).arg(dir).process_group(0).stdout(std::process::Stdio::piped()).spawn().unwrap()
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "campaign run failed");
    out
}

fn states(dir: &Path) -> Vec<RunState> {
    read_manifest(dir).unwrap().iter().map(|r| run_state(dir, r)).collect()
}

/// Iterations in a run's progress.csv, in order.
fn iterations(run_dir: &PathBuf) -> Vec<usize> {
    let text = std::fs::read_to_string(run_dir.join("progress.csv")).unwrap();
    text.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect()
}

fn logs(dir: &Path) -> Vec<String> {
    read_manifest(dir).unwrap().iter().map(|r| std::fs::read_to_string(metarl::campaign::local::log_path(dir, r)).unwrap()).collect()
}

#[test]
fn a_killed_campaign_resumes_and_every_run_completes_once() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    plan(&dir);
    let mut child = runner(&dir);
    // Kill the whole process group (runner and its training processes) once one run is
    // complete and another has a checkpoint but is not finished.
    let start = Instant::now();
    loop {
        let s = states(&dir);
        if s.contains(&RunState::Complete) && s.iter().any(|x| matches!(x, RunState::Partial { .. })) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(240) && child.try_wait().unwrap().is_none(), "never caught the campaign midway: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status().unwrap().success());
    child.wait().unwrap();
    let before = states(&dir);
    let interrupted: Vec<bool> = before.iter().map(|s| matches!(s, RunState::Partial { .. })).collect();
    println!("at the kill: {before:?}");

    let out = finish(runner(&dir));
    let summary = String::from_utf8_lossy(&out.stdout);
    println!("{summary}");
    let complete_before = before.iter().filter(|s| **s == RunState::Complete).count();
    assert!(summary.contains(&format!("{complete_before} already complete")), "{summary}");
    for ((run, log), was_interrupted) in read_manifest(&dir).unwrap().iter().zip(logs(&dir)).zip(interrupted) {
        assert_eq!(run_state(&dir, run), RunState::Complete, "{}", run.name());
        assert_eq!(iterations(&dir.join(&run.run_dir)), (0..6).collect::<Vec<_>>(), "{}: every iteration once", run.name());
        if was_interrupted {
            assert!(log.contains("--resume (resuming after iteration"), "{} continued from its checkpoint:\n{log}", run.name());
        }
    }
    // A third invocation has nothing left to do.
    let again = String::from_utf8_lossy(&finish(runner(&dir)).stdout).to_string();
    assert!(again.contains("0 completed now") && again.contains("8 already complete"), "{again}");
    check_tables(&dir);
}

/// `campaign collect`: one row per env, each algorithm's mean over its two seeds equal to the
/// mean of the runs' final returns (`--window 0`: the last iteration), wins adding up to the envs,
/// curves for every iteration.
fn check_tables(dir: &Path) {
    let out = metarl().args(["campaign", "collect", "--window", "0"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = |name: &str| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(dir.join("tables").join(name)).unwrap();
        text.lines().map(|l| l.split(',').map(String::from).collect()).collect()
    };
    let returns = table("returns.csv");
    assert_eq!(returns[0], ["env", "pearl_mean", "pearl_std", "pearl_seeds", "oracle-sac_mean", "oracle-sac_std", "oracle-sac_seeds", "winner"]);
    assert_eq!(returns.len(), 3, "one row per env");
    for row in &returns[1..] {
        for (algo, column) in [("pearl", 1), ("oracle-sac", 4)] {
            let finals: Vec<f64> = (0..2)
                .map(|seed| {
                    let summary = std::fs::read_to_string(dir.join(format!("runs/{algo}/{}/seed{seed}/summary.csv", row[0]))).unwrap();
                    summary.lines().nth(1).unwrap().split(',').nth(3).unwrap().parse().unwrap()
                })
                .collect();
            let mean: f64 = row[column].parse().unwrap();
            assert!((mean - (finals[0] + finals[1]) / 2.0).abs() < 1e-3, "{algo} on {}: {mean} vs {finals:?}", row[0]);
            assert_eq!(row[column + 2], "2");
        }
        let winner = if row[1].parse::<f64>().unwrap() >= row[4].parse::<f64>().unwrap() { "pearl" } else { "oracle-sac" };
        assert_eq!(row[7], winner);
    }
    let wins: usize = table("summary.csv")[1..].iter().filter(|r| r[0] == "wins").map(|r| r[2].parse::<usize>().unwrap()).sum();
    assert_eq!(wins, 2);
    assert_eq!(table("curves.csv").len(), 1 + 2 * 2 * 6, "2 envs × 2 algorithms × 6 iterations");
    let (width, height, _) = metarl::results::chart::read_png(&dir.join("tables/curves.png")).unwrap();
    assert_eq!((width, height), (2 * metarl::results::chart::CHART_WIDTH, metarl::results::chart::CHART_HEIGHT), "one chart per env");
    for env in ["point-robot", "sparse-point-robot"] {
        assert!(dir.join(format!("tables/curves-{env}.png")).is_file());
        assert!(dir.join(format!("runs/pearl/{env}/seed0/curves.png")).is_file(), "every run draws its curves");
    }
}

#[test]
fn two_runners_on_one_manifest_never_run_a_run_twice() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    plan(&dir);
    let (a, b) = (runner(&dir), runner(&dir));
    let (a, b) = (finish(a), finish(b));
    println!("{}{}", String::from_utf8_lossy(&a.stdout), String::from_utf8_lossy(&b.stdout));
    for (run, log) in read_manifest(&dir).unwrap().iter().zip(logs(&dir)) {
        assert_eq!(log.matches("== attempt").count(), 1, "{} ran once:\n{log}", run.name());
        assert_eq!(iterations(&dir.join(&run.run_dir)), (0..6).collect::<Vec<_>>());
    }
}

/// The same small campaign through the Slurm backend, on a real single-node Slurm that
/// tools/slurm-localhost.sh starts on this machine (skipped, with its reason, where it cannot).
#[test]
fn the_campaign_runs_to_completion_through_slurm() {
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("slurm");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/slurm-localhost.sh");
    let started = Command::new(script).arg("start").arg(&state).output().unwrap();
    if !started.status.success() {
        println!("SKIPPED: this machine cannot run Slurm: {}", String::from_utf8_lossy(&started.stderr).trim());
        return;
    }
    let conf = state.join("slurm.conf");
    let dir = root.path().join("c");
    plan(&dir);
    let out = metarl().args(["campaign", "run", "--backend", "slurm", "--wait"]).arg(&dir).env("SLURM_CONF", &conf).output().unwrap();
    let status = metarl().args(["campaign", "status"]).arg(&dir).env("SLURM_CONF", &conf).output().unwrap();
    Command::new(script).arg("stop").arg(&state).status().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&status.stdout));
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("submitted job") && stdout.contains("8 of 8 runs complete"), "{stdout}");
    assert!(String::from_utf8_lossy(&status.stdout).contains("8 complete"));
    for (run, log) in read_manifest(&dir).unwrap().iter().zip(logs(&dir)) {
        assert_eq!(log.matches("== attempt").count(), 1, "{} ran once:\n{log}", run.name());
        assert_eq!(iterations(&dir.join(&run.run_dir)), (0..6).collect::<Vec<_>>());
    }
    let sbatch = std::fs::read_to_string(dir.join("slurm/array.sbatch")).unwrap();
    assert!(sbatch.contains("#SBATCH --array=0,1,2,3,4,5,6,7") && sbatch.contains("#SBATCH --requeue"), "{sbatch}");
}

/// An offline algorithm's campaign: the env's dataset is collected once, by whichever seed's run
/// gets there first, and every seed trains from it.
#[test]
fn an_offline_campaign_collects_each_dataset_once_for_all_seeds() {
    const TINY_FOCAL: &[&str] = &[
        "n_train_tasks=3", "n_eval_tasks=2", "behaviour_env_steps=300", "behaviour_initial_steps=100", "checkpoint_every=150", "n_trj=3",
        "latent_size=2", "net_size=16", "encoder_hidden=[16,16]", "meta_batch=2", "num_iterations=2", "num_train_steps_per_itr=30",
        "batch_size=16", "embedding_batch_size=8", "num_evals=1",
    ];
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    let out = metarl()
        .args(["campaign", "plan", "--suite", "point-robot", "--algos", "focal", "--seeds", "0,1", "--out"])
        .arg(&dir)
        .arg("--config-overrides")
        .args(TINY_FOCAL)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    println!("{}", String::from_utf8_lossy(&finish(runner(&dir)).stdout));
    assert_eq!(states(&dir), [RunState::Complete, RunState::Complete]);
    assert!(dir.join("datasets/focal/point-robot/manifest.json").is_file());
    // 5 tasks (3 train, 2 test): one run collected them, the other found them all collected.
    let logs = logs(&dir).concat();
    assert_eq!(logs.matches("(already collected)").count(), 5, "{logs}");
    for run in read_manifest(&dir).unwrap() {
        assert_eq!(iterations(&dir.join(&run.run_dir)), [0, 1]);
    }
    // Collected like any campaign; its curves run against gradient steps, in a chart of their own.
    let out = metarl().args(["campaign", "collect"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let returns = std::fs::read_to_string(dir.join("tables/returns.csv")).unwrap();
    assert!(returns.lines().nth(1).is_some_and(|row| row.starts_with("point-robot,") && row.ends_with(",2,focal")), "{returns}");
    assert!(dir.join("tables/curves-point-robot-offline.png").is_file());
    let curves = std::fs::read_to_string(dir.join("tables/curves.csv")).unwrap();
    assert!(curves.lines().nth(2).is_some_and(|row| row.starts_with("point-robot,focal,1,60,")), "2 × 30 gradient steps: {curves}");
}
