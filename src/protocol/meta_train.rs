//! PEARL's meta-training loop and meta-test evaluation as oyster runs them
//! (`rlkit/core/rl_algorithm.py`, `MetaRLAlgorithm.train`, `collect_data`, `_do_eval`), shared by
//! oracle SAC, which replaces the inferred z by the task's ground-truth vector and trains garage's
//! multi-task SAC v2 on it (papers/001 §C.1, [`crate::algos::sac_v2`]), and by TCL-PEARL
//! and CoCOA, which add a contrastive loss on windows of the encoder buffer's trajectories to
//! each gradient step (papers/001 Alg. 2; papers/000 §4.6).
//!
//! Per iteration: (first iteration only) `num_initial_steps` per train task with z from the prior;
//! then for `num_tasks_sample` sampled train tasks, clear the task's encoder buffer and collect
//! `num_steps_prior` transitions with z ~ prior, `num_steps_posterior` with z from the posterior
//! of fresh context, and `num_extra_rl_steps_posterior` likewise but kept out of the encoder
//! buffer; then `num_train_steps_per_itr` gradient steps, each on `meta_batch` tasks drawn with
//! replacement; then the meta-test evaluation.
//!
//! Evaluation (oyster's `AverageReturn_all_test_tasks`): per test task and run, trajectories with
//! deterministic actions until `num_steps_per_eval` transitions, each of the first
//! `num_exp_traj_eval` with its own z drawn from the prior (`in_place.py` `obtain_samples` resamples
//! after every trajectory), each later one with z from the posterior of all context gathered so
//! far; the score is the last trajectory's return, averaged over `num_evals` runs and the test
//! tasks.

use std::path::Path;

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::buffer::{Batch, MultiTaskBuffer, Trajectory};
pub use super::config::Algorithm;
use super::config::Config;
use super::driver::{Counters, IterationRows, TrainingRun};
use super::run_dir::{checked_steps, iteration_seed, maybe_killed, parse_device, RunDir, RunIdentity};
use super::sampler::VecEnvs;
use crate::algos::contrastive::{Contrastive, ContrastiveSettings, PearlContext, Similarity};
use crate::algos::pearl::ContextEncoder;
use crate::algos::sac::{ContextSettings, Losses, Sac, SacSettings, TaskVariable};
use crate::algos::sac_v2::{SacV2, SacV2Settings};
use crate::envs::wrappers::NormalizedActions;
use crate::envs::{registry, Env, EnvOptions, Task};
use crate::results::{field, success_field, success_share};

/// The PEARL family's views of an algorithm.
impl Algorithm {
    /// z comes from PEARL's context encoder (PEARL, TCL, CoCOA).
    pub fn infers_task(self) -> bool {
        matches!(self, Algorithm::Pearl | Algorithm::Tcl | Algorithm::Cocoa)
    }

    /// The contrastive algorithms' similarity: the config's choice, else the paper's.
    fn similarity(self, config: &Config) -> Option<Similarity> {
        let own = match self {
            Algorithm::Tcl => Similarity::Wasserstein,
            Algorithm::Cocoa => Similarity::Bhattacharyya,
            _ => return None,
        };
        Some(config.similarity.unwrap_or(own))
    }
}

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

impl RunSpec {
    /// The arguments a run folder was trained with (its config.json).
    pub fn read(run_dir: &Path) -> Result<RunSpec> {
        let config = run_dir.join("config.json");
        serde_json::from_slice(&std::fs::read(&config).with_context(|| format!("{} is not a run folder (no config.json)", run_dir.display()))?)
            .with_context(|| format!("{} is not a run config", config.display()))
    }
}

const PROGRESS_COLUMNS: &[&str] = &[
    "iteration", "env_steps", "train_steps", "test_return", "test_success", "qf_loss", "vf_loss", "policy_loss", "kl_divergence", "contrastive_loss", "query_kl", "wall_clock_s",
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

/// The networks a run trains: SAC v1 with PEARL's context encoder (PEARL, TCL, CoCOA), or the
/// multi-task SAC v2 of oracle SAC.
pub enum Learner {
    Context(Sac),
    Oracle(SacV2),
}

impl Learner {
    /// One action per row of `obs` under the rows of `z`, row-major `[n, action_dim]`.
    pub fn act(&self, obs: &Tensor, z: &Tensor, deterministic: bool, rng: &mut ChaCha8Rng) -> Vec<f64> {
        match self {
            Learner::Context(sac) => sac.act(obs, z, deterministic, rng),
            Learner::Oracle(sac) => sac.act(obs, z, deterministic, rng),
        }
    }

    pub fn encoder(&self) -> Option<&ContextEncoder> {
        match self {
            Learner::Context(sac) => sac.encoder.as_ref(),
            Learner::Oracle(_) => None,
        }
    }

    pub fn z_dim(&self) -> i64 {
        match self {
            Learner::Context(sac) => sac.settings.z_dim,
            Learner::Oracle(sac) => sac.settings.z_dim,
        }
    }

    /// Every variable and optimiser moment, named, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        match self {
            Learner::Context(sac) => sac.state(),
            Learner::Oracle(sac) => sac.state(),
        }
    }

    pub fn load_state(&mut self, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        match self {
            Learner::Context(sac) => sac.load_state(saved),
            Learner::Oracle(sac) => sac.load_state(saved),
        }
    }
}

