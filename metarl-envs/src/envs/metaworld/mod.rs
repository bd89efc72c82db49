//! Meta-World ML1 (the pinned `metaworld` 3.1.1 package): the Sawyer arm under mocap control.
//!
//! [`Sawyer`] is what `SawyerXYZEnv` (`sawyer_xyz_env.py`) gives every env: the model with its
//! mocap weld, the hand reset, actions as mocap position deltas plus a gripper command, frame
//! skip 5, and the 39-d observation (hand position, gripper opening and two object slots of
//! position + quaternion, the previous frame of those 18 numbers, then the goal — hidden, i.e.
//! zeros, because ML1 tasks are `partially_observable`). Each env file is a [`SawyerTask`], as
//! each `envs/sawyer_*_v3.py` subclass is: its model file, its `reset_model`, its objects and
//! `evaluate_state` (the v2 reward functions, Meta-World's default).
//!
//! A task is the env's `rand_vec` (object and goal positions drawn from `_random_reset_space`);
//! [`ml1_tasks`] draws the 50 train and 50 test vectors exactly as `metaworld.ML1(name, seed)`.

mod assembly;
mod basketball;
mod bin_picking;
mod box_close;
mod button;
mod coffee;
mod dial_turn;
mod door;
mod door_lock;
mod drawer;
mod faucet;
mod hammer;
mod hand_insert;
mod handle;
mod lever_pull;
mod peg_insert_side;
mod peg_unplug_side;
mod pick_out_of_hole;
mod pick_place;
mod place;
mod plate_slide;
pub mod policies;
mod puck;
mod push;
mod reach;
pub mod reward_utils;
mod shelf_place;
mod soccer;
mod stick;
mod sweep;
mod tool;
mod window;

pub use assembly::{Assembly, Disassemble};
pub use basketball::Basketball;
pub use bin_picking::BinPicking;
pub use box_close::BoxClose;
pub use button::{ButtonPress, ButtonPressTopdown, ButtonPressTopdownWall, ButtonPressWall};
pub use coffee::{CoffeeButton, CoffeePull, CoffeePush};
pub use dial_turn::DialTurn;
pub use door::{DoorClose, DoorOpen};
pub use door_lock::{DoorLock, DoorUnlock};
pub use drawer::{DrawerClose, DrawerOpen};
pub use faucet::{FaucetClose, FaucetOpen};
pub use hammer::Hammer;
pub use hand_insert::HandInsert;
pub use handle::{HandlePress, HandlePressSide, HandlePull, HandlePullSide};
pub use lever_pull::LeverPull;
pub use peg_insert_side::PegInsertSide;
pub use peg_unplug_side::PegUnplugSide;
pub use pick_out_of_hole::PickOutOfHole;
pub use pick_place::{PickPlace, PickPlaceWall};
pub use plate_slide::{PlateSlide, PlateSlideBack, PlateSlideBackSide, PlateSlideSide};
pub use push::{Push, PushBack, PushWall};
pub use reach::{Reach, ReachWall};
pub use shelf_place::ShelfPlace;
pub use soccer::Soccer;
pub use stick::{StickPull, StickPush};
pub use sweep::{Sweep, SweepInto};
pub use window::{WindowClose, WindowOpen};

use super::np_random::RandomState;
use super::registry::{oracle, DEFAULT_TASK_SEED};
use super::{BoxSpace, Env, EnvError, EnvOptions, Step, Task, TaskParams, TaskSet};
use crate::paths;
use crate::sim::{Data, Model, EQ_WELD};

