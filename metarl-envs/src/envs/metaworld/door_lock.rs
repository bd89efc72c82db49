//! The lock on a door (`sawyer_door_lock.xml`): door-lock-v3 (`sawyer_door_lock_v3.py`), turn
//! the lock's lever down, and door-unlock-v3 (`sawyer_door_unlock_v3.py`), push it round from
//! the locked position. They share the model, the spec and the observed lever ([`Lock`]).
//!
//! Both envs keep `obj_init_pos` as a view of `data.body("lock_link").xpos`, and door-lock reads
//! `init_left_pad`, a view of the left pad's `xpos`: their rewards see these positions as they
//! are at the step, which is what the rewards here read.

use super::push::observed_object;
use super::reward_utils::{hamacher_product, tolerance, Sigmoid};
use super::{norm, Info, Sawyer, SawyerSpec, SawyerTask, FRAME_SKIP, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// `_lock_length`: the lever's travel, the margin of its reward.
const LOCK_LENGTH: f64 = 0.1;
/// How both rewards weigh the x, y and z of the gripper's distance to the lever.
const SCALE: [f64; 3] = [0.25, 1.0, 0.5];

const SPEC: SawyerSpec = SawyerSpec {
    model: "sawyer_xyz/sawyer_door_lock.xml",
    hand_low: [-0.5, 0.40, -0.15],
    hand_high: [0.5, 1.0, 0.5],
    // float32 in Meta-World's init_config.
    hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
    // The door's position.
    rand_vec_low: &[-0.1, 0.8, 0.15],
    rand_vec_high: &[0.1, 0.85, 0.15],
};

/// The door, the lock's lever and the site that marks it.
struct Lock {
    door: usize,
    lock_link: usize,
    door_link: usize,
    lever_site: usize,
}

impl Lock {
    fn new(sim: &Sawyer, lever_site: &str) -> Result<Self, EnvError> {
        Ok(Lock {
            door: sim.model.body_id("door")?,
            lock_link: sim.model.body_id("lock_link")?,
            door_link: sim.model.body_id("door_link")?,
            lever_site: sim.model.site_id(lever_site)?,
        })
    }

    /// The lever's site and the door link's `xquat`.
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.site_xpos(self.lever_site));
        slots[3..7].copy_from_slice(&sim.data.xquat()[4 * self.door_link..4 * self.door_link + 4]);
    }

    /// `obj_init_pos`: the lock link's position, now.
    fn lock_link_pos(&self, sim: &Sawyer) -> [f64; 3] {
        sim.body_xpos(self.lock_link)
    }
}

/// `np.linalg.norm((a - b) * SCALE)`.
fn scaled_distance(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    norm(&[0, 1, 2].map(|i| (a[i] - b[i]) * SCALE[i]))
}

/// The info both envs report: the gripper's distance to the lever and its closeness reward,
/// the lever's distance to the target and its reward.
fn lock_info(obs: &[f64; OBS_DIM], tcp_to_obj: f64, near: f64, obj_to_target: f64, pressed: f64, reward: f64) -> Info {
    Info {
        success: obj_to_target <= 0.02,
        near_object: f64::from(tcp_to_obj <= 0.05),
        grasp_success: f64::from(obs[3] > 0.0),
        grasp_reward: near,
        in_place_reward: pressed,
        obj_to_target,
        unscaled_reward: reward,
    }
}

/// door-lock-v3.
pub struct DoorLock {
    lock: Lock,
    target_pos: [f64; 3],
}

