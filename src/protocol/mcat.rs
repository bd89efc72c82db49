//! MCAT's meta-training loop (papers/004 §3.4, Fig. 2). Each iteration:
//! 1. one episode per train task, through the batched sampler: uniformly random actions for the
//!    first `num_initial_iterations`, then the learned policy π(s, z_t) with z_t = C(last K
//!    transitions) or, where the recent returns say so ([`TransferTracker::choose`]), a policy
//!    transferred from a source task, H(s, π(s, z⁽ʲ⁾), z⁽ʲ⁾, z⁽ⁱ⁾); every episode goes into its
//!    target task's buffer;
//! 2. C and F with Eq. 1 + Eq. 2; the task features z⁽ⁱ⁾; H with Eq. 3 through the fixed F; then
//!    the actor and critics (TD3, with self-imitation if on) with C fixed — alternately, not
//!    jointly, as the paper trains them;
//! 3. the meta-test: the learned policy on every test task, its context gathered online.
//!
//! The run folder is the other trainers' ([`RunDir`]); the same seed and threads give the same
//! progress.csv. `transfer_eval` is the fixed-dataset experiment of §5.1.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::buffer::{MultiTaskBuffer, TaskBuffer, Trajectory};
use super::config::McatConfig;
use super::driver::{Counters, IterationRows, TrainingRun};
use super::meta_train::{EvalRow, EvalSummary, RunSpec};
use super::run_dir::{fault_iteration, iteration_seed, maybe_killed, parse_device, RunDir, RunIdentity};
use super::sampler::VecEnvs;
use crate::algos::mcat::{translation_targets, Behaviour, ContextModels, McatSettings, TransferTracker};
use crate::algos::sac::standard_normal;
use crate::algos::td3::{Td3, Td3Batch, Td3Settings};
use crate::envs::wrappers::NormalizedActions;
use crate::envs::{registry, Env, EnvOptions, Task};
use crate::results::{field, mean, success_field, success_share};

const PROGRESS_COLUMNS: &[&str] = &[
    "iteration", "env_steps", "train_return", "test_return", "test_success", "transfer_episodes", "forward_loss", "contrastive_loss", "translator_loss", "critic_loss", "actor_loss",
    "sil_loss", "wall_clock_s",
];
const EVAL_COLUMNS: &[&str] = &["iteration", "task", "episode", "return", "success"];

/// What a policy sees at one step of [`run_episodes`], for the envs still running.
pub struct StepInputs<'a> {
    /// Positions in the `slots` given to `run_episodes`.
    pub running: &'a [usize],
    /// `[n, |s|]`.
    pub obs: Tensor,
    /// The episode's last K transitions as C reads them, `[n, K, 2|s| + |a|]` (zeros before the
    /// episode's start), and their mask `[n, K]`.
    pub context: Tensor,
    pub context_mask: Tensor,
}

/// One episode in every env of `slots` (reset first), all running envs acting through one call
/// of `act`, which returns the actions `[n, |a|]` in [-1, 1].
pub fn run_episodes(envs: &mut VecEnvs, slots: &[usize], history: usize, mut act: impl FnMut(&StepInputs) -> Result<Tensor>) -> Result<Vec<Trajectory>> {
    let (obs_dim, action_dim) = (envs.obs_dim(), envs.action_dim());
    let width = 2 * obs_dim + action_dim;
    for &slot in slots {
        envs.env_mut(slot).reset()?;
    }
    let mut records = vec![Trajectory::default(); slots.len()];
    let mut running: Vec<usize> = (0..slots.len()).collect();
    let (mut rows, mut steps) = (Vec::new(), Vec::new());
    while !running.is_empty() {
        let stepped: Vec<usize> = running.iter().map(|&k| slots[k]).collect();
        envs.observations(&stepped, &mut rows);
        let n = running.len() as i64;
        let (mut context, mut mask) = (vec![0.0f32; running.len() * history * width], vec![0.0f32; running.len() * history]);
        for (row, &k) in running.iter().enumerate() {
            let record = &records[k];
            let known = record.len().min(history);
            for back in 0..known {
                let t = record.len() - known + back;
                let slot = history - known + back;
                let obs = &record.obs[t * obs_dim..(t + 1) * obs_dim];
                let next = &record.next_obs[t * obs_dim..(t + 1) * obs_dim];
                let features = obs.iter().chain(&record.actions[t * action_dim..(t + 1) * action_dim]).copied().chain(next.iter().zip(obs).map(|(b, a)| b - a));
                let start = (row * history + slot) * width;
                context[start..start + width].iter_mut().zip(features).for_each(|(cell, v)| *cell = v as f32);
                mask[row * history + slot] = 1.0;
            }
        }
        let inputs = StepInputs {
            running: &running,
            obs: Tensor::from_slice(&rows).view([n, obs_dim as i64]),
            context: Tensor::from_slice(&context).view([n, history as i64, width as i64]),
            context_mask: Tensor::from_slice(&mask).view([n, history as i64]),
        };
        let actions: Vec<f64> = Vec::<f32>::try_from(act(&inputs)?.to_device(Device::Cpu).reshape([-1]))?.into_iter().map(f64::from).collect();
        let before: Vec<f64> = rows.iter().map(|&v| f64::from(v)).collect();
        envs.step(&stepped, &actions, &mut steps)?;
        let mut still = Vec::with_capacity(running.len());
        for (i, (&k, step)) in running.iter().zip(&steps).enumerate() {
            let record = &mut records[k];
            record.obs.extend_from_slice(&before[i * obs_dim..(i + 1) * obs_dim]);
            record.actions.extend_from_slice(&actions[i * action_dim..(i + 1) * action_dim]);
            record.rewards.push(step.reward);
            record.context_rewards.push(step.reward);
            record.next_obs.extend_from_slice(envs.env(slots[k]).observation());
            record.terminals.push(step.terminated);
            record.success = step.success.map(|s| s || record.success.unwrap_or(false));
            if !step.done() {
                still.push(k);
            }
        }
        running = still;
    }
    Ok(records)
}

