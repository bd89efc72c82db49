//! bin-picking-v3 (`sawyer_bin_picking_v3.py`): move a cube from one bin into the other.

use std::cell::Cell;

use super::place::grasp_and_place;
use super::push::observed_object;
use super::reward_utils::{above_floor, distance, floor_height, hamacher_product, tolerance, Caging, CagingDensity, Sigmoid};
use super::{xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

pub struct BinPicking {
    obj: usize,
    bin_goal: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
    /// `_target_to_obj_init`: the cube's distance to the goal at the episode's first step.
    target_to_obj_init: Cell<Option<f64>>,
}

impl SawyerTask for BinPicking {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_bin_picking.xml",
        hand_low: [-0.5, 0.40, 0.07],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Cube position (its height is replaced), then a goal the target bin fixes.
        rand_vec_low: &[-0.21, 0.65, 0.02, 0.1199, 0.699, -0.001],
        rand_vec_high: &[-0.03, 0.75, 0.02, 0.1201, 0.701, 0.001],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(BinPicking {
            obj: sim.model.body_id("obj")?,
            bin_goal: sim.model.body_id("bin_goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
            target_to_obj_init: Cell::new(None),
        })
    }

    /// The cube at the rand vec's x-y, at the height it has after the hand reset; the goal is
    /// the target bin's body.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        self.obj_init_pos = [rand_vec[0], rand_vec[1], sim.body_xpos(self.obj)[2]];
        sim.set_obj_xyz(&self.obj_init_pos)?;
        self.target_pos = sim.body_xpos(self.bin_goal);
        self.target_to_obj_init.set(None);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.obj));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.obj));
    }

    /// `compute_reward` (v2): pick-place's, its bonus also asking the hand to stay above a
    /// floor rising away from both bins.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let hand = [obs[0], obs[1], obs[2]];
        let obj = observed_object(obs);
        let target_to_obj = distance(&obj, &self.target_pos);
        let target_to_obj_init = self.target_to_obj_init.get().unwrap_or(target_to_obj);
        self.target_to_obj_init.set(Some(target_to_obj_init));
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), target_to_obj_init, Sigmoid::LongTail);

        let floor = [&self.obj_init_pos, &self.target_pos]
            .map(|bin| floor_height(xy_distance(&hand, bin), 0.03, 0.02, 0.2))
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        let above_floor = above_floor(hand[2], floor, 0.05);
        let caging = Caging {
            obj_radius: 0.015,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.01,
            desired_gripper_effort: 0.7,
            density: CagingDensity::High,
        };
        let object_grasped = sim.gripper_caging_reward(action, &obj, &self.obj_init_pos, &caging);
        let near_object = distance(&obj, &hand) < 0.04;
        let pinched_without_obj = obs[3] < 0.43;
        let lifted = obj[2] - 0.02 > self.obj_init_pos[2];
        let grasp_success = near_object && lifted && !pinched_without_obj;
        let bonus = grasp_success.then(|| 5.0 * hamacher_product(above_floor, in_place));
        let reward = grasp_and_place(object_grasped, in_place, bonus, target_to_obj < TARGET_RADIUS);
        let info = Info {
            success: target_to_obj <= 0.05,
            near_object: f64::from(near_object),
            grasp_success: f64::from(grasp_success),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target: target_to_obj,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
