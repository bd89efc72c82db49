//! dial-turn-v3 (`sawyer_dial_turn_v3.py`): turn a dial by pushing its knob round.

use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// dial-turn's `TARGET_RADIUS`.
const TARGET_RADIUS: f64 = 0.07;
/// The knob's distance from the dial's axis.
const DIAL_RADIUS: f64 = 0.05;
/// Where the gripper pushes the knob from, relative to the knob.
const PUSH_OFFSET: [f64; 3] = [0.05, 0.02, 0.09];

pub struct DialTurn {
    dial: usize,
    knob_qpos_adr: usize,
    goal_site: usize,
    target_pos: [f64; 3],
    /// `dial_push_position` at reset.
    push_init_pos: [f64; 3],
}

impl DialTurn {
    /// `_get_pos_objects`: the knob, on the dial's rim at the dial's angle.
    fn knob_pos(&self, sim: &Sawyer) -> [f64; 3] {
        let center = sim.body_xpos(self.dial);
        let angle = sim.data.qpos()[self.knob_qpos_adr];
        let offset = [angle.sin() * DIAL_RADIUS, -angle.cos() * DIAL_RADIUS, 0.0];
        [0, 1, 2].map(|i| center[i] + offset[i])
    }

    fn push_pos(&self, sim: &Sawyer) -> [f64; 3] {
        let knob = self.knob_pos(sim);
        [0, 1, 2].map(|i| knob[i] + PUSH_OFFSET[i])
    }
}

impl SawyerTask for DialTurn {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_dial.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        // The dial's position.
        rand_vec_low: &[-0.1, 0.7, 0.0],
        rand_vec_high: &[0.1, 0.8, 0.0],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let knob = sim.model.joint_id("knob_Joint_1")?;
        Ok(DialTurn {
            dial: sim.model.body_id("dial")?,
            knob_qpos_adr: sim.model.jnt_qposadr()[knob] as usize,
            goal_site: sim.model.site_id("goal")?,
            target_pos: [0.0; 3],
            push_init_pos: [0.0; 3],
        })
    }

    /// The dial at the rand vec; the goal 0.03 behind and above it. Meta-World runs no
    /// `mj_forward` after this reset.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let dial_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.dial, &dial_pos);
        sim.reset_hand()?;
        self.target_pos = [dial_pos[0] + 0.0, dial_pos[1] + 0.03, dial_pos[2] + 0.03];
        self.push_init_pos = self.push_pos(sim);
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&self.knob_pos(sim));
        slots[3..7].copy_from_slice(&sim.data.xquat()[4 * self.dial..4 * self.dial + 4]);
    }

    /// `compute_reward` (v2): reach the push position with the gripper closing, and the
    /// knob's distance to the goal.
    fn evaluate(&self, sim: &Sawyer, _obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = self.knob_pos(sim);
        let target_to_obj = distance(&obj, &self.target_pos);
        let target_to_obj_init = distance(&self.push_init_pos, &self.target_pos);
        let in_place_margin = (target_to_obj_init - TARGET_RADIUS).abs();
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);

        let dial_reach_radius = 0.005;
        let tcp_to_obj = distance(&self.push_pos(sim), &sim.tcp_center());
        let tcp_to_obj_init = distance(&self.push_init_pos, &sim.init_tcp());
        let reach_margin = (tcp_to_obj_init - dial_reach_radius).abs();
        let reach = tolerance(tcp_to_obj, (0.0, dial_reach_radius), reach_margin, Sigmoid::Gaussian);
        let gripper_closed = action[3].max(0.0).min(1.0);
        let reach = hamacher_product(reach, gripper_closed);
        let reward = 10.0 * hamacher_product(reach, in_place);
        let info = Info {
            success: target_to_obj <= TARGET_RADIUS,
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
