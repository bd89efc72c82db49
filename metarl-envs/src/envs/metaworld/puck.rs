//! The free object (`obj` on `objjoint`, geom `objGeom`) and the `goal` site of reach, push and
//! pick-place and their wall and back variants.

use super::{goal_near_object, Sawyer, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// Which point of the object `_get_pos_objects` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PuckPoint {
    /// `get_body_com("obj")`: the body's `xpos`.
    Body,
    /// `data.geom("objGeom").xpos`.
    Geom,
}

pub struct Puck {
    obj: usize,
    obj_geom: usize,
    goal_site: usize,
    point: PuckPoint,
    pub obj_init_pos: [f64; 3],
    pub target_pos: [f64; 3],
}

impl Puck {
    pub fn new(sim: &Sawyer, point: PuckPoint) -> Result<Self, EnvError> {
        Ok(Puck {
            obj: sim.model.body_id("obj")?,
            obj_geom: sim.model.geom_id("objGeom")?,
            goal_site: sim.model.site_id("goal")?,
            point,
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    /// The resampling condition of these envs' `reset_model`s.
    pub fn rejects(rand_vec: &[f64]) -> bool {
        goal_near_object(rand_vec)
    }

    pub fn position(&self, sim: &Sawyer) -> [f64; 3] {
        match self.point {
            PuckPoint::Body => sim.body_xpos(self.obj),
            PuckPoint::Geom => sim.geom_xpos(self.obj_geom),
        }
    }

    /// Object at `obj_init_pos` (at rest), goal site at `target_pos`.
    pub fn place(&mut self, sim: &mut Sawyer, obj_init_pos: [f64; 3], target_pos: [f64; 3]) -> Result<(), EnvError> {
        self.obj_init_pos = obj_init_pos;
        self.target_pos = target_pos;
        sim.set_obj_xyz(&obj_init_pos)?;
        sim.set_site_pos(self.goal_site, &target_pos);
        Ok(())
    }

    /// Position and the geom's quaternion.
    pub fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        slots[..3].copy_from_slice(&self.position(sim));
        slots[3..7].copy_from_slice(&sim.geom_quat(self.obj_geom));
    }

    /// `grasp_success` of push and pick-place: lifted by 2 cm, gripper open, both pads on it.
    pub fn grasped(&self, sim: &Sawyer, obs: &[f64; OBS_DIM]) -> bool {
        let lifted = obs[6] - 0.02 > self.obj_init_pos[2];
        lifted && obs[3] > 0.0 && sim.touching_object(self.obj_geom)
    }
}
