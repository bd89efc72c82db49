//! Half-cheetah: cheetah-vel and cheetah-dir as oyster writes them (`half_cheetah_vel.py`,
//! `half_cheetah_dir.py`, on gym's `HalfCheetahEnv`), and the MCAT dynamics tasks
//! cheetah-armature and cheetah-mass on gym's HalfCheetah-v2 reward.

use super::{scale_from, sum_of_squares, ResetNoise, Simulation};
use crate::envs::{BoxSpace, Env, EnvError, Step, Task, TaskParams};

/// What the task changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CheetahTask {
    /// Reward `-|v - v_goal| - 0.05‖a‖²` (oyster cheetah-vel).
    Velocity,
    /// Reward `d·v - 0.05‖a‖²`, d = ±1 (oyster cheetah-dir).
    Direction,
    /// Joint armature × scale; reward `v - 0.1‖a‖²` (gym HalfCheetah-v2).
    Armature,
    /// Body masses × scale; reward as `Armature`.
    Mass,
}

pub struct Cheetah {
    name: &'static str,
    kind: CheetahTask,
    sim: Simulation,
    torso: usize,
    /// Target velocity or direction sign.
    goal: f64,
    obs: Vec<f64>,
}

impl Cheetah {
    pub fn new(name: &'static str, kind: CheetahTask) -> Result<Self, EnvError> {
        // gym HalfCheetahEnv: half_cheetah.xml, frame_skip 5, qpos ± U(0.1), qvel + 0.1·N(0, 1).
        let sim = Simulation::load("half_cheetah.xml", 5, ResetNoise::UniformThenNormal(0.1))?;
        let obs_dim = match kind {
            // oyster adds the torso position: qpos[1:], qvel, com(torso).
            CheetahTask::Velocity | CheetahTask::Direction => sim.model.nq() - 1 + sim.model.nv() + 3,
            CheetahTask::Armature | CheetahTask::Mass => sim.model.nq() - 1 + sim.model.nv(),
        };
        let goal = match kind {
            CheetahTask::Direction => 1.0,
            _ => 0.0,
        };
        let torso = sim.model.body_id("torso")?;
        Ok(Cheetah { name, kind, sim, torso, goal, obs: vec![0.0; obs_dim] })
    }

    fn write_observation(&mut self) {
        let data = &self.sim.data;
        let torso = self.torso;
        let parts = data.qpos()[1..].iter().chain(data.qvel());
        match self.kind {
            CheetahTask::Velocity | CheetahTask::Direction => {
                // oyster's HalfCheetahEnv casts the observation to float32.
                let torso_xpos = &data.xpos()[3 * torso..3 * torso + 3];
                for (o, v) in self.obs.iter_mut().zip(parts.chain(torso_xpos)) {
                    *o = *v as f32 as f64;
                }
            }
            CheetahTask::Armature | CheetahTask::Mass => {
                for (o, v) in self.obs.iter_mut().zip(parts) {
                    *o = *v;
                }
            }
        }
    }
}

impl Env for Cheetah {
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
        let sim = &mut self.sim;
        match (self.kind, &task.params) {
            (CheetahTask::Velocity, TaskParams::Velocity { velocity }) => self.goal = *velocity,
            (CheetahTask::Direction, TaskParams::Direction { direction }) => self.goal = *direction,
            (CheetahTask::Armature, TaskParams::Scale { scale }) => {
                scale_from(sim.model.dof_armature_mut(), sim.pristine.dof_armature(), *scale)
            }
            (CheetahTask::Mass, TaskParams::Scale { scale }) => {
                scale_from(sim.model.body_mass_mut(), sim.pristine.body_mass(), *scale)
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
        let forward_vel = (self.sim.data.qpos()[0] - x_before) / self.sim.dt();
        let reward = match self.kind {
            CheetahTask::Velocity => -(forward_vel - self.goal).abs() - 0.5 * 1e-1 * sum_of_squares(action),
            CheetahTask::Direction => self.goal * forward_vel - 0.5 * 1e-1 * sum_of_squares(action),
            CheetahTask::Armature | CheetahTask::Mass => forward_vel - 0.1 * sum_of_squares(action),
        };
        self.write_observation();
        Ok(Step { reward, ..Step::default() })
    }

    fn observation(&self) -> &[f64] {
        &self.obs
    }
}
