//! Every environment by name: how to build it, its horizon, and its task family.
//!
//! Task lists are the references' numpy draws (oyster `sample_tasks`, FOCAL-ICLR, rand_param_envs)
//! from `RandomState(seed)`. oyster seeds 1337 for cheetah-vel and the point robots and draws
//! ant-dir, ant-goal, humanoid-dir and the rand-params tasks from numpy's unseeded global state;
//! here every family takes the seed, 1337 by default. Counts are oyster's and FOCAL's configs.

use std::f64::consts::PI;

use super::controls::{physics_parameters, Ant, AntTask, Cheetah, CheetahTask, HumanoidDir, PlanarWalker, Walker};
use super::metaworld::{
    ml1_tasks, Assembly, Basketball, BinPicking, BoxClose, ButtonPress, ButtonPressTopdown,
    ButtonPressTopdownWall, ButtonPressWall, CoffeeButton, CoffeePull, CoffeePush, DialTurn, Disassemble,
    DoorClose, DoorLock, DoorOpen, DoorUnlock, DrawerClose, DrawerOpen, FaucetClose, FaucetOpen, Hammer,
    HandInsert, HandlePress, HandlePressSide, HandlePull, HandlePullSide, LeverPull, PegInsertSide,
    PegUnplugSide, PickOutOfHole, PickPlace, PickPlaceWall, PlateSlide, PlateSlideBack, PlateSlideBackSide,
    PlateSlideSide, Push, PushBack, PushWall, Reach, ReachWall, SawyerEnv, ShelfPlace, Soccer, StickPull,
    StickPush, Sweep, SweepInto, WindowClose, WindowOpen,
};
use super::np_random::RandomState;
use super::point::{PointRobot, PointVariant, SparseReward};
use super::task::numbered;
use super::wrappers::{DelayedReward, TimeLimit};
use super::{Env, EnvError, TaskParams, TaskSet};
use crate::suggest::closest_match;

/// The task-list seed the references use (`np.random.seed(1337)`).
pub const DEFAULT_TASK_SEED: u32 = 1337;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// MuJoCo Controls, the PEARL suite.
    Controls,
    /// The 2-D point robots (no physics engine).
    Point,
    /// MCAT's dynamics tasks.
    Dynamics,
    /// Meta-World ML1.
    Metaworld,
}

impl Suite {
    pub fn label(self) -> &'static str {
        match self {
            Suite::Controls => "controls",
            Suite::Point => "point",
            Suite::Dynamics => "dynamics",
            Suite::Metaworld => "ml1",
        }
    }

    pub const ALL: [Suite; 4] = [Suite::Controls, Suite::Point, Suite::Dynamics, Suite::Metaworld];

    /// A suite by its label, or an error naming the closest.
    pub fn parse(label: &str) -> Result<Suite, EnvError> {
        Suite::ALL.into_iter().find(|s| s.label() == label).ok_or_else(|| EnvError::UnknownSuite {
            name: label.to_string(),
            suggestion: closest_match(label, Suite::ALL.iter().map(|s| s.label())).map(|s| s.to_string()),
        })
    }

    /// The registry names of this suite's envs.
    pub fn envs(self) -> impl Iterator<Item = &'static str> {
        REGISTRY.iter().filter(move |e| e.suite == self).map(|e| e.name)
    }
}

/// Family options beyond the name; the defaults are what the papers run. Read by name from the
/// Python module's keyword arguments (an unknown one is an error that names it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvOptions {
    /// ant-dir's tasks are forward and backward (papers/001, FOCAL) rather than oyster's default
    /// of two random directions.
    pub forward_backward: bool,
    /// oyster's `low_gear_ratio_ant.xml` (gear 30) instead of ant.xml (gear 150, oyster's default).
    pub low_gear_ratio: bool,
    /// Episode length; `None` is the entry's horizon.
    pub horizon: Option<usize>,
    /// Pay the reward every n steps (MCAT's 200/350/500); `None` is dense.
    pub reward_delay: Option<usize>,
    /// Also pay what is pending when the time limit ends the episode (papers/004 §5.2's "or when
    /// the episode terminates"); MCAT's `delay_reward_env.py` pays only on its env's `done`,
    /// which its dynamics envs never set, so the default drops the remainder (1000 = 2·350 + 300).
    pub delay_pays_at_time_limit: bool,
    /// sparse-point-robot's sparse reward: oyster's 1 − d or FOCAL-ICLR's 5·(0.2 − d).
    pub sparse_reward: SparseReward,
}