/// `SawyerXYZEnv.max_path_length`: `step` flags truncation here and refuses to go further.
pub const MAX_PATH_LENGTH: usize = 500;
/// `_N_GOALS`: tasks per split in ML1.
const N_GOALS: usize = 50;
const FRAME_SKIP: usize = 5;
/// `action_scale`: metres of mocap motion per unit of action.
const ACTION_SCALE: f64 = 1.0 / 100.0;
/// The mocap (and hand) orientation Meta-World pins every step, `[1, 0, 1, 0]` (w, x, y, z).
const MOCAP_QUAT: [f64; 4] = [1.0, 0.0, 1.0, 0.0];
/// `_HAND_SPACE`: the observation space's bounds on the hand position.
const HAND_SPACE_LOW: [f64; 3] = [-0.525, 0.348, -0.0525];
const HAND_SPACE_HIGH: [f64; 3] = [0.525, 1.025, 0.7];
/// Hand position, gripper opening, two objects' position + quaternion.
const FRAME_DIM: usize = 18;
/// `_obs_obj_max_len`.
const OBJECT_SLOTS: usize = 14;
pub const OBS_DIM: usize = 2 * FRAME_DIM + 3;
/// `TARGET_RADIUS`, the success distance most envs use.
pub const TARGET_RADIUS: f64 = 0.05;

/// What differs between the envs' constructors.
pub struct SawyerSpec {
    /// The model, relative to the Meta-World assets (`sawyer_xyz/sawyer_reach_v3.xml`).
    pub model: &'static str,
    /// `hand_low` / `hand_high`, which bound the mocap.
    pub hand_low: [f64; 3],
    pub hand_high: [f64; 3],
    /// `hand_init_pos`, where `_reset_hand` drives the mocap.
    pub hand_init_pos: [f64; 3],
    /// `_random_reset_space`: the bounds of the task's `rand_vec`.
    pub rand_vec_low: &'static [f64],
    pub rand_vec_high: &'static [f64],
}

/// `info` of a Meta-World step.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Info {
    pub success: bool,
    pub near_object: f64,
    pub grasp_success: f64,
    pub grasp_reward: f64,
    pub in_place_reward: f64,
    pub obj_to_target: f64,
    pub unscaled_reward: f64,
}

/// One env of the suite on the shared [`Sawyer`] base.
pub trait SawyerTask: Sized + Send {
    const SPEC: SawyerSpec;

    /// Look up the env's bodies, geoms and joints.
    fn new(sim: &Sawyer) -> Result<Self, EnvError>;

    /// The resampling loop of the env's `reset_model`: a drawn `rand_vec` it rejects is drawn
    /// again (it only matters while task vectors are drawn, as the kept ones pass).
    fn rejects(_rand_vec: &[f64]) -> bool {
        false
    }

    /// `reset_model` after `mj_resetData`, for the task's `rand_vec`.
    ///
    /// Meta-World's `reset` runs `reset_model` twice, the second time after `mj_resetData`:
    /// model changes of the first pass (a door's or drawer's `body_pos`) are already in place
    /// when the second pass resets the hand. So an env writes such changes before
    /// [`Sawyer::reset_hand`].
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError>;

    /// `_get_pos_objects` and `_get_quat_objects`, interleaved as position + quaternion per
    /// object into the first slots (the rest stay zero).
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]);

    /// Whether `evaluate` reads contacts or constraint forces ([`Sawyer::touching_object`]):
    /// only then does `step` end with a full `mj_forward`.
    const READS_CONTACT_FORCES: bool = false;

    /// `evaluate_state(obs, action)`: the reward and the info.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info);

    /// `_get_pos_goal`: the env's `_target_pos`, the last 3 entries of a fully observable
    /// observation (ML1 shows zeros there).
    fn target_pos(&self) -> [f64; 3];
}

/// The simulation and the state `SawyerXYZEnv` keeps about the arm.
pub struct Sawyer {
    pub model: Model,
    pub data: Data,
    mocap: usize,
    hand: usize,
    left_claw: usize,
    right_claw: usize,
    left_pad: usize,
    right_pad: usize,
    left_end_effector: usize,
    right_end_effector: usize,
    left_pad_geom: i32,
    right_pad_geom: i32,
    hand_init_pos: [f64; 3],
    mocap_low: [f64; 3],
    mocap_high: [f64; 3],
    /// `init_tcp`: the gripper centre after the hand reset.
    init_tcp: [f64; 3],
    /// Whether contacts and constraint forces are those of the current state (after `mj_forward`).
    forces_current: bool,
}

