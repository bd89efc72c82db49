//! Behaviour-regularised actor-critic (Wu, Tucker & Nachum 2019; FOCAL-ICLR `rlkit/torch/brac`):
//! the divergence D_KL(π(·|s) ‖ π_b(·|s)) between the policy and the unknown behaviour policy,
//! estimated through its dual form with a learned discriminator ("dual critic") c(s, a, z):
//! KL(p ‖ b) = sup_T E_p[log T] − E_b[T] + 1 over positive T, with T = softplus(c). The actor
//! pays α·D̂ (policy regularisation) and, with the value penalty, so does the Bellman target;
//! α follows a dual step towards a target divergence. The schedule is FOCAL-ICLR's (9aff52c,
//! `rlkit/torch/sac/sac.py:241` `_take_step`, `:201` `_optimize_c`, `:377` α's step, `:95`
//! `get_alpha`): D̂ from the critic before its steps, one critic step on the batch and the others
//! on fresh batches ([`crate::algos::sac::Sac::train_step_with_critic_batches`]).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::nn::{portable_sqrt, variables_under, Adam, Mlp};

/// What the dual critic's gradient penalty bounds: γ·mean(max(s − 1, 0)²) with slope s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PenaltyForm {
    /// FOCAL-ICLR (`rlkit/torch/brac/divergences.py:30-43` `gradient_penalty`): s = √(ε + c(s, ã)²),
    /// the critic's output at the interpolated actions, which keeps D̂ in the range FOCAL's α
    /// settings were tuned for.
    #[default]
    Output,
    /// BRAC's paper (Wu et al. 2019, Gulrajani et al.'s penalty): s = ‖∇ã c(s, ã)‖.
    InputGradient,
}

/// BRAC's switches and coefficients (FOCAL-ICLR `configs/default.py`).
#[derive(Debug, Clone)]
pub struct BracSettings {
    pub value_penalty: bool,
    pub alpha_init: f64,
    pub alpha_max: f64,
    pub alpha_lr: f64,
    pub target_divergence: f64,
    pub dual_critic_lr: f64,
    pub gradient_penalty: f64,
    pub penalty_form: PenaltyForm,
}

/// A batch for one dual-critic step: states, the policy's and the data's actions, z; `[n, ·]`.
pub struct CriticBatch<'a> {
    pub obs: &'a Tensor,
    pub policy_actions: &'a Tensor,
    pub data_actions: &'a Tensor,
    pub z: &'a Tensor,
}

/// The per-sample dual estimate of KL(p ‖ b) from the discriminator's logits on actions of p
/// (the policy) and of b (the data): log(softplus(c_p) + 1e-8) − softplus(c_b) + 1.
pub fn kl_dual_estimate(logits_p: &Tensor, logits_b: &Tensor) -> Tensor {
    (logits_p.softplus() + 1e-8).log() - logits_b.softplus() + 1.0
}

pub struct Brac {
    pub settings: BracSettings,
    discriminator: Mlp,
    optimizer: Adam,
    /// α's raw variable, of the learner's store (so checkpoints keep it), that no optimiser
    /// touches: unclamped, clamped to [0, alpha_max] where it is read (FOCAL-ICLR `get_alpha`).
    alpha: Tensor,
}

impl Brac {
    /// The discriminator c(s, a, z) (`dual_critic` in `vars`): `input` = |s| + |a| + |z|, ReLU `hidden`.
    pub fn new(vars: &nn::VarStore, input: i64, hidden: &[i64], settings: BracSettings) -> Self {
        let discriminator = Mlp::new(&(vars.root() / "dual_critic"), input, hidden, 1, 3e-3);
        let optimizer = Adam::new(variables_under(vars, "dual_critic"), settings.dual_critic_lr);
        let alpha = vars.root().zeros_no_train("brac_alpha", &[]);
        let _ = tch::no_grad(|| alpha.shallow_clone().fill_(settings.alpha_init));
        Brac { settings, discriminator, optimizer, alpha }
    }

    /// α as the losses read it: the raw variable clamped to [0, alpha_max].
    pub fn alpha(&self) -> f64 {
        self.alpha.double_value(&[]).clamp(0.0, self.settings.alpha_max)
    }

    fn logits(&self, obs: &Tensor, actions: &Tensor, z: &Tensor) -> Tensor {
        self.discriminator.forward(&Tensor::cat(&[obs, actions, z], 1))
    }

    /// D̂ per row `[n, 1]`; gradients reach the policy through `policy_actions`.
    pub fn divergence(&self, obs: &Tensor, policy_actions: &Tensor, data_actions: &Tensor, z: &Tensor) -> Tensor {
        kl_dual_estimate(&self.logits(obs, policy_actions, z), &self.logits(obs, data_actions, z))
    }

