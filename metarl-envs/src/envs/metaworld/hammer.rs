//! hammer-v3 (`sawyer_hammer_v3.py`): pick a hammer up and drive a nail into a box.

use super::push::observed_object;
use super::reward_utils::{distance, quat_alignment, tolerance, CagingDensity, Sigmoid};
use super::tool::{grab_info, handle_grasp, tool_reward};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// `HAMMER_HANDLE_LENGTH`.
const HANDLE_LENGTH: f64 = 0.14;
/// Where the box with the nail stands.
const BOX_POS: [f64; 3] = [0.24, 0.85, 0.0];

pub struct Hammer {
    hammer: usize,
    nail: usize,
    box_body: usize,
    goal_site: usize,
    nail_qpos_adr: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for Hammer {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_hammer.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.4, 0.2],
        // The hammer's position.
        rand_vec_low: &[-0.1, 0.4, 0.0],
        rand_vec_high: &[0.1, 0.5, 0.0],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let nail_joint = sim.model.joint_id("NailSlideJoint")?;
        Ok(Hammer {
            hammer: sim.model.body_id("hammer")?,
            nail: sim.model.body_id("nail_link")?,
            box_body: sim.model.body_id("box")?,
            goal_site: sim.model.site_id("goal")?,
            nail_qpos_adr: sim.model.jnt_qposadr()[nail_joint] as usize,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    /// The hammer at the rand vec; the goal is the nail box's `goal` site.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.set_body_pos(self.box_body, &BOX_POS);
        sim.reset_hand()?;
        self.target_pos = sim.site_xpos(self.goal_site);
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_obj_xyz(&self.obj_init_pos)
    }

    /// The hammer and the nail, each position and `xquat`.
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.hammer));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.hammer));
        slots[7..10].copy_from_slice(&sim.body_xpos(self.nail));
        slots[10..14].copy_from_slice(&sim.body_xquat(self.nail));
    }

    /// `compute_reward` (v2): grasp the handle, bring the head to the nail; done once the nail is
    /// driven in 0.09.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let hammer = observed_object(obs);
        let head = [hammer[0] + 0.16, hammer[1] + 0.06, hammer[2] + 0.0];
        let grab = handle_grasp(sim, obs, action, HANDLE_LENGTH / 2.0, &self.obj_init_pos, CagingDensity::High);
        let quat = quat_alignment(&obs[7..11], [1.0, 0.0, 0.0, 0.0], 0.4);
        let lifted = head[2] > 0.02;
        let in_place = 0.1 * f64::from(lifted)
            + 0.9 * tolerance(distance(&self.target_pos, &head), (0.0, 0.02), 0.2, Sigmoid::LongTail);
        let success = sim.data.qpos()[self.nail_qpos_adr] > 0.09;
        let reward = tool_reward(grab, quat, in_place);
        let reward = if success && reward > 5.0 { 10.0 } else { reward };
        (reward, grab_info(success, quat, grab, in_place, reward))
    }
}