/// Store an episode in a task buffer. The buffer's second reward column (`sparse_reward`, which
/// MCAT's learners do not otherwise read) holds the discounted return from each step on: the R
/// of self-imitation.
pub fn store_episode(buffer: &mut TaskBuffer, record: &Trajectory, discount: f64) {
    let mut return_to_go = vec![0.0; record.len()];
    let mut after = 0.0;
    for t in (0..record.len()).rev() {
        after = record.rewards[t] + if record.terminals[t] { 0.0 } else { discount * after };
        return_to_go[t] = after;
    }
    for (mut transition, &ret) in record.transitions().zip(&return_to_go) {
        transition.sparse_reward = ret;
        buffer.push(&transition);
    }
    buffer.end_trajectory();
}

/// The config's TD3 settings for a plain (z-less, SIL-less) learner.
fn td3_settings(config: &McatConfig, obs_dim: usize, action_dim: usize) -> Td3Settings {
    Td3Settings {
        obs_dim: obs_dim as i64,
        action_dim: action_dim as i64,
        z_dim: 0,
        hidden: config.hidden_sizes.clone(),
        discount: config.discount,
        tau: config.tau,
        actor_lr: config.actor_lr,
        critic_lr: config.critic_lr,
        policy_noise: config.policy_noise,
        noise_clip: config.noise_clip,
        policy_delay: config.policy_delay,
        sil_weight: None,
    }
}

fn model_settings(config: &McatConfig, obs_dim: usize, action_dim: usize) -> McatSettings {
    McatSettings {
        obs_dim: obs_dim as i64,
        action_dim: action_dim as i64,
        z_dim: config.latent_size,
        history: config.history_length,
        context_hidden: config.context_hidden_sizes.clone(),
        forward_hidden: config.forward_hidden_sizes.clone(),
        translator_embedding: config.translator_embedding_size,
        translator_hidden: config.translator_hidden_sizes.clone(),
        model_lr: config.model_lr,
        translator_lr: config.translator_lr,
        margin: config.contrastive_margin,
        contrastive_weight: config.contrastive_weight,
        squared_hinge: config.contrastive_squared_hinge,
        weight_decay: config.model_weight_decay,
        translator_loss: config.translator_loss,
    }
}

/// The learners of one run: TD3 and C/F/H.
pub struct McatLearner {
    pub td3: Td3,
    pub models: ContextModels,
    pub history: usize,
}

impl McatLearner {
    /// From torch's generator (seed it first).
    pub fn new(config: &McatConfig, obs_dim: usize, action_dim: usize, device: Device) -> Self {
        let settings = Td3Settings { z_dim: config.latent_size, sil_weight: config.self_imitation.then_some(config.sil_weight), ..td3_settings(config, obs_dim, action_dim) };
        let td3 = Td3::new(settings, device);
        let models = ContextModels::new(model_settings(config, obs_dim, action_dim), device);
        McatLearner { td3, models, history: config.history_length }
    }

    /// Actions for one step: per running env, its behaviour (`behaviours[k]` for position k of
    /// the slots) and target task. The learned policy reads z_t = C(context); a transferred one
    /// acts H(s, π(s, z⁽ʲ⁾), z⁽ʲ⁾, z⁽ⁱ⁾) with the train tasks' `features` (`[tasks, z]`; before the
    /// first update there are none and every env follows the learned policy).
    pub fn act(&self, inputs: &StepInputs, behaviours: &[Behaviour], targets: &[usize], features: Option<&Tensor>) -> Tensor {
        let dev = self.td3.device;
        tch::no_grad(|| {
            let obs = inputs.obs.to_device(dev);
            let own = self.td3.actor(&obs, &self.models.encode_rows(&inputs.context.to_device(dev), &inputs.context_mask.to_device(dev)));
            // (row, source, target) of the envs that follow a transferred policy.
            let transferred: Vec<[i64; 3]> = inputs
                .running
                .iter()
                .enumerate()
                .filter_map(|(row, &k)| match behaviours[k] {
                    Behaviour::Transfer { source } => Some([row as i64, source as i64, targets[k] as i64]),
                    Behaviour::Own => None,
                })
                .collect();
            let Some(features) = features.filter(|_| !transferred.is_empty()) else { return own };
            let column = |i: usize| Tensor::from_slice(&transferred.iter().map(|t| t[i]).collect::<Vec<_>>()).to_device(dev);
            let rows = column(0);
            let (z_source, z_target) = (features.index_select(0, &column(1)), features.index_select(0, &column(2)));
            let obs = obs.index_select(0, &rows);
            let translated = self.models.translate(&obs, &self.td3.actor(&obs, &z_source), &z_source, &z_target);
            own.index_copy(0, &rows, &translated)
        })
    }

    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = self.td3.state();
        named.extend(self.models.state());
        named
    }

    pub fn load_state(&mut self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        self.td3.load_state(saved)?;
        self.models.load_state(saved)
    }
}

