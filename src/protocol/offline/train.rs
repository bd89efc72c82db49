//! Offline meta-training (papers/002 Alg. 1; FOCAL-ICLR `rlkit/core/rl_algorithm.py` in offline
//! mode): no env steps while training. Each gradient step draws `meta_batch` train tasks (with
//! replacement), a context of `embedding_batch_size` transitions and an RL batch of `batch_size`
//! from each task's dataset; the encoder embeds the contexts, its metric loss (Eq. 13, or Eq. 12)
//! trains it, and the actor-critic (the SAC core, with BRAC where configured) learns on z
//! detached — unless `allow_backward_z` couples them, or the encoder is Batch PEARL's, trained by
//! the Bellman loss and its KL bottleneck.
//!
//! Meta-test (offline): for every test task and run, z from a context drawn from the test task's
//! dataset (no exploration), then one online episode with deterministic actions; the score is
//! its return, averaged over runs and test tasks. Each iteration also embeds 8 contexts per test
//! task and logs the effective separation rate and RMS distance of the embeddings (§5.2.1).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::collect::{make_env, selected_tasks};
use super::dataset::Dataset;
use super::{EncoderKind, EncoderLoss, FocalConfig};
use crate::algos::brac::BracSettings;
use crate::algos::focal::{metric_loss, separation, MetricLoss, TaskEncoder};
use crate::algos::sac::{standard_normal, Losses, Sac, TaskVariable};
use crate::envs::{registry, Task};
use crate::nn::{variables_under, Adam};
use crate::protocol::buffer::{MultiTaskBuffer, Transition};
use crate::protocol::config::Algorithm;
use crate::protocol::driver::{Counters, IterationRows, TrainingRun};
use crate::protocol::meta_train::{transition_rows, EvalRow, EvalSummary};
use crate::protocol::run_dir::{checked_steps, iteration_seed, maybe_killed, parse_device, RunDir, RunIdentity};
use crate::protocol::sampler::VecEnvs;
use crate::results::{field, mean, success_field, success_share};

/// Everything `metarl train focal` is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfflineSpec {
    pub algorithm: Algorithm,
    pub env: String,
    pub seed: u64,
    /// The dataset folder of `metarl offline collect`.
    pub dataset: PathBuf,
    pub device: String,
    pub config: FocalConfig,
}

impl RunIdentity for OfflineSpec {
    fn same_run(&self, other: &Self) -> bool {
        (self.algorithm, &self.env, self.seed, &self.dataset, &self.config) == (other.algorithm, &other.env, other.seed, &other.dataset, &other.config)
    }

    fn describe(&self) -> String {
        format!("{} on {} (seed {}, dataset {})", self.algorithm.name(), self.env, self.seed, self.dataset.display())
    }
}

pub const PROGRESS_COLUMNS: &[&str] = &[
    "iteration", "train_steps", "test_return", "test_success", "qf_loss", "vf_loss", "policy_loss", "metric_loss", "kl_divergence", "dual_critic_loss", "divergence", "alpha",
    "effective_separation_rate", "rms_embedding_distance", "wall_clock_s",
];
const EVAL_COLUMNS: &[&str] = &["iteration", "task", "run", "final_return", "final_success", "rollouts", "context_transitions"];
/// Contexts per test task whose embeddings the separation metrics compare.
const CONTEXTS_PER_TEST_TASK: usize = 8;

#[derive(Serialize, Deserialize)]
struct Progress {
    /// The last finished iteration (meaningful once `started`).
    iteration: usize,
    started: bool,
    train_steps: u64,
    rng: ChaCha8Rng,
    elapsed_s: f64,
}

/// One row of progress.csv (the driver adds `wall_clock_s`).
#[derive(Debug, Clone)]
pub struct OfflineReport {
    pub iteration: usize,
    pub train_steps: u64,
    pub test_return: f64,
    /// Share of test episodes that succeeded at any step, where the env defines success.
    pub test_success: Option<f64>,
    pub losses: Vec<Option<f64>>,
    pub effective_separation_rate: f64,
    pub rms_embedding_distance: f64,
}

impl OfflineReport {
    fn fields(&self) -> Vec<String> {
        let mut fields = vec![self.iteration.to_string(), self.train_steps.to_string(), field(Some(self.test_return)), field(self.test_success)];
        fields.extend(self.losses.iter().map(|&l| field(l)));
        fields.extend([field(Some(self.effective_separation_rate)), field(Some(self.rms_embedding_distance))]);
        fields
    }
}

