//! PEARL's meta-training loop and meta-test evaluation as oyster runs them
//! (`rlkit/core/rl_algorithm.py`, `MetaRLAlgorithm.train`, `collect_data`, `_do_eval`), shared by
//! oracle SAC, which replaces the inferred z by the task's ground-truth vector.
//!
//! Per iteration: (first iteration only) `num_initial_steps` per train task with z from the prior;
//! then for `num_tasks_sample` sampled train tasks, clear the task's encoder buffer and collect
//! `num_steps_prior` transitions with z ~ prior, `num_steps_posterior` with z from the posterior
//! of fresh context, and `num_extra_rl_steps_posterior` likewise but kept out of the encoder
//! buffer; then `num_train_steps_per_itr` gradient steps, each on `meta_batch` tasks drawn with
//! replacement; then the meta-test evaluation.
//!
//! Evaluation (oyster's `AverageReturn_all_test_tasks`): per test task and run, trajectories with
//! deterministic actions until `num_steps_per_eval` transitions, z from the prior until
//! `num_exp_traj_eval` trajectories are in the context and from the posterior of all context
//! gathered so far after each later one; the score is the last trajectory's return, averaged over
//! `num_evals` runs and the test tasks.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::buffer::{MultiTaskBuffer, Transition};
pub use super::config::Algorithm;
use super::config::Config;
use super::run_dir::{fault_iteration, iteration_seed, maybe_killed, parse_device, RunDir, RunIdentity};
use crate::algos::sac::{ContextSettings, Losses, Sac, SacSettings, TaskVariable};
use crate::envs::wrappers::NormalizedActions;
use crate::envs::{registry, Env, EnvOptions, Task};
use crate::results::field;

/// Everything `metarl train` is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSpec<C = Config> {
    pub algorithm: Algorithm,
    pub env: String,
    pub seed: u64,
    /// Stop after the iteration that reaches this many env steps.
    pub max_env_steps: Option<u64>,
    pub device: String,
    /// The algorithm's config: [`Config`] for the PEARL family, the on-policy configs otherwise.
    pub config: C,
}

impl<C: Serialize + serde::de::DeserializeOwned + PartialEq> RunIdentity for RunSpec<C> {
    fn same_run(&self, other: &Self) -> bool {
        (self.algorithm, &self.env, self.seed, &self.config) == (other.algorithm, &other.env, other.seed, &other.config)
    }

    fn describe(&self) -> String {
        format!("{} on {} (seed {})", self.algorithm.name(), self.env, self.seed)
    }
}

const PROGRESS_COLUMNS: &[&str] = &[
    "iteration", "env_steps", "train_steps", "test_return", "test_success", "qf_loss", "vf_loss", "policy_loss", "kl_divergence", "wall_clock_s",
];
const EVAL_COLUMNS: &[&str] = &["iteration", "task", "run", "final_return", "final_success"];

/// Counters and generator states a checkpoint restores besides the tensors.
#[derive(Serialize, Deserialize)]
struct Progress {
    /// The last finished iteration.
    iteration: usize,
    env_steps: u64,
    train_steps: u64,
    /// Every draw of the protocol and the learner: tasks, batches, z and policy noise.
    rng: ChaCha8Rng,
    elapsed_s: f64,
}

/// The running estimate of z for one task: the prior until context is encoded.
struct Belief {
    mean: Tensor,
    var: Tensor,
    z: Tensor,
}

pub struct Trainer {
    spec: RunSpec,
    config: Config,
    env: Box<dyn Env>,
    train_tasks: Vec<Task>,
    test_tasks: Vec<Task>,
    sac: Sac,
    replay: MultiTaskBuffer,
    encoder_replay: MultiTaskBuffer,
    z_dim: i64,
    device: Device,
    progress: Progress,
    dir: RunDir,
}

/// One transition of a trajectory.
struct Sample {
    obs: Vec<f64>,
    action: Vec<f64>,
    reward: f64,
    /// What the context sees: the sparse reward with `sparse_rewards`, else `reward`.
    context_reward: f64,
    next_obs: Vec<f64>,
    terminal: bool,
}

/// One finished trajectory.
struct Trajectory {
    samples: Vec<Sample>,
    /// Success at any step, where the env defines it.
    success: Option<bool>,
}