pub struct Trainer {
    spec: RunSpec,
    config: Config,
    /// The sampler: `sampler_envs` envs of the family, stepped together.
    envs: VecEnvs,
    train_tasks: Vec<Task>,
    test_tasks: Vec<Task>,
    learner: Learner,
    /// TCL/CoCOA's key encoder (and bilinear W).
    contrastive: Option<Contrastive>,
    replay: MultiTaskBuffer,
    encoder_replay: MultiTaskBuffer,
    z_dim: i64,
    device: Device,
    progress: Progress,
    dir: RunDir,
}

/// Appends the context rows `o | a | r (| o')` of every transition, as the encoder reads them.
fn extend_context(trajectory: &Trajectory, rows: &mut Vec<f32>, with_next_obs: bool) {
    for t in trajectory.transitions() {
        rows.extend(t.obs.iter().chain(t.action).chain([&t.sparse_reward]).map(|&v| v as f32));
        if with_next_obs {
            rows.extend(t.next_obs.iter().map(|&v| v as f32));
        }
    }
}

/// One phase of oyster's `collect_data` on a task.
#[derive(Debug, Clone, Copy)]
struct Phase {
    samples: usize,
    /// Trajectories between posterior updates from the encoder buffer; `None`: z from the prior.
    update_posterior_every: Option<usize>,
    /// Whether the transitions also go to the encoder buffer.
    encoder_too: bool,
}

/// What a sampler slot is doing.
enum Plan {
    /// oyster `collect_data` on a train task (its encoder buffer cleared first), the phases in order.
    Collect { train_index: usize, phases: Vec<Phase>, collected: usize, trajectories: usize },
    /// `remaining` more trajectories with z from the prior, each kept (embedding analysis).
    Record { remaining: usize, kept: Vec<Trajectory> },
    /// One meta-test run on a test task: exploration, posterior updates, the last trajectory scored;
    /// `context` holds the exploration's context rows, flat.
    Evaluate { run: usize, context: Vec<f32>, transitions: usize, trajectories: usize, score: f64, success: Option<bool> },
}

/// Sees a slot's env and state after each of its steps (`metarl render` films through it).
type Watcher<'a> = &'a mut dyn FnMut(&dyn Env, &Slot) -> Result<()>;

/// One sampler env's job: a task, a plan, the running belief and the trajectory in progress.
struct Slot {
    task: Task,
    plan: Plan,
    belief: Belief,
    trajectory: Trajectory,
    finished: bool,
}

impl Slot {
    fn new(task: Task, plan: Plan, belief: Belief) -> Slot {
        Slot { task, plan, belief, trajectory: Trajectory::default(), finished: false }
    }

    fn train_index(&self) -> Option<usize> {
        match self.plan {
            Plan::Collect { train_index, .. } => Some(train_index),
            Plan::Record { .. } | Plan::Evaluate { .. } => None,
        }
    }

    /// Whether this slot collects into train task `index`'s buffers.
    fn collects_into(&self, index: Option<usize>) -> bool {
        index.is_some() && self.train_index() == index
    }
}