impl SawyerTask for DoorLock {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(DoorLock { lock: Lock::new(sim, "lockStartLock")?, target_pos: [0.0; 3] })
    }

    /// The door at the rand vec, then `frame_skip` bare `mj_step`s (the hand reset's controls
    /// kept) so the lock settles; the target 0.04 in front of and 0.1 below the lock link.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.set_body_pos(self.lock.door, &[rand_vec[0], rand_vec[1], rand_vec[2]]);
        sim.reset_hand()?;
        sim.data.step(&sim.model, FRAME_SKIP)?;
        let lock_link = self.lock.lock_link_pos(sim);
        self.target_pos = [lock_link[0] + 0.0, lock_link[1] + -0.04, lock_link[2] + -0.1];
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.lock.objects(sim, slots);
    }

    /// `compute_reward` (v2): the left pad near the lever with the gripper open, and the
    /// lever's height to the target. The "initial" distance is the current one (see above).
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_to_obj = scaled_distance(&obj, &sim.left_pad());
        let tcp_to_obj_init = tcp_to_obj;
        let obj_to_target = (self.target_pos[2] - obj[2]).abs();
        let tcp_opened = obs[3].max(0.0);
        let near_lock = tolerance(tcp_to_obj, (0.0, 0.01), tcp_to_obj_init, Sigmoid::LongTail);
        let lock_pressed = tolerance(obj_to_target, (0.0, 0.005), LOCK_LENGTH, Sigmoid::LongTail);
        let reward = 2.0 * hamacher_product(tcp_opened, near_lock) + 8.0 * lock_pressed;
        (reward, lock_info(obs, tcp_to_obj, near_lock, obj_to_target, lock_pressed, reward))
    }
}

/// door-unlock-v3.
pub struct DoorUnlock {
    lock: Lock,
    target_pos: [f64; 3],
}

impl DoorUnlock {
    /// The lever's hinge, `qpos[9]` and `qvel[9]` (what Meta-World's `_set_obj_xyz` here writes).
    const LEVER: usize = 9;
    /// The lever's angle at reset: locked, a quarter turn down (Meta-World's 1.5708).
    const LOCKED_ANGLE: f64 = 1.5708;
    /// From the gripper to its shoulder, which the reward tracks rather than the fingers.
    const SHOULDER_OFFSET: [f64; 3] = [0.0, 0.055, 0.07];
}

impl SawyerTask for DoorUnlock {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(DoorUnlock { lock: Lock::new(sim, "lockStartUnlock")?, target_pos: [0.0; 3] })
    }

    /// The door at the rand vec, the lever locked and at rest; the target 0.1 right of and
    /// 0.04 in front of the lock link.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.set_body_pos(self.lock.door, &[rand_vec[0], rand_vec[1], rand_vec[2]]);
        sim.reset_hand()?;
        sim.data.qpos_mut()[Self::LEVER] = Self::LOCKED_ANGLE;
        sim.data.qvel_mut()[Self::LEVER] = 0.0;
        sim.forward()?;
        let lock_link = self.lock.lock_link_pos(sim);
        self.target_pos = [lock_link[0] + 0.1, lock_link[1] + -0.04, lock_link[2] + 0.0];
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.lock.objects(sim, slots);
    }

    /// `compute_reward` (v2): the gripper's shoulder ready to push the lever, and the lever's
    /// x distance to the target.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let lock = observed_object(obs);
        let offset = Self::SHOULDER_OFFSET;
        let shoulder = [0, 1, 2].map(|i| obs[i] + offset[i]);
        let tcp_init = sim.init_tcp();
        let shoulder_init = [0, 1, 2].map(|i| tcp_init[i] + offset[i]);
        let shoulder_to_lock = scaled_distance(&shoulder, &lock);
        let shoulder_to_lock_init = scaled_distance(&shoulder_init, &self.lock.lock_link_pos(sim));
        let ready_to_push = tolerance(shoulder_to_lock, (0.0, 0.02), shoulder_to_lock_init, Sigmoid::LongTail);
        let obj_to_target = (self.target_pos[0] - lock[0]).abs();
        let pushed = tolerance(obj_to_target, (0.0, 0.005), LOCK_LENGTH, Sigmoid::LongTail);
        let reward = 2.0 * ready_to_push + 8.0 * pushed;
        (reward, lock_info(obs, shoulder_to_lock, ready_to_push, obj_to_target, pushed, reward))
    }
}
