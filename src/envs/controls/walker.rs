//! Planar walkers: walker-rand-params and hopper-rand-params as rand_param_envs writes them
//! (`walker2d_rand_params.py`, `hopper_rand_params.py`, `base.py`), and MCAT's hopper-size.
//!
//! rand_param_envs ran MuJoCo 1.31 models with `timestep="0.004"` and `RandomEnv` forces
//! `frame_skip` 4 for both (the walker's own 5 is swallowed by `*args`); Gymnasium's walker2d.xml
//! and hopper.xml are the same bodies in local coordinates with timestep 0.002, so the
//! rand-params envs set the timestep back to 0.004. hopper-size keeps gym Hopper-v2's 0.002.

use super::{scale_from, sum_of_squares, ResetNoise, Simulation};
use crate::envs::{BoxSpace, Env, EnvError, Step, Task, TaskParams};

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
    name: &'static str,
    body: PlanarWalker,
    randomised: Randomised,
    sim: Simulation,
    obs: Vec<f64>,
}

impl Walker {
    /// walker-rand-params / hopper-rand-params.
    pub fn rand_params(name: &'static str, body: PlanarWalker) -> Result<Self, EnvError> {
        Self::new(name, body, Randomised::Physics, Some(0.004))
    }

    /// hopper-size.
    pub fn hopper_size(name: &'static str) -> Result<Self, EnvError> {
        Self::new(name, PlanarWalker::Hopper, Randomised::Size, None)
    }

    fn new(name: &'static str, body: PlanarWalker, randomised: Randomised, timestep: Option<f64>) -> Result<Self, EnvError> {
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
        Ok(Walker { name, body, randomised, sim, obs: vec![0.0; obs_dim] })
    }

    /// The parameters a rand-params task sets, in the order `sample_tasks` draws them.
    pub fn physics_sizes(&self) -> [usize; 4] {
        let m = &self.sim.model;
        [m.nbody(), 3 * m.nbody(), m.nv(), 3 * m.ngeom()]
    }

    /// The loaded model's mass, inertia, damping and friction (`init_params`).
    pub fn default_physics(&self) -> [Vec<f64>; 4] {
        let m = &self.sim.pristine;
        [m.body_mass().to_vec(), m.body_inertia().to_vec(), m.dof_damping().to_vec(), m.geom_friction().to_vec()]
    }

    fn write_observation(&mut self) {
        let d = &self.sim.data;
        let values = d.qpos()[1..].iter().copied().chain(d.qvel().iter().map(|v| v.clamp(-10.0, 10.0)));
        self.obs.iter_mut().zip(values).for_each(|(o, v)| *o = v);
    }

    fn terminated(&self) -> bool {
        let q = self.sim.data.qpos();
        let (height, angle) = (q[1], q[2]);
        match self.body {
            PlanarWalker::Walker => !(height > 0.8 && height < 2.0 && angle > -1.0 && angle < 1.0),
            PlanarWalker::Hopper => {
                let state = q.iter().chain(self.sim.data.qvel());
                let sane = state.clone().all(|v| v.is_finite()) && state.skip(2).all(|v| v.abs() < 100.0);
                !(sane && height > 0.7 && angle.abs() < 0.2)
            }
        }
    }
}

impl Env for Walker {
    fn name(&self) -> &str {
        self.name
    }

    fn observation_dim(&self) -> usize {
        self.obs.len()
    }

    fn action_space(&self) -> &BoxSpace {
        &self.sim.action_space
    }

    fn set_task(&mut self, task: &Task) -> Result<(), EnvError> {
        let sizes = self.physics_sizes();
        let m = &mut self.sim.model;
        match (self.randomised, &task.params) {
            (Randomised::Physics, TaskParams::Physics { body_mass, body_inertia, dof_damping, geom_friction })
                if [body_mass.len(), body_inertia.len(), dof_damping.len(), geom_friction.len()] == sizes =>
            {
                m.body_mass_mut().copy_from_slice(body_mass);
                m.body_inertia_mut().copy_from_slice(body_inertia);
                m.dof_damping_mut().copy_from_slice(dof_damping);
                m.geom_friction_mut().copy_from_slice(geom_friction);
            }
            (Randomised::Size, TaskParams::Scale { scale }) => {
                // geom 0 is the floor.
                scale_from(&mut m.geom_size_mut()[3..], &self.sim.pristine.geom_size()[3..], *scale)
            }
            (_, params) => return Err(EnvError::WrongTask { env: self.name.into(), kind: params.kind() }),
        }
        Ok(())
    }

    fn seed(&mut self, seed: u32) {
        self.sim.seed(seed);
    }

    fn reset(&mut self) -> Result<&[f64], EnvError> {
        self.sim.reset()?;
        self.write_observation();
        Ok(&self.obs)
    }

    fn step(&mut self, action: &[f64]) -> Result<Step, EnvError> {
        self.sim.action_space.check(action)?;
        self.sim.require_reset()?;
        let x_before = self.sim.data.qpos()[0];
        self.sim.simulate(action)?;
        let alive_bonus = 1.0;
        let reward = (self.sim.data.qpos()[0] - x_before) / self.sim.dt() + alive_bonus - 1e-3 * sum_of_squares(action);
        self.write_observation();
        Ok(Step { reward, terminated: self.terminated(), ..Step::default() })
    }

    fn observation(&self) -> &[f64] {
        &self.obs
    }
}
