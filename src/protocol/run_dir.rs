//! The run folder every trainer writes (DESIGN.md, Results): `config.json` (the resolved run),
//! `machine.json` (the CPU and numerics mode its numbers came from), `progress.csv` and
//! `eval.csv` (one row per iteration / per test task) with `tb/` (the progress rows as TensorBoard
//! scalars), `summary.csv` (the last progress row) and
//! `checkpoint/` (replaced whole after every iteration), with `--resume` continuing exactly where
//! the checkpoint stopped. The checkpoint is `state.safetensors` (every network weight, optimiser
//! moment and buffer, by name), `progress.json` (the counters) and `manifest.json` (each tensor's
//! name, dtype and shape, the run's `config.json`, and the sha256 of the two files, checked
//! before anything is read back).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tch::{Device, Tensor};

use crate::algos::sac::Losses;
use crate::assets::sha256_hex;
use crate::numerics::{self, Machine};
use crate::results::tensorboard::EventWriter;
use crate::results::{replace_dir_atomic, write_atomic, CsvLog};

/// The checkpoint's tensors, which Python reads too (README, "Reading a checkpoint from Python").
pub const STATE_FILE: &str = "state.safetensors";
const MANIFEST_FILE: &str = "manifest.json";

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
    progress: CsvLog,
    pub eval: CsvLog,
    columns: Vec<String>,
    tensorboard: EventWriter,
}

impl RunLogs {
    /// One iteration's row: appended to progress.csv, and each numeric column (the first, the
    /// iteration, is the step) written to the TensorBoard event file.
    pub fn append_progress(&mut self, fields: &[String]) -> Result<()> {
        self.progress.append(fields)?;
        self.tensorboard_row(fields)
    }

    fn tensorboard_row(&mut self, fields: &[String]) -> Result<()> {
        let step = fields.first().and_then(|f| f.parse::<i64>().ok()).unwrap_or_default();
        let values: Vec<(&str, f32)> = self.columns[1..]
            .iter()
            .zip(&fields[1..])
            .filter_map(|(column, field)| field.parse::<f64>().ok().map(|v| (column.as_str(), v as f32)))
            .collect();
        self.tensorboard.scalars(step, &values)
    }
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
        let named: Vec<(&str, Tensor)> = named.iter().map(|(name, t)| (name.as_str(), t.to_device(Device::Cpu).contiguous())).collect();
        let mut by_name: Vec<&(&str, Tensor)> = named.iter().collect();
        by_name.sort_by_key(|(name, _)| *name);
        let tensors: Vec<serde_json::Value> = by_name
            .iter()
            .map(|(name, t)| serde_json::json!({ "name": name, "dtype": format!("{:?}", t.kind()), "shape": t.size() }))
            .collect();
        let run: serde_json::Value = serde_json::from_slice(&std::fs::read(self.path.join("config.json"))?)?;
        replace_dir_atomic(&self.checkpoint_dir(), |dir| {
            Tensor::write_safetensors(&named, dir.join(STATE_FILE))?;
            write_atomic(&dir.join("progress.json"), &progress)?;
            let sha256: serde_json::Map<String, serde_json::Value> = [STATE_FILE, "progress.json"]
                .iter()
                .map(|file| Ok((file.to_string(), sha256_hex(&std::fs::read(dir.join(file))?).into())))
                .collect::<Result<_>>()?;
            let manifest = serde_json::json!({ "sha256": sha256, "tensors": tensors, "run": run });
            write_atomic(&dir.join(MANIFEST_FILE), serde_json::to_string_pretty(&manifest)?.as_bytes())
        })
    }

    /// The checkpoint's counters and tensors by name, after its files were checked against the
    /// sha256 its manifest recorded (a checkpoint from before manifests, `state.ot`, is read as
    /// it is).
    pub fn load_checkpoint<P: DeserializeOwned>(&self) -> Result<(P, HashMap<String, Tensor>)> {
        let dir = self.checkpoint_dir();
        let advice = format!("restore the checkpoint folder from a copy, or start the run again in a new --out folder ({} keeps its CSV files)", self.path.display());
        if !dir.join(MANIFEST_FILE).is_file() && dir.join("state.ot").is_file() {
            let progress = serde_json::from_slice(&std::fs::read(dir.join("progress.json"))?)?;
            return Ok((progress, Tensor::load_multi(dir.join("state.ot"))?.into_iter().collect()));
        }
        let manifest: serde_json::Value = std::fs::read(dir.join(MANIFEST_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .with_context(|| format!("{} is missing or unreadable: the checkpoint cannot be checked; {advice}", dir.join(MANIFEST_FILE).display()))?;
        let checked = |file: &str| -> Result<Vec<u8>> {
            let path = dir.join(file);
            let bytes = std::fs::read(&path).with_context(|| format!("{} is missing; {advice}", path.display()))?;
            let recorded = manifest["sha256"][file].as_str().unwrap_or_default();
            let found = sha256_hex(&bytes);
            if found != recorded {
                bail!("{} is damaged: its sha256 is {found}, the checkpoint recorded {recorded} ({} bytes now); {advice}", path.display(), bytes.len());
            }
            Ok(bytes)
        };
        checked(STATE_FILE)?;
        let progress = serde_json::from_slice(&checked("progress.json")?)?;
        let tensors = Tensor::read_safetensors(dir.join(STATE_FILE))?.into_iter().collect();
        Ok((progress, tensors))
    }

    /// progress.csv and eval.csv; on resume (`last_iteration` of the checkpoint) the rows after it
    /// are dropped first. `tb/` is written anew from the rows kept, so it always shows what
    /// progress.csv holds.
    pub fn open_logs(&self, progress_columns: &[&str], eval_columns: &[&str], last_iteration: Option<usize>) -> Result<RunLogs> {
        let progress_path = self.path.join("progress.csv");
        let progress = CsvLog::open(&progress_path, progress_columns, last_iteration)?;
        let tb = self.path.join("tb");
        if tb.exists() {
            std::fs::remove_dir_all(&tb).with_context(|| format!("cannot replace {}", tb.display()))?;
        }
        let mut logs = RunLogs {
            progress,
            eval: CsvLog::open(&self.path.join("eval.csv"), eval_columns, last_iteration)?,
            columns: progress_columns.iter().map(|c| c.to_string()).collect(),
            tensorboard: EventWriter::create(&tb)?,
        };
        for line in std::fs::read_to_string(&progress_path)?.lines().skip(1) {
            logs.tensorboard_row(&line.split(',').map(str::to_owned).collect::<Vec<_>>())?;
        }
        Ok(logs)
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
