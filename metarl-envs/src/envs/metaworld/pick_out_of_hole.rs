//! pick-out-of-hole-v3 (`sawyer_pick_out_of_hole_v3.py`): lift a peg out of a hole to a goal in
//! the air.

use super::place::grasp_and_place;
use super::push::observed_object;
use super::reward_utils::{above_floor, distance, floor_height, hamacher_product, tolerance, Caging, CagingDensity, Sigmoid};
use super::{xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

pub struct PickOutOfHole {
    obj: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for PickOutOfHole {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_pick_out_of_hole.xml",
        hand_low: [-0.5, 0.40, -0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Peg position, then the goal's.
        rand_vec_low: &[0.0, 0.75, 0.02, -0.1, 0.5, 0.15],
        rand_vec_high: &[0.0, 0.75, 0.02, 0.1, 0.6, 0.3],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(PickOutOfHole {
            obj: sim.model.body_id("obj")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        xy_distance(rand_vec, &rand_vec[3..]) < 0.15
    }

    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_obj_xyz(&self.obj_init_pos)?;
        self.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.obj));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.obj));
    }

    /// `compute_reward` (v2): pick-place's, its bonus also asking the gripper to stay above a
    /// floor rising away from the hole.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let gripper = sim.tcp_center();
        let obj_to_target = distance(&obj, &self.target_pos);
        let tcp_to_obj = distance(&obj, &gripper);
        let in_place_margin = distance(&self.obj_init_pos, &self.target_pos);
        let floor = floor_height(xy_distance(&gripper, &self.obj_init_pos), 0.03, 0.015, 0.15);
        let above_floor = above_floor(gripper[2], floor, 0.02);
        let caging = Caging {
            obj_radius: 0.015,
            pad_success_thresh: 0.02,
            object_reach_radius: 0.01,
            xz_thresh: 0.03,
            desired_gripper_effort: 0.1,
            density: CagingDensity::High,
        };
        let object_grasped = sim.gripper_caging_reward(action, &obj, &self.obj_init_pos, &caging);
        let in_place = tolerance(obj_to_target, (0.0, 0.02), in_place_margin, Sigmoid::LongTail);
        let near_object = tcp_to_obj < 0.04;
        let pinched_without_obj = obs[3] < 0.33;
        let lifted = obj[2] - 0.02 > self.obj_init_pos[2];
        let grasp_success = near_object && lifted && !pinched_without_obj;
        let bonus = grasp_success.then(|| 5.0 * hamacher_product(in_place, above_floor));
        let reward = grasp_and_place(object_grasped, in_place, bonus, obj_to_target < TARGET_RADIUS);
        let info = Info {
            success: obj_to_target <= 0.07,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(grasp_success),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