pub struct OfflineTrainer {
    spec: OfflineSpec,
    config: FocalConfig,
    test_tasks: Vec<Task>,
    n_train: usize,
    sac: Sac,
    encoder: TaskEncoder,
    encoder_optimizer: Adam,
    /// What trains a deterministic or probabilistic encoder apart from the Bellman loss.
    metric: Option<MetricLoss>,
    /// The train tasks' datasets, and the test tasks' (their contexts at meta-test).
    replay: MultiTaskBuffer,
    test_replay: MultiTaskBuffer,
    /// One env per test task and run.
    envs: VecEnvs,
    device: Device,
    progress: Progress,
    dir: RunDir,
}

/// The level's transitions of `tasks`, one buffer each, trajectories marked.
fn load_buffers(dataset: &Dataset, tasks: &[Task], config: &FocalConfig, obs_dim: usize, action_dim: usize) -> Result<MultiTaskBuffer> {
    let data = tasks.iter().map(|t| dataset.read_task(t, config.dataset_level)).collect::<Result<Vec<_>>>()?;
    let capacity = data.iter().map(|d| d.len()).max().unwrap_or(1);
    let mut buffers = MultiTaskBuffer::new(tasks.len(), obs_dim, action_dim, capacity);
    for (buffer, d) in buffers.tasks.iter_mut().zip(&data) {
        let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        for row in 0..d.len() {
            let (obs, action, next_obs) = (wide(&d.obs[row * obs_dim..(row + 1) * obs_dim]), wide(&d.actions[row * action_dim..(row + 1) * action_dim]),
                wide(&d.next_obs[row * obs_dim..(row + 1) * obs_dim]));
            let last_of_trajectory = d.trajectory.get(row + 1) != Some(&d.trajectory[row]);
            let terminal = d.terminals[row] > 0.5 || (config.time_limit_terminal && last_of_trajectory);
            buffer.push(&Transition { obs: &obs, action: &action, reward: d.rewards[row].into(), sparse_reward: d.sparse_rewards[row].into(), next_obs: &next_obs, terminal });
            if last_of_trajectory {
                buffer.end_trajectory();
            }
        }
    }
    Ok(buffers)
}

/// The config's metric loss; `None` for Batch PEARL's Bellman-trained encoder.
fn metric(c: &FocalConfig) -> Option<MetricLoss> {
    let inverse_power = MetricLoss::InversePower { power: c.dml_power, beta: c.dml_beta, epsilon: c.dml_epsilon };
    match c.encoder_loss {
        EncoderLoss::Dml => Some(inverse_power),
        EncoderLoss::L2Contrastive => Some(MetricLoss::Contrastive { margin: c.contrastive_margin }),
        EncoderLoss::DistancePower => Some(MetricLoss::distance_power_matched(c.distance_power, inverse_power)),
        EncoderLoss::Bellman => None,
    }
}

