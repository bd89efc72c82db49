//! Half-cheetah: cheetah-vel and cheetah-dir as oyster writes them (`half_cheetah_vel.py`,
//! `half_cheetah_dir.py`, on gym's `HalfCheetahEnv`), and the MCAT dynamics tasks
//! cheetah-armature and cheetah-mass as MCAT's `halfcheetah_env.py` writes them (guoyijie/MCAT@9ab4651:
//! a model per armature, lines 13 and 51; mass 55-59; step 31-40; gym
//! HalfCheetah-v2's reward, never done).

use super::{replace_once, scale_from, sum_of_squares, ModelPerTask, MujocoEnv, ResetNoise, Robot, Simulation};
use crate::envs::{EnvError, Step, TaskParams};

/// What the task changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CheetahTask {
    /// Reward `-|v - v_goal| - 0.05‖a‖²` (oyster cheetah-vel).
    Velocity,
    /// Reward `d·v - 0.05‖a‖²`, d = ±1 (oyster cheetah-dir).
    Direction,
    /// The actuated joints' armature, absolute, compiled from the XML as MCAT's
    /// `half_cheetah_arma*.xml` set it; reward `v - 0.1‖a‖²` (gym HalfCheetah-v2).
    Armature,
    /// Every body mass × scale (`halfcheetah_env.py` `reset`); reward as `Armature`.
    Mass,
}

pub struct Cheetah {
    kind: CheetahTask,
    /// cheetah-armature's model per armature value.
    armature_models: Option<ModelPerTask>,
    torso: usize,
    /// Target velocity or direction sign.
    goal: f64,
}

impl Cheetah {
    pub fn env(name: &'static str, kind: CheetahTask) -> Result<MujocoEnv<Cheetah>, EnvError> {
        // gym HalfCheetahEnv: half_cheetah.xml, frame_skip 5, qpos ± U(0.1), qvel + 0.1·N(0, 1).
        let sim = Simulation::load("half_cheetah.xml", 5, ResetNoise::UniformThenNormal(0.1))?;
        let obs_dim = match kind {
            // oyster adds the torso position: qpos[1:], qvel, com(torso).
            CheetahTask::Velocity | CheetahTask::Direction => sim.model.nq() - 1 + sim.model.nv() + 3,
            CheetahTask::Armature | CheetahTask::Mass => sim.model.nq() - 1 + sim.model.nv(),
        };
        let goal = if kind == CheetahTask::Direction { 1.0 } else { 0.0 };
        let torso = sim.model.body_id("torso")?;
        let armature_models = match kind {
            CheetahTask::Armature => Some(ModelPerTask::new("half_cheetah.xml", with_armature)?),
            _ => None,
        };
        Ok(MujocoEnv::new(name, sim, Cheetah { kind, armature_models, torso, goal }, obs_dim))
    }
}

/// half_cheetah.xml with the default joint armature (0.1; the root joints set their own 0) replaced,
/// which is all MCAT's `half_cheetah_arma{value}.xml` changes in the physics.
fn with_armature(xml: &str, armature: f64) -> Result<String, String> {
    replace_once(xml, r#"<joint armature=".1" "#, &format!(r#"<joint armature="{armature}" "#))
}

impl Robot for Cheetah {
    fn set_task(&mut self, sim: &mut Simulation, params: &TaskParams) -> Result<bool, EnvError> {
        match (self.kind, params, self.armature_models.as_mut()) {
            (CheetahTask::Velocity, TaskParams::Velocity { velocity }, _) => self.goal = *velocity,
            (CheetahTask::Direction, TaskParams::Direction { direction }, _) => self.goal = *direction,
            (CheetahTask::Armature, TaskParams::Armature { armature }, Some(models)) => models.switch(sim, *armature)?,
            (CheetahTask::Mass, TaskParams::Scale { scale }, _) => {
                scale_from(sim.model.body_mass_mut(), sim.pristine.body_mass(), *scale)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn step(&mut self, sim: &mut Simulation, action: &[f64]) -> Result<Step, EnvError> {
        let x_before = sim.data.qpos()[0];
        sim.simulate(action)?;
        let forward_vel = (sim.data.qpos()[0] - x_before) / sim.dt();
        let reward = match self.kind {
            CheetahTask::Velocity => -(forward_vel - self.goal).abs() - 0.5 * 1e-1 * sum_of_squares(action),
            CheetahTask::Direction => self.goal * forward_vel - 0.5 * 1e-1 * sum_of_squares(action),
            CheetahTask::Armature | CheetahTask::Mass => forward_vel - 0.1 * sum_of_squares(action),
        };
        Ok(Step { reward, ..Step::default() })
    }

    fn observe(&self, sim: &Simulation, obs: &mut [f64]) {
        let data = &sim.data;
        let parts = data.qpos()[1..].iter().chain(data.qvel());
        match self.kind {
            CheetahTask::Velocity | CheetahTask::Direction => {
                // oyster's HalfCheetahEnv casts the observation to float32.
                let torso_xpos = &data.xpos()[3 * self.torso..3 * self.torso + 3];
                obs.iter_mut().zip(parts.chain(torso_xpos)).for_each(|(o, v)| *o = *v as f32 as f64);
            }
            CheetahTask::Armature | CheetahTask::Mass => obs.iter_mut().zip(parts).for_each(|(o, v)| *o = *v),
        }
    }
}
