//! What assembly, disassemble and hammer share: a tool picked up by its handle, its grasp
//! reward and the way they score it.

use super::push::observed_object;
use super::reward_utils::{Caging, CagingDensity};
use super::{Info, Sawyer, OBS_DIM};

/// The caging reward at the tool's handle (`obs[4:7]`), whose x is taken to be the hand's while
/// it is within `half_length` of it: anywhere along the handle is a good grasp.
pub(super) fn handle_grasp(
    sim: &Sawyer,
    obs: &[f64; OBS_DIM],
    action: &[f64],
    half_length: f64,
    obj_init_pos: &[f64; 3],
    density: CagingDensity,
) -> f64 {
    let mut handle = observed_object(obs);
    if (handle[0] - obs[0]).abs() < half_length {
        handle[0] = obs[0];
    }
    let caging = Caging {
        obj_radius: 0.015,
        pad_success_thresh: 0.02,
        object_reach_radius: 0.01,
        xz_thresh: 0.01,
        desired_gripper_effort: 1.0,
        density,
    };
    sim.gripper_caging_reward(action, &handle, obj_init_pos, &caging)
}

/// The reward short of success: grasping and placing, scaled by how well the tool is turned.
pub(super) fn tool_reward(grab: f64, quat: f64, in_place: f64) -> f64 {
    (2.0 * grab + 6.0 * in_place) * quat
}

/// The info of the envs whose `compute_reward` returns (reward, grab, ready, in place, success):
/// a grasp reward of at least 0.5 counts as `grasp_success`.
pub(super) fn grab_info(success: bool, ready: f64, grab: f64, in_place: f64, reward: f64) -> Info {
    Info {
        success,
        near_object: ready,
        grasp_success: f64::from(grab >= 0.5),
        grasp_reward: grab,
        in_place_reward: in_place,
        obj_to_target: 0.0,
        unscaled_reward: reward,
    }
}
