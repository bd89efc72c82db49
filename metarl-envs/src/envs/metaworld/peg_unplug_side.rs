//! peg-unplug-side-v3 (`sawyer_peg_unplug_side_v3.py`): pull a plug sideways out of a socket.

use super::push::observed_object;
use super::reward_utils::{distance, tolerance, Caging, CagingDensity, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

pub struct PegUnplugSide {
    box_body: usize,
    plug: usize,
    peg_end: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for PegUnplugSide {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_peg_unplug_side.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // The socket box's position.
        rand_vec_low: &[-0.25, 0.6, -0.001],
        rand_vec_high: &[-0.15, 0.8, 0.001],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(PegUnplugSide {
            box_body: sim.model.body_id("box")?,
            plug: sim.model.body_id("plug1")?,
            peg_end: sim.model.site_id("pegEnd")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    /// The box at the rand vec with the plug in it, upright (the env's own `_set_obj_xyz`
    /// zeroes only the plug's linear velocity); the goal 0.15 further along x.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let box_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.box_body, &box_pos);
        sim.reset_hand()?;
        let plug = [box_pos[0] + 0.044, box_pos[1] + 0.0, box_pos[2] + 0.131];
        sim.data.qpos_mut()[9..12].copy_from_slice(&plug);
        sim.data.qpos_mut()[12..16].copy_from_slice(&[1.0, 0.0, 0.0, 0.0]);
        sim.data.qvel_mut()[9..12].fill(0.0);
        sim.forward()?;
        self.obj_init_pos = sim.site_xpos(self.peg_end);
        self.target_pos = [plug[0] + 0.15, plug[1] + 0.0, plug[2] + 0.0];
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    /// The plug's end and the plug's `xquat`.
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.site_xpos(self.peg_end));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.plug));
    }

    /// `compute_reward` (v2): cage the plug, then pull it out along x to the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_opened = obs[3];
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let obj_to_target = distance(&obj, &self.target_pos);
        let caging = Caging {
            obj_radius: 0.025,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.005,
            desired_gripper_effort: 0.8,
            density: CagingDensity::High,
        };
        let object_grasped = sim.gripper_caging_reward(action, &obj, &self.obj_init_pos, &caging);
        let in_place_margin = distance(&self.obj_init_pos, &self.target_pos);
        let in_place = tolerance(obj_to_target, (0.0, 0.05), in_place_margin, Sigmoid::LongTail);
        let grasp_success = tcp_opened > 0.5 && obj[0] - self.obj_init_pos[0] > 0.015;
        let reward = if obj_to_target <= 0.05 {
            10.0
        } else if grasp_success && tcp_to_obj < 0.035 {
            1.0 + 2.0 * object_grasped + 5.0 * in_place
        } else {
            2.0 * object_grasped
        };
        let info = Info {
            success: obj_to_target <= 0.07,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(grasp_success),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
