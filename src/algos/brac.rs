//! Behaviour-regularised actor-critic (Wu, Tucker & Nachum 2019; FOCAL-ICLR `rlkit/torch/brac`):
//! the divergence D_KL(π(·|s) ‖ π_b(·|s)) between the policy and the unknown behaviour policy,
//! estimated through its dual form with a learned discriminator ("dual critic") c(s, a, z):
//! KL(p ‖ b) = sup_T E_p[log T] − E_b[T] + 1 over positive T, with T = softplus(c). The actor
//! pays α·D̂ (policy regularisation) and, with the value penalty, so does the Bellman target;
//! α follows a dual step towards a target divergence.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::nn::{portable_sqrt, variables_under, Adam, Mlp};

/// BRAC's switches and coefficients (FOCAL-ICLR `configs/default.py`).
#[derive(Debug, Clone)]
pub struct BracSettings {
    pub value_penalty: bool,
    pub alpha_init: f64,
    pub alpha_max: f64,
    pub alpha_lr: f64,
    pub target_divergence: f64,
    pub dual_critic_lr: f64,
    pub dual_critic_steps: usize,
    pub gradient_penalty: f64,
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
    /// α, a variable of the learner's store (so checkpoints keep it) that no optimiser touches.
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

    pub fn alpha(&self) -> f64 {
        self.alpha.double_value(&[])
    }

    fn logits(&self, obs: &Tensor, actions: &Tensor, z: &Tensor) -> Tensor {
        self.discriminator.forward(&Tensor::cat(&[obs, actions, z], 1))
    }

    /// D̂ per row `[n, 1]`; gradients reach the policy through `policy_actions`.
    pub fn divergence(&self, obs: &Tensor, policy_actions: &Tensor, data_actions: &Tensor, z: &Tensor) -> Tensor {
        kl_dual_estimate(&self.logits(obs, policy_actions, z), &self.logits(obs, data_actions, z))
    }

    /// `dual_critic_steps` ascent steps of the discriminator on the dual estimate, with the
    /// gradient penalty on actions interpolated between the policy's and the data's; the last loss.
    pub fn train_discriminator(&mut self, obs: &Tensor, policy_actions: &Tensor, data_actions: &Tensor, z: &Tensor, rng: &mut ChaCha8Rng) -> f64 {
        let (policy_actions, z) = (policy_actions.detach(), z.detach());
        let mut loss_value = 0.0;
        for _ in 0..self.settings.dual_critic_steps {
            let rows = obs.size()[0];
            let mix: Vec<f32> = (0..rows).map(|_| rng.gen_range(0.0..1.0)).collect();
            let mix = Tensor::from_slice(&mix).view([rows, 1]).to_device(obs.device());
            let between = (&policy_actions + mix * (data_actions - &policy_actions)).detach().set_requires_grad(true);
            let logits = self.logits(obs, &between, &z);
            let grad = Tensor::run_backward(&[logits.sum(Kind::Float)], &[&between], true, true).remove(0);
            let slope = portable_sqrt(&(grad.square().sum_dim_intlist(-1, false, Kind::Float) + 1e-8));
            let penalty = (slope - 1.0).clamp_min(0.0).square().mean(Kind::Float) * self.settings.gradient_penalty;
            let loss = -self.divergence(obs, &policy_actions, data_actions, &z).mean(Kind::Float) + penalty;
            self.optimizer.zero_grad();
            loss.backward();
            self.optimizer.step();
            loss_value = loss.double_value(&[]);
        }
        loss_value
    }

    /// α ← clip(α + alpha_lr·(D̂ − target), 0, alpha_max): the gradient step on
    /// −α·(D̂ − target) that FOCAL-ICLR takes.
    pub fn update_alpha(&mut self, divergence: f64) {
        let s = &self.settings;
        let next = (self.alpha() + s.alpha_lr * (divergence - s.target_divergence)).clamp(0.0, s.alpha_max);
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

    #[test]
    fn alpha_follows_the_divergence_within_its_bounds() {
        let vs = nn::VarStore::new(Device::Cpu);
        let settings = BracSettings { value_penalty: false, alpha_init: 1.0, alpha_max: 2.0, alpha_lr: 0.5, target_divergence: 0.1,
            dual_critic_lr: 1e-3, dual_critic_steps: 1, gradient_penalty: 5.0 };
        let mut brac = Brac::new(&vs, 3, &[4], settings);
        brac.update_alpha(0.9);
        assert!((brac.alpha() - 1.4).abs() < 1e-6);
        brac.update_alpha(10.0);
        assert_eq!(brac.alpha(), 2.0);
        brac.update_alpha(-100.0);
        assert_eq!(brac.alpha(), 0.0);
    }
}
