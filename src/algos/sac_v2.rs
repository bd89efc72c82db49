//! SAC v2 (Haarnoja et al. 2018b, "Soft Actor-Critic Algorithms and Applications") as garage's
//! multi-task SAC trains it (garage 2d594803, `src/garage/torch/algos/sac.py:353`
//! `_critic_objective`, `:317` `_actor_objective`, `:288` `_temperature_objective`, `:449`
//! `optimize_policy`, `:440` `_update_targets`, `:175-182` target entropy −|A| and log α from 0;
//! `mtsac.py:142` one log α per task, `:153` `_get_log_alpha`):
//! twin Q networks with twin target Q networks and no state-value network; the policy against
//! min Q; an entropy temperature α learned per train task toward the target entropy −|A|. MTSAC
//! indexes log α by the one-hot task id in the observation; here the caller names each row's train
//! task. Oracle SAC (papers/001 §C.1) conditions every network on the task's ground-truth vector z
//! where MTSAC appends the one-hot id.
//!
//! The same core trains FOCAL's behaviour policies as pytorch_sac does (FOCAL-ICLR
//! `rlkit/torch/sac/pytorch_sac/agent/sac.py` `SACAgent.update`, `update_critic`,
//! `update_actor_and_alpha`): one task, α from `init_temperature`, the target critics stepped every
//! `critic_target_update_frequency` updates, and that code's networks and temperature loss
//! ([`SacV2Convention::PytorchSac`]).

use rand_chacha::ChaCha8Rng;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::sac::{learner_state, load_learner_state, mean_square, policy_actions, scalar, standard_normal, Losses};
use crate::nn::{soft_update, variables_under as params, Adam, Mlp, PolicyOutput, TanhGaussianPolicy};

/// Whose code the learner follows where garage's SAC and pytorch_sac differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SacV2Convention {
    /// garage: rlkit-style networks ([`crate::nn::TanhGaussianStyle::Rlkit`]), the temperature
    /// loss −log α·(log π + H̄) (`sac.py:288`).
    Garage,
    /// pytorch_sac: orthogonal networks ([`crate::nn::TanhGaussianStyle::PytorchSac`],
    /// `utils.weight_init`), the temperature loss α·(−log π − H̄) (`agent/sac.py`
    /// `update_actor_and_alpha`), whose gradient in log α is α times garage's.
    PytorchSac,
}
use crate::protocol::buffer::Batch;

#[derive(Debug, Clone)]
pub struct SacV2Settings {
    pub obs_dim: i64,
    pub action_dim: i64,
    /// Width of the task vector z.
    pub z_dim: i64,
    /// Hidden layers of the policy and each Q network (Yu et al. 2020's MT-SAC: 400, 400).
    pub hidden: Vec<i64>,
    pub discount: f64,
    /// garage SAC's `reward_scale` (1 in its MTSAC launchers).
    pub reward_scale: f64,
    /// Target Q networks' soft-update weight (garage `target_update_tau`).
    pub tau: f64,
    /// Learning rates; α's is the policy's, as garage's `_alpha_optimizer`.
    pub policy_lr: f64,
    pub qf_lr: f64,
    /// Train tasks, one learned log α each (garage `num_tasks`).
    pub num_tasks: i64,
    /// α before the first step: garage's `initial_log_entropy` 0 gives 1, pytorch_sac's
    /// `init_temperature` 0.1.
    pub initial_alpha: f64,
    /// The target critics follow every this many updates, counted from the first (garage 1,
    /// pytorch_sac's `critic_target_update_frequency` 2: its updates are counted in env steps
    /// from `num_seed_steps`, an even 2000, so they step on the same updates).
    pub target_update_every: usize,
    pub convention: SacV2Convention,
}

impl SacV2Settings {
    /// garage MTSAC's conventions and schedule.
    pub fn garage(obs_dim: i64, action_dim: i64, z_dim: i64, hidden: Vec<i64>, num_tasks: i64) -> Self {
        SacV2Settings {
            obs_dim, action_dim, z_dim, hidden, num_tasks,
            discount: 0.99, reward_scale: 1.0, tau: 5e-3, policy_lr: 3e-4, qf_lr: 3e-4,
            initial_alpha: 1.0, target_update_every: 1, convention: SacV2Convention::Garage,
        }
    }
}

