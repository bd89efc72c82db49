//! The offline dataset format, readable without this program:
//!
//! ```text
//! DIR/manifest.json   {"format", "env", "task_seed", "max_path_length", "obs_dim", "action_dim",
//!                      "arrays": {name: meaning}, "tasks": [{"index", "split", "file"}], "collection": {..}}
//! DIR/task_007.npz    obs [N, obs_dim], actions [N, action_dim], rewards [N], sparse_rewards [N],
//!                     next_obs [N, obs_dim], terminals [N] (1.0 where the episode ended by the
//!                     MDP), checkpoint [N] (env steps of the behaviour policy that acted),
//!                     trajectory [N] (trajectory number within the file); float32, C order
//! DIR/task_007.json   {"env", "task", "split", "transitions", "checkpoints": [{"env_steps",
//!                      "policy", "mean_return", "trajectories"}], "levels": {level: [env_steps]},
//!                      "level_returns": {level: mean return}}
//! DIR/behaviour/task_007/step_<n>.ot   the behaviour policy's checkpoints (libtorch tensors)
//! ```
//!
//! `numpy.load("task_007.npz")["obs"]` reads an array. A task's `.json` is written after its
//! `.npz`, so a task with both is complete; an interrupted collection redoes only the others.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::{npz, Level};
use crate::envs::Task;
use crate::results::write_atomic;

pub const FORMAT: &str = "metarl-offline-v1";

