//! The faucet of `sawyer_faucet.xml`: faucet-open-v3 and faucet-close-v3
//! (`sawyer_faucet_open_v3.py`, `sawyer_faucet_close_v3.py`), turn its handle left or right.
//! One class in Meta-World up to their constants: [`Faucet`], each a [`Turn`].

use std::marker::PhantomData;

use super::push::observed_object;
use super::reward_utils::{distance, tolerance, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// `_handle_length`.
const HANDLE_LENGTH: f64 = 0.175;
/// `_target_radius`.
const TARGET_RADIUS: f64 = 0.07;

/// What faucet-open and faucet-close differ in.
pub trait Turn: Send {
    const SPEC: SawyerSpec;
    /// The site the env observes (0.01 below it) as the handle.
    const HANDLE_SITE: &'static str;
    /// The site that marks the goal.
    const GOAL_SITE: &'static str;
    /// The goal's x offset from the faucet: the handle turned to this side.
    const GOAL_X: f64;
    /// The offset from the observed handle to the point the reward measures.
    const MEASURED_OFFSET: [f64; 3];
    /// Whether the reset ends with `mj_forward` (faucet-close's does).
    const FORWARD_AT_RESET: bool;
}

pub struct Faucet<T> {
    base: usize,
    handle_site: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
    turn: PhantomData<fn() -> T>,
}

impl<T: Turn> SawyerTask for Faucet<T> {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = T::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Faucet {
            base: sim.model.body_id("faucetBase")?,
            handle_site: sim.model.site_id(T::HANDLE_SITE)?,
            goal_site: sim.model.site_id(T::GOAL_SITE)?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
            turn: PhantomData,
        })
    }

    /// The faucet at the rand vec; the goal the handle's end turned to one side.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        sim.set_body_pos(self.base, &self.obj_init_pos);
        sim.reset_hand()?;
        let init = self.obj_init_pos;
        self.target_pos = [init[0] + T::GOAL_X, init[1] + 0.0, init[2] + 0.125];
        if T::FORWARD_AT_RESET {
            sim.forward()?;
        }
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    /// 0.01 below the handle's site, and the faucet base's `xquat`.
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        let site = sim.site_xpos(self.handle_site);
        slots[..3].copy_from_slice(&[site[0] + 0.0, site[1] + 0.0, site[2] + -0.01]);
        slots[3..7].copy_from_slice(&sim.data.xquat()[4 * self.base..4 * self.base + 4]);
    }

    /// `compute_reward` (v2): reaching the handle and the handle's distance to the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let observed = observed_object(obs);
        let obj = [0, 1, 2].map(|i| observed[i] + T::MEASURED_OFFSET[i]);
        let target_to_obj = distance(&obj, &self.target_pos);
        let target_to_obj_init = distance(&self.obj_init_pos, &self.target_pos);
        let in_place_margin = (target_to_obj_init - TARGET_RADIUS).abs();
        let in_place = tolerance(target_to_obj, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);

        let faucet_reach_radius = 0.01;
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let tcp_to_obj_init = distance(&self.obj_init_pos, &sim.init_tcp());
        let reach_margin = (tcp_to_obj_init - faucet_reach_radius).abs();
        let reach = tolerance(tcp_to_obj, (0.0, faucet_reach_radius), reach_margin, Sigmoid::Gaussian);

        let reward = if target_to_obj <= TARGET_RADIUS { 10.0 } else { (2.0 * reach + 3.0 * in_place) * 2.0 };
        let info = Info {
            success: target_to_obj <= TARGET_RADIUS,
            near_object: f64::from(tcp_to_obj <= 0.01),
            grasp_success: 1.0,
            grasp_reward: reach,
            in_place_reward: in_place,
            obj_to_target: target_to_obj,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}

const MODEL: &str = "sawyer_xyz/sawyer_faucet.xml";
const HAND_LOW: [f64; 3] = [-0.5, 0.40, -0.15];
const HAND_HIGH: [f64; 3] = [0.5, 1.0, 0.5];
const HAND_INIT_POS: [f64; 3] = [0.0, 0.4, 0.2];

/// faucet-open-v3: turn the handle to the right.
pub struct Right;
pub type FaucetOpen = Faucet<Right>;

impl Turn for Right {
    const SPEC: SawyerSpec = SawyerSpec {
        model: MODEL,
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        // The faucet's position.
        rand_vec_low: &[-0.05, 0.8, 0.0],
        rand_vec_high: &[0.05, 0.85, 0.0],
    };
    const HANDLE_SITE: &'static str = "handleStartOpen";
    const GOAL_SITE: &'static str = "goal_open";
    const GOAL_X: f64 = HANDLE_LENGTH;
    const MEASURED_OFFSET: [f64; 3] = [-0.04, 0.0, 0.03];
    const FORWARD_AT_RESET: bool = false;
}

/// faucet-close-v3: turn the handle to the left.
pub struct Left;
pub type FaucetClose = Faucet<Left>;

impl Turn for Left {
    const SPEC: SawyerSpec = SawyerSpec {
        model: MODEL,
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        rand_vec_low: &[-0.1, 0.8, 0.0],
        rand_vec_high: &[0.1, 0.85, 0.0],
    };
    const HANDLE_SITE: &'static str = "handleStartClose";
    const GOAL_SITE: &'static str = "goal_close";
    const GOAL_X: f64 = -HANDLE_LENGTH;
    const MEASURED_OFFSET: [f64; 3] = [0.0, 0.0, 0.0];
    const FORWARD_AT_RESET: bool = true;
}