    /// The gradient penalty on actions ã interpolated between the policy's and the data's
    /// (FOCAL-ICLR `gradient_penalty.forward`, γ = `gradient_penalty`).
    fn gradient_penalty(&self, batch: &CriticBatch, rng: &mut ChaCha8Rng) -> Tensor {
        let rows = batch.obs.size()[0];
        let mix: Vec<f32> = (0..rows).map(|_| rng.gen_range(0.0..1.0)).collect();
        let mix = Tensor::from_slice(&mix).view([rows, 1]).to_device(batch.obs.device());
        let between = (batch.policy_actions + mix * (batch.data_actions - batch.policy_actions)).detach();
        let squares = match self.settings.penalty_form {
            PenaltyForm::Output => self.logits(batch.obs, &between, batch.z).square().sum_dim_intlist(-1, false, Kind::Float),
            PenaltyForm::InputGradient => {
                let between = between.set_requires_grad(true);
                let logits = self.logits(batch.obs, &between, batch.z);
                let grad = Tensor::run_backward(&[logits.sum(Kind::Float)], &[&between], true, true).remove(0);
                grad.square().sum_dim_intlist(-1, false, Kind::Float)
            }
        };
        let slope = portable_sqrt(&(squares + 1e-8));
        (slope - 1.0).clamp_min(0.0).square().mean(Kind::Float) * self.settings.gradient_penalty
    }

    /// One ascent step of the discriminator on the dual estimate minus the gradient penalty
    /// (FOCAL-ICLR `dual_critic_loss`); returns the loss.
    pub fn critic_step(&mut self, batch: &CriticBatch, rng: &mut ChaCha8Rng) -> f64 {
        let (policy_actions, z) = (batch.policy_actions.detach(), batch.z.detach());
        let batch = CriticBatch { obs: batch.obs, policy_actions: &policy_actions, data_actions: batch.data_actions, z: &z };
        let penalty = self.gradient_penalty(&batch, rng);
        let loss = -self.divergence(batch.obs, batch.policy_actions, batch.data_actions, batch.z).mean(Kind::Float) + penalty;
        self.optimizer.zero_grad();
        loss.backward();
        self.optimizer.step();
        loss.double_value(&[])
    }

    /// α's raw variable takes FOCAL-ICLR's gradient step on −α·(D̂ − target):
    /// α ← α + alpha_lr·(D̂ − target), unclamped.
    pub fn update_alpha(&mut self, divergence: f64) {
        let s = &self.settings;
        let next = self.alpha.double_value(&[]) + s.alpha_lr * (divergence - s.target_divergence);
        let _ = tch::no_grad(|| self.alpha.shallow_clone().fill_(next));
    }

    pub fn optimizer_state(&self) -> Vec<(String, Tensor)> {
        self.optimizer.state("adam.dual_critic")
    }

