//! box-close-v3 (`sawyer_box_close_v3.py`): lift a lid by its handle and put it on a box.

use super::push::observed_object;
use super::reward_utils::{
    above_floor, distance, floor_height, hamacher_product, quat_alignment, scaled_distance, tolerance, Sigmoid,
};
use super::tool::grab_info;
use super::{xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

pub struct BoxClose {
    lid: usize,
    box_body: usize,
    goal_site: usize,
    target_pos: [f64; 3],
}

impl BoxClose {
    /// `_reward_pos`: (ready to lift: the hand at the lid's handle without sweeping low over
    /// the table, lifted: the lid up at all, then at the goal).
    fn reward_pos(&self, obs: &[f64; OBS_DIM]) -> (f64, f64) {
        let hand = [obs[0], obs[1], obs[2]];
        let lid = observed_object(obs);
        let lid = [lid[0] + 0.0, lid[1] + 0.0, lid[2] + 0.02];
        let floor = floor_height(xy_distance(&hand, &lid), 0.02, 0.04, 0.4);
        let above_floor = above_floor(hand[2], floor, floor / 2.0);
        let in_place = tolerance(distance(&hand, &lid), (0.0, 0.02), 0.5, Sigmoid::LongTail);
        let ready_to_lift = hamacher_product(above_floor, in_place);
        let lid_to_target = scaled_distance(&self.target_pos, &lid, [1.0, 1.0, 3.0]);
        let lifted = 0.2 * f64::from(lid[2] > 0.04) + 0.8 * tolerance(lid_to_target, (0.0, 0.05), 0.25, Sigmoid::LongTail);
        (ready_to_lift, lifted)
    }
}

impl SawyerTask for BoxClose {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_box.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        // Lid position (its height is replaced), then the box's (the goal).
        rand_vec_low: &[-0.05, 0.5, 0.02, -0.1, 0.7, 0.133],
        rand_vec_high: &[0.05, 0.55, 0.02, 0.1, 0.8, 0.133],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(BoxClose {
            lid: sim.model.body_id("top_link")?,
            box_body: sim.model.body_id("boxbody")?,
            goal_site: sim.model.site_id("goal")?,
            target_pos: [0.0; 3],
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        xy_distance(rand_vec, &rand_vec[3..]) < 0.25
    }

    /// The box at the goal's x-y (at its own height), one frame-skipped step, then the lid at
    /// the rand vec.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        let box_height = sim.model.body_pos()[3 * self.box_body + 2];
        sim.set_body_pos(self.box_body, &[self.target_pos[0], self.target_pos[1], box_height]);
        sim.reset_hand()?;
        sim.step_frames()?;
        sim.set_obj_xyz(&[rand_vec[0], rand_vec[1], 0.02f32 as f64])?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.lid));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.lid));
    }

    /// `compute_reward` (v2): grip at the handle, lift the lid onto the box; all of it scaled by
    /// how level the lid is.
    fn evaluate(&self, _sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let grab = (action[3].clamp(-1.0, 1.0) + 1.0) / 2.0;
        let grab = grab.clamp(0.0, 1.0);
        let quat = quat_alignment(&obs[7..11], [0.707, 0.0, 0.0, 0.707], 0.2);
        let (ready_to_lift, lifted) = self.reward_pos(obs);
        let success = distance(&observed_object(obs), &self.target_pos) < 0.08;
        let reward = if success { 10.0 } else { 2.0 * hamacher_product(grab, ready_to_lift) + 8.0 * lifted };
        let reward = reward * quat;
        (reward, grab_info(success, ready_to_lift, grab, lifted, reward))
    }
}
