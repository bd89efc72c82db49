//! Planar walkers: walker-rand-params and hopper-rand-params as rand_param_envs writes them
//! (`walker2d_rand_params.py`, `hopper_rand_params.py`, `base.py`), and MCAT's hopper-size.
//!
//! rand_param_envs ran MuJoCo 1.31 models with `timestep="0.004"` and `RandomEnv` forces
//! `frame_skip` 4 for both (the walker's own 5 is swallowed by `*args`); Gymnasium's walker2d.xml
//! and hopper.xml are the same bodies in local coordinates with timestep 0.002, so the
//! rand-params envs set the timestep back to 0.004. hopper-size is MCAT's `hopper_env.py`
//! (guoyijie/MCAT@9ab4651: a model per size, lines 13 and 60; step 29-39, done = False): gym
//! Hopper-v2's model, timestep and reward, one compiled model per capsule radius, never done.

use super::{replace_once, sum_of_squares, ModelPerTask, MujocoEnv, ResetNoise, Robot, Simulation};
use crate::envs::{EnvError, Step, TaskParams};
use crate::sim::Model;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlanarWalker {
    Walker,
    Hopper,
}

/// What a task changes.
enum Randomised {
    /// Body mass, inertia, joint damping and geom friction (rand_param_envs `RAND_PARAMS`).
    Physics,
    /// The capsules' radii, compiled into the model per task (hopper-size).
    Radius(ModelPerTask),
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
        let models = ModelPerTask::new("hopper.xml", with_radius)?;
        Self::env(name, PlanarWalker::Hopper, Randomised::Radius(models), None)
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

/// hopper.xml with MCAT's `hopper_size{r}.xml` radii: torso and thigh r, leg 0.8 r, foot 1.2 r
/// (0.05, 0.05, 0.04, 0.06 by default). The capsules' lengths stay, and the compiler derives the
/// masses from the new volumes (`inertiafromgeom`). The authors' files write 0.8 r and 1.2 r as
/// short decimals (0.056, not 0.05600000000000001), so they are rounded to 1e-6 here.
fn with_radius(xml: &str, radius: f64) -> Result<String, String> {
    let decimal = |r: f64| (r * 1e6).round() / 1e6;
    let capsules = [("torso_geom", 0.05, 1.0), ("thigh_geom", 0.05, 1.0), ("leg_geom", 0.04, 0.8), ("foot_geom", 0.06, 1.2)];
    capsules.iter().try_fold(xml.to_string(), |xml, (geom, default, ratio)| {
        let size = |r: f64| format!(r#"name="{geom}" size="{r} "#);
        replace_once(&xml, &size(*default), &size(decimal(ratio * radius)))
    })
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
    fn set_task(&mut self, sim: &mut Simulation, params: &TaskParams) -> Result<bool, EnvError> {
        let m = &mut sim.model;
        match (&mut self.randomised, params) {
            (Randomised::Physics, TaskParams::Physics { body_mass, body_inertia, dof_damping, geom_friction }) => {
                let sizes = [m.body_mass().len(), m.body_inertia().len(), m.dof_damping().len(), m.geom_friction().len()];
                if sizes != [body_mass.len(), body_inertia.len(), dof_damping.len(), geom_friction.len()] {
                    return Ok(false);
                }
                m.body_mass_mut().copy_from_slice(body_mass);
                m.body_inertia_mut().copy_from_slice(body_inertia);
                m.dof_damping_mut().copy_from_slice(dof_damping);
                m.geom_friction_mut().copy_from_slice(geom_friction);
            }
            (Randomised::Radius(models), TaskParams::Radius { radius }) => models.switch(sim, *radius)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn step(&mut self, sim: &mut Simulation, action: &[f64]) -> Result<Step, EnvError> {
        let x_before = sim.data.qpos()[0];
        sim.simulate(action)?;
        let alive_bonus = 1.0;
        let reward = (sim.data.qpos()[0] - x_before) / sim.dt() + alive_bonus - 1e-3 * sum_of_squares(action);
        // MCAT's hopper never ends an episode early (`hopper_env.py`: `done = False`).
        let terminated = matches!(self.randomised, Randomised::Physics) && terminated(self.body, sim);
        Ok(Step { reward, terminated, ..Step::default() })
    }

    fn observe(&self, sim: &Simulation, obs: &mut [f64]) {
        let d = &sim.data;
        let values = d.qpos()[1..].iter().copied().chain(d.qvel().iter().map(|v| v.clamp(-10.0, 10.0)));
        obs.iter_mut().zip(values).for_each(|(o, v)| *o = v);
    }
}
