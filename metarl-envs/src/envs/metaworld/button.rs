//! The button envs: button-press-v3, button-press-wall-v3 (`sawyer_button_press_v3.py`,
//! `sawyer_button_press_wall_v3.py`), pressed from the front, and button-press-topdown-v3,
//! button-press-topdown-wall-v3 (`sawyer_button_press_topdown_v3.py`,
//! `sawyer_button_press_topdown_wall_v3.py`), pressed from above. One class in Meta-World up to
//! their constants, [`Button`] here, each env a [`ButtonLayout`]; coffee-button shares the
//! reward, [`ButtonReward`].

use std::marker::PhantomData;

use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// How far the button's top is from its body, along the way it is pressed.
const BUTTON_LENGTH: f64 = 0.193;

/// The way the button travels when pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// Along -y: a button on a box's front face.
    Front,
    /// Along -z: a button on a box's top.
    Down,
}

impl Press {
    /// The coordinate the press is measured along.
    fn axis(self) -> usize {
        match self {
            Press::Front => 1,
            Press::Down => 2,
        }
    }
}

/// The gripper term of the reaching reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GripperTerm {
    /// `1 - obs[3]`: the gripper closed.
    Closed,
    /// `max(obs[3], 0)`: the gripper open.
    Open,
}

/// How `compute_reward` (v2) combines reaching and pressing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shaping {
    /// `reach_weight · hamacher(gripper, near)`, plus `press_weight · pressed` once the gripper
    /// centre is within `press_within` of the button.
    Reach { gripper: GripperTerm, reach_weight: f64, press_weight: f64, press_within: f64 },
    /// button-press-wall's: beyond 0.07 of the button, `2 · hamacher((1 - obs[3]) / 2, near)`;
    /// within, `2 + 2 (1 + obs[3]) + 4 pressed²`.
    Wall,
}

/// The reward and success of a button env.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ButtonReward {
    pub press: Press,
    /// The upper bound of `near_button`'s tolerance.
    pub near_radius: f64,
    pub shaping: Shaping,
    /// `success`: the button within this of the target along the press.
    pub success_distance: f64,
}

impl ButtonReward {
    /// `compute_reward` (v2) and `evaluate_state`: a gripper near the button, then how far it
    /// is pressed toward `target_pos`, `press_margin` being the tolerance's margin.
    pub fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], target_pos: &[f64; 3], press_margin: f64) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        // Meta-World measures the initial distance from the button's current position.
        let tcp_to_obj_init = distance(&obj, &sim.init_tcp());
        let axis = self.press.axis();
        let obj_to_target = (target_pos[axis] - obj[axis]).abs();
        let near_button = tolerance(tcp_to_obj, (0.0, self.near_radius), tcp_to_obj_init, Sigmoid::LongTail);
        let button_pressed = tolerance(obj_to_target, (0.0, 0.005), press_margin, Sigmoid::LongTail);
        let reward = match self.shaping {
            Shaping::Reach { gripper, reach_weight, press_weight, press_within } => {
                let gripper = match gripper {
                    GripperTerm::Closed => 1.0 - obs[3],
                    GripperTerm::Open => obs[3].max(0.0),
                };
                let reach = reach_weight * hamacher_product(gripper, near_button);
                if tcp_to_obj <= press_within { reach + press_weight * button_pressed } else { reach }
            }
            Shaping::Wall if tcp_to_obj > 0.07 => 2.0 * hamacher_product((1.0 - obs[3]) / 2.0, near_button),
            Shaping::Wall => 2.0 + 2.0 * (1.0 + obs[3]) + 4.0 * button_pressed * button_pressed,
        };
        let info = Info {
            success: obj_to_target <= self.success_distance,
            near_object: f64::from(tcp_to_obj <= 0.05),
            grasp_success: f64::from(obs[3] > 0.0),
            grasp_reward: near_button,
            in_place_reward: button_pressed,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}

/// What the button-in-a-box envs differ in.
pub trait ButtonLayout: Send {
    const SPEC: SawyerSpec;
    const REWARD: ButtonReward;
}

/// A button in a box: the box at the task's rand vec, the target the box's `hole` site.
pub struct Button<L> {
    box_body: usize,
    button: usize,
    hole_site: usize,
    button_start_site: usize,
    target_pos: [f64; 3],
    /// `_obj_to_target_init`: the button's travel, from its start to the hole.
    obj_to_target_init: f64,
    layout: PhantomData<fn() -> L>,
}

