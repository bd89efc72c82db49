//! Whole episodes from the batched sampler for the on-policy learners: every listed env runs its
//! episodes back to back, all running envs share one policy forward per step, and the envs step
//! on the sampler's threads. For RL² each env's episodes form one trial: the policy input adds the
//! previous action, reward and terminal flag to the observation — as garage's `RL2Env` builds it
//! (garage 2d594803, `src/garage/tf/algos/rl2.py:51-88`, `RL2Env.reset`/`step`: zeros at every episode start, the flag 1 only
//! on a terminal step, never on a time limit), or carried across the episode boundaries with the
//! flag set at each episode's end (Duan et al. 2016 §2.2's reading).

use anyhow::Result;
use tch::Tensor;

use crate::protocol::sampler::VecEnvs;

/// What the policy sees at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    /// The observation.
    Observation,
    /// RL²: observation, previous action, previous reward, and 1 if the previous step was
    /// terminal; zeros for the three at a trial's first step. `carry_across_episodes`: an
    /// episode's first input carries the previous episode's last action and reward with the flag
    /// 1 (the episode ended, by termination or time limit) instead of garage's zeros.
    Rl2 { carry_across_episodes: bool },
}

impl Inputs {
    pub fn width(self, obs_dim: usize, action_dim: usize) -> usize {
        match self {
            Inputs::Observation => obs_dim,
            Inputs::Rl2 { .. } => obs_dim + action_dim + 2,
        }
    }
}

/// One finished episode.
#[derive(Debug, Clone, Default)]
pub struct Episode {
    /// Policy inputs, row-major `[len, width]`.
    pub inputs: Vec<f32>,
    /// The policy's actions (before the env's clipping), row-major `[len, action_dim]`.
    pub actions: Vec<f32>,
    pub rewards: Vec<f64>,
    /// Success at any step, where the env defines it.
    pub success: Option<bool>,
}

impl Episode {
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    pub fn total_reward(&self) -> f64 {
        self.rewards.iter().sum()
    }
}

/// Per env: the episode being recorded and what the next RL² input carries over.
struct Running {
    episode: Episode,
    done: Vec<Episode>,
    left: usize,
    previous_action: Vec<f64>,
    previous_reward: f64,
    previous_done: f64,
}

