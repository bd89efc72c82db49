//! MuJoCo Controls (the PEARL suite: oyster `rlkit/envs/*.py`, rand_param_envs) and the MCAT
//! dynamics tasks (papers/004 §5.2, as guoyijie/MCAT `Table 1 Replicate/envs/*.py` writes them),
//! on Gymnasium's model files from the dependency cache.
//!
//! [`MujocoEnv`] is the part every one of them shares, as gym's `MujocoEnv` is: the model, the
//! frame skip, `do_simulation`, and reset = `mj_resetData` + noise on `init_qpos`/`init_qvel`;
//! each body ([`Cheetah`], [`Ant`], [`HumanoidDir`], [`Walker`]) is a [`Robot`]: its tasks, its
//! reward and termination, its observation.
//! After every simulation the contact forces `cfrc_ext` are recomputed (`mj_rnePostConstraint`):
//! the references ran on MuJoCo 1.5, whose forward pass always filled them, and ant-goal and
//! humanoid-dir observe them.

mod ant;
mod cheetah;
mod humanoid;
mod walker;

pub use ant::{Ant, AntTask};
pub use cheetah::{Cheetah, CheetahTask};
pub use humanoid::HumanoidDir;
pub use walker::{physics_parameters, PlanarWalker, Walker};

use super::{Env, Step, Task, TaskParams};

use std::path::PathBuf;

use super::np_random::RandomState;
use super::{BoxSpace, EnvError};
use crate::paths;
use crate::sim::{Data, Model, SimError};

/// How `reset_model` perturbs `init_qpos` and `init_qvel`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ResetNoise {
    /// `qpos += uniform(-s, s, nq)`, then `qvel += s * randn(nv)` (gym HalfCheetah, rlkit Ant).
    UniformThenNormal(f64),
    /// `qpos += uniform(-s, s, nq)`, then `qvel += uniform(-s, s, nv)` (Humanoid, Walker2d, Hopper).
    Uniform(f64),
}

/// A Gymnasium model file from the dependency cache.
pub(crate) fn gymnasium_model(file: &str) -> PathBuf {
    paths::gymnasium_assets().join(file)
}

/// What one MuJoCo env adds to the shared [`Simulation`].
pub trait Robot: Send {
    /// Apply a task's parameters; `Ok(false)` when the task belongs to another family.
    fn set_task(&mut self, sim: &mut Simulation, params: &TaskParams) -> Result<bool, EnvError>;
    /// Simulate one env step with `action` (already checked) and score it.
    fn step(&mut self, sim: &mut Simulation, action: &[f64]) -> Result<Step, EnvError>;
    /// Write the observation of the current state.
    fn observe(&self, sim: &Simulation, obs: &mut [f64]);
}

/// A MuJoCo env: the shared simulation, one robot, and the observation buffer.
pub struct MujocoEnv<R> {
    name: &'static str,
    sim: Simulation,
    robot: R,
    obs: Vec<f64>,
}

impl<R: Robot> MujocoEnv<R> {
    pub(crate) fn new(name: &'static str, sim: Simulation, robot: R, obs_dim: usize) -> Self {
        MujocoEnv { name, sim, robot, obs: vec![0.0; obs_dim] }
    }

    /// The model as loaded, before any task changed it.
    pub fn pristine_model(&self) -> &Model {
        &self.sim.pristine
    }
}

impl<R: Robot> Env for MujocoEnv<R> {
    fn name(&self) -> &str {
        self.name
    }

    fn physics(&self) -> Option<(&Model, &Data)> {
        Some((&self.sim.model, &self.sim.data))
    }

    fn observation_dim(&self) -> usize {
        self.obs.len()
    }

    fn action_space(&self) -> &BoxSpace {
        &self.sim.action_space
    }

    fn set_task(&mut self, task: &Task) -> Result<(), EnvError> {
        if self.robot.set_task(&mut self.sim, &task.params)? {
            Ok(())
        } else {
            Err(EnvError::WrongTask { env: self.name.into(), kind: task.params.kind() })
        }
    }

    fn seed(&mut self, seed: u32) {
        self.sim.rng = RandomState::new(seed);
    }

    fn reset(&mut self) -> Result<&[f64], EnvError> {
        self.sim.reset()?;
        self.robot.observe(&self.sim, &mut self.obs);
        Ok(&self.obs)
    }

    fn step(&mut self, action: &[f64]) -> Result<Step, EnvError> {
        self.sim.action_space.check(action)?;
        if !self.sim.was_reset {
            return Err(EnvError::NotReset);
        }
        let step = self.robot.step(&mut self.sim, action)?;
        self.robot.observe(&self.sim, &mut self.obs);
        Ok(step)
    }

    fn observation(&self) -> &[f64] {
        &self.obs
    }
}

pub struct Simulation {
    pub model: Model,
    pub data: Data,
    /// The model as loaded, for tasks that scale its parameters.
    pub pristine: Model,
    pub frame_skip: usize,
    init_qpos: Vec<f64>,
    init_qvel: Vec<f64>,
    noise: ResetNoise,
    rng: RandomState,
    action_space: BoxSpace,
    was_reset: bool,
}

impl Simulation {
    pub(crate) fn new(model: Model, frame_skip: usize, noise: ResetNoise) -> Result<Self, SimError> {
        let data = Data::new(&model);
        let (low, high) = model.actuator_ctrlrange().chunks(2).map(|r| (r[0], r[1])).unzip();
        Ok(Simulation {
            init_qpos: model.qpos0().to_vec(),
            init_qvel: vec![0.0; model.nv()],
            pristine: model.clone(),
            model,
            data,
            frame_skip,
            noise,
            rng: RandomState::new(0),
            action_space: BoxSpace { low, high },
            was_reset: false,
        })
    }

