//! `metarl offline collect` (papers/002 App. D; FOCAL-ICLR `policy_train.py` →
//! `rlkit/torch/sac/pytorch_sac/train.py` `Workspace.run`): per task, a behaviour policy trained
//! from scratch by pytorch_sac's SAC (the SAC-v2 core, [`FocalConfig::behaviour_settings`]):
//! `behaviour_initial_steps` random actions, then one update per env step before the step;
//! a checkpoint at the episode ends that reach a multiple of `checkpoint_every` past the random
//! steps (none at or before them, none at the last step), each rolled out for `n_trj`
//! trajectories with sampled actions. The rollouts of all checkpoints form the task's file and
//! the levels pick checkpoints from it.

use std::path::Path;

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use super::dataset::{task_stem, CheckpointRecord, Dataset, Manifest, TaskData, TaskManifest, TaskEntry, ARRAYS, FORMAT};
use super::FocalConfig;
use crate::algos::sac_v2::SacV2;
use crate::envs::wrappers::NormalizedActions;
use crate::envs::{registry, Env, EnvOptions, Task};
use crate::protocol::buffer::{MultiTaskBuffer, Transition};

/// What one task's collection produced (or found already there).
pub struct TaskSummary {
    pub index: usize,
    pub split: String,
    /// Skipped: the task was complete from an earlier run.
    pub skipped: bool,
    pub level_returns: std::collections::BTreeMap<String, f64>,
}

/// The env's train and test tasks a config selects.
pub fn selected_tasks(env: &str, config: &FocalConfig) -> Result<(Vec<Task>, Vec<Task>)> {
    let mut family = registry::lookup(env)?.tasks(&env_options(config), config.task_seed)?;
    family.train.truncate(config.n_train_tasks.unwrap_or(usize::MAX));
    family.test.truncate(config.n_eval_tasks.unwrap_or(usize::MAX));
    Ok((family.train, family.test))
}

pub fn env_options(config: &FocalConfig) -> EnvOptions {
    EnvOptions { horizon: Some(config.max_path_length), sparse_reward: config.sparse_reward, ..EnvOptions::default() }
}

/// The env the agent acts in: actions in [-1, 1].
pub fn make_env(env: &str, config: &FocalConfig) -> Result<Box<dyn Env>> {
    Ok(Box::new(NormalizedActions::new(registry::lookup(env)?.make(&env_options(config))?)))
}

/// Collect a dataset of `env` into `out`, task by task; complete tasks are skipped.
pub fn collect(env: &str, config: &FocalConfig, out: &Path, seed: u64, mut on_task: impl FnMut(&TaskSummary)) -> Result<Vec<TaskSummary>> {
    tch::set_num_threads(config.threads);
    crate::protocol::config::checks::focal(config)?;
    let (train, test) = selected_tasks(env, config)?;
    let probe = make_env(env, config)?;
    let (obs_dim, action_dim) = (probe.observation_dim(), probe.action_space().dim());
    let splits: Vec<(&Task, &str)> = train.iter().map(|t| (t, "train")).chain(test.iter().map(|t| (t, "test"))).collect();
    let manifest = Manifest {
        format: FORMAT.into(),
        env: env.into(),
        task_seed: config.task_seed,
        max_path_length: config.max_path_length,
        obs_dim,
        action_dim,
        arrays: ARRAYS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        tasks: splits.iter().map(|(t, split)| TaskEntry { index: t.index, split: split.to_string(), file: format!("{}.npz", task_stem(t.index)) }).collect(),
        collection: collection_settings(config, seed),
    };
    let dataset = Dataset::create(out, manifest)?;
    let mut summaries = Vec::new();
    for (task, split) in splits {
        let summary = if dataset.has_task(task.index) {
            let text = std::fs::read(dataset.dir.join(format!("{}.json", task_stem(task.index))))?;
            let manifest: TaskManifest = serde_json::from_slice(&text)?;
            TaskSummary { index: task.index, split: split.into(), skipped: true, level_returns: manifest.level_returns }
        } else {
            let (data, manifest) = collect_task(env, config, &dataset, task, split, seed)?;
            dataset.write_task(task.index, &data, &manifest)?;
            TaskSummary { index: task.index, split: split.into(), skipped: false, level_returns: manifest.level_returns }
        };
        on_task(&summary);
        summaries.push(summary);
    }
    Ok(summaries)
}

/// What decides the data: a rerun with other values is another dataset. The behaviour SAC's
/// settings are recorded whole.
fn collection_settings(c: &FocalConfig, seed: u64) -> serde_json::Value {
    serde_json::json!({
        "seed": seed, "n_train_tasks": c.n_train_tasks, "n_eval_tasks": c.n_eval_tasks, "behaviour_env_steps": c.behaviour_env_steps,
        "behaviour_initial_steps": c.behaviour_initial_steps, "checkpoint_every": c.checkpoint_every, "n_trj": c.n_trj,
        "behaviour_sac": {
            "code": "pytorch_sac (FOCAL-ICLR rlkit/torch/sac/pytorch_sac)", "hidden": c.behaviour_hidden, "lr": c.behaviour_lr,
            "batch_size": c.behaviour_batch_size, "discount": c.behaviour_discount, "tau": c.behaviour_tau,
            "initial_temperature": c.behaviour_initial_temperature, "target_update_every": c.behaviour_target_update_every,
            "target_entropy": "-|A|", "log_std_bounds": [-5.0, 2.0], "reward_scale": 1.0,
        },
    })
}