pub struct SacV2 {
    pub settings: SacV2Settings,
    pub device: Device,
    vars: nn::VarStore,
    policy: TanhGaussianPolicy,
    qf1: Mlp,
    qf2: Mlp,
    target_qf1: Mlp,
    target_qf2: Mlp,
    /// `[num_tasks]`.
    log_alpha: Tensor,
    q_params: Vec<Tensor>,
    target_q_params: Vec<Tensor>,
    optimizers: Vec<(&'static str, Adam)>,
}

impl SacV2 {
    /// Networks initialised from torch's generator (seed it first); the targets start as copies.
    pub fn new(settings: SacV2Settings, device: Device) -> Self {
        let vars = nn::VarStore::new(device);
        let root = vars.root();
        let s = &settings;
        let (policy_input, q_input) = (s.obs_dim + s.z_dim, s.obs_dim + s.action_dim + s.z_dim);
        let (policy, [qf1, qf2, target_qf1, target_qf2]) = match s.convention {
            SacV2Convention::Garage => (
                TanhGaussianPolicy::new(&(&root / "policy"), policy_input, &s.hidden, s.action_dim),
                ["qf1", "qf2", "target_qf1", "target_qf2"].map(|name| Mlp::new(&(&root / name), q_input, &s.hidden, 1, 3e-3)),
            ),
            SacV2Convention::PytorchSac => (
                TanhGaussianPolicy::pytorch_sac(&(&root / "policy"), policy_input, &s.hidden, s.action_dim),
                ["qf1", "qf2", "target_qf1", "target_qf2"].map(|name| Mlp::orthogonal(&(&root / name), q_input, &s.hidden, 1)),
            ),
        };
        let log_alpha = root.var("log_alpha", &[s.num_tasks], nn::Init::Const(s.initial_alpha.ln()));
        let q_params: Vec<Tensor> = ["qf1", "qf2"].iter().flat_map(|name| params(&vars, name)).collect();
        let target_q_params: Vec<Tensor> = ["target_qf1", "target_qf2"].iter().flat_map(|name| params(&vars, name)).collect();
        target_q_params.iter().for_each(|t| drop(t.shallow_clone().set_requires_grad(false)));
        soft_update(&target_q_params, &q_params, 1.0);
        let optimizers = vec![
            ("policy", Adam::new(params(&vars, "policy"), s.policy_lr)),
            ("qf1", Adam::new(params(&vars, "qf1"), s.qf_lr)),
            ("qf2", Adam::new(params(&vars, "qf2"), s.qf_lr)),
            ("alpha", Adam::new(vec![log_alpha.shallow_clone()], s.policy_lr)),
        ];
        SacV2 { settings, device, vars, policy, qf1, qf2, target_qf1, target_qf2, log_alpha, q_params, target_q_params, optimizers }
    }

    fn optimizers_named<'a>(&'a mut self, names: &'a [&str]) -> impl Iterator<Item = &'a mut Adam> {
        self.optimizers.iter_mut().filter(move |(n, _)| names.contains(n)).map(|(_, o)| o)
    }

    /// α per train task, `[num_tasks]`.
    pub fn alphas(&self) -> Vec<f64> {
        Vec::<f32>::try_from(self.log_alpha.exp().to_device(Device::Cpu)).expect("float α").into_iter().map(f64::from).collect()
    }

