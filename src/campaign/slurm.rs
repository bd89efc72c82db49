//! The Slurm backend: job arrays over a campaign's unfinished runs, each array task running
//! `metarl campaign run-one DIR --tasks FILE --task-id ID` (the local backend's per-run logic:
//! skip if complete, resume from the checkpoint, retry, lock with a lease). Tasks are
//! `--requeue`-safe because a requeued task resumes its run from the last checkpoint, on whichever
//! node it lands (the lock of a preempted task lapses with its lease).
//!
//! Array task ids are not manifest indices: each submission writes `slurm/s<N>/part<k>.tasks`
//! (line `i` is the manifest index of array task `i`) next to `part<k>.sbatch`, and splits the
//! runs into as many arrays as the cluster's `MaxArraySize` (`scontrol show config`, 1001 by
//! default) needs, so every task id stays below it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{read_manifest, run_state, RunState};
use crate::results::write_atomic;

/// Slurm's default `MaxArraySize`: task ids 0..=1000.
pub const DEFAULT_MAX_ARRAY_SIZE: usize = 1001;

/// Resources, placement and set-up of the array's tasks.
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
    pub account: Option<String>,
    pub qos: Option<String>,
    /// `--constraint`, e.g. `a100|h100`.
    pub constraint: Option<String>,
    /// More sbatch options, each written as an `#SBATCH` line (`--mail-type=END`).
    pub sbatch: Vec<String>,
    /// Shell lines run before the task's `metarl` (`module load cuda/12.4`, `export ...`).
    pub setup: Vec<String>,
    /// At most this many tasks of each array at once (`--array=...%K`).
    pub max_concurrent: Option<usize>,
    /// Task ids per array; default the cluster's `MaxArraySize`.
    pub max_array_size: Option<usize>,
    pub retries: usize,
    /// The lease of the tasks' run locks (`campaign run-one --lease`).
    pub lease_s: u64,
    /// How long a task waits for a run another live process holds (`campaign run-one --max-wait`).
    pub max_wait_s: u64,
}

fn slurm_dir(campaign: &Path) -> PathBuf {
    campaign.join("slurm")
}

/// The cluster's `MaxArraySize` from `scontrol show config`, or Slurm's default when scontrol
/// does not say.
pub fn max_array_size() -> usize {
    let out = Command::new("scontrol").args(["show", "config"]).output().ok().filter(|o| o.status.success());
    out.and_then(|o| parse_max_array_size(&String::from_utf8_lossy(&o.stdout))).unwrap_or(DEFAULT_MAX_ARRAY_SIZE)
}

fn parse_max_array_size(config: &str) -> Option<usize> {
    config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "MaxArraySize").then(|| value.trim().parse().ok()).flatten()
    })
}

/// One array of a submission: its script, its task list and the manifest indices it runs.
#[derive(Debug, Clone)]
pub struct Part {
    pub script: PathBuf,
    pub tasks: PathBuf,
    pub indices: Vec<usize>,
}

/// Writes the scripts of one submission for the runs not yet complete, in as many arrays as
/// `MaxArraySize` needs; returns them (empty: nothing to submit) and the array size used.
pub fn write_scripts(campaign: &Path, options: &SlurmOptions) -> Result<(Vec<Part>, usize)> {
    let runs = read_manifest(campaign)?;
    let pending: Vec<usize> = runs.iter().enumerate().filter(|(_, r)| run_state(campaign, r) != RunState::Complete).map(|(i, _)| i).collect();
    let size = options.max_array_size.unwrap_or_else(max_array_size).max(1);
    if pending.is_empty() {
        return Ok((Vec::new(), size));
    }
    let campaign = std::fs::canonicalize(campaign)?;
    let exe = std::env::current_exe().context("cannot find the metarl binary")?;
    let name = campaign.file_name().map_or("campaign".into(), |n| n.to_string_lossy().to_string());
    let root = slurm_dir(&campaign);
    std::fs::create_dir_all(&root)?;
    std::fs::create_dir_all(campaign.join("logs"))?;
    // A new folder per submission: a queued task of an earlier one keeps reading its own list.
    let submission = (1..).find(|n| !root.join(format!("s{n}")).exists()).expect("a free submission number");
    let dir = root.join(format!("s{submission}"));
    std::fs::create_dir_all(&dir)?;
    let mut parts = Vec::new();
    for (k, chunk) in pending.chunks(size).enumerate() {
        let tasks = dir.join(format!("part{k}.tasks"));
        write_atomic(&tasks, chunk.iter().map(|i| format!("{i}\n")).collect::<String>().as_bytes())?;
        let mut array = format!("0-{}", chunk.len() - 1);
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
        let flags = [("partition", &options.partition), ("time", &options.time), ("mem", &options.mem), ("gres", &options.gres), ("account", &options.account),
            ("qos", &options.qos), ("constraint", &options.constraint)];
        for (flag, value) in flags {
            if let Some(v) = value {
                lines.push(format!("#SBATCH --{flag}={v}"));
            }
        }
        for extra in &options.sbatch {
            let extra = extra.trim();
            if !extra.starts_with('-') {
                bail!("--sbatch {extra:?}: write an sbatch option, e.g. --sbatch=--mail-type=END");
            }
            lines.push(format!("#SBATCH {extra}"));
        }
        lines.extend(options.setup.iter().cloned());
        lines.push(format!("# Array task i runs the run on line i of {} (a manifest.csv index); a requeued task resumes from the run's checkpoint.", tasks.display()));
        lines.push(format!("exec {} campaign run-one {} --tasks {} --task-id \"$SLURM_ARRAY_TASK_ID\" --retries {} --lease {} --max-wait {}", exe.display(), campaign.display(),
            tasks.display(), options.retries, options.lease_s, options.max_wait_s));
        let script = dir.join(format!("part{k}.sbatch"));
        write_atomic(&script, format!("{}\n", lines.join("\n")).as_bytes())?;
        parts.push(Part { script, tasks, indices: chunk.to_vec() });
    }
    Ok((parts, size))
}