fn collect_task(env_name: &str, config: &FocalConfig, dataset: &Dataset, task: &Task, split: &str, seed: u64) -> Result<(TaskData, TaskManifest)> {
    let task_seed = seed.wrapping_mul(1_000_003).wrapping_add(task.index as u64);
    tch::manual_seed(task_seed as i64);
    let mut rng = ChaCha8Rng::seed_from_u64(task_seed);
    let (mut env, mut rollout_env) = (make_env(env_name, config)?, make_env(env_name, config)?);
    for (k, e) in [&mut env, &mut rollout_env].into_iter().enumerate() {
        e.set_task(task)?;
        e.seed(task_seed as u32 ^ (k as u32 + 1).wrapping_mul(0x9E37_79B9));
    }
    let (obs_dim, action_dim) = (env.observation_dim(), env.action_space().dim());
    let mut sac = SacV2::new(config.behaviour_settings(obs_dim, action_dim), Device::Cpu);
    let mut buffer = MultiTaskBuffer::new(1, obs_dim, action_dim, config.behaviour_env_steps);
    let no_z = Tensor::zeros([1, 0], (Kind::Float, Device::Cpu));
    let policy_dir = dataset.dir.join("behaviour").join(task_stem(task.index));
    std::fs::create_dir_all(&policy_dir)?;
    let mut data = TaskData::default();
    let mut checkpoints = Vec::new();
    let mut checkpoint = |sac: &SacV2, steps: usize, data: &mut TaskData, rng: &mut ChaCha8Rng| -> Result<()> {
        let file = policy_dir.join(format!("step_{steps}.safetensors"));
        let policy: Vec<(String, Tensor)> = sac.state().into_iter().filter(|(n, _)| n.starts_with("net.policy.")).collect();
        Tensor::write_safetensors(&policy, &file)?;
        let mean_return = rollouts(sac, rollout_env.as_mut(), config.n_trj, steps, data, rng)?;
        let policy = file.strip_prefix(&dataset.dir).unwrap_or(&file).display().to_string();
        checkpoints.push(CheckpointRecord { env_steps: steps as u64, policy, mean_return, trajectories: config.n_trj });
        Ok(())
    };
    let every = config.checkpoint_every;
    let (mut steps, mut next_checkpoint) = (0, (config.behaviour_initial_steps / every + 1) * every);
    while steps < config.behaviour_env_steps {
        let mut obs = env.reset()?.to_vec();
        loop {
            let action: Vec<f64> = if steps < config.behaviour_initial_steps {
                (0..action_dim).map(|_| rng.gen_range(-1.0..1.0)).collect()
            } else {
                sac.act(&Tensor::from_slice(&obs.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([1, -1]), &no_z, false, &mut rng)
            };
            if steps >= config.behaviour_initial_steps {
                let batch = buffer.sample_stacked(&[0], config.behaviour_batch_size, &mut rng);
                let losses = sac.train_step(&batch, &no_z, &[0], &mut rng);
                if let Some((name, value)) = losses.first_non_finite() {
                    bail!("behaviour policy of task {}: {name} became {value} at env step {steps}", task.index);
                }
            }
            let step = env.step(&action)?;
            let next_obs = env.observation().to_vec();
            let sparse_reward = step.sparse_reward.unwrap_or(step.reward);
            buffer.tasks[0].push(&Transition { obs: &obs, action: &action, reward: step.reward, sparse_reward, next_obs: &next_obs, terminal: step.terminated });
            steps += 1;
            obs = next_obs;
            if step.done() || steps == config.behaviour_env_steps {
                break;
            }
        }
        buffer.tasks[0].end_trajectory();
        if steps >= next_checkpoint && steps < config.behaviour_env_steps {
            checkpoint(&sac, steps, &mut data, &mut rng)?;
            next_checkpoint = (steps / every + 1) * every;
        }
    }
    let mut manifest = TaskManifest {
        env: env_name.into(),
        task: serde_json::to_value(task)?,
        split: split.into(),
        transitions: data.len(),
        checkpoints,
        levels: Default::default(),
        level_returns: Default::default(),
    };
    manifest.assign_levels();
    Ok((data, manifest))
}

/// `n` trajectories of the policy (sampled actions) appended to `data` under `checkpoint`;
/// their mean return.
fn rollouts(sac: &SacV2, env: &mut dyn Env, n: usize, checkpoint: usize, data: &mut TaskData, rng: &mut ChaCha8Rng) -> Result<f64> {
    let no_z = Tensor::zeros([1, 0], (Kind::Float, Device::Cpu));
    let mut total = 0.0;
    for _ in 0..n {
        let trajectory = data.trajectory.last().map_or(0.0, |&t| t + 1.0);
        let mut obs: Vec<f32> = env.reset()?.iter().map(|&v| v as f32).collect();
        loop {
            let action = sac.act(&Tensor::from_slice(&obs).view([1, -1]), &no_z, false, rng);
            let step = env.step(&action)?;
            let next_obs: Vec<f32> = env.observation().iter().map(|&v| v as f32).collect();
            data.obs.extend(&obs);
            data.actions.extend(action.iter().map(|&v| v as f32));
            data.rewards.push(step.reward as f32);
            data.sparse_rewards.push(step.sparse_reward.unwrap_or(step.reward) as f32);
            data.next_obs.extend(&next_obs);
            data.terminals.push(f32::from(u8::from(step.terminated)));
            data.checkpoint.push(checkpoint as f32);
            data.trajectory.push(trajectory);
            total += step.reward;
            obs = next_obs;
            if step.done() {
                break;
            }
        }
    }
    Ok(total / n as f64)
}
