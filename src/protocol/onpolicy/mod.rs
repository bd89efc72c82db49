//! The on-policy meta-training loop (MAML-TRPO, RL²-PPO): per iteration, `meta_batch` train tasks
//! are sampled and the algorithm collects its episodes on them through the batched sampler and
//! updates; then the meta-test runs on every test task — `num_exp_traj_eval` exploration episodes
//! (MAML adapts on them; RL² runs them first in its trial) and `num_eval_episodes` more, whose mean
//! return is `test_return`. The run folder is the PEARL trainer's ([`RunDir`]).

pub mod collect;
pub mod maml;
pub mod rl2;

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use self::collect::{collect, Episode, Inputs};
use super::config::OnPolicyRun;
use super::driver::{Counters, IterationRows, TrainingRun};
use super::meta_train::{EvalSummary, RunSpec};
use super::run_dir::{fault_iteration, iteration_seed, maybe_killed, parse_device, RunDir, RunIdentity};
use super::sampler::VecEnvs;
use crate::envs::wrappers::NormalizedActions;
use crate::envs::{registry, Env, EnvOptions, Task};
use crate::results::{field, mean, success_field, success_share};

/// What the loop needs from an algorithm.
pub trait OnPolicyAlgorithm: Sized {
    type Config: Serialize + DeserializeOwned + PartialEq + Clone + Default;
    /// Names of the per-iteration numbers [`Self::train`] returns, for progress.csv.
    const COLUMNS: &'static [&'static str];

    fn run_config(config: &Self::Config) -> &OnPolicyRun;
    fn run_config_mut(config: &mut Self::Config) -> &mut OnPolicyRun;
    /// A fresh learner (networks from torch's seeded generator).
    fn new(config: &Self::Config, obs_dim: usize, action_dim: usize, device: Device) -> Self;
    /// One meta-training iteration on the sampled tasks, env `slots[k]` set to task k.
    fn train(&mut self, sampler: &mut Sampler, slots: &[usize]) -> Result<TrainStats>;
    /// The meta-test on the envs of `slots` (set to the test tasks): per task, the exploration
    /// episodes and the evaluated ones.
    fn meta_test(&mut self, sampler: &mut Sampler, slots: &[usize]) -> Result<Vec<(Vec<Episode>, Vec<Episode>)>>;
    fn state(&self) -> Vec<(String, Tensor)>;
    fn load_state(&mut self, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String>;
}

/// The envs, the run's generator and where tensors live: what an algorithm samples with. It
/// keeps count of the steps it collected and the time that took.
pub struct Sampler {
    pub envs: VecEnvs,
    pub rng: ChaCha8Rng,
    pub device: Device,
    pub sampled_steps: u64,
    pub sampling_s: f64,
}

impl Sampler {
    /// [`collect`]: `episodes` episodes in every env of `slots`, `policy(running slots, inputs,
    /// generator)` acting for all running envs at once.
    pub fn episodes(
        &mut self,
        slots: &[usize],
        episodes: usize,
        inputs: Inputs,
        mut policy: impl FnMut(&[usize], &Tensor, &mut ChaCha8Rng) -> Tensor,
    ) -> Result<Vec<Vec<Episode>>> {
        let start = Instant::now();
        let Sampler { envs, rng, .. } = self;
        let episodes = collect(envs, slots, episodes, inputs, |running, x| policy(running, x, rng))?;
        self.sampling_s += start.elapsed().as_secs_f64();
        self.sampled_steps += episodes.iter().flatten().map(|e| e.len() as u64).sum::<u64>();
        Ok(episodes)
    }

    /// `[n, d]` standard normal draws from `rng`, where the sampler's tensors live.
    pub fn noise(rng: &mut ChaCha8Rng, n: i64, d: i64, device: Device) -> Tensor {
        crate::algos::sac::standard_normal(rng, n, d, device)
    }
}

/// What a training iteration reports.
pub struct TrainStats {
    /// Env steps collected.
    pub env_steps: u64,
    /// Mean return of the training episodes (MAML: after adaptation; RL²: over whole trials).
    pub train_return: f64,
    /// The values of the algorithm's `COLUMNS`.
    pub numbers: Vec<f64>,
}

/// Counters a checkpoint restores besides the tensors.
#[derive(Serialize, Deserialize)]
struct Progress {
    iteration: usize,
    env_steps: u64,
    rng: ChaCha8Rng,
    elapsed_s: f64,
}

const COMMON_COLUMNS: &[&str] = &["iteration", "env_steps", "train_return", "test_return", "test_success", "test_explore_return"];
const EVAL_COLUMNS: &[&str] = &["iteration", "task", "episode", "adapted", "return", "success"];