impl OfflineTrainer {
    /// A new run in `dir`, or (with `resume`) the run there continued from its checkpoint.
    pub fn open(spec: OfflineSpec, dir: &Path, resume: bool) -> Result<OfflineTrainer> {
        let config = spec.config.clone();
        if !spec.algorithm.is_offline() {
            bail!("{} is not trained offline", spec.algorithm.name());
        }
        if config.meta_batch < 2 && config.encoder_loss != EncoderLoss::Bellman {
            bail!("config field meta_batch is {}: the metric loss compares the embeddings of at least 2 tasks", config.meta_batch);
        }
        tch::set_num_threads(config.threads);
        tch::manual_seed(spec.seed as i64);
        let device = parse_device(&spec.device)?;
        registry::lookup(&spec.env)?;
        let (train_tasks, test_tasks) = selected_tasks(&spec.env, &config)?;
        let threads = usize::try_from(config.threads).unwrap_or(1);
        let envs = VecEnvs::new(test_tasks.len() * config.num_evals.max(1), threads, || make_env(&spec.env, &config))?;
        let (obs_dim, action_dim) = (envs.obs_dim(), envs.action_dim());
        let dataset = Dataset::open(&spec.dataset, &spec.env, obs_dim, action_dim)?;
        let replay = load_buffers(&dataset, &train_tasks, &config, obs_dim, action_dim)?;
        let test_replay = load_buffers(&dataset, &test_tasks, &config, obs_dim, action_dim)?;

        let mut sac = Sac::new(config.sac_settings(obs_dim, action_dim, config.latent_size), device, None);
        if config.use_brac {
            sac = sac.with_behaviour_regularisation(BracSettings {
                value_penalty: config.use_value_penalty,
                alpha_init: config.alpha_init,
                alpha_max: config.alpha_max,
                alpha_lr: config.alpha_lr,
                target_divergence: config.target_divergence,
                dual_critic_lr: config.dual_critic_lr,
                gradient_penalty: config.gradient_penalty,
                penalty_form: config.gradient_penalty_form,
            });
        }
        let width = obs_dim + action_dim + 1 + if config.use_next_obs_in_context { obs_dim } else { 0 };
        let probabilistic = config.encoder == EncoderKind::Probabilistic;
        let encoder = TaskEncoder::new(&(sac.vars.root() / "context_encoder"), probabilistic, width as i64, &config.encoder_hidden, config.latent_size);
        let metric = metric(&config);
        let encoder_optimizer = Adam::new(variables_under(&sac.vars, "context_encoder"), config.context_lr);
        let mut trainer = OfflineTrainer {
            progress: Progress { iteration: 0, started: false, train_steps: 0, rng: ChaCha8Rng::seed_from_u64(spec.seed), elapsed_s: 0.0 },
            n_train: train_tasks.len(),
            test_tasks,
            config,
            sac,
            encoder,
            encoder_optimizer,
            metric,
            replay,
            test_replay,
            envs,
            device,
            dir: RunDir::prepare(dir, &spec, resume)?,
            spec,
        };
        if resume {
            let (progress, tensors) = trainer.dir.load_checkpoint()?;
            trainer.progress = progress;
            let restore = |result: Result<(), String>| result.map_err(|name| anyhow::anyhow!("checkpoint lacks {name}"));
            restore(trainer.sac.load_state(&tensors))?;
            restore(trainer.encoder_optimizer.load_state("adam.encoder", &tensors))?;
        }
        Ok(trainer)
    }


    /// Contexts `[tasks, embedding_batch_size, width]` of `indices` from `buffers`.
    fn contexts(&mut self, test: bool, indices: &[usize]) -> Tensor {
        self.context_rows(test, indices, self.config.embedding_batch_size)
    }

    /// `n` transitions per task of `indices`, uniformly from its data, as context rows
    /// `[tasks, n, width]`.
    fn context_rows(&mut self, test: bool, indices: &[usize], n: usize) -> Tensor {
        let buffers = if test { &self.test_replay } else { &self.replay };
        let batch = buffers.sample_stacked(indices, n, &mut self.progress.rng);
        transition_rows(&batch, self.config.sparse_rewards, self.config.use_next_obs_in_context).to_device(self.device)
    }

    fn gradient_step(&mut self) -> Losses {
        let FocalConfig { meta_batch, batch_size, latent_size, same_task_loss, z_loss_weight, kl_lambda, allow_backward_z, encoder_loss, .. } = self.config;
        let indices: Vec<usize> = (0..meta_batch).map(|_| self.progress.rng.gen_range(0..self.n_train)).collect();
        let context = self.contexts(false, &indices);
        let batch = self.replay.sample_stacked(&indices, batch_size, &mut self.progress.rng);
        let noise = standard_normal(&mut self.progress.rng, indices.len() as i64, latent_size, self.device);
        let encoding = self.encoder.encode(&context, &noise);
        let metric = self.metric.map(|loss| metric_loss(&encoding.z, &indices, same_task_loss, loss));
        let terms: Vec<Tensor> = metric.iter().map(|m| m * z_loss_weight).chain(encoding.kl.iter().map(|kl| kl * kl_lambda)).collect();
        let objective = terms.into_iter().reduce(|a, b| a + b).unwrap_or_else(|| Tensor::zeros([], (Kind::Float, self.device)));
        self.encoder_optimizer.zero_grad();
        let bellman_reaches_encoder = (allow_backward_z || encoder_loss == EncoderLoss::Bellman) && !self.config.encoder_step_before_bellman;
        let task = if bellman_reaches_encoder {
            TaskVariable::GivenWithEncoderLoss(encoding.z.shallow_clone(), objective)
        } else {
            objective.backward();
            TaskVariable::Given(encoding.z.detach())
        };
        // BRAC's dual critic takes its other steps on fresh batches of the same tasks.
        let critic_steps = if self.config.use_brac { self.config.dual_critic_steps.max(1) } else { 1 };
        let fresh: Vec<_> = (1..critic_steps).map(|_| self.replay.sample_stacked(&indices, batch_size, &mut self.progress.rng)).collect();
        let mut losses = self.sac.train_step_with_critic_batches(&batch, task, &fresh, &mut self.progress.rng);
        self.encoder_optimizer.step();
        losses.metric_loss = metric.map(|m| m.double_value(&[]));
        losses.kl_divergence = encoding.kl.map_or(0.0, |kl| kl.double_value(&[]));
        losses
    }

