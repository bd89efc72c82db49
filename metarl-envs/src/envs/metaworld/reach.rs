//! reach-v3 (`sawyer_reach_v3.py`) and reach-wall-v3 (`sawyer_reach_wall_v3.py`): bring the
//! gripper centre to a goal in the air, the second time with a wall in between.

use std::marker::PhantomData;

use super::puck::{Puck, PuckPoint};
use super::reward_utils::{distance, tolerance, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// What differs between reach and reach-wall.
pub trait ReachVariant: Send + 'static {
    const SPEC: SawyerSpec;
    /// reach-wall's info reports only the distance to the goal.
    const WALL: bool;
}

pub struct Open;
pub struct Wall;

impl ReachVariant for Open {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_reach_v3.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Object position, then goal position.
        rand_vec_low: &[-0.1, 0.6, 0.02, -0.1, 0.8, 0.05],
        rand_vec_high: &[0.1, 0.7, 0.02, 0.1, 0.9, 0.3],
    };
    const WALL: bool = false;
}

impl ReachVariant for Wall {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_reach_wall_v3.xml",
        rand_vec_low: &[-0.05, 0.6, 0.015, -0.05, 0.85, 0.05],
        rand_vec_high: &[0.05, 0.65, 0.015, 0.05, 0.9, 0.3],
        ..Open::SPEC
    };
    const WALL: bool = true;
}

pub struct Reaching<V> {
    puck: Puck,
    variant: PhantomData<V>,
}

pub type Reach = Reaching<Open>;
pub type ReachWall = Reaching<Wall>;

impl<V: ReachVariant> SawyerTask for Reaching<V> {
    const SPEC: SawyerSpec = V::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Reaching { puck: Puck::new(sim, PuckPoint::Body)?, variant: PhantomData })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        Puck::rejects(rand_vec)
    }

    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        let obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        self.puck.place(sim, obj_init_pos, [rand_vec[3], rand_vec[4], rand_vec[5]])
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.puck.objects(sim, slots);
    }

    /// `compute_reward` (v2): 10 × how close the gripper centre is to the goal.
    fn evaluate(&self, sim: &Sawyer, _obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let target = self.puck.target_pos;
        let tcp_to_target = distance(&sim.tcp_center(), &target);
        let in_place_margin = distance(&V::SPEC.hand_init_pos, &target);
        let in_place = tolerance(tcp_to_target, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);
        let reward = 10.0 * in_place;
        let reported = if V::WALL { 0.0 } else { tcp_to_target };
        let info = Info {
            success: tcp_to_target <= TARGET_RADIUS,
            near_object: reported,
            grasp_success: if V::WALL { 0.0 } else { 1.0 },
            grasp_reward: reported,
            in_place_reward: in_place,
            obj_to_target: tcp_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }

    fn target_pos(&self) -> [f64; 3] {
        self.puck.target_pos
    }
}