/// Means of one iteration's losses.
#[derive(Debug, Clone, Copy, Default)]
struct IterationLosses {
    forward_loss: f64,
    contrastive_loss: f64,
    translator_loss: f64,
    critic_loss: f64,
    actor_loss: f64,
    sil_loss: f64,
}

impl IterationLosses {
    fn named(&self) -> [(&'static str, f64); 6] {
        [
            ("forward_loss", self.forward_loss),
            ("contrastive_loss", self.contrastive_loss),
            ("translator_loss", self.translator_loss),
            ("critic_loss", self.critic_loss),
            ("actor_loss", self.actor_loss),
            ("sil_loss", self.sil_loss),
        ]
    }
}

/// Counters a checkpoint restores besides the tensors.
#[derive(Serialize, Deserialize)]
struct Progress {
    iteration: usize,
    env_steps: u64,
    rng: ChaCha8Rng,
    elapsed_s: f64,
    tracker: TransferTracker,
}

pub struct McatTrainer {
    spec: RunSpec<McatConfig>,
    dir: RunDir,
    envs: VecEnvs,
    train_tasks: Vec<Task>,
    test_tasks: Vec<Task>,
    learner: McatLearner,
    buffers: MultiTaskBuffer,
    /// The train tasks' z⁽ⁱ⁾ of the last update, `[tasks, z]`.
    features: Option<Tensor>,
    progress: Progress,
    rng: ChaCha8Rng,
}

/// The env options of a run: its horizon and reward delay.
fn env_options(config: &McatConfig) -> EnvOptions {
    EnvOptions {
        horizon: config.max_path_length,
        reward_delay: config.reward_delay,
        delay_pays_at_time_limit: config.delay_pays_at_time_limit,
        ..EnvOptions::default()
    }
}

fn check(config: &McatConfig) -> Result<()> {
    ensure!(config.history_length >= 1, "history_length must be at least 1");
    ensure!(config.prediction_horizon >= 1, "prediction_horizon must be at least 1");
    ensure!(config.batch_size >= 1 && config.feature_segments >= 1, "batch_size and feature_segments must be at least 1");
    ensure!(config.model_batch_size >= 2, "model_batch_size must be at least 2 (Eq. 2 pairs the halves of each task's segments)");
    ensure!(config.num_eval_episodes >= 1, "num_eval_episodes must be at least 1");
    ensure!(config.reward_delay != Some(0), "reward_delay must be at least 1 step (or null for dense rewards)");
    Ok(())
}

impl McatTrainer {
    /// A new run in `dir`, or (with `resume`) the run there continued from its checkpoint.
    pub fn open(spec: RunSpec<McatConfig>, dir: &Path, resume: bool) -> Result<McatTrainer> {
        let config = spec.config.clone();
        check(&config)?;
        tch::set_num_threads(config.threads);
        tch::manual_seed(spec.seed as i64);
        let device = parse_device(&spec.device)?;
        let entry = registry::lookup(&spec.env)?;
        let options = env_options(&config);
        let mut family = entry.tasks(&options, config.task_seed)?;
        if let Some(n) = config.n_train_tasks {
            family.train.truncate(n);
        }
        if let Some(n) = config.n_eval_tasks {
            family.test.truncate(n);
        }
        ensure!(!family.train.is_empty() && !family.test.is_empty(), "{} needs at least one train and one test task", spec.env);
        let slots = family.train.len().max(family.test.len());
        let envs = VecEnvs::new(slots, config.sampler_threads, || Ok(Box::new(NormalizedActions::new(entry.make(&options)?)) as Box<dyn Env>))?;
        let learner = McatLearner::new(&config, envs.obs_dim(), envs.action_dim(), device);
        let buffers = MultiTaskBuffer::new(family.train.len(), envs.obs_dim(), envs.action_dim(), config.replay_buffer_size);
        let rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let dir = RunDir::prepare(dir, &spec, resume)?;
        let progress = Progress { iteration: 0, env_steps: 0, rng: rng.clone(), elapsed_s: 0.0, tracker: TransferTracker::new(family.train.len(), config.transfer_window) };
        let mut trainer = McatTrainer { spec, dir, envs, train_tasks: family.train, test_tasks: family.test, learner, buffers, features: None, progress, rng };
        if resume {
            let (progress, tensors): (Progress, _) = trainer.dir.load_checkpoint()?;
            let missing = |name: String| anyhow::anyhow!("checkpoint lacks {name}");
            trainer.learner.load_state(&tensors).map_err(missing)?;
            trainer.buffers.restore("buffer", &tensors).map_err(missing)?;
            trainer.features = tensors.get("mcat.features").map(|t| t.to_device(device));
            trainer.rng = progress.rng.clone();
            trainer.progress = progress;
        }
        Ok(trainer)
    }

    fn config(&self) -> &McatConfig {
        &self.spec.config
    }

