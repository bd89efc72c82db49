//! `metarl bench train` and `metarl bench sampler`: the learners' gradient steps and the
//! sampler's env steps at the shipped configs' sizes.

use std::time::Instant;

use anyhow::{ensure, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Served;
use crate::algos::contrastive::Contrastive;
use crate::algos::sac::Losses;
use crate::envs::{self, np_random::RandomState};
use crate::protocol::buffer::{MultiTaskBuffer, Transition};
use crate::protocol::config::{Algorithm, Config};
use crate::protocol::meta_train::{build_learner, context_step, Learner, RunSpec};
use crate::protocol::onpolicy::{set_tasks, setup, OnPolicyAlgorithm};

/// One row of `metarl bench train`.
#[derive(Debug, Serialize)]
pub struct TrainRate {
    pub algo: String,
    /// `metarl`, or `pytorch-eager` for tools/reference_pearl_update.py.
    pub implementation: &'static str,
    pub env: String,
    pub device: String,
    pub steps: usize,
    pub seconds: f64,
    pub ms_per_step: f64,
    /// The median step: robust to other work on the machine.
    pub median_ms_per_step: f64,
}

/// One algorithm's learner on buffers of random transitions, ready to take gradient steps.
struct StepBench {
    algorithm: Algorithm,
    config: Config,
    learner: Learner,
    contrastive: Option<Contrastive>,
    buffer: MultiTaskBuffer,
    oracle_dim: i64,
    rng: ChaCha8Rng,
}

impl StepBench {
    /// At the shipped config's sizes for `env` (meta-batch, batch, network widths, TCL/CoCOA
    /// windows); the buffers hold random transitions cut into trajectories of the horizon.
    fn new(algo: &str, env: &str, device: tch::Device) -> Result<Self> {
        let algorithm = Algorithm::parse(algo)?;
        let entry = envs::registry::lookup(env)?;
        Self::with_config(algorithm, env, Config::shipped(algorithm.name(), env, entry.suite.label())?, device)
    }

    fn with_config(algorithm: Algorithm, env: &str, config: Config, device: tch::Device) -> Result<Self> {
        let entry = envs::registry::lookup(env)?;
        let probe = entry.make(&envs::EnvOptions::default())?;
        let (obs_dim, action_dim) = (probe.observation_dim(), probe.action_space().dim());
        let oracle_dim = entry.tasks(&envs::EnvOptions::default(), envs::registry::DEFAULT_TASK_SEED)?.train[0].oracle.len();
        tch::manual_seed(0);
        let (learner, contrastive) = build_learner(algorithm, &config, (obs_dim, action_dim, oracle_dim), config.meta_batch, device);
        let mut draws = RandomState::new(0);
        let mut buffer = MultiTaskBuffer::new(config.meta_batch, obs_dim, action_dim, 2000);
        for task in buffer.tasks.iter_mut() {
            for t in 0..2000 {
                let obs = draws.uniform_n(-1.0, 1.0, obs_dim);
                let action = draws.uniform_n(-1.0, 1.0, action_dim);
                let next_obs = draws.uniform_n(-1.0, 1.0, obs_dim);
                let reward = draws.uniform(-1.0, 1.0);
                task.push(&Transition { obs: &obs, action: &action, reward, sparse_reward: reward, next_obs: &next_obs, terminal: false });
                if (t + 1) % config.max_path_length == 0 {
                    task.end_trajectory();
                }
            }
        }
        Ok(StepBench { algorithm, config, learner, contrastive, buffer, oracle_dim: oracle_dim as i64, rng: ChaCha8Rng::seed_from_u64(0) })
    }

    /// One gradient step on all tasks; its duration in seconds.
    fn step(&mut self) -> f64 {
        let start = Instant::now();
        self.step_losses();
        start.elapsed().as_secs_f64()
    }

    fn step_losses(&mut self) -> Losses {
        let indices: Vec<usize> = (0..self.config.meta_batch).collect();
        match &mut self.learner {
            Learner::Context(sac) => context_step(sac, self.contrastive.as_mut(), &self.config, (&self.buffer, &self.buffer), &indices, &mut self.rng),
            Learner::Oracle(sac) => {
                let batch = self.buffer.sample_stacked(&indices, self.config.batch_size, &mut self.rng);
                let z = tch::Tensor::zeros([indices.len() as i64, self.oracle_dim], (tch::Kind::Float, tch::Device::Cpu));
                sac.train_step(&batch, &z, &indices, &mut self.rng)
            }
        }
    }
}

/// The numerics fingerprint (`metarl numerics`): SHA-256 over every loss of `steps` gradient
/// steps of `algo` at the demo's sizes (configs/demo/point-robot.json, on random transitions)
/// and over the bytes of every network weight and Adam moment afterwards. One changed bit in any
/// kernel's result changes it.
pub fn numerics_fingerprint(algo: &str, steps: usize) -> Result<String> {
    let config = Config::from_json(include_str!("../../configs/demo/point-robot.json"), "configs/demo/point-robot.json")?;
    let mut bench = StepBench::with_config(Algorithm::parse(algo)?, "point-robot", config, tch::Device::Cpu)?;
    let mut hasher = Sha256::new();
    for _ in 0..steps {
        let losses = bench.step_losses();
        hasher.update(serde_json::to_vec(&losses)?);
    }
    let mut state = bench.learner.state();
    state.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, tensor) in state {
        let tensor = tensor.contiguous();
        let mut bytes = vec![0u8; tensor.numel() * tensor.kind().elt_size_in_bytes()];
        tensor.copy_data_u8(&mut bytes, tensor.numel());
        hasher.update(name.as_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl StepBench {
    /// tools/reference_pearl_update.py at this learner's sizes: PEARL's update in eager PyTorch.
    fn eager_reference(&self, device: tch::Device, threads: i32) -> Result<Served> {
        ensure!(self.algorithm == Algorithm::Pearl, "--reference times PEARL's update in eager PyTorch; list pearl first in --algo");
        let Learner::Context(sac) = &self.learner else { unreachable!("PEARL trains SAC v1") };
        let (s, c) = (&sac.settings, &self.config);
        let context_width = s.obs_dim + s.action_dim + 1 + if c.use_next_obs_in_context { s.obs_dim } else { 0 };
        let sizes = serde_json::json!({
            "obs_dim": s.obs_dim, "action_dim": s.action_dim, "latent_size": s.z_dim, "net_size": s.net_size,
            "encoder_hidden": c.encoder_hidden, "context_width": context_width, "meta_batch": c.meta_batch,
            "batch_size": c.batch_size, "embedding_batch_size": c.embedding_batch_size,
            "use_next_obs_in_context": c.use_next_obs_in_context, "policy_lr": s.policy_lr, "qf_lr": s.qf_lr,
            "vf_lr": s.vf_lr, "context_lr": c.context_lr, "kl_lambda": c.kl_lambda, "reward_scale": s.reward_scale,
            "discount": s.discount, "soft_target_tau": s.soft_target_tau, "policy_reg_weight": s.policy_reg_weight,
            "device": if device.is_cuda() { "cuda" } else { "cpu" }, "threads": threads,
        });
        Served::start("tools/reference_pearl_update.py", &[sizes.to_string()])
    }
}

/// What `metarl bench train` times: one of our learners, or the eager PyTorch reference.
enum Timed {
    Ours(StepBench),
    Eager(Served),
}

impl Timed {
    fn step(&mut self) -> Result<f64> {
        match self {
            Timed::Ours(bench) => Ok(bench.step()),
            Timed::Eager(process) => process.ask("step"),
        }
    }
}

/// Time `steps` gradient steps of each of `algos` on `env`, the learners' cost alone; with
/// `reference`, also PEARL's update in eager PyTorch at the same sizes (the first algo must be
/// pearl). They take their steps in turn (one each per round, after one warm-up step), so a
/// machine whose load drifts slows them alike and their ratio holds.
pub fn train_step_rates(algos: &[String], env: &str, steps: usize, device: tch::Device, threads: i32, reference: bool) -> Result<Vec<TrainRate>> {
    let ours = algos.iter().map(|a| StepBench::new(a, env, device)).collect::<Result<Vec<_>>>()?;
    let mut names: Vec<(String, &'static str)> = ours.iter().map(|b| (b.algorithm.name().to_owned(), "metarl")).collect();
    let eager = if reference { Some(ours[0].eager_reference(device, threads)?) } else { None };
    let mut timed: Vec<Timed> = ours.into_iter().map(Timed::Ours).collect();
    if let Some(process) = eager {
        names.push((names[0].0.clone(), "pytorch-eager"));
        timed.push(Timed::Eager(process));
    }
    for t in &mut timed {
        t.step()?;
    }
    let mut times = vec![Vec::with_capacity(steps); timed.len()];
    for _ in 0..steps {
        for (t, times) in timed.iter_mut().zip(&mut times) {
            times.push(t.step()?);
        }
    }
    Ok(names
        .into_iter()
        .zip(times)
        .map(|((algo, implementation), times)| {
            let seconds: f64 = times.iter().sum();
            TrainRate {
                algo,
                implementation,
                env: env.into(),
                device: format!("{device:?}"),
                steps,
                seconds,
                ms_per_step: 1000.0 * seconds / steps as f64,
                median_ms_per_step: 1000.0 * crate::results::median(times),
            }
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct SamplerRate {
    pub algo: String,
    pub env: String,
    /// Envs stepped together (`sampler_envs`).
    pub envs: usize,
    pub threads: usize,
    pub round: usize,
    pub env_steps: usize,
    pub env_steps_per_s: f64,
}

/// Env steps per second of the learner's sampler: `envs` envs of `env` stepped together under
/// the shipped config's policy network (one batched stochastic forward per step), episodes reset
/// at their end, as in data collection. Each (envs, threads) setting runs `rounds` times,
/// interleaved with the others, so drifting machine load hits them alike.
pub fn sampler_rate(algo: &str, env: &str, settings: &[(usize, usize)], steps: usize, rounds: usize) -> Result<Vec<SamplerRate>> {
    use crate::protocol::config::Config;
    use crate::protocol::sampler::VecEnvs;
    use rand_chacha::rand_core::SeedableRng;

    let algorithm = Algorithm::parse(algo)?;
    anyhow::ensure!(!algorithm.is_on_policy(), "{algo} is timed by `on_policy_rate`");
    let entry = envs::registry::lookup(env)?;
    let config = Config::shipped(algorithm.name(), env, entry.suite.label())?;
    let options = envs::EnvOptions { horizon: Some(config.max_path_length), ..envs::EnvOptions::default() };
    let tasks = entry.tasks(&options, config.task_seed)?.train;
    let make = || Ok(Box::new(envs::wrappers::NormalizedActions::new(entry.make(&options)?)) as Box<dyn envs::Env>);
    let probe = make()?;
    let (obs_dim, action_dim) = (probe.observation_dim(), probe.action_space().dim());
    tch::manual_seed(0);
    let (learner, _) = crate::protocol::meta_train::build_learner(algorithm, &config, (obs_dim, action_dim, tasks[0].oracle.len()), tasks.len(), tch::Device::Cpu);
    let z_dim = learner.z_dim();
    let mut rows = Vec::new();
    for round in 0..rounds {
        for &(n, threads) in settings {
            let mut sampler = VecEnvs::new(n, threads, make)?;
            for k in 0..n {
                let env = sampler.env_mut(k);
                env.set_task(&tasks[k % tasks.len()])?;
                env.seed(k as u32);
                env.reset()?;
            }
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
            let slots: Vec<usize> = (0..n).collect();
            let z = tch::Tensor::zeros([n as i64, z_dim], (tch::Kind::Float, tch::Device::Cpu));
            let (mut obs, mut results, mut done) = (Vec::new(), Vec::new(), 0);
            let start = Instant::now();
            while done < steps {
                sampler.observations(&slots, &mut obs);
                let actions = learner.act(&tch::Tensor::from_slice(&obs).view([n as i64, -1]), &z, false, &mut rng);
                sampler.step(&slots, &actions, &mut results)?;
                for (k, step) in results.iter().enumerate() {
                    if step.done() {
                        sampler.env_mut(k).reset()?;
                    }
                }
                done += n;
            }
            let seconds = start.elapsed().as_secs_f64();
            rows.push(SamplerRate { algo: algorithm.name().into(), env: env.into(), envs: n, threads, round, env_steps: done, env_steps_per_s: done as f64 / seconds });
        }
    }
    Ok(rows)
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
