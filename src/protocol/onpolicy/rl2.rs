//! RL²-PPO's sampling schedule (garage `RL2`, `RL2Worker`): one trial of `episodes_per_task`
//! episodes per sampled task with the hidden state kept across them, each trial one path for the
//! baseline and GAE (the return of a trial runs across its episodes), then PPO on the trials.
//! Meta-test: a trial of `num_exp_traj_eval + num_eval_episodes` episodes per test task; the later
//! episodes are reported.

use std::collections::HashMap;

use anyhow::Result;
use tch::{Device, Tensor};

use super::collect::{Episode, Inputs};
use super::{OnPolicyAlgorithm, Sampler, TrainStats};
use crate::results::mean;
use crate::algos::onpolicy::{fit_and_advantages, standardize_episodes, LinearFeatureBaseline, PathObs};
use crate::algos::rl2_ppo::{Rl2Ppo, Rl2Settings, TrialBatch};
use crate::protocol::config::{OnPolicyRun, Rl2Config};

pub struct Rl2Runner {
    config: Rl2Config,
    ppo: Rl2Ppo,
    width: usize,
    action_dim: usize,
}

/// One trial as a single path: its episodes' steps in order.
struct Trial {
    inputs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f64>,
}

impl Trial {
    fn join(episodes: &[Episode]) -> Trial {
        Trial {
            inputs: episodes.iter().flat_map(|e| e.inputs.iter().copied()).collect(),
            actions: episodes.iter().flat_map(|e| e.actions.iter().copied()).collect(),
            rewards: episodes.iter().flat_map(|e| e.rewards.iter().copied()).collect(),
        }
    }
}

impl Rl2Runner {
    /// A trial of `episodes` episodes in every slot: the GRU's state starts at zero and is
    /// carried from step to step, across episode boundaries.
    fn trials(&self, sampler: &mut Sampler, slots: &[usize], episodes: usize) -> Result<Vec<Vec<Episode>>> {
        let position: HashMap<usize, i64> = slots.iter().enumerate().map(|(k, &s)| (s, k as i64)).collect();
        let policy = &self.ppo.policy;
        let mut state = policy.initial_state(slots.len() as i64);
        let (action_dim, device) = (self.action_dim as i64, sampler.device);
        sampler.episodes(slots, episodes, Inputs::Rl2 { carry_across_episodes: self.config.carry_inputs_across_episodes }, |running, inputs, rng| {
            tch::no_grad(|| {
                let rows = Tensor::from_slice(&running.iter().map(|s| position[s]).collect::<Vec<_>>()).to_device(device);
                let (dist, next) = policy.step(&inputs.to_device(device), &state.index_select(1, &rows));
                state = state.index_copy(1, &rows, &next);
                dist.sample(&Sampler::noise(rng, running.len() as i64, action_dim, device))
            })
        })
    }

    /// Trials padded into one batch with their advantages: the linear baseline fitted on the
    /// trials' inputs, GAE over each whole trial, rewards raised by the entropy bonus (garage's
    /// `entropy_method='max'`), standardised with `center_adv`.
    fn batch(&self, trials: &[Trial]) -> Result<TrialBatch> {
        let run = &self.config.run;
        let entropy = tch::no_grad(|| self.ppo.policy.entropy()).double_value(&[]);
        let rewards: Vec<Vec<f64>> = trials.iter().map(|t| t.rewards.iter().map(|r| r + self.config.entropy_coeff * entropy).collect()).collect();
        let paths: Vec<PathObs> = trials.iter().map(|t| PathObs { obs: &t.inputs, obs_dim: self.width }).collect();
        let reward_slices: Vec<&[f64]> = rewards.iter().map(Vec::as_slice).collect();
        let mut advantages = fit_and_advantages(&mut LinearFeatureBaseline::default(), &paths, &reward_slices, run.discount, run.gae_lambda)?;
        if self.config.center_adv {
            standardize_episodes(&mut advantages);
        }
        let longest = trials.iter().map(|t| t.rewards.len()).max().unwrap_or(0);
        let pad = |rows: &[f32], width: usize| {
            let mut out = rows.to_vec();
            out.resize(longest * width, 0.0);
            out
        };
        let stack = |each: &dyn Fn(usize) -> Vec<f32>, width: usize| {
            let flat: Vec<f32> = (0..trials.len()).flat_map(each).collect();
            Tensor::from_slice(&flat).view([trials.len() as i64, longest as i64, width as i64]).to_device(self.ppo.vars.device())
        };
        let inputs = stack(&|i| pad(&trials[i].inputs, self.width), self.width);
        let actions = stack(&|i| pad(&trials[i].actions, self.action_dim), self.action_dim);
        let advantages = stack(&|i| pad(&advantages[i].iter().map(|&a| a as f32).collect::<Vec<_>>(), 1), 1).squeeze_dim(2);
        let mask = stack(&|i| pad(&vec![1.0; trials[i].rewards.len()], 1), 1).squeeze_dim(2);
        let old_log_probs = tch::no_grad(|| self.ppo.policy.trials(&inputs).log_prob(&actions));
        Ok(TrialBatch { inputs, actions, advantages, old_log_probs, mask })
    }
}

impl OnPolicyAlgorithm for Rl2Runner {
    type Config = Rl2Config;
    /// `train_return` is the mean episode return over the trials.
    const COLUMNS: &'static [&'static str] = &["loss_before", "loss_after", "kl", "entropy"];

    fn run_config(config: &Rl2Config) -> &OnPolicyRun {
        &config.run
    }

    fn run_config_mut(config: &mut Rl2Config) -> &mut OnPolicyRun {
        &mut config.run
    }

    fn new(config: &Rl2Config, obs_dim: usize, action_dim: usize, device: Device) -> Self {
        let width = Inputs::Rl2 { carry_across_episodes: config.carry_inputs_across_episodes }.width(obs_dim, action_dim);
        let settings = Rl2Settings {
            input_dim: width as i64,
            action_dim: action_dim as i64,
            hidden: config.gru_hidden,
            init_std: config.run.init_std,
            lr: config.lr,
            clip: config.clip,
            epochs: config.ppo_epochs,
            minibatch_trials: config.minibatch_trials,
        };
        Rl2Runner { config: config.clone(), ppo: Rl2Ppo::new(settings, device), width, action_dim }
    }

    fn train(&mut self, sampler: &mut Sampler, slots: &[usize]) -> Result<TrainStats> {
        let trials = self.trials(sampler, slots, self.config.run.episodes_per_task)?;
        let env_steps = trials.iter().flatten().map(|e| e.len() as u64).sum();
        let train_return = mean(trials.iter().flatten().map(Episode::total_reward));
        let joined: Vec<Trial> = trials.iter().map(|t| Trial::join(t)).collect();
        let batch = self.batch(&joined)?;
        let losses = self.ppo.update(&batch, &mut sampler.rng);
        Ok(TrainStats { env_steps, train_return, numbers: vec![losses.loss_before, losses.loss_after, losses.kl, losses.entropy] })
    }

    fn meta_test(&mut self, sampler: &mut Sampler, slots: &[usize]) -> Result<Vec<(Vec<Episode>, Vec<Episode>)>> {
        let run = &self.config.run;
        let explore = run.num_exp_traj_eval;
        let trials = self.trials(sampler, slots, explore + run.num_eval_episodes)?;
        Ok(trials
            .into_iter()
            .map(|mut trial| {
                let later = trial.split_off(explore);
                (trial, later)
            })
            .collect())
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        self.ppo.state()
    }

    fn load_state(&mut self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        self.ppo.load_state(saved)
    }
}