    /// Point env `k` at `tasks[k]`, seeded from `seed`.
    fn set_tasks(&mut self, tasks: &[Task], seed: u32) -> Result<Vec<usize>> {
        for (slot, task) in tasks.iter().enumerate() {
            let env = self.envs.env_mut(slot);
            env.set_task(task)?;
            env.seed(seed.wrapping_add(slot as u32));
        }
        Ok((0..tasks.len()).collect())
    }

    /// Step 1: one episode per train task with the chosen behaviours (`None`: random actions),
    /// stored in the tasks' buffers. Returns the episodes' returns and their steps in all.
    fn collect(&mut self, iteration: usize, behaviours: Option<&[Behaviour]>) -> Result<(Vec<f64>, usize)> {
        let tasks = self.train_tasks.clone();
        let slots = self.set_tasks(&tasks, iteration_seed(self.spec.seed, iteration))?;
        let targets: Vec<usize> = (0..tasks.len()).collect();
        let (action_dim, sigma, device) = (self.envs.action_dim() as i64, self.config().exploration_noise, self.learner.td3.device);
        let (learner, features, rng) = (&self.learner, self.features.as_ref(), &mut self.rng);
        let records = run_episodes(&mut self.envs, &slots, learner.history, |inputs| {
            let n = inputs.running.len() as i64;
            Ok(match behaviours {
                None => Tensor::from_slice(&(0..n * action_dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect::<Vec<_>>()).view([n, action_dim]),
                Some(behaviours) => {
                    let action = learner.act(inputs, behaviours, &targets, features);
                    (action + standard_normal(rng, n, action_dim, device) * sigma).clamp(-1.0, 1.0)
                }
            })
        })?;
        let discount = self.config().discount;
        for (task, record) in records.iter().enumerate() {
            store_episode(&mut self.buffers.tasks[task], record, discount);
            self.learner.models.observe(record);
            self.progress.env_steps += record.len() as u64;
        }
        Ok((records.iter().map(Trajectory::total_reward).collect(), records.iter().map(Trajectory::len).sum()))
    }

    /// Step 2: C/F, the task features, H, then TD3 with C fixed, after an iteration that
    /// collected `env_steps` steps.
    fn update(&mut self, env_steps: usize) -> IterationLosses {
        let config = self.config().clone();
        let tasks: Vec<usize> = (0..self.train_tasks.len()).collect();
        let (k, device) = (config.history_length, self.learner.td3.device);
        let mut losses = IterationLosses::default();

        let model: Vec<_> = (0..config.model_steps_per_iteration)
            .map(|_| {
                let (segments, mask) = self.buffers.sample_segments(&tasks, config.model_batch_size, k, config.prediction_horizon, &mut self.rng);
                self.learner.models.model_step(&segments, &mask, tasks.len())
            })
            .collect();
        losses.forward_loss = mean(model.iter().map(|l| l.forward_loss));
        losses.contrastive_loss = mean(model.iter().map(|l| l.contrastive_loss));

        let features: Vec<Tensor> = tasks
            .iter()
            .map(|&i| {
                let (segments, mask) = self.buffers.sample_segments(&[i], config.feature_segments, k, 0, &mut self.rng);
                self.learner.models.task_feature(&segments, &mask)
            })
            .collect();
        let features = Tensor::stack(&features, 0);

        if config.policy_transfer && tasks.len() > 1 {
            let translator: Vec<f64> = (0..config.translator_steps_per_iteration)
                .map(|_| {
                    let batch = self.buffers.sample_stacked(&tasks, config.batch_size, &mut self.rng);
                    let batch = batch.map(|t| t.reshape([(tasks.len() * config.batch_size) as i64, -1]));
                    let sources: Vec<usize> = tasks.iter().flat_map(|&j| std::iter::repeat(j).take(config.batch_size)).collect();
                    let targets = translation_targets(&sources, tasks.len(), &mut self.rng);
                    let pick = |rows: &[usize]| features.index_select(0, &Tensor::from_slice(&rows.iter().map(|&r| r as i64).collect::<Vec<_>>()).to_device(device));
                    self.learner.models.translator_step(&batch, &pick(&sources), &pick(&targets))
                })
                .collect();
            losses.translator_loss = mean(translator.into_iter());
        }
        self.features = Some(features);

        let td3: Vec<_> = (0..config.td3_steps_per_iteration.unwrap_or(env_steps))
            .map(|_| {
                // Each transition with the K before it: z is C over those, z' over the K ending
                // with the transition itself, the context at its next state.
                let (segments, mask) = self.buffers.sample_segments(&tasks, config.batch_size, k, 1, &mut self.rng);
                let context = |start: i64| tch::no_grad(|| self.learner.models.encode(&segments.map(|t| t.narrow(1, start, k as i64)), &mask.narrow(1, start, k as i64)));
                let (z, next_z) = (context(0), context(1));
                let now = segments.map(|t| t.select(1, k as i64).to_device(device));
                let returns = config.self_imitation.then(|| now.sparse_rewards.shallow_clone());
                let batch = Td3Batch { obs: now.obs, actions: now.actions, rewards: now.rewards, next_obs: now.next_obs, terminals: now.terminals, z, next_z, returns };
                self.learner.td3.train_step(&batch, &mut self.rng)
            })
            .collect();
        losses.critic_loss = mean(td3.iter().map(|l| l.critic_loss));
        losses.actor_loss = mean(td3.iter().map(|l| l.actor_loss));
        losses.sil_loss = mean(td3.iter().map(|l| l.sil_loss));
        losses
    }

    /// The meta-test: `num_eval_episodes` episodes of the learned policy (deterministic) on every
    /// test task. Returns (mean return, success share where the env defines success, rows of
    /// (task index, episode, return, success at any step)).
    fn evaluate(&mut self, seed: u32) -> Result<(f64, Option<f64>, Vec<EvalRow>)> {
        let tasks = self.test_tasks.clone();
        let mut rows = Vec::new();
        for episode in 0..self.config().num_eval_episodes {
            let slots = self.set_tasks(&tasks, seed.wrapping_add(1000 * episode as u32))?;
            let own = vec![Behaviour::Own; slots.len()];
            let learner = &self.learner;
            let records = run_episodes(&mut self.envs, &slots, learner.history, |inputs| Ok(learner.act(inputs, &own, &slots, None)))?;
            rows.extend(tasks.iter().zip(&records).map(|(task, r)| (task.index, episode, r.total_reward(), r.success)));
        }
        Ok((mean(rows.iter().map(|r| r.2)), success_share(rows.iter().map(|r| r.3)), rows))
    }

    /// Re-run the meta-test of the checkpoint (`metarl eval`).
    pub fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        let (test_return, test_success, rows) = self.evaluate(iteration_seed(self.spec.seed, self.progress.iteration) ^ 0x5EED)?;
        Ok(EvalSummary { iteration: self.progress.iteration, test_return, test_success, rows })
    }

}

impl TrainingRun for McatTrainer {
    fn label(&self) -> String {
        self.spec.describe()
    }

