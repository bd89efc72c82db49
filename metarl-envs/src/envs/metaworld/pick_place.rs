//! pick-place-v3 (`sawyer_pick_place_v3.py`) and pick-place-wall-v3
//! (`sawyer_pick_place_wall_v3.py`): pick a puck up and place it at a goal in the air, the second
//! time over a wall.

use std::marker::PhantomData;

use super::push::observed_object;
use super::puck::{Puck, PuckPoint};
use super::reward_utils::{distance, hamacher_product, midpoint_in_place, tolerance, wall_bonus, Caging, CagingDensity, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// What differs between pick-place and pick-place-wall.
pub trait PickPlaceVariant: Send + 'static {
    const SPEC: SawyerSpec;
    /// The point `_get_pos_objects` reports.
    const POINT: PuckPoint;
    /// Over the wall, through a midpoint above it.
    const WALL: bool;
}

pub struct Open;
pub struct Wall;

impl PickPlaceVariant for Open {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_pick_place_v3.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Object position, then goal position.
        rand_vec_low: &[-0.1, 0.6, 0.02, -0.1, 0.8, 0.05],
        rand_vec_high: &[0.1, 0.7, 0.02, 0.1, 0.9, 0.3],
    };
    const POINT: PuckPoint = PuckPoint::Body;
    const WALL: bool = false;
}

impl PickPlaceVariant for Wall {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_pick_place_wall_v3.xml",
        rand_vec_low: &[-0.05, 0.6, 0.015, -0.05, 0.85, 0.05],
        rand_vec_high: &[0.05, 0.65, 0.015, 0.05, 0.9, 0.3],
        ..Open::SPEC
    };
    const POINT: PuckPoint = PuckPoint::Geom;
    const WALL: bool = true;
}

pub struct PickPlacing<V> {
    puck: Puck,
    variant: PhantomData<V>,
}

pub type PickPlace = PickPlacing<Open>;
pub type PickPlaceWall = PickPlacing<Wall>;

/// pick-place's own `_gripper_caging_reward`: the pads caging the puck in y (margins from the
/// pads' current positions), the gripper centre near it in x-z, and the gripper closing once caged.
fn pick_place_caging(sim: &Sawyer, action: &[f64], obj: &[f64; 3], obj_init: &[f64; 3]) -> f64 {
    let [left_caging, right_caging] = sim.pad_y_tolerances(obj, (0.015, 0.05));
    let y_caging = hamacher_product(left_caging, right_caging);
    let caging = hamacher_product(y_caging, sim.xz_caging(obj, obj_init, 0.005));
    let gripper_closed = action[3].max(0.0).min(1.0);
    let gripping = if caging > 0.97 { gripper_closed } else { 0.0 };
    (hamacher_product(caging, gripping) + caging) / 2.0
}

impl<V: PickPlaceVariant> SawyerTask for PickPlacing<V> {
    const READS_CONTACT_FORCES: bool = true;
    const SPEC: SawyerSpec = V::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(PickPlacing { puck: Puck::new(sim, V::POINT)?, variant: PhantomData })
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

    /// `compute_reward` (v2): grasp and placement combined, a bonus once lifted in the grasp.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let (obj_init, target) = (self.puck.obj_init_pos, self.puck.target_pos);
        let obj = observed_object(obs);
        let tcp_opened = obs[3];
        let obj_to_target = distance(&obj, &target);
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let in_place_margin = distance(&obj_init, &target);
        let in_place = tolerance(obj_to_target, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);
        let mut reward;
        let object_grasped;
        if V::WALL {
            let caging = Caging {
                obj_radius: 0.015,
                pad_success_thresh: 0.05,
                object_reach_radius: 0.01,
                xz_thresh: 0.005,
                desired_gripper_effort: 1.0,
                density: CagingDensity::Plain,
            };
            object_grasped = sim.gripper_caging_reward(action, &obj, &obj_init, &caging);
            let in_place_midpoint = midpoint_in_place(&obj, &obj_init, &[target[0], 0.77, 0.25], [1.0, 1.0, 3.0]);
            let base = hamacher_product(object_grasped, in_place_midpoint);
            reward = base;
            if tcp_to_obj < 0.02 && tcp_opened > 0.0 && obj[2] - 0.015 > obj_init[2] {
                reward = wall_bonus(base, &obj, in_place_midpoint, in_place);
            }
        } else {
            object_grasped = pick_place_caging(sim, action, &obj, &obj_init);
            reward = hamacher_product(object_grasped, in_place);
            if tcp_to_obj < 0.02 && tcp_opened > 0.0 && obj[2] - 0.01 > obj_init[2] {
                reward += 1.0 + 5.0 * in_place;
            }
        }
        if obj_to_target < TARGET_RADIUS {
            reward = 10.0;
        }
        let info = Info {
            success: obj_to_target <= 0.07,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(self.puck.grasped(sim, obs)),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }

    fn target_pos(&self) -> [f64; 3] {
        self.puck.target_pos
    }
}
