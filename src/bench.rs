//! `metarl bench mujoco`: raw `mj_step` throughput of each model through our bindings, the
//! hardware limit every env-stepping number is compared with (DESIGN.md, performance targets);
//! `metarl bench envs`: env steps/s and the share of it spent in `mj_step`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::envs::{self, np_random::RandomState};
use crate::protocol::config::Algorithm;
use crate::protocol::meta_train::RunSpec;
use crate::protocol::onpolicy::{set_tasks, setup, OnPolicyAlgorithm};
use crate::paths;
use crate::sim::{self, Data, Model};

/// One model's measurement, one CSV row.
#[derive(Debug, Serialize)]
pub struct StepRate {
    pub model: String,
    pub nq: usize,
    pub nv: usize,
    pub nu: usize,
    pub steps: usize,
    pub seconds: f64,
    pub steps_per_s: f64,
    /// Mean |qvel| at the end: a seeded rollout gives the same value on every run.
    pub final_mean_abs_qvel: f64,
}

/// The models of the suites: Gymnasium's MuJoCo Controls bodies and a Meta-World arm scene.
pub fn default_models() -> Vec<PathBuf> {
    let gym = paths::gymnasium_assets();
    let mut models: Vec<PathBuf> =
        ["half_cheetah.xml", "ant.xml", "hopper.xml", "walker2d.xml", "humanoid.xml"].iter().map(|f| gym.join(f)).collect();
    models.push(paths::metaworld_assets().join("sawyer_xyz").join("sawyer_reach_v3.xml"));
    models
}

