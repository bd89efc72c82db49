//! window-open-v3 (`sawyer_window_open_v3.py`): slide a window open by its handle.

use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

pub struct WindowOpen {
    window: usize,
    handle_site: usize,
    goal_site: usize,
    slide_qpos_adr: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
    /// `window_handle_pos_init`.
    handle_init_pos: [f64; 3],
}

impl SawyerTask for WindowOpen {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_window_horizontal.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.4f32 as f64, 0.2f32 as f64],
        // The window's position.
        rand_vec_low: &[-0.1, 0.7, 0.16],
        rand_vec_high: &[0.1, 0.9, 0.16],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let slide = sim.model.joint_id("window_slide")?;
        Ok(WindowOpen {
            window: sim.model.body_id("window")?,
            handle_site: sim.model.site_id("handleOpenStart")?,
            goal_site: sim.model.site_id("goal")?,
            slide_qpos_adr: sim.model.jnt_qposadr()[slide] as usize,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
            handle_init_pos: [0.0; 3],
        })
    }

    /// The window at the rand vec, closed; the goal 0.2 to its right. Meta-World runs no
    /// `mj_forward` after this reset, so positions are those of the hand reset's last step.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.window, &self.obj_init_pos);
        sim.reset_hand()?;
        self.target_pos = [self.obj_init_pos[0] + 0.2, self.obj_init_pos[1] + 0.0, self.obj_init_pos[2] + 0.0];
        self.handle_init_pos = sim.site_xpos(self.handle_site);
        sim.data.qpos_mut()[self.slide_qpos_adr] = 0.0;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        // The quaternion slot stays zero (`_get_quat_objects` is `np.zeros(4)`).
        slots[..3].copy_from_slice(&sim.site_xpos(self.handle_site));
    }

    /// `compute_reward` (v2): reaching the handle and the handle's x distance to the goal.
    fn evaluate(&self, sim: &Sawyer, _obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let obj = sim.site_xpos(self.handle_site);
        let target_to_obj = (obj[0] - self.target_pos[0]).abs();
        let target_to_obj_init = (self.obj_init_pos[0] - self.target_pos[0]).abs();
        let in_place_margin = (target_to_obj_init - TARGET_RADIUS).abs();
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);

        let handle_radius = 0.02;
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let tcp_to_obj_init = distance(&self.handle_init_pos, &sim.init_tcp());
        let reach_margin = (tcp_to_obj_init - handle_radius).abs();
        let reach = tolerance(tcp_to_obj, (0.0, handle_radius), reach_margin, Sigmoid::LongTail);
        let reward = 10.0 * hamacher_product(reach, in_place);
        let info = Info {
            success: target_to_obj <= TARGET_RADIUS,
            near_object: f64::from(tcp_to_obj <= 0.05),
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
