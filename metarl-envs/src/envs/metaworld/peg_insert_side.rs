//! peg-insert-side-v3 (`sawyer_peg_insertion_side_v3.py`): pick a peg up and insert it
//! sideways into a hole in a box.

use super::place::{grasp_and_place, held_up};
use super::push::observed_object;
use super::reward_utils::{
    distance, hamacher_product, rect_prism_tolerance, scaled_distance, tolerance, Caging, CagingDensity, Sigmoid,
};
use super::{xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// The success distance of the peg's head to the hole (`TARGET_RADIUS`).
const TARGET_RADIUS: f64 = 0.07;
/// Height differences count double in the head's distance to the hole.
const SCALE: [f64; 3] = [1.0, 2.0, 2.0];

pub struct PegInsertSide {
    box_body: usize,
    goal_site: usize,
    peg_grasp: usize,
    peg_head: usize,
    /// The (bottom right, top left) corners of the two boxes under the hole.
    collision_boxes: [(usize, usize); 2],
    obj_init_pos: [f64; 3],
    peg_head_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl SawyerTask for PegInsertSide {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_peg_insertion_side.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Peg position, then the box's.
        rand_vec_low: &[0.0, 0.5, 0.02, -0.35, 0.4, -0.001],
        rand_vec_high: &[0.2, 0.7, 0.02, -0.25, 0.7, 0.001],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        let site = |name: &str| sim.model.site_id(name);
        Ok(PegInsertSide {
            box_body: sim.model.body_id("box")?,
            goal_site: site("goal")?,
            peg_grasp: site("pegGrasp")?,
            peg_head: site("pegHead")?,
            collision_boxes: [
                (site("bottom_right_corner_collision_box_1")?, site("top_left_corner_collision_box_1")?),
                (site("bottom_right_corner_collision_box_2")?, site("top_left_corner_collision_box_2")?),
            ],
            obj_init_pos: [0.0; 3],
            peg_head_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        xy_distance(rand_vec, &rand_vec[3..]) < 0.1
    }

    /// The box at the rand vec, the peg too; the goal at the hole. The peg head's start is read
    /// before the peg is moved (where the hand reset's last step left it).
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        let box_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        sim.set_body_pos(self.box_body, &box_pos);
        sim.reset_hand()?;
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        self.peg_head_init_pos = sim.site_xpos(self.peg_head);
        sim.set_obj_xyz(&self.obj_init_pos)?;
        self.target_pos = [box_pos[0] + 0.03, box_pos[1] + 0.0, box_pos[2] + 0.13];
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.site_xpos(self.peg_grasp));
        slots[3..7].copy_from_slice(&sim.site_quat(self.peg_grasp));
    }

    /// `compute_reward` (v2): pick-place's, the head's way to the hole blocked below it (the
    /// in-place reward fades inside the two boxes under the hole).
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let obj = observed_object(obs);
        let head = sim.site_xpos(self.peg_head);
        let tcp_opened = obs[3];
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let obj_to_target = scaled_distance(&head, &self.target_pos, SCALE);
        let in_place_margin = scaled_distance(&self.peg_head_init_pos, &self.target_pos, SCALE);
        let in_place = tolerance(obj_to_target, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);
        let [below_1, below_2] = self.collision_boxes.map(|(bottom_right, top_left)| {
            rect_prism_tolerance(&head, &sim.site_xpos(bottom_right), &sim.site_xpos(top_left))
        });
        let in_place = hamacher_product(in_place, hamacher_product(below_2, below_1));

        let caging = Caging {
            obj_radius: 0.0075,
            pad_success_thresh: 0.03,
            object_reach_radius: 0.01,
            xz_thresh: 0.005,
            desired_gripper_effort: 1.0,
            density: CagingDensity::High,
        };
        let held = held_up(tcp_to_obj, 0.08, tcp_opened, obj[2], self.obj_init_pos[2]);
        let object_grasped = if held { 1.0 } else { sim.gripper_caging_reward(action, &obj, &self.obj_init_pos, &caging) };
        let reward = grasp_and_place(object_grasped, in_place, held.then_some(5.0 * in_place), obj_to_target <= TARGET_RADIUS);
        let info = Info {
            success: obj_to_target <= TARGET_RADIUS,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(held_up(tcp_to_obj, 0.02, tcp_opened, obj[2], self.obj_init_pos[2])),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
