//! The local backend: a bounded pool of `metarl train` processes over a campaign's runs.
//!
//! Each run is its own process, logging to `logs/<algo>-<env>-seed<k>.log`. A complete run
//! (summary.csv) is skipped, a run with a checkpoint is resumed (`--resume`), a crashed run is
//! retried from its checkpoint a bounded number of times; a run `metarl train` refuses to start
//! (its config or arguments: exit status 2) is not retried. A lock file per run
//! (`runs/<algo>/<env>/seed<k>.lock`, see [`super::lock`]) keeps two runners on one manifest — two
//! `campaign run` processes, or Slurm tasks on different nodes — from running the same run twice:
//! the holder renews its lease while the run goes on; a runner that finds a run locked comes back
//! to it after its other work, and takes it over once the holder is gone (a dead process on its
//! host, or a lease not renewed in time on any host).

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};

use super::lock::{self, RunLock};
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
    /// `metarl train` refused to start it (its config, its arguments or a device this node
    /// lacks: exit status 2), so it was not retried.
    Refused { log: PathBuf },
    /// Another live process held its lock; it finished the run there.
    CompletedElsewhere { holder: String },
    /// Another live process held its lock (reported only while waiting for it).
    Busy { holder: String },
}

/// The exit status of a `metarl` command that cannot start with what it was given (a config or
/// argument error, a device this node lacks): running it again would fail the same way.
pub const EXIT_REFUSED: i32 = 2;

/// How a runner runs: its binary, retries and the lease its locks promise.
#[derive(Debug, Clone)]
pub struct Runner {
    pub exe: PathBuf,
    /// Retries of a crashed run, each from its checkpoint.
    pub retries: usize,
    /// Seconds without a renewal after which another process may take this runner's locks.
    pub lease_s: u64,
}

impl Runner {
    pub fn new(retries: usize, lease_s: u64) -> Result<Runner> {
        Ok(Runner { exe: std::env::current_exe().context("cannot find the metarl binary")?, retries, lease_s })
    }
}

/// Runs `command` to its end while renewing `locks`. `Err(holder)` if one of them was taken over
/// (this process stalled past its lease): the command was killed, the run is the new holder's.
/// A renewal that fails (a file-system hiccup) is retried at the next poll.
fn supervise(mut command: Command, locks: &mut [&mut RunLock]) -> Result<Result<ExitStatus, String>> {
    let mut child = command.spawn()?;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ok(status));
        }
        for lock in locks.iter_mut() {
            match lock.renew_if_due() {
                Ok(true) => {}
                Ok(false) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let holder = lock::read(lock.path()).map_or_else(|| "another process".to_string(), |h| h.describe(lock::now()));
                    tracing::warn!("{} was taken over by {holder} (this process did not renew it within its lease); stopped its command", lock.path().display());
                    return Ok(Err(holder));
                }
                Err(e) => tracing::warn!("cannot renew {}: {e:#}; trying again", lock.path().display()),
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The `metarl train` arguments of a run (resuming when asked).
pub fn train_args(campaign: &Path, run: &PlannedRun, resume: bool) -> Vec<String> {
    let mut args = vec!["train".into(), run.algo.clone(), "--env".into(), run.env.clone(), "--seed".into(), run.seed.to_string()];
    args.extend(["--config".into(), campaign.join(&run.config).display().to_string()]);
    args.extend(["--out".into(), campaign.join(&run.run_dir).display().to_string()]);
    args.extend(["--device".into(), run.device.clone()]);
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
pub fn execute(campaign: &Path, run: &PlannedRun, runner: &Runner) -> Result<Outcome> {
    if run_state(campaign, run) == RunState::Complete {
        return Ok(Outcome::AlreadyComplete);
    }
    let mut run_lock = match lock::acquire(&campaign.join(&run.run_dir), runner.lease_s)? {
        Ok(lock) => lock,
        Err(holder) => return Ok(Outcome::Busy { holder: holder.describe(lock::now()) }),
    };
    let log = log_path(campaign, run);
    std::fs::create_dir_all(log.parent().expect("logs/"))?;
    let mut resumed_from = None;
    for attempt in 1..=runner.retries + 1 {
        if let Some(dataset) = run.dataset() {
            match collect_dataset(campaign, run, &dataset, &log, attempt, runner, &mut run_lock)? {
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
        writeln!(file, "== attempt {attempt} on {}: metarl {}{}", lock::host(), args.join(" "), match state {
            RunState::Partial { iteration } => format!(" (resuming after iteration {iteration})"),
            _ => String::new(),
        })?;
        let mut command = Command::new(&runner.exe);
        command.args(&args).stdout(Stdio::from(file.try_clone()?)).stderr(Stdio::from(file));
        let status = match supervise(command, &mut [&mut run_lock])? {
            Ok(status) => status,
            Err(holder) => return Ok(Outcome::Busy { holder }),
        };
        if status.success() {
            return Ok(Outcome::Completed { resumed_from, attempts: attempt });
        }
        if status.code() == Some(EXIT_REFUSED) {
            let mut file = OpenOptions::new().append(true).open(&log)?;
            writeln!(file, "== not retried: metarl train refused this run (its config or arguments; see the error above)")?;
            return Ok(Outcome::Refused { log });
        }
    }
    Ok(Outcome::Failed { attempts: runner.retries + 1, log })
}

/// An offline run's dataset (`metarl offline collect`, logged to the run's log), under the
/// dataset's own lock, released once it is complete: the first of the env's runs collects it
/// while the others wait, and an interrupted collection resumes task by task. `Ok(false)` if the
/// collection failed, `Err(holder)` if another process is collecting it.
fn collect_dataset(campaign: &Path, run: &PlannedRun, dataset: &Path, log: &Path, attempt: usize, runner: &Runner, run_lock: &mut RunLock)
    -> Result<Result<bool, String>> {
    let mut dataset_lock = match lock::acquire(&campaign.join(dataset), runner.lease_s)? {
        Ok(lock) => lock,
        Err(holder) => return Ok(Err(holder.describe(lock::now()))),
    };
    let args = ["offline".into(), "collect".into(), "--env".into(), run.env.clone(), "--config".into(), campaign.join(&run.config).display().to_string(),
        "--out".into(), campaign.join(dataset).display().to_string()];
    let mut file = OpenOptions::new().create(true).append(true).open(log)?;
    writeln!(file, "== attempt {attempt} on {}: metarl {}", lock::host(), args.join(" "))?;
    let mut command = Command::new(&runner.exe);
    command.args(&args).stdout(Stdio::from(file.try_clone()?)).stderr(Stdio::from(file));
    Ok(supervise(command, &mut [run_lock, &mut dataset_lock])?.map(|status| status.success()))
}

/// Runs every run of the campaign in `dir` with at most `jobs` at once; `on_done` sees each
/// outcome as it lands. A run locked by another live runner goes to the back of the queue until
/// that runner finishes it (or dies, and this one takes it over). Returns the outcomes in
/// manifest order.
pub fn run(dir: &Path, jobs: usize, runner: &Runner, on_done: impl Fn(&PlannedRun, &Outcome) + Sync) -> Result<Vec<(PlannedRun, Outcome)>> {
    let runs = read_manifest(dir)?;
    let queue = Mutex::new(runs.iter().cloned().enumerate().map(|(i, run)| (i, run, None)).collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1).min(runs.len().max(1)))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let Some((index, run, busy_before)) = queue.lock().expect("queue").pop_front() else { return Ok(()) };
                        let outcome = match (execute(dir, &run, runner).with_context(|| run.name())?, busy_before) {
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