/// Reset the envs of `slots` and run `episodes` episodes in each. `policy(running slots, inputs
/// [n, width])` returns the actions `[n, action_dim]` (float). Returns each slot's episodes.
pub fn collect(envs: &mut VecEnvs, slots: &[usize], episodes: usize, inputs: Inputs, mut policy: impl FnMut(&[usize], &Tensor) -> Tensor) -> Result<Vec<Vec<Episode>>> {
    let action_dim = envs.action_dim();
    let width = inputs.width(envs.obs_dim(), action_dim) as i64;
    let mut running: Vec<Running> = slots
        .iter()
        .map(|_| Running { episode: Episode::default(), done: Vec::new(), left: episodes, previous_action: vec![0.0; action_dim], previous_reward: 0.0, previous_done: 0.0 })
        .collect();
    for &slot in slots {
        envs.env_mut(slot).reset()?;
    }
    // Position k of `active` is env slots[active[k]].
    let mut active: Vec<usize> = if episodes > 0 { (0..slots.len()).collect() } else { Vec::new() };
    let (mut rows, mut steps) = (Vec::new(), Vec::new());
    while !active.is_empty() {
        let stepped: Vec<usize> = active.iter().map(|&k| slots[k]).collect();
        envs.observations(&stepped, &mut rows);
        if let Inputs::Rl2 { .. } = inputs {
            let obs_dim = envs.obs_dim();
            let obs = std::mem::take(&mut rows);
            for (k, o) in active.iter().zip(obs.chunks(obs_dim)) {
                let r = &running[*k];
                rows.extend_from_slice(o);
                rows.extend(r.previous_action.iter().map(|&a| a as f32));
                rows.extend([r.previous_reward as f32, r.previous_done as f32]);
            }
        }
        let batch = Tensor::from_slice(&rows).view([active.len() as i64, width]);
        let actions = Vec::<f32>::try_from(policy(&stepped, &batch).to_device(tch::Device::Cpu).reshape([-1]))?;
        let actions_f64: Vec<f64> = actions.iter().map(|&a| f64::from(a)).collect();
        envs.step(&stepped, &actions_f64, &mut steps)?;
        let mut still = Vec::with_capacity(active.len());
        for (i, (&k, step)) in active.iter().zip(&steps).enumerate() {
            let r = &mut running[k];
            let action = &actions[i * action_dim..(i + 1) * action_dim];
            r.episode.inputs.extend_from_slice(&rows[i * width as usize..(i + 1) * width as usize]);
            r.episode.actions.extend_from_slice(action);
            r.episode.rewards.push(step.reward);
            r.episode.success = step.success.map(|s| s || r.episode.success.unwrap_or(false));
            r.previous_action = action.iter().map(|&a| f64::from(a)).collect();
            r.previous_reward = step.reward;
            r.previous_done = match inputs {
                Inputs::Rl2 { carry_across_episodes: true } => f64::from(u8::from(step.done())),
                _ => f64::from(u8::from(step.terminated)),
            };
            if step.done() {
                if inputs == (Inputs::Rl2 { carry_across_episodes: false }) {
                    r.previous_action.iter_mut().for_each(|a| *a = 0.0);
                    (r.previous_reward, r.previous_done) = (0.0, 0.0);
                }
                r.done.push(std::mem::take(&mut r.episode));
                r.left -= 1;
                if r.left == 0 {
                    continue;
                }
                envs.env_mut(slots[k]).reset()?;
            }
            still.push(k);
        }
        active = still;
    }
    Ok(running.into_iter().map(|r| r.done).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envs::{registry, EnvOptions};

    fn points(n: usize) -> VecEnvs {
        let entry = registry::lookup("point-robot").unwrap();
        let options = EnvOptions { horizon: Some(3), ..EnvOptions::default() };
        let tasks = entry.tasks(&options, 0).unwrap();
        let mut i = 0;
        VecEnvs::new(n, 1, || {
            let mut env = entry.make(&options)?;
            env.set_task(&tasks.train[i])?;
            i += 1;
            Ok(env)
        })
        .unwrap()
    }

    /// Two trials of two 3-step episodes (horizon 3: each ends on the time limit) with actions
    /// 0.01, 0.02, … per forward; returns the first trial.
    fn rl2_trial(carry_across_episodes: bool) -> Vec<Episode> {
        let mut envs = points(2);
        let mut calls = 0;
        let mut trials = collect(&mut envs, &[1, 0], 2, Inputs::Rl2 { carry_across_episodes }, |slots, inputs| {
            assert_eq!(inputs.size(), [slots.len() as i64, 2 + 2 + 2]);
            calls += 1;
            Tensor::full([slots.len() as i64, 2], 0.01 * calls as f64, (tch::Kind::Float, tch::Device::Cpu))
        })
        .unwrap();
        assert_eq!(calls, 6, "two episodes of three steps, both envs in one forward");
        let trial = trials.swap_remove(0);
        assert_eq!((trial.len(), trial[0].len(), trial[1].len()), (2, 3, 3));
        assert!(trial.iter().all(|e| e.actions.len() == 6));
        trial
    }

    fn input_row(e: &Episode, t: usize) -> Vec<f32> {
        e.inputs[t * 6..(t + 1) * 6].to_vec()
    }

    #[test]
    fn rl2_inputs_restart_from_zeros_each_episode_as_garage_rl2env() {
        let trial = rl2_trial(false);
        assert_eq!(input_row(&trial[0], 0)[2..], [0.0, 0.0, 0.0, 0.0], "a trial starts from zeros");
        // Step 1 sees step 0's action (0.01), reward and flag 0.
        let step1 = input_row(&trial[0], 1);
        assert_eq!((step1[2], step1[4] as f64, step1[5]), (0.01, trial[0].rewards[0] as f32 as f64, 0.0));
        // The second episode starts from zeros again: the time limit is not a terminal step.
        assert_eq!(input_row(&trial[1], 0)[2..], [0.0, 0.0, 0.0, 0.0], "garage's RL2Env.reset gives zeros");
        assert!((0..3).all(|t| input_row(&trial[1], t)[5] == 0.0), "no terminal step: the flag stays 0");
    }

    #[test]
    fn rl2_inputs_carried_across_episodes_on_request() {
        let trial = rl2_trial(true);
        assert_eq!(input_row(&trial[0], 0)[2..], [0.0, 0.0, 0.0, 0.0], "a trial starts from zeros");
        // The second episode's first input: the first episode's last action (0.03), reward, and 1.
        let next = input_row(&trial[1], 0);
        assert_eq!((next[2], next[4] as f64, next[5]), (0.03, trial[0].rewards[2] as f32 as f64, 1.0));
    }
}