impl Trainer {
    /// A new run in `dir`, or (with `resume`) the run there continued from its checkpoint.
    pub fn open(spec: RunSpec, dir: &Path, resume: bool) -> Result<Trainer> {
        let config = spec.config.clone();
        if spec.algorithm.is_on_policy() {
            bail!("{} is trained by the on-policy trainer, not PEARL's", spec.algorithm.name());
        }
        tch::set_num_threads(config.threads);
        tch::manual_seed(spec.seed as i64);
        let device = parse_device(&spec.device)?;
        let entry = registry::lookup(&spec.env)?;
        let options = EnvOptions { horizon: Some(config.max_path_length), ..EnvOptions::default() };
        let env: Box<dyn Env> = Box::new(NormalizedActions::new(entry.make(&options)?));
        let mut family = entry.tasks(&options, config.task_seed)?;
        if let Some(n) = config.n_train_tasks {
            family.train.truncate(n);
        }
        if let Some(n) = config.n_eval_tasks {
            family.test.truncate(n);
        }
        let (obs_dim, action_dim) = (env.observation_dim(), env.action_space().dim());
        let oracle_dim = family.train[0].oracle.len();
        let sac = build_learner(spec.algorithm, &config, obs_dim, action_dim, oracle_dim, device);
        let z_dim = sac.settings.z_dim;
        let n_train = family.train.len();
        let replay = MultiTaskBuffer::new(n_train, obs_dim, action_dim, config.replay_buffer_size);
        let mut trainer = Trainer {
            encoder_replay: replay.clone(),
            replay,
            progress: Progress { iteration: 0, env_steps: 0, train_steps: 0, rng: ChaCha8Rng::seed_from_u64(spec.seed), elapsed_s: 0.0 },
            train_tasks: family.train,
            test_tasks: family.test,
            config,
            env,
            sac,
            z_dim,
            device,
            dir: RunDir::prepare(dir, &spec, resume)?,
            spec,
        };
        if resume {
            trainer.restore()?;
        }
        Ok(trainer)
    }

    fn restore(&mut self) -> Result<()> {
        let (progress, tensors) = self.dir.load_checkpoint()?;
        self.progress = progress;
        let restore = |result: Result<(), String>| result.map_err(|name| anyhow::anyhow!("checkpoint lacks {name}"));
        restore(self.sac.load_state(&tensors))?;
        restore(self.replay.restore("replay", &tensors))?;
        restore(self.encoder_replay.restore("encoder_replay", &tensors))
    }

    fn save_checkpoint(&mut self) -> Result<()> {
        let mut named = self.sac.state();
        named.extend(self.replay.save("replay"));
        named.extend(self.encoder_replay.save("encoder_replay"));
        self.dir.save_checkpoint(&named, &self.progress)
    }

    fn prior(&self) -> Belief {
        let zeros = Tensor::zeros([1, self.z_dim], (Kind::Float, self.device));
        let ones = Tensor::ones([1, self.z_dim], (Kind::Float, self.device));
        Belief { mean: zeros, var: ones, z: Tensor::zeros([1, self.z_dim], (Kind::Float, self.device)) }
    }

    /// oyster's `sample_z`: a draw from the current belief (oracle SAC: the task's vector).
    fn sample_z(&mut self, belief: &mut Belief, task: &Task) {
        belief.z = match self.spec.algorithm {
            Algorithm::Pearl => {
                let noise = crate::algos::sac::standard_normal(&mut self.progress.rng, 1, self.z_dim, self.device);
                &belief.mean + belief.var.sqrt() * noise
            }
            _ => {
                let oracle: Vec<f32> = task.oracle.iter().map(|&v| v as f32).collect();
                Tensor::from_slice(&oracle).view([1, -1]).to_device(self.device)
            }
        };
    }

    /// Context rows `[1, n, width]` → posterior belief (PEARL only).
    fn infer(&mut self, belief: &mut Belief, context: &Tensor, task: &Task) {
        if let Some(encoder) = &self.sac.encoder {
            let (mean, var) = tch::no_grad(|| encoder.posterior(&context.to_device(self.device)));
            (belief.mean, belief.var) = (mean, var);
        }
        self.sample_z(belief, task);
    }

    /// The context reward: sparse where the config asks for it and the env has one.
    fn context_reward(&self, reward: f64, sparse: Option<f64>) -> f64 {
        if self.config.sparse_rewards { sparse.unwrap_or(reward) } else { reward }
    }