impl Trainer {
    /// A new run in `dir`, or (with `resume`) the run there continued from its checkpoint.
    pub fn open(spec: RunSpec, dir: &Path, resume: bool) -> Result<Trainer> {
        let config = spec.config.clone();
        if spec.algorithm.is_on_policy() || spec.algorithm.is_offline() {
            bail!("{} is trained by its own trainer, not PEARL's", spec.algorithm.name());
        }
        if spec.algorithm == Algorithm::Mcat {
            bail!("mcat is trained by its own trainer (protocol::mcat), not PEARL's");
        }
        tch::set_num_threads(config.threads);
        tch::manual_seed(spec.seed as i64);
        let device = parse_device(&spec.device)?;
        let entry = registry::lookup(&spec.env)?;
        let options = EnvOptions { horizon: Some(config.max_path_length), ..EnvOptions::default() };
        let threads = usize::try_from(config.threads).unwrap_or(1);
        let envs = VecEnvs::new(config.sampler_envs, threads, || Ok(Box::new(NormalizedActions::new(entry.make(&options)?)) as Box<dyn Env>))?;
        let mut family = entry.tasks(&options, config.task_seed)?;
        if let Some(n) = config.n_train_tasks {
            family.train.truncate(n);
        }
        if let Some(n) = config.n_eval_tasks {
            family.test.truncate(n);
        }
        let (obs_dim, action_dim) = (envs.obs_dim(), envs.action_dim());
        let oracle_dim = family.train[0].oracle.len();
        super::config::checks::pearl(spec.algorithm, &config)?;
        let n_train = family.train.len();
        let (learner, contrastive) = build_learner(spec.algorithm, &config, (obs_dim, action_dim, oracle_dim), n_train, device);
        let z_dim = learner.z_dim();
        let replay = MultiTaskBuffer::new(n_train, obs_dim, action_dim, config.replay_buffer_size);
        let mut trainer = Trainer {
            encoder_replay: replay.clone(),
            replay,
            progress: Progress { iteration: 0, env_steps: 0, train_steps: 0, rng: ChaCha8Rng::seed_from_u64(spec.seed), elapsed_s: 0.0 },
            train_tasks: family.train,
            test_tasks: family.test,
            config,
            envs,
            learner,
            contrastive,
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
        restore(self.learner.load_state(&tensors))?;
        if let Some(contrastive) = &mut self.contrastive {
            restore(contrastive.load_state(&tensors))?;
        }
        restore(self.replay.restore("replay", &tensors))?;
        restore(self.encoder_replay.restore("encoder_replay", &tensors))
    }

    fn save_checkpoint(&mut self) -> Result<()> {
        let mut named = self.learner.state();
        named.extend(self.contrastive.iter().flat_map(Contrastive::state));
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
        belief.z = if self.spec.algorithm.infers_task() {
            let noise = crate::algos::sac::standard_normal(&mut self.progress.rng, 1, self.z_dim, self.device);
            &belief.mean + crate::nn::portable_sqrt(&belief.var) * noise
        } else {
            let oracle: Vec<f32> = task.oracle.iter().map(|&v| v as f32).collect();
            Tensor::from_slice(&oracle).view([1, -1]).to_device(self.device)
        };
    }

    /// Context rows `[1, n, width]` → posterior belief (PEARL only).
    fn infer(&mut self, belief: &mut Belief, context: &Tensor, task: &Task) {
        if let Some(encoder) = self.learner.encoder() {
            let (mean, var) = tch::no_grad(|| encoder.posterior(&context.to_device(self.device)));
            (belief.mean, belief.var) = (mean, var);
        }
        self.sample_z(belief, task);
    }

    /// The context reward: sparse where the config asks for it and the env has one.
    fn context_reward(&self, reward: f64, sparse: Option<f64>) -> f64 {
        if self.config.sparse_rewards { sparse.unwrap_or(reward) } else { reward }
    }

    fn store(&mut self, task_index: usize, trajectory: &Trajectory, encoder_too: bool) {
        for t in trajectory.transitions() {
            self.replay.tasks[task_index].push(&t);
            if encoder_too {
                self.encoder_replay.tasks[task_index].push(&t);
            }
        }
        self.replay.tasks[task_index].end_trajectory();
        if encoder_too {
            self.encoder_replay.tasks[task_index].end_trajectory();
        }
    }

    /// Context `[tasks, n, width]` from the encoder buffers (oyster `sample_context`).
    fn sample_context(&mut self, indices: &[usize]) -> Tensor {
        sample_context(&self.config, &self.encoder_replay, indices, &mut self.progress.rng)
    }

    /// Seeds sampler env k with `base` mixed with k, so every env draws its own reset noise.
    fn seed_envs(&mut self, base: u32) {
        for k in 0..self.envs.len() {
            self.envs.env_mut(k).seed(base ^ (k as u32).wrapping_mul(0x9E37_79B9));
        }
    }

    /// Runs `slots` through the sampler in waves of at most one slot per env; a wave never holds
    /// the same train task twice, so a task collected twice in one iteration is collected in
    /// order, as oyster's sequential loop does.
    fn run_slots(&mut self, slots: Vec<Slot>, deterministic: bool) -> Result<Vec<Slot>> {
        self.run_slots_watched(slots, deterministic, None)
    }

    /// `run_slots`, with `watch` shown slot 0's env and slot after every step of the first wave.
    fn run_slots_watched(&mut self, slots: Vec<Slot>, deterministic: bool, mut watch: Option<Watcher>) -> Result<Vec<Slot>> {
        let mut done = Vec::with_capacity(slots.len());
        let mut pending = slots.into_iter().peekable();
        while pending.peek().is_some() {
            let mut wave: Vec<Slot> = Vec::new();
            while let Some(next) = pending.next_if(|s| wave.len() < self.envs.len() && !wave.iter().any(|w| w.collects_into(s.train_index()))) {
                wave.push(next);
            }
            self.drive(&mut wave, deterministic, watch.take())?;
            done.extend(wave);
        }
        Ok(done)
    }

    /// Steps the slots of one wave together until each plan is over: one batched policy forward
    /// per step for every live slot (slot k runs on sampler env k).
    fn drive(&mut self, slots: &mut [Slot], deterministic: bool, mut watch: Option<Watcher>) -> Result<()> {
        for (k, slot) in slots.iter_mut().enumerate() {
            if let Plan::Collect { train_index, .. } = slot.plan {
                self.encoder_replay.tasks[train_index].clear();
            }
            self.sample_z(&mut slot.belief, &slot.task);
            let env = self.envs.env_mut(k);
            env.set_task(&slot.task)?;
            env.reset()?;
        }
        let (mut live, mut obs_rows, mut steps) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            live.clear();
            live.extend((0..slots.len()).filter(|&k| !slots[k].finished));
            if live.is_empty() {
                return Ok(());
            }
            self.envs.observations(&live, &mut obs_rows);
            let obs = Tensor::from_slice(&obs_rows).view([live.len() as i64, -1]);
            let z = Tensor::cat(&live.iter().map(|&k| &slots[k].belief.z).collect::<Vec<_>>(), 0);
            let actions = self.learner.act(&obs, &z, deterministic, &mut self.progress.rng);
            for &k in &live {
                slots[k].trajectory.obs.extend_from_slice(self.envs.env(k).observation());
            }
            self.envs.step(&live, &actions, &mut steps)?;
            let action_dim = self.envs.action_dim();
            for (row, &k) in live.iter().enumerate() {
                let step = steps[row];
                let slot = &mut slots[k];
                let trajectory = &mut slot.trajectory;
                trajectory.success = step.success.map(|s| s || trajectory.success.unwrap_or(false));
                trajectory.actions.extend_from_slice(&actions[row * action_dim..(row + 1) * action_dim]);
                trajectory.rewards.push(step.reward);
                trajectory.context_rewards.push(self.context_reward(step.reward, step.sparse_reward));
                trajectory.next_obs.extend_from_slice(self.envs.env(k).observation());
                trajectory.terminals.push(step.terminated);
                if let (0, Some(watch)) = (k, watch.as_mut()) {
                    watch(self.envs.env(0), slot)?;
                }
                if step.done() {
                    self.end_trajectory(slot)?;
                    if !slot.finished {
                        self.envs.env_mut(k).reset()?;
                    }
                }
            }
        }
    }