    pub fn load_optimizer_state(&mut self, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        self.optimizer.load_state("adam.dual_critic", saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn scalar(values: &[f32]) -> Tensor {
        Tensor::from_slice(values).view([-1, 1])
    }

    #[test]
    fn dual_estimate_matches_hand_computed_values() {
        // softplus(0) = ln 2: ln(ln 2) − ln 2 + 1 = −0.0596601.
        let zero = kl_dual_estimate(&scalar(&[0.0]), &scalar(&[0.0])).double_value(&[0, 0]);
        assert!((zero + 0.0596601).abs() < 1e-5, "{zero}");
        // ln(softplus(2)) − softplus(−1) + 1 = ln 2.1269280 − 0.3132617 + 1 = 1.4414170.
        let other = kl_dual_estimate(&scalar(&[2.0]), &scalar(&[-1.0])).double_value(&[0, 0]);
        assert!((other - 1.4414170).abs() < 1e-5, "{other}");
    }

    /// p = (¾, ¼), b = (½, ½) on two actions: at the optimal T = p/b = (1.5, 0.5) the estimate
    /// E_p[log T] − E_b[T] + 1 is KL(p ‖ b) = ¾ ln 1.5 + ¼ ln ½ = 0.1308120, and ascent on free
    /// logits finds it from T = softplus(0).
    #[test]
    fn dual_estimate_reaches_the_kl_at_its_optimum() {
        let (p, b) = ([0.75f64, 0.25], [0.5f64, 0.5]);
        let estimate = |logits: &Tensor| {
            let t = logits.softplus();
            let log_t = (&t + 1e-8).log();
            (log_t * Tensor::from_slice(&p.map(|v| v as f32))).sum(Kind::Float) - (t * Tensor::from_slice(&b.map(|v| v as f32))).sum(Kind::Float) + 1.0
        };
        let inverse_softplus = |t: f64| (t.exp() - 1.0).ln() as f32;
        let optimal = Tensor::from_slice(&[inverse_softplus(1.5), inverse_softplus(0.5)]);
        assert!((estimate(&optimal).double_value(&[]) - 0.1308120).abs() < 1e-5);
        // The estimator's own form: E over p of the p-term, over b of the b-term.
        let rows_p = scalar(&[inverse_softplus(1.5), inverse_softplus(1.5), inverse_softplus(1.5), inverse_softplus(0.5)]);
        let rows_b = scalar(&[inverse_softplus(1.5), inverse_softplus(0.5), inverse_softplus(1.5), inverse_softplus(0.5)]);
        let sampled = kl_dual_estimate(&rows_p, &rows_b).mean(Kind::Float).double_value(&[]);
        assert!((sampled - 0.1308120).abs() < 1e-5, "{sampled}");

        let logits = Tensor::zeros([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut adam = Adam::new(vec![logits.shallow_clone()], 0.05);
        for _ in 0..2000 {
            adam.zero_grad();
            (-estimate(&logits)).backward();
            adam.step();
        }
        let reached = estimate(&logits).double_value(&[]);
        assert!((reached - 0.1308120).abs() < 1e-3, "{reached}");
    }

    fn settings(penalty_form: PenaltyForm) -> BracSettings {
        BracSettings { value_penalty: false, alpha_init: 1.0, alpha_max: 2.0, alpha_lr: 0.5, target_divergence: 0.1, dual_critic_lr: 1e-3,
            gradient_penalty: 5.0, penalty_form }
    }

    #[test]
    fn alpha_is_clamped_where_it_is_read_and_its_raw_variable_is_not() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut brac = Brac::new(&vs, 3, &[4], settings(PenaltyForm::Output));
        brac.update_alpha(0.9);
        assert!((brac.alpha() - 1.4).abs() < 1e-6);
        brac.update_alpha(10.0);
        assert_eq!(brac.alpha(), 2.0, "read clamped to alpha_max");
        // The raw variable went to 1.4 + 0.5·9.9 = 6.35: one step down (−0.5·2.1) leaves it at
        // 5.3, still above the bound; a clamped variable would have come down to 0.95.
        brac.update_alpha(-2.0);
        assert_eq!(brac.alpha(), 2.0);
        brac.update_alpha(-100.0);
        assert_eq!(brac.alpha(), 0.0);
    }

    /// A dual critic whose output is the constant b (weights zero): c(s, ã) = b everywhere, so
    /// its input gradient is 0 and FOCAL-ICLR's penalty is γ·(√(ε + b²) − 1)² for |b| > 1.
    #[test]
    fn the_gradient_penalty_bounds_the_critics_output_as_focal_iclr() {
        let penalty = |form: PenaltyForm, b: f64| {
            let vs = nn::VarStore::new(Device::Cpu);
            let brac = Brac::new(&vs, 3, &[4], settings(form));
            tch::no_grad(|| {
                for (name, var) in vs.variables() {
                    let _ = var.shallow_clone().fill_(if name == "dual_critic.last_fc.bias" { b } else { 0.0 });
                }
            });
            let (obs, z) = (Tensor::ones([5, 1], (Kind::Float, Device::Cpu)), Tensor::zeros([5, 1], (Kind::Float, Device::Cpu)));
            let (p, d) = (Tensor::zeros([5, 1], (Kind::Float, Device::Cpu)), Tensor::ones([5, 1], (Kind::Float, Device::Cpu)));
            let batch = CriticBatch { obs: &obs, policy_actions: &p, data_actions: &d, z: &z };
            brac.gradient_penalty(&batch, &mut rand::SeedableRng::seed_from_u64(0)).double_value(&[])
        };
        let expected = 5.0 * ((1e-8f64 + 9.0).sqrt() - 1.0).powi(2);
        assert!((penalty(PenaltyForm::Output, 3.0) - expected).abs() < 1e-4, "{} vs {expected}", penalty(PenaltyForm::Output, 3.0));
        assert_eq!(penalty(PenaltyForm::Output, 0.5), 0.0, "an output inside [−1, 1] pays nothing");
        assert_eq!(penalty(PenaltyForm::InputGradient, 3.0), 0.0, "a constant critic has no input gradient");
    }
}