    /// One gradient step on a meta-batch: `batch` `[tasks, b, ·]`, `z` `[tasks, z_dim]` and
    /// `task_ids[i]` the train task of row i (its α). Critics, then the policy under the updated
    /// critics, then α, then the target critics on their schedule (garage `train_once` →
    /// `optimize_policy`, `_update_targets`; pytorch_sac `SACAgent.update`).
    pub fn train_step(&mut self, batch: &Batch, z: &Tensor, task_ids: &[usize], rng: &mut ChaCha8Rng) -> Losses {
        let dev = self.device;
        let updates_before = self.optimizers_named(&["qf1"]).next().expect("the qf1 optimiser").steps();
        let (Batch { obs, actions, rewards, next_obs, terminals, .. }, tasks, b) = batch.task_rows(dev);
        let z = z.to_device(dev).unsqueeze(1).expand([tasks, b, self.settings.z_dim], false).reshape([tasks * b, self.settings.z_dim]);
        let ids: Vec<i64> = task_ids.iter().flat_map(|&t| std::iter::repeat(t as i64).take(b as usize)).collect();
        let row_log_alpha = self.log_alpha.index_select(0, &Tensor::from_slice(&ids).to_device(dev)).unsqueeze(1);
        let alpha = row_log_alpha.detach().exp();

        // Critics toward r·scale + γ(1 − d)(min target Q(s', a') − α log π(a'|s')), a' ~ π(s').
        let next_noise = standard_normal(rng, tasks * b, self.settings.action_dim, dev);
        let q_target = tch::no_grad(|| {
            let next = self.policy.forward(&Tensor::cat(&[&next_obs, &z], 1), Some(&next_noise));
            let next_input = Tensor::cat(&[&next_obs, &next.action, &z], 1);
            let target_q = self.target_qf1.forward(&next_input).minimum(&self.target_qf2.forward(&next_input));
            let soft_value = target_q - &alpha * next.log_prob.expect("a sampled action's log-probability");
            rewards * self.settings.reward_scale + (1.0 - terminals) * self.settings.discount * soft_value
        });
        let q_input = Tensor::cat(&[&obs, &actions, &z], 1);
        let (q1_loss, q2_loss) = (mean_square(&(self.qf1.forward(&q_input) - &q_target)), mean_square(&(self.qf2.forward(&q_input) - &q_target)));
        let critics = ["qf1", "qf2"];
        self.optimizers_named(&critics).for_each(Adam::zero_grad);
        (&q1_loss + &q2_loss).backward();
        self.optimizers_named(&critics).for_each(Adam::step);

        // Policy: E[α log π(a|s) − min Q(s, a)], a ~ π(s) reparameterised; the critics' weights
        // are frozen so the backward reaches only the policy.
        let noise = standard_normal(rng, tasks * b, self.settings.action_dim, dev);
        let PolicyOutput { action, log_prob, .. } = self.policy.forward(&Tensor::cat(&[&obs, &z], 1), Some(&noise));
        let log_pi = log_prob.expect("a sampled action's log-probability");
        let policy_input = Tensor::cat(&[&obs, &action, &z], 1);
        self.q_params.iter().for_each(|p| drop(p.shallow_clone().set_requires_grad(false)));
        let min_q = self.qf1.forward(&policy_input).minimum(&self.qf2.forward(&policy_input));
        self.q_params.iter().for_each(|p| drop(p.shallow_clone().set_requires_grad(true)));
        let policy_loss = (&alpha * &log_pi - min_q).mean(Kind::Float);
        self.optimizers_named(&["policy"]).for_each(Adam::zero_grad);
        policy_loss.backward();
        self.optimizers_named(&["policy"]).for_each(Adam::step);

        // Temperature toward the target entropy −|A|: E[−log α · (log π + H̄)] (garage) or
        // E[α · (−log π − H̄)] (pytorch_sac).
        let target_entropy = -(self.settings.action_dim as f64);
        let alpha_loss = match self.settings.convention {
            SacV2Convention::Garage => (-&row_log_alpha * (log_pi.detach() + target_entropy)).mean(Kind::Float),
            SacV2Convention::PytorchSac => (row_log_alpha.exp() * (-log_pi.detach() - target_entropy)).mean(Kind::Float),
        };
        self.optimizers_named(&["alpha"]).for_each(Adam::zero_grad);
        alpha_loss.backward();
        self.optimizers_named(&["alpha"]).for_each(Adam::step);

        if updates_before % self.settings.target_update_every.max(1) as i64 == 0 {
            soft_update(&self.target_q_params, &self.q_params, self.settings.tau);
        }
        let mean_alpha = scalar(&self.log_alpha.exp().mean(Kind::Float));
        Losses { qf_loss: scalar(&(q1_loss + q2_loss)), policy_loss: scalar(&policy_loss), alpha: Some(mean_alpha), ..Losses::default() }
    }

    /// One action per row of `obs` under the rows of `z`, as [`super::sac::Sac::act`].
    pub fn act(&self, obs: &Tensor, z: &Tensor, deterministic: bool, rng: &mut ChaCha8Rng) -> Vec<f64> {
        policy_actions(&self.policy, obs, z, deterministic, rng)
    }