    /// A slot's trajectory ended: store or score it, update the slot's z, and move its plan on.
    fn end_trajectory(&mut self, slot: &mut Slot) -> Result<()> {
        let trajectory = std::mem::take(&mut slot.trajectory);
        let length = trajectory.len();
        match &mut slot.plan {
            Plan::Collect { train_index, phases, collected, trajectories } => {
                let (task_index, phase) = (*train_index, phases[0]);
                self.store(task_index, &trajectory, phase.encoder_too);
                self.progress.env_steps += length as u64;
                *collected += length;
                *trajectories += 1;
                if *collected >= phase.samples {
                    // The next phase starts again from the prior (oyster's `clear_z`).
                    phases.remove(0);
                    (*collected, *trajectories) = (0, 0);
                    slot.finished = phases.is_empty();
                    slot.belief = self.prior();
                    self.sample_z(&mut slot.belief, &slot.task);
                } else if phase.update_posterior_every.is_some_and(|n| *trajectories % n == 0) && self.spec.algorithm.infers_task() {
                    let context = self.sample_context(&[task_index]);
                    self.infer(&mut slot.belief, &context, &slot.task);
                } else {
                    self.sample_z(&mut slot.belief, &slot.task);
                }
            }
            Plan::Record { remaining, kept } => {
                kept.push(trajectory);
                *remaining -= 1;
                slot.finished = *remaining == 0;
                slot.belief = self.prior();
                self.sample_z(&mut slot.belief, &slot.task);
            }
            Plan::Evaluate { context, transitions, trajectories, score, success, .. } => {
                *transitions += length;
                *trajectories += 1;
                extend_context(&trajectory, context, self.config.use_next_obs_in_context);
                if *trajectories >= self.config.num_exp_traj_eval {
                    let context = Tensor::from_slice(context).view([1, *transitions as i64, -1]);
                    self.infer(&mut slot.belief, &context, &slot.task);
                } else {
                    // oyster `obtain_samples(max_trajs=1)` ends with `sample_z()`: every
                    // exploration trajectory draws its own z from the prior.
                    self.sample_z(&mut slot.belief, &slot.task);
                }
                if *transitions >= self.config.num_steps_per_eval {
                    // oyster scores sparse-reward envs by their sparse reward.
                    *score = if self.config.sparse_rewards { &trajectory.context_rewards } else { &trajectory.rewards }.iter().sum();
                    *success = trajectory.success;
                    slot.finished = true;
                }
            }
        }
        Ok(())
    }

    /// oyster `collect_data` on each listed train task, phase by phase.
    fn collect(&mut self, tasks: &[usize], phases: &[Phase]) -> Result<()> {
        let phases: Vec<Phase> = phases.iter().copied().filter(|p| p.samples > 0).collect();
        if phases.is_empty() {
            return Ok(());
        }
        let slots = tasks
            .iter()
            .map(|&train_index| {
                let plan = Plan::Collect { train_index, phases: phases.clone(), collected: 0, trajectories: 0 };
                Slot::new(self.train_tasks[train_index].clone(), plan, self.prior())
            })
            .collect();
        self.run_slots(slots, false)?;
        Ok(())
    }

    /// oyster `_do_training` → `_take_step` for one meta-batch.
    fn gradient_step(&mut self) -> Losses {
        let n = self.train_tasks.len();
        let indices: Vec<usize> = (0..self.config.meta_batch).map(|_| self.progress.rng.gen_range(0..n)).collect();
        match &mut self.learner {
            Learner::Context(sac) => {
                let buffers = (&self.replay, &self.encoder_replay);
                context_step(sac, self.contrastive.as_mut(), &self.config, buffers, &indices, &mut self.progress.rng)
            }
            Learner::Oracle(sac) => {
                let rows: Vec<f32> = indices.iter().flat_map(|&i| self.train_tasks[i].oracle.iter().map(|&v| v as f32)).collect();
                let z = Tensor::from_slice(&rows).view([indices.len() as i64, self.z_dim]);
                let batch = self.replay.sample_stacked(&indices, self.config.batch_size, &mut self.progress.rng);
                sac.train_step(&batch, &z, &indices, &mut self.progress.rng)
            }
        }
    }

    /// Meta-test on every test task: (mean final return, mean final success if defined, rows).
    fn evaluate(&mut self) -> Result<(f64, Option<f64>, Vec<EvalRow>)> {
        let mut slots = Vec::new();
        for task in &self.test_tasks {
            for run in 0..self.config.num_evals {
                let plan = Plan::Evaluate { run, context: Vec::new(), transitions: 0, trajectories: 0, score: 0.0, success: None };
                slots.push(Slot::new(task.clone(), plan, self.prior()));
            }
        }
        let rows: Vec<_> = self
            .run_slots(slots, true)?
            .into_iter()
            .map(|slot| match slot.plan {
                Plan::Evaluate { run, score, success, .. } => (slot.task.index, run, score, success),
                Plan::Collect { .. } | Plan::Record { .. } => unreachable!("evaluation slots only"),
            })
            .collect();
        let mean_return = rows.iter().map(|r| r.2).sum::<f64>() / rows.len() as f64;
        Ok((mean_return, success_share(rows.iter().map(|r| r.3)), rows))
    }

