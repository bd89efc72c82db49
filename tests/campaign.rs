//! A small campaign (2 algorithms × 2 point envs × 2 seeds, tiny budgets) on the local backend:
//! killed midway and rerun, every run completes exactly once, the interrupted ones continue from
//! their checkpoints; two runners on one manifest never run the same run twice.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use metarl::campaign::lock::{self, Holder};
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
    // Status shows where each interrupted run got to and how long the rest would take.
    let status = String::from_utf8_lossy(&metarl().args(["campaign", "status"]).arg(&dir).output().unwrap().stdout).to_string();
    let partial: Vec<&str> = status.lines().filter(|l| l.contains("partial (checkpoint after iteration")).collect();
    assert_eq!(partial.len(), interrupted.iter().filter(|i| **i).count(), "{status}");
    assert!(partial.iter().all(|l| l.contains("/6), ") && l.contains("per iteration, ETA")), "{status}");

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
        // The log (stdout and stderr of `metarl train`, no terminal) has a line per iteration.
        for i in 0..6 {
            assert_eq!(log.matches(&format!("iteration {i} ({}/6), ", i + 1)).count(), 1, "{}:\n{log}", run.name());
        }
    }
}

/// Whether this test may install and start a Slurm of its own (system daemons): only under CI
/// or when asked to.
fn slurm_allowed() -> Result<(), String> {
    if std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var("METARL_TEST_SLURM").is_ok_and(|v| v == "1") {
        Ok(())
    } else {
        Err("it installs and starts system daemons (munged, slurmctld, slurmd); set METARL_TEST_SLURM=1 (as root) to run it".into())
    }
}

/// A localhost Slurm for the length of a test: stopped (every daemon it started) on drop.
struct LocalSlurm {
    state: PathBuf,
}

const SLURM_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/slurm-localhost.sh");

impl LocalSlurm {
    fn start(state: PathBuf, max_array_size: usize) -> Result<LocalSlurm, String> {
        slurm_allowed()?;
        let started = Command::new(SLURM_SCRIPT).arg("start").arg(&state).env("SLURM_MAX_ARRAY_SIZE", max_array_size.to_string()).output().unwrap();
        let slurm = LocalSlurm { state };
        if !started.status.success() {
            return Err(format!("this machine cannot run Slurm: {}", String::from_utf8_lossy(&started.stderr).trim()));
        }
        Ok(slurm)
    }

    fn conf(&self) -> PathBuf {
        self.state.join("slurm.conf")
    }
}

impl Drop for LocalSlurm {
    fn drop(&mut self) {
        let _ = Command::new(SLURM_SCRIPT).arg("stop").arg(&self.state).status();
    }
}

