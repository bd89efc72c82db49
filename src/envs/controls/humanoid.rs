//! humanoid-dir as oyster writes it (`humanoid_dir.py` on gym's `HumanoidEnv`).

use super::{sum_of_squares, ResetNoise, Simulation};
use crate::envs::{BoxSpace, Env, EnvError, Step, Task, TaskParams};

pub struct HumanoidDir {
    sim: Simulation,
    direction: [f64; 2],
    obs: Vec<f64>,
}

impl HumanoidDir {
    pub fn new() -> Result<Self, EnvError> {
        // gym HumanoidEnv: humanoid.xml, frame_skip 5, qpos and qvel ± U(0.01).
        let sim = Simulation::load("humanoid.xml", 5, ResetNoise::Uniform(0.01))?;
        let m = &sim.model;
        // qpos[2:], qvel, cinert, cvel, qfrc_actuator, cfrc_ext.
        let obs_dim = m.nq() - 2 + m.nv() + 10 * m.nbody() + 6 * m.nbody() + m.nv() + 6 * m.nbody();
        Ok(HumanoidDir { sim, direction: [1.0, 0.0], obs: vec![0.0; obs_dim] })
    }

    /// x-y of the centre of mass, `Σ mᵢ xiposᵢ / Σ mᵢ`.
    fn mass_center(&self) -> [f64; 2] {
        let (masses, xipos) = (self.sim.model.body_mass(), self.sim.data.xipos());
        let total: f64 = masses.iter().sum();
        let mut center = [0.0; 2];
        for (m, p) in masses.iter().zip(xipos.chunks(3)) {
            center[0] += m * p[0];
            center[1] += m * p[1];
        }
        [center[0] / total, center[1] / total]
    }

    fn write_observation(&mut self) {
        let d = &self.sim.data;
        let values = d.qpos()[2..].iter().chain(d.qvel()).chain(d.cinert()).chain(d.cvel()).chain(d.qfrc_actuator()).chain(d.cfrc_ext());
        self.obs.iter_mut().zip(values).for_each(|(o, v)| *o = *v);
    }
}

impl Env for HumanoidDir {
    fn name(&self) -> &str {
        "humanoid-dir"
    }

    fn observation_dim(&self) -> usize {
        self.obs.len()
    }

    fn action_space(&self) -> &BoxSpace {
        &self.sim.action_space
    }

    fn set_task(&mut self, task: &Task) -> Result<(), EnvError> {
        match task.params {
            TaskParams::Angle { angle } => self.direction = [angle.cos(), angle.sin()],
            ref params => return Err(EnvError::WrongTask { env: self.name().into(), kind: params.kind() }),
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
        let before = self.mass_center();
        self.sim.simulate(action)?;
        let after = self.mass_center();
        // oyster divides the displacement by the physics timestep, not the env step (dt).
        let displacement = self.direction[0] * (after[0] - before[0]) + self.direction[1] * (after[1] - before[1]);
        let lin_vel_cost = 0.25 * displacement / self.sim.model.timestep();
        let quad_ctrl_cost = 0.1 * sum_of_squares(self.sim.data.ctrl());
        let quad_impact_cost = (0.5e-6 * sum_of_squares(self.sim.data.cfrc_ext())).min(10.0);
        let alive_bonus = 5.0;
        let reward = lin_vel_cost - quad_ctrl_cost - quad_impact_cost + alive_bonus;
        let z = self.sim.data.qpos()[2];
        self.write_observation();
        Ok(Step { reward, terminated: !(1.0..=2.0).contains(&z), ..Step::default() })
    }

    fn observation(&self) -> &[f64] {
        &self.obs
    }
}