    fn run_dir(&self) -> &RunDir {
        &self.dir
    }

    fn progress_columns(&self) -> Vec<&'static str> {
        PROGRESS_COLUMNS.to_vec()
    }

    fn eval_columns(&self) -> &'static [&'static str] {
        EVAL_COLUMNS
    }

    fn num_iterations(&self) -> usize {
        self.config().num_iterations
    }

    fn planned_iterations(&self) -> usize {
        let horizon = self.config().max_path_length.unwrap_or_else(|| registry::lookup(&self.spec.env).map_or(1, |e| e.horizon));
        crate::campaign::mcat_cost(self.config(), horizon, self.train_tasks.len(), self.test_tasks.len(), self.spec.max_env_steps).iterations as usize
    }

    fn counters(&self) -> Counters {
        let p = &self.progress;
        Counters { finished: (p.env_steps > 0).then_some(p.iteration), env_steps: p.env_steps, max_env_steps: self.spec.max_env_steps, elapsed_s: p.elapsed_s }
    }

    fn iterate(&mut self, iteration: usize) -> Result<IterationRows> {
        let tasks = self.train_tasks.len();
        let behaviours: Option<Vec<Behaviour>> = (iteration >= self.config().num_initial_iterations).then(|| {
            let transfer = self.config().policy_transfer && self.features.is_some();
            (0..tasks).map(|i| if transfer { self.progress.tracker.choose(i) } else { Behaviour::Own }).collect()
        });
        let (returns, env_steps) = self.collect(iteration, behaviours.as_deref())?;
        if let Some(behaviours) = &behaviours {
            for (task, (&behaviour, &ret)) in behaviours.iter().zip(&returns).enumerate() {
                self.progress.tracker.record(task, behaviour, ret);
            }
        }
        let transfers = behaviours.iter().flatten().filter(|b| **b != Behaviour::Own).count();
        let mut losses = self.update(env_steps);
        if fault_iteration("METARL_FAULT_NAN_ITERATION") == Some(iteration) {
            losses.critic_loss = f64::NAN;
        }
        if let Some((name, value)) = losses.named().into_iter().find(|(_, v)| !v.is_finite()) {
            return Err(self.dir.non_finite(name, value, iteration, "", self.progress.iteration));
        }
        maybe_killed(iteration);
        let (test_return, test_success, rows) = self.evaluate(iteration_seed(self.spec.seed, iteration) ^ 0x5EED)?;
        let mut progress = vec![
            iteration.to_string(),
            self.progress.env_steps.to_string(),
            field(Some(mean(returns.iter().copied()))),
            field(Some(test_return)),
            field(test_success),
            transfers.to_string(),
        ];
        progress.extend(losses.named().iter().map(|(_, v)| field(Some(*v))));
        let eval = rows
            .into_iter()
            .map(|(task, episode, ret, success)| vec![iteration.to_string(), task.to_string(), episode.to_string(), field(Some(ret)), success_field(success)])
            .collect();
        Ok(IterationRows { progress, eval })
    }

    fn checkpoint(&mut self, iteration: usize, wall_clock_s: f64) -> Result<()> {
        self.progress.iteration = iteration;
        self.progress.elapsed_s = wall_clock_s;
        self.progress.rng = self.rng.clone();
        let mut state = self.learner.state();
        state.extend(self.buffers.save("buffer"));
        state.extend(self.features.as_ref().map(|f| ("mcat.features".to_owned(), f.shallow_clone())));
        self.dir.save_checkpoint(&state, &self.progress)
    }

    fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        McatTrainer::evaluate_checkpoint(self)
    }
}