    /// The point embeddings of contexts from the test tasks' datasets, row i from test task `indices[i]`.
    fn test_embeddings(&mut self, indices: &[usize]) -> Tensor {
        let context = self.contexts(true, indices);
        let noise = Tensor::zeros([indices.len() as i64, self.config.latent_size], (Kind::Float, self.device));
        tch::no_grad(|| self.encoder.encode(&context, &noise).embedding)
    }

    /// The effective separation rate and RMS distance of test-task embeddings.
    fn separation(&mut self) -> (f64, f64) {
        let indices: Vec<usize> = (0..self.test_tasks.len()).flat_map(|t| std::iter::repeat(t).take(CONTEXTS_PER_TEST_TASK)).collect();
        let embeddings = self.test_embeddings(&indices).to_device(Device::Cpu);
        separation(&embeddings, &indices)
    }

    /// Offline meta-test (FOCAL-ICLR 9aff52c, `rlkit/core/rl_algorithm.py:327` `_do_eval` → `:617`
    /// `collect_paths` → `rlkit/samplers/util.py:4` `offline_rollout`): per test
    /// task and run, rollouts with deterministic actions until `num_steps_per_eval` transitions,
    /// each after `max_path_length` transitions of the task's dataset joined the run's context and
    /// z was inferred from all of it; the last rollout is scored. Returns (mean return, success
    /// share where the env defines success, rows of (test task index, run, return, success), and
    /// per row the rollouts of the run).
    fn evaluate(&mut self, iteration: usize) -> Result<(f64, Option<f64>, Vec<EvalRow>, Vec<usize>)> {
        let runs = self.config.num_evals.max(1);
        let slots: Vec<(usize, usize)> = (0..self.test_tasks.len()).flat_map(|t| (0..runs).map(move |r| (t, r))).collect();
        let base = iteration_seed(self.spec.seed, iteration) ^ 0x5EED;
        for (k, &(t, _)) in slots.iter().enumerate() {
            let env = self.envs.env_mut(k);
            env.seed(base ^ (k as u32).wrapping_mul(0x9E37_79B9));
            env.set_task(&self.test_tasks[t])?;
        }
        let (horizon, budget) = (self.config.max_path_length, self.config.num_steps_per_eval.max(1));
        let mut contexts: Vec<Vec<Tensor>> = slots.iter().map(|_| Vec::new()).collect();
        let mut transitions = vec![0; slots.len()];
        let mut scored: Vec<(f64, Option<bool>)> = vec![(0.0, None); slots.len()];
        let mut live: Vec<usize> = (0..slots.len()).collect();
        while !live.is_empty() {
            let joining = self.context_rows(true, &live.iter().map(|&k| slots[k].0).collect::<Vec<_>>(), horizon);
            for (row, &k) in live.iter().enumerate() {
                contexts[k].push(joining.get(row as i64));
            }
            let context = Tensor::stack(&live.iter().map(|&k| Tensor::cat(&contexts[k], 0)).collect::<Vec<_>>(), 0);
            debug_assert!(live.iter().all(|&k| contexts[k].len() == contexts[live[0]].len()), "runs still going have had as many rollouts");
            let noise = Tensor::zeros([live.len() as i64, self.config.latent_size], (Kind::Float, self.device));
            let z = tch::no_grad(|| self.encoder.encode(&context, &noise).embedding);
            for (&k, (ret, success, length)) in live.iter().zip(self.rollout(&live, &z)?) {
                transitions[k] += length;
                scored[k] = (ret, success);
            }
            live.retain(|&k| transitions[k] < budget);
        }
        let rows: Vec<EvalRow> = slots.iter().zip(&scored).map(|(&(t, r), &(ret, success))| (self.test_tasks[t].index, r, ret, success)).collect();
        Ok((mean(rows.iter().map(|r| r.2)), success_share(rows.iter().map(|r| r.3)), rows, contexts.iter().map(Vec::len).collect()))
    }