impl Default for EnvOptions {
    fn default() -> Self {
        EnvOptions {
            forward_backward: true,
            low_gear_ratio: false,
            horizon: None,
            reward_delay: None,
            delay_pays_at_time_limit: false,
            sparse_reward: SparseReward::OneMinusDistance,
        }
    }
}

pub struct EnvEntry {
    pub name: &'static str,
    pub suite: Suite,
    pub summary: &'static str,
    pub horizon: usize,
    /// The unwrapped env.
    build: fn(&'static str, &EnvOptions) -> Result<Box<dyn Env>, EnvError>,
    /// The family's train and test tasks for a seed.
    family: fn(&'static str, &EnvOptions, u32) -> Result<TaskSet, EnvError>,
}

impl EnvEntry {
    /// The env with its time limit and, if asked, its reward delay.
    pub fn make(&self, options: &EnvOptions) -> Result<Box<dyn Env>, EnvError> {
        let env = TimeLimit::new((self.build)(self.name, options)?, options.horizon.unwrap_or(self.horizon));
        Ok(match options.reward_delay {
            Some(delay) => Box::new(DelayedReward::new(Box::new(env), delay, options.delay_pays_at_time_limit)),
            None => Box::new(env),
        })
    }

    pub fn tasks(&self, options: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
        (self.family)(self.name, options, seed)
    }
}

/// The entry for `name`, or an error naming the closest one. Meta-World envs answer to their
/// name with or without the `-v3` suffix (`reach-v3`, `reach`).
pub fn lookup(name: &str) -> Result<&'static EnvEntry, EnvError> {
    let matches = |e: &&EnvEntry| {
        e.name == name || (e.suite == Suite::Metaworld && e.name.strip_suffix("-v3") == Some(name))
    };
    REGISTRY.iter().find(matches).ok_or_else(|| EnvError::UnknownEnv {
        name: name.to_owned(),
        suggestion: closest_match(name, REGISTRY.iter().map(|e| e.name)),
    })
}

/// `lookup(name)?.make(options)`.
pub fn make(name: &str, options: &EnvOptions) -> Result<Box<dyn Env>, EnvError> {
    lookup(name)?.make(options)
}

pub static REGISTRY: &[EnvEntry] = &[
    EnvEntry { name: "cheetah-vel", suite: Suite::Controls, summary: "half-cheetah, target velocity U[0, 3)", horizon: 200,
        build: |n, _| Ok(Box::new(Cheetah::env(n, CheetahTask::Velocity)?)), family: cheetah_vel_tasks },
    EnvEntry { name: "cheetah-dir", suite: Suite::Controls, summary: "half-cheetah, run forward or backward", horizon: 200,
        build: |n, _| Ok(Box::new(Cheetah::env(n, CheetahTask::Direction)?)), family: cheetah_dir_tasks },
    EnvEntry { name: "ant-dir", suite: Suite::Controls, summary: "ant, run forward or backward", horizon: 200,
        build: |n, o| Ok(Box::new(Ant::env(n, AntTask::Direction, o.low_gear_ratio)?)), family: ant_dir_tasks },
    EnvEntry { name: "ant-goal", suite: Suite::Controls, summary: "ant, reach a goal in a disc of radius 3", horizon: 200,
        build: |n, o| Ok(Box::new(Ant::env(n, AntTask::Goal, o.low_gear_ratio)?)), family: ant_goal_tasks },
    EnvEntry { name: "humanoid-dir", suite: Suite::Controls, summary: "humanoid, run in a direction U[0, 2π)", horizon: 200,
        build: |n, _| Ok(Box::new(HumanoidDir::env(n)?)), family: humanoid_dir_tasks },
    EnvEntry { name: "walker-rand-params", suite: Suite::Controls, summary: "walker2d, randomised mass, inertia, damping, friction", horizon: 200,
        build: |n, _| Ok(Box::new(Walker::rand_params(n, PlanarWalker::Walker)?)), family: rand_params_tasks },
    EnvEntry { name: "hopper-rand-params", suite: Suite::Controls, summary: "hopper, randomised mass, inertia, damping, friction", horizon: 200,
        build: |n, _| Ok(Box::new(Walker::rand_params(n, PlanarWalker::Hopper)?)), family: rand_params_tasks },
    EnvEntry { name: "point-robot", suite: Suite::Point, summary: "2-D point, goal in the unit square, dense reward", horizon: 20,
        build: |n, o| Ok(Box::new(PointRobot::new(n, PointVariant::Dense, o.sparse_reward))), family: point_robot_tasks },
    EnvEntry { name: "sparse-point-robot", suite: Suite::Point, summary: "2-D point, goal on the unit half-circle, sparse reward", horizon: 20,
        build: |n, o| Ok(Box::new(PointRobot::new(n, PointVariant::Sparse, o.sparse_reward))), family: sparse_point_robot_tasks },
    EnvEntry { name: "point-robot-wind", suite: Suite::Point, summary: "2-D point, goal (1, 0), wind U[-0.05, 0.05]²", horizon: 25,
        build: |n, o| Ok(Box::new(PointRobot::new(n, PointVariant::Wind, o.sparse_reward))), family: point_robot_wind_tasks },
    EnvEntry { name: "hopper-size", suite: Suite::Dynamics, summary: "hopper, capsule radius 0.01-0.07", horizon: 1000,
        build: |n, _| Ok(Box::new(Walker::hopper_size(n)?)), family: hopper_size_tasks },
    EnvEntry { name: "cheetah-armature", suite: Suite::Dynamics, summary: "half-cheetah, joint armature 0.05-0.75", horizon: 1000,
        build: |n, _| Ok(Box::new(Cheetah::env(n, CheetahTask::Armature)?)), family: cheetah_armature_tasks },
    EnvEntry { name: "cheetah-mass", suite: Suite::Dynamics, summary: "half-cheetah, body masses scaled", horizon: 1000,
        build: |n, _| Ok(Box::new(Cheetah::env(n, CheetahTask::Mass)?)), family: dynamics_scale_tasks },
    EnvEntry { name: "ant-damp", suite: Suite::Dynamics, summary: "ant, joint damping scaled (one leg up, three down)", horizon: 1000,
        build: |n, o| Ok(Box::new(Ant::env(n, AntTask::Damping, o.low_gear_ratio)?)), family: dynamics_scale_tasks },
    EnvEntry { name: "ant-cripple", suite: Suite::Dynamics, summary: "ant, one leg's actuators zeroed", horizon: 1000,
        build: |n, o| Ok(Box::new(Ant::env(n, AntTask::Cripple, o.low_gear_ratio)?)), family: cripple_tasks },
    EnvEntry { name: "reach-v3", suite: Suite::Metaworld, summary: "Sawyer, bring the gripper to a goal in the air", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<Reach>::new(n)?)), family: ml1_tasks::<Reach> },
    EnvEntry { name: "push-v3", suite: Suite::Metaworld, summary: "Sawyer, push a puck to a goal", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<Push>::new(n)?)), family: ml1_tasks::<Push> },
    EnvEntry { name: "pick-place-v3", suite: Suite::Metaworld, summary: "Sawyer, pick a puck up and place it at a goal", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PickPlace>::new(n)?)), family: ml1_tasks::<PickPlace> },
    EnvEntry { name: "door-open-v3", suite: Suite::Metaworld, summary: "Sawyer, pull a door open", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<DoorOpen>::new(n)?)), family: ml1_tasks::<DoorOpen> },
    EnvEntry { name: "drawer-close-v3", suite: Suite::Metaworld, summary: "Sawyer, push a drawer closed", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<DrawerClose>::new(n)?)), family: ml1_tasks::<DrawerClose> },
    EnvEntry { name: "button-press-topdown-v3", suite: Suite::Metaworld, summary: "Sawyer, press a button down from above", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<ButtonPressTopdown>::new(n)?)), family: ml1_tasks::<ButtonPressTopdown> },
    EnvEntry { name: "button-press-v3", suite: Suite::Metaworld, summary: "Sawyer, press a button in from the front", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<ButtonPress>::new(n)?)), family: ml1_tasks::<ButtonPress> },
    EnvEntry { name: "button-press-topdown-wall-v3", suite: Suite::Metaworld, summary: "Sawyer, press a button down from above, behind a wall", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<ButtonPressTopdownWall>::new(n)?)), family: ml1_tasks::<ButtonPressTopdownWall> },
    EnvEntry { name: "button-press-wall-v3", suite: Suite::Metaworld, summary: "Sawyer, press a button in from the front, behind a wall", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<ButtonPressWall>::new(n)?)), family: ml1_tasks::<ButtonPressWall> },
    EnvEntry { name: "window-open-v3", suite: Suite::Metaworld, summary: "Sawyer, slide a window open", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<WindowOpen>::new(n)?)), family: ml1_tasks::<WindowOpen> },
    EnvEntry { name: "handle-press-v3", suite: Suite::Metaworld, summary: "Sawyer, press a handle down", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<HandlePress>::new(n)?)), family: ml1_tasks::<HandlePress> },
    EnvEntry { name: "handle-press-side-v3", suite: Suite::Metaworld, summary: "Sawyer, press down the handle of a sideways box", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<HandlePressSide>::new(n)?)), family: ml1_tasks::<HandlePressSide> },
    EnvEntry { name: "handle-pull-v3", suite: Suite::Metaworld, summary: "Sawyer, pull a handle up", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<HandlePull>::new(n)?)), family: ml1_tasks::<HandlePull> },
    EnvEntry { name: "handle-pull-side-v3", suite: Suite::Metaworld, summary: "Sawyer, pull up the handle of a sideways box", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<HandlePullSide>::new(n)?)), family: ml1_tasks::<HandlePullSide> },
    EnvEntry { name: "lever-pull-v3", suite: Suite::Metaworld, summary: "Sawyer, lift a lever to point up", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<LeverPull>::new(n)?)), family: ml1_tasks::<LeverPull> },
    EnvEntry { name: "plate-slide-v3", suite: Suite::Metaworld, summary: "Sawyer, slide a plate into a net", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PlateSlide>::new(n)?)), family: ml1_tasks::<PlateSlide> },
    EnvEntry { name: "plate-slide-side-v3", suite: Suite::Metaworld, summary: "Sawyer, slide a plate sideways into a net", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PlateSlideSide>::new(n)?)), family: ml1_tasks::<PlateSlideSide> },
    EnvEntry { name: "plate-slide-back-v3", suite: Suite::Metaworld, summary: "Sawyer, slide a plate back out of a net", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PlateSlideBack>::new(n)?)), family: ml1_tasks::<PlateSlideBack> },
    EnvEntry { name: "plate-slide-back-side-v3", suite: Suite::Metaworld, summary: "Sawyer, slide a plate sideways out of a net", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PlateSlideBackSide>::new(n)?)), family: ml1_tasks::<PlateSlideBackSide> },
    EnvEntry { name: "push-back-v3", suite: Suite::Metaworld, summary: "Sawyer, push a block back towards the arm", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PushBack>::new(n)?)), family: ml1_tasks::<PushBack> },
    EnvEntry { name: "push-wall-v3", suite: Suite::Metaworld, summary: "Sawyer, push a puck to a goal behind a wall", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PushWall>::new(n)?)), family: ml1_tasks::<PushWall> },
    EnvEntry { name: "reach-wall-v3", suite: Suite::Metaworld, summary: "Sawyer, bring the gripper to a goal behind a wall", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<ReachWall>::new(n)?)), family: ml1_tasks::<ReachWall> },
    EnvEntry { name: "pick-place-wall-v3", suite: Suite::Metaworld, summary: "Sawyer, pick a puck up and place it over a wall", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PickPlaceWall>::new(n)?)), family: ml1_tasks::<PickPlaceWall> },
    EnvEntry { name: "soccer-v3", suite: Suite::Metaworld, summary: "Sawyer, push a ball into a goal", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<Soccer>::new(n)?)), family: ml1_tasks::<Soccer> },
    EnvEntry { name: "assembly-v3", suite: Suite::Metaworld, summary: "Sawyer, put a nut onto a peg by its wrench handle", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<Assembly>::new(n)?)), family: ml1_tasks::<Assembly> },
    EnvEntry { name: "basketball-v3", suite: Suite::Metaworld, summary: "Sawyer, drop a ball through a hoop", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<Basketball>::new(n)?)), family: ml1_tasks::<Basketball> },
    EnvEntry { name: "bin-picking-v3", suite: Suite::Metaworld, summary: "Sawyer, move a cube from one bin into the other", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<BinPicking>::new(n)?)), family: ml1_tasks::<BinPicking> },
    EnvEntry { name: "box-close-v3", suite: Suite::Metaworld, summary: "Sawyer, put a lid on a box", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<BoxClose>::new(n)?)), family: ml1_tasks::<BoxClose> },
    EnvEntry { name: "disassemble-v3", suite: Suite::Metaworld, summary: "Sawyer, lift a nut off a peg by its wrench handle", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<Disassemble>::new(n)?)), family: ml1_tasks::<Disassemble> },
    EnvEntry { name: "hammer-v3", suite: Suite::Metaworld, summary: "Sawyer, hammer a nail into a box", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<Hammer>::new(n)?)), family: ml1_tasks::<Hammer> },
    EnvEntry { name: "hand-insert-v3", suite: Suite::Metaworld, summary: "Sawyer, push a block into a hole in the table", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<HandInsert>::new(n)?)), family: ml1_tasks::<HandInsert> },
    EnvEntry { name: "peg-insert-side-v3", suite: Suite::Metaworld, summary: "Sawyer, insert a peg sideways into a hole", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PegInsertSide>::new(n)?)), family: ml1_tasks::<PegInsertSide> },
    EnvEntry { name: "peg-unplug-side-v3", suite: Suite::Metaworld, summary: "Sawyer, pull a plug sideways out of a socket", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PegUnplugSide>::new(n)?)), family: ml1_tasks::<PegUnplugSide> },
    EnvEntry { name: "pick-out-of-hole-v3", suite: Suite::Metaworld, summary: "Sawyer, lift a peg out of a hole", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<PickOutOfHole>::new(n)?)), family: ml1_tasks::<PickOutOfHole> },
    EnvEntry { name: "shelf-place-v3", suite: Suite::Metaworld, summary: "Sawyer, place a block on a shelf", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<ShelfPlace>::new(n)?)), family: ml1_tasks::<ShelfPlace> },
    EnvEntry { name: "stick-pull-v3", suite: Suite::Metaworld, summary: "Sawyer, pull a container with a stick", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<StickPull>::new(n)?)), family: ml1_tasks::<StickPull> },
    EnvEntry { name: "stick-push-v3", suite: Suite::Metaworld, summary: "Sawyer, push a container with a stick", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<StickPush>::new(n)?)), family: ml1_tasks::<StickPush> },
    EnvEntry { name: "sweep-v3", suite: Suite::Metaworld, summary: "Sawyer, sweep a puck off the table", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<Sweep>::new(n)?)), family: ml1_tasks::<Sweep> },
    EnvEntry { name: "sweep-into-v3", suite: Suite::Metaworld, summary: "Sawyer, sweep a puck into a hole", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<SweepInto>::new(n)?)), family: ml1_tasks::<SweepInto> },
    EnvEntry { name: "coffee-button-v3", suite: Suite::Metaworld, summary: "Sawyer, push the coffee machine's button", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<CoffeeButton>::new(n)?)), family: ml1_tasks::<CoffeeButton> },
    EnvEntry { name: "coffee-pull-v3", suite: Suite::Metaworld, summary: "Sawyer, pull a mug out from under a coffee machine", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<CoffeePull>::new(n)?)), family: ml1_tasks::<CoffeePull> },
    EnvEntry { name: "coffee-push-v3", suite: Suite::Metaworld, summary: "Sawyer, push a mug under a coffee machine", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<CoffeePush>::new(n)?)), family: ml1_tasks::<CoffeePush> },
    EnvEntry { name: "dial-turn-v3", suite: Suite::Metaworld, summary: "Sawyer, turn a dial", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<DialTurn>::new(n)?)), family: ml1_tasks::<DialTurn> },
    EnvEntry { name: "door-close-v3", suite: Suite::Metaworld, summary: "Sawyer, push a door shut", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<DoorClose>::new(n)?)), family: ml1_tasks::<DoorClose> },
    EnvEntry { name: "door-lock-v3", suite: Suite::Metaworld, summary: "Sawyer, turn a door's lock down", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<DoorLock>::new(n)?)), family: ml1_tasks::<DoorLock> },
    EnvEntry { name: "door-unlock-v3", suite: Suite::Metaworld, summary: "Sawyer, turn a door's lock open", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<DoorUnlock>::new(n)?)), family: ml1_tasks::<DoorUnlock> },
    EnvEntry { name: "drawer-open-v3", suite: Suite::Metaworld, summary: "Sawyer, pull a drawer open", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<DrawerOpen>::new(n)?)), family: ml1_tasks::<DrawerOpen> },
    EnvEntry { name: "faucet-open-v3", suite: Suite::Metaworld, summary: "Sawyer, turn a faucet's handle to open it", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<FaucetOpen>::new(n)?)), family: ml1_tasks::<FaucetOpen> },
    EnvEntry { name: "faucet-close-v3", suite: Suite::Metaworld, summary: "Sawyer, turn a faucet's handle to close it", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<FaucetClose>::new(n)?)), family: ml1_tasks::<FaucetClose> },
    EnvEntry { name: "window-close-v3", suite: Suite::Metaworld, summary: "Sawyer, slide a window shut", horizon: 500,
        build: |n, _| Ok(Box::new(SawyerEnv::<WindowClose>::new(n)?)), family: ml1_tasks::<WindowClose> },
];