/// `metarl mcat transfer-eval`'s settings (papers/004 §5.1).
#[derive(Debug, Clone)]
pub struct TransferEvalSpec {
    pub env: String,
    /// Train-task indices; `None`: the two train tasks whose ground-truth vectors lie farthest
    /// apart.
    pub source: Option<usize>,
    pub target: Option<usize>,
    pub seed: u64,
    /// Episodes of dense-reward TD3 that train the source policy on the source task.
    pub source_episodes: usize,
    /// Episodes per task of the fixed dataset, collected by the source policy with noise σ
    /// `dataset_noise` (mediocre policies).
    pub dataset_episodes: usize,
    pub dataset_noise: f64,
    /// Gradient steps of C/F (Eq. 1 + 2) and then of H (Eq. 3) on the dataset.
    pub model_steps: usize,
    pub translator_steps: usize,
    /// Evaluation episodes of each policy.
    pub eval_episodes: usize,
    pub config: McatConfig,
}

/// One line of the §5.1 table.
#[derive(Debug, Clone, Serialize)]
pub struct TransferEvalRow {
    pub policy: &'static str,
    pub task: usize,
    pub mean_return: f64,
    /// Mean distance, step by step, between the states visited and those the source policy
    /// visits on the source task (0 for that reference itself).
    pub state_distance_to_source: f64,
}

pub struct TransferEvalReport {
    pub source: usize,
    pub target: usize,
    pub rows: Vec<TransferEvalRow>,
}

impl TransferEvalReport {
    pub fn row(&self, policy: &str) -> &TransferEvalRow {
        self.rows.iter().find(|r| r.policy == policy).expect("every policy has a row")
    }
}

/// Mean step-by-step Euclidean distance between the state sequences of two episodes (over the
/// shorter one's length).
fn trajectory_distance(a: &Trajectory, b: &Trajectory) -> f64 {
    let (a, b) = (a.states(), b.states());
    mean(a.iter().zip(&b).map(|(x, y)| x.iter().zip(*y).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt()))
}

