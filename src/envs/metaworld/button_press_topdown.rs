//! button-press-topdown-v3 (`sawyer_button_press_topdown_v3.py`): press a button down from above.

use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::push::observed_object;
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

pub struct ButtonPressTopdown {
    box_body: usize,
    button: usize,
    hole_site: usize,
    button_start_site: usize,
    target_pos: [f64; 3],
    /// `_obj_to_target_init`: the button's travel, from its start to the hole.
    obj_to_target_init: f64,
}

impl SawyerTask for ButtonPressTopdown {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_button_press_topdown.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.4f32 as f64, 0.2f32 as f64],
        // The button box's position.
        rand_vec_low: &[-0.1, 0.8, 0.115],
        rand_vec_high: &[0.1, 0.9, 0.115],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(ButtonPressTopdown {
            box_body: sim.model.body_id("box")?,
            button: sim.model.body_id("button")?,
            hole_site: sim.model.site_id("hole")?,
            button_start_site: sim.model.site_id("buttonStart")?,
            target_pos: [0.0; 3],
            obj_to_target_init: 0.0,
        })
    }

    /// The box at the rand vec; the goal is its hole.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.set_body_pos(self.box_body, &[rand_vec[0], rand_vec[1], rand_vec[2]]);
        sim.reset_hand()?;
        sim.forward()?;
        self.target_pos = sim.site_xpos(self.hole_site);
        self.obj_to_target_init = (self.target_pos[2] - sim.site_xpos(self.button_start_site)[2]).abs();
        Ok(())
    }

    /// The button's top (0.193 above its body) and the body's `xquat` (w, x, y, z).
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        let button = sim.body_xpos(self.button);
        slots[..3].copy_from_slice(&[button[0] + 0.0, button[1] + 0.0, button[2] + 0.193]);
        slots[3..7].copy_from_slice(&sim.data.xquat()[4 * self.button..4 * self.button + 4]);
    }

    /// `compute_reward` (v2): a closed gripper near the button, then how far it is pressed.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        // Meta-World measures the initial distance from the button's current position.
        let tcp_to_obj_init = distance(&obj, &sim.init_tcp());
        let obj_to_target = (self.target_pos[2] - obj[2]).abs();
        let tcp_closed = 1.0 - obs[3];
        let near_button = tolerance(tcp_to_obj, (0.0, 0.01), tcp_to_obj_init, Sigmoid::LongTail);
        let button_pressed = tolerance(obj_to_target, (0.0, 0.005), self.obj_to_target_init, Sigmoid::LongTail);
        let mut reward = 5.0 * hamacher_product(tcp_closed, near_button);
        if tcp_to_obj <= 0.03 {
            reward += 5.0 * button_pressed;
        }
        let info = Info {
            success: obj_to_target <= 0.024,
            near_object: f64::from(tcp_to_obj <= 0.05),
            grasp_success: f64::from(obs[3] > 0.0),
            grasp_reward: near_button,
            in_place_reward: button_pressed,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }

    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }
}
