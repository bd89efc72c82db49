//! humanoid-dir as oyster writes it (`humanoid_dir.py` on gym's `HumanoidEnv`).

use super::{sum_of_squares, MujocoEnv, ResetNoise, Robot, Simulation};
use crate::envs::{EnvError, Step, TaskParams};

pub struct HumanoidDir {
    direction: [f64; 2],
}

impl HumanoidDir {
    pub fn env(name: &'static str) -> Result<MujocoEnv<HumanoidDir>, EnvError> {
        // gym HumanoidEnv: humanoid.xml, frame_skip 5, qpos and qvel ± U(0.01).
        let sim = Simulation::load("humanoid.xml", 5, ResetNoise::Uniform(0.01))?;
        let m = &sim.model;
        // qpos[2:], qvel, cinert, cvel, qfrc_actuator, cfrc_ext.
        let obs_dim = m.nq() - 2 + m.nv() + 10 * m.nbody() + 6 * m.nbody() + m.nv() + 6 * m.nbody();
        Ok(MujocoEnv::new(name, sim, HumanoidDir { direction: [1.0, 0.0] }, obs_dim))
    }
}

/// x-y of the centre of mass, `Σ mᵢ xiposᵢ / Σ mᵢ`.
fn mass_center(sim: &Simulation) -> [f64; 2] {
    let (masses, xipos) = (sim.model.body_mass(), sim.data.xipos());
    let total: f64 = masses.iter().sum();
    let mut center = [0.0; 2];
    for (m, p) in masses.iter().zip(xipos.chunks(3)) {
        center[0] += m * p[0];
        center[1] += m * p[1];
    }
    [center[0] / total, center[1] / total]
}

impl Robot for HumanoidDir {
    fn set_task(&mut self, _: &mut Simulation, params: &TaskParams) -> Result<bool, EnvError> {
        match params {
            TaskParams::Angle { angle } => self.direction = [angle.cos(), angle.sin()],
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn step(&mut self, sim: &mut Simulation, action: &[f64]) -> Result<Step, EnvError> {
        let before = mass_center(sim);
        sim.simulate(action)?;
        let after = mass_center(sim);
        // oyster divides the displacement by the physics timestep, not the env step (dt).
        let displacement = self.direction[0] * (after[0] - before[0]) + self.direction[1] * (after[1] - before[1]);
        let lin_vel_cost = 0.25 * displacement / sim.model.timestep();
        let quad_ctrl_cost = 0.1 * sum_of_squares(sim.data.ctrl());
        let quad_impact_cost = (0.5e-6 * sum_of_squares(sim.data.cfrc_ext())).min(10.0);
        let alive_bonus = 5.0;
        let reward = lin_vel_cost - quad_ctrl_cost - quad_impact_cost + alive_bonus;
        let z = sim.data.qpos()[2];
        Ok(Step { reward, terminated: !(1.0..=2.0).contains(&z), ..Step::default() })
    }

    fn observe(&self, sim: &Simulation, obs: &mut [f64]) {
        let d = &sim.data;
        let values = d.qpos()[2..].iter().chain(d.qvel()).chain(d.cinert()).chain(d.cvel()).chain(d.qfrc_actuator()).chain(d.cfrc_ext());
        obs.iter_mut().zip(values).for_each(|(o, v)| *o = *v);
    }
}
