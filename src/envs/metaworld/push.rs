//! push-v3 (`sawyer_push_v3.py`): push a puck to a goal on the table.

use super::reward_utils::{distance, tolerance, Caging, CagingDensity, Sigmoid};
use super::{goal_near_object, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

pub struct Push {
    obj: usize,
    obj_geom: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

/// The object's position in the observation, `obs[4:7]`.
pub(super) fn observed_object(obs: &[f64; OBS_DIM]) -> [f64; 3] {
    [obs[4], obs[5], obs[6]]
}

impl SawyerTask for Push {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_push_v3.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Object position, then goal position (whose z is replaced by the object's).
        rand_vec_low: &[-0.1, 0.6, 0.02, -0.1, 0.8, 0.01],
        rand_vec_high: &[0.1, 0.7, 0.02, 0.1, 0.9, 0.02],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Push {
            obj: sim.model.body_id("obj")?,
            obj_geom: sim.model.geom_id("objGeom")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        goal_near_object(rand_vec)
    }

    /// Object and goal at the rand vec's x-y, both at the height the object has after the
    /// hand reset.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        let height = sim.body_xpos(self.obj)[2];
        self.target_pos = [rand_vec[3], rand_vec[4], height];
        self.obj_init_pos = [rand_vec[0], rand_vec[1], height];
        sim.set_obj_xyz(&self.obj_init_pos)?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.obj));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.obj_geom));
    }

    /// `compute_reward` (v2): caging the puck, then bringing it to the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_opened = obs[3];
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
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
        let mut reward = 2.0 * object_grasped;
        if tcp_to_obj < 0.02 && tcp_opened > 0.0 {
            reward += 1.0 + reward + 5.0 * in_place;
        }
        if target_to_obj < TARGET_RADIUS {
            reward = 10.0;
        }
        let lifted = obj[2] - 0.02 > self.obj_init_pos[2];
        let info = Info {
            success: target_to_obj <= TARGET_RADIUS,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(lifted && tcp_opened > 0.0 && sim.touching_object(self.obj_geom)),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target: target_to_obj,
            unscaled_reward: reward,
        };
        (reward, info)
    }

    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }
}
