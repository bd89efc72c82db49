//! sweep-v3 and sweep-into-v3 (`sawyer_sweep_v3.py`, `sawyer_sweep_into_goal_v3.py`): sweep a
//! puck off the table's edge, or into a hole in it.

use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{norm, xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// `OBJ_RADIUS`.
const OBJ_RADIUS: f64 = 0.02;

/// The puck and the goal of either env.
struct Puck {
    obj: usize,
    obj_geom: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

/// The two envs' own `_gripper_caging_reward`: caging in y, the gripper centre near the puck in
/// x-z, and, once caged, the pads close round the puck (`grip_margin` beyond its radius). The
/// envs' `init_left_pad`/`init_right_pad` are views of `data.xpos`, so the pads' current
/// positions.
struct SweepCaging {
    grip_margin: f64,
    xz_margin: f64,
}

impl Puck {
    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(Puck {
            obj: sim.model.body_id("obj")?,
            obj_geom: sim.model.geom_id("objGeom")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    /// The puck at `obj_init_pos`, the goal site at the target.
    fn place(&mut self, sim: &mut Sawyer) -> Result<(), EnvError> {
        sim.set_obj_xyz(&self.obj_init_pos)?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn caging_reward(&self, sim: &Sawyer, obj: &[f64; 3], margins: SweepCaging) -> f64 {
        const PAD_SUCCESS_MARGIN: f64 = 0.05;
        let grip_success_margin = OBJ_RADIUS + margins.grip_margin;
        let (left_pad, right_pad) = (sim.left_pad(), sim.right_pad());
        let margin = |pad_y: f64| ((obj[1] - pad_y).abs() - PAD_SUCCESS_MARGIN).abs();
        let (right_margin, left_margin) = (margin(right_pad[1]), margin(left_pad[1]));
        let (to_right, to_left) = (obj[1] - right_pad[1], left_pad[1] - obj[1]);
        let long_tail = |x: f64, upper: f64, margin: f64| tolerance(x, (OBJ_RADIUS, upper), margin, Sigmoid::LongTail);
        let y_caging = hamacher_product(
            long_tail(to_right, PAD_SUCCESS_MARGIN, right_margin),
            long_tail(to_left, PAD_SUCCESS_MARGIN, left_margin),
        );
        let y_gripping = hamacher_product(
            long_tail(to_right, grip_success_margin, right_margin),
            long_tail(to_left, grip_success_margin, left_margin),
        );

        // Distances in the x-z plane, written as Meta-World does with y zeroed.
        let (tcp, init_tcp, init) = (sim.tcp_center(), sim.init_tcp(), self.obj_init_pos);
        let tcp_to_obj_xz = norm(&[tcp[0] - obj[0], 0.0, tcp[2] - obj[2]]);
        let xz_margin = norm(&[init[0] - init_tcp[0], 0.0, init[2] - init_tcp[2]]) - margins.xz_margin;
        let xz_caging = tolerance(tcp_to_obj_xz, (0.0, margins.xz_margin), xz_margin, Sigmoid::LongTail);

        let caging = hamacher_product(y_caging, xz_caging);
        let gripping = if caging > 0.95 { y_gripping } else { 0.0 };
        (caging + gripping) / 2.0
    }

    /// `compute_reward` (v2) of both: cage the puck and bring it to `target`.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], target: &[f64; 3], margins: SweepCaging) -> (f64, Info) {
        let obj = observed_object(obs);
        let tcp_opened = obs[3];
        let obj_to_target = distance(&obj, target);
        let tcp_to_obj = distance(&obj, &sim.tcp_center());
        let in_place_margin = distance(&self.obj_init_pos, target);
        let in_place = tolerance(obj_to_target, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);
        let object_grasped = self.caging_reward(sim, &obj, margins);
        let reward = if obj_to_target < TARGET_RADIUS {
            10.0
        } else {
            2.0 * object_grasped + 6.0 * hamacher_product(object_grasped, in_place)
        };
        let info = Info {
            success: obj_to_target <= 0.05,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: f64::from(sim.touching_object(self.obj_geom) && tcp_opened > 0.0),
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}

pub struct Sweep(Puck);

impl SawyerTask for Sweep {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.0.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_sweep_v3.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // The puck's position (its height is replaced).
        rand_vec_low: &[-0.1, 0.6, 0.02],
        rand_vec_high: &[0.1, 0.7, 0.02],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Puck::new(sim).map(Sweep)
    }

    /// The puck at the rand vec; the goal past the table's right edge, at the puck's y.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        let puck = &mut self.0;
        puck.target_pos = [0.5, rand_vec[1], 0.01];
        puck.obj_init_pos = [rand_vec[0], rand_vec[1], 0.02];
        puck.place(sim)
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.0.obj));
        slots[3..7].copy_from_slice(&sim.body_xquat(self.0.obj));
    }

    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        self.0.evaluate(sim, obs, &self.0.target_pos, SweepCaging { grip_margin: 0.01, xz_margin: 0.005 })
    }
}

pub struct SweepInto(Puck);

/// The hole sweep-into's puck goes into.
const HOLE: [f64; 3] = [0.0, 0.84, 0.02];

impl SawyerTask for SweepInto {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.0.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_table_with_hole.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // The puck's position (its height is replaced), then a goal the hole fixes.
        rand_vec_low: &[-0.1, 0.6, 0.02, -0.001, 0.8399, 0.0199],
        rand_vec_high: &[0.1, 0.7, 0.02, 0.001, 0.8401, 0.0201],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Puck::new(sim).map(SweepInto)
    }

    /// The puck starts over 0.15 from the hole in x-y.
    fn rejects(rand_vec: &[f64]) -> bool {
        xy_distance(rand_vec, &HOLE) < 0.15
    }

    /// The puck at the rand vec's x-y, at the height it has after the hand reset.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        let puck = &mut self.0;
        puck.target_pos = HOLE;
        puck.obj_init_pos = [rand_vec[0], rand_vec[1], sim.body_xpos(puck.obj)[2]];
        puck.place(sim)
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.0.obj));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.0.obj_geom));
    }

    /// Towards the hole at the puck's own height.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let target = [HOLE[0], HOLE[1], obs[6]];
        self.0.evaluate(sim, obs, &target, SweepCaging { grip_margin: 0.005, xz_margin: 0.01 })
    }
}