/// The same small campaign through the Slurm backend, on a real single-node Slurm (no GPUs) that
/// tools/slurm-localhost.sh starts on this machine with MaxArraySize 3 (skipped, with its reason,
/// where it may not or cannot): the 8 runs go in three arrays; a lock left on run 0 by a process
/// on another node is taken over once its lease lapses; the device is recorded and passed to
/// every run; a run planned for cuda fails at once on this GPU-less node, naming it, unretried.
#[test]
fn the_campaign_runs_to_completion_through_slurm() {
    let root = tempfile::tempdir().unwrap();
    let slurm = match LocalSlurm::start(root.path().join("slurm"), 3) {
        Ok(slurm) => slurm,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let dir = root.path().join("c");
    plan(&dir);
    let runs = read_manifest(&dir).unwrap();
    assert!(runs.iter().all(|r| r.device == "cpu"), "the device is recorded per run");
    // Run 0's lock, as a task preempted on node-b left it: renewed 1 s ago, a 3 s lease.
    let stale = Holder { host: "node-b.cluster".into(), pid: 4242, slurm_job: Some("99_0".into()), lease_s: 3, renewed: lock::now() - 1 };
    lock::write_as(&dir.join(&runs[0].run_dir), &stale).unwrap();

    let out = metarl().args(["campaign", "run", "--backend", "slurm", "--wait"]).arg(&dir).env("SLURM_CONF", slurm.conf()).output().unwrap();
    let status = metarl().args(["campaign", "status"]).arg(&dir).env("SLURM_CONF", slurm.conf()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&status.stdout));
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("submitted job").count(), 3, "8 runs in arrays of at most 3: {stdout}");
    assert!(stdout.contains("8 runs in 3 array(s) of at most 3 tasks") && stdout.contains("8 of 8 runs complete"), "{stdout}");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("device: cpu") && status.contains("8 complete"), "{status}");
    for (run, log) in runs.iter().zip(logs(&dir)) {
        assert_eq!(log.matches("== attempt").count(), 1, "{} ran once:\n{log}", run.name());
        assert!(log.contains("--device cpu"), "{}: the device reaches `metarl train`:\n{log}", run.name());
        assert_eq!(iterations(&dir.join(&run.run_dir)), (0..6).collect::<Vec<_>>());
    }
    // Every array task id below MaxArraySize; the task lists cover the manifest once.
    let submission = dir.join("slurm/s1");
    let mut indices = Vec::new();
    for part in 0..3 {
        let sbatch = std::fs::read_to_string(submission.join(format!("part{part}.sbatch"))).unwrap();
        let size = if part < 2 { 3 } else { 2 };
        assert!(sbatch.contains(&format!("#SBATCH --array=0-{}\n", size - 1)) && sbatch.contains("#SBATCH --requeue"), "{sbatch}");
        let list = std::fs::read_to_string(submission.join(format!("part{part}.tasks"))).unwrap();
        indices.extend(list.lines().map(|l| l.parse::<usize>().unwrap()));
    }
    assert_eq!(indices, (0..8).collect::<Vec<_>>());
    // The task of run 0 waited for the lease, then took the run over.
    let slurm_logs: String = std::fs::read_dir(dir.join("logs")).unwrap().map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("slurm-")).map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(slurm_logs.contains("taking over a stale lock from node-b.cluster:4242 (Slurm job 99_0)"), "{slurm_logs}");

    // A run planned for cuda on a node without a GPU: refused at start, naming the node, once.
    if metarl::protocol::run_dir::parse_device("cuda").is_err() {
        let cuda = root.path().join("cuda");
        let out = metarl()
            .args(["campaign", "plan", "--suite", "point-robot", "--algos", "pearl", "--seeds", "0", "--device", "cuda", "--out"])
            .arg(&cuda).arg("--config-overrides").args(TINY).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = metarl().args(["campaign", "run", "--backend", "slurm", "--wait"]).arg(&cuda).env("SLURM_CONF", slurm.conf()).output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("the tasks ask for no GPU"), "{}", String::from_utf8_lossy(&out.stderr));
        let log = logs(&cuda).concat();
        let host = lock::host();
        assert!(log.contains(&format!("no CUDA device on {host}")) && log.contains("not retried"), "{log}");
        assert_eq!(log.matches("== attempt").count(), 1, "{log}");
    }
}