fn direction_vector(angle: f64) -> Vec<f64> {
    vec![angle.cos(), angle.sin()]
}

/// Oracle vector of each kind of task (papers/001 Table 5).
pub fn oracle(params: &TaskParams) -> Vec<f64> {
    match params {
        TaskParams::Velocity { velocity } => vec![*velocity],
        // One-hot: backward, forward.
        TaskParams::Direction { direction } => if *direction < 0.0 { vec![1.0, 0.0] } else { vec![0.0, 1.0] },
        TaskParams::Angle { angle } => direction_vector(*angle),
        TaskParams::Goal { goal } => goal.to_vec(),
        TaskParams::Wind { wind, .. } => wind.to_vec(),
        TaskParams::Physics { body_mass, body_inertia, dof_damping, geom_friction } => {
            [body_mass, body_inertia, dof_damping, geom_friction].into_iter().flatten().copied().collect()
        }
        TaskParams::Scale { scale: value } | TaskParams::Armature { armature: value } | TaskParams::Radius { radius: value } => vec![*value],
        TaskParams::CrippledLeg { leg } => (0..4).map(|l| if l == *leg { 1.0 } else { 0.0 }).collect(),
        TaskParams::RandVec { rand_vec } => rand_vec.clone(),
    }
}

/// oyster `half_cheetah_vel.py`: 130 velocities `uniform(0.0, 3.0)`, 100 train / 30 test.
fn cheetah_vel_tasks(_: &str, _: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let velocities = RandomState::new(seed).uniform_n(0.0, 3.0, 130);
    let params = velocities.into_iter().map(|velocity| TaskParams::Velocity { velocity }).collect();
    Ok(TaskSet::split(numbered(params, oracle), 100, 30))
}

