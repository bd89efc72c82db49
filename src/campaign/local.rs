//! The local backend: a bounded pool of `metarl train` processes over a campaign's runs.
//!
//! Each run is its own process, logging to `logs/<algo>-<env>-seed<k>.log`. A complete run
//! (summary.csv) is skipped, a run with a checkpoint is resumed (`--resume`), a crashed run is
//! retried from its checkpoint a bounded number of times. A lock file per run
//! (`runs/<algo>/<env>/seed<k>.lock`, holding `host:pid`) keeps two `campaign run` processes on one
//! manifest from running the same run twice: a runner that finds a run locked comes back to it
//! after its other work, and takes it over if the holder died without finishing it.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::{read_manifest, run_state, PlannedRun, RunState};

/// What happened to one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Complete before this invocation: skipped.
    AlreadyComplete,
    /// Ran to completion; `resumed_from` is the checkpoint's iteration when it continued one.
    Completed { resumed_from: Option<usize>, attempts: usize },
    /// Still failing after every retry.
    Failed { attempts: usize, log: PathBuf },
    /// Another live process held its lock; it finished the run there.
    CompletedElsewhere { holder: String },
    /// Another live process held its lock (reported only while waiting for it).
    Busy { holder: String },
}

/// This machine's name, for lock files.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map_or_else(|_| "localhost".into(), |h| h.trim().to_string())
}