/// The sbatch scripts carry what a cluster asks for (account, QoS, constraint, any other option,
/// set-up lines), and asking for GPUs for a campaign planned on cpu warns.
#[test]
fn slurm_scripts_carry_the_cluster_options_and_gpus_for_cpu_runs_warn() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    plan(&dir);
    let out = metarl()
        .args(["campaign", "run", "--backend", "slurm", "--no-submit", "--max-array-size", "5", "--gres", "gpu:1", "--account", "proj42", "--qos", "long",
            "--constraint", "a100|h100", "--sbatch=--mail-type=END", "--setup", "module load cuda/13.0", "--setup", "export OMP_NUM_THREADS=1",
            "--max-concurrent", "2", "--lease", "120", "--max-wait", "60"])
        .arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("--gres gpu:1: the campaign's runs train on cpu"), "{stderr}");
    let part0 = std::fs::read_to_string(dir.join("slurm/s1/part0.sbatch")).unwrap();
    let part1 = std::fs::read_to_string(dir.join("slurm/s1/part1.sbatch")).unwrap();
    for line in ["#SBATCH --array=0-4%2\n", "#SBATCH --gres=gpu:1\n", "#SBATCH --account=proj42\n", "#SBATCH --qos=long\n", "#SBATCH --constraint=a100|h100\n",
        "#SBATCH --mail-type=END\n", "\nmodule load cuda/13.0\nexport OMP_NUM_THREADS=1\n", "--lease 120 --max-wait 60"] {
        assert!(part0.contains(line), "{line:?} in\n{part0}");
    }
    assert!(part1.contains("#SBATCH --array=0-2%2\n") && part1.contains("--tasks ") && part1.contains("part1.tasks --task-id \"$SLURM_ARRAY_TASK_ID\""), "{part1}");
    assert_eq!(std::fs::read_to_string(dir.join("slurm/s1/part1.tasks")).unwrap(), "5\n6\n7\n");
    // A second submission gets its own folder: queued tasks of the first keep their task lists.
    let again = metarl().args(["campaign", "run", "--backend", "slurm", "--no-submit", "--max-array-size", "5"]).arg(&dir).output().unwrap();
    assert!(again.status.success() && dir.join("slurm/s2/part0.tasks").is_file());
    let err = metarl().args(["campaign", "run", "--backend", "slurm", "--no-submit", "--sbatch", "mail-type=END"]).arg(&dir).output().unwrap();
    assert!(!err.status.success() && String::from_utf8_lossy(&err.stderr).contains("--sbatch \"mail-type=END\": write an sbatch option"));
}

/// A lock whose holder renews it is respected however long `run-one` waits (then it fails,
/// naming the holder); once the renewals stop, the lock is taken over after its lease.
#[test]
fn a_live_holder_keeps_its_run_and_a_lapsed_lease_is_taken_over() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    let out = metarl()
        .args(["campaign", "plan", "--suite", "point-robot", "--algos", "pearl", "--seeds", "0", "--out"])
        .arg(&dir).arg("--config-overrides").args(TINY).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = read_manifest(&dir).unwrap().remove(0);
    let run_dir = dir.join(&run.run_dir);
    let renewing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let holder = {
        let (renewing, run_dir) = (renewing.clone(), run_dir.clone());
        std::thread::spawn(move || {
            while renewing.load(std::sync::atomic::Ordering::SeqCst) {
                let alive = Holder { host: "node-b.cluster".into(), pid: 4242, slurm_job: None, lease_s: 2, renewed: lock::now() };
                lock::write_as(&run_dir, &alive).unwrap();
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let start = Instant::now();
    let out = metarl().args(["campaign", "run-one", "--index", "0", "--max-wait", "4"]).arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("held by node-b.cluster:4242") && stderr.contains("--max-wait 4"), "{stderr}");
    assert!(start.elapsed() >= Duration::from_secs(4) && !run_dir.exists(), "waited for the live holder without running the run");
    renewing.store(false, std::sync::atomic::Ordering::SeqCst);
    holder.join().unwrap();
    let out = metarl().args(["campaign", "run-one", "--index", "0"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("taking over a stale lock from node-b.cluster:4242"));
    assert_eq!(run_state(&dir, &run), RunState::Complete);
    assert!(!lock::lock_path(&run_dir).exists(), "released");
}

/// `metarl train` with stdout in a file (as in a campaign or a Slurm log): one progress line per
/// iteration on stderr; the run folder records where its config values came from.
#[test]
fn a_run_without_a_terminal_logs_one_progress_line_per_iteration() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("tiny.json");
    let fields: Vec<String> = TINY.iter().map(|pair| {
        let (name, value) = pair.split_once('=').unwrap();
        format!("{name:?}: {value}")
    }).collect();
    std::fs::write(&config, format!("{{{}}}", fields.join(", "))).unwrap();
    let stdout = std::fs::File::create(root.path().join("stdout.txt")).unwrap();
    let out = metarl().args(["train", "pearl", "--env", "point-robot", "--config"]).arg(&config).arg("--out").arg(root.path().join("run"))
        .stdout(stdout).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for i in 0..6 {
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&format!("iteration {i} ({}/6),", i + 1))).collect();
        assert_eq!(lines.len(), 1, "iteration {i}:\n{stderr}");
        assert!(lines[0].contains("INFO") && lines[0].contains("env steps") && lines[0].contains("gradient steps") && lines[0].contains("test return")
            && lines[0].contains("per iteration") && lines[0].contains("ETA"), "{}", lines[0]);
    }
    let sources: serde_json::Value = serde_json::from_slice(&std::fs::read(root.path().join("run/config_sources.json")).unwrap()).unwrap();
    assert_eq!(sources["fields"]["net_size"], config.display().to_string());
    assert_eq!(sources["fields"]["discount"], "default");

    // A --config file that is not there: an error naming it, exit status 2 (not worth a retry).
    let missing = root.path().join("no-such-config.json");
    let out = metarl().args(["train", "pearl", "--env", "point-robot", "--config"]).arg(&missing).arg("--out").arg(root.path().join("run2")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot read config {}", missing.display())), "{}", String::from_utf8_lossy(&out.stderr));
    // --device cuda where libtorch sees no GPU: refused at once, naming this node, status 2.
    if metarl::protocol::run_dir::parse_device("cuda").is_err() {
        let out = metarl().args(["train", "pearl", "--env", "point-robot", "--device", "cuda", "--config"]).arg(&config).arg("--out").arg(root.path().join("run3"))
            .output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("no CUDA device on {}", lock::host())) && !root.path().join("run3").exists(), "{stderr}");
    }
}