impl Sawyer {
    fn load(spec: &SawyerSpec) -> Result<Self, EnvError> {
        let mut model = Model::from_xml_path(paths::metaworld_assets().join(spec.model))?;
        reset_mocap_welds(&mut model);
        let data = Data::new(&model);
        let mocap_body = model.body_id("mocap")?;
        let mocap = usize::try_from(model.body_mocapid()[mocap_body]).expect("the mocap body is a mocap body");
        Ok(Sawyer {
            mocap,
            hand: model.body_id("hand")?,
            left_claw: model.body_id("leftclaw")?,
            right_claw: model.body_id("rightclaw")?,
            left_pad: model.body_id("leftpad")?,
            right_pad: model.body_id("rightpad")?,
            left_end_effector: model.site_id("leftEndEffector")?,
            right_end_effector: model.site_id("rightEndEffector")?,
            left_pad_geom: model.geom_id("leftpad_geom")? as i32,
            right_pad_geom: model.geom_id("rightpad_geom")? as i32,
            hand_init_pos: spec.hand_init_pos,
            mocap_low: spec.hand_low,
            mocap_high: spec.hand_high,
            init_tcp: [0.0; 3],
            forces_current: true,
            model,
            data,
        })
    }

    /// World position of a body (`get_body_com` returns `xpos`).
    pub fn body_xpos(&self, body: usize) -> [f64; 3] {
        vec3(&self.data.xpos()[3 * body..])
    }

    pub fn site_xpos(&self, site: usize) -> [f64; 3] {
        vec3(&self.data.site_xpos()[3 * site..])
    }

    pub fn geom_xpos(&self, geom: usize) -> [f64; 3] {
        vec3(&self.data.geom_xpos()[3 * geom..])
    }

    /// A geom's orientation as scipy's `Rotation.from_matrix(geom_xmat).as_quat()`: (x, y, z, w).
    pub fn geom_quat(&self, geom: usize) -> [f64; 4] {
        quat_from_matrix(&self.data.geom_xmat()[9 * geom..9 * geom + 9])
    }

    /// A body's orientation as MuJoCo keeps it, `xquat` (w, x, y, z).
    pub fn body_xquat(&self, body: usize) -> [f64; 4] {
        let q = &self.data.xquat()[4 * body..4 * body + 4];
        [q[0], q[1], q[2], q[3]]
    }

    /// A body's orientation as scipy's `Rotation.from_matrix(xmat).as_quat()`: (x, y, z, w).
    pub fn body_quat(&self, body: usize) -> [f64; 4] {
        quat_from_matrix(&self.data.xmat()[9 * body..9 * body + 9])
    }

    /// A site's orientation as scipy's `Rotation.from_matrix(site_xmat).as_quat()`: (x, y, z, w).
    pub fn site_quat(&self, site: usize) -> [f64; 4] {
        quat_from_matrix(&self.data.site_xmat()[9 * site..9 * site + 9])
    }

    pub fn left_pad(&self) -> [f64; 3] {
        self.body_xpos(self.left_pad)
    }

    pub fn right_pad(&self) -> [f64; 3] {
        self.body_xpos(self.right_pad)
    }

    /// `tcp_center`: midway between the two fingers' end-effector sites.
    pub fn tcp_center(&self) -> [f64; 3] {
        let (right, left) = (self.site_xpos(self.right_end_effector), self.site_xpos(self.left_end_effector));
        [0, 1, 2].map(|i| (right[i] + left[i]) / 2.0)
    }

    pub fn init_tcp(&self) -> [f64; 3] {
        self.init_tcp
    }

    /// `_reset_hand`: 50 frame-skipped steps holding the mocap at `hand_init_pos` with the
    /// gripper opening, then `init_tcp`.
    pub fn reset_hand(&mut self) -> Result<(), EnvError> {
        for _ in 0..50 {
            self.data.mocap_pos_mut()[3 * self.mocap..3 * self.mocap + 3].copy_from_slice(&self.hand_init_pos);
            self.data.mocap_quat_mut()[4 * self.mocap..4 * self.mocap + 4].copy_from_slice(&MOCAP_QUAT);
            self.do_simulation([-1.0, 1.0])?;
        }
        self.init_tcp = self.tcp_center();
        Ok(())
    }

