//! lever-pull-v3 (`sawyer_lever_pull_v3.py`): lift a lever from horizontal to pointing up.

use std::f64::consts::PI;

use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{norm, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// `LEVER_RADIUS`: the lever's length.
const LEVER_RADIUS: f64 = 0.2;

pub struct LeverPull {
    lever: usize,
    lever_geom: usize,
    lever_start_site: usize,
    goal_site: usize,
    axis_qpos_adr: usize,
    /// `_lever_pos_init`: the lever's tip at rest.
    lever_pos_init: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for LeverPull {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_lever_pull.xml",
        hand_low: [-0.5, 0.40, -0.15],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.4f32 as f64, 0.2f32 as f64],
        // The lever's base.
        rand_vec_low: &[-0.1, 0.7, 0.0],
        rand_vec_high: &[0.1, 0.8, 0.0],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let axis = sim.model.joint_id("LeverAxis")?;
        Ok(LeverPull {
            lever: sim.model.body_id("lever")?,
            lever_geom: sim.model.geom_id("objGeom")?,
            lever_start_site: sim.model.site_id("leverStart")?,
            goal_site: sim.model.site_id("goal")?,
            axis_qpos_adr: sim.model.jnt_qposadr()[axis] as usize,
            lever_pos_init: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    /// The lever at the rand vec; the goal is its tip pointing up. Meta-World runs no
    /// `mj_forward` after this reset, so positions are those of the hand reset's last step.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let base = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.lever, &base);
        sim.reset_hand()?;
        self.lever_pos_init = [base[0] + 0.12, base[1] + -LEVER_RADIUS, base[2] + 0.25];
        self.target_pos = [base[0] + 0.12, base[1] + 0.0, base[2] + (0.25 + LEVER_RADIUS)];
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.site_xpos(self.lever_start_site));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.lever_geom));
    }

    /// `compute_reward` (v2): the arm's shoulder under the lever, and the lever's tip at the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let gripper = [obs[0], obs[1], obs[2]];
        let lever = [obs[4], obs[5], obs[6]];
        // The y error counts less, so that the shoulder, not the fingers, gets under the lever.
        let scale = [4.0, 1.0, 4.0];
        let offset = [0.0, 0.055, 0.07];
        let shoulder_to = |hand: &[f64; 3], lever: &[f64; 3]| norm(&[0, 1, 2].map(|i| (hand[i] + offset[i] - lever[i]) * scale[i]));
        let shoulder_to_lever = shoulder_to(&gripper, &lever);
        let shoulder_to_lever_init = shoulder_to(&sim.init_tcp(), &self.lever_pos_init);
        let ready_to_lift = tolerance(shoulder_to_lever, (0.0, 0.02), shoulder_to_lever_init, Sigmoid::LongTail);

        let lever_angle = -sim.data.qpos()[self.axis_qpos_adr];
        let lever_error = (lever_angle - PI / 2.0).abs();
        let lever_engagement = tolerance(lever_error, (0.0, PI / 48.0), PI / 2.0 - PI / 12.0, Sigmoid::LongTail);

        let obj_to_target = distance(&lever, &self.target_pos);
        let in_place_margin = distance(&self.lever_pos_init, &self.target_pos);
        let in_place = tolerance(obj_to_target, (0.0, 0.04), in_place_margin, Sigmoid::LongTail);
        let reward = 10.0 * hamacher_product(ready_to_lift, in_place);
        let info = Info {
            success: lever_error <= PI / 24.0,
            near_object: f64::from(shoulder_to_lever < 0.03),
            grasp_success: f64::from(ready_to_lift > 0.9),
            grasp_reward: ready_to_lift,
            in_place_reward: lever_engagement,
            obj_to_target: shoulder_to_lever,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
