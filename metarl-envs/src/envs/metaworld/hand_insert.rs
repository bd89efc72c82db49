//! hand-insert-v3 (`sawyer_hand_insert_v3.py`): push a block into a hole in the table.

use super::place::{grasp_and_place, lifted_in_grasp};
use super::push::observed_object;
use super::reward_utils::{distance, tolerance, Caging, CagingDensity, Sigmoid};
use super::{xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

pub struct HandInsert {
    obj: usize,
    obj_geom: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for HandInsert {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_table_with_hole.xml",
        hand_low: [-0.5, 0.40, -0.15],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        // Block position (its height is replaced), then the goal in the hole.
        rand_vec_low: &[-0.1, 0.6, 0.05, -0.04, 0.8, -0.0201],
        rand_vec_high: &[0.1, 0.7, 0.05, 0.04, 0.88, -0.0199],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(HandInsert {
            obj: sim.model.body_id("obj")?,
            obj_geom: sim.model.geom_id("objGeom")?,
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
        self.obj_init_pos = [rand_vec[0], rand_vec[1], 0.05];
        self.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        sim.set_obj_xyz(&self.obj_init_pos)?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.obj));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.obj));
    }

    /// `compute_reward` (v2): pick-place's, its bonus for the gripper at the block (lifted or
    /// not).
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let target_to_obj = distance(&obj, &self.target_pos);
        let target_to_obj_init = distance(&self.obj_init_pos, &self.target_pos);
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), target_to_obj_init, Sigmoid::LongTail);
        let caging = Caging {
            obj_radius: 0.015,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.005,
            desired_gripper_effort: 1.0,
            density: CagingDensity::High,
        };
        let object_grasped = sim.gripper_caging_reward(action, &obj, &self.obj_init_pos, &caging);
        let tcp_opened = obs[3];
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let at_block = tcp_to_obj < 0.02 && tcp_opened > 0.0;
        let reward = grasp_and_place(object_grasped, in_place, at_block.then_some(7.0 * in_place), target_to_obj < TARGET_RADIUS);
        let info = Info {
            success: target_to_obj <= 0.05,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(lifted_in_grasp(sim, self.obj_geom, tcp_opened, obj[2], self.obj_init_pos[2])),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target: target_to_obj,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
