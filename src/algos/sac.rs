//! The soft actor-critic every SAC-family learner shares (PEARL, oracle SAC, and the contrastive
//! variants built on PEARL): oyster's `PEARLSoftActorCritic._take_step`, i.e. SAC with twin Q
//! networks, a state-value network and its target (Haarnoja et al. 2018, v1), all conditioned on
//! a task variable z. Where z comes from is the caller's business: PEARL infers it from context
//! through the [`ContextEncoder`](super::pearl::ContextEncoder); oracle SAC is handed the task's
//! ground-truth vector.

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::brac::{Brac, BracSettings, CriticBatch};
use super::pearl::ContextEncoder;
use crate::nn::{load_vars_state, soft_update, variables_under as params, vars_state, Adam, Mlp, PolicyOutput, TanhGaussianPolicy};
use crate::protocol::buffer::Batch;

/// Sizes and coefficients of the learner (oyster `configs/default.py` names).
#[derive(Debug, Clone)]
pub struct SacSettings {
    pub obs_dim: i64,
    pub action_dim: i64,
    /// Width of z: PEARL's latent size, or the oracle vector's length.
    pub z_dim: i64,
    pub net_size: i64,
    pub discount: f64,
    pub reward_scale: f64,
    pub soft_target_tau: f64,
    pub policy_lr: f64,
    pub qf_lr: f64,
    pub vf_lr: f64,
    /// rlkit's `policy_mean_reg_weight` and `policy_std_reg_weight`.
    pub policy_reg_weight: f64,
}

/// One gradient step's losses, for progress.csv and the NaN guard.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Losses {
    pub qf_loss: f64,
    pub vf_loss: f64,
    pub policy_loss: f64,
    /// KL(q(z|c) ‖ N(0, I)) summed over the meta-batch; 0 without an encoder.
    pub kl_divergence: f64,
    /// TCL/CoCOA: the InfoNCE loss of the step's query-key windows (papers/001 Eq. 8).
    pub contrastive_loss: Option<f64>,
    /// CoCOA: KL(q ‖ N(0, I)) summed over the queries (papers/000 §4.5).
    pub query_kl: Option<f64>,
    /// BRAC: the dual critic's last loss, the mean divergence estimate D̂ and α after the step.
    pub dual_critic_loss: Option<f64>,
    pub divergence: Option<f64>,
    pub alpha: Option<f64>,
    /// FOCAL: the encoder's metric loss (papers/002 Eq. 12/13), before its weight.
    pub metric_loss: Option<f64>,
}

impl Losses {
    /// The first non-finite loss, by name.
    pub fn first_non_finite(&self) -> Option<(&'static str, f64)> {
        [("qf_loss", Some(self.qf_loss)), ("vf_loss", Some(self.vf_loss)), ("policy_loss", Some(self.policy_loss)), ("kl_divergence", Some(self.kl_divergence)),
            ("contrastive_loss", self.contrastive_loss), ("query_kl", self.query_kl), ("dual_critic_loss", self.dual_critic_loss),
            ("divergence", self.divergence), ("metric_loss", self.metric_loss)]
            .into_iter()
            .find_map(|(name, v)| v.filter(|v| !v.is_finite()).map(|v| (name, v)))
    }
}

/// The context encoder's settings (PEARL only).
#[derive(Debug, Clone)]
pub struct ContextSettings {
    /// Width of one context transition: |o| + |a| + 1 (+ |o'| with `use_next_obs_in_context`).
    pub input_dim: i64,
    pub hidden: Vec<i64>,
    pub lr: f64,
    pub kl_lambda: f64,
}