/// What a run trains with, before any run folder: the learner, the sampler and the task lists.
pub struct Setup<A> {
    pub algorithm: A,
    pub sampler: Sampler,
    pub train_tasks: Vec<Task>,
    pub test_tasks: Vec<Task>,
}

/// The learner (from torch's generator seeded with the run seed), the envs (one per task of a
/// meta-batch or of the test set, whichever is more) and the tasks of `spec`.
pub fn setup<A: OnPolicyAlgorithm>(spec: &RunSpec<A::Config>) -> Result<Setup<A>> {
    let run = A::run_config(&spec.config).clone();
    if run.meta_batch == 0 || run.episodes_per_task == 0 || run.num_eval_episodes == 0 {
        bail!("meta_batch, episodes_per_task and num_eval_episodes must be at least 1");
    }
    tch::set_num_threads(run.threads);
    tch::manual_seed(spec.seed as i64);
    let device = parse_device(&spec.device)?;
    let entry = registry::lookup(&spec.env)?;
    let options = EnvOptions { horizon: Some(run.max_path_length), ..EnvOptions::default() };
    let mut family = entry.tasks(&options, run.task_seed)?;
    if let Some(n) = run.n_train_tasks {
        family.train.truncate(n);
    }
    if let Some(n) = run.n_eval_tasks {
        family.test.truncate(n);
    }
    let slots = run.meta_batch.max(family.test.len());
    let envs = VecEnvs::new(slots, run.sampler_threads, || Ok(Box::new(NormalizedActions::new(entry.make(&options)?)) as Box<dyn Env>))?;
    let algorithm = A::new(&spec.config, envs.obs_dim(), envs.action_dim(), device);
    let sampler = Sampler { envs, rng: ChaCha8Rng::seed_from_u64(spec.seed), device, sampled_steps: 0, sampling_s: 0.0 };
    Ok(Setup { algorithm, sampler, train_tasks: family.train, test_tasks: family.test })
}

impl<A: OnPolicyAlgorithm> Setup<A> {
    /// `meta_batch` train tasks: without replacement while there are enough, else with.
    pub fn sample_tasks(&mut self, meta_batch: usize) -> Vec<Task> {
        let n = self.train_tasks.len();
        let rng = &mut self.sampler.rng;
        let indices: Vec<usize> = if meta_batch <= n { sample(rng, n, meta_batch).into_vec() } else { (0..meta_batch).map(|_| rng.gen_range(0..n)).collect() };
        indices.into_iter().map(|i| self.train_tasks[i].clone()).collect()
    }
}

/// Point env `k` at `tasks[k]`, seeded from `seed`; the slots `0..tasks.len()`.
pub fn set_tasks(sampler: &mut Sampler, tasks: &[Task], seed: u32) -> Result<Vec<usize>> {
    for (slot, task) in tasks.iter().enumerate() {
        let env = sampler.envs.env_mut(slot);
        env.set_task(task)?;
        env.seed(seed.wrapping_add(slot as u32));
    }
    Ok((0..tasks.len()).collect())
}

pub struct OnPolicyTrainer<A: OnPolicyAlgorithm> {
    spec: RunSpec<A::Config>,
    setup: Setup<A>,
    progress: Progress,
    dir: RunDir,
    columns: Vec<&'static str>,
}

/// One row of the meta-test: (task index, episode, after exploration, return, success).
type EvalRow = (usize, usize, bool, f64, Option<bool>);

impl<A: OnPolicyAlgorithm> OnPolicyTrainer<A> {
    /// A new run in `dir`, or (with `resume`) the run there continued from its checkpoint.
    pub fn open(spec: RunSpec<A::Config>, dir: &Path, resume: bool) -> Result<Self> {
        let setup = setup::<A>(&spec)?;
        let dir = RunDir::prepare(dir, &spec, resume)?;
        let mut trainer = OnPolicyTrainer {
            columns: COMMON_COLUMNS.iter().chain(A::COLUMNS).chain(&["wall_clock_s"]).copied().collect(),
            progress: Progress { iteration: 0, env_steps: 0, rng: setup.sampler.rng.clone(), elapsed_s: 0.0 },
            setup,
            dir,
            spec,
        };
        if resume {
            let (progress, tensors): (Progress, _) = trainer.dir.load_checkpoint()?;
            trainer.setup.algorithm.load_state(&tensors).map_err(|name| anyhow::anyhow!("checkpoint lacks {name}"))?;
            trainer.setup.sampler.rng = progress.rng.clone();
            trainer.progress = progress;
        }
        Ok(trainer)
    }

    fn run_config(&self) -> &OnPolicyRun {
        A::run_config(&self.spec.config)
    }

