//! MAML with TRPO as the outer optimiser (Finn et al. 2017, Algorithm 3; garage `maml.py`,
//! `maml_trpo.py`; ProMP's `TRPOMAML`).
//!
//! Per task of the meta-batch: episodes with θ, an inner VPG step θ' = θ - α∇L(θ) with
//! L = -E[log π_θ(a|s) Â] (Eq. 1 with the policy-gradient loss of Eq. 4), more episodes with θ'.
//! The outer objective is TRPO's surrogate on the post-update episodes,
//! L(θ) = -E[π_θ'(a|s)/π_θ'_old(a|s) Â], under the constraint E[KL(π_θ'_old ‖ π_θ')] ≤ δ; both are
//! functions of θ through the inner step, so the gradient and the Hessian-vector products of the
//! conjugate-gradient solve run through the whole two-level graph (second order).

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::onpolicy::{flat_grad, trpo_step, HessianVectorProduct, TrpoOutcome, TrustRegion};
use crate::nn::gaussian::{sgd_step, shallow_copies};
use crate::nn::{DiagGaussian, GaussianMlpPolicy};

#[derive(Debug, Clone)]
pub struct MamlSettings {
    pub obs_dim: i64,
    pub action_dim: i64,
    pub hidden: Vec<i64>,
    pub init_std: f64,
    /// α, the inner step size.
    pub inner_lr: f64,
    /// Inner steps per task (each on fresh episodes of the policy adapted so far).
    pub num_grad_updates: usize,
    pub region: TrustRegion,
}

/// Steps of one task's episodes under one policy: `obs` `[n, obs_dim]`, `actions` `[n, a]`,
/// `advantages` `[n]` (already standardised).
pub struct StepBatch {
    pub obs: Tensor,
    pub actions: Tensor,
    pub advantages: Tensor,
}

/// One task of the meta-batch: the batch gathered before each inner step, then the post-update one.
pub struct TaskData {
    pub adaptation: Vec<StepBatch>,
    pub validation: StepBatch,
}

pub struct MamlTrpo {
    pub settings: MamlSettings,
    pub vars: VarStore,
    pub policy: GaussianMlpPolicy,
}

/// The vanilla policy-gradient loss -E[log π(a|s) Â] (garage `VPG._compute_loss`).
fn vpg_loss(params: &[Tensor], batch: &StepBatch) -> Tensor {
    let log_prob = GaussianMlpPolicy::distribution(params, &batch.obs).log_prob(&batch.actions);
    -(log_prob * &batch.advantages).mean(None::<Kind>)
}

impl MamlTrpo {
    /// θ initialised from torch's generator (seed it first).
    pub fn new(settings: MamlSettings, device: Device) -> Self {
        let vars = VarStore::new(device);
        let s = &settings;
        let policy = GaussianMlpPolicy::new(&(vars.root() / "policy"), s.obs_dim, &s.hidden, s.action_dim, s.init_std);
        MamlTrpo { settings, vars, policy }
    }

    /// θ after one inner step per batch in `batches`, starting from `params`.
    pub fn adapt(&self, params: &[Tensor], batches: &[StepBatch], create_graph: bool) -> Vec<Tensor> {
        let mut current = shallow_copies(params);
        for batch in batches {
            current = sgd_step(&current, &vpg_loss(&current, batch), self.settings.inner_lr, create_graph);
        }
        current
    }

    /// The outer surrogate and the mean KL over the meta-batch, both as functions of θ through
    /// the inner steps (`create_graph`) or as values only.
    pub fn surrogate_and_kl(&self, tasks: &[TaskData], old: &[(DiagGaussian, Tensor)], create_graph: bool) -> (Tensor, Tensor) {
        let theta = self.policy.parameters();
        let (mut losses, mut kls) = (Vec::new(), Vec::new());
        for (task, (old_dist, old_log_prob)) in tasks.iter().zip(old) {
            let adapted = self.adapt(theta, &task.adaptation, create_graph);
            let batch = &task.validation;
            let new_dist = GaussianMlpPolicy::distribution(&adapted, &batch.obs);
            let ratio = (new_dist.log_prob(&batch.actions) - old_log_prob).exp();
            losses.push(-(ratio * &batch.advantages).mean(None::<Kind>));
            kls.push(old_dist.kl(&new_dist).mean(None::<Kind>));
        }
        (Tensor::stack(&losses, 0).mean(None::<Kind>), Tensor::stack(&kls, 0).mean(None::<Kind>))
    }

    /// Each task's adapted policy at `theta` on its validation batch, fixed (the "old" policy of
    /// the outer step), and its log-probability of the batch's actions.
    pub fn adapted_policies(&self, theta: &[Tensor], tasks: &[TaskData]) -> Vec<(DiagGaussian, Tensor)> {
        tasks
            .iter()
            .map(|task| {
                let adapted = self.adapt(theta, &task.adaptation, false);
                let dist = tch::no_grad(|| GaussianMlpPolicy::distribution(&adapted, &task.validation.obs));
                let log_prob = dist.log_prob(&task.validation.actions);
                (dist, log_prob)
            })
            .collect()
    }