/// oyster `half_cheetah_dir.py`: the fixed list [-1, 1], 2 train / 2 test (the same two).
fn cheetah_dir_tasks(_: &str, _: &EnvOptions, _: u32) -> Result<TaskSet, EnvError> {
    let params = [-1.0, 1.0].into_iter().map(|direction| TaskParams::Direction { direction }).collect();
    Ok(TaskSet::split(numbered(params, oracle), 2, 2))
}

/// oyster `ant_dir.py`: forward and backward (angles 0 and π) with `forward_backward`, as
/// direction tasks (oracle one-hot), else two angles `uniform(0, 2π)`; 2 train / 2 test.
fn ant_dir_tasks(_: &str, options: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let params = if options.forward_backward {
        [1.0, -1.0].into_iter().map(|direction| TaskParams::Direction { direction }).collect()
    } else {
        RandomState::new(seed).uniform_n(0.0, 2.0 * PI, 2).into_iter().map(|angle| TaskParams::Angle { angle }).collect()
    };
    Ok(TaskSet::split(numbered(params, oracle), 2, 2))
}

/// oyster `ant_goal.py`: 180 goals, `a = random(n)·2π`, `r = 3·√random(n)`; 150 train / 30 test.
fn ant_goal_tasks(_: &str, _: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let n = 180;
    let mut rng = RandomState::new(seed);
    let angles: Vec<f64> = (0..n).map(|_| rng.random_sample() * 2.0 * PI).collect();
    let radii: Vec<f64> = (0..n).map(|_| 3.0 * rng.random_sample().sqrt()).collect();
    let params = angles.iter().zip(&radii).map(|(a, r)| TaskParams::Goal { goal: [r * a.cos(), r * a.sin()] }).collect();
    Ok(TaskSet::split(numbered(params, oracle), 150, 30))
}

