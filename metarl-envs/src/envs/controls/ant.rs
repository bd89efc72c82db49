//! Ant: ant-dir and ant-goal as oyster writes them (`ant.py`, `ant_dir.py`, `ant_goal.py`), and
//! the MCAT dynamics tasks ant-damp and ant-cripple as MCAT's `ant_env.py` (step, lines 27-44) and
//! `ant_cripple_env.py` (step 37-63; guoyijie/MCAT@9ab4651) write them: forward velocity + 0.05 survive, a 0.005 control cost
//! (none for cripple), no contact term, never done.
//!
//! Model: Gymnasium's ant.xml, the same bodies, joints and gear 150 as oyster's `assets/ant.xml`
//! (which only adds two visual sites) and as MCAT's `assets/ant.xml` (the same file). oyster's `low_gear_ratio_ant.xml` is that file with every
//! motor's gear set to 30; [`Ant::env`] builds it from Gymnasium's file with `low_gear_ratio`.

use super::{clipped_contact_cost, gymnasium_model, sum_of_squares, MujocoEnv, ResetNoise, Robot, Simulation};
use crate::envs::{EnvError, Step, TaskParams};
use crate::sim::{Model, SimError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AntTask {
    /// Run in the direction of an angle (ant-dir).
    Direction,
    /// Reach a 2-D goal, L1 distance (ant-goal).
    Goal,
    /// Joint damping: hip_1 and ankle_1 × scale, the other hinges ÷ scale; run forward (ant-damp).
    Damping,
    /// One leg's actuators zeroed, run forward (ant-cripple).
    Cripple,
}

/// Actuator indices of each leg in ant.xml's `<actuator>` order (hip_4, ankle_4, hip_1, ankle_1,
/// hip_2, ankle_2, hip_3, ankle_3), legs numbered as the joints are (leg 0 = hip_1/ankle_1).
/// MCAT's `cripple_dict`.
const LEG_ACTUATORS: [[usize; 2]; 4] = [[2, 3], [4, 5], [6, 7], [0, 1]];

/// `ant_env.py` `reset` (guoyijie/MCAT@9ab4651, lines 74-77): `damping[2:8] *= s`, `damping[8:14] /= s` over the 14 dofs; dofs 0-5 are
/// the undamped free joint, so hip_1 and ankle_1 (dofs 6, 7) take s and the other six hinges 1/s.
fn scale_damping(damping: &mut [f64], pristine: &[f64], scale: f64) {
    for (dof, (d, p)) in damping.iter_mut().zip(pristine).enumerate() {
        *d = match dof {
            2..=7 => p * scale,
            8..=13 => p * (1.0 / scale),
            _ => *p,
        };
    }
}

pub struct Ant {
    kind: AntTask,
    torso: usize,
    /// Unit vector of the running direction (cos, sin).
    direction: [f64; 2],
    goal: [f64; 2],
    crippled: Option<usize>,
    /// The action after crippling, reused every step.
    applied: Vec<f64>,
}

fn ant_model(low_gear_ratio: bool) -> Result<Model, SimError> {
    let path = gymnasium_model("ant.xml");
    if !low_gear_ratio {
        return Model::from_xml_path(path);
    }
    let xml = std::fs::read_to_string(&path)
        .map_err(|e| SimError::Load { source_name: path.display().to_string(), message: e.to_string() })?;
    Model::from_xml_str(&xml.replace("gear=\"150\"", "gear=\"30\""))
}

impl Ant {
    pub fn env(name: &'static str, kind: AntTask, low_gear_ratio: bool) -> Result<MujocoEnv<Ant>, EnvError> {
        // rlkit AntEnv: frame_skip 5, qpos ± U(0.1), qvel + 0.1·N(0, 1).
        let sim = Simulation::new(ant_model(low_gear_ratio)?, 5, ResetNoise::UniformThenNormal(0.1))?;
        let (nq, nv, nbody) = (sim.model.nq(), sim.model.nv(), sim.model.nbody());
        let obs_dim = match kind {
            // ant-goal observes the x-y position and the clipped contact forces.
            AntTask::Goal => nq + nv + 6 * nbody,
            _ => nq - 2 + nv,
        };
        let ant = Ant {
            kind,
            torso: sim.model.body_id("torso")?,
            direction: [1.0, 0.0],
            goal: [0.0, 0.0],
            crippled: None,
            applied: vec![0.0; sim.model.nu()],
        };
        Ok(MujocoEnv::new(name, sim, ant, obs_dim))
    }
}

/// `state_vector()` finite and the torso height within [0.2, 1.0].
fn healthy(sim: &Simulation) -> bool {
    let data = &sim.data;
    let finite = data.qpos().iter().chain(data.qvel()).all(|v| v.is_finite());
    finite && (0.2..=1.0).contains(&data.qpos()[2])
}

impl Robot for Ant {
    fn set_task(&mut self, sim: &mut Simulation, params: &TaskParams) -> Result<bool, EnvError> {
        match (self.kind, params) {
            (AntTask::Direction, TaskParams::Angle { angle }) => self.direction = [angle.cos(), angle.sin()],
            // Forward is angle 0, backward angle π (oyster's forward/backward goals).
            (AntTask::Direction, TaskParams::Direction { direction }) => {
                let angle = if *direction > 0.0 { 0.0 } else { std::f64::consts::PI };
                self.direction = [angle.cos(), angle.sin()]
            }
            (AntTask::Goal, TaskParams::Goal { goal }) => self.goal = *goal,
            (AntTask::Damping, TaskParams::Scale { scale }) => {
                scale_damping(sim.model.dof_damping_mut(), sim.pristine.dof_damping(), *scale)
            }
            (AntTask::Cripple, TaskParams::CrippledLeg { leg }) if *leg < LEG_ACTUATORS.len() => self.crippled = Some(*leg),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn step(&mut self, sim: &mut Simulation, action: &[f64]) -> Result<Step, EnvError> {
        self.applied.copy_from_slice(action);
        if let Some(leg) = self.crippled {
            LEG_ACTUATORS[leg].iter().for_each(|&i| self.applied[i] = 0.0);
        }
        let before = sim.body_xpos(self.torso);
        sim.simulate(&self.applied)?;
        let after = sim.body_xpos(self.torso);
        let contact_cost = || 0.5 * 1e-3 * clipped_contact_cost(sim.data.cfrc_ext());
        Ok(match self.kind {
            AntTask::Goal => {
                let goal_reward = -((after[0] - self.goal[0]).abs() + (after[1] - self.goal[1]).abs());
                let reward = goal_reward - 0.1 * sum_of_squares(&self.applied) - contact_cost();
                Step { reward, ..Step::default() }
            }
            AntTask::Direction => {
                let dt = sim.dt();
                let velocity = [(after[0] - before[0]) / dt, (after[1] - before[1]) / dt];
                let forward_reward = velocity[0] * self.direction[0] + velocity[1] * self.direction[1];
                let survive_reward = 1.0;
                let reward = forward_reward - 0.5 * sum_of_squares(&self.applied) - contact_cost() + survive_reward;
                Step { reward, terminated: !healthy(sim), ..Step::default() }
            }
            AntTask::Damping | AntTask::Cripple => {
                let forward_reward = (after[0] - before[0]) / sim.dt();
                let control_cost = if self.kind == AntTask::Damping { 0.005 * sum_of_squares(action) } else { 0.0 };
                let survive_reward = 0.05;
                Step { reward: forward_reward - control_cost + survive_reward, ..Step::default() }
            }
        })
    }

    fn observe(&self, sim: &Simulation, obs: &mut [f64]) {
        let data = &sim.data;
        match self.kind {
            AntTask::Goal => {
                let clipped = data.cfrc_ext().iter().map(|f| f.clamp(-1.0, 1.0));
                let values = data.qpos().iter().chain(data.qvel()).copied().chain(clipped);
                obs.iter_mut().zip(values).for_each(|(o, v)| *o = v);
            }
            _ => {
                let values = data.qpos()[2..].iter().chain(data.qvel());
                obs.iter_mut().zip(values).for_each(|(o, v)| *o = *v);
            }
        }
    }
}