/// Where a gradient step's z comes from.
pub enum TaskVariable {
    /// PEARL: context `[tasks, n, width]`, encoded into q(z|c) and sampled.
    Context(Tensor),
    /// TCL/CoCOA: PEARL's context, and an extra loss on the encoder (the contrastive term) that
    /// joins the critic's backward pass, so the encoder's gradient is that of Q loss + β·KL + it.
    ContextAndEncoderLoss(Tensor, Tensor),
    /// TCL/CoCOA with PEARL's z from the query windows (papers/001 §4.3(2)): q(z|c)'s mean and
    /// variance `[tasks, z_dim]`, already computed with their graph, and the contrastive loss.
    PosteriorAndEncoderLoss(Tensor, Tensor, Tensor),
    /// Oracle SAC: one given vector per task, `[tasks, z_dim]`.
    Given(Tensor),
    /// FOCAL's coupled ablation and Batch PEARL with an encoder of its own: z per task with its
    /// graph, so the Q loss reaches the encoder, and a loss of the encoder's (metric loss, KL)
    /// joining the critic's backward pass; the caller steps the encoder's optimiser.
    GivenWithEncoderLoss(Tensor, Tensor),
}

pub struct Sac {
    pub settings: SacSettings,
    pub device: Device,
    pub vars: nn::VarStore,
    pub policy: TanhGaussianPolicy,
    pub encoder: Option<ContextEncoder>,
    /// BRAC's dual critic and α (offline training, [`Sac::with_behaviour_regularisation`]).
    pub brac: Option<Brac>,
    qf1: Mlp,
    qf2: Mlp,
    vf: Mlp,
    target_vf: Mlp,
    kl_lambda: f64,
    optimizers: Vec<(&'static str, Adam)>,
    /// The twin Q networks' parameters, frozen while the policy's objective is built.
    critic_params: Vec<Tensor>,
    /// The state-value network's parameters and its target's, paired for the soft update.
    vf_params: Vec<Tensor>,
    target_vf_params: Vec<Tensor>,
}

/// `[n, d]` standard normal draws from `rng`, on `device`.
pub fn standard_normal(rng: &mut ChaCha8Rng, n: i64, d: i64, device: Device) -> Tensor {
    let values: Vec<f32> = (0..n * d).map(|_| StandardNormal.sample(rng)).collect();
    Tensor::from_slice(&values).view([n, d]).to_device(device)
}

pub(crate) fn mean_square(t: &Tensor) -> Tensor {
    t.square().mean(Kind::Float)
}

pub(crate) fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}

/// One action per row of `obs` (`[n, obs_dim]`) under the rows of `z` (`[n, z_dim]`), as one
/// batched forward of `policy`: a sample, or `tanh(μ)` when deterministic. Row-major
/// `[n, action_dim]`.
pub(crate) fn policy_actions(policy: &TanhGaussianPolicy, obs: &Tensor, z: &Tensor, deterministic: bool, rng: &mut ChaCha8Rng) -> Vec<f64> {
    tch::no_grad(|| {
        let device = policy.device();
        let input = Tensor::cat(&[obs.to_device(device), z.to_device(device)], 1);
        let noise = (!deterministic).then(|| standard_normal(rng, obs.size()[0], policy.action_dim(), device));
        let action = policy.forward(&input, noise.as_ref()).action;
        Vec::<f32>::try_from(action.reshape([-1]).to_device(Device::Cpu)).expect("float actions").into_iter().map(f64::from).collect()
    })
}

