//! Planar walkers: walker-rand-params and hopper-rand-params as rand_param_envs writes them
//! (`walker2d_rand_params.py`, `hopper_rand_params.py`, `base.py`), and MCAT's hopper-size.
//!
//! rand_param_envs ran MuJoCo 1.31 models with `timestep="0.004"` and `RandomEnv` forces
//! `frame_skip` 4 for both (the walker's own 5 is swallowed by `*args`); Gymnasium's walker2d.xml
//! and hopper.xml are the same bodies in local coordinates with timestep 0.002, so the
//! rand-params envs set the timestep back to 0.004. hopper-size keeps gym Hopper-v2's 0.002.

use super::{scale_from, sum_of_squares, MujocoEnv, ResetNoise, Robot, Simulation};
use crate::envs::{EnvError, Step, TaskParams};
use crate::sim::Model;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlanarWalker {
    Walker,
    Hopper,
}

/// What a task changes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Randomised {
    /// Body mass, inertia, joint damping and geom friction (rand_param_envs `RAND_PARAMS`).
    Physics,
    /// Every geom but the floor × scale (hopper-size).
    Size,
}

pub struct Walker {
    body: PlanarWalker,
    randomised: Randomised,
}

impl Walker {
    /// walker-rand-params / hopper-rand-params.
    pub fn rand_params(name: &'static str, body: PlanarWalker) -> Result<MujocoEnv<Walker>, EnvError> {
        Self::env(name, body, Randomised::Physics, Some(0.004))
    }

    /// hopper-size.
    pub fn hopper_size(name: &'static str) -> Result<MujocoEnv<Walker>, EnvError> {
        Self::env(name, PlanarWalker::Hopper, Randomised::Size, None)
    }

    fn env(name: &'static str, body: PlanarWalker, randomised: Randomised, timestep: Option<f64>) -> Result<MujocoEnv<Walker>, EnvError> {
        let file = match body {
            PlanarWalker::Walker => "walker2d.xml",
            PlanarWalker::Hopper => "hopper.xml",
        };
        let mut sim = Simulation::load(file, 4, ResetNoise::Uniform(0.005))?;
        if let Some(dt) = timestep {
            sim.model.set_timestep(dt);
            sim.pristine.set_timestep(dt);
        }
        let obs_dim = sim.model.nq() - 1 + sim.model.nv();
        Ok(MujocoEnv::new(name, sim, Walker { body, randomised }, obs_dim))
    }
}

/// A model's body masses, inertias, joint damping and geom friction, in the order rand_param_envs'
/// `sample_tasks` draws multipliers for them.
pub fn physics_parameters(model: &Model) -> [Vec<f64>; 4] {
    [model.body_mass().to_vec(), model.body_inertia().to_vec(), model.dof_damping().to_vec(), model.geom_friction().to_vec()]
}

fn terminated(body: PlanarWalker, sim: &Simulation) -> bool {
    let q = sim.data.qpos();
    let (height, angle) = (q[1], q[2]);
    match body {
        PlanarWalker::Walker => !(height > 0.8 && height < 2.0 && angle > -1.0 && angle < 1.0),
        PlanarWalker::Hopper => {
            let state = q.iter().chain(sim.data.qvel());
            let sane = state.clone().all(|v| v.is_finite()) && state.skip(2).all(|v| v.abs() < 100.0);
            !(sane && height > 0.7 && angle.abs() < 0.2)
        }
    }
}

impl Robot for Walker {
    fn set_task(&mut self, sim: &mut Simulation, params: &TaskParams) -> bool {
        let m = &mut sim.model;
        match (self.randomised, params) {
            (Randomised::Physics, TaskParams::Physics { body_mass, body_inertia, dof_damping, geom_friction }) => {
                let sizes = [m.body_mass().len(), m.body_inertia().len(), m.dof_damping().len(), m.geom_friction().len()];
                if sizes != [body_mass.len(), body_inertia.len(), dof_damping.len(), geom_friction.len()] {
                    return false;
                }
                m.body_mass_mut().copy_from_slice(body_mass);
                m.body_inertia_mut().copy_from_slice(body_inertia);
                m.dof_damping_mut().copy_from_slice(dof_damping);
                m.geom_friction_mut().copy_from_slice(geom_friction);
            }
            // geom 0 is the floor.
            (Randomised::Size, TaskParams::Scale { scale }) => scale_from(&mut m.geom_size_mut()[3..], &sim.pristine.geom_size()[3..], *scale),
            _ => return false,
        }
        true
    }

    fn step(&mut self, sim: &mut Simulation, action: &[f64]) -> Result<Step, EnvError> {
        let x_before = sim.data.qpos()[0];
        sim.simulate(action)?;
        let alive_bonus = 1.0;
        let reward = (sim.data.qpos()[0] - x_before) / sim.dt() + alive_bonus - 1e-3 * sum_of_squares(action);
        Ok(Step { reward, terminated: terminated(self.body, sim), ..Step::default() })
    }

    fn observe(&self, sim: &Simulation, obs: &mut [f64]) {
        let d = &sim.data;
        let values = d.qpos()[1..].iter().copied().chain(d.qvel().iter().map(|v| v.clamp(-10.0, 10.0)));
        obs.iter_mut().zip(values).for_each(|(o, v)| *o = v);
    }
}
