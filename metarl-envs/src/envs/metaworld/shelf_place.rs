//! shelf-place-v3 (`sawyer_shelf_place_v3.py`): pick a block up and place it on a shelf.

use super::place::{grasp_and_place, held_up, lifted_in_grasp};
use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Caging, CagingDensity, Sigmoid};
use super::{xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// The shelf's top, under which the block is not yet placed.
const SHELF_HEIGHT: f64 = 0.24;

pub struct ShelfPlace {
    obj: usize,
    obj_geom: usize,
    shelf: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for ShelfPlace {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_shelf_placing.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        // Block position (its height is replaced), then the goal (the shelf 0.3 below it).
        rand_vec_low: &[-0.1, 0.5, 0.019, -0.1, 0.8, 0.299],
        rand_vec_high: &[0.1, 0.6, 0.021, 0.1, 0.9, 0.301],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(ShelfPlace {
            obj: sim.model.body_id("obj")?,
            obj_geom: sim.model.geom_id("objGeom")?,
            shelf: sim.model.body_id("shelf")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        xy_distance(rand_vec, &rand_vec[3..]) < 0.1
    }

    /// The shelf under the goal, the block at the rand vec's x-y and the height it has after
    /// the hand reset; the goal is the shelf's `goal` site (its offset added to the shelf's).
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let shelf_pos = [rand_vec[3] - 0.0, rand_vec[4] - 0.0, rand_vec[5] - 0.3];
        sim.set_body_pos(self.shelf, &shelf_pos);
        sim.reset_hand()?;
        self.obj_init_pos = [rand_vec[0] - 0.0, rand_vec[1] - 0.0, sim.body_xpos(self.obj)[2]];
        sim.forward()?;
        let goal_offset = &sim.model.site_pos()[3 * self.goal_site..3 * self.goal_site + 3];
        self.target_pos = [0, 1, 2].map(|i| goal_offset[i] + shelf_pos[i]);
        sim.set_obj_xyz(&self.obj_init_pos)
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.obj));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.obj_geom));
    }

    /// `compute_reward` (v2): pick-place's, with no in-place reward for the block under or
    /// behind the shelf's front edge.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_opened = obs[3];
        let target = self.target_pos;
        let obj_to_target = distance(&obj, &target);
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let in_place_margin = distance(&self.obj_init_pos, &target);
        let toward_goal = tolerance(obj_to_target, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);
        let caging = Caging {
            obj_radius: 0.02,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.01,
            desired_gripper_effort: 1.0,
            density: CagingDensity::Plain,
        };
        let object_grasped = sim.gripper_caging_reward(action, &obj, &self.obj_init_pos, &caging);

        let mut in_place = toward_goal;
        let depth = 3.0 * TARGET_RADIUS;
        let under_shelf = 0.0 < obj[2] && obj[2] < SHELF_HEIGHT && target[0] - 0.15 < obj[0] && obj[0] < target[0] + 0.15;
        if under_shelf && target[1] - depth < obj[1] && obj[1] < target[1] {
            let z_scaling = (SHELF_HEIGHT - obj[2]) / SHELF_HEIGHT;
            let y_scaling = (obj[1] - (target[1] - depth)) / depth;
            in_place = (in_place - hamacher_product(y_scaling, z_scaling)).clamp(0.0, 1.0);
        }
        if under_shelf && obj[1] > target[1] {
            in_place = 0.0;
        }
        let held = held_up(tcp_to_obj, 0.025, tcp_opened, obj[2], self.obj_init_pos[2]);
        let reward = grasp_and_place(object_grasped, toward_goal, held.then_some(5.0 * in_place), obj_to_target < TARGET_RADIUS);
        let info = Info {
            success: obj_to_target <= 0.07,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(lifted_in_grasp(sim, self.obj_geom, tcp_opened, obj[2], self.obj_init_pos[2])),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
