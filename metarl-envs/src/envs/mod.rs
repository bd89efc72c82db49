//! Environments and their task families (DESIGN.md, Environments).
//!
//! An [`Env`] is a single MDP whose task is switched with [`Env::set_task`]; a task family
//! ([`registry::EnvEntry::tasks`]) lists the train and test tasks for a seed, exactly as the
//! reference code draws them. Observations live in a buffer owned by the env (read them with
//! [`Env::observation`]), so stepping allocates nothing.

pub mod camera;
pub mod controls;
pub mod metaworld;
pub mod np_random;
pub mod parity;
pub mod npy;
pub mod point;
pub mod registry;
pub mod rollout;
mod task;
pub mod wrappers;

pub use registry::{make, EnvEntry, EnvOptions, Suite, REGISTRY};
pub use task::{Task, TaskParams, TaskSet};

use crate::sim::SimError;

/// A box of actions, `low[i] <= a[i] <= high[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxSpace {
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

impl BoxSpace {
    pub fn uniform(dim: usize, low: f64, high: f64) -> Self {
        BoxSpace { low: vec![low; dim], high: vec![high; dim] }
    }

    pub fn dim(&self) -> usize {
        self.low.len()
    }

    /// Rejects an action of the wrong length or with a NaN/inf entry; in-range clipping is the
    /// simulator's business (MuJoCo clamps `ctrl` to `ctrlrange`), as in the references.
    pub fn check(&self, action: &[f64]) -> Result<(), EnvError> {
        if action.len() != self.dim() {
            return Err(EnvError::ActionLength { expected: self.dim(), found: action.len() });
        }
        match action.iter().position(|a| !a.is_finite()) {
            Some(index) => Err(EnvError::ActionNotFinite { index, value: action[index] }),
            None => Ok(()),
        }
    }
}

/// What one step returns besides the observation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Step {
    /// The reference env's (dense) reward.
    pub reward: f64,
    /// A terminal state (the walker fell): no bootstrapping past it.
    pub terminated: bool,
    /// The time limit cut the episode; not a terminal state.
    pub truncated: bool,
    /// `info["success"]` where the suite defines one.
    pub success: Option<bool>,
    /// The sparse reward of the sparse-reward variants (point-robot family).
    pub sparse_reward: Option<f64>,
}

impl Step {
    /// The episode is over, for either reason.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

pub trait Env: Send {
    /// The registry name (`cheetah-vel`).
    fn name(&self) -> &str;
    fn observation_dim(&self) -> usize;
    fn action_space(&self) -> &BoxSpace;
    /// Switch to `task` (a task of this env's family); takes effect at the next `reset`.
    fn set_task(&mut self, task: &Task) -> Result<(), EnvError>;
    /// Seed the reset-noise generator (numpy `RandomState(seed)`, as the references' `np_random`).
    fn seed(&mut self, seed: u32);
    fn reset(&mut self) -> Result<&[f64], EnvError>;
    fn step(&mut self, action: &[f64]) -> Result<Step, EnvError>;
    /// The observation after the last `reset` or `step`.
    fn observation(&self) -> &[f64];
    /// The goal position the observation hides, where it hides one: a Meta-World env's target
    /// (`_target_pos`, which ML1's partially observable observation zeroes). Scripted policies
    /// read it; learners never do.
    fn hidden_goal(&self) -> Option<[f64; 3]> {
        None
    }
    /// The simulator's model and state, for rendering; `None` for envs without physics.
    fn physics(&self) -> Option<(&crate::sim::Model, &crate::sim::Data)> {
        None
    }
    /// Where a planar env's agent and goal are, for drawing it (the point robots).
    fn planar(&self) -> Option<Planar> {
        None
    }
    /// The named values of the last step's `info` beyond [`Step`]'s (a Meta-World env's
    /// `near_object`, `grasp_success`, ...), in the reference's order.
    fn visit_info(&self, _visit: &mut dyn FnMut(&'static str, f64)) {}
}

/// A planar env's state as a picture shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planar {
    pub position: [f64; 2],
    pub goal: [f64; 2],
    /// The radius a sparse reward is paid in, where there is one.
    pub goal_radius: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("unknown environment {name:?}{}; `metarl envs list` shows them all",
            .suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownEnv { name: String, suggestion: Option<String> },
    #[error("unknown suite {name:?}{}; suites: controls, point, dynamics, ml1",
            .suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownSuite { name: String, suggestion: Option<String> },
    #[error("task index {index} is out of range: {env} has {count} tasks ({train} train, {test} test)")]
    TaskOutOfRange { env: String, index: usize, count: usize, train: usize, test: usize },
    #[error("{env} cannot take a task of kind {kind}")]
    WrongTask { env: String, kind: &'static str },
    #[error("action has {found} entries, the action space has {expected}")]
    ActionLength { expected: usize, found: usize },
    #[error("action entry {index} is {value}, not a finite number")]
    ActionNotFinite { index: usize, value: f64 },
    #[error("step called before reset")]
    NotReset,
    #[error("the episode ended at its {limit}-step limit; call reset")]
    EpisodeOver { limit: usize },
    #[error(transparent)]
    Sim(#[from] SimError),
}
