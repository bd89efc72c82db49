//! pick-place-v3 (`sawyer_pick_place_v3.py`): pick a puck up and place it at a goal in the air.

use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{goal_near_object, norm, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

pub struct PickPlace {
    obj: usize,
    obj_geom: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl PickPlace {
    /// The env's own `_gripper_caging_reward`. Its `init_left_pad`/`init_right_pad` are views of
    /// `data.xpos` in Meta-World, so they are the pads' current positions; so they are here.
    fn gripper_caging_reward(&self, sim: &Sawyer, action: &[f64], obj: &[f64; 3]) -> f64 {
        const PAD_SUCCESS_MARGIN: f64 = 0.05;
        const XZ_SUCCESS_MARGIN: f64 = 0.005;
        const OBJ_RADIUS: f64 = 0.015;
        let (left_pad, right_pad) = (sim.left_pad(), sim.right_pad());
        let caging_on = |pad_to_obj: f64, pad_y: f64| {
            let margin = ((obj[1] - pad_y).abs() - PAD_SUCCESS_MARGIN).abs();
            tolerance(pad_to_obj, (OBJ_RADIUS, PAD_SUCCESS_MARGIN), margin, Sigmoid::LongTail)
        };
        let right_caging = caging_on(obj[1] - right_pad[1], right_pad[1]);
        let left_caging = caging_on(left_pad[1] - obj[1], left_pad[1]);
        let y_caging = hamacher_product(left_caging, right_caging);

        // Distances in the x-z plane, written as Meta-World does with y zeroed.
        let tcp = sim.tcp_center();
        let init_tcp = sim.init_tcp();
        let tcp_to_obj_xz = norm(&[tcp[0] - obj[0], 0.0, tcp[2] - obj[2]]);
        let xz_margin = norm(&[self.obj_init_pos[0] - init_tcp[0], 0.0, self.obj_init_pos[2] - init_tcp[2]]) - XZ_SUCCESS_MARGIN;
        let xz_caging = tolerance(tcp_to_obj_xz, (0.0, XZ_SUCCESS_MARGIN), xz_margin, Sigmoid::LongTail);

        let gripper_closed = action[3].max(0.0).min(1.0);
        let caging = hamacher_product(y_caging, xz_caging);
        let gripping = if caging > 0.97 { gripper_closed } else { 0.0 };
        (hamacher_product(caging, gripping) + caging) / 2.0
    }
}

impl SawyerTask for PickPlace {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_pick_place_v3.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Object position, then goal position.
        rand_vec_low: &[-0.1, 0.6, 0.02, -0.1, 0.8, 0.05],
        rand_vec_high: &[0.1, 0.7, 0.02, 0.1, 0.9, 0.3],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(PickPlace {
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

    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        self.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        sim.set_obj_xyz(&self.obj_init_pos)?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.obj));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.obj_geom));
    }

    /// `compute_reward` (v2): grasp and placement combined, a bonus once lifted in the grasp.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_opened = obs[3];
        let obj_to_target = distance(&obj, &self.target_pos);
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let in_place_margin = distance(&self.obj_init_pos, &self.target_pos);
        let in_place = tolerance(obj_to_target, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);
        let object_grasped = self.gripper_caging_reward(sim, action, &obj);
        let mut reward = hamacher_product(object_grasped, in_place);
        if tcp_to_obj < 0.02 && tcp_opened > 0.0 && obj[2] - 0.01 > self.obj_init_pos[2] {
            reward += 1.0 + 5.0 * in_place;
        }
        if obj_to_target < TARGET_RADIUS {
            reward = 10.0;
        }
        let lifted = obj[2] - 0.02 > self.obj_init_pos[2];
        let info = Info {
            success: obj_to_target <= 0.07,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(lifted && tcp_opened > 0.0 && sim.touching_object(self.obj_geom)),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }

    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }
}