    /// Re-run the meta-test evaluation of the checkpoint (`metarl eval`): mean final return,
    /// success rate where defined, and one row per test task and run.
    pub fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        self.seed_envs(iteration_seed(self.spec.seed, self.progress.iteration) ^ 0x5EED);
        let (test_return, test_success, rows) = self.evaluate()?;
        Ok(EvalSummary { iteration: self.progress.iteration, test_return, test_success, rows })
    }

    /// For `metarl analyze embeddings` (papers/001 §5.5): `rollouts` trajectories of the
    /// checkpoint's policy on each of the first `tasks` test tasks (z from the prior, sampled
    /// actions); `rollouts` windows of `window` transitions per task, each cropped from one of
    /// its rollouts drawn at random; the windows' posterior means under the checkpoint's encoder
    /// and under the run's initial encoder (the same seed builds the same initial weights).
    pub fn window_embeddings(&mut self, tasks: usize, rollouts: usize, window: usize) -> Result<WindowEmbeddings> {
        if !self.spec.algorithm.infers_task() {
            bail!("{} has no context encoder to analyse", self.spec.algorithm.name());
        }
        if tasks < 2 || tasks > self.test_tasks.len() {
            bail!("--tasks {tasks}: pick between 2 and the run's {} test tasks", self.test_tasks.len());
        }
        if rollouts == 0 || window == 0 {
            bail!("--rollouts and --window must be at least 1");
        }
        let (obs_dim, action_dim) = (self.envs.obs_dim(), self.envs.action_dim());
        let mut buffers = MultiTaskBuffer::new(tasks, obs_dim, action_dim, rollouts * self.config.max_path_length);
        self.seed_envs(iteration_seed(self.spec.seed, self.progress.iteration) ^ 0xA11A);
        let slots = self.test_tasks[..tasks].iter().map(|task| Slot::new(task.clone(), Plan::Record { remaining: rollouts, kept: Vec::new() }, self.prior())).collect();
        for (i, slot) in self.run_slots(slots, false)?.into_iter().enumerate() {
            let Plan::Record { kept, .. } = slot.plan else { unreachable!("recording slots only") };
            for trajectory in kept {
                trajectory.transitions().for_each(|t| buffers.tasks[i].push(&t));
                buffers.tasks[i].end_trajectory();
            }
        }
        let task_of_window: Vec<usize> = (0..tasks).flat_map(|t| std::iter::repeat(t).take(rollouts)).collect();
        let windows = buffers.sample_window_pairs(&task_of_window, window, &mut self.progress.rng);
        let (rows, mask) = (context_rows(&self.config, &windows.queries).to_device(self.device), windows.mask.to_device(self.device));
        let means = |learner: &Learner| tch::no_grad(|| learner.encoder().expect("an encoder").window_posterior(&rows, &mask).0.to_device(Device::Cpu));
        tch::manual_seed(self.spec.seed as i64);
        let (initial, _) = build_learner(self.spec.algorithm, &self.config, (obs_dim, action_dim, self.train_tasks[0].oracle.len()), self.train_tasks.len(), self.device);
        Ok(WindowEmbeddings { task_of_window, trained: means(&self.learner), initial: means(&initial) })
    }

    pub fn test_task_count(&self) -> usize {
        self.test_tasks.len()
    }

    /// One meta-test run of the checkpoint on test task `task` (exploration trajectories, then
    /// adapted ones, as the evaluation runs them), with `on_step` shown the env after every step
    /// (`metarl render`); returns the run's score and success.
    pub fn film(&mut self, task: usize, on_step: &mut dyn FnMut(&dyn Env, &FilmStep) -> Result<()>) -> Result<(f64, Option<bool>)> {
        let task = self.test_tasks.get(task).cloned().with_context(|| format!("--task {task}: the run has {} test tasks", self.test_tasks.len()))?;
        self.seed_envs(iteration_seed(self.spec.seed, self.progress.iteration) ^ 0x5EED);
        let exploration = self.config.num_exp_traj_eval;
        let plan = Plan::Evaluate { run: 0, context: Vec::new(), transitions: 0, trajectories: 0, score: 0.0, success: None };
        let mut watch = |env: &dyn Env, slot: &Slot| {
            let Plan::Evaluate { trajectories, .. } = slot.plan else { return Ok(()) };
            let step = FilmStep {
                trajectory: trajectories,
                exploration: trajectories < exploration,
                step: slot.trajectory.len(),
                episode_return: slot.trajectory.rewards.iter().sum(),
                success: slot.trajectory.success.unwrap_or(false),
            };
            on_step(env, &step)
        };
        let slot = self.run_slots_watched(vec![Slot::new(task, plan, self.prior())], true, Some(&mut watch))?.remove(0);
        match slot.plan {
            Plan::Evaluate { score, success, .. } => Ok((score, success)),
            _ => unreachable!("an evaluation slot"),
        }
    }

}