/// A copy of the binary in a folder without the repository trains with the config built into it.
#[test]
fn a_copied_binary_trains_with_its_built_in_config() {
    let root = tempfile::tempdir().unwrap();
    let exe = root.path().join("metarl");
    std::fs::copy(env!("CARGO_BIN_EXE_metarl"), &exe).unwrap();
    let run = root.path().join("run");
    let mut child = Command::new(&exe).args(["train", "pearl", "--env", "cheetah-vel", "--out", "run"]).current_dir(root.path())
        .env_remove("METARL_CONFIGS").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // The shipped cheetah-vel schedule takes minutes an iteration here: check what it started
    // with, then stop it.
    let start = Instant::now();
    while !run.join("config_sources.json").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("metarl train exited with {status}: {}", std::io::read_to_string(child.stderr.take().unwrap()).unwrap());
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no run folder after 2 minutes");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    child.wait().unwrap();
    let sources: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("config_sources.json")).unwrap()).unwrap();
    assert_eq!(sources["files"], serde_json::json!(["configs/pearl/cheetah-vel.json (built in)"]));
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    let shipped: serde_json::Value = serde_json::from_str(include_str!("../configs/pearl/cheetah-vel.json")).unwrap();
    for (field, value) in shipped.as_object().unwrap() {
        assert_eq!(&config["config"][field], value, "{field}");
    }
    assert!(stderr.contains("pearl on cheetah-vel (seed 0): training, 500 iterations"), "{stderr}");
}

/// An offline algorithm's campaign: the env's dataset is collected once, by whichever seed's run
/// gets there first, and every seed trains from it.
#[test]
fn an_offline_campaign_collects_each_dataset_once_for_all_seeds() {
    const TINY_FOCAL: &[&str] = &[
        "n_train_tasks=3", "n_eval_tasks=2", "behaviour_env_steps=300", "behaviour_initial_steps=100", "checkpoint_every=150", "n_trj=3", "behaviour_hidden=[16,16]", "behaviour_batch_size=16",
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
