//! The sliding window of `sawyer_window_horizontal.xml`: window-open-v3
//! (`sawyer_window_open_v3.py`), slide it open by its handle, and window-close-v3
//! (`sawyer_window_close_v3.py`), slide it shut. One class in Meta-World up to their constants:
//! [`Window`], each a [`Slide`].

use std::marker::PhantomData;

use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// How far the window slides.
const TRAVEL: f64 = 0.2;

/// What window-open and window-close differ in.
pub trait Slide: Send {
    const SPEC: SawyerSpec;
    /// The site the env observes as the handle.
    const HANDLE_SITE: &'static str;
    /// True to close: the window starts open by [`TRAVEL`] and the goal is the window's
    /// position; else it starts closed and the goal is [`TRAVEL`] to its right.
    const CLOSE: bool;
    /// The sigmoid of the reaching reward.
    const REACH_SIGMOID: Sigmoid;
}

pub struct Window<S> {
    window: usize,
    handle_site: usize,
    goal_site: usize,
    slide_qpos_adr: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
    /// `window_handle_pos_init`.
    handle_init_pos: [f64; 3],
    slide: PhantomData<fn() -> S>,
}

impl<S: Slide> SawyerTask for Window<S> {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = S::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let slide = sim.model.joint_id("window_slide")?;
        Ok(Window {
            window: sim.model.body_id("window")?,
            handle_site: sim.model.site_id(S::HANDLE_SITE)?,
            goal_site: sim.model.site_id("goal")?,
            slide_qpos_adr: sim.model.jnt_qposadr()[slide] as usize,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
            handle_init_pos: [0.0; 3],
            slide: PhantomData,
        })
    }

    /// The window at the rand vec. Meta-World runs no `mj_forward` after this reset, so
    /// positions (the handle's at reset too) are those of the hand reset's last step, the
    /// window still closed.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.window, &self.obj_init_pos);
        sim.reset_hand()?;
        let handle = sim.site_xpos(self.handle_site);
        let init = self.obj_init_pos;
        if S::CLOSE {
            self.target_pos = init;
            self.handle_init_pos = [handle[0] + TRAVEL, handle[1] + 0.0, handle[2] + 0.0];
            sim.data.qpos_mut()[self.slide_qpos_adr] = TRAVEL;
        } else {
            self.target_pos = [init[0] + TRAVEL, init[1] + 0.0, init[2] + 0.0];
            self.handle_init_pos = handle;
            sim.data.qpos_mut()[self.slide_qpos_adr] = 0.0;
        }
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
        // window-open measures the start from the window's position, window-close from the
        // handle's.
        let start = if S::CLOSE { self.handle_init_pos } else { self.obj_init_pos };
        let target_to_obj_init = (start[0] - self.target_pos[0]).abs();
        let in_place_margin = (target_to_obj_init - TARGET_RADIUS).abs();
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);

        let handle_radius = 0.02;
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let tcp_to_obj_init = distance(&self.handle_init_pos, &sim.init_tcp());
        let reach_margin = (tcp_to_obj_init - handle_radius).abs();
        let reach = tolerance(tcp_to_obj, (0.0, handle_radius), reach_margin, S::REACH_SIGMOID);
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
}

const MODEL: &str = "sawyer_xyz/sawyer_window_horizontal.xml";
const HAND_LOW: [f64; 3] = [-0.5, 0.40, 0.05];
const HAND_HIGH: [f64; 3] = [0.5, 1.0, 0.5];
/// float32 in Meta-World's init_config.
const HAND_INIT_POS: [f64; 3] = [0.0, 0.4f32 as f64, 0.2f32 as f64];

/// window-open-v3.
pub struct Open;
pub type WindowOpen = Window<Open>;

impl Slide for Open {
    const SPEC: SawyerSpec = SawyerSpec {
        model: MODEL,
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        // The window's position.
        rand_vec_low: &[-0.1, 0.7, 0.16],
        rand_vec_high: &[0.1, 0.9, 0.16],
    };
    const HANDLE_SITE: &'static str = "handleOpenStart";
    const CLOSE: bool = false;
    const REACH_SIGMOID: Sigmoid = Sigmoid::LongTail;
}

/// window-close-v3.
pub struct Close;
pub type WindowClose = Window<Close>;

impl Slide for Close {
    const SPEC: SawyerSpec = SawyerSpec {
        model: MODEL,
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        rand_vec_low: &[0.0, 0.75, 0.2],
        rand_vec_high: &[0.0, 0.9, 0.2],
    };
    const HANDLE_SITE: &'static str = "handleCloseStart";
    const CLOSE: bool = true;
    const REACH_SIGMOID: Sigmoid = Sigmoid::Gaussian;
}
