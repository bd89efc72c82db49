//! The handle box: handle-press-v3 (`sawyer_handle_press_v3.py`), handle-press-side-v3
//! (`sawyer_handle_press_side_v3.py`), handle-pull-v3 (`sawyer_handle_pull_v3.py`) and
//! handle-pull-side-v3 (`sawyer_handle_pull_side_v3.py`): press a handle down, or pull it up,
//! on a box facing the arm or turned sideways.

use std::marker::PhantomData;

use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Caging, CagingDensity, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// The handle's slide joint, `qpos[9]` (and `qvel[9]`).
const HANDLE_QPOS: usize = 9;
/// The pressing envs' `TARGET_RADIUS`.
const PRESS_RADIUS: f64 = 0.02;

/// What differs between the handle envs.
pub trait HandleVariant: Send + 'static {
    const SPEC: SawyerSpec;
    /// The site `_get_pos_objects` reports.
    const HANDLE_SITE: &'static str;
    const TASK: HandleTask;
}

/// Pressing starts the handle up and aims at `goalPress`; pulling starts it down and aims at
/// `goalPull`.
#[derive(Debug, Clone, Copy)]
pub enum HandleTask {
    Press,
    Pull(Pull),
}

/// How the pulling envs' rewards differ.
#[derive(Debug, Clone, Copy)]
pub struct Pull {
    pub caging: Caging,
    /// Only the height counts towards the goal (else the full distance).
    pub vertical_only: bool,
    /// The initial position is the handle's (else the box's, the rand vec).
    pub init_at_handle: bool,
    /// The axis of the handle's position the lift bonus compares with the initial height (handle-
    /// pull compares y, as Meta-World does).
    pub lift_axis: usize,
    pub success_radius: f64,
}

pub struct Press;
pub struct PressSide;
pub struct PullUp;
pub struct PullSide;

impl HandleVariant for Press {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_handle_press.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // The box's position.
        rand_vec_low: &[-0.1, 0.8, -0.001],
        rand_vec_high: &[0.1, 0.9, 0.001],
    };
    const HANDLE_SITE: &'static str = "handleStart";
    const TASK: HandleTask = HandleTask::Press;
}

impl HandleVariant for PressSide {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_handle_press_sideways.xml",
        rand_vec_low: &[-0.35, 0.65, -0.001],
        rand_vec_high: &[-0.25, 0.75, 0.001],
        ..Press::SPEC
    };
    const HANDLE_SITE: &'static str = "handleStart";
    const TASK: HandleTask = HandleTask::Press;
}

impl HandleVariant for PullUp {
    const SPEC: SawyerSpec = Press::SPEC;
    const HANDLE_SITE: &'static str = "handleRight";
    const TASK: HandleTask = HandleTask::Pull(Pull {
        caging: Caging {
            obj_radius: 0.022,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.01,
            desired_gripper_effort: 1.0,
            density: CagingDensity::High,
        },
        vertical_only: true,
        init_at_handle: false,
        lift_axis: 1,
        success_radius: TARGET_RADIUS,
    });
}

impl HandleVariant for PullSide {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_handle_press_sideways.xml",
        rand_vec_low: &[-0.35, 0.65, 0.0],
        rand_vec_high: &[-0.25, 0.75, 0.0],
        ..Press::SPEC
    };
    const HANDLE_SITE: &'static str = "handleCenter";
    const TASK: HandleTask = HandleTask::Pull(Pull {
        caging: Caging {
            obj_radius: 0.032,
            pad_success_thresh: 0.06,
            object_reach_radius: 0.01,
            xz_thresh: 0.01,
            desired_gripper_effort: 1.0,
            density: CagingDensity::High,
        },
        vertical_only: false,
        init_at_handle: true,
        lift_axis: 2,
        success_radius: 0.08,
    });
}

pub struct Handle<V> {
    box_body: usize,
    handle_site: usize,
    goal_site: usize,
    /// The handle's position after the reset (the box's for handle-pull).
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
    variant: PhantomData<V>,
}

pub type HandlePress = Handle<Press>;
pub type HandlePressSide = Handle<PressSide>;
pub type HandlePull = Handle<PullUp>;
pub type HandlePullSide = Handle<PullSide>;