/// The manifest index of array task `task_id` of a task list written by [`write_scripts`].
pub fn task_index(tasks: &Path, task_id: usize) -> Result<usize> {
    let text = std::fs::read_to_string(tasks).with_context(|| format!("cannot read the task list {}", tasks.display()))?;
    let line = text.lines().nth(task_id).with_context(|| format!("--task-id {task_id}: {} lists {} tasks", tasks.display(), text.lines().count()))?;
    line.trim().parse().with_context(|| format!("{}: line {} is not a manifest index", tasks.display(), task_id + 1))
}

/// Submits one part with `sbatch --parsable`; records the job id with its task list and returns it.
pub fn submit(campaign: &Path, part: &Part) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(&part.script)
        .output()
        .context("cannot run sbatch: is Slurm installed here (slurm-client)? For a local test cluster: tools/slurm-localhost.sh start DIR")?;
    if !out.status.success() {
        bail!("sbatch refused {}: {}", part.script.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let job = String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap_or_default().to_string();
    let jobs = slurm_dir(campaign).join("jobs");
    let mut known = std::fs::read_to_string(&jobs).unwrap_or_default();
    known.push_str(&format!("{job} {}\n", part.tasks.display()));
    write_atomic(&jobs, known.as_bytes())?;
    Ok(job)
}

/// The job ids this campaign submitted, each with its task list (none: task id = manifest index).
pub fn jobs(campaign: &Path) -> Vec<(String, Option<PathBuf>)> {
    let text = std::fs::read_to_string(slurm_dir(campaign).join("jobs")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once(' ') {
            Some((job, tasks)) => (job.to_string(), Some(PathBuf::from(tasks.trim()))),
            None => (l.trim().to_string(), None),
        })
        .collect()
}

/// Manifest index → (array task id, Slurm state) of the campaign's tasks still in the queue.
pub fn queued(campaign: &Path) -> Result<BTreeMap<usize, (String, String)>> {
    let jobs = jobs(campaign);
    if jobs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ids: Vec<&str> = jobs.iter().map(|(j, _)| j.as_str()).collect();
    let out = Command::new("squeue")
        .args(["--noheader", "--array", "--format=%i|%T", &format!("--jobs={}", ids.join(","))])
        .output()
        .context("cannot run squeue")?;
    // squeue fails on ids the controller has already forgotten: then nothing is queued.
    let text = if out.status.success() { String::from_utf8_lossy(&out.stdout).to_string() } else { String::new() };
    let lists: BTreeMap<&str, &Option<PathBuf>> = jobs.iter().map(|(j, t)| (j.as_str(), t)).collect();
    Ok(text
        .lines()
        .filter_map(|line| {
            let (id, state) = line.split_once('|')?;
            let (job, task) = id.split_once('_')?;
            let task: usize = task.parse().ok()?;
            let index = match lists.get(job)? {
                Some(tasks) => task_index(tasks, task).ok()?,
                None => task,
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_array_size_is_read_from_scontrol_output() {
        let config = "Configuration data as of 2026-12-06T22:00:00\nMaxArraySize            = 5\nMaxJobCount             = 10000\n";
        assert_eq!(parse_max_array_size(config), Some(5));
        assert_eq!(parse_max_array_size("MaxJobCount = 10000\n"), None);
    }
}