impl TrainingRun for Trainer {
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
        self.config.num_iterations
    }

    fn planned_iterations(&self) -> usize {
        crate::campaign::run_cost(&self.config, self.train_tasks.len(), self.test_tasks.len(), self.spec.max_env_steps).iterations as usize
    }

    fn counters(&self) -> Counters {
        let p = &self.progress;
        Counters { finished: (p.env_steps > 0).then_some(p.iteration), env_steps: p.env_steps, max_env_steps: self.spec.max_env_steps, elapsed_s: p.elapsed_s }
    }

    fn iterate(&mut self, iteration: usize) -> Result<IterationRows> {
        self.seed_envs(iteration_seed(self.spec.seed, iteration));
        if iteration == 0 {
            // A budget below the initial pool (a smoke run) shrinks the pool to fit it.
            let n = self.train_tasks.len();
            let initial = self.spec.max_env_steps.map_or(self.config.num_initial_steps, |max| self.config.num_initial_steps.min(max as usize / n).max(1));
            let all: Vec<usize> = (0..n).collect();
            self.collect(&all, &[Phase { samples: initial, update_posterior_every: None, encoder_too: true }])?;
        }
        let sampled: Vec<usize> = (0..self.config.num_tasks_sample).map(|_| self.progress.rng.gen_range(0..self.train_tasks.len())).collect();
        let post = Some(self.config.update_post_train);
        self.collect(&sampled, &[
            Phase { samples: self.config.num_steps_prior, update_posterior_every: None, encoder_too: true },
            Phase { samples: self.config.num_steps_posterior, update_posterior_every: post, encoder_too: true },
            Phase { samples: self.config.num_extra_rl_steps_posterior, update_posterior_every: post, encoder_too: false },
        ])?;
        let losses = checked_steps(self.config.num_train_steps_per_itr, iteration, || self.gradient_step())
            .map_err(|(name, value, step)| self.dir.non_finite(name, value, iteration, &format!(", gradient step {step}"), self.progress.iteration))?;
        self.progress.train_steps += losses.len() as u64;
        maybe_killed(iteration);
        self.seed_envs(iteration_seed(self.spec.seed, iteration) ^ 0x5EED);
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
            contrastive_loss: mean_of_some(&losses, |l| l.contrastive_loss),
            query_kl: mean_of_some(&losses, |l| l.query_kl),
        };
        let eval = eval_rows
            .into_iter()
            .map(|(task, run, score, success)| vec![iteration.to_string(), task.to_string(), run.to_string(), field(Some(score)), success_field(success)])
            .collect();
        Ok(IterationRows { progress: report.fields(), eval })
    }

    fn checkpoint(&mut self, iteration: usize, wall_clock_s: f64) -> Result<()> {
        self.progress.iteration = iteration;
        self.progress.elapsed_s = wall_clock_s;
        self.save_checkpoint()
    }

    fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        Trainer::evaluate_checkpoint(self)
    }

    fn film_tasks(&self) -> usize {
        self.test_tasks.len()
    }

    fn film(&mut self, task: usize, on_step: &mut dyn FnMut(&dyn Env, &FilmStep) -> Result<()>) -> Result<(f64, Option<bool>)> {
        Trainer::film(self, task, on_step)
    }
}

