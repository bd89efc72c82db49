//! drawer-close-v3 (`sawyer_drawer_close_v3.py`): push an open drawer closed.

use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// How far the drawer starts open (`maxDist`).
const OPEN_DISTANCE: f64 = 0.15;
/// The drawer's slide joint, `qpos[9]`.
const DRAWER_QPOS: usize = 9;

pub struct DrawerClose {
    drawer: usize,
    drawer_link: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl DrawerClose {
    /// `_get_pos_objects`: the handle, 0.16 in front of and 0.05 above the drawer link.
    fn handle_pos(&self, sim: &Sawyer) -> [f64; 3] {
        let link = sim.body_xpos(self.drawer_link);
        [link[0] + 0.0, link[1] + -0.16, link[2] + 0.05]
    }
}

impl SawyerTask for DrawerClose {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_drawer.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        // The drawer's position.
        rand_vec_low: &[-0.1, 0.9, 0.0],
        rand_vec_high: &[0.1, 0.9, 0.0],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(DrawerClose {
            drawer: sim.model.body_id("drawer")?,
            drawer_link: sim.model.body_id("drawer_link")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    /// The drawer at the rand vec, pulled open by 0.15 (its velocity kept, as Meta-World's
    /// `_set_obj_xyz` here does); the goal is the closed handle's position.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let drawer_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.drawer, &drawer_pos);
        sim.reset_hand()?;
        self.target_pos = [drawer_pos[0] + 0.0, drawer_pos[1] + -0.16, drawer_pos[2] + 0.09];
        sim.data.qpos_mut()[DRAWER_QPOS] = -OPEN_DISTANCE;
        sim.forward()?;
        self.obj_init_pos = self.handle_pos(sim);
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        // The quaternion slot stays zero (`_get_quat_objects` is `np.zeros(4)`).
        slots[..3].copy_from_slice(&self.handle_pos(sim));
    }

    /// `compute_reward` (v2): reach the handle with the gripper closing, and the handle's
    /// distance to the closed position.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp = sim.tcp_center();
        let target_to_obj = distance(&obj, &self.target_pos);
        let target_to_obj_init = distance(&self.obj_init_pos, &self.target_pos);
        let in_place_margin = (target_to_obj_init - TARGET_RADIUS).abs();
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);

        let handle_reach_radius = 0.005;
        let tcp_to_obj = distance(&obj, &tcp);
        let tcp_to_obj_init = distance(&self.obj_init_pos, &sim.init_tcp());
        let reach_margin = (tcp_to_obj_init - handle_reach_radius).abs();
        let reach = tolerance(tcp_to_obj, (0.0, handle_reach_radius), reach_margin, Sigmoid::Gaussian);
        let gripper_closed = action[3].max(0.0).min(1.0);
        let reach = hamacher_product(reach, gripper_closed);

        let closed = target_to_obj <= TARGET_RADIUS + 0.015;
        let reward = 10.0 * if closed { 1.0 } else { hamacher_product(reach, in_place) };
        let info = Info {
            success: closed,
            near_object: f64::from(tcp_to_obj <= 0.01),
            grasp_success: 1.0,
            grasp_reward: reach,
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
