//! reach-v3 (`sawyer_reach_v3.py`): bring the gripper centre to a goal in the air.

use super::reward_utils::{distance, tolerance, Sigmoid};
use super::{goal_near_object, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

pub struct Reach {
    obj: usize,
    obj_geom: usize,
    goal_site: usize,
    target_pos: [f64; 3],
}

impl SawyerTask for Reach {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_reach_v3.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Object position, then goal position.
        rand_vec_low: &[-0.1, 0.6, 0.02, -0.1, 0.8, 0.05],
        rand_vec_high: &[0.1, 0.7, 0.02, 0.1, 0.9, 0.3],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Reach {
            obj: sim.model.body_id("obj")?,
            obj_geom: sim.model.geom_id("objGeom")?,
            goal_site: sim.model.site_id("goal")?,
            target_pos: [0.0; 3],
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        goal_near_object(rand_vec)
    }

    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        self.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        sim.set_obj_xyz(&[rand_vec[0], rand_vec[1], rand_vec[2]])?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.obj));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.obj_geom));
    }

    /// `compute_reward` (v2): 10 × how close the gripper centre is to the goal.
    fn evaluate(&self, sim: &Sawyer, _obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let tcp_to_target = distance(&sim.tcp_center(), &self.target_pos);
        let in_place_margin = distance(&Self::SPEC.hand_init_pos, &self.target_pos);
        let in_place = tolerance(tcp_to_target, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);
        let reward = 10.0 * in_place;
        let info = Info {
            success: tcp_to_target <= TARGET_RADIUS,
            near_object: tcp_to_target,
            grasp_success: 1.0,
            grasp_reward: tcp_to_target,
            in_place_reward: in_place,
            obj_to_target: tcp_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }

    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }
}
