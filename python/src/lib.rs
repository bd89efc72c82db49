//! `metarl_envs._native`: metarl's envs for Python. `metarl_envs/__init__.py` wraps these classes
//! as `gymnasium.Env` and `gymnasium.vector.VectorEnv`; nothing here is Python-facing API.
//!
//! - [`NativeEnv`]: one env (registry name, options), stepped under the GIL.
//! - [`NativeVecEnv`]: n envs stepped on a pool of Rust threads with the GIL released; one array
//!   copied in (the actions) and one out (the observations) per step.
//! - [`NativeRenderer`]: the project's offscreen renderer (OSMesa) on a `NativeEnv`.

use std::sync::Mutex;

use metarl_envs::envs::camera::{default_camera, turned_half, upside_down};
use metarl_envs::envs::registry::{lookup, oracle};
use metarl_envs::envs::{Env, EnvError, EnvOptions, Step, Suite, Task, TaskParams, REGISTRY};
use metarl_envs::sim::{Camera, Renderer, SimError};
use numpy::{PyArray1, PyArray2, PyArray3, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

fn env_error(error: EnvError) -> PyErr {
    let message = error.to_string();
    match error {
        EnvError::NotReset | EnvError::EpisodeOver { .. } | EnvError::Sim(_) => PyRuntimeError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// Keyword options as JSON (`{"horizon": 100}`); a bad one is named with what is wrong.
fn parse_options(json: &str) -> PyResult<EnvOptions> {
    serde_json::from_str(json).map_err(|whole| {
        let options: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
        let culprit = options.into_iter().find_map(|(name, value)| {
            let alone = serde_json::Value::Object([(name.clone(), value.clone())].into_iter().collect());
            serde_json::from_value::<EnvOptions>(alone).err().map(|e| format!("{name}={value}: {e}"))
        });
        PyTypeError::new_err(format!("bad env option {}", culprit.unwrap_or_else(|| whole.to_string())))
    })
}

fn make_env(name: &str, options_json: &str) -> PyResult<(Box<dyn Env>, Suite, usize)> {
    let entry = lookup(name).map_err(env_error)?;
    let options = parse_options(options_json)?;
    let env = entry.make(&options).map_err(env_error)?;
    Ok((env, entry.suite, options.horizon.unwrap_or(entry.horizon)))
}

/// A task as the Python side holds it: its index in the family and its parameters as JSON.
fn task_from(index: usize, params_json: &str) -> PyResult<Task> {
    let params: TaskParams =
        serde_json::from_str(params_json).map_err(|e| PyValueError::new_err(format!("not a task: {e}")))?;
    Ok(Task { index, oracle: oracle(&params), params })
}

/// Every registered env: (name, suite, summary, horizon).
#[pyfunction]
fn registry() -> Vec<(&'static str, &'static str, &'static str, usize)> {
    REGISTRY.iter().map(|e| (e.name, e.suite.label(), e.summary, e.horizon)).collect()
}

/// The names of the env options (`EnvOptions`' fields), for "did you mean" on a typo.
#[pyfunction]
fn option_names() -> PyResult<Vec<String>> {
    match serde_json::to_value(EnvOptions::default()) {
        Ok(serde_json::Value::Object(fields)) => Ok(fields.into_iter().map(|(name, _)| name).collect()),
        _ => Err(PyRuntimeError::new_err("EnvOptions does not serialise to an object")),
    }
}

/// The canonical registry name of `name` (`reach` → `reach-v3`), or a ValueError naming the closest.
#[pyfunction]
fn canonical_name(name: &str) -> PyResult<&'static str> {
    Ok(lookup(name).map_err(env_error)?.name)
}

/// The family's train and test tasks for `seed`, as JSON (`{"train": [...], "test": [...]}`,
/// each task `{"index", "kind", <parameters>, "oracle"}`).
#[pyfunction]
fn tasks(name: &str, options_json: &str, seed: u32) -> PyResult<String> {
    let entry = lookup(name).map_err(env_error)?;
    let set = entry.tasks(&parse_options(options_json)?, seed).map_err(env_error)?;
    serde_json::to_string(&set).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// The info of a step: `success` (a float, as Meta-World's), `sparse_reward` where the env pays
/// one, and the env's own fields.
fn info<'py>(py: Python<'py>, env: &dyn Env, step: &Step) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    if let Some(success) = step.success {
        dict.set_item("success", f64::from(u8::from(success)))?;
    }
    if let Some(sparse) = step.sparse_reward {
        dict.set_item("sparse_reward", sparse)?;
    }
    let mut failed = None;
    env.visit_info(&mut |name, value| {
        if let Err(e) = dict.set_item(name, value) {
            failed.get_or_insert(e);
        }
    });
    failed.map_or(Ok(dict), Err)
}

#[pyclass(module = "metarl_envs._native")]
struct NativeEnv {
    env: Mutex<Box<dyn Env>>,
    suite: Suite,
    horizon: usize,
}

impl NativeEnv {
    fn env(&self) -> std::sync::MutexGuard<'_, Box<dyn Env>> {
        self.env.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl NativeEnv {
    #[new]
    fn new(name: &str, options_json: &str) -> PyResult<Self> {
        let (env, suite, horizon) = make_env(name, options_json)?;
        Ok(NativeEnv { env: Mutex::new(env), suite, horizon })
    }

    #[getter]
    fn name(&self) -> String {
        self.env().name().to_owned()
    }

    #[getter]
    fn suite(&self) -> &'static str {
        self.suite.label()
    }

    #[getter]
    fn horizon(&self) -> usize {
        self.horizon
    }

    #[getter]
    fn observation_dim(&self) -> usize {
        self.env().observation_dim()
    }

    /// (low, high) of the action box.
    #[getter]
    fn action_bounds(&self) -> (Vec<f64>, Vec<f64>) {
        let env = self.env();
        let space = env.action_space();
        (space.low.clone(), space.high.clone())
    }

    #[getter]
    fn renderable(&self) -> bool {
        self.env().physics().is_some()
    }

    fn set_task(&self, index: usize, params_json: &str) -> PyResult<()> {
        self.env().set_task(&task_from(index, params_json)?).map_err(env_error)
    }

    /// Seed the reset noise (numpy `RandomState(seed)`, as the reference envs).
    fn seed(&self, seed: u32) {
        self.env().seed(seed)
    }

    fn reset<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let mut env = self.env();
        Ok(PyArray1::from_slice(py, env.reset().map_err(env_error)?))
    }

    /// (observation, reward, terminated, truncated, info).
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &self,
        py: Python<'py>,
        action: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, f64, bool, bool, Bound<'py, PyDict>)> {
        let mut env = self.env();
        let step = env.step(action.as_slice()?).map_err(env_error)?;
        let obs = PyArray1::from_slice(py, env.observation());
        Ok((obs, step.reward, step.terminated, step.truncated, info(py, env.as_ref(), &step)?))
    }

    /// The goal the observation hides (a Meta-World env's `_target_pos`), for scripted policies.
    fn hidden_goal(&self) -> Option<[f64; 3]> {
        self.env().hidden_goal()
    }
}