    /// gym's `do_simulation`: `ctrl`, then `frame_skip` × `mj_step`. (gym then runs
    /// `mj_rnePostConstraint`, whose outputs no Meta-World env reads.)
    fn do_simulation(&mut self, ctrl: [f64; 2]) -> Result<(), EnvError> {
        self.data.ctrl_mut().copy_from_slice(&ctrl);
        self.data.step(&self.model, FRAME_SKIP)?;
        Ok(())
    }

    /// `frame_skip` × `mj_step` with the controls as they are (box-close's reset settles the
    /// scene with these).
    pub fn step_frames(&mut self) -> Result<(), EnvError> {
        self.data.step(&self.model, FRAME_SKIP)?;
        Ok(())
    }

    /// `set_xyz_action`: the mocap moves by `clip(a, -1, 1) / 100`, clipped to the mocap box.
    fn set_xyz_action(&mut self, action: &[f64]) {
        let (low, high) = (self.mocap_low, self.mocap_high);
        let pos = &mut self.data.mocap_pos_mut()[3 * self.mocap..3 * self.mocap + 3];
        for i in 0..3 {
            pos[i] = (pos[i] + action[i].clamp(-1.0, 1.0) * ACTION_SCALE).clamp(low[i], high[i]);
        }
        self.data.mocap_quat_mut()[4 * self.mocap..4 * self.mocap + 4].copy_from_slice(&MOCAP_QUAT);
    }

    /// `_set_obj_xyz`: the free object's position `qpos[9:12]`, its velocity `qvel[9:15]`
    /// zeroed, then `set_state` (`mj_forward`).
    pub fn set_obj_xyz(&mut self, pos: &[f64; 3]) -> Result<(), EnvError> {
        self.data.qpos_mut()[9..12].copy_from_slice(pos);
        self.data.qvel_mut()[9..15].fill(0.0);
        self.forward()
    }

    /// gym's `set_state` after writing `qpos`/`qvel` in place: `mj_forward`.
    pub fn forward(&mut self) -> Result<(), EnvError> {
        self.forces_current = true;
        Ok(self.data.forward(&self.model)?)
    }

    /// The `mj_forward` that ends `step`, for a task that reads only poses: its position stage
    /// ([`Data::positions`]), which gives the observation and such rewards the same numbers.
    fn poses(&mut self) -> Result<(), EnvError> {
        self.forces_current = false;
        Ok(self.data.positions(&self.model)?)
    }

    /// Moves a site of the model (`model.site(name).pos = pos`).
    pub fn set_site_pos(&mut self, site: usize, pos: &[f64; 3]) {
        self.model.site_pos_mut()[3 * site..3 * site + 3].copy_from_slice(pos);
    }

    /// Moves a body of the model (`model.body(name).pos = pos`).
    pub fn set_body_pos(&mut self, body: usize, pos: &[f64; 3]) {
        self.model.body_pos_mut()[3 * body..3 * body + 3].copy_from_slice(pos);
    }

    /// `touching_object`: both finger pads push on the geom (summed normal force of their
    /// contacts with it > 0). A contact left out of the solver has `efc_address` -1, which
    /// Python's indexing reads as the last row; so does this.
    pub fn touching_object(&self, geom: usize) -> bool {
        assert!(self.forces_current, "touching_object reads contact forces: set READS_CONTACT_FORCES on this task");
        let force = self.data.efc_force();
        let pad_force = |pad: i32| -> f64 {
            self.data
                .contacts()
                .filter(|c| (c.geom1 == pad || c.geom2 == pad) && (c.geom1 == geom as i32 || c.geom2 == geom as i32))
                .map(|c| force[if c.efc_address < 0 { force.len() - 1 } else { c.efc_address as usize }])
                .sum()
        };
        pad_force(self.left_pad_geom) > 0.0 && pad_force(self.right_pad_geom) > 0.0
    }

