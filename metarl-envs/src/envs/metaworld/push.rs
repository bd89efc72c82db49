//! push-v3 (`sawyer_push_v3.py`), push-wall-v3 (`sawyer_push_wall_v3.py`) and push-back-v3
//! (`sawyer_push_back_v3.py`): push a puck to a goal on the table; around a wall; towards the arm.

use std::marker::PhantomData;

use super::puck::{Puck, PuckPoint};
use super::reward_utils::{distance, hamacher_product, midpoint_in_place, tolerance, wall_bonus, Caging, CagingDensity, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// The object's position in the observation, `obs[4:7]`.
pub(super) fn observed_object(obs: &[f64; OBS_DIM]) -> [f64; 3] {
    [obs[4], obs[5], obs[6]]
}

/// What differs between the push envs.
pub trait PushVariant: Send + 'static {
    const SPEC: SawyerSpec;
    /// The point `_get_pos_objects` reports, whose height the object and goal take.
    const POINT: PuckPoint;
    const SHAPE: PushShape;
    /// `success` within this distance.
    const SUCCESS_RADIUS: f64;
}

/// The `compute_reward`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushShape {
    /// Caging, then a bonus towards the goal once the gripper is on the puck.
    Straight,
    /// The same, towards a midpoint beside the wall first.
    AroundWall,
    /// The env's own caging and gripping reward with the placement, a bonus once pushed.
    Back,
}

pub struct Straight;
pub struct AroundWall;
pub struct Back;

impl PushVariant for Straight {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_push_v3.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Object position, then goal position (whose z is replaced by the object's).
        rand_vec_low: &[-0.1, 0.6, 0.02, -0.1, 0.8, 0.01],
        rand_vec_high: &[0.1, 0.7, 0.02, 0.1, 0.9, 0.02],
    };
    const POINT: PuckPoint = PuckPoint::Body;
    const SHAPE: PushShape = PushShape::Straight;
    const SUCCESS_RADIUS: f64 = TARGET_RADIUS;
}

impl PushVariant for AroundWall {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_push_wall_v3.xml",
        rand_vec_low: &[-0.05, 0.6, 0.015, -0.05, 0.85, 0.01],
        rand_vec_high: &[0.05, 0.65, 0.015, 0.05, 0.9, 0.02],
        ..Straight::SPEC
    };
    const POINT: PuckPoint = PuckPoint::Geom;
    const SHAPE: PushShape = PushShape::AroundWall;
    const SUCCESS_RADIUS: f64 = 0.07;
}

impl PushVariant for Back {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_push_back_v3.xml",
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        rand_vec_low: &[-0.1, 0.8, 0.02, -0.1, 0.6, 0.0199],
        rand_vec_high: &[0.1, 0.85, 0.02, 0.1, 0.7, 0.0201],
        ..Straight::SPEC
    };
    const POINT: PuckPoint = PuckPoint::Geom;
    const SHAPE: PushShape = PushShape::Back;
    const SUCCESS_RADIUS: f64 = 0.07;
}

pub struct Pushing<V> {
    puck: Puck,
    variant: PhantomData<V>,
}

pub type Push = Pushing<Straight>;
pub type PushWall = Pushing<AroundWall>;
pub type PushBack = Pushing<Back>;

/// The caging reward of push and push-wall.
const CAGING: Caging = Caging {
    obj_radius: 0.015,
    pad_success_thresh: 0.05,
    object_reach_radius: 0.01,
    xz_thresh: 0.005,
    desired_gripper_effort: 1.0,
    density: CagingDensity::High,
};

/// push-back's block half-width (`OBJ_RADIUS`).
const BACK_OBJ_RADIUS: f64 = 0.007;

impl<V: PushVariant> SawyerTask for Pushing<V> {
    const READS_CONTACT_FORCES: bool = true;
    const SPEC: SawyerSpec = V::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Pushing { puck: Puck::new(sim, V::POINT)?, variant: PhantomData })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        Puck::rejects(rand_vec)
    }

    /// Object and goal at the rand vec's x-y, both at the height the object has after the
    /// hand reset.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        let height = self.puck.position(sim)[2];
        self.puck.place(sim, [rand_vec[0], rand_vec[1], height], [rand_vec[3], rand_vec[4], height])
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.puck.objects(sim, slots);
    }

    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let (obj_init, target) = (self.puck.obj_init_pos, self.puck.target_pos);
        let obj = observed_object(obs);
        let tcp_opened = obs[3];
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let target_to_obj = distance(&obj, &target);
        let target_to_obj_init = distance(&obj_init, &target);
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), target_to_obj_init, Sigmoid::LongTail);
        let object_grasped = match V::SHAPE {
            PushShape::Back => sim.pad_gripping_reward(&obj, &obj_init, BACK_OBJ_RADIUS, BACK_OBJ_RADIUS + 0.003, 0.01),
            PushShape::Straight | PushShape::AroundWall => sim.gripper_caging_reward(action, &obj, &obj_init, &CAGING),
        };
        let on_puck = tcp_to_obj < 0.02 && tcp_opened > 0.0;
        let mut reward = match V::SHAPE {
            PushShape::Straight => {
                let mut reward = 2.0 * object_grasped;
                if on_puck {
                    reward += 1.0 + reward + 5.0 * in_place;
                }
                reward
            }
            PushShape::AroundWall if on_puck => {
                let in_place_midpoint = midpoint_in_place(&obj, &obj_init, &[-0.05, 0.77, obj[2]], [3.0, 1.0, 1.0]);
                wall_bonus(2.0 * object_grasped, &obj, in_place_midpoint, in_place)
            }
            PushShape::AroundWall => 2.0 * object_grasped,
            PushShape::Back => {
                let mut reward = hamacher_product(object_grasped, in_place);
                let pushed = target_to_obj_init - target_to_obj > 0.01;
                if tcp_to_obj < 0.01 && 0.0 < tcp_opened && tcp_opened < 0.55 && pushed {
                    reward += 1.0 + 5.0 * in_place;
                }
                reward
            }
        };
        if target_to_obj < TARGET_RADIUS {
            reward = 10.0;
        }
        let info = Info {
            success: target_to_obj <= V::SUCCESS_RADIUS,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(self.puck.grasped(sim, obs)),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target: target_to_obj,
            unscaled_reward: reward,
        };
        (reward, info)
    }

    fn target_pos(&self) -> [f64; 3] {
        self.puck.target_pos
    }
}