/// §5.1, policy transfer with a fixed dataset: a source policy pretrained with TD3 and dense
/// rewards on the source task; a dataset of its noisy (mediocre) episodes on the source and the
/// target task; C and F trained on it (Eq. 1 + 2) and H with Eq. 3; then the source policy on
/// the source task (the reference), the source policy on the target task, and the transferred
/// policy H(s, π(s), z_src, z_tgt) on the target task.
pub fn transfer_eval(spec: &TransferEvalSpec) -> Result<TransferEvalReport> {
    let config = &spec.config;
    check(config)?;
    tch::set_num_threads(config.threads);
    tch::manual_seed(spec.seed as i64);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let entry = registry::lookup(&spec.env)?;
    let options = EnvOptions { reward_delay: None, ..env_options(config) };
    let family = entry.tasks(&options, config.task_seed)?;
    let (source, target) = match (spec.source, spec.target) {
        (Some(s), Some(t)) => (s, t),
        (None, None) => farthest_pair(&family.train).context("transfer-eval needs two train tasks")?,
        _ => bail!("give both --source and --target, or neither"),
    };
    // Indices run over the train tasks, then the test tasks: papers/004 Table 1's Ant row moves a
    // policy from crip0 (a train task) to crip3 (ant-cripple's test task).
    let (n_train, n_test) = (family.train.len(), family.test.len());
    let tasks: Vec<_> = family.train.into_iter().chain(family.test).collect();
    for (name, index) in [("source", source), ("target", target)] {
        ensure!(index < tasks.len(), "--{name} {index}: {} has {} tasks, train {} and test {}", spec.env, tasks.len(),
                index_range(0, n_train), index_range(n_train, n_test));
    }
    ensure!(source != target, "--source and --target are the same task ({source})");
    let pair = [tasks[source].clone(), tasks[target].clone()];
    let mut envs = VecEnvs::new(2, config.sampler_threads, || Ok(Box::new(NormalizedActions::new(entry.make(&options)?)) as Box<dyn Env>))?;
    let (obs_dim, action_dim) = (envs.obs_dim(), envs.action_dim());
    let device = Device::Cpu;

    // The source policy: plain TD3 (no context) on the source task, one gradient step per env step.
    let mut policy = Td3::new(td3_settings(config, obs_dim, action_dim), device);
    let no_z = |rows: i64| Tensor::zeros([rows, 0], (Kind::Float, device));
    let mut source_buffer = MultiTaskBuffer::new(1, obs_dim, action_dim, config.replay_buffer_size);
    for episode in 0..spec.source_episodes {
        set(&mut envs, 0, &pair[0], episode as u32)?;
        let random = episode < config.num_initial_iterations;
        let record = run_episodes(&mut envs, &[0], 1, |inputs| {
            let rows = inputs.running.len() as i64;
            if random {
                return Ok(Tensor::from_slice(&(0..rows * action_dim as i64).map(|_| rng.gen_range(-1.0f32..1.0)).collect::<Vec<_>>()).view([rows, action_dim as i64]));
            }
            let action = tch::no_grad(|| policy.actor(&inputs.obs, &no_z(rows)));
            Ok((action + standard_normal(&mut rng, rows, action_dim as i64, device) * config.exploration_noise).clamp(-1.0, 1.0))
        })?
        .remove(0);
        store_episode(&mut source_buffer.tasks[0], &record, config.discount);
        for _ in 0..record.len() {
            let b = source_buffer.tasks[0].sample(config.batch_size, &mut rng);
            let rows = b.obs.size()[0];
            let batch = Td3Batch { obs: b.obs, actions: b.actions, rewards: b.rewards, next_obs: b.next_obs, terminals: b.terminals, z: no_z(rows), next_z: no_z(rows), returns: None };
            policy.train_step(&batch, &mut rng);
        }
    }

    // The fixed dataset: the source policy with noise σ on both tasks; C and F normalise by it.
    let mut models = ContextModels::new(model_settings(config, obs_dim, action_dim), device);
    let mut dataset = MultiTaskBuffer::new(2, obs_dim, action_dim, config.replay_buffer_size);
    for episode in 0..spec.dataset_episodes {
        for (slot, task) in pair.iter().enumerate() {
            set(&mut envs, slot, task, 10_000 + (2 * episode + slot) as u32)?;
        }
        let records = run_episodes(&mut envs, &[0, 1], 1, |inputs| {
            let rows = inputs.running.len() as i64;
            let action = tch::no_grad(|| policy.actor(&inputs.obs, &no_z(rows)));
            Ok((action + standard_normal(&mut rng, rows, action_dim as i64, device) * spec.dataset_noise).clamp(-1.0, 1.0))
        })?;
        for (task, record) in records.iter().enumerate() {
            store_episode(&mut dataset.tasks[task], record, config.discount);
            models.observe(record);
        }
    }

    // C and F (Eq. 1 + 2), the two task features, then H (Eq. 3) through the fixed F.
    let (k, both) = (config.history_length, [0usize, 1]);
    for _ in 0..spec.model_steps {
        let (segments, mask) = dataset.sample_segments(&both, config.model_batch_size, k, config.prediction_horizon, &mut rng);
        models.model_step(&segments, &mask, 2);
    }
    let features = Tensor::stack(
        &both
            .iter()
            .map(|&i| {
                let (segments, mask) = dataset.sample_segments(&[i], config.feature_segments, k, 0, &mut rng);
                models.task_feature(&segments, &mask)
            })
            .collect::<Vec<_>>(),
        0,
    );
    let (z_source, z_target) = (features.get(0).unsqueeze(0), features.get(1).unsqueeze(0));
    for _ in 0..spec.translator_steps {
        let batch = dataset.tasks[0].sample(config.batch_size, &mut rng);
        let rows = config.batch_size as i64;
        models.translator_step(&batch, &z_source.expand([rows, -1], false), &z_target.expand([rows, -1], false));
    }

    // The three policies, deterministic, on matching reset seeds.
    let mut rollouts = |task: &Task, translated: bool| -> Result<Vec<Trajectory>> {
        let mut records = Vec::new();
        for episode in 0..spec.eval_episodes {
            set(&mut envs, 0, task, 50_000 + episode as u32)?;
            records.extend(run_episodes(&mut envs, &[0], 1, |inputs| {
                let rows = inputs.running.len() as i64;
                Ok(tch::no_grad(|| {
                    let action = policy.actor(&inputs.obs, &no_z(rows));
                    if translated {
                        models.translate(&inputs.obs, &action, &z_source.expand([rows, -1], false), &z_target.expand([rows, -1], false))
                    } else {
                        action
                    }
                }))
            })?);
        }
        Ok(records)
    };
    let reference = rollouts(&pair[0], false)?;
    let untranslated = rollouts(&pair[1], false)?;
    let transferred = rollouts(&pair[1], true)?;
    let row = |policy: &'static str, task: usize, records: &[Trajectory]| TransferEvalRow {
        policy,
        task,
        mean_return: mean(records.iter().map(Trajectory::total_reward)),
        state_distance_to_source: mean(records.iter().zip(&reference).map(|(r, s)| trajectory_distance(r, s))),
    };
    Ok(TransferEvalReport {
        source,
        target,
        rows: vec![row("source-on-source", source, &reference), row("source-on-target", target, &untranslated), row("transferred-on-target", target, &transferred)],
    })
}

/// Point env `slot` at `task`, seeded.
fn set(envs: &mut VecEnvs, slot: usize, task: &Task, seed: u32) -> Result<()> {
    envs.env_mut(slot).set_task(task)?;
    envs.env_mut(slot).seed(seed);
    Ok(())
}

/// "0-2", "3", or "none": `count` indices from `first`, as the CLI names them.
fn index_range(first: usize, count: usize) -> String {
    match count {
        0 => "none".into(),
        1 => first.to_string(),
        _ => format!("{first}-{}", first + count - 1),
    }
}