    /// `_get_curr_obs_combined_no_goal`: hand position, gripper opening (finger distance / 0.1,
    /// clipped to [0, 1]) and the object slots.
    fn frame<T: SawyerTask>(&self, task: &T) -> [f64; FRAME_DIM] {
        let mut frame = [0.0; FRAME_DIM];
        frame[..3].copy_from_slice(&self.body_xpos(self.hand));
        let (right, left) = (self.body_xpos(self.right_claw), self.body_xpos(self.left_claw));
        frame[3] = (reward_utils::distance(&right, &left) / 0.1).clamp(0.0, 1.0);
        let mut slots = [0.0; OBJECT_SLOTS];
        task.objects(self, &mut slots);
        frame[4..].copy_from_slice(&slots);
        frame
    }
}

/// `reset_mocap_welds`: every weld's `eq_data` becomes Meta-World's (identity anchor, relative
/// pose quaternion (-1, 0, 0, 0), torque scale 5).
fn reset_mocap_welds(model: &mut Model) {
    const WELD: [f64; 11] = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0];
    let welds: Vec<usize> = (0..model.eq_type().len()).filter(|&i| model.eq_type()[i] == EQ_WELD).collect();
    let width = model.eq_data().len() / model.eq_type().len().max(1);
    for i in welds {
        model.eq_data_mut()[i * width..i * width + WELD.len()].copy_from_slice(&WELD);
    }
}

fn vec3(values: &[f64]) -> [f64; 3] {
    [values[0], values[1], values[2]]
}

