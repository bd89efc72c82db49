//! The drawer of `sawyer_drawer.xml`: drawer-open-v3 (`sawyer_drawer_open_v3.py`), pull it out
//! by its handle, and drawer-close-v3 (`sawyer_drawer_close_v3.py`), push an open drawer shut.
//! They share the model, the spec and the drawer ([`Drawer`]); each has its own reward.

use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{norm, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

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
/// The drawer's slide joint, `qpos[9]`.
const DRAWER_QPOS: usize = 9;
/// The handle's distance in front of the drawer link.
const HANDLE_OFFSET: f64 = -0.16;
/// The goal's height above the drawer's position.
const GOAL_HEIGHT: f64 = 0.09;

/// The drawer's cabinet, its sliding link and the goal site.
struct Drawer {
    drawer: usize,
    drawer_link: usize,
    goal_site: usize,
}

impl Drawer {
    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Drawer {
            drawer: sim.model.body_id("drawer")?,
            drawer_link: sim.model.body_id("drawer_link")?,
            goal_site: sim.model.site_id("goal")?,
        })
    }

    /// `_get_pos_objects`: the handle, in front of the drawer link and `height` above it.
    fn handle_pos(&self, sim: &Sawyer, height: f64) -> [f64; 3] {
        let link = sim.body_xpos(self.drawer_link);
        [link[0] + 0.0, link[1] + HANDLE_OFFSET, link[2] + height]
    }

    /// The drawer at the rand vec, then the hand reset; returns the drawer's position.
    fn place(&self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<[f64; 3], EnvError> {
        let drawer_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.drawer, &drawer_pos);
        sim.reset_hand()?;
        Ok(drawer_pos)
    }
}

/// drawer-open-v3.
pub struct DrawerOpen {
    drawer: Drawer,
    target_pos: [f64; 3],
}

impl DrawerOpen {
    /// `maxDist`: how far the drawer opens.
    const OPEN_DISTANCE: f64 = 0.2;
}

impl SawyerTask for DrawerOpen {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(DrawerOpen { drawer: Drawer::new(sim)?, target_pos: [0.0; 3] })
    }

    /// The drawer closed at the rand vec; the goal is the handle pulled out by 0.2. Meta-World
    /// runs no `mj_forward` after this reset.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let drawer_pos = self.drawer.place(sim, rand_vec)?;
        let goal_offset = [0.0, HANDLE_OFFSET - Self::OPEN_DISTANCE, GOAL_HEIGHT];
        self.target_pos = [0, 1, 2].map(|i| drawer_pos[i] + goal_offset[i]);
        sim.set_site_pos(self.drawer.goal_site, &self.target_pos);
        Ok(())
    }

    /// The handle and the drawer link's `xquat`.
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        let link = self.drawer.drawer_link;
        slots[..3].copy_from_slice(&self.drawer.handle_pos(sim, 0.0));
        slots[3..7].copy_from_slice(&sim.data.xquat()[4 * link..4 * link + 4]);
    }

    /// `compute_reward` (v2): the gripper caging the handle (x-y errors weighted triple) and
    /// the handle's distance to the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let gripper = [obs[0], obs[1], obs[2]];
        let handle = observed_object(obs);
        let handle_error = distance(&handle, &self.target_pos);
        let opening = tolerance(handle_error, (0.0, 0.02), Self::OPEN_DISTANCE, Sigmoid::LongTail);

        let target = self.target_pos;
        let handle_init = [target[0] + 0.0, target[1] + Self::OPEN_DISTANCE, target[2] + 0.0];
        let scale = [3.0, 3.0, 1.0];
        let init_tcp = sim.init_tcp();
        let gripper_error = norm(&[0, 1, 2].map(|i| (handle[i] - gripper[i]) * scale[i]));
        let gripper_error_init = norm(&[0, 1, 2].map(|i| (handle_init[i] - init_tcp[i]) * scale[i]));
        let caging = tolerance(gripper_error, (0.0, 0.01), gripper_error_init, Sigmoid::LongTail);

        let reward = (caging + opening) * 5.0;
        let info = Info {
            success: handle_error <= 0.03,
            near_object: f64::from(distance(&handle, &gripper) <= 0.03),
            grasp_success: f64::from(obs[3] > 0.0),
            grasp_reward: caging,
            in_place_reward: opening,
            obj_to_target: handle_error,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}

/// drawer-close-v3.
pub struct DrawerClose {
    drawer: Drawer,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl DrawerClose {
    /// `maxDist`: how far the drawer starts open.
    const OPEN_DISTANCE: f64 = 0.15;
    /// The handle's height above the drawer link, as this env observes it.
    const HANDLE_HEIGHT: f64 = 0.05;
}

impl SawyerTask for DrawerClose {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(DrawerClose { drawer: Drawer::new(sim)?, obj_init_pos: [0.0; 3], target_pos: [0.0; 3] })
    }

    /// The drawer at the rand vec, pulled open by 0.15 (its velocity kept, as Meta-World's
    /// `_set_obj_xyz` here does); the goal is the closed handle's position.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let drawer_pos = self.drawer.place(sim, rand_vec)?;
        self.target_pos = [drawer_pos[0] + 0.0, drawer_pos[1] + HANDLE_OFFSET, drawer_pos[2] + GOAL_HEIGHT];
        sim.data.qpos_mut()[DRAWER_QPOS] = -Self::OPEN_DISTANCE;
        sim.forward()?;
        self.obj_init_pos = self.drawer.handle_pos(sim, Self::HANDLE_HEIGHT);
        sim.set_site_pos(self.drawer.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        // The quaternion slot stays zero (`_get_quat_objects` is `np.zeros(4)`).
        slots[..3].copy_from_slice(&self.drawer.handle_pos(sim, Self::HANDLE_HEIGHT));
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
}
