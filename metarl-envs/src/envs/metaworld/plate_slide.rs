//! The plate in its channel: plate-slide-v3 (`sawyer_plate_slide_v3.py`), plate-slide-side-v3
//! (`sawyer_plate_slide_side_v3.py`), plate-slide-back-v3 (`sawyer_plate_slide_back_v3.py`) and
//! plate-slide-back-side-v3 (`sawyer_plate_slide_back_side_v3.py`): slide a plate into a goal net,
//! or back out of it, forwards or sideways.

use std::marker::PhantomData;

use super::push::observed_object;
use super::reward_utils::{distance, hamacher_product, tolerance, Sigmoid};
use super::{Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM, TARGET_RADIUS};
use crate::envs::EnvError;

/// The plate's two slide joints, `qpos[9:11]`.
const PLATE_QPOS: std::ops::Range<usize> = 9..11;

/// What differs between the plate-slide envs.
pub trait PlateVariant: Send + 'static {
    const SPEC: SawyerSpec;
    /// Where the reset moves the net (`puck_goal`).
    const NET: Net;
    /// The plate's slide offsets at the start.
    const PLATE_START: [f64; 2];
    /// The side and back envs reward reaching the plate, then, once the gripper is down at it,
    /// the placement; plate-slide the two combined, and their margins keep the goal radius.
    const STAGED: bool;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// Where the model has it (the side and back envs write `data.xpos`, which the reset's
    /// `mj_forward` overwrites).
    Fixed,
    AtGoal,
    AtPlate,
}

pub struct Forward;
pub struct Side;
pub struct Back;
pub struct BackSide;

impl PlateVariant for Forward {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_plate_slide.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        // float32 in Meta-World's init_config.
        hand_init_pos: [0.0, 0.6f32 as f64, 0.2f32 as f64],
        // Plate position, then goal position.
        rand_vec_low: &[0.0, 0.6, 0.0, -0.1, 0.85, 0.0],
        rand_vec_high: &[0.0, 0.6, 0.0, 0.1, 0.9, 0.0],
    };
    const NET: Net = Net::AtGoal;
    const PLATE_START: [f64; 2] = [0.0, 0.0];
    const STAGED: bool = false;
}

impl PlateVariant for Side {
    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_plate_slide_sideway.xml",
        rand_vec_low: &[0.0, 0.6, 0.0, -0.3, 0.54, 0.0],
        rand_vec_high: &[0.0, 0.6, 0.0, -0.25, 0.66, 0.0],
        ..Forward::SPEC
    };
    const NET: Net = Net::Fixed;
    const PLATE_START: [f64; 2] = [0.0, 0.0];
    const STAGED: bool = true;
}

impl PlateVariant for Back {
    const SPEC: SawyerSpec = SawyerSpec {
        rand_vec_low: &[0.0, 0.85, 0.0, -0.1, 0.6, 0.015],
        rand_vec_high: &[0.0, 0.85, 0.0, 0.1, 0.6, 0.015],
        ..Forward::SPEC
    };
    const NET: Net = Net::Fixed;
    const PLATE_START: [f64; 2] = [0.0, 0.15];
    const STAGED: bool = true;
}

impl PlateVariant for BackSide {
    const SPEC: SawyerSpec = SawyerSpec {
        rand_vec_low: &[-0.25, 0.6, 0.0, -0.05, 0.6, 0.015],
        rand_vec_high: &[-0.25, 0.6, 0.0, 0.15, 0.6, 0.015],
        ..Side::SPEC
    };
    const NET: Net = Net::AtPlate;
    const PLATE_START: [f64; 2] = [-0.15, 0.0];
    const STAGED: bool = true;
}

pub struct PlateSliding<V> {
    net: usize,
    plate: usize,
    goal_site: usize,
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
    variant: PhantomData<V>,
}

pub type PlateSlide = PlateSliding<Forward>;
pub type PlateSlideSide = PlateSliding<Side>;
pub type PlateSlideBack = PlateSliding<Back>;
pub type PlateSlideBackSide = PlateSliding<BackSide>;

impl<V: PlateVariant> SawyerTask for PlateSliding<V> {
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.target_pos
    }

    const SPEC: SawyerSpec = V::SPEC;

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(PlateSliding {
            net: sim.model.body_id("puck_goal")?,
            plate: sim.model.geom_id("puck")?,
            goal_site: sim.model.site_id("goal")?,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
            variant: PhantomData,
        })
    }

    /// The net placed, the plate at its start offsets (its velocity kept, as Meta-World's
    /// `_set_obj_xyz` here does), the goal site at the rand vec's goal.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        self.obj_init_pos = [rand_vec[0], rand_vec[1], rand_vec[2]];
        self.target_pos = [rand_vec[3], rand_vec[4], rand_vec[5]];
        match V::NET {
            Net::Fixed => {}
            Net::AtGoal => sim.set_body_pos(self.net, &self.target_pos),
            Net::AtPlate => sim.set_body_pos(self.net, &self.obj_init_pos),
        }
        sim.reset_hand()?;
        sim.data.qpos_mut()[PLATE_QPOS].copy_from_slice(&V::PLATE_START);
        sim.forward()?;
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&sim.geom_xpos(self.plate));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.plate));
    }

    /// `compute_reward` (v2): the gripper near the plate and the plate near the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], _action: &[f64]) -> (f64, Info) {
        let tcp = sim.tcp_center();
        let obj = observed_object(obs);
        let margin_cut = if V::STAGED { TARGET_RADIUS } else { 0.0 };
        let obj_to_target = distance(&obj, &self.target_pos);
        let in_place_margin = distance(&self.obj_init_pos, &self.target_pos) - margin_cut;
        let in_place = tolerance(obj_to_target, (0.0, TARGET_RADIUS), in_place_margin, Sigmoid::LongTail);
        let tcp_to_obj = distance(&tcp, &obj);
        let obj_grasped_margin = distance(&sim.init_tcp(), &self.obj_init_pos) - margin_cut;
        let object_grasped = tolerance(tcp_to_obj, (0.0, TARGET_RADIUS), obj_grasped_margin, Sigmoid::LongTail);
        let mut reward = if V::STAGED {
            if tcp[2] <= 0.03 && tcp_to_obj < 0.07 { 2.0 + 7.0 * in_place } else { 1.5 * object_grasped }
        } else {
            8.0 * hamacher_product(object_grasped, in_place)
        };
        if obj_to_target < TARGET_RADIUS {
            reward = 10.0;
        }
        let info = Info {
            success: obj_to_target <= 0.07,
            near_object: f64::from(tcp_to_obj <= 0.03),
            grasp_success: 0.0,
            grasp_reward: object_grasped,
            in_place_reward: in_place,
            obj_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