impl<L: ButtonLayout> SawyerTask for Button<L> {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = L::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Button {
            box_body: sim.model.body_id("box")?,
            button: sim.model.body_id("button")?,
            hole_site: sim.model.site_id("hole")?,
            button_start_site: sim.model.site_id("buttonStart")?,
            target_pos: [0.0; 3],
            obj_to_target_init: 0.0,
            layout: PhantomData,
        })
    }

    /// The box at the rand vec; a front button is set back out (`_set_obj_xyz(0)`, its slide
    /// `qpos[9]` and velocity zeroed), a top one left as the hand reset leaves it.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.set_body_pos(self.box_body, &[rand_vec[0], rand_vec[1], rand_vec[2]]);
        sim.reset_hand()?;
        if L::REWARD.press == Press::Front {
            sim.data.qpos_mut()[9] = 0.0;
            sim.data.qvel_mut()[9] = 0.0;
        }
        sim.forward()?;
        self.target_pos = sim.site_xpos(self.hole_site);
        let axis = L::REWARD.press.axis();
        self.obj_to_target_init = (self.target_pos[axis] - sim.site_xpos(self.button_start_site)[axis]).abs();
        Ok(())
    }

    /// The button's face (0.193 from its body toward the gripper) and the body's `xquat`.
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        let mut face = sim.body_xpos(self.button);
        match L::REWARD.press {
            Press::Front => face[1] += -BUTTON_LENGTH,
            Press::Down => face[2] += BUTTON_LENGTH,
        }
        slots[..3].copy_from_slice(&face);
        slots[3..7].copy_from_slice(&sim.data.xquat()[4 * self.button..4 * self.button + 4]);
    }

    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        L::REWARD.evaluate(sim, obs, &self.target_pos, self.obj_to_target_init)
    }
}

const HAND_LOW: [f64; 3] = [-0.5, 0.40, 0.05];
const HAND_HIGH: [f64; 3] = [0.5, 1.0, 0.5];
/// float32 in Meta-World's init_config.
const HAND_INIT_POS: [f64; 3] = [0.0, 0.4f32 as f64, 0.2f32 as f64];

/// button-press-v3: press a button on a box's front.
pub struct Front;
pub type ButtonPress = Button<Front>;

/// The reward of button-press and coffee-button.
pub const FRONT_REWARD: ButtonReward = ButtonReward {
    press: Press::Front,
    near_radius: 0.05,
    shaping: Shaping::Reach { gripper: GripperTerm::Open, reach_weight: 2.0, press_weight: 8.0, press_within: 0.05 },
    success_distance: 0.02,
};

impl ButtonLayout for Front {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_button_press.xml",
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        // The box's position.
        rand_vec_low: &[-0.1, 0.85, 0.115],
        rand_vec_high: &[0.1, 0.9, 0.115],
    };
    const REWARD: ButtonReward = FRONT_REWARD;
}

/// button-press-wall-v3: press a button on a box's front, behind a wall.
pub struct FrontWall;
pub type ButtonPressWall = Button<FrontWall>;

impl ButtonLayout for FrontWall {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_button_press_wall.xml",
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        rand_vec_low: &[-0.05, 0.85, 0.1149],
        rand_vec_high: &[0.05, 0.9, 0.1151],
    };
    const REWARD: ButtonReward =
        ButtonReward { press: Press::Front, near_radius: 0.01, shaping: Shaping::Wall, success_distance: 0.03 };
}

/// button-press-topdown-v3: press a button down from above.
pub struct Topdown;
pub type ButtonPressTopdown = Button<Topdown>;

impl ButtonLayout for Topdown {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_button_press_topdown.xml",
        hand_low: HAND_LOW,
        hand_high: HAND_HIGH,
        hand_init_pos: HAND_INIT_POS,
        rand_vec_low: &[-0.1, 0.8, 0.115],
        rand_vec_high: &[0.1, 0.9, 0.115],
    };
    const REWARD: ButtonReward = ButtonReward {
        press: Press::Down,
        near_radius: 0.01,
        shaping: Shaping::Reach { gripper: GripperTerm::Closed, reach_weight: 5.0, press_weight: 5.0, press_within: 0.03 },
        success_distance: 0.024,
    };
}

/// button-press-topdown-wall-v3: press a button down from above, behind a wall; the reaching
/// term rewards an open gripper.
pub struct TopdownWall;
pub type ButtonPressTopdownWall = Button<TopdownWall>;

impl ButtonLayout for TopdownWall {
    const SPEC: SawyerSpec = SawyerSpec { model: "sawyer_xyz/sawyer_button_press_topdown_wall.xml", ..Topdown::SPEC };
    const REWARD: ButtonReward = ButtonReward {
        shaping: Shaping::Reach { gripper: GripperTerm::Open, reach_weight: 5.0, press_weight: 5.0, press_within: 0.03 },
        ..Topdown::REWARD
    };
}
