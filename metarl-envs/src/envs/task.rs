//! Tasks: what differs between the MDPs of one family, and the ground-truth vector oracle SAC
//! conditions on (papers/001 Table 5).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskParams {
    /// Target forward velocity (cheetah-vel).
    Velocity { velocity: f64 },
    /// Running direction, -1 backward or +1 forward (cheetah-dir).
    Direction { direction: f64 },
    /// Running direction as an angle in radians (ant-dir, humanoid-dir).
    Angle { angle: f64 },
    /// A 2-D goal position (ant-goal, point-robot, sparse-point-robot).
    Goal { goal: [f64; 2] },
    /// A goal and a constant drift added at every step (point-robot-wind).
    Wind { goal: [f64; 2], wind: [f64; 2] },
    /// Absolute physics parameters written into the model (walker/hopper-rand-params).
    Physics { body_mass: Vec<f64>, body_inertia: Vec<f64>, dof_damping: Vec<f64>, geom_friction: Vec<f64> },
    /// Physics parameters multiplied by `scale` (MCAT's mass and damping tasks).
    Scale { scale: f64 },
    /// The actuated joints' armature, absolute (MCAT's `half_cheetah_arma*.xml`).
    Armature { armature: f64 },
    /// The body capsules' radius, absolute (MCAT's `hopper_size*.xml`).
    Radius { radius: f64 },
    /// The leg whose actuators are zeroed (ant-cripple), 0-based in MJCF leg order.
    CrippledLeg { leg: usize },
    /// A Meta-World task: the env's `rand_vec` (object and goal positions, per env).
    RandVec { rand_vec: Vec<f64> },
}

impl TaskParams {
    pub fn kind(&self) -> &'static str {
        match self {
            TaskParams::Velocity { .. } => "velocity",
            TaskParams::Direction { .. } => "direction",
            TaskParams::Angle { .. } => "angle",
            TaskParams::Goal { .. } => "goal",
            TaskParams::Wind { .. } => "wind",
            TaskParams::Physics { .. } => "physics",
            TaskParams::Scale { .. } => "scale",
            TaskParams::Armature { .. } => "armature",
            TaskParams::Radius { .. } => "radius",
            TaskParams::CrippledLeg { .. } => "crippled_leg",
            TaskParams::RandVec { .. } => "rand_vec",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// Position in the family's full task list (train tasks first, as oyster's `tasks[:n_train]`).
    pub index: usize,
    #[serde(flatten)]
    pub params: TaskParams,
    /// The task's ground-truth vector for oracle SAC.
    pub oracle: Vec<f64>,
}

/// A family's tasks for one seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskSet {
    pub train: Vec<Task>,
    pub test: Vec<Task>,
}

impl TaskSet {
    /// oyster's split of one list of `n_train + n_test` tasks: `tasks[:n_train]` and
    /// `tasks[-n_test:]` (the two overlap when the list is shorter, as in cheetah-dir's 2/2).
    pub fn split(all: Vec<Task>, n_train: usize, n_test: usize) -> TaskSet {
        let test = all[all.len() - n_test..].to_vec();
        let mut train = all;
        train.truncate(n_train);
        TaskSet { train, test }
    }

    /// Train and test tasks with distinct parameter lists (MCAT's fixed tables).
    pub fn from_lists(train: Vec<TaskParams>, test: Vec<TaskParams>, oracle: impl Fn(&TaskParams) -> Vec<f64>) -> TaskSet {
        let n_train = train.len();
        let make = |(offset, params): (usize, TaskParams)| Task { index: offset, oracle: oracle(&params), params };
        TaskSet {
            train: train.into_iter().enumerate().map(make).collect(),
            test: test.into_iter().enumerate().map(|(i, p)| make((n_train + i, p))).collect(),
        }
    }

    /// Every distinct task, by index.
    pub fn all(&self) -> Vec<&Task> {
        let mut tasks: Vec<&Task> = self.train.iter().chain(&self.test).collect();
        tasks.sort_by_key(|t| t.index);
        tasks.dedup_by_key(|t| t.index);
        tasks
    }

    /// The task with this index.
    pub fn get(&self, index: usize) -> Option<&Task> {
        self.train.iter().chain(&self.test).find(|t| t.index == index)
    }
}

/// Tasks numbered in list order with their oracle vectors.
pub(crate) fn numbered(params: Vec<TaskParams>, oracle: impl Fn(&TaskParams) -> Vec<f64>) -> Vec<Task> {
    params.into_iter().enumerate().map(|(index, params)| Task { index, oracle: oracle(&params), params }).collect()
}
