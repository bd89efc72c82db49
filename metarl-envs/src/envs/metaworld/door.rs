//! The hinged door of `sawyer_door_pull.xml`: door-open-v3 (`sawyer_door_v3.py`), pull it open
//! by its handle, and door-close-v3 (`sawyer_door_close_v3.py`), push it shut. They share the
//! model, the reset ([`Door`]) and the observed handle; each has its own reward.

use std::f64::consts::PI;

use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{norm, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

const MODEL: &str = "sawyer_xyz/sawyer_door_pull.xml";
const HAND_LOW: [f64; 3] = [-0.5, 0.40, 0.05];
const HAND_HIGH: [f64; 3] = [0.5, 1.0, 0.5];
/// The door's position.
const RAND_VEC_LOW: &[f64] = &[0.0, 0.85, 0.15];
const RAND_VEC_HIGH: &[f64] = &[0.1, 0.95, 0.15];

/// The door, its hinge and its handle.
struct Door {
    door: usize,
    handle: usize,
    goal_site: usize,
    hinge_qpos_adr: usize,
    hinge_dof_adr: usize,
}

impl Door {
    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let hinge = sim.model.joint_id("doorjoint")?;
        Ok(Door {
            door: sim.model.body_id("door")?,
            handle: sim.model.geom_id("handle")?,
            goal_site: sim.model.site_id("goal")?,
            hinge_qpos_adr: sim.model.jnt_qposadr()[hinge] as usize,
            hinge_dof_adr: sim.model.jnt_dofadr()[hinge] as usize,
        })
    }

    /// The door at the rand vec, the goal `goal_offset` from it, and the door at rest at
    /// `angle` (`_set_obj_xyz`, then `mj_forward`). Returns the goal.
    fn reset(&self, sim: &mut Sawyer, rand_vec: &[f64], goal_offset: [f64; 3], angle: f64) -> Result<[f64; 3], EnvError> {
        let door_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.door, &door_pos);
        sim.reset_hand()?;
        let target_pos = [0, 1, 2].map(|i| door_pos[i] + goal_offset[i]);
        sim.set_site_pos(self.goal_site, &target_pos);
        sim.data.qpos_mut()[self.hinge_qpos_adr] = angle;
        sim.data.qvel_mut()[self.hinge_dof_adr] = 0.0;
        sim.forward()?;
        Ok(target_pos)
    }

    /// The handle geom's position and orientation.
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.geom_xpos(self.handle));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.handle));
    }

    fn angle(&self, sim: &Sawyer) -> f64 {
        sim.data.qpos()[self.hinge_qpos_adr]
    }
}

/// door-open-v3.
pub struct DoorOpen {
    door: Door,
    target_pos: [f64; 3],
}

impl DoorOpen {
    /// `_reward_pos`: (ready to open, opened) from the hand, the handle and the door angle.
    fn reward_pos(obs: &[f64; OBS_DIM], theta: f64) -> (f64, f64) {
        let hand = [obs[0], obs[1], obs[2]];
        let door = [obs[4] + -0.05, obs[5] + 0.0, obs[6] + 0.0];
        let threshold = 0.12;
        let radius = norm(&[hand[0] - door[0], hand[1] - door[1]]);
        let floor = if radius <= threshold { 0.0 } else { 0.04 * (radius - threshold).ln() + 0.4 };
        let above_floor = if hand[2] >= floor {
            1.0
        } else {
            tolerance(floor - hand[2], (0.0, 0.01), floor / 2.0, Sigmoid::LongTail)
        };
        let offset = [0.05, 0.03, -0.01];
        let hand_to_handle = norm(&[0, 1, 2].map(|i| hand[i] - door[i] - offset[i]));
        let in_place = tolerance(hand_to_handle, (0.0, threshold / 2.0), 0.5, Sigmoid::LongTail);
        let ready_to_open = hamacher_product(above_floor, in_place);
        let door_angle = -theta;
        // 0.2 for trying to open the door at all, 0.8 for opening it fully.
        let opened = 0.2 * f64::from(theta < -PI / 90.0)
            + 0.8 * tolerance(PI / 2.0 + PI / 6.0 - door_angle, (0.0, 0.5), PI / 3.0, Sigmoid::LongTail);
        (ready_to_open, opened)
    }
}

impl SawyerTask for DoorOpen {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: MODEL,
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: [0.0, 0.6, 0.2],
        rand_vec_low: RAND_VEC_LOW,
        rand_vec_high: RAND_VEC_HIGH,
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(DoorOpen { door: Door::new(sim)?, target_pos: [0.0; 3] })
    }

    /// The door closed; the goal 0.3 left of and 0.45 in front of it.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.target_pos = self.door.reset(sim, rand_vec, [-0.3, -0.45, 0.0], 0.0)?;
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.door.objects(sim, slots);
    }

    /// `compute_reward` (v2): reach the handle with the gripper closing, then the door's angle.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let reward_grab = (action[3].clamp(-1.0, 1.0) + 1.0) / 2.0;
        let (ready_to_open, opened) = Self::reward_pos(obs, self.door.angle(sim));
        let success = (obs[4] - self.target_pos[0]).abs() <= 0.08;
        let reward = if success { 10.0 } else { 2.0 * hamacher_product(ready_to_open, reward_grab) + 8.0 * opened };
        let info = Info {
            success,
            near_object: ready_to_open,
            grasp_success: f64::from(reward_grab >= 0.5),
            grasp_reward: reward_grab,
            in_place_reward: opened,
            obj_to_target: 0.0,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}

/// door-close-v3.
pub struct DoorClose {
    door: Door,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl DoorClose {
    /// `_TARGET_RADIUS` of its `compute_reward`.
    const TARGET_RADIUS: f64 = 0.05;
    /// The door's angle at reset: open by a quarter turn (Meta-World's -1.5708).
    const OPEN_ANGLE: f64 = -1.5708;
}

impl SawyerTask for DoorClose {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: MODEL,
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        // float32 in Meta-World's init_config.
        hand_init_pos: [-0.5, 0.6f32 as f64, 0.2f32 as f64],
        rand_vec_low: RAND_VEC_LOW,
        rand_vec_high: RAND_VEC_HIGH,
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(DoorClose { door: Door::new(sim)?, obj_init_pos: [0.0; 3], target_pos: [0.0; 3] })
    }

    /// The door open; the goal 0.2 right of and 0.2 in front of its closed position.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        self.target_pos = self.door.reset(sim, rand_vec, [0.2, -0.2, 0.0], Self::OPEN_ANGLE)?;
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.door.objects(sim, slots);
    }

    /// `compute_reward` (v2): the hand at the goal, and the handle there.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_to_target = distance(&sim.tcp_center(), &self.target_pos);
        let obj_to_target = distance(&obj, &self.target_pos);
        let in_place_margin = distance(&self.obj_init_pos, &self.target_pos);
        let in_place = tolerance(obj_to_target, (0.0, Self::TARGET_RADIUS), in_place_margin, Sigmoid::Gaussian);
        let hand_margin = distance(&Self::SPEC.hand_init_pos, &obj) + 0.1;
        let hand_in_place = tolerance(tcp_to_target, (0.0, 0.25 * Self::TARGET_RADIUS), hand_margin, Sigmoid::Gaussian);
        let reward = if obj_to_target < Self::TARGET_RADIUS { 10.0 } else { 3.0 * hand_in_place + 6.0 * in_place };
        let info = Info {
            success: obj_to_target <= 0.08,
            near_object: 0.0,
            grasp_success: 1.0,
            grasp_reward: 1.0,
            in_place_reward: hand_in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