/// `np.linalg.norm` of a short vector.
pub fn norm(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// scipy's `Rotation.from_matrix(m).as_quat()` for a rotation matrix (row-major): the largest of
/// the diagonal and the trace picks the formula, then normalisation; (x, y, z, w). scipy first
/// orthogonalises matrices that are not orthonormal to 1e-12, which MuJoCo's are.
pub fn quat_from_matrix(m: &[f64]) -> [f64; 4] {
    let at = |row: usize, col: usize| m[3 * row + col];
    let trace = at(0, 0) + at(1, 1) + at(2, 2);
    let decision = [at(0, 0), at(1, 1), at(2, 2), trace];
    let choice = (1..4).fold(0, |best, i| if decision[i] > decision[best] { i } else { best });
    let mut quat = [0.0; 4];
    if choice == 3 {
        quat = [at(2, 1) - at(1, 2), at(0, 2) - at(2, 0), at(1, 0) - at(0, 1), 1.0 + trace];
    } else {
        let (i, j, k) = (choice, (choice + 1) % 3, (choice + 2) % 3);
        quat[i] = 1.0 - trace + 2.0 * at(i, i);
        quat[j] = at(j, i) + at(i, j);
        quat[k] = at(k, i) + at(i, k);
        quat[3] = at(k, j) - at(j, k);
    }
    let n = norm(&quat);
    quat.map(|q| q / n)
}

/// A Meta-World env: the [`Sawyer`] base, one [`SawyerTask`], the task's `rand_vec`.
pub struct SawyerEnv<T> {
    name: &'static str,
    sim: Sawyer,
    task: T,
    rand_vec: Vec<f64>,
    action_space: BoxSpace,
    obs: [f64; OBS_DIM],
    /// `_prev_obs`: the frame before the current one.
    prev_frame: [f64; FRAME_DIM],
    /// `curr_path_length`; `None` before the first reset.
    path_length: Option<usize>,
    info: Info,
}

impl<T: SawyerTask> SawyerEnv<T> {
    /// The env, on the first ML1 train task of [`DEFAULT_TASK_SEED`] until `set_task`.
    pub fn new(name: &'static str) -> Result<Self, EnvError> {
        let sim = Sawyer::load(&T::SPEC)?;
        let task = T::new(&sim)?;
        let rand_vec = ml1_rand_vecs::<T>(DEFAULT_TASK_SEED, 1).remove(0);
        Ok(SawyerEnv {
            name,
            sim,
            task,
            rand_vec,
            action_space: BoxSpace::uniform(4, -1.0, 1.0),
            obs: [0.0; OBS_DIM],
            prev_frame: [0.0; FRAME_DIM],
            path_length: None,
            info: Info::default(),
        })
    }

    /// The `info` of the last step.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The current observation with the goal shown (`partially_observable = False`, as MT1 has
    /// it); [`Env::observation`] stays ML1's, goal hidden.
    pub fn observation_with_goal(&self) -> [f64; OBS_DIM] {
        let mut obs = self.obs;
        obs[2 * FRAME_DIM..].copy_from_slice(&self.task.target_pos());
        obs
    }
}

impl<T: SawyerTask> Env for SawyerEnv<T> {
    fn name(&self) -> &str {
        self.name
    }

    fn observation_dim(&self) -> usize {
        OBS_DIM
    }

    fn action_space(&self) -> &BoxSpace {
        &self.action_space
    }

    fn set_task(&mut self, task: &Task) -> Result<(), EnvError> {
        match &task.params {
            TaskParams::RandVec { rand_vec } if rand_vec.len() == T::SPEC.rand_vec_low.len() => {
                self.rand_vec.clone_from(rand_vec);
                Ok(())
            }
            other => Err(EnvError::WrongTask { env: self.name.into(), kind: other.kind() }),
        }
    }

    /// Nothing to seed: under an ML1 task (`_freeze_rand_vec`) a Meta-World reset draws nothing.
    fn seed(&mut self, _seed: u32) {}

    /// `SawyerXYZEnv.reset`: `mj_resetData`, `reset_model`, and the first frame stacked twice.
    fn reset(&mut self) -> Result<&[f64], EnvError> {
        self.sim.data.reset(&self.sim.model)?;
        self.task.reset(&mut self.sim, &self.rand_vec)?;
        let frame = self.sim.frame(&self.task);
        self.obs[..FRAME_DIM].copy_from_slice(&frame);
        self.obs[FRAME_DIM..2 * FRAME_DIM].copy_from_slice(&frame);
        self.obs[2 * FRAME_DIM..].fill(0.0);
        self.prev_frame = frame;
        self.path_length = Some(0);
        Ok(&self.obs)
    }

    /// `SawyerXYZEnv.step`: mocap delta and gripper `[a, -a]`, `mj_step` × 5, `mj_forward`, the
    /// observation clipped to the observation space, then `evaluate_state`.
    fn step(&mut self, action: &[f64]) -> Result<Step, EnvError> {
        self.action_space.check(action)?;
        let path_length = self.path_length.ok_or(EnvError::NotReset)?;
        if path_length >= MAX_PATH_LENGTH {
            return Err(EnvError::EpisodeOver { limit: MAX_PATH_LENGTH });
        }
        self.sim.set_xyz_action(&action[..3]);
        self.sim.do_simulation([action[3], -action[3]])?;
        self.path_length = Some(path_length + 1);
        // Meta-World ends `step` with `mj_forward` (the goal sites it re-positions are recomputed).
        if T::READS_CONTACT_FORCES {
            self.sim.forward()?;
        } else {
            self.sim.poses()?;
        }
        let frame = self.sim.frame(&self.task);
        self.obs[..FRAME_DIM].copy_from_slice(&frame);
        self.obs[FRAME_DIM..2 * FRAME_DIM].copy_from_slice(&self.prev_frame);
        self.obs[2 * FRAME_DIM..].fill(0.0);
        self.prev_frame = frame;
        for offset in [0, FRAME_DIM] {
            for i in 0..3 {
                self.obs[offset + i] = self.obs[offset + i].clamp(HAND_SPACE_LOW[i], HAND_SPACE_HIGH[i]);
            }
            self.obs[offset + 3] = self.obs[offset + 3].clamp(-1.0, 1.0);
        }
        let (reward, info) = self.task.evaluate(&self.sim, &self.obs, action);
        self.info = info;
        Ok(Step {
            reward,
            success: Some(info.success),
            truncated: path_length + 1 == MAX_PATH_LENGTH,
            ..Step::default()
        })
    }

    fn observation(&self) -> &[f64] {
        &self.obs
    }

    fn physics(&self) -> Option<(&Model, &Data)> {
        Some((&self.sim.model, &self.sim.data))
    }

    fn hidden_goal(&self) -> Option<[f64; 3]> {
        Some(self.task.target_pos())
    }

    fn visit_info(&self, visit: &mut dyn FnMut(&'static str, f64)) {
        let info = &self.info;
        for (name, value) in [
            ("near_object", info.near_object),
            ("grasp_success", info.grasp_success),
            ("grasp_reward", info.grasp_reward),
            ("in_place_reward", info.in_place_reward),
            ("obj_to_target", info.obj_to_target),
            ("unscaled_reward", info.unscaled_reward),
        ] {
            visit(name, value);
        }
    }
}

/// One `env.reset()` of `_make_tasks` with the rand vec unfrozen: `reset_model` runs twice, each
/// drawing `np.random.uniform(low, high)` until the env accepts the draw; the last is kept.
fn draw_reset_rand_vec<T: SawyerTask>(rng: &mut RandomState) -> Vec<f64> {
    let (low, high) = (T::SPEC.rand_vec_low, T::SPEC.rand_vec_high);
    let mut draw = || low.iter().zip(high).map(|(l, h)| rng.uniform(*l, *h)).collect::<Vec<f64>>();
    let mut reset_model = || {
        let mut rand_vec = draw();
        while T::rejects(&rand_vec) {
            rand_vec = draw();
        }
        rand_vec
    };
    reset_model();
    reset_model()
}

/// `_make_tasks` for one env: `np.random.seed(seed)`, then `count` resets' rand vecs.
fn ml1_rand_vecs<T: SawyerTask>(seed: u32, count: usize) -> Vec<Vec<f64>> {
    let mut rng = RandomState::new(seed);
    (0..count).map(|_| draw_reset_rand_vec::<T>(&mut rng)).collect()
}

/// `metaworld.ML1(name, seed)`: 50 train tasks from `seed`, 50 test tasks from `seed + 1`
/// (`u32::MAX` wraps to 0, where numpy would reject 2³²). The oracle vector is the rand vec:
/// the object and goal positions the tasks differ in.
pub fn ml1_tasks<T: SawyerTask>(_: &str, _: &EnvOptions, seed: u32) -> Result<TaskSet, EnvError> {
    let params = |seed| ml1_rand_vecs::<T>(seed, N_GOALS).into_iter().map(|rand_vec| TaskParams::RandVec { rand_vec }).collect();
    Ok(TaskSet::from_lists(params(seed), params(seed.wrapping_add(1)), oracle))
}

/// The distance in the x-y plane between two points (or the first two entries of two slices).
pub fn xy_distance(a: &[f64], b: &[f64]) -> f64 {
    norm(&[a[0] - b[0], a[1] - b[1]])
}

/// The goal is within 0.15 of the object in the x-y plane: the resampling condition of the
/// reach, push and pick-place `reset_model`s (rand vec = object position, goal position).
fn goal_near_object(rand_vec: &[f64]) -> bool {
    norm(&[rand_vec[0] - rand_vec[3], rand_vec[1] - rand_vec[4]]) < 0.15
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quaternions_follow_scipy_scalar_last() {
        let identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(quat_from_matrix(&identity), [0.0, 0.0, 0.0, 1.0]);
        // 180° about z: the trace is -1, the z diagonal entry wins.
        let half_turn_z = [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(quat_from_matrix(&half_turn_z), [0.0, 0.0, 1.0, 0.0]);
        // 90° about x.
        let q = quat_from_matrix(&[1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0]);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!(q.iter().zip([h, 0.0, 0.0, h]).all(|(a, b)| (a - b).abs() < 1e-15), "{q:?}");
    }
}