/// The project's offscreen renderer on one env; rebuilt when the env's task compiles a new model
/// (hopper-size, cheetah-armature).
#[pyclass(module = "metarl_envs._native", unsendable)]
struct NativeRenderer {
    renderer: Option<Renderer>,
    camera: Option<Camera>,
    rotate: bool,
    width: usize,
    height: usize,
}

#[pymethods]
impl NativeRenderer {
    /// `camera`: a camera of the model by name; `None` is the one metarl's videos use (Meta-World's
    /// `corner2`, turned upright; the Controls models' `track`).
    #[new]
    #[pyo3(signature = (width, height, camera=None))]
    fn new(width: usize, height: usize, camera: Option<String>) -> Self {
        NativeRenderer { renderer: None, camera: camera.map(Camera::Named), rotate: false, width, height }
    }

    /// An RGB image of `env`'s current state, shape (height, width, 3).
    fn render<'py>(&mut self, py: Python<'py>, native: &NativeEnv) -> PyResult<Bound<'py, PyArray3<u8>>> {
        let env = native.env();
        let (model, data) = env
            .physics()
            .ok_or_else(|| PyRuntimeError::new_err(format!("{} has no MuJoCo model to render", env.name())))?;
        if self.camera.is_none() {
            let camera = default_camera(env.as_ref(), native.suite);
            self.rotate = upside_down(&camera, native.suite);
            self.camera = Some(camera);
        }
        let camera = self.camera.as_ref().expect("chosen above");
        let render_error = |e: SimError| PyRuntimeError::new_err(e.to_string());
        let attempt = |renderer: &mut Option<Renderer>| -> Result<Vec<u8>, SimError> {
            if renderer.is_none() {
                *renderer = Some(Renderer::new(model, self.width, self.height)?);
            }
            renderer.as_mut().expect("made above").render(model, data, camera)
        };
        let rgb = match attempt(&mut self.renderer) {
            Err(SimError::ModelMismatch) => {
                self.renderer = None;
                attempt(&mut self.renderer)
            }
            other => other,
        }
        .map_err(render_error)?;
        let rgb = if self.rotate { turned_half(&rgb) } else { rgb };
        Ok(PyArray1::from_vec(py, rgb).reshape([self.height, self.width, 3])?)
    }
}