/// A learner's variables and its named optimisers' moments, for a checkpoint.
pub(crate) fn learner_state(vars: &nn::VarStore, optimizers: &[(&'static str, Adam)]) -> Vec<(String, Tensor)> {
    let mut named = vars_state(vars);
    for (name, optimizer) in optimizers {
        named.extend(optimizer.state(&format!("adam.{name}")));
    }
    named
}

/// Restore what [`learner_state`] saved; a missing entry is an error naming it.
pub(crate) fn load_learner_state(vars: &nn::VarStore, optimizers: &mut [(&'static str, Adam)], saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
    load_vars_state(vars, saved)?;
    for (name, optimizer) in optimizers {
        optimizer.load_state(&format!("adam.{name}"), saved)?;
    }
    Ok(())
}

impl Sac {
    /// Networks initialised from torch's generator (seed it first), in one variable store so one
    /// file checkpoints them all.
    pub fn new(settings: SacSettings, device: Device, context: Option<ContextSettings>) -> Self {
        let vars = nn::VarStore::new(device);
        let root = vars.root();
        let s = &settings;
        let hidden = [s.net_size; 3];
        let policy = TanhGaussianPolicy::new(&(&root / "policy"), s.obs_dim + s.z_dim, &hidden, s.action_dim);
        let q_input = s.obs_dim + s.action_dim + s.z_dim;
        let qf1 = Mlp::new(&(&root / "qf1"), q_input, &hidden, 1, 3e-3);
        let qf2 = Mlp::new(&(&root / "qf2"), q_input, &hidden, 1, 3e-3);
        let vf = Mlp::new(&(&root / "vf"), s.obs_dim + s.z_dim, &hidden, 1, 3e-3);
        let target_vf = Mlp::new(&(&root / "target_vf"), s.obs_dim + s.z_dim, &hidden, 1, 3e-3);
        let encoder = context.as_ref().map(|c| ContextEncoder::new(&(&root / "context_encoder"), c.input_dim, &c.hidden, s.z_dim));
        let (vf_params, target_vf_params) = (params(&vars, "vf"), params(&vars, "target_vf"));
        let critic_params = ["qf1", "qf2"].iter().flat_map(|name| params(&vars, name)).collect();
        for t in &target_vf_params {
            let _ = t.shallow_clone().set_requires_grad(false);
        }
        soft_update(&target_vf_params, &vf_params, 1.0);
        let mut optimizers = vec![
            ("policy", Adam::new(params(&vars, "policy"), s.policy_lr)),
            ("qf1", Adam::new(params(&vars, "qf1"), s.qf_lr)),
            ("qf2", Adam::new(params(&vars, "qf2"), s.qf_lr)),
            ("vf", Adam::new(vf_params.iter().map(Tensor::shallow_clone).collect(), s.vf_lr)),
        ];
        if let Some(c) = &context {
            optimizers.push(("context", Adam::new(params(&vars, "context_encoder"), c.lr)));
        }
        let kl_lambda = context.map_or(0.0, |c| c.kl_lambda);
        Sac { settings, device, vars, policy, encoder, brac: None, qf1, qf2, vf, target_vf, kl_lambda, optimizers, critic_params, vf_params, target_vf_params }
    }

    /// Adds BRAC (offline RL): the actor pays α·D̂_KL(π ‖ behaviour), and with the value penalty so
    /// does the Bellman target. Call before training.
    pub fn with_behaviour_regularisation(mut self, settings: BracSettings) -> Self {
        let s = &self.settings;
        let input = s.obs_dim + s.action_dim + s.z_dim;
        self.brac = Some(Brac::new(&self.vars, input, &[s.net_size; 3], settings));
        self
    }

    /// The context encoder's parameters (TCL/CoCOA's query encoder), in a fixed order.
    pub fn encoder_params(&self) -> Vec<Tensor> {
        params(&self.vars, "context_encoder")
    }

    fn optimizer(&mut self, name: &str) -> &mut Adam {
        &mut self.optimizers.iter_mut().find(|(n, _)| *n == name).expect("optimizer exists").1
    }

    fn optimizers_named<'a>(&'a mut self, names: &'a [&str]) -> impl Iterator<Item = &'a mut Adam> {
        self.optimizers.iter_mut().filter(move |(n, _)| names.contains(n)).map(|(_, o)| o)
    }

    /// z ~ q(z|c) per task and KL(q(z|c) ‖ N(0, I)), with gradients into the encoder.
    fn encode(&self, context: &Tensor, rng: &mut ChaCha8Rng) -> (Tensor, Tensor) {
        let encoder = self.encoder.as_ref().expect("a context step needs the encoder");
        let (mean, var) = encoder.posterior(&context.to_device(self.device));
        self.sample_posterior(&mean, &var, rng)
    }

    /// z ~ N(mean, var) per task and KL(N(mean, var) ‖ N(0, I)).
    fn sample_posterior(&self, mean: &Tensor, var: &Tensor, rng: &mut ChaCha8Rng) -> (Tensor, Tensor) {
        let noise = standard_normal(rng, mean.size()[0], self.settings.z_dim, self.device);
        (ContextEncoder::sample(mean, var, &noise), ContextEncoder::kl_to_prior(mean, var))
    }

    /// One step of `_take_step` on a meta-batch: `batch` is `[tasks, b, ·]`.
    pub fn train_step(&mut self, batch: &Batch, task: TaskVariable, rng: &mut ChaCha8Rng) -> Losses {
        self.train_step_with_critic_batches(batch, task, &[], rng)
    }

    /// [`Self::train_step`] with BRAC's dual critic also stepped on `fresh` batches of the same
    /// tasks (`[tasks, b, ·]` each, the same z), after its step on `batch` (FOCAL-ICLR
    /// `_optimize_c`, `c_iter − 1` times).
    pub fn train_step_with_critic_batches(&mut self, batch: &Batch, task: TaskVariable, fresh: &[Batch], rng: &mut ChaCha8Rng) -> Losses {
        let dev = self.device;
        let (Batch { obs, actions, rewards, next_obs, terminals, .. }, tasks, b) = batch.task_rows(dev);

        // z per task, then one row per transition.
        let (z, kl, encoder_loss) = match task {
            TaskVariable::Context(context) => {
                let (z, kl) = self.encode(&context, rng);
                (z, Some(kl), None)
            }
            TaskVariable::ContextAndEncoderLoss(context, loss) => {
                let (z, kl) = self.encode(&context, rng);
                (z, Some(kl), Some(loss))
            }
            TaskVariable::PosteriorAndEncoderLoss(mean, var, loss) => {
                let (z, kl) = self.sample_posterior(&mean, &var, rng);
                (z, Some(kl), Some(loss))
            }
            TaskVariable::Given(z) => (z.to_device(dev), None, None),
            TaskVariable::GivenWithEncoderLoss(z, loss) => (z.to_device(dev), None, Some(loss)),
        };
        let task_z = z.unsqueeze(1).expand([tasks, b, self.settings.z_dim], false).reshape([tasks * b, self.settings.z_dim]);
        let z_fixed = task_z.detach();

        let noise = standard_normal(rng, tasks * b, self.settings.action_dim, dev);
        let PolicyOutput { action: new_actions, mean, log_std, log_prob } = self.policy.forward(&Tensor::cat(&[&obs, &z_fixed], 1), Some(&noise));
        let log_pi = log_prob.expect("sampled actions carry their log-probability");

        // BRAC: train the dual critic on the policy's and the data's actions, then D̂ per row.
        let (divergence, dual_critic_loss) = match &mut self.brac {
            Some(brac) => {
                // FOCAL-ICLR's D̂ is the critic's before its steps; its policy loss then
                // backpropagates through the stepped critic (its in-place `.data` updates), so the
                // value is the first and the gradient the second.
                let before = tch::no_grad(|| brac.divergence(&obs, &new_actions, &actions, &z_fixed));
                let loss = brac.critic_step(&CriticBatch { obs: &obs, policy_actions: &new_actions, data_actions: &actions, z: &z_fixed }, rng);
                for extra in fresh {
                    let (Batch { obs: extra_obs, actions: extra_actions, .. }, _, _) = extra.task_rows(dev);
                    let noise = standard_normal(rng, tasks * b, self.settings.action_dim, dev);
                    let policy_actions = tch::no_grad(|| self.policy.forward(&Tensor::cat(&[&extra_obs, &z_fixed], 1), Some(&noise)).action);
                    brac.critic_step(&CriticBatch { obs: &extra_obs, policy_actions: &policy_actions, data_actions: &extra_actions, z: &z_fixed }, rng);
                }
                let after = brac.divergence(&obs, &new_actions, &actions, &z_fixed);
                (Some(&before + (&after - after.detach())), Some(loss))
            }
            None => (None, None),
        };
        let alpha = self.brac.as_ref().map_or(0.0, Brac::alpha);

        // Critics: the Q loss also trains the encoder (z is not detached there), with the KL term.
        let q1_pred = self.qf1.forward(&Tensor::cat(&[&obs, &actions, &task_z], 1));
        let q2_pred = self.qf2.forward(&Tensor::cat(&[&obs, &actions, &task_z], 1));
        let v_pred = self.vf.forward(&Tensor::cat(&[&obs, &z_fixed], 1));
        let mut target_v = tch::no_grad(|| self.target_vf.forward(&Tensor::cat(&[&next_obs, &z_fixed], 1)));
        if let (Some(d), true) = (&divergence, self.brac.as_ref().is_some_and(|b| b.settings.value_penalty)) {
            // BRAC's value penalty on the target (FOCAL-ICLR estimates D̂ at the batch's states).
            target_v = target_v - d.detach() * alpha;
        }
        let q_target = rewards * self.settings.reward_scale + (1.0 - terminals) * self.settings.discount * target_v;
        let qf_loss = mean_square(&(&q1_pred - &q_target)) + mean_square(&(&q2_pred - &q_target));
        let kl_divergence = kl.as_ref().map_or(0.0, scalar);
        let critic_names = ["qf1", "qf2", "context"];
        self.optimizers_named(&critic_names).for_each(Adam::zero_grad);
        let critic_objective = match &kl {
            Some(kl) => &qf_loss + kl * self.kl_lambda,
            None => qf_loss.shallow_clone(),
        };
        match encoder_loss {
            Some(extra) => (critic_objective + extra).backward(),
            None => critic_objective.backward(),
        }
        self.optimizers_named(&critic_names).for_each(Adam::step);

        // State value towards min Q - log π under the updated critics. The policy's gradient needs
        // dQ/da, never dQ/dθ (oyster's would be zeroed unused), so the critics' weights are frozen
        // while min Q is built: the backward through them skips their weight gradients.
        let policy_input = Tensor::cat(&[&obs, &new_actions, &z_fixed], 1);
        self.critic_params.iter().for_each(|p| drop(p.shallow_clone().set_requires_grad(false)));
        let min_q_new = self.qf1.forward(&policy_input).minimum(&self.qf2.forward(&policy_input));
        self.critic_params.iter().for_each(|p| drop(p.shallow_clone().set_requires_grad(true)));
        let vf_loss = mean_square(&(&v_pred - (&min_q_new - &log_pi).detach()));
        self.optimizer("vf").zero_grad();
        vf_loss.backward();
        self.optimizer("vf").step();
        soft_update(&self.target_vf_params, &self.vf_params, self.settings.soft_target_tau);

        // Policy: E[log π - min Q] plus rlkit's small penalties on the mean and log σ.
        let reg = self.settings.policy_reg_weight;
        let mut policy_loss = (&log_pi - &min_q_new).mean(Kind::Float) + mean_square(&mean) * reg + mean_square(&log_std) * reg;
        if let Some(d) = &divergence {
            policy_loss = policy_loss + d.mean(Kind::Float) * alpha;
        }
        self.optimizer("policy").zero_grad();
        policy_loss.backward();
        self.optimizer("policy").step();

        let divergence = divergence.map(|d| scalar(&d.mean(Kind::Float)));
        if let (Some(brac), Some(d)) = (&mut self.brac, divergence) {
            brac.update_alpha(d);
        }
        let alpha = self.brac.as_ref().map(Brac::alpha);
        Losses { qf_loss: scalar(&qf_loss), vf_loss: scalar(&vf_loss), policy_loss: scalar(&policy_loss), kl_divergence, dual_critic_loss, divergence, alpha, ..Losses::default() }
    }

    /// One action per row of `obs` (`[n, obs_dim]`) under the rows of `z` (`[n, z_dim]`), as
    /// one batched forward: `tanh(μ)` when deterministic. Row-major `[n, action_dim]`.
    pub fn act(&self, obs: &Tensor, z: &Tensor, deterministic: bool, rng: &mut ChaCha8Rng) -> Vec<f64> {
        policy_actions(&self.policy, obs, z, deterministic, rng)
    }

    /// Every variable and optimiser moment, named, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = learner_state(&self.vars, &self.optimizers);
        named.extend(self.brac.iter().flat_map(Brac::optimizer_state));
        named
    }

    pub fn load_state(&mut self, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        load_learner_state(&self.vars, &mut self.optimizers, saved)?;
        match &mut self.brac {
            Some(brac) => brac.load_optimizer_state(saved),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algos::brac::PenaltyForm;
    use rand::SeedableRng;

    fn batch() -> Batch {
        let column = |width: i64| Tensor::rand([2, 8, width], (Kind::Float, Device::Cpu));
        Batch { obs: column(2), actions: column(1), rewards: column(1), sparse_rewards: column(1), next_obs: column(2), terminals: Tensor::zeros([2, 8, 1], (Kind::Float, Device::Cpu)) }
    }

    /// FOCAL-ICLR's schedule: D̂ (logged, and α's step) from the dual critic before its steps;
    /// one critic step on the batch and one per fresh batch.
    #[test]
    fn brac_reads_the_divergence_before_the_critic_steps_and_steps_once_per_batch() {
        tch::manual_seed(0);
        let settings = SacSettings { obs_dim: 2, action_dim: 1, z_dim: 1, net_size: 8, discount: 0.9, reward_scale: 1.0, soft_target_tau: 0.005,
            policy_lr: 1e-3, qf_lr: 1e-3, vf_lr: 1e-3, policy_reg_weight: 1e-3 };
        let brac = BracSettings { value_penalty: true, alpha_init: 1.0, alpha_max: 10.0, alpha_lr: 1.0, target_divergence: 0.05, dual_critic_lr: 0.1,
            gradient_penalty: 5.0, penalty_form: PenaltyForm::Output };
        let mut sac = Sac::new(settings, Device::Cpu, None).with_behaviour_regularisation(brac);
        let (data, fresh) = (batch(), [batch(), batch()]);
        let z = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
        // The divergence the step will read: same policy noise (the generator's first draw).
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let expected = tch::no_grad(|| {
            let mut probe = rng.clone();
            let obs = data.obs.view([16, 2]);
            let noise = standard_normal(&mut probe, 16, 1, Device::Cpu);
            let z16 = Tensor::zeros([16, 1], (Kind::Float, Device::Cpu));
            let actions = sac.policy.forward(&Tensor::cat(&[&obs, &z16], 1), Some(&noise)).action;
            sac.brac.as_ref().unwrap().divergence(&obs, &actions, &data.actions.view([16, 1]), &z16).mean(Kind::Float).double_value(&[])
        });
        let losses = sac.train_step_with_critic_batches(&data, TaskVariable::Given(z), &fresh, &mut rng);
        assert!((losses.divergence.unwrap() - expected).abs() < 1e-6, "D̂ {} vs the pre-step critic's {expected}", losses.divergence.unwrap());
        let state: std::collections::HashMap<String, Tensor> = sac.state().into_iter().collect();
        assert_eq!(state["adam.dual_critic.steps"].int64_value(&[]), 3, "one step on the batch, one per fresh batch");
        // α's raw variable took the step 1 + 1·(D̂ − 0.05).
        assert!((losses.alpha.unwrap() - (1.0 + expected - 0.05).clamp(0.0, 10.0)).abs() < 1e-6);
    }
}
