//! door-open-v3 (`sawyer_door_v3.py`): pull a door open by its handle.

use std::f64::consts::PI;

use super::reward_utils::{hamacher_product, tolerance, Sigmoid};
use super::{norm, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

pub struct DoorOpen {
    door: usize,
    handle: usize,
    goal_site: usize,
    door_qpos_adr: usize,
    door_dof_adr: usize,
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
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_door_pull.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // The door's position.
        rand_vec_low: &[0.0, 0.85, 0.15],
        rand_vec_high: &[0.1, 0.95, 0.15],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let joint = sim.model.joint_id("doorjoint")?;
        Ok(DoorOpen {
            door: sim.model.body_id("door")?,
            handle: sim.model.geom_id("handle")?,
            goal_site: sim.model.site_id("goal")?,
            door_qpos_adr: sim.model.jnt_qposadr()[joint] as usize,
            door_dof_adr: sim.model.jnt_dofadr()[joint] as usize,
            target_pos: [0.0; 3],
        })
    }

    /// The door at the rand vec, closed; the goal 0.3 left of and 0.45 in front of it.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let door_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.door, &door_pos);
        sim.reset_hand()?;
        self.target_pos = [door_pos[0] + -0.3, door_pos[1] + -0.45, door_pos[2] + 0.0];
        sim.set_site_pos(self.goal_site, &self.target_pos);
        sim.data.qpos_mut()[self.door_qpos_adr] = 0.0;
        sim.data.qvel_mut()[self.door_dof_adr] = 0.0;
        sim.forward()
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.geom_xpos(self.handle));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.handle));
    }

    /// `compute_reward` (v2): reach the handle with the gripper closing, then the door's angle.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let theta = sim.data.qpos()[self.door_qpos_adr];
        let reward_grab = (action[3].clamp(-1.0, 1.0) + 1.0) / 2.0;
        let (ready_to_open, opened) = Self::reward_pos(obs, theta);
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

    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }
}
