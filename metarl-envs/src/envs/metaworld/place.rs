//! The grasp-and-place reward of pick-place, shared by the envs that carry an object to a goal
//! the same way (basketball, bin-picking, hand-insert, peg-insert-side, pick-out-of-hole,
//! shelf-place): the grasp and the placement combined by Hamacher product, a bonus while the
//! object is held, and the full reward once it is in place.

use super::reward_utils::hamacher_product;
use super::Sawyer;

/// The object is held up: the gripper centre within `radius` of it, the fingers apart, and the
/// object over 1 cm above its start.
pub(super) fn held_up(tcp_to_obj: f64, radius: f64, tcp_opened: f64, obj_z: f64, init_z: f64) -> bool {
    tcp_to_obj < radius && tcp_opened > 0.0 && obj_z - 0.01 > init_z
}

/// `hamacher_product(grasped, in_place)`, plus `1 + bonus` while `held` gives a bonus; 10 once
/// `placed`.
pub(super) fn grasp_and_place(grasped: f64, in_place: f64, held: Option<f64>, placed: bool) -> f64 {
    if placed {
        return 10.0;
    }
    hamacher_product(grasped, in_place) + held.map_or(0.0, |bonus| 1.0 + bonus)
}

/// The `grasp_success` of the info: both pads push on the object's geom, the fingers are apart
/// and the object is over 2 cm above its start.
pub(super) fn lifted_in_grasp(sim: &Sawyer, geom: usize, tcp_opened: f64, obj_z: f64, init_z: f64) -> bool {
    obj_z - 0.02 > init_z && tcp_opened > 0.0 && sim.touching_object(geom)
}
