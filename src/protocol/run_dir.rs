//! The run folder every trainer writes (DESIGN.md, Results): `config.json` (the resolved run),
//! `machine.json` (the CPU and numerics mode its numbers came from), `progress.csv` and
//! `eval.csv` (one row per iteration / per test task), `summary.csv` (the last progress row) and
//! `checkpoint/` (tensors + counters, replaced whole after every iteration), with `--resume`
//! continuing exactly where the checkpoint stopped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tch::{Device, Tensor};

use crate::algos::sac::Losses;
use crate::numerics::{self, Machine};
use crate::results::{replace_dir_atomic, write_atomic, CsvLog};

/// What identifies a run for `--resume`: the saved `config.json` must describe the same run.
pub trait RunIdentity: Serialize + DeserializeOwned {
    /// Same algorithm, env, seed and config (budget and device may change on resume).
    fn same_run(&self, other: &Self) -> bool;
    /// "pearl on cheetah-vel (seed 0)", for messages.
    fn describe(&self) -> String;
}

pub struct RunDir {
    pub path: PathBuf,
}

/// The progress and eval logs of a run, opened for appending.
pub struct RunLogs {
    pub progress: CsvLog,
    pub eval: CsvLog,
}

impl RunDir {
    /// A new run in `path` (refused if one is there) or, with `resume`, the run there, which must
    /// be `spec`'s and have a checkpoint.
    pub fn prepare<S: RunIdentity>(path: &Path, spec: &S, resume: bool) -> Result<RunDir> {
        let dir = RunDir { path: path.to_owned() };
        if resume {
            if !dir.checkpoint_dir().join("progress.json").is_file() {
                bail!("--resume: no checkpoint in {} (a run writes one after its first iteration)", path.display());
            }
            let saved: S = serde_json::from_slice(&std::fs::read(path.join("config.json"))?)
                .with_context(|| format!("{}/config.json is not a run config", path.display()))?;
            if !saved.same_run(spec) {
                bail!("--resume: {} holds a run of {} with another config; resume it with the same arguments", path.display(), saved.describe());
            }
            numerics::warn_if_other_machine(path);
        } else {
            if path.join("progress.csv").exists() {
                bail!("{} already holds a run; pass --resume to continue it or --out for a new folder", path.display());
            }
            std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
            write_atomic(&path.join("config.json"), serde_json::to_string_pretty(spec)?.as_bytes())?;
            Machine::current().write(path)?;
        }
        Ok(dir)
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path.join("checkpoint")
    }

    /// Replace the checkpoint by `named` tensors and the `progress` counters.
    pub fn save_checkpoint(&self, named: &[(String, Tensor)], progress: &impl Serialize) -> Result<()> {
        let progress = serde_json::to_vec(progress)?;
        replace_dir_atomic(&self.checkpoint_dir(), |dir| {
            Tensor::save_multi(named, dir.join("state.ot"))?;
            write_atomic(&dir.join("progress.json"), &progress)
        })
    }

    /// The checkpoint's counters and tensors by name.
    pub fn load_checkpoint<P: DeserializeOwned>(&self) -> Result<(P, HashMap<String, Tensor>)> {
        let dir = self.checkpoint_dir();
        let progress = serde_json::from_slice(&std::fs::read(dir.join("progress.json"))?)?;
        let tensors = Tensor::load_multi(dir.join("state.ot"))?.into_iter().collect();
        Ok((progress, tensors))
    }

    /// progress.csv and eval.csv; on resume (`last_iteration` of the checkpoint) the rows after it
    /// are dropped first.
    pub fn open_logs(&self, progress_columns: &[&str], eval_columns: &[&str], last_iteration: Option<usize>) -> Result<RunLogs> {
        Ok(RunLogs {
            progress: CsvLog::open(&self.path.join("progress.csv"), progress_columns, last_iteration)?,
            eval: CsvLog::open(&self.path.join("eval.csv"), eval_columns, last_iteration)?,
        })
    }

    /// summary.csv: the header and the last progress row.
    pub fn write_summary(&self, columns: &[&str], fields: &[String]) -> Result<()> {
        write_atomic(&self.path.join("summary.csv"), format!("{}\n{}\n", columns.join(","), fields.join(",")).as_bytes())
    }

    /// The error that stops a run at a non-finite loss: the loss, where (`iteration` and any
    /// `detail`), and the checkpoint of the last good iteration to resume from.
    pub fn non_finite(&self, loss: &str, value: f64, iteration: usize, detail: &str, last_good: usize) -> anyhow::Error {
        let kept = if self.checkpoint_dir().join("progress.json").is_file() {
            format!("The last good checkpoint (iteration {last_good}) is in {}; fix the cause and continue with --resume", self.checkpoint_dir().display())
        } else {
            "No iteration had finished, so there is no checkpoint".to_owned()
        };
        anyhow::anyhow!("{loss} became {value} at iteration {iteration}{detail}; the run stopped. {kept}")
    }
}

/// `cpu` or `cuda` (the first GPU), or an error saying why not.
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        "cuda" => bail!("--device cuda: libtorch sees no CUDA device on {} (`metarl doctor` there says why; on Slurm, ask for a GPU with --gres gpu:1)",
            crate::campaign::lock::host()),
        other => bail!("unknown device {other:?}; use cpu or cuda"),
    }
}

/// The iteration at which a test asks a run to fail (`METARL_FAULT_NAN_ITERATION`: a NaN loss;
/// `METARL_FAULT_KILL_ITERATION`: die like a killed process).
pub fn fault_iteration(var: &str) -> Option<usize> {
    std::env::var(var).ok().and_then(|v| v.parse().ok())
}

/// `n` gradient steps of `iteration` (the first one's Q loss turned NaN under
/// `METARL_FAULT_NAN_ITERATION`, for the tests), stopping at the first non-finite loss:
/// `Err((loss, value, step))`, for [`RunDir::non_finite`].
pub fn checked_steps(n: usize, iteration: usize, mut step: impl FnMut() -> Losses) -> Result<Vec<Losses>, (&'static str, f64, usize)> {
    let mut losses = Vec::with_capacity(n);
    for k in 0..n {
        let mut loss = step();
        if fault_iteration("METARL_FAULT_NAN_ITERATION") == Some(iteration) && k == 0 {
            loss.qf_loss = f64::NAN;
        }
        if let Some((name, value)) = loss.first_non_finite() {
            return Err((name, value, k));
        }
        losses.push(loss);
    }
    Ok(losses)
}

/// Exit like a killed process (mid-iteration, nothing flushed) when a test asks for it.
pub fn maybe_killed(iteration: usize) {
    if fault_iteration("METARL_FAULT_KILL_ITERATION") == Some(iteration) {
        std::process::exit(137);
    }
}

/// The envs' reset-noise seed for an iteration: a function of the run seed and the iteration, so
/// a resumed run draws what an uninterrupted one would.
pub fn iteration_seed(seed: u64, iteration: usize) -> u32 {
    (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ iteration as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9).rotate_left(31) as u32
}