    /// The outer step's trust-region problem at `theta`: the surrogate, its flat gradient and the
    /// mean KL's Hessian-vector product, all through the inner steps.
    pub fn outer_problem<'a>(&self, theta: &'a [Tensor], tasks: &[TaskData], old: &[(DiagGaussian, Tensor)]) -> (Tensor, Tensor, HessianVectorProduct<'a>) {
        let (loss, _) = self.surrogate_and_kl(tasks, old, true);
        let loss_grad = flat_grad(&loss, theta, false);
        let (_, kl) = self.surrogate_and_kl(tasks, old, true);
        (loss, loss_grad, HessianVectorProduct::new(&kl, theta, self.settings.region.hvp_reg))
    }

    /// The outer TRPO step on the meta-batch (garage `MAML._train_once` with
    /// `ConjugateGradientOptimizer`).
    pub fn meta_step(&mut self, tasks: &[TaskData]) -> TrpoOutcome {
        let theta = shallow_copies(self.policy.parameters());
        let old = self.adapted_policies(&theta, tasks);
        let (loss, loss_grad, hvp) = self.outer_problem(&theta, tasks, &old);
        let region = self.settings.region;
        trpo_step(&theta, &loss_grad, &hvp, &region, loss.double_value(&[]), || {
            let (loss, kl) = self.surrogate_and_kl(tasks, &old, false);
            (loss.double_value(&[]), kl.double_value(&[]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algos::onpolicy::flatten;

    /// A tiny policy and task in double precision, every value from a formula (no generator, so
    /// tests running beside each other cannot change them).
    fn tiny() -> (MamlTrpo, TaskData) {
        let settings = MamlSettings {
            obs_dim: 2,
            action_dim: 1,
            hidden: vec![3],
            init_std: 0.8,
            inner_lr: 0.5,
            num_grad_updates: 1,
            region: TrustRegion { max_kl: 0.01, cg_iters: 10, backtrack_ratio: 0.8, max_backtracks: 15, hvp_reg: 1e-5 },
        };
        let mut maml = MamlTrpo::new(settings, Device::Cpu);
        maml.vars.double();
        let wave = |n: i64, phase: f64| (Tensor::arange(n, (Kind::Double, Device::Cpu)) * 0.77 + phase).sin();
        tch::no_grad(|| {
            for (i, p) in maml.policy.parameters().iter().enumerate() {
                p.shallow_clone().copy_(&(wave(p.numel() as i64, i as f64) * 0.6).view(p.size().as_slice()));
            }
        });
        let batch = |n: i64, phase: f64| StepBatch { obs: wave(2 * n, phase).view([n, 2]) * 1.5, actions: wave(n, phase + 1.0).view([n, 1]), advantages: wave(n, phase + 2.0) };
        let task = TaskData { adaptation: vec![batch(10, 0.0)], validation: batch(12, 0.5) };
        (maml, task)
    }

    /// f(θ) = the post-update surrogate after the inner step; its Hessian-vector product by
    /// double backpropagation through the inner step equals central finite differences of ∇f.
    #[test]
    fn hessian_vector_product_through_an_inner_step_matches_finite_differences() {
        let (maml, task) = tiny();
        let theta = shallow_copies(maml.policy.parameters());
        let f = || vpg_loss(&maml.adapt(&theta, &task.adaptation, true), &task.validation);
        let hvp = HessianVectorProduct::new(&f(), &theta, 0.0);
        let n = flatten(&theta).numel() as i64;
        let v = Tensor::randn([n], (Kind::Double, Device::Cpu));
        let analytic = hvp.apply(&v);

        let start = flatten(&theta).detach();
        let eps = 1e-5;
        let grad_at = |shift: f64| {
            let shifted = crate::algos::onpolicy::unflatten(&(&start + &v * shift), &theta);
            tch::no_grad(|| {
                for (p, s) in theta.iter().zip(&shifted) {
                    p.shallow_clone().copy_(s);
                }
            });
            flat_grad(&f(), &theta, false)
        };
        let numeric = (grad_at(eps) - grad_at(-eps)) / (2.0 * eps);
        let gap = f64::try_from((&analytic - &numeric).abs().max()).unwrap();
        let scale = f64::try_from(analytic.abs().max()).unwrap();
        println!("HVP through the inner step: max |analytic - finite difference| = {gap:.2e} (scale {scale:.2e})");
        assert!(scale > 1e-3 && gap < 1e-6 * scale.max(1.0), "gap {gap} at scale {scale}");

        // The second-order term matters: without the inner step's graph the product differs.
        let first_order = {
            let adapted = maml.adapt(&theta, &task.adaptation, false);
            let loss = vpg_loss(&adapted, &task.validation);
            flat_grad(&loss, &adapted, false)
        };
        assert!(f64::try_from((flat_grad(&f(), &theta, false) - first_order).abs().max()).unwrap() > 1e-6);
    }

    #[test]
    fn meta_step_respects_the_kl_bound_and_lowers_the_surrogate() {
        let (mut maml, task) = tiny();
        let before = flatten(maml.policy.parameters()).detach().copy();
        let outcome = maml.meta_step(std::slice::from_ref(&task));
        assert!(outcome.step_fraction > 0.0, "{outcome:?}");
        assert!(outcome.loss_after < outcome.loss_before && outcome.kl_after <= 0.01, "{outcome:?}");
        let moved = f64::try_from((flatten(maml.policy.parameters()) - before).abs().max()).unwrap();
        assert!(moved > 0.0);
    }
}