/// A held run lock, removed on drop.
struct RunLock(PathBuf);

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Takes the lock of the folder `dir` (`<dir>.lock`: a run's, or a dataset's), or names its live
/// holder. A lock left by a dead process on this host is taken over; one from another host is
/// respected (its node may still be running it).
fn lock(dir: &Path) -> Result<Result<RunLock, String>> {
    let path = dir.with_extension("lock");
    std::fs::create_dir_all(path.parent().expect("a folder inside the campaign"))?;
    let me = format!("{}:{}", host(), std::process::id());
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                file.write_all(me.as_bytes())?;
                return Ok(Ok(RunLock(path)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let dead_here = holder
                    .split_once(':')
                    .is_some_and(|(h, pid)| h == host() && pid.parse::<u32>().is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()));
                if !dead_here {
                    return Ok(Err(holder));
                }
                std::fs::remove_file(&path)?;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    Ok(Err("another process took the lock first".into()))
}

/// The `metarl train` arguments of a run (resuming when asked).
pub fn train_args(campaign: &Path, run: &PlannedRun, resume: bool) -> Vec<String> {
    let mut args = vec!["train".into(), run.algo.clone(), "--env".into(), run.env.clone(), "--seed".into(), run.seed.to_string()];
    args.extend(["--config".into(), campaign.join(&run.config).display().to_string()]);
    args.extend(["--out".into(), campaign.join(&run.run_dir).display().to_string()]);
    if let Some(dataset) = run.dataset() {
        args.extend(["--dataset".into(), campaign.join(dataset).display().to_string()]);
    }
    if let Some(steps) = run.steps {
        args.extend(["--steps".into(), steps.to_string()]);
    }
    if resume {
        args.push("--resume".into());
    }
    args
}

pub fn log_path(campaign: &Path, run: &PlannedRun) -> PathBuf {
    campaign.join("logs").join(format!("{}-{}-seed{}.log", run.algo, run.env, run.seed))
}

/// One run, start to finish, under its lock.
pub fn execute(campaign: &Path, run: &PlannedRun, retries: usize, exe: &Path) -> Result<Outcome> {
    if run_state(campaign, run) == RunState::Complete {
        return Ok(Outcome::AlreadyComplete);
    }
    let _lock = match lock(&campaign.join(&run.run_dir))? {
        Ok(lock) => lock,
        Err(holder) => return Ok(Outcome::Busy { holder }),
    };
    let log = log_path(campaign, run);
    std::fs::create_dir_all(log.parent().expect("logs/"))?;
    let mut resumed_from = None;
    for attempt in 1..=retries + 1 {
        if let Some(dataset) = run.dataset() {
            match collect_dataset(campaign, run, &dataset, &log, attempt, exe)? {
                Ok(true) => {}
                Ok(false) => continue,
                Err(holder) => return Ok(Outcome::Busy { holder }),
            }
        }
        let state = run_state(campaign, run);
        let resume = match state {
            RunState::Complete => return Ok(Outcome::Completed { resumed_from, attempts: attempt - 1 }),
            RunState::Partial { iteration } => {
                resumed_from.get_or_insert(iteration);
                true
            }
            RunState::Pending => {
                // Killed before its first checkpoint: nothing to resume, start clean.
                let dir = campaign.join(&run.run_dir);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                false
            }
        };
        let args = train_args(campaign, run, resume);
        let mut file = OpenOptions::new().create(true).append(true).open(&log)?;
        writeln!(file, "== attempt {attempt}: metarl {}{}", args.join(" "), match state {
            RunState::Partial { iteration } => format!(" (resuming after iteration {iteration})"),
            _ => String::new(),
        })?;
        let status = Command::new(exe).args(&args).stdout(Stdio::from(file.try_clone()?)).stderr(Stdio::from(file)).status()?;
        if status.success() {
            return Ok(Outcome::Completed { resumed_from, attempts: attempt });
        }
    }
    Ok(Outcome::Failed { attempts: retries + 1, log })
}

/// An offline run's dataset (`metarl offline collect`, logged to the run's log), under the
/// dataset's own lock, released once it is complete: the first of the env's runs collects it
/// while the others wait, and an interrupted collection resumes task by task. `Ok(false)` if the
/// collection failed, `Err(holder)` if another process is collecting it.
fn collect_dataset(campaign: &Path, run: &PlannedRun, dataset: &Path, log: &Path, attempt: usize, exe: &Path) -> Result<Result<bool, String>> {
    let _lock = match lock(&campaign.join(dataset))? {
        Ok(lock) => lock,
        Err(holder) => return Ok(Err(holder)),
    };
    let args = ["offline".into(), "collect".into(), "--env".into(), run.env.clone(), "--config".into(), campaign.join(&run.config).display().to_string(),
        "--out".into(), campaign.join(dataset).display().to_string()];
    let mut file = OpenOptions::new().create(true).append(true).open(log)?;
    writeln!(file, "== attempt {attempt}: metarl {}", args.join(" "))?;
    Ok(Ok(Command::new(exe).args(&args).stdout(Stdio::from(file.try_clone()?)).stderr(Stdio::from(file)).status()?.success()))
}

/// Runs every run of the campaign in `dir` with at most `jobs` at once; `on_done` sees each
/// outcome as it lands. A run locked by another live runner goes to the back of the queue until
/// that runner finishes it (or dies, and this one takes it over). Returns the outcomes in
/// manifest order.
pub fn run(dir: &Path, jobs: usize, retries: usize, on_done: impl Fn(&PlannedRun, &Outcome) + Sync) -> Result<Vec<(PlannedRun, Outcome)>> {
    let runs = read_manifest(dir)?;
    let exe = std::env::current_exe().context("cannot find the metarl binary")?;
    let queue = Mutex::new(runs.iter().cloned().enumerate().map(|(i, run)| (i, run, None)).collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1).min(runs.len().max(1)))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let Some((index, run, busy_before)) = queue.lock().expect("queue").pop_front() else { return Ok(()) };
                        let outcome = match (execute(dir, &run, retries, &exe).with_context(|| run.name())?, busy_before) {
                            (Outcome::Busy { holder }, _) => {
                                std::thread::sleep(std::time::Duration::from_millis(200));
                                queue.lock().expect("queue").push_back((index, run, Some(holder)));
                                continue;
                            }
                            (Outcome::AlreadyComplete, Some(holder)) => Outcome::CompletedElsewhere { holder },
                            (outcome, _) => outcome,
                        };
                        on_done(&run, &outcome);
                        results.lock().expect("results").push((index, run, outcome));
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("a campaign worker panicked"))
    })?;
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|r| r.0);
    Ok(results.into_iter().map(|(_, run, outcome)| (run, outcome)).collect())
}