    /// The meta-test on every test task: (test return, success share, exploration return if
    /// there were exploration episodes, rows).
    fn evaluate(&mut self, seed: u32) -> Result<(f64, Option<f64>, Option<f64>, Vec<EvalRow>)> {
        let tasks = self.setup.test_tasks.clone();
        let slots = set_tasks(&mut self.setup.sampler, &tasks, seed)?;
        let results = self.setup.algorithm.meta_test(&mut self.setup.sampler, &slots)?;
        let mut rows = Vec::new();
        for (task, (explore, evaluated)) in tasks.iter().zip(&results) {
            let phases = explore.iter().map(|e| (false, e)).chain(evaluated.iter().map(|e| (true, e)));
            rows.extend(phases.enumerate().map(|(i, (adapted, e))| (task.index, i, adapted, e.total_reward(), e.success)));
        }
        let test_return = mean(rows.iter().filter(|r| r.2).map(|r| r.3));
        let explore_return = rows.iter().any(|r| !r.2).then(|| mean(rows.iter().filter(|r| !r.2).map(|r| r.3)));
        Ok((test_return, success_share(rows.iter().filter(|r| r.2).map(|r| r.4)), explore_return, rows))
    }

    /// Re-run the meta-test of the checkpoint (`metarl eval`).
    pub fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        let seed = iteration_seed(self.spec.seed, self.progress.iteration) ^ 0x5EED;
        let (test_return, test_success, _, rows) = self.evaluate(seed)?;
        let rows = rows.into_iter().filter(|r| r.2).map(|(task, episode, _, ret, success)| (task, episode, ret, success)).collect();
        Ok(EvalSummary { iteration: self.progress.iteration, test_return, test_success, rows })
    }

}

impl<A: OnPolicyAlgorithm> TrainingRun for OnPolicyTrainer<A> {
    fn label(&self) -> String {
        self.spec.describe()
    }

    fn run_dir(&self) -> &RunDir {
        &self.dir
    }

    fn progress_columns(&self) -> Vec<&'static str> {
        self.columns.clone()
    }

    fn eval_columns(&self) -> &'static [&'static str] {
        EVAL_COLUMNS
    }

    fn num_iterations(&self) -> usize {
        self.run_config().num_iterations
    }

    fn planned_iterations(&self) -> usize {
        // MAML samples before and after adaptation.
        let factor = if self.spec.algorithm == crate::protocol::config::Algorithm::MamlTrpo { 2 } else { 1 };
        crate::campaign::on_policy_cost(self.run_config(), factor, self.setup.test_tasks.len(), self.spec.max_env_steps).iterations as usize
    }

    fn counters(&self) -> Counters {
        let p = &self.progress;
        Counters { finished: (p.env_steps > 0).then_some(p.iteration), env_steps: p.env_steps, max_env_steps: self.spec.max_env_steps, elapsed_s: p.elapsed_s }
    }

    fn iterate(&mut self, iteration: usize) -> Result<IterationRows> {
        let tasks = self.setup.sample_tasks(self.run_config().meta_batch);
        let slots = set_tasks(&mut self.setup.sampler, &tasks, iteration_seed(self.spec.seed, iteration))?;
        let TrainStats { env_steps, train_return, mut numbers } = self.setup.algorithm.train(&mut self.setup.sampler, &slots)?;
        if fault_iteration("METARL_FAULT_NAN_ITERATION") == Some(iteration) {
            numbers[0] = f64::NAN;
        }
        if let Some((name, value)) = A::COLUMNS.iter().zip(&numbers).find(|(_, v)| !v.is_finite()) {
            return Err(self.dir.non_finite(name, *value, iteration, "", self.progress.iteration));
        }
        maybe_killed(iteration);
        self.progress.env_steps += env_steps;
        let (test_return, test_success, explore_return, rows) = self.evaluate(iteration_seed(self.spec.seed, iteration) ^ 0x5EED)?;
        let mut progress = vec![iteration.to_string(), self.progress.env_steps.to_string(), field(Some(train_return)), field(Some(test_return)), field(test_success), field(explore_return)];
        progress.extend(numbers.iter().map(|&v| field(Some(v))));
        let eval = rows
            .into_iter()
            .map(|(task, episode, adapted, ret, success)| {
                vec![iteration.to_string(), task.to_string(), episode.to_string(), (adapted as u8).to_string(), field(Some(ret)), success_field(success)]
            })
            .collect();
        Ok(IterationRows { progress, eval })
    }

    fn checkpoint(&mut self, iteration: usize, wall_clock_s: f64) -> Result<()> {
        self.progress.iteration = iteration;
        self.progress.elapsed_s = wall_clock_s;
        self.progress.rng = self.setup.sampler.rng.clone();
        self.dir.save_checkpoint(&self.setup.algorithm.state(), &self.progress)
    }

    fn evaluate_checkpoint(&mut self) -> Result<EvalSummary> {
        OnPolicyTrainer::evaluate_checkpoint(self)
    }
}