    /// One episode with deterministic actions in each env of `slots` (reset first), env `slots[i]`
    /// acting under row i of `z`: (return — sparse with `sparse_rewards` —, success at any step,
    /// length) per slot.
    fn rollout(&mut self, slots: &[usize], z: &Tensor) -> Result<Vec<(f64, Option<bool>, usize)>> {
        for &k in slots {
            self.envs.env_mut(k).reset()?;
        }
        let mut results = vec![(0.0, None, 0); slots.len()];
        let mut live: Vec<usize> = (0..slots.len()).collect();
        let (mut obs_rows, mut steps) = (Vec::new(), Vec::new());
        while !live.is_empty() {
            let envs: Vec<usize> = live.iter().map(|&i| slots[i]).collect();
            self.envs.observations(&envs, &mut obs_rows);
            let obs = Tensor::from_slice(&obs_rows).view([live.len() as i64, -1]);
            let rows = Tensor::from_slice(&live.iter().map(|&i| i as i64).collect::<Vec<_>>()).to_device(self.device);
            let actions = self.sac.act(&obs, &z.index_select(0, &rows), true, &mut self.progress.rng);
            self.envs.step(&envs, &actions, &mut steps)?;
            for (row, &i) in live.iter().enumerate() {
                let (step, result) = (steps[row], &mut results[i]);
                result.0 += if self.config.sparse_rewards { step.sparse_reward.unwrap_or(step.reward) } else { step.reward };
                result.1 = step.success.map(|s| s || result.1.unwrap_or(false));
                result.2 += 1;
            }
            let done: Vec<bool> = steps.iter().map(|s| s.done()).collect();
            live = live.iter().zip(done).filter(|(_, d)| !d).map(|(&i, _)| i).collect();
        }
        Ok(results)
    }

    fn save_checkpoint(&self) -> Result<()> {
        let mut named = self.sac.state();
        named.extend(self.encoder_optimizer.state("adam.encoder"));
        self.dir.save_checkpoint(&named, &self.progress)
    }

    /// Re-run the offline meta-test of the checkpoint (`metarl eval`).
    pub fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        let (test_return, test_success, rows, _) = self.evaluate(self.progress.iteration)?;
        Ok(EvalSummary { iteration: self.progress.iteration, test_return, test_success, rows })
    }

}

impl TrainingRun for OfflineTrainer {
    fn label(&self) -> String {
        format!("{} on {} (seed {})", self.spec.algorithm.name(), self.spec.env, self.spec.seed)
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
        self.config.num_iterations
    }

    fn planned_iterations(&self) -> usize {
        self.config.num_iterations
    }

    /// Offline training takes no env steps.
    fn counters(&self) -> Counters {
        Counters { finished: self.progress.started.then_some(self.progress.iteration), env_steps: 0, max_env_steps: None, elapsed_s: self.progress.elapsed_s }
    }

    fn iterate(&mut self, iteration: usize) -> Result<IterationRows> {
        let losses = checked_steps(self.config.num_train_steps_per_itr, iteration, || self.gradient_step())
            .map_err(|(name, value, step)| self.dir.non_finite(name, value, iteration, &format!(", gradient step {step}"), self.progress.iteration))?;
        self.progress.train_steps += losses.len() as u64;
        maybe_killed(iteration);
        let (test_return, test_success, rows, rollouts) = self.evaluate(iteration)?;
        let (effective_separation_rate, rms_embedding_distance) = self.separation();
        let mean = |f: fn(&Losses) -> Option<f64>| {
            let values: Vec<f64> = losses.iter().filter_map(f).collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let report = OfflineReport {
            iteration,
            train_steps: self.progress.train_steps,
            test_return,
            test_success,
            losses: vec![mean(|l| Some(l.qf_loss)), mean(|l| Some(l.vf_loss)), mean(|l| Some(l.policy_loss)), mean(|l| l.metric_loss),
                mean(|l| Some(l.kl_divergence)), mean(|l| l.dual_critic_loss), mean(|l| l.divergence), mean(|l| l.alpha)],
            effective_separation_rate,
            rms_embedding_distance,
        };
        let eval = rows
            .into_iter()
            .zip(rollouts)
            .map(|((task, run, score, success), rollouts)| {
                let context = rollouts * self.config.max_path_length;
                vec![iteration.to_string(), task.to_string(), run.to_string(), field(Some(score)), success_field(success), rollouts.to_string(), context.to_string()]
            })
            .collect();
        Ok(IterationRows { progress: report.fields(), eval })
    }

    fn checkpoint(&mut self, iteration: usize, wall_clock_s: f64) -> Result<()> {
        (self.progress.iteration, self.progress.started, self.progress.elapsed_s) = (iteration, true, wall_clock_s);
        self.save_checkpoint()
    }

    fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        OfflineTrainer::evaluate_checkpoint(self)
    }
}
