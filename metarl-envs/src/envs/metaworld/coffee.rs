//! The coffee-machine envs (`sawyer_coffee.xml`): coffee-button-v3 (`sawyer_coffee_button_v3.py`),
//! press the machine's button, and coffee-pull-v3 / coffee-push-v3 (`sawyer_coffee_pull_v3.py`,
//! `sawyer_coffee_push_v3.py`), slide a mug from under the machine or under it, one class in
//! Meta-World up to their constants: [`CoffeeMug`], each a [`MugMove`].
//!
//! The mug's free joint comes first in this model, so its position is `qpos[0:3]`, which the
//! envs' `_set_obj_xyz` writes (zeroing `qvel[9:15]`, as the base's does).

use std::marker::PhantomData;

use super::button::FRONT_REWARD;
use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Caging, CagingDensity, Sigmoid};
use super::{goal_near_object, norm, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

const MODEL: &str = "sawyer_xyz/sawyer_coffee.xml";
const HAND_LOW: [f64; 3] = [-0.5, 0.40, 0.05];
const HAND_HIGH: [f64; 3] = [0.5, 1.0, 0.5];
const HAND_INIT_POS: [f64; 3] = [0.0, 0.4, 0.2];
/// The mug stands this far in front of the machine (-y).
const MUG_OFFSET: f64 = 0.22;

/// `_set_obj_xyz` of the coffee envs: the mug at `pos`, then `mj_forward`.
fn set_mug_xyz(sim: &mut Sawyer, pos: &[f64; 3]) -> Result<(), EnvError> {
    sim.data.qpos_mut()[0..3].copy_from_slice(pos);
    sim.data.qvel_mut()[9..15].fill(0.0);
    sim.forward()
}

/// coffee-button-v3: push the button on the coffee machine's front.
pub struct CoffeeButton {
    machine: usize,
    button_start_site: usize,
    target_pos: [f64; 3],
}

impl CoffeeButton {
    /// `max_dist`: how far the button travels; the press reward's margin.
    const MAX_DIST: f64 = 0.03;
}

impl SawyerTask for CoffeeButton {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: MODEL,
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        // The machine's position.
        rand_vec_low: &[-0.1, 0.8, -0.001],
        rand_vec_high: &[0.1, 0.9, 0.001],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(CoffeeButton {
            machine: sim.model.body_id("coffee_machine")?,
            button_start_site: sim.model.site_id("buttonStart")?,
            target_pos: [0.0; 3],
        })
    }

    /// The machine at the rand vec, the mug in front of it; the target is the button pressed
    /// in by `max_dist`.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let machine_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.machine, &machine_pos);
        sim.reset_hand()?;
        set_mug_xyz(sim, &[machine_pos[0] + 0.0, machine_pos[1] + -MUG_OFFSET, machine_pos[2] + 0.0])?;
        let button_pos = [machine_pos[0] + 0.0, machine_pos[1] + -MUG_OFFSET, machine_pos[2] + 0.3];
        self.target_pos = [button_pos[0] + 0.0, button_pos[1] + Self::MAX_DIST, button_pos[2] + 0.0];
        Ok(())
    }

    /// The button's `buttonStart` site and an identity quaternion (w, x, y, z).
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.site_xpos(self.button_start_site));
        slots[3..7].copy_from_slice(&[1.0, 0.0, 0.0, 0.0]);
    }

    /// button-press-v3's reward, with the button's travel as the press margin.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        FRONT_REWARD.evaluate(sim, obs, &self.target_pos, Self::MAX_DIST)
    }
}

/// What coffee-pull and coffee-push differ in.
pub trait MugMove: Send {
    /// The rand vec is the mug's start, then its goal.
    const SPEC: SawyerSpec;
    /// The machine stands behind the mug's goal (push), else behind its start (pull).
    const MACHINE_AT_GOAL: bool;
}

/// Slide the mug to a goal on the table.
pub struct CoffeeMug<M> {
    machine: usize,
    mug: usize,
    mug_geom: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
    move_kind: PhantomData<fn() -> M>,
}

impl<M: MugMove> SawyerTask for CoffeeMug<M> {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = M::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(CoffeeMug {
            machine: sim.model.body_id("coffee_machine")?,
            mug: sim.model.body_id("obj")?,
            mug_geom: sim.model.geom_id("mug")?,
            goal_site: sim.model.site_id("mug_goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
            move_kind: PhantomData,
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        goal_near_object(rand_vec)
    }

    /// The mug at its start, the machine 0.22 behind the start or the goal.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        self.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        let behind = if M::MACHINE_AT_GOAL { self.target_pos } else { self.obj_init_pos };
        sim.set_body_pos(self.machine, &[behind[0] + 0.0, behind[1] + MUG_OFFSET, behind[2] + 0.0]);
        sim.reset_hand()?;
        set_mug_xyz(sim, &self.obj_init_pos)?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.mug));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.mug_geom));
    }

    /// `compute_reward` (v2): caging the mug, then bringing it to the goal (x-y errors
    /// weighted double).
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let scaled = |a: &[f64; 3], b: &[f64; 3]| norm(&[(a[0] - b[0]) * 2.0, (a[1] - b[1]) * 2.0, (a[2] - b[2]) * 1.0]);
        let target_to_obj = scaled(&obj, &self.target_pos);
        let target_to_obj_init = scaled(&self.obj_init_pos, &self.target_pos);
        let in_place = tolerance(target_to_obj, (0.0, 0.05), target_to_obj_init, Sigmoid::LongTail);
        let tcp_opened = obs[3];
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let caging = Caging {
            obj_radius: 0.02,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.04,
            xz_thresh: 0.05,
            desired_gripper_effort: 0.7,
            density: CagingDensity::Medium,
        };
        let object_grasped = sim.gripper_caging_reward(action, &obj, &self.obj_init_pos, &caging);
        let mut reward = hamacher_product(object_grasped, in_place);
        if tcp_to_obj < 0.04 && tcp_opened > 0.0 {
            reward += 1.0 + 5.0 * in_place;
        }
        if target_to_obj < 0.05 {
            reward = 10.0;
        }
        let obj_to_target = distance(&obj, &self.target_pos);
        let info = Info {
            success: obj_to_target <= 0.07,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(sim.touching_object(self.mug_geom) && tcp_opened > 0.0),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}

/// coffee-pull-v3: pull the mug out from under the machine.
pub struct PullOut;
pub type CoffeePull = CoffeeMug<PullOut>;

impl MugMove for PullOut {
    const SPEC: SawyerSpec = SawyerSpec {
        model: MODEL,
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        rand_vec_low: &[-0.05, 0.7, -0.001, -0.1, 0.55, -0.001],
        rand_vec_high: &[0.05, 0.75, 0.001, 0.1, 0.65, 0.001],
    };
    const MACHINE_AT_GOAL: bool = false;
}

/// coffee-push-v3: push the mug under the machine.
pub struct PushIn;
pub type CoffeePush = CoffeeMug<PushIn>;

impl MugMove for PushIn {
    const SPEC: SawyerSpec = SawyerSpec {
        rand_vec_low: &[-0.1, 0.55, -0.001, -0.05, 0.7, -0.001],
        rand_vec_high: &[0.1, 0.65, 0.001, 0.05, 0.75, 0.001],
        ..PullOut::SPEC
    };
    const MACHINE_AT_GOAL: bool = true;
}