/// One env of a [`NativeVecEnv`] and what its last step returned.
struct Slot {
    env: Box<dyn Env>,
    /// The episode ended at the last step: the next step resets instead (Gymnasium's next-step
    /// autoreset).
    needs_reset: bool,
    /// The seed the next reset takes, where one was given.
    reset_seed: Option<u32>,
    step: Step,
    error: Option<EnvError>,
}

impl Slot {
    fn reset(&mut self, obs: &mut [f64]) {
        if let Some(seed) = self.reset_seed.take() {
            self.env.seed(seed);
        }
        self.step = Step::default();
        self.needs_reset = false;
        match self.env.reset() {
            Ok(first) => obs.copy_from_slice(first),
            Err(e) => self.error = Some(e),
        }
    }

    fn step(&mut self, action: &[f64], obs: &mut [f64]) {
        if self.needs_reset {
            return self.reset(obs);
        }
        match self.env.step(action) {
            Ok(step) => {
                self.step = step;
                self.needs_reset = step.done();
                obs.copy_from_slice(self.env.observation());
            }
            Err(e) => self.error = Some(e),
        }
    }
}

struct Batch {
    slots: Vec<Slot>,
    obs: Vec<f64>,
    actions: Vec<f64>,
}

#[pyclass(module = "metarl_envs._native")]
struct NativeVecEnv {
    batch: Mutex<Batch>,
    /// `None` steps the envs one after the other on the calling thread.
    pool: Option<rayon::ThreadPool>,
    observation_dim: usize,
    action_dim: usize,
}