    pub(crate) fn load(file: &str, frame_skip: usize, noise: ResetNoise) -> Result<Self, SimError> {
        Self::new(Model::from_xml_path(gymnasium_model(file))?, frame_skip, noise)
    }

    /// Simulate `model` from now on (a task with its own compiled model); the next step needs a
    /// reset.
    fn use_model(&mut self, model: Model) {
        self.data = Data::new(&model);
        self.init_qpos = model.qpos0().to_vec();
        self.model = model;
        self.was_reset = false;
    }

    /// Seconds per env step: `timestep × frame_skip`.
    pub fn dt(&self) -> f64 {
        self.model.timestep() * self.frame_skip as f64
    }

    /// gym's `do_simulation`: `ctrl = action`, `frame_skip` × `mj_step`.
    pub(crate) fn simulate(&mut self, ctrl: &[f64]) -> Result<(), EnvError> {
        self.data.ctrl_mut().copy_from_slice(ctrl);
        self.data.step(&self.model, self.frame_skip)?;
        self.data.rne_post_constraint(&self.model)?;
        Ok(())
    }

    /// gym's `reset`: `mj_resetData`, then `set_state(init_qpos + noise, init_qvel + noise)`,
    /// drawing the qpos noise before the qvel noise as the references do.
    fn reset(&mut self) -> Result<(), EnvError> {
        self.data.reset(&self.model)?;
        let (scale, normal_qvel) = match self.noise {
            ResetNoise::UniformThenNormal(s) => (s, true),
            ResetNoise::Uniform(s) => (s, false),
        };
        for (q, q0) in self.data.qpos_mut().iter_mut().zip(&self.init_qpos) {
            *q = q0 + self.rng.uniform(-scale, scale);
        }
        for (v, v0) in self.data.qvel_mut().iter_mut().zip(&self.init_qvel) {
            let noise = if normal_qvel { scale * self.rng.standard_normal() } else { self.rng.uniform(-scale, scale) };
            *v = v0 + noise;
        }
        self.data.forward(&self.model)?;
        self.data.rne_post_constraint(&self.model)?;
        self.was_reset = true;
        Ok(())
    }

    /// World position of a body (`get_body_com` in mujoco-py 1.5 returns `xpos`).
    pub fn body_xpos(&self, body: usize) -> [f64; 3] {
        let p = &self.data.xpos()[3 * body..3 * body + 3];
        [p[0], p[1], p[2]]
    }
}

/// One compiled model per task value, from a model file with that value written into its XML, as
/// MCAT ships one file per task (`half_cheetah_arma*.xml`, `hopper_size*.xml`): the compiler then
/// derives masses, inertias, bounding volumes and `*_invweight0` from the value, which writing it
/// into a compiled model would leave at the old one.
pub(crate) struct ModelPerTask {
    file: &'static str,
    xml: String,
    write: fn(&str, f64) -> Result<String, String>,
    compiled: Vec<(f64, Model)>,
    /// The value whose model the simulation runs.
    in_use: Option<f64>,
}

impl ModelPerTask {
    /// `write(xml, value)` returns the file's XML for one task, or what it could not find.
    pub(crate) fn new(file: &'static str, write: fn(&str, f64) -> Result<String, String>) -> Result<Self, SimError> {
        let path = gymnasium_model(file);
        let xml = std::fs::read_to_string(&path)
            .map_err(|e| SimError::Load { source_name: path.display().to_string(), message: e.to_string() })?;
        Ok(ModelPerTask { file, xml, write, compiled: vec![], in_use: None })
    }

    /// Make `sim` run the model of the task with `value` (compiled on first use); nothing to do
    /// when it already does.
    pub(crate) fn switch(&mut self, sim: &mut Simulation, value: f64) -> Result<(), SimError> {
        if self.in_use == Some(value) {
            return Ok(());
        }
        let model = match self.compiled.iter().find(|(v, _)| *v == value) {
            Some((_, model)) => model.clone(),
            None => {
                let xml = (self.write)(&self.xml, value)
                    .map_err(|message| SimError::Load { source_name: format!("{} with {value}", self.file), message })?;
                let model = Model::from_xml_str(&xml)?;
                self.compiled.push((value, model.clone()));
                model
            }
        };
        sim.use_model(model);
        self.in_use = Some(value);
        Ok(())
    }
}

/// `xml` with its one occurrence of `from` replaced by `to`.
pub(crate) fn replace_once(xml: &str, from: &str, to: &str) -> Result<String, String> {
    match xml.matches(from).count() {
        1 => Ok(xml.replacen(from, to, 1)),
        n => Err(format!("expected one `{from}` in the model file, found {n}")),
    }
}

/// Squared norm, `np.square(a).sum()`.
pub(crate) fn sum_of_squares(values: &[f64]) -> f64 {
    values.iter().map(|v| v * v).sum()
}

/// `np.sum(np.square(np.clip(cfrc_ext, -1, 1)))`.
pub(crate) fn clipped_contact_cost(cfrc_ext: &[f64]) -> f64 {
    cfrc_ext.iter().map(|f| f.clamp(-1.0, 1.0).powi(2)).sum()
}

/// Scales a model array from the pristine values: `target[i] = pristine[i] * scale`.
pub(crate) fn scale_from(target: &mut [f64], pristine: &[f64], scale: f64) {
    for (t, p) in target.iter_mut().zip(pristine) {
        *t = p * scale;
    }
}