impl<V: HandleVariant> Handle<V> {
    /// `compute_reward` (v2) of the pressing envs: reaching the handle and its height above the
    /// goal.
    fn press_reward(&self, sim: &Sawyer) -> (f64, Info) {
        let obj = sim.site_xpos(self.handle_site);
        let target_to_obj = (obj[2] - self.target_pos[2]).abs();
        let target_to_obj_init = (self.obj_init_pos[2] - self.target_pos[2]).abs();
        let in_place_margin = (target_to_obj_init - PRESS_RADIUS).abs();
        let in_place = tolerance(target_to_obj, (0.0, PRESS_RADIUS), in_place_margin, Sigmoid::LongTail);

        let handle_radius = 0.02;
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let tcp_to_obj_init = distance(&self.obj_init_pos, &sim.init_tcp());
        let reach_margin = (tcp_to_obj_init - handle_radius).abs();
        let reach = tolerance(tcp_to_obj, (0.0, handle_radius), reach_margin, Sigmoid::LongTail);
        let pressed = target_to_obj <= PRESS_RADIUS;
        let reward = 10.0 * if pressed { 1.0 } else { hamacher_product(reach, in_place) };
        let info = Info {
            success: pressed,
            near_object: f64::from(tcp_to_obj <= 0.05),
            grasp_success: 1.0,
            grasp_reward: reach,
            in_place_reward: in_place,
            obj_to_target: target_to_obj,
            unscaled_reward: reward,
        };
        (reward, info)
    }

    /// `compute_reward` (v2) of the pulling envs: caging the handle and its distance to the goal,
    /// a bonus once lifted with the gripper open.
    fn pull_reward(&self, sim: &Sawyer, pull: &Pull, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let (obj_init, target) = (self.obj_init_pos, self.target_pos);
        let obj = observed_object(obs);
        let (target_to_obj, target_to_obj_init) = if pull.vertical_only {
            ((target[2] - obj[2]).abs(), (target[2] - obj_init[2]).abs())
        } else {
            (distance(&obj, &target), distance(&obj_init, &target))
        };
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), target_to_obj_init, Sigmoid::LongTail);
        let object_grasped = sim.gripper_caging_reward(action, &obj, &obj_init, &pull.caging);
        let mut reward = hamacher_product(object_grasped, in_place);
        let tcp_opened = obs[3];
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        if tcp_to_obj < 0.035 && tcp_opened > 0.0 && obj[pull.lift_axis] - 0.01 > obj_init[2] {
            reward += 1.0 + 5.0 * in_place;
        }
        if target_to_obj < TARGET_RADIUS {
            reward = 10.0;
        }
        let info = Info {
            success: target_to_obj <= pull.success_radius,
            near_object: f64::from(tcp_to_obj <= 0.05),
            grasp_success: f64::from(tcp_opened > 0.0 && obj[2] - 0.03 > obj_init[2]),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target: target_to_obj,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}

impl<V: HandleVariant> SawyerTask for Handle<V> {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = V::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let goal = match V::TASK {
            HandleTask::Press => "goalPress",
            HandleTask::Pull(_) => "goalPull",
        };
        Ok(Handle {
            box_body: sim.model.body_id("box")?,
            handle_site: sim.model.site_id(V::HANDLE_SITE)?,
            goal_site: sim.model.site_id(goal)?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
            variant: PhantomData,
        })
    }

    /// The box at the rand vec, the handle up (pressing) or down (pulling) at rest; the goal is
    /// the box's goal site.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let box_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.box_body, &box_pos);
        sim.reset_hand()?;
        let (handle_start, init_at_handle) = match V::TASK {
            HandleTask::Press => (-0.001, true),
            HandleTask::Pull(pull) => (-0.1, pull.init_at_handle),
        };
        sim.data.qpos_mut()[HANDLE_QPOS] = handle_start;
        sim.data.qvel_mut()[HANDLE_QPOS] = 0.0;
        sim.forward()?;
        self.target_pos = sim.site_xpos(self.goal_site);
        self.obj_init_pos = if init_at_handle { sim.site_xpos(self.handle_site) } else { box_pos };
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        // The quaternion slot stays zero (`_get_quat_objects` is `np.zeros(4)`).
        slots[..3].copy_from_slice(&sim.site_xpos(self.handle_site));
    }

    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        match V::TASK {
            HandleTask::Press => self.press_reward(sim),
            HandleTask::Pull(pull) => self.pull_reward(sim, &pull, obs, action),
        }
    }
}