impl NativeVecEnv {
    /// Run `work` on every slot with its observation row and action, on the pool if there is
    /// one; the first env that failed, with its index.
    fn each<F>(&self, batch: &mut Batch, work: F) -> Result<(), (usize, EnvError)>
    where
        F: Fn(&mut Slot, &mut [f64], &[f64]) + Sync,
    {
        let Batch { slots, obs, actions } = batch;
        let (d, a) = (self.observation_dim, self.action_dim);
        match &self.pool {
            // One env gains nothing from a hop to the pool.
            Some(pool) if slots.len() > 1 => pool.install(|| {
                slots.par_iter_mut().zip(obs.par_chunks_mut(d)).zip(actions.par_chunks(a)).for_each(|((slot, obs), action)| work(slot, obs, action))
            }),
            _ => slots.iter_mut().zip(obs.chunks_mut(d)).zip(actions.chunks(a)).for_each(|((slot, obs), action)| work(slot, obs, action)),
        }
        match slots.iter_mut().enumerate().find_map(|(i, slot)| slot.error.take().map(|e| (i, e))) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// `work` on every env with the GIL released.
    fn each_detached<F>(&self, py: Python<'_>, batch: &mut Batch, work: F) -> PyResult<()>
    where
        F: Fn(&mut Slot, &mut [f64], &[f64]) + Sync + Send,
    {
        py.detach(|| self.each(batch, work)).map_err(|(i, e)| {
            let error = env_error(e);
            PyErr::from_type(error.get_type(py), format!("env {i}: {}", error.value(py)))
        })
    }

    fn batch(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn observations<'py>(&self, py: Python<'py>, batch: &Batch) -> PyResult<Bound<'py, PyArray2<f64>>> {
        Ok(PyArray1::from_slice(py, &batch.obs).reshape([batch.slots.len(), self.observation_dim])?)
    }
}

#[pymethods]
impl NativeVecEnv {
    /// `n` copies of the env `name`, stepped on `threads` threads (1: the calling thread only).
    #[new]
    fn new(name: &str, n: usize, options_json: &str, threads: usize) -> PyResult<Self> {
        if n == 0 || threads == 0 {
            return Err(PyValueError::new_err(format!("n ({n}) and threads ({threads}) must be at least 1")));
        }
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            let (env, _, _) = make_env(name, options_json)?;
            slots.push(Slot { env, needs_reset: false, reset_seed: None, step: Step::default(), error: None });
        }
        let (observation_dim, action_dim) = (slots[0].env.observation_dim(), slots[0].env.action_space().dim());
        let pool = match threads {
            1 => None,
            _ => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| PyRuntimeError::new_err(format!("cannot start {threads} threads: {e}")))?,
            ),
        };
        let batch = Batch { slots, obs: vec![0.0; n * observation_dim], actions: vec![0.0; n * action_dim] };
        Ok(NativeVecEnv { batch: Mutex::new(batch), pool, observation_dim, action_dim })
    }

    fn set_task(&self, env: usize, index: usize, params_json: &str) -> PyResult<()> {
        let task = task_from(index, params_json)?;
        let mut batch = self.batch();
        let n = batch.slots.len();
        let slot = batch.slots.get_mut(env).ok_or_else(|| PyValueError::new_err(format!("env {env} of {n}")))?;
        slot.env.set_task(&task).map_err(env_error)
    }

    /// Reset every env (seeding env i with `seeds[i]` where given); the observations, (n, d).
    #[pyo3(signature = (seeds=None))]
    fn reset<'py>(&self, py: Python<'py>, seeds: Option<Vec<u32>>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let mut batch = self.batch();
        if let Some(seeds) = &seeds {
            if seeds.len() != batch.slots.len() {
                return Err(PyValueError::new_err(format!("{} seeds for {} envs", seeds.len(), batch.slots.len())));
            }
        }
        for (i, slot) in batch.slots.iter_mut().enumerate() {
            slot.reset_seed = seeds.as_ref().map(|seeds| seeds[i]);
        }
        self.each_detached(py, &mut batch, |slot, obs, _| slot.reset(obs))?;
        self.observations(py, &batch)
    }

    /// One step of every env with `actions` (n, action_dim): (observations (n, d), rewards,
    /// terminated, truncated, success (NaN where the env defines none)). An env whose episode
    /// ended at the last step is reset instead, with reward 0 (Gymnasium's next-step autoreset).
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &self,
        py: Python<'py>,
        actions: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<f64>>,
    )> {
        let mut batch = self.batch();
        let expected = [batch.slots.len(), self.action_dim];
        if actions.shape() != expected {
            return Err(PyValueError::new_err(format!("actions have shape {:?}, the envs take {expected:?}", actions.shape())));
        }
        batch.actions.copy_from_slice(actions.as_slice()?);
        self.each_detached(py, &mut batch, |slot, obs, action| slot.step(action, obs))?;
        let steps = || batch.slots.iter().map(|slot| slot.step);
        Ok((
            self.observations(py, &batch)?,
            PyArray1::from_iter(py, steps().map(|s| s.reward)),
            PyArray1::from_iter(py, steps().map(|s| s.terminated)),
            PyArray1::from_iter(py, steps().map(|s| s.truncated)),
            PyArray1::from_iter(py, steps().map(|s| s.success.map_or(f64::NAN, |ok| f64::from(u8::from(ok))))),
        ))
    }
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(registry, module)?)?;
    module.add_function(wrap_pyfunction!(canonical_name, module)?)?;
    module.add_function(wrap_pyfunction!(option_names, module)?)?;
    module.add_function(wrap_pyfunction!(tasks, module)?)?;
    module.add_class::<NativeEnv>()?;
    module.add_class::<NativeRenderer>()?;
    module.add_class::<NativeVecEnv>()?;
    Ok(())
}