/// The arrays of a task file and what they hold.
pub const ARRAYS: [(&str, &str); 8] = [
    ("obs", "observation before the step, [N, obs_dim]"),
    ("actions", "action taken, in [-1, 1], [N, action_dim]"),
    ("rewards", "reward, [N]"),
    ("sparse_rewards", "the env's sparse reward where it defines one, else the reward, [N]"),
    ("next_obs", "observation after the step, [N, obs_dim]"),
    ("terminals", "1.0 where the MDP ended the episode (not the time limit), [N]"),
    ("checkpoint", "env steps of training of the behaviour policy that acted, [N]"),
    ("trajectory", "trajectory number within the file, [N]"),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEntry {
    /// Position in the env family's task list (train tasks first).
    pub index: usize,
    /// "train" or "test".
    pub split: String,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub env: String,
    pub task_seed: u32,
    pub max_path_length: usize,
    pub obs_dim: usize,
    pub action_dim: usize,
    pub arrays: BTreeMap<String, String>,
    pub tasks: Vec<TaskEntry>,
    /// The collection settings (the FOCAL config it was collected with).
    pub collection: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub env_steps: u64,
    /// The policy file, relative to the dataset folder.
    pub policy: String,
    pub mean_return: f64,
    pub trajectories: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskManifest {
    pub env: String,
    pub task: serde_json::Value,
    pub split: String,
    pub transitions: usize,
    pub checkpoints: Vec<CheckpointRecord>,
    /// Level name → the checkpoints (env steps) whose rollouts it holds.
    pub levels: BTreeMap<String, Vec<u64>>,
    pub level_returns: BTreeMap<String, f64>,
}

impl TaskManifest {
    /// The levels of papers/002 App. D from the checkpoints' returns: random is the first
    /// checkpoint (after the random steps), expert the last, medium the one whose return is
    /// nearest halfway between them, mixed all of them.
    pub fn assign_levels(&mut self) {
        let (first, last) = (&self.checkpoints[0], &self.checkpoints[self.checkpoints.len() - 1]);
        let halfway = 0.5 * (first.mean_return + last.mean_return);
        let medium = self.checkpoints.iter().min_by(|a, b| (a.mean_return - halfway).abs().total_cmp(&(b.mean_return - halfway).abs())).expect("checkpoints");
        let picks = [(Level::Random, vec![first]), (Level::Medium, vec![medium]), (Level::Expert, vec![last]), (Level::Mixed, self.checkpoints.iter().collect())];
        for (level, records) in picks {
            let weight: usize = records.iter().map(|r| r.trajectories).sum();
            let mean = records.iter().map(|r| r.mean_return * r.trajectories as f64).sum::<f64>() / weight.max(1) as f64;
            self.levels.insert(level.name().into(), records.iter().map(|r| r.env_steps).collect());
            self.level_returns.insert(level.name().into(), mean);
        }
    }
}

/// One task's transitions, row-major float32.
#[derive(Debug, Clone, Default)]
pub struct TaskData {
    pub obs: Vec<f32>,
    pub actions: Vec<f32>,
    pub rewards: Vec<f32>,
    pub sparse_rewards: Vec<f32>,
    pub next_obs: Vec<f32>,
    pub terminals: Vec<f32>,
    pub checkpoint: Vec<f32>,
    pub trajectory: Vec<f32>,
}

impl TaskData {
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
}

pub fn task_stem(index: usize) -> String {
    format!("task_{index:03}")
}

/// A dataset folder being written or read.
pub struct Dataset {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Dataset {
    /// Start (or, where `manifest.json` says the same env and settings, continue) a dataset in `dir`.
    pub fn create(dir: &Path, manifest: Manifest) -> Result<Dataset> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("manifest.json");
        if path.is_file() {
            let existing = read_manifest(&path)?;
            ensure!(existing == manifest, "{} describes another dataset ({} with other settings); collect into a new folder", path.display(), existing.env);
        } else {
            write_atomic(&path, serde_json::to_string_pretty(&manifest)?.as_bytes())?;
        }
        Ok(Dataset { dir: dir.to_owned(), manifest })
    }

    /// The dataset in `dir`, which must be one of `env` with these dimensions.
    pub fn open(dir: &Path, env: &str, obs_dim: usize, action_dim: usize) -> Result<Dataset> {
        let path = dir.join("manifest.json");
        ensure!(path.is_file(), "{}: no such file; is {} a dataset of `metarl offline collect`?", path.display(), dir.display());
        let manifest = read_manifest(&path)?;
        ensure!(manifest.env == env, "{}: the dataset is of env {:?}, not {env:?}", path.display(), manifest.env);
        ensure!((manifest.obs_dim, manifest.action_dim) == (obs_dim, action_dim),
            "{}: the dataset's observation/action dims are {}/{}, the env's are {obs_dim}/{action_dim}", path.display(), manifest.obs_dim, manifest.action_dim);
        Ok(Dataset { dir: dir.to_owned(), manifest })
    }

    fn paths(&self, index: usize) -> (PathBuf, PathBuf) {
        let stem = task_stem(index);
        (self.dir.join(format!("{stem}.npz")), self.dir.join(format!("{stem}.json")))
    }

    /// Whether task `index` is complete (its `.json` is written after its `.npz`).
    pub fn has_task(&self, index: usize) -> bool {
        let (npz, json) = self.paths(index);
        npz.is_file() && json.is_file()
    }

    pub fn write_task(&self, index: usize, data: &TaskData, manifest: &TaskManifest) -> Result<()> {
        let (npz_path, json_path) = self.paths(index);
        let (n, o, a) = (data.len(), self.manifest.obs_dim, self.manifest.action_dim);
        npz::write(&npz_path, &[
            ("obs", vec![n, o], &data.obs),
            ("actions", vec![n, a], &data.actions),
            ("rewards", vec![n], &data.rewards),
            ("sparse_rewards", vec![n], &data.sparse_rewards),
            ("next_obs", vec![n, o], &data.next_obs),
            ("terminals", vec![n], &data.terminals),
            ("checkpoint", vec![n], &data.checkpoint),
            ("trajectory", vec![n], &data.trajectory),
        ])?;
        write_atomic(&json_path, serde_json::to_string_pretty(manifest)?.as_bytes())
    }

    /// Task `task`'s transitions at `level`, checked against the manifest's dimensions.
    pub fn read_task(&self, task: &Task, level: Level) -> Result<TaskData> {
        let (npz_path, json_path) = self.paths(task.index);
        for path in [&npz_path, &json_path] {
            ensure!(path.is_file(), "{}: missing; the dataset has no data for task {} (collect it with `metarl offline collect --env {} --out {}`)",
                path.display(), task.index, self.manifest.env, self.dir.display());
        }
        let text = std::fs::read(&json_path).with_context(|| format!("cannot read {}", json_path.display()))?;
        let manifest: TaskManifest = serde_json::from_slice(&text).with_context(|| format!("{} is not a task manifest", json_path.display()))?;
        ensure!(manifest.env == self.manifest.env, "{}: a task of env {:?}, the dataset is of {:?}", json_path.display(), manifest.env, self.manifest.env);
        let checkpoints = manifest.levels.get(level.name()).with_context(|| format!("{}: no level {:?}", json_path.display(), level.name()))?;
        let arrays = npz::read(&npz_path)?;
        let mut columns = BTreeMap::new();
        let rows = arrays.get("rewards").map(|a| a.shape.first().copied().unwrap_or(0)).with_context(|| format!("{}: no array \"rewards\"", npz_path.display()))?;
        for (name, width) in [("obs", Some(self.manifest.obs_dim)), ("actions", Some(self.manifest.action_dim)), ("next_obs", Some(self.manifest.obs_dim)),
            ("rewards", None), ("sparse_rewards", None), ("terminals", None), ("checkpoint", None), ("trajectory", None)] {
            let array = arrays.get(name).with_context(|| format!("{}: no array {name:?}", npz_path.display()))?;
            let expected: Vec<usize> = std::iter::once(rows).chain(width).collect();
            if array.shape != expected {
                bail!("{}: array {name:?} has shape {:?}, expected {expected:?} (obs_dim {}, action_dim {} in manifest.json)", npz_path.display(), array.shape,
                    self.manifest.obs_dim, self.manifest.action_dim);
            }
            columns.insert(name, (array.values.as_slice(), width.unwrap_or(1)));
        }
        let mut data = TaskData::default();
        for row in 0..rows {
            if !checkpoints.contains(&(columns["checkpoint"].0[row] as u64)) {
                continue;
            }
            let fields: [(&str, &mut Vec<f32>); 8] = [("obs", &mut data.obs), ("actions", &mut data.actions), ("rewards", &mut data.rewards),
                ("sparse_rewards", &mut data.sparse_rewards), ("next_obs", &mut data.next_obs), ("terminals", &mut data.terminals),
                ("checkpoint", &mut data.checkpoint), ("trajectory", &mut data.trajectory)];
            for (name, out) in fields {
                let (values, width) = columns[name];
                out.extend(values[row * width..(row + 1) * width].iter().map(|&v| v as f32));
            }
        }
        ensure!(!data.is_empty(), "{}: level {:?} holds no transitions", npz_path.display(), level.name());
        Ok(data)
    }
}

fn read_manifest(path: &Path) -> Result<Manifest> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let manifest: Manifest = serde_json::from_slice(&text).with_context(|| format!("{} is not a dataset manifest", path.display()))?;
    ensure!(manifest.format == FORMAT, "{}: format {:?}, this version reads {FORMAT:?}", path.display(), manifest.format);
    Ok(manifest)
}