    /// Every variable (α included) and optimiser moment, named, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        learner_state(&self.vars, &self.optimizers)
    }

    pub fn load_state(&mut self, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        load_learner_state(&self.vars, &mut self.optimizers, saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn learner(num_tasks: i64) -> SacV2 {
        tch::manual_seed(0);
        let settings = SacV2Settings { discount: 0.9, tau: 0.25, policy_lr: 1e-2, qf_lr: 1e-3, ..SacV2Settings::garage(2, 2, 1, vec![16, 16], num_tasks) };
        SacV2::new(settings, Device::Cpu)
    }

    fn batch(tasks: i64, b: i64) -> Batch {
        let column = |width: i64| Tensor::rand([tasks, b, width], (Kind::Float, Device::Cpu));
        Batch { obs: column(2), actions: column(2), rewards: column(1), sparse_rewards: column(1), next_obs: column(2), terminals: Tensor::zeros([tasks, b, 1], (Kind::Float, Device::Cpu)) }
    }

    #[test]
    fn targets_start_as_copies_and_follow_by_tau() {
        let mut sac = learner(2);
        assert!(sac.target_q_params.iter().zip(&sac.q_params).all(|(t, q)| t.equal(q)));
        let before: Vec<Tensor> = sac.target_q_params.iter().map(Tensor::copy).collect();
        sac.train_step(&batch(2, 8), &Tensor::zeros([2, 1], (Kind::Float, Device::Cpu)), &[0, 1], &mut ChaCha8Rng::seed_from_u64(0));
        for ((t, b), q) in sac.target_q_params.iter().zip(&before).zip(&sac.q_params) {
            assert!(t.allclose(&(b * 0.75 + q * 0.25), 1e-6, 1e-6, false), "θ' ← 0.75 θ' + 0.25 θ after the critics' step");
        }
    }

    #[test]
    fn each_task_learns_its_own_temperature_toward_the_target_entropy() {
        // A fresh policy's log π of 2-D tanh-Gaussian actions is above −|A| = −2 (σ ≈ 1 squeezed
        // by tanh): the entropy is below target, so α of a task in the batch rises, α of a task
        // out of it stays at 1.
        let mut sac = learner(3);
        let z = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..5 {
            sac.train_step(&batch(2, 32), &z, &[0, 2], &mut rng);
        }
        let alphas = sac.alphas();
        assert_eq!(alphas[1], 1.0, "task 1 was never in a batch: {alphas:?}");
        assert!(alphas[0] != 1.0 && alphas[2] != 1.0, "{alphas:?}");
        // The gradient of −log α (log π + H̄) moves log α against the sign of log π + H̄.
        let log_pi = tch::no_grad(|| {
            let noise = standard_normal(&mut ChaCha8Rng::seed_from_u64(2), 256, 2, Device::Cpu);
            sac.policy.forward(&Tensor::zeros([256, 3], (Kind::Float, Device::Cpu)), Some(&noise)).log_prob.unwrap().mean(Kind::Float).double_value(&[])
        });
        let rising = log_pi + -2.0 > 0.0;
        assert_eq!(alphas[0] > 1.0, rising, "log π {log_pi}, α {alphas:?}");
    }

    #[test]
    fn a_checkpoint_restores_networks_alpha_and_moments() {
        let mut sac = learner(2);
        let z = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
        sac.train_step(&batch(2, 8), &z, &[0, 1], &mut ChaCha8Rng::seed_from_u64(3));
        let saved: std::collections::HashMap<String, Tensor> = sac.state().into_iter().map(|(n, t)| (n, t.copy())).collect();
        assert!(saved.contains_key("net.log_alpha") && saved.contains_key("adam.alpha.m0"));
        let mut other = learner(2);
        other.load_state(&saved).unwrap();
        let next = batch(2, 8);
        let (a, b) = (sac.train_step(&next, &z, &[0, 1], &mut ChaCha8Rng::seed_from_u64(4)), other.train_step(&next, &z, &[0, 1], &mut ChaCha8Rng::seed_from_u64(4)));
        assert_eq!((a.qf_loss, a.policy_loss, a.alpha), (b.qf_loss, b.policy_loss, b.alpha));
    }
}
