//! Whole episodes from the batched sampler for the on-policy learners: every listed env runs its
//! episodes back to back, all running envs share one policy forward per step, and the envs step
//! on the sampler's threads. For RL² each env's episodes form one trial: the policy input carries
//! the previous action, reward and done flag across the episode boundaries (Duan et al. 2016, §2.2).

use anyhow::Result;
use tch::Tensor;

use crate::protocol::sampler::VecEnvs;

/// What the policy sees at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    /// The observation.
    Observation,
    /// RL²: observation, previous action, previous reward, and 1 if the previous step ended an
    /// episode; zeros for the three at a trial's first step (garage `RL2Env`).
    Rl2,
}

impl Inputs {
    pub fn width(self, obs_dim: usize, action_dim: usize) -> usize {
        match self {
            Inputs::Observation => obs_dim,
            Inputs::Rl2 => obs_dim + action_dim + 2,
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
        if inputs == Inputs::Rl2 {
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
            r.previous_done = if step.done() { 1.0 } else { 0.0 };
            if step.done() {
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

    #[test]
    fn rl2_inputs_carry_action_reward_and_done_across_the_episodes_of_a_trial() {
        let mut envs = points(2);
        let mut calls = 0;
        let trials = collect(&mut envs, &[1, 0], 2, Inputs::Rl2, |slots, inputs| {
            assert_eq!(inputs.size(), [slots.len() as i64, 2 + 2 + 2]);
            calls += 1;
            Tensor::full([slots.len() as i64, 2], 0.01 * calls as f64, (tch::Kind::Float, tch::Device::Cpu))
        })
        .unwrap();
        assert_eq!(calls, 6, "two episodes of three steps, both envs in one forward");
        let trial = &trials[0];
        assert_eq!((trial.len(), trial[0].len(), trial[1].len()), (2, 3, 3));
        let row = |e: &Episode, t: usize| e.inputs[t * 6..(t + 1) * 6].to_vec();
        assert_eq!(row(&trial[0], 0)[2..], [0.0, 0.0, 0.0, 0.0], "a trial starts from zeros");
        // Step 1 sees step 0's action (0.01), reward and done = 0.
        let step1 = row(&trial[0], 1);
        assert_eq!((step1[2], step1[4] as f64, step1[5]), (0.01, trial[0].rewards[0] as f32 as f64, 0.0));
        // The second episode's first input: its reset observation with the first episode's last
        // action (0.03), reward, and done = 1.
        let next = row(&trial[1], 0);
        assert_eq!((next[2], next[4] as f64, next[5]), (0.03, trial[0].rewards[2] as f32 as f64, 1.0));
        assert!(trial.iter().all(|e| e.actions.len() == 6));
    }
}
