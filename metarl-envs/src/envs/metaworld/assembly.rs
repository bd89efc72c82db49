//! assembly-v3 and disassemble-v3 (`sawyer_assembly_peg_v3.py`, `sawyer_disassemble_peg_v3.py`):
//! a round nut with a wrench handle, to put onto a peg or to lift off it.

use super::reward_utils::{quat_alignment, scaled_distance, tolerance, CagingDensity, Sigmoid};
use super::tool::{grab_info, handle_grasp, tool_reward};
use super::{norm, xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// `WRENCH_HANDLE_LENGTH`.
const HANDLE_LENGTH: f64 = 0.02;
/// The nut's orientation when its handle points along the table's x axis (w, x, y, z).
const IDEAL_QUAT: [f64; 4] = [0.707, 0.0, 0.0, 0.707];
/// Low, then high bounds of the hand (the mocap box).
const HAND_LOW: [f64; 3] = [-0.5, 0.40, 0.05];
const HAND_HIGH: [f64; 3] = [0.5, 1.0, 0.5];

/// The nut and peg of the shared model.
struct NutAndPeg {
    nut: usize,
    /// `RoundNut`, the nut's centre, and `RoundNut-8`, on its handle.
    nut_center: usize,
    handle: usize,
    peg: usize,
    peg_top: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl NutAndPeg {
    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(NutAndPeg {
            nut: sim.model.body_id("RoundNut")?,
            nut_center: sim.model.site_id("RoundNut")?,
            handle: sim.model.site_id("RoundNut-8")?,
            peg: sim.model.body_id("peg")?,
            peg_top: sim.model.site_id("pegTop")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    /// The handle and the nut's `xquat`.
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.site_xpos(self.handle));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.nut));
    }

    /// The grasp of the handle and how well the nut is turned.
    fn grab_and_quat(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64], density: CagingDensity) -> (f64, f64) {
        let grab = handle_grasp(sim, obs, action, HANDLE_LENGTH / 2.0, &self.obj_init_pos, density);
        (grab, quat_alignment(&obs[7..11], IDEAL_QUAT, 0.4))
    }
}

/// The nut and the peg top are over 0.1 apart in x-y.
fn rejects_close_peg(rand_vec: &[f64]) -> bool {
    xy_distance(rand_vec, &rand_vec[3..]) < 0.1
}

pub struct Assembly(NutAndPeg);

impl SawyerTask for Assembly {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.0.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_assembly_peg.xml",
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        // Nut position, then the peg top's.
        rand_vec_low: &[0.0, 0.6, 0.02, -0.1, 0.75, 0.1],
        rand_vec_high: &[0.0, 0.6, 0.02, 0.1, 0.85, 0.1],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        NutAndPeg::new(sim).map(Assembly)
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        rejects_close_peg(rand_vec)
    }

    /// The peg under the goal (its top), the nut at the rand vec.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let task = &mut self.0;
        task.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        task.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        let target = task.target_pos;
        sim.set_body_pos(task.peg, &[target[0] - 0.0, target[1] - 0.0, target[2] - 0.05]);
        sim.set_site_pos(task.peg_top, &target);
        sim.reset_hand()?;
        sim.set_obj_xyz(&task.obj_init_pos)
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.0.objects(sim, slots);
    }

    /// `compute_reward` (v2): grasp the handle, lift the nut and lower it round the peg; done
    /// once the nut's centre is within 0.02 of the peg in x-y and below its top.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let task = &self.0;
        let (grab, quat) = task.grab_and_quat(sim, obs, action, CagingDensity::Medium);
        let center = sim.site_xpos(task.nut_center);
        let target = task.target_pos;
        let radius = xy_distance(&target, &center);
        let success = radius < 0.02 && target[2] - center[2] > 0.0;
        let threshold = if success { 0.02 } else { 0.01 };
        // Above the peg the nut should be high enough to clear it, the more so the farther.
        let target_height = if radius > threshold { 0.02 * (radius - threshold).ln() + 0.2 } else { 0.0 };
        let aim = [target[0], target[1], target_height];
        let lifted = center[2] > 0.02 || radius < threshold;
        let in_place = 0.1 * f64::from(lifted)
            + 0.9 * tolerance(scaled_distance(&aim, &center, [1.0, 1.0, 3.0]), (0.0, 0.02), 0.4, Sigmoid::LongTail);
        let reward = if success { 10.0 } else { tool_reward(grab, quat, in_place) };
        (reward, grab_info(success, quat, grab, in_place, reward))
    }
}

pub struct Disassemble(NutAndPeg);

impl SawyerTask for Disassemble {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.0.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_assembly_peg.xml",
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.4f32 as f64, 0.2f32 as f64],
        // Nut position (the peg's too), then a goal whose only use is the resampling.
        rand_vec_low: &[0.0, 0.6, 0.025, -0.1, 0.6, 0.1699],
        rand_vec_high: &[0.1, 0.75, 0.02501, 0.1, 0.75, 0.1701],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        NutAndPeg::new(sim).map(Disassemble)
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        rejects_close_peg(rand_vec)
    }

    /// The peg and the nut round it at the rand vec; the goal 0.15 above the nut.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let task = &mut self.0;
        let obj = [rand_vec[0], rand_vec[1], rand_vec[2]];
        task.obj_init_pos = obj;
        task.target_pos = [obj[0] + 0.0, obj[1] + 0.0, obj[2] + 0.15];
        sim.set_body_pos(task.peg, &[obj[0] + 0.0, obj[1] + 0.0, obj[2] + 0.03]);
        sim.set_site_pos(task.peg_top, &[obj[0] + 0.0, obj[1] + 0.0, obj[2] + 0.08]);
        sim.reset_hand()?;
        sim.forward()?;
        sim.set_obj_xyz(&obj)
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.0.objects(sim, slots);
    }

    /// `compute_reward` (v2): grasp the handle and lift the nut 0.1 above the goal; done once
    /// the handle is above the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let task = &self.0;
        let (grab, quat) = task.grab_and_quat(sim, obs, action, CagingDensity::High);
        let center = sim.site_xpos(task.nut_center);
        let target = task.target_pos;
        let pos_error = [target[0] + 0.0 - center[0], target[1] + 0.0 - center[1], target[2] + 0.1 - center[2]];
        let lifted = center[2] > 0.02;
        let in_place = 0.1 * f64::from(lifted) + 0.9 * tolerance(norm(&pos_error), (0.0, 0.02), 0.2, Sigmoid::LongTail);
        let success = obs[6] > target[2];
        let reward = if success { 10.0 } else { tool_reward(grab, quat, in_place) };
        (reward, grab_info(success, quat, grab, in_place, reward))
    }
}