/// oyster `humanoid_dir.py`: 130 directions `uniform(0, 2π)`; 100 train / 30 test.
fn humanoid_dir_tasks(_: &str, _: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let angles = RandomState::new(seed).uniform_n(0.0, 2.0 * PI, 130);
    Ok(TaskSet::split(numbered(angles.into_iter().map(|angle| TaskParams::Angle { angle }).collect(), oracle), 100, 30))
}

/// rand_param_envs `RandomEnv.sample_tasks`: per task, multipliers `1.5^U(-3, 3)` for the body
/// masses and inertias, `1.3^U(-3, 3)` for the joint damping and `1.5^U(-3, 3)` for the geom
/// friction, drawn in that order and applied to the loaded model's values; 50 tasks, 40 train /
/// 10 test (oyster's configs).
fn rand_params_tasks(name: &'static str, _: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let body = if name.starts_with("walker") { PlanarWalker::Walker } else { PlanarWalker::Hopper };
    let defaults = physics_parameters(Walker::rand_params(name, body)?.pristine_model());
    let log_scale_limit = 3.0;
    let mut rng = RandomState::new(seed);
    let mut scaled = |values: &[f64], base: f64| -> Vec<f64> {
        let exponents = rng.uniform_n(-log_scale_limit, log_scale_limit, values.len());
        values.iter().zip(exponents).map(|(v, e)| v * base.powf(e)).collect()
    };
    let params = (0..50)
        .map(|_| TaskParams::Physics {
            body_mass: scaled(&defaults[0], 1.5),
            body_inertia: scaled(&defaults[1], 1.5),
            dof_damping: scaled(&defaults[2], 1.3),
            geom_friction: scaled(&defaults[3], 1.5),
        })
        .collect();
    Ok(TaskSet::split(numbered(params, oracle), 40, 10))
}