/// The mean of a loss that only some algorithms report.
fn mean_of_some(losses: &[Losses], f: fn(&Losses) -> Option<f64>) -> Option<f64> {
    let values: Vec<f64> = losses.iter().filter_map(f).collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Context rows `obs | action | reward (| next obs)` of transitions `[.., n, ·]`; the reward is
/// the sparse one with `sparse_rewards`.
pub fn context_rows(config: &Config, batch: &Batch) -> Tensor {
    transition_rows(batch, config.sparse_rewards, config.use_next_obs_in_context)
}

/// [`context_rows`] with the two switches given (offline FOCAL has its own config).
pub fn transition_rows(batch: &Batch, sparse_rewards: bool, with_next_obs: bool) -> Tensor {
    let reward = if sparse_rewards { &batch.sparse_rewards } else { &batch.rewards };
    let mut parts = vec![&batch.obs, &batch.actions, reward];
    if with_next_obs {
        parts.push(&batch.next_obs);
    }
    Tensor::cat(&parts, -1)
}

/// oyster `sample_context`: `embedding_batch_size` transitions per task from the encoder buffers.
pub fn sample_context(config: &Config, encoder_replay: &MultiTaskBuffer, indices: &[usize], rng: &mut ChaCha8Rng) -> Tensor {
    context_rows(config, &encoder_replay.sample_stacked(indices, config.embedding_batch_size, rng))
}

/// One gradient step of PEARL (oyster `_take_step`) on the meta-batch `indices`; with
/// `contrastive`, TCL's or CoCOA's: each task also gives a query and a key window of one of its
/// trajectories, and the contrastive loss joins the encoder's objective (papers/001 Alg. 2 lines
/// 9-16), after which the key encoder takes its EMA step.
pub fn context_step(sac: &mut Sac, contrastive: Option<&mut Contrastive>, config: &Config, (replay, encoder_replay): (&MultiTaskBuffer, &MultiTaskBuffer),
    indices: &[usize], rng: &mut ChaCha8Rng) -> Losses {
    let Some(contrastive) = contrastive else {
        let context = sample_context(config, encoder_replay, indices, rng);
        let batch = replay.sample_stacked(indices, config.batch_size, rng);
        return sac.train_step(&batch, TaskVariable::Context(context), rng);
    };
    let context = (config.pearl_context == PearlContext::Sampled).then(|| sample_context(config, encoder_replay, indices, rng));
    let windows = encoder_replay.sample_window_pairs(indices, config.contrastive_window, rng);
    let query_encoder = sac.encoder.as_ref().expect("TCL and CoCOA train PEARL's encoder");
    let terms = contrastive.terms(query_encoder, &context_rows(config, &windows.queries), &context_rows(config, &windows.keys), &windows.mask, windows.shared_trajectory.as_ref());
    let batch = replay.sample_stacked(indices, config.batch_size, rng);
    let task = match context {
        Some(context) => TaskVariable::ContextAndEncoderLoss(context, terms.loss),
        None => TaskVariable::PosteriorAndEncoderLoss(terms.queries.mean, terms.queries.var, terms.loss),
    };
    let mut losses = sac.train_step(&batch, task, rng);
    contrastive.after_step();
    (losses.contrastive_loss, losses.query_kl) = (Some(terms.info_nce), terms.query_kl);
    losses
}

/// The learner an algorithm trains, sized from the config, the env's `(obs, action, oracle
/// vector)` widths and its `n_train` train tasks: PEARL's SAC v1 with the context encoder, TCL and
/// CoCOA adding the contrastive part (key encoder, bilinear W); oracle SAC's multi-task SAC v2
/// on the task's vector, two hidden layers of `net_size` (Yu et al. 2020's MT-SAC: 400 × 2).
pub fn build_learner(algorithm: Algorithm, config: &Config, (obs_dim, action_dim, oracle_dim): (usize, usize, usize), n_train: usize, device: Device) -> (Learner, Option<Contrastive>) {
    if !algorithm.infers_task() {
        let settings = SacV2Settings {
            discount: config.discount,
            reward_scale: config.oracle_reward_scale,
            tau: config.soft_target_tau,
            policy_lr: config.policy_lr,
            qf_lr: config.qf_lr,
            ..SacV2Settings::garage(obs_dim as i64, action_dim as i64, oracle_dim as i64, vec![config.net_size; 2], n_train as i64)
        };
        return (Learner::Oracle(SacV2::new(settings, device)), None);
    }
    let settings = SacSettings {
        obs_dim: obs_dim as i64,
        action_dim: action_dim as i64,
        z_dim: config.latent_size,
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
    let context = ContextSettings { input_dim: context_width as i64, hidden: config.encoder_hidden.clone(), lr: config.context_lr, kl_lambda: config.kl_lambda };
    let sac = Sac::new(settings, device, Some(context.clone()));
    let contrastive = algorithm.similarity(config).map(|similarity| {
        let settings = ContrastiveSettings {
            similarity,
            loss_scale: config.contrastive_loss_scale,
            temperature: config.contrastive_temperature,
            key_encoder_tau: config.key_encoder_tau,
            // papers/000 §4.5: CoCOA's bottleneck on the queries, weighted like PEARL's.
            query_kl_lambda: (algorithm == Algorithm::Cocoa).then_some(config.kl_lambda),
            bilinear_lr: config.context_lr,
        };
        Contrastive::new(settings, &sac, &context)
    });
    (Learner::Context(sac), contrastive)
}

/// Window embeddings of test tasks (`Trainer::window_embeddings`): `[windows, latent]` posterior
/// means, row i from test task `task_of_window[i]`.
pub struct WindowEmbeddings {
    pub task_of_window: Vec<usize>,
    pub trained: Tensor,
    pub initial: Tensor,
}

/// Where a filmed meta-test run is, step by step.
pub struct FilmStep {
    /// 0-based trajectory of the run.
    pub trajectory: usize,
    /// Before the posterior is first inferred (z from the prior).
    pub exploration: bool,
    /// Steps into the trajectory.
    pub step: usize,
    pub episode_return: f64,
    pub success: bool,
}

/// One meta-test row: (test task index, run or episode, return, success at any step where the
/// env defines success).
pub type EvalRow = (usize, usize, f64, Option<bool>);

/// What `metarl eval` reports.
pub struct EvalSummary {
    /// The checkpoint's iteration.
    pub iteration: usize,
    pub test_return: f64,
    pub test_success: Option<f64>,
    pub rows: Vec<EvalRow>,
}

/// One row of progress.csv (the driver adds `wall_clock_s`).
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
    /// TCL/CoCOA: mean InfoNCE loss; CoCOA: mean KL of the queries to the prior.
    pub contrastive_loss: Option<f64>,
    pub query_kl: Option<f64>,
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
            field(self.contrastive_loss),
            field(self.query_kl),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_rows_carry_the_sparse_reward_on_request_and_the_next_obs_last() {
        let ramp = |start: f64, width: i64| Tensor::arange_start(start, start + (2 * 3 * width) as f64, (Kind::Float, Device::Cpu)).view([2, 3, width]);
        let batch = Batch { obs: ramp(0.0, 2), actions: ramp(100.0, 2), rewards: ramp(200.0, 1), sparse_rewards: ramp(300.0, 1), next_obs: ramp(400.0, 2), terminals: ramp(0.0, 1) * 0.0 };
        // obs (2) | action (2) | reward (1) | next obs (2)
        let rows = |sparse, next| transition_rows(&batch, sparse, next);
        assert!(rows(true, false).narrow(-1, 4, 1).equal(&batch.sparse_rewards), "PEARL's sparse tasks infer z from the sparse reward");
        assert!(rows(false, false).narrow(-1, 4, 1).equal(&batch.rewards));
        assert!(rows(false, false).narrow(-1, 0, 4).equal(&Tensor::cat(&[&batch.obs, &batch.actions], -1)));
        assert_eq!(rows(true, false).size(), [2, 3, 5]);
        assert!(rows(true, true).narrow(-1, 5, 2).equal(&batch.next_obs));
    }

    /// A PEARL trainer, untrained, on sparse-point-robot (whose reset is the origin: with
    /// deterministic actions only z tells two trajectories apart).
    fn sparse_point_trainer(dir: &Path, num_exp_traj_eval: usize) -> Trainer {
        let config = Config {
            n_train_tasks: Some(4),
            n_eval_tasks: Some(2),
            latent_size: 2,
            net_size: 16,
            encoder_hidden: vec![16, 16],
            max_path_length: 20,
            num_exp_traj_eval,
            num_steps_per_eval: 20 * (num_exp_traj_eval + 1),
            sparse_rewards: true,
            ..Config::default()
        };
        let spec = RunSpec { algorithm: Algorithm::Pearl, env: "sparse-point-robot".into(), seed: 3, max_env_steps: None, device: "cpu".into(), config };
        Trainer::open(spec, dir, false).unwrap()
    }

    #[test]
    fn each_exploration_trajectory_of_a_meta_test_run_draws_its_own_prior_z() {
        let dir = tempfile::tempdir().unwrap();
        let mut trainer = sparse_point_trainer(dir.path(), 3);
        let mut states: Vec<Vec<f64>> = vec![Vec::new(); 4];
        trainer
            .film(0, &mut |env, step| {
                states[step.trajectory].extend_from_slice(env.observation());
                Ok(())
            })
            .unwrap();
        assert!(states.iter().all(|s| s.len() == 2 * 20), "four trajectories of 20 steps");
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            assert_ne!(states[a], states[b], "exploration trajectories {a} and {b} are copies: the same z drove both");
        }
    }

    /// One TCL gradient step's losses on a fixed buffer of random trajectories, from fixed
    /// weights and generator, with the config's `pearl_context` and `embedding_batch_size`.
    fn tcl_step_losses(pearl_context: PearlContext, embedding_batch_size: usize) -> Losses {
        let config = Config { latent_size: 2, net_size: 16, encoder_hidden: vec![16, 16], batch_size: 8, embedding_batch_size, contrastive_window: 4, pearl_context, ..Config::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut buffer = MultiTaskBuffer::new(3, 2, 2, 100);
        for task in &mut buffer.tasks {
            for _ in 0..4 {
                for _ in 0..10 {
                    let mut v = || rng.gen_range(-1.0..1.0);
                    let (obs, action, next_obs) = ([v(), v()], [v(), v()], [v(), v()]);
                    task.push(&super::super::buffer::Transition { obs: &obs, action: &action, reward: v(), sparse_reward: v(), next_obs: &next_obs, terminal: false });
                }
                task.end_trajectory();
            }
        }
        tch::manual_seed(0);
        let (Learner::Context(mut sac), mut contrastive) = build_learner(Algorithm::Tcl, &config, (2, 2, 1), 3, Device::Cpu) else { unreachable!("TCL trains PEARL's SAC") };
        context_step(&mut sac, contrastive.as_mut(), &config, (&buffer, &buffer), &[0, 1, 2], &mut rng)
    }

    #[test]
    fn tcl_gives_pearl_its_query_windows_on_request_and_its_own_context_sample_by_default() {
        let kl = |context, n| tcl_step_losses(context, n).kl_divergence;
        assert_ne!(kl(PearlContext::Sampled, 8), kl(PearlContext::Sampled, 16), "PEARL's z comes from its own context sample");
        assert_eq!(kl(PearlContext::QueryWindows, 8), kl(PearlContext::QueryWindows, 16), "PEARL's z comes from the query windows, not the context sample");
    }

    #[test]
    fn pearl_refuses_query_windows_it_does_not_crop() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = RunSpec { algorithm: Algorithm::Pearl, env: "point-robot".into(), seed: 0, max_env_steps: None, device: "cpu".into(), config: Config::default() };
        spec.config.pearl_context = PearlContext::QueryWindows;
        let error = Trainer::open(spec, dir.path(), false).err().expect("refused").to_string();
        assert!(error.contains("pearl_context"), "{error}");
    }

    #[test]
    fn oracle_sac_trains_multi_task_sac_v2_with_a_temperature_per_train_task() {
        let config = Config::shipped("oracle-sac", "push-v3", "ml1").unwrap();
        let (learner, contrastive) = build_learner(Algorithm::OracleSac, &config, (39, 4, 9), 50, Device::Cpu);
        let Learner::Oracle(sac) = &learner else { panic!("oracle SAC trains SAC v2") };
        assert!(contrastive.is_none() && learner.encoder().is_none());
        // Yu et al. 2020's MT-SAC: two hidden layers of 400; garage MTSAC: reward scale 1.
        assert_eq!((sac.settings.hidden.as_slice(), sac.settings.reward_scale, sac.settings.z_dim), (&[400, 400][..], 1.0, 9));
        let state: std::collections::HashMap<String, Tensor> = learner.state().into_iter().collect();
        assert_eq!(state["net.log_alpha"].size(), [50], "one learned log α per train task");
        assert!(state.keys().any(|k| k.starts_with("net.target_qf2.")), "twin target Q networks");
        assert!(!state.keys().any(|k| k.starts_with("net.vf.") || k.starts_with("net.target_vf.")), "no state-value network");
    }
}