/// The two tasks whose ground-truth vectors lie farthest apart.
fn farthest_pair(tasks: &[Task]) -> Option<(usize, usize)> {
    let distance = |a: &Task, b: &Task| a.oracle.iter().zip(&b.oracle).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    (0..tasks.len())
        .flat_map(|i| (i + 1..tasks.len()).map(move |j| (i, j)))
        .max_by(|&(a, b), &(c, d)| distance(&tasks[a], &tasks[b]).total_cmp(&distance(&tasks[c], &tasks[d])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::buffer::TaskBuffer;

    #[test]
    fn stored_episodes_carry_their_discounted_return_to_go() {
        let record = Trajectory {
            obs: vec![0.0, 1.0, 2.0],
            actions: vec![0.0; 3],
            rewards: vec![1.0, 0.0, 2.0],
            context_rewards: vec![1.0, 0.0, 2.0],
            next_obs: vec![1.0, 2.0, 3.0],
            terminals: vec![false, false, true],
            success: None,
        };
        let mut buffer = TaskBuffer::new(1, 1, 10);
        store_episode(&mut buffer, &record, 0.5);
        let (rows, _) = buffer.sample_segments(30, 0, 1, &mut ChaCha8Rng::seed_from_u64(0));
        // Width 1 + 1 + 2 + 1 + 1: obs, action, reward, return-to-go, next obs, terminal.
        let values = Vec::<f32>::try_from(rows.reshape([-1])).unwrap();
        for row in values.chunks(6) {
            // G_2 = 2, G_1 = 0 + 0.5·2 = 1, G_0 = 1 + 0.5·1 = 1.5.
            let expected = [1.5, 1.0, 2.0][row[0] as usize];
            assert_eq!(row[3], expected, "{row:?}");
        }
        assert_eq!(buffer.trajectories().count(), 1);
    }

    #[test]
    fn transferred_rows_act_through_the_translator_and_the_others_through_the_learned_policy() {
        tch::manual_seed(0);
        let config = McatConfig { hidden_sizes: vec![8], latent_size: 2, history_length: 2, ..McatConfig::default() };
        let learner = McatLearner::new(&config, 2, 1, Device::Cpu);
        let values = |t: &Tensor| Vec::<f32>::try_from(t.reshape([-1])).unwrap();
        let (obs, context) = (Tensor::from_slice(&[0.1f32, 0.2, -0.3, 0.4, 0.5, -0.6]).view([3, 2]), Tensor::rand([3, 2, 5], (Kind::Float, Device::Cpu)));
        let mask = Tensor::ones([3, 2], (Kind::Float, Device::Cpu));
        // Running: positions 0, 2, 3 of four slots; position 2 transfers from task 0 to task 1.
        let inputs = StepInputs { running: &[0, 2, 3], obs: obs.shallow_clone(), context: context.shallow_clone(), context_mask: mask.shallow_clone() };
        let behaviours = [Behaviour::Own, Behaviour::Transfer { source: 2 }, Behaviour::Transfer { source: 0 }, Behaviour::Own];
        let features = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, -1.0, -1.0]).view([3, 2]);
        let acted = learner.act(&inputs, &behaviours, &[0, 1, 1, 2], Some(&features));
        let own = tch::no_grad(|| learner.td3.actor(&obs, &learner.models.encode_rows(&context, &mask)));
        let (z0, z1, o1) = (features.narrow(0, 0, 1), features.narrow(0, 1, 1), obs.narrow(0, 1, 1));
        let translated = tch::no_grad(|| learner.models.translate(&o1, &learner.td3.actor(&o1, &z0), &z0, &z1));
        let (acted, own) = (values(&acted), values(&own));
        assert_eq!((acted[0], acted[2]), (own[0], own[2]));
        assert!((acted[1] - values(&translated)[0]).abs() < 1e-6 && acted[1] != own[1]);
        // Without features every env follows the learned policy.
        assert_eq!(values(&learner.act(&inputs, &behaviours, &[0, 1, 1, 2], None)), own);
    }

    #[test]
    fn episodes_see_their_own_last_k_transitions_as_context() {
        let entry = registry::lookup("point-robot").unwrap();
        let options = EnvOptions { horizon: Some(4), ..EnvOptions::default() };
        let tasks = entry.tasks(&options, 0).unwrap();
        let mut i = 0;
        let mut envs = VecEnvs::new(2, 1, || {
            let mut env = entry.make(&options)?;
            env.set_task(&tasks.train[i])?;
            i += 1;
            Ok(env)
        })
        .unwrap();
        let mut seen = Vec::new();
        let records = run_episodes(&mut envs, &[1, 0], 2, |inputs| {
            seen.push((Vec::<f32>::try_from(inputs.context.reshape([-1])).unwrap(), Vec::<f32>::try_from(inputs.context_mask.reshape([-1])).unwrap()));
            Ok(Tensor::full([inputs.running.len() as i64, 2], 0.05, (Kind::Float, Device::Cpu)))
        })
        .unwrap();
        assert_eq!(records.iter().map(Trajectory::len).collect::<Vec<_>>(), [4, 4]);
        assert_eq!(seen[0].1, [0.0; 4], "no context at the first step");
        assert_eq!(seen[1].1, [0.0, 1.0, 0.0, 1.0], "one transition, right-aligned");
        assert_eq!(seen[3].1, [1.0; 4]);
        // Step 3, env of slot 1 (row 0): transitions 1 and 2 as (s, a, s' − s).
        let r = &records[0];
        let expected: Vec<f32> = (1..3).flat_map(|t| [r.obs[2 * t], r.obs[2 * t + 1], 0.05, 0.05, (r.next_obs[2 * t] - r.obs[2 * t]), (r.next_obs[2 * t + 1] - r.obs[2 * t + 1])]).map(|v| v as f32).collect();
        assert_eq!(seen[3].0[..12], expected[..]);
    }
}