/// Step `model` `steps` times from its initial state under uniformly random controls within
/// each actuator's ctrlrange (seeded), timing only the `mj_step` calls.
pub fn step_rate(path: &Path, steps: usize, seed: u64) -> Result<StepRate> {
    let model = Model::from_xml_path(path)?;
    let mut data = Data::new(&model);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let nu = model.nu();
    let ranges = model.actuator_ctrlrange().to_vec();
    let controls: Vec<f64> =
        (0..steps * nu).map(|i| rng.gen_range(ranges[2 * (i % nu)]..=ranges[2 * (i % nu) + 1])).collect();
    let start = Instant::now();
    for t in 0..steps {
        data.ctrl_mut().copy_from_slice(&controls[t * nu..(t + 1) * nu]);
        data.step(&model, 1)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let qvel = data.qvel();
    Ok(StepRate {
        model: path.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_owned(),
        nq: model.nq(),
        nv: model.nv(),
        nu: model.nu(),
        steps,
        seconds,
        steps_per_s: steps as f64 / seconds,
        final_mean_abs_qvel: qvel.iter().map(|v| v.abs()).sum::<f64>() / qvel.len().max(1) as f64,
    })
}

/// One env's measurement, one CSV row of `metarl bench envs`.
#[derive(Debug, Serialize)]
pub struct EnvRate {
    pub env: String,
    pub steps: usize,
    pub seconds: f64,
    pub steps_per_s: f64,
    /// Share of the time spent inside `mj_step` (0 for the point robots).
    pub physics_share: f64,
    /// Steps/s of the Python reference (tools/reference_envs.py) on the same machine, if measured.
    pub reference_steps_per_s: Option<f64>,
}

/// Step env `name` (train task 0) `steps` times under seeded uniform random actions, resetting
/// when an episode ends; resets are timed too, as a sampler pays for them.
pub fn env_rate(name: &str, steps: usize, seed: u32) -> Result<EnvRate> {
    let entry = envs::registry::lookup(name)?;
    let options = envs::EnvOptions::default();
    let mut env = entry.make(&options)?;
    env.set_task(&entry.tasks(&options, envs::registry::DEFAULT_TASK_SEED)?.train[0])?;
    env.seed(seed);
    let mut rng = RandomState::new(seed);
    let space = env.action_space().clone();
    let actions: Vec<Vec<f64>> =
        (0..1000).map(|_| space.low.iter().zip(&space.high).map(|(l, h)| rng.uniform(*l, *h)).collect()).collect();
    env.reset()?;
    let physics_before = sim::physics_time();
    let start = Instant::now();
    for t in 0..steps {
        if env.step(&actions[t % actions.len()])?.done() {
            env.reset()?;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let physics = (sim::physics_time() - physics_before).as_secs_f64();
    Ok(EnvRate {
        env: name.to_owned(),
        steps,
        seconds,
        steps_per_s: steps as f64 / seconds,
        physics_share: physics / seconds,
        reference_steps_per_s: None,
    })
}

/// The Python reference's steps/s for `names` (`tools/reference_envs.py bench`, cache venv).
pub fn reference_rates(names: &[String], steps: usize) -> Result<serde_json::Map<String, serde_json::Value>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/reference_envs.py");
    let out = std::process::Command::new(paths::reference_python())
        .arg(&script)
        .args(["bench", "--steps", &steps.to_string()])
        .args(names)
        .output()
        .with_context(|| format!("cannot run {}; {}", paths::reference_python().display(), paths::FIX_DEPS))?;
    anyhow::ensure!(out.status.success(), "{} bench failed: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// One row of `metarl bench train`.
#[derive(Debug, Serialize)]
pub struct TrainRate {
    pub algo: String,
    pub env: String,
    pub device: String,
    pub steps: usize,
    pub seconds: f64,
    pub ms_per_step: f64,
}

/// Time `steps` gradient steps of `algo` at the shipped config's sizes for `env` (meta-batch,
/// batch, network widths), on buffers of random transitions: the learner's cost alone.
pub fn train_step_rate(algo: &str, env: &str, steps: usize, device: tch::Device) -> Result<TrainRate> {
    use crate::algos::sac::{Sac, TaskVariable};
    use crate::protocol::buffer::{MultiTaskBuffer, Transition};
    use crate::protocol::config::Config;
    use rand_chacha::rand_core::SeedableRng;

    let algorithm = Algorithm::parse(algo)?;
    anyhow::ensure!(!algorithm.is_on_policy(), "{algo} is timed by `on_policy_rate`");
    let entry = envs::registry::lookup(env)?;
    let config = Config::shipped(algorithm.name(), env, entry.suite.label())?;
    let probe = entry.make(&envs::EnvOptions::default())?;
    let (obs_dim, action_dim) = (probe.observation_dim(), probe.action_space().dim());
    let oracle_dim = entry.tasks(&envs::EnvOptions::default(), envs::registry::DEFAULT_TASK_SEED)?.train[0].oracle.len() as i64;
    let pearl = algorithm == Algorithm::Pearl;
    tch::manual_seed(0);
    let mut sac = crate::protocol::meta_train::build_learner(algorithm, &config, obs_dim, action_dim, oracle_dim as usize, device);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut draws = RandomState::new(0);
    let tasks = config.meta_batch;
    let mut buffer = MultiTaskBuffer::new(tasks, obs_dim, action_dim, 2000);
    for task in buffer.tasks.iter_mut() {
        for _ in 0..2000 {
            let obs = draws.uniform_n(-1.0, 1.0, obs_dim);
            let action = draws.uniform_n(-1.0, 1.0, action_dim);
            let next_obs = draws.uniform_n(-1.0, 1.0, obs_dim);
            let reward = draws.uniform(-1.0, 1.0);
            task.push(&Transition { obs: &obs, action: &action, reward, sparse_reward: reward, next_obs: &next_obs, terminal: false });
        }
    }
    let indices: Vec<usize> = (0..tasks).collect();
    let step = |sac: &mut Sac, rng: &mut rand_chacha::ChaCha8Rng| {
        let batch = buffer.sample_stacked(&indices, config.batch_size, rng);
        let variable = if pearl {
            let c = buffer.sample_stacked(&indices, config.embedding_batch_size, rng);
            let mut parts = vec![c.obs, c.actions, c.rewards];
            if config.use_next_obs_in_context {
                parts.push(c.next_obs);
            }
            TaskVariable::Context(tch::Tensor::cat(&parts, 2))
        } else {
            TaskVariable::Given(tch::Tensor::zeros([tasks as i64, oracle_dim], (tch::Kind::Float, tch::Device::Cpu)))
        };
        sac.train_step(&batch, variable, rng)
    };
    step(&mut sac, &mut rng);
    let start = Instant::now();
    for _ in 0..steps {
        step(&mut sac, &mut rng);
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(TrainRate { algo: algorithm.name().into(), env: env.into(), device: format!("{device:?}"), steps, seconds, ms_per_step: 1000.0 * seconds / steps as f64 })
}

/// One row of `metarl bench train` for an on-policy algorithm.
#[derive(Debug, Serialize)]
pub struct OnPolicyRate {
    pub algo: String,
    pub env: String,
    pub device: String,
    /// Envs stepped together (one per task of the meta-batch).
    pub envs: usize,
    pub sampler_threads: usize,
    pub iterations: usize,
    pub env_steps: u64,
    /// Seconds spent collecting episodes (env steps and the batched policy forwards).
    pub sampling_s: f64,
    pub steps_per_s: f64,
    /// Seconds per whole training iteration (sampling and the update).
    pub iteration_s: f64,
}

/// Time `iterations` training iterations of an on-policy algorithm at the shipped config for
/// `env` (meta-batch, episodes, networks), `sampler_threads` stepping the envs: the sampler's env
/// steps/s and the time per iteration.
pub fn on_policy_rate<A: OnPolicyAlgorithm>(algorithm: Algorithm, env: &str, iterations: usize, sampler_threads: usize, device: &str) -> Result<OnPolicyRate> {
    let entry = envs::registry::lookup(env)?;
    let mut config: A::Config = crate::protocol::config::shipped(algorithm.name(), env, entry.suite.label())?;
    A::run_config_mut(&mut config).sampler_threads = sampler_threads;
    let meta_batch = A::run_config(&config).meta_batch;
    let spec = RunSpec { algorithm, env: env.to_owned(), seed: 0, max_env_steps: None, device: device.to_owned(), config };
    let mut setup = setup::<A>(&spec)?;
    let start = Instant::now();
    for iteration in 0..iterations {
        let tasks = setup.sample_tasks(meta_batch);
        let slots = set_tasks(&mut setup.sampler, &tasks, iteration as u32)?;
        setup.algorithm.train(&mut setup.sampler, &slots)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let sampler = &setup.sampler;
    Ok(OnPolicyRate {
        algo: algorithm.name().into(),
        env: env.into(),
        device: format!("{:?}", sampler.device),
        envs: meta_batch,
        sampler_threads,
        iterations,
        env_steps: sampler.sampled_steps,
        sampling_s: sampler.sampling_s,
        steps_per_s: sampler.sampled_steps as f64 / sampler.sampling_s,
        iteration_s: seconds / iterations.max(1) as f64,
    })
}

pub fn write_csv<T: Serialize>(rows: &[T], out: &Path) -> Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut writer = csv::Writer::from_path(out).with_context(|| format!("cannot write {}", out.display()))?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}