    /// One trajectory under `belief.z`, up to the horizon or a terminal state.
    fn rollout(&mut self, belief: &Belief, deterministic: bool) -> Result<Trajectory> {
        let mut obs = self.env.reset()?.to_vec();
        let mut samples = Vec::new();
        let mut success = None;
        loop {
            let action = self.sac.act(&obs, &belief.z, deterministic, &mut self.progress.rng);
            let step = self.env.step(&action)?;
            let next_obs = self.env.observation().to_vec();
            success = step.success.map(|s| s || success.unwrap_or(false));
            let context_reward = self.context_reward(step.reward, step.sparse_reward);
            samples.push(Sample { obs, action, reward: step.reward, context_reward, next_obs: next_obs.clone(), terminal: step.terminated });
            obs = next_obs;
            if step.done() {
                return Ok(Trajectory { samples, success });
            }
        }
    }

    fn store(&mut self, task_index: usize, trajectory: &Trajectory, encoder_too: bool) {
        for s in &trajectory.samples {
            let t = Transition { obs: &s.obs, action: &s.action, reward: s.reward, sparse_reward: s.context_reward, next_obs: &s.next_obs, terminal: s.terminal };
            self.replay.tasks[task_index].push(&t);
            if encoder_too {
                self.encoder_replay.tasks[task_index].push(&t);
            }
        }
    }

    /// Context `[tasks, n, width]` from the encoder buffers (oyster `sample_context`).
    fn sample_context(&mut self, indices: &[usize]) -> Tensor {
        let batch = self.encoder_replay.sample_stacked(indices, self.config.embedding_batch_size, &mut self.progress.rng);
        let reward = if self.config.sparse_rewards { &batch.sparse_rewards } else { &batch.rewards };
        let mut parts = vec![&batch.obs, &batch.actions, reward];
        if self.config.use_next_obs_in_context {
            parts.push(&batch.next_obs);
        }
        Tensor::cat(&parts, 2)
    }

    /// oyster `collect_data`: whole trajectories until `samples` transitions; the posterior is
    /// refreshed from the encoder buffer every `update_posterior_every` trajectories, if given.
    fn collect(&mut self, task_index: usize, samples: usize, update_posterior_every: Option<usize>, encoder_too: bool) -> Result<()> {
        let task = self.train_tasks[task_index].clone();
        self.env.set_task(&task)?;
        let mut belief = self.prior();
        self.sample_z(&mut belief, &task);
        let mut collected = 0;
        while collected < samples {
            let mut trajectories = 0;
            while collected < samples && update_posterior_every.map_or(true, |n| trajectories < n) {
                let trajectory = self.rollout(&belief, false)?;
                collected += trajectory.samples.len();
                trajectories += 1;
                self.store(task_index, &trajectory, encoder_too);
                self.sample_z(&mut belief, &task);
            }
            if update_posterior_every.is_some() && self.spec.algorithm == Algorithm::Pearl {
                let context = self.sample_context(&[task_index]);
                self.infer(&mut belief, &context, &task);
            }
        }
        self.progress.env_steps += collected as u64;
        Ok(())
    }

    /// oyster `_do_training` → `_take_step` for one meta-batch.
    fn gradient_step(&mut self) -> Losses {
        let n = self.train_tasks.len();
        let indices: Vec<usize> = (0..self.config.meta_batch).map(|_| self.progress.rng.gen_range(0..n)).collect();
        let task = match self.spec.algorithm {
            Algorithm::Pearl => TaskVariable::Context(self.sample_context(&indices)),
            _ => {
                let rows: Vec<f32> = indices.iter().flat_map(|&i| self.train_tasks[i].oracle.iter().map(|&v| v as f32)).collect();
                TaskVariable::Given(Tensor::from_slice(&rows).view([indices.len() as i64, self.z_dim]))
            }
        };
        let batch = self.replay.sample_stacked(&indices, self.config.batch_size, &mut self.progress.rng);
        self.sac.train_step(&batch, task, &mut self.progress.rng)
    }

