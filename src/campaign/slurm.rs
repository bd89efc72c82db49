//! The Slurm backend: one job array over a campaign's unfinished runs, each array task running
//! `metarl campaign run-one DIR --index I` (the local backend's per-run logic: skip if complete,
//! resume from the checkpoint, retry, lock). Tasks are `--requeue`-safe because a requeued task
//! resumes its run from the last checkpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{read_manifest, run_state, RunState};
use crate::results::write_atomic;

/// Resources and placement of the array's tasks (sbatch flags).
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    /// `--time` per task, e.g. `2-00:00:00`.
    pub time: Option<String>,
    pub cpus_per_task: usize,
    /// `--mem` per task, e.g. `8G`.
    pub mem: Option<String>,
    /// `--gres`, e.g. `gpu:1`.
    pub gres: Option<String>,
    /// At most this many tasks at once (`--array=...%K`).
    pub max_concurrent: Option<usize>,
    pub retries: usize,
}

fn slurm_dir(campaign: &Path) -> PathBuf {
    campaign.join("slurm")
}

/// Writes `slurm/array.sbatch` for the runs not yet complete; returns its path and their
/// manifest indices (empty: nothing to submit).
pub fn write_script(campaign: &Path, options: &SlurmOptions) -> Result<(PathBuf, Vec<usize>)> {
    let runs = read_manifest(campaign)?;
    let pending: Vec<usize> = runs.iter().enumerate().filter(|(_, r)| run_state(campaign, r) != RunState::Complete).map(|(i, _)| i).collect();
    let campaign = std::fs::canonicalize(campaign)?;
    let exe = std::env::current_exe().context("cannot find the metarl binary")?;
    let name = campaign.file_name().map_or("campaign".into(), |n| n.to_string_lossy().to_string());
    let mut array = pending.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    if let Some(k) = options.max_concurrent {
        array.push_str(&format!("%{k}"));
    }
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        format!("#SBATCH --job-name=metarl-{name}"),
        format!("#SBATCH --array={array}"),
        format!("#SBATCH --output={}/logs/slurm-%A_%a.log", campaign.display()),
        format!("#SBATCH --cpus-per-task={}", options.cpus_per_task.max(1)),
        "#SBATCH --requeue".to_string(),
    ];
    for (flag, value) in [("partition", &options.partition), ("time", &options.time), ("mem", &options.mem), ("gres", &options.gres)] {
        if let Some(v) = value {
            lines.push(format!("#SBATCH --{flag}={v}"));
        }
    }
    lines.push("# One array task per unfinished run of manifest.csv; a requeued task resumes from the run's checkpoint.".into());
    lines.push(format!("exec {} campaign run-one {} --index \"$SLURM_ARRAY_TASK_ID\" --retries {}", exe.display(), campaign.display(), options.retries));
    let dir = slurm_dir(&campaign);
    std::fs::create_dir_all(&dir)?;
    std::fs::create_dir_all(campaign.join("logs"))?;
    let script = dir.join("array.sbatch");
    write_atomic(&script, format!("{}\n", lines.join("\n")).as_bytes())?;
    Ok((script, pending))
}

/// Submits the script with `sbatch --parsable`; records and returns the job id.
pub fn submit(campaign: &Path, script: &Path) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .context("cannot run sbatch: is Slurm installed here (slurm-client)? For a local test cluster: tools/slurm-localhost.sh start DIR")?;
    if !out.status.success() {
        bail!("sbatch refused {}: {}", script.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let job = String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap_or_default().to_string();
    let jobs = slurm_dir(campaign).join("jobs");
    let mut known = std::fs::read_to_string(&jobs).unwrap_or_default();
    known.push_str(&format!("{job}\n"));
    write_atomic(&jobs, known.as_bytes())?;
    Ok(job)
}

/// The job ids this campaign submitted.
pub fn jobs(campaign: &Path) -> Vec<String> {
    std::fs::read_to_string(slurm_dir(campaign).join("jobs")).unwrap_or_default().lines().map(String::from).collect()
}

/// Manifest index → (array task id, Slurm state) of the campaign's tasks still in the queue.
pub fn queued(campaign: &Path) -> Result<BTreeMap<usize, (String, String)>> {
    let jobs = jobs(campaign);
    if jobs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = Command::new("squeue")
        .args(["--noheader", "--array", "--format=%i|%T", &format!("--jobs={}", jobs.join(","))])
        .output()
        .context("cannot run squeue")?;
    // squeue fails on ids the controller has already forgotten: then nothing is queued.
    let text = if out.status.success() { String::from_utf8_lossy(&out.stdout).to_string() } else { String::new() };
    Ok(text
        .lines()
        .filter_map(|line| {
            let (id, state) = line.split_once('|')?;
            let index = id.split_once('_')?.1.parse().ok()?;
            Some((index, (id.to_string(), state.to_string())))
        })
        .collect())
}

/// Blocks until none of the campaign's array tasks is left in the queue.
pub fn wait(campaign: &Path) -> Result<()> {
    while !queued(campaign)?.is_empty() {
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    Ok(())
}
