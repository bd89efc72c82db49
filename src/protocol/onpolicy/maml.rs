//! MAML-TRPO's sampling schedule (garage `MAML._obtain_samples`, `adapt_policy`): per task,
//! `episodes_per_task` episodes with θ, an inner step, as many with θ' (repeated for each inner
//! step), then the outer TRPO step. Meta-test: adapt on the exploration episodes, then evaluate θ'.

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::collect::{Episode, Inputs};
use super::{OnPolicyAlgorithm, Sampler, TrainStats};
use crate::results::mean;
use crate::algos::maml_trpo::{MamlSettings, MamlTrpo, StepBatch, TaskData};
use crate::algos::onpolicy::{fit_and_advantages, standardize, LinearFeatureBaseline, PathObs, TrustRegion};
use crate::nn::gaussian::{distribution_per_row, shallow_copies, stack_params};
use crate::nn::GaussianMlpPolicy;
use crate::nn::{load_vars_state, vars_state};
use crate::protocol::config::{MamlConfig, OnPolicyRun};

/// Who acts in each slot: θ everywhere, or each task's adapted θ' (lists by slot position).
#[derive(Clone, Copy)]
enum Policies<'a> {
    Shared(&'a [Tensor]),
    PerSlot(&'a [Vec<Tensor>]),
}

pub struct MamlRunner {
    config: MamlConfig,
    maml: MamlTrpo,
    obs_dim: usize,
    action_dim: usize,
}

impl MamlRunner {
    /// Episodes in every slot of `slots`; one batched forward per step, with θ or with each
    /// slot's θ'.
    fn rollouts(&self, sampler: &mut Sampler, slots: &[usize], episodes: usize, params: Policies) -> Result<Vec<Vec<Episode>>> {
        let (action_dim, device) = (self.action_dim as i64, sampler.device);
        let stacked = match params {
            Policies::PerSlot(lists) => stack_params(lists),
            Policies::Shared(_) => Vec::new(),
        };
        sampler.episodes(slots, episodes, Inputs::Observation, |running, obs, rng| {
            let obs = obs.to_device(device);
            let noise = Sampler::noise(rng, running.len() as i64, action_dim, device);
            tch::no_grad(|| match params {
                Policies::Shared(theta) => GaussianMlpPolicy::distribution(theta, &obs).sample(&noise),
                Policies::PerSlot(_) => {
                    let which: Vec<i64> = running.iter().map(|s| slots.iter().position(|x| x == s).expect("a listed slot") as i64).collect();
                    distribution_per_row(&stacked, &Tensor::from_slice(&which).to_device(device), &obs).sample(&noise)
                }
            })
        })
    }

    /// One task's episodes as a batch: the linear baseline fitted on them, GAE advantages,
    /// standardised (garage `center_adv`).
    fn batch(&self, episodes: &[Episode]) -> Result<StepBatch> {
        let run = &self.config.run;
        let paths: Vec<PathObs> = episodes.iter().map(|e| PathObs { obs: &e.inputs, obs_dim: self.obs_dim }).collect();
        let rewards: Vec<&[f64]> = episodes.iter().map(|e| e.rewards.as_slice()).collect();
        let mut advantages = fit_and_advantages(&mut LinearFeatureBaseline::default(), &paths, &rewards, run.discount, run.gae_lambda)?.concat();
        standardize(&mut advantages);
        let device = self.maml.vars.device();
        let rows = |values: Vec<f32>, width: usize| Tensor::from_slice(&values).view([-1, width as i64]).to_device(device);
        Ok(StepBatch {
            obs: rows(episodes.iter().flat_map(|e| e.inputs.iter().copied()).collect(), self.obs_dim),
            actions: rows(episodes.iter().flat_map(|e| e.actions.iter().copied()).collect(), self.action_dim),
            advantages: Tensor::from_slice(&advantages).to_kind(Kind::Float).to_device(device),
        })
    }
}

impl OnPolicyAlgorithm for MamlRunner {
    type Config = MamlConfig;
    /// `train_return` is the post-update return; `train_pre_return` the one before adaptation.
    const COLUMNS: &'static [&'static str] = &["surrogate_before", "surrogate_after", "kl", "step_fraction", "train_pre_return"];

    fn run_config(config: &MamlConfig) -> &OnPolicyRun {
        &config.run
    }

    fn run_config_mut(config: &mut MamlConfig) -> &mut OnPolicyRun {
        &mut config.run
    }

    fn new(config: &MamlConfig, obs_dim: usize, action_dim: usize, device: Device) -> Self {
        let settings = MamlSettings {
            obs_dim: obs_dim as i64,
            action_dim: action_dim as i64,
            hidden: config.hidden_sizes.clone(),
            init_std: config.run.init_std,
            inner_lr: config.inner_lr,
            num_grad_updates: config.num_grad_updates,
            region: TrustRegion {
                max_kl: config.max_kl,
                cg_iters: config.cg_iters,
                backtrack_ratio: config.backtrack_ratio,
                max_backtracks: config.max_backtracks,
                hvp_reg: config.hvp_reg_coeff,
            },
        };
        MamlRunner { config: config.clone(), maml: MamlTrpo::new(settings, device), obs_dim, action_dim }
    }

    fn train(&mut self, sampler: &mut Sampler, slots: &[usize]) -> Result<TrainStats> {
        let theta = shallow_copies(self.maml.policy.parameters());
        let updates = self.config.num_grad_updates;
        let mut adapted: Vec<Vec<Tensor>> = Vec::new();
        let mut batches: Vec<Vec<StepBatch>> = slots.iter().map(|_| Vec::new()).collect();
        let (mut env_steps, mut returns) = (0, Vec::new());
        for step in 0..=updates {
            let policies = if step == 0 { Policies::Shared(&theta) } else { Policies::PerSlot(&adapted) };
            let episodes = self.rollouts(sampler, slots, self.config.run.episodes_per_task, policies)?;
            env_steps += episodes.iter().flatten().map(|e| e.len() as u64).sum::<u64>();
            returns.push(mean(episodes.iter().flatten().map(Episode::total_reward)));
            for (task_batches, task_episodes) in batches.iter_mut().zip(&episodes) {
                task_batches.push(self.batch(task_episodes)?);
            }
            if step < updates {
                adapted = batches.iter().map(|b| self.maml.adapt(&theta, b, false)).collect();
            }
        }
        let tasks: Vec<TaskData> = batches
            .into_iter()
            .map(|mut adaptation| {
                let validation = adaptation.pop().expect("the post-update batch");
                TaskData { adaptation, validation }
            })
            .collect();
        let outcome = self.maml.meta_step(&tasks);
        Ok(TrainStats {
            env_steps,
            train_return: returns[updates],
            numbers: vec![outcome.loss_before, outcome.loss_after, outcome.kl_after, outcome.step_fraction, returns[0]],
        })
    }

    fn meta_test(&mut self, sampler: &mut Sampler, slots: &[usize]) -> Result<Vec<(Vec<Episode>, Vec<Episode>)>> {
        let run = &self.config.run;
        anyhow::ensure!(run.num_exp_traj_eval > 0, "MAML adapts on its exploration episodes: num_exp_traj_eval must be at least 1");
        let theta = shallow_copies(self.maml.policy.parameters());
        let explore = self.rollouts(sampler, slots, run.num_exp_traj_eval, Policies::Shared(&theta))?;
        let adapted = explore.iter().map(|e| Ok(self.maml.adapt(&theta, &[self.batch(e)?], false))).collect::<Result<Vec<_>>>()?;
        let evaluated = self.rollouts(sampler, slots, run.num_eval_episodes, Policies::PerSlot(&adapted))?;
        Ok(explore.into_iter().zip(evaluated).collect())
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        vars_state(&self.maml.vars)
    }

    fn load_state(&mut self, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        load_vars_state(&self.maml.vars, saved)
    }
}