    /// Meta-test on every test task: (mean final return, mean final success if defined, rows).
    fn evaluate(&mut self) -> Result<(f64, Option<f64>, Vec<(usize, usize, f64, Option<bool>)>)> {
        let mut rows = Vec::new();
        for task in self.test_tasks.clone() {
            self.env.set_task(&task)?;
            for run in 0..self.config.num_evals {
                let mut belief = self.prior();
                self.sample_z(&mut belief, &task);
                let mut context: Vec<Tensor> = Vec::new();
                let (mut transitions, mut trajectories) = (0, 0);
                let mut last = None;
                while transitions < self.config.num_steps_per_eval {
                    let trajectory = self.rollout(&belief, true)?;
                    transitions += trajectory.samples.len();
                    trajectories += 1;
                    context.extend(trajectory.samples.iter().map(|s| self.context_row(s)));
                    if trajectories >= self.config.num_exp_traj_eval {
                        let stacked = Tensor::stack(&context, 0).unsqueeze(0);
                        self.infer(&mut belief, &stacked, &task);
                    }
                    last = Some(trajectory);
                }
                let last = last.expect("at least one trajectory");
                // oyster scores sparse-reward envs by their sparse reward.
                let score: f64 = last.samples.iter().map(|s| if self.config.sparse_rewards { s.context_reward } else { s.reward }).sum();
                rows.push((task.index, run, score, last.success));
            }
        }
        let mean_return = rows.iter().map(|r| r.2).sum::<f64>() / rows.len() as f64;
        let successes: Option<Vec<bool>> = rows.iter().map(|r| r.3).collect();
        let success = successes.map(|s| s.iter().filter(|&&x| x).count() as f64 / s.len() as f64);
        Ok((mean_return, success, rows))
    }

    fn context_row(&self, s: &Sample) -> Tensor {
        let mut row: Vec<f32> = s.obs.iter().chain(&s.action).chain([&s.context_reward]).map(|&v| v as f32).collect();
        if self.config.use_next_obs_in_context {
            row.extend(s.next_obs.iter().map(|&v| v as f32));
        }
        Tensor::from_slice(&row)
    }

    /// Re-run the meta-test evaluation of the checkpoint (`metarl eval`): mean final return,
    /// success rate where defined, and one row per test task and run.
    pub fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        self.env.seed(iteration_seed(self.spec.seed, self.progress.iteration) ^ 0x5EED);
        let (test_return, test_success, rows) = self.evaluate()?;
        Ok(EvalSummary { iteration: self.progress.iteration, test_return, test_success, rows })
    }

    /// Train until `num_iterations` or the env-step budget; `on_iteration` sees each row.
    pub fn run(&mut self, mut on_iteration: impl FnMut(&IterationReport)) -> Result<IterationReport> {
        let resumed_from = self.progress.iteration;
        let keep = (self.progress.env_steps > 0).then_some(resumed_from);
        let mut logs = self.dir.open_logs(PROGRESS_COLUMNS, EVAL_COLUMNS, keep)?;
        let start = Instant::now() - std::time::Duration::from_secs_f64(self.progress.elapsed_s);
        let first = if self.progress.env_steps > 0 { resumed_from + 1 } else { 0 };
        let mut last_report = None;
        for iteration in first..self.config.num_iterations {
            if self.spec.max_env_steps.is_some_and(|max| self.progress.env_steps >= max) {
                break;
            }
            self.env.seed(iteration_seed(self.spec.seed, iteration));
            if iteration == 0 {
                // A budget below the initial pool (a smoke run) shrinks the pool to fit it.
                let n = self.train_tasks.len();
                let initial = self.spec.max_env_steps.map_or(self.config.num_initial_steps, |max| self.config.num_initial_steps.min(max as usize / n).max(1));
                for task in 0..n {
                    self.collect(task, initial, None, true)?;
                }
            }
            for _ in 0..self.config.num_tasks_sample {
                let task = self.progress.rng.gen_range(0..self.train_tasks.len());
                self.encoder_replay.tasks[task].clear();
                let post = Some(self.config.update_post_train);
                for (samples, update, encoder_too) in [
                    (self.config.num_steps_prior, None, true),
                    (self.config.num_steps_posterior, post, true),
                    (self.config.num_extra_rl_steps_posterior, post, false),
                ] {
                    if samples > 0 {
                        self.collect(task, samples, update, encoder_too)?;
                    }
                }
            }
            let mut losses = Vec::with_capacity(self.config.num_train_steps_per_itr);
            for step in 0..self.config.num_train_steps_per_itr {
                let mut loss = self.gradient_step();
                if fault_iteration("METARL_FAULT_NAN_ITERATION") == Some(iteration) && step == 0 {
                    loss.qf_loss = f64::NAN;
                }
                if let Some((name, value)) = loss.first_non_finite() {
                    return Err(self.dir.non_finite(name, value, iteration, &format!(", gradient step {step}"), self.progress.iteration));
                }
                self.progress.train_steps += 1;
                losses.push(loss);
            }
            maybe_killed(iteration);
            self.env.seed(iteration_seed(self.spec.seed, iteration) ^ 0x5EED);
            let (test_return, test_success, eval_rows) = self.evaluate()?;
            let mean = |f: fn(&Losses) -> f64| (!losses.is_empty()).then(|| losses.iter().map(f).sum::<f64>() / losses.len() as f64);
            let report = IterationReport {
                iteration,
                env_steps: self.progress.env_steps,
                train_steps: self.progress.train_steps,
                test_return,
                test_success,
                qf_loss: mean(|l| l.qf_loss),
                vf_loss: mean(|l| l.vf_loss),
                policy_loss: mean(|l| l.policy_loss),
                kl_divergence: mean(|l| l.kl_divergence),
                wall_clock_s: start.elapsed().as_secs_f64(),
            };
            for (task, run, score, success) in eval_rows {
                logs.eval.append(&[iteration.to_string(), task.to_string(), run.to_string(), field(Some(score)), success.map(|s| (s as u8).to_string()).unwrap_or_default()])?;
            }
            logs.progress.append(&report.fields())?;
            self.progress.iteration = iteration;
            self.progress.elapsed_s = report.wall_clock_s;
            self.save_checkpoint()?;
            on_iteration(&report);
            last_report = Some(report);
        }
        let report = last_report.context("no iteration ran: the run had already reached its budget")?;
        self.dir.write_summary(PROGRESS_COLUMNS, &report.fields())?;
        Ok(report)
    }
}