/// oyster `point_robot.py` (`randomize_tasks=True`): 100 goals `[uniform(-1, 1), uniform(-1, 1)]`;
/// 80 train / 20 test.
fn point_robot_tasks(_: &str, _: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let mut rng = RandomState::new(seed);
    let params = (0..100).map(|_| TaskParams::Goal { goal: [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)] }).collect();
    Ok(TaskSet::split(numbered(params, oracle), 80, 20))
}

/// oyster `SparsePointEnv`: 100 goals at `linspace(0, π, 100)` on the unit circle, rows shuffled;
/// 80 train / 20 test.
fn sparse_point_robot_tasks(_: &str, _: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let n = 100;
    let step = PI / (n - 1) as f64;
    let mut goals: Vec<[f64; 2]> = (0..n)
        .map(|i| if i == n - 1 { PI } else { i as f64 * step })
        .map(|angle| [angle.cos(), angle.sin()])
        .collect();
    RandomState::new(seed).shuffle(&mut goals);
    Ok(TaskSet::split(numbered(goals.into_iter().map(|goal| TaskParams::Goal { goal }).collect(), oracle), 80, 20))
}

/// FOCAL-ICLR `PointWindEnv`: goal (1, 0), 50 winds `uniform(-0.05, 0.05, n)` for x then for y;
/// 40 train / 10 test.
fn point_robot_wind_tasks(_: &str, _: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let n = 50;
    let mut rng = RandomState::new(seed);
    let wind_x = rng.uniform_n(-0.05, 0.05, n);
    let wind_y = rng.uniform_n(-0.05, 0.05, n);
    let params = wind_x.into_iter().zip(wind_y).map(|(x, y)| TaskParams::Wind { goal: [1.0, 0.0], wind: [x, y] }).collect();
    Ok(TaskSet::split(numbered(params, oracle), 40, 10))
}

