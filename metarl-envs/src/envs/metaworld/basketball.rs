//! basketball-v3 (`sawyer_basketball_v3.py`): pick a ball up and drop it through a hoop.

use super::place::{grasp_and_place, held_up};
use super::push::observed_object;
use super::reward_utils::{distance, scaled_distance, tolerance, Caging, CagingDensity, Sigmoid};
use super::{xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// The success distance to the hoop (`TARGET_RADIUS`).
const TARGET_RADIUS: f64 = 0.08;

pub struct Basketball {
    ball: usize,
    basket: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for Basketball {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_basketball.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        // Ball position (its height is replaced), then the basket's position.
        rand_vec_low: &[-0.1, 0.6, 0.0299, -0.1, 0.85, 0.0],
        rand_vec_high: &[0.1, 0.7, 0.0301, 0.1, 0.9 + 1e-7, 0.0],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Basketball {
            ball: sim.model.body_id("bsktball")?,
            basket: sim.model.body_id("basket_goal")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        xy_distance(rand_vec, &rand_vec[3..]) < 0.15
    }

    /// The basket at the rand vec and the ball at its x-y; the goal is the hoop's site (which
    /// shares its body's frame, so writing its `site_pos` moves nothing).
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.set_body_pos(self.basket, &[rand_vec[3], rand_vec[4], rand_vec[5]]);
        sim.reset_hand()?;
        self.obj_init_pos = [rand_vec[0], rand_vec[1], 0.03f32 as f64];
        sim.set_obj_xyz(&self.obj_init_pos)?;
        self.target_pos = sim.site_xpos(self.goal_site);
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.ball));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.ball));
    }

    /// `compute_reward` (v2): pick-place's, towards a point 0.3 up at the hoop with height
    /// errors counting double.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let target = [self.target_pos[0], self.target_pos[1], 0.3];
        let scale = [1.0, 1.0, 2.0];
        let target_to_obj = scaled_distance(&obj, &target, scale);
        let target_to_obj_init = scaled_distance(&self.obj_init_pos, &target, scale);
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), target_to_obj_init, Sigmoid::LongTail);
        let tcp_opened = obs[3];
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let caging = Caging {
            obj_radius: 0.025,
            pad_success_thresh: 0.06,
            object_reach_radius: 0.01,
            xz_thresh: 0.005,
            desired_gripper_effort: 1.0,
            density: CagingDensity::High,
        };
        let held = held_up(tcp_to_obj, 0.035, tcp_opened, obj[2], self.obj_init_pos[2]);
        let object_grasped = if held { 1.0 } else { sim.gripper_caging_reward(action, &obj, &self.obj_init_pos, &caging) };
        let reward = grasp_and_place(object_grasped, in_place, held.then_some(5.0 * in_place), target_to_obj < TARGET_RADIUS);
        let info = Info {
            success: target_to_obj <= TARGET_RADIUS,
            near_object: f64::from(tcp_to_obj <= 0.05),
            grasp_success: f64::from(tcp_opened > 0.0 && obj[2] - 0.03 > self.obj_init_pos[2]),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target: target_to_obj,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