/// The learner an algorithm trains, sized from the config and the env: z is PEARL's latent
/// (with the context encoder) or the task's oracle vector.
pub fn build_learner(algorithm: Algorithm, config: &Config, obs_dim: usize, action_dim: usize, oracle_dim: usize, device: Device) -> Sac {
    let settings = SacSettings {
        obs_dim: obs_dim as i64,
        action_dim: action_dim as i64,
        z_dim: if algorithm == Algorithm::Pearl { config.latent_size } else { oracle_dim as i64 },
        net_size: config.net_size,
        discount: config.discount,
        reward_scale: config.reward_scale,
        soft_target_tau: config.soft_target_tau,
        policy_lr: config.policy_lr,
        qf_lr: config.qf_lr,
        vf_lr: config.vf_lr,
        policy_reg_weight: 1e-3,
    };
    let context_width = obs_dim + action_dim + 1 + if config.use_next_obs_in_context { obs_dim } else { 0 };
    let context = (algorithm == Algorithm::Pearl).then(|| ContextSettings {
        input_dim: context_width as i64,
        hidden: config.encoder_hidden.clone(),
        lr: config.context_lr,
        kl_lambda: config.kl_lambda,
    });
    Sac::new(settings, device, context)
}

/// What `metarl eval` reports.
pub struct EvalSummary {
    /// The checkpoint's iteration.
    pub iteration: usize,
    pub test_return: f64,
    pub test_success: Option<f64>,
    /// (test task index, run, final return, final success).
    pub rows: Vec<(usize, usize, f64, Option<bool>)>,
}

/// One row of progress.csv.
#[derive(Debug, Clone, Serialize)]
pub struct IterationReport {
    pub iteration: usize,
    pub env_steps: u64,
    pub train_steps: u64,
    /// oyster's AverageReturn_all_test_tasks.
    pub test_return: f64,
    /// Share of test episodes that succeeded at any step, where the env defines success.
    pub test_success: Option<f64>,
    pub qf_loss: Option<f64>,
    pub vf_loss: Option<f64>,
    pub policy_loss: Option<f64>,
    pub kl_divergence: Option<f64>,
    pub wall_clock_s: f64,
}

impl IterationReport {
    fn fields(&self) -> Vec<String> {
        vec![
            self.iteration.to_string(),
            self.env_steps.to_string(),
            self.train_steps.to_string(),
            field(Some(self.test_return)),
            field(self.test_success),
            field(self.qf_loss),
            field(self.vf_loss),
            field(self.policy_loss),
            field(self.kl_divergence),
            format!("{:.3}", self.wall_clock_s),
        ]
    }
}
