//! soccer-v3 (`sawyer_soccer_v3.py`): push a ball into a goal.

use super::push::observed_object;
use super::reward_utils::{distance, tolerance, Sigmoid};
use super::{goal_near_object, norm, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// The ball's `OBJ_RADIUS`.
const OBJ_RADIUS: f64 = 0.013;
/// soccer's `TARGET_RADIUS`.
const TARGET_RADIUS: f64 = 0.07;
/// The ball's initial height (`init_config`'s, which the reset keeps).
const BALL_HEIGHT: f64 = 0.03;

pub struct Soccer {
    ball: usize,
    ball_geom: usize,
    goal_body: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for Soccer {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_soccer.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Ball position, then goal position.
        rand_vec_low: &[-0.1, 0.6, 0.03, -0.1, 0.8, 0.0],
        rand_vec_high: &[0.1, 0.7, 0.03, 0.1, 0.9, 0.0],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Soccer {
            ball: sim.model.body_id("soccer_ball")?,
            ball_geom: sim.model.geom_id("objGeom")?,
            goal_body: sim.model.body_id("goal_whole")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        goal_near_object(rand_vec)
    }

    /// The goal (net and site) at the rand vec's goal, the ball at rest at its x-y.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        sim.set_body_pos(self.goal_body, &self.target_pos);
        sim.reset_hand()?;
        self.obj_init_pos = [rand_vec[0], rand_vec[1], BALL_HEIGHT];
        sim.set_obj_xyz(&self.obj_init_pos)?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.ball));
        slots[3..7].copy_from_slice(&sim.body_quat(self.ball));
    }

    /// `compute_reward` (v2): caging the ball, and the ball near the goal (x errors count
    /// triple), less for a ball past the goal line beside the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let (obj_init, target) = (self.obj_init_pos, self.target_pos);
        let obj = observed_object(obs);
        let tcp_opened = obs[3];
        let x_scaled = |a: &[f64; 3], b: &[f64; 3]| norm(&[(a[0] - b[0]) * 3.0, (a[1] - b[1]) * 1.0, (a[2] - b[2]) * 1.0]);
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let target_to_obj = x_scaled(&obj, &target);
        // Meta-World measures the margin from the ball's current position.
        let target_to_obj_init = x_scaled(&obj, &obj_init);
        let mut in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), target_to_obj_init, Sigmoid::LongTail);
        let goal_line = target[1] - 0.1;
        if obj[1] > goal_line && (obj[0] - target[0]).abs() > 0.10 {
            in_place = (in_place - 2.0 * ((obj[1] - goal_line) / (1.0 - goal_line))).clamp(0.0, 1.0);
        }
        let object_grasped = sim.pad_gripping_reward(&obj, &obj_init, OBJ_RADIUS, OBJ_RADIUS + 0.01, 0.005);
        let mut reward = 3.0 * object_grasped + 6.5 * in_place;
        if target_to_obj < TARGET_RADIUS {
            reward = 10.0;
        }
        let obj_to_target = distance(&obj, &target);
        let lifted = obj[2] - 0.02 > obj_init[2];
        let info = Info {
            success: obj_to_target <= 0.07,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(sim.touching_object(self.ball_geom) && tcp_opened > 0.0 && lifted),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