/// MCAT's task tables: papers/004 gives no meta-RL sets and the authors' code (guoyijie/MCAT,
/// `Table 1 Replicate`) only Table 1's pairs, so each table takes five train values and two
/// unseen test values outside them, from the values the authors ship a model for.
fn mcat_table(train: &[f64], test: &[f64], param: fn(f64) -> TaskParams) -> Result<TaskSet, EnvError> {
    let params = |values: &[f64]| values.iter().map(|&v| param(v)).collect();
    Ok(TaskSet::from_lists(params(train), params(test), oracle))
}

/// hopper-size: capsule radius r, the files `hopper_size0.01`…`0.07.xml` around gym's 0.05.
fn hopper_size_tasks(_: &str, _: &EnvOptions, _: u32) -> Result<TaskSet, EnvError> {
    mcat_table(&[0.02, 0.03, 0.04, 0.05, 0.06], &[0.01, 0.07], |radius| TaskParams::Radius { radius })
}

/// cheetah-armature: from gym's 0.1 to Table 1's target 0.5 (`half_cheetah_arma*.xml`).
fn cheetah_armature_tasks(_: &str, _: &EnvOptions, _: u32) -> Result<TaskSet, EnvError> {
    mcat_table(&[0.1, 0.2, 0.3, 0.4, 0.5], &[0.05, 0.75], |armature| TaskParams::Armature { armature })
}

/// cheetah-mass and ant-damp: the defaults scaled, as their `reset` does.
fn dynamics_scale_tasks(_: &str, _: &EnvOptions, _: u32) -> Result<TaskSet, EnvError> {
    mcat_table(&[0.5, 0.75, 1.0, 1.25, 1.5], &[0.25, 1.75], |scale| TaskParams::Scale { scale })
}

/// ant-cripple: legs 0-2 crippled in training, leg 3 at test.
fn cripple_tasks(_: &str, _: &EnvOptions, _: u32) -> Result<TaskSet, EnvError> {
    let legs = |legs: &[usize]| legs.iter().map(|&leg| TaskParams::CrippledLeg { leg }).collect();
    Ok(TaskSet::from_lists(legs(&[0, 1, 2]), legs(&[3]), oracle))
}
