//! Pieces the on-policy learners share (MAML-TRPO, RL²-PPO): discounted returns, generalised
//! advantage estimation (Schulman et al. 2016), garage's linear feature baseline, conjugate
//! gradient, Hessian-vector products, and TRPO's step with a backtracking line search
//! (Schulman et al. 2015, Appendix C; garage `ConjugateGradientOptimizer`).

use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// `Σ_k γ^k r_{t+k}` for every t.
pub fn discount_cumsum(rewards: &[f64], discount: f64) -> Vec<f64> {
    let mut out = vec![0.0; rewards.len()];
    let mut running = 0.0;
    for t in (0..rewards.len()).rev() {
        running = rewards[t] + discount * running;
        out[t] = running;
    }
    out
}

/// GAE(γ, λ): `A_t = Σ_k (γλ)^k δ_{t+k}`, `δ_t = r_t + γ V(s_{t+1}) - V(s_t)`, with V = 0 past the
/// path's end (garage `compute_advantages`: no bootstrap at a time limit either).
pub fn gae(rewards: &[f64], values: &[f64], discount: f64, lambda: f64) -> Vec<f64> {
    let n = rewards.len();
    let next_value = |t: usize| if t + 1 < n { values[t + 1] } else { 0.0 };
    let deltas: Vec<f64> = (0..n).map(|t| rewards[t] + discount * next_value(t) - values[t]).collect();
    discount_cumsum(&deltas, discount * lambda)
}

/// Every episode's advantages standardised together, over the whole batch.
pub fn standardize_episodes(advantages: &mut [Vec<f64>]) {
    let mut flat = advantages.concat();
    standardize(&mut flat);
    let mut rest = flat.as_slice();
    for a in advantages {
        let (head, tail) = rest.split_at(a.len());
        a.copy_from_slice(head);
        rest = tail;
    }
}

/// Mean 0, standard deviation 1 (ProMP's `normalize_advantages`; garage's `center_adv`).
pub fn standardize(values: &mut [f64]) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    for v in values {
        *v = (*v - mean) / (std + 1e-8);
    }
}

/// garage `LinearFeatureBaseline`: a ridge regression of the discounted return on the features
/// `[o, o², t/100, (t/100)², (t/100)³, 1]` of each step (o clipped to [-10, 10], t the step's index
/// in its path), refitted on every batch.
#[derive(Debug, Default)]
pub struct LinearFeatureBaseline {
    coeffs: Option<Tensor>,
}

/// One path for the baseline: its observations, row-major `[len, obs_dim]`.
pub struct PathObs<'a> {
    pub obs: &'a [f32],
    pub obs_dim: usize,
}

impl LinearFeatureBaseline {
    const REG_COEFF: f64 = 1e-5;

    fn features(path: &PathObs) -> Tensor {
        let len = (path.obs.len() / path.obs_dim) as i64;
        let obs = Tensor::from_slice(path.obs).to_kind(Kind::Double).view([len, path.obs_dim as i64]).clamp(-10.0, 10.0);
        let time = Tensor::arange(len, (Kind::Double, Device::Cpu)).unsqueeze(1) / 100.0;
        Tensor::cat(&[obs.shallow_clone(), obs.square(), time.shallow_clone(), time.pow_tensor_scalar(2), time.pow_tensor_scalar(3), time.ones_like()], 1)
    }

    /// Least squares on the stacked features of `paths` against their `returns`, with the ridge
    /// term raised tenfold (up to five times) while the solution is not finite.
    pub fn fit(&mut self, paths: &[PathObs], returns: &[Vec<f64>]) -> Result<()> {
        let features = Tensor::cat(&paths.iter().map(Self::features).collect::<Vec<_>>(), 0);
        let targets = Tensor::from_slice(&returns.concat());
        let gram = features.transpose(0, 1).mm(&features);
        let rhs = features.transpose(0, 1).mv(&targets);
        let identity = Tensor::eye(gram.size()[0], (Kind::Double, Device::Cpu));
        let mut reg = Self::REG_COEFF;
        for _ in 0..5 {
            if let Ok(coeffs) = Tensor::f_linalg_solve(&(&gram + &identity * reg), &rhs, true) {
                if bool::try_from(coeffs.isfinite().all()).unwrap_or(false) {
                    self.coeffs = Some(coeffs);
                    return Ok(());
                }
            }
            reg *= 10.0;
        }
        bail!("the linear feature baseline has no finite fit (are the observations or returns NaN?)")
    }

    /// Predicted returns along `path`; zeros before the first fit.
    pub fn predict(&self, path: &PathObs) -> Vec<f64> {
        let len = path.obs.len() / path.obs_dim;
        match &self.coeffs {
            Some(c) => Vec::<f64>::try_from(Self::features(path).mv(c)).expect("double values"),
            None => vec![0.0; len],
        }
    }
}

/// Fit `baseline` on `paths` (with their rewards) and return each path's GAE advantages against
/// the fitted values, as ProMP's and garage's MAML sample processors do.
pub fn fit_and_advantages(baseline: &mut LinearFeatureBaseline, paths: &[PathObs], rewards: &[&[f64]], discount: f64, lambda: f64) -> Result<Vec<Vec<f64>>> {
    let returns: Vec<Vec<f64>> = rewards.iter().map(|r| discount_cumsum(r, discount)).collect();
    baseline.fit(paths, &returns)?;
    Ok(paths.iter().zip(rewards).map(|(path, r)| gae(r, &baseline.predict(path), discount, lambda)).collect())
}

/// The parameters as one vector.
pub fn flatten(tensors: &[Tensor]) -> Tensor {
    Tensor::cat(&tensors.iter().map(|t| t.reshape([-1])).collect::<Vec<_>>(), 0)
}

/// `flat` cut into pieces shaped like `like`.
pub fn unflatten(flat: &Tensor, like: &[Tensor]) -> Vec<Tensor> {
    let mut offset = 0;
    like.iter()
        .map(|t| {
            let n = t.numel() as i64;
            let piece = flat.narrow(0, offset, n).view_(t.size());
            offset += n;
            piece
        })
        .collect()
}

/// ∇f with respect to `params`, flat; parameters f does not use get zeros.
pub fn flat_grad(f: &Tensor, params: &[Tensor], create_graph: bool) -> Tensor {
    let grads = Tensor::run_backward(&[f], params, create_graph, create_graph);
    let grads: Vec<Tensor> = grads.into_iter().zip(params).map(|(g, p)| if g.defined() { g } else { p.zeros_like() }).collect();
    flatten(&grads)
}

/// Pearlmutter's Hessian-vector product `v ↦ (∇²f) v + reg·v` of a scalar `f` of `params`
/// (garage `_build_hessian_vector_product`): ∇f is built once with its graph, then each product is
/// the gradient of `∇f · v`.
pub struct HessianVectorProduct<'a> {
    grad: Tensor,
    params: &'a [Tensor],
    reg: f64,
}

impl<'a> HessianVectorProduct<'a> {
    pub fn new(f: &Tensor, params: &'a [Tensor], reg: f64) -> Self {
        HessianVectorProduct { grad: flat_grad(f, params, true), params, reg }
    }

    pub fn apply(&self, v: &Tensor) -> Tensor {
        let directional = (&self.grad * v.detach()).sum(self.grad.kind());
        let grads = Tensor::run_backward(&[directional], self.params, true, false);
        let grads: Vec<Tensor> = grads.into_iter().zip(self.params).map(|(g, p)| if g.defined() { g } else { p.zeros_like() }).collect();
        flatten(&grads) + v * self.reg
    }
}

/// Conjugate gradient for `A x = b` with A symmetric positive definite given as `a_times`
/// (Demmel p. 312; garage `_conjugate_gradient`): at most `iterations` steps, stopping once
/// ‖r‖² < `residual_tol`.
pub fn conjugate_gradient(a_times: impl Fn(&Tensor) -> Tensor, b: &Tensor, iterations: usize, residual_tol: f64) -> Tensor {
    let mut x = b.zeros_like();
    let mut r = b.copy();
    let mut p = b.copy();
    let mut r_dot_r = r.dot(&r);
    for _ in 0..iterations {
        let z = a_times(&p);
        let alpha = &r_dot_r / p.dot(&z);
        x += &alpha * &p;
        r -= &alpha * &z;
        let next = r.dot(&r);
        p = &r + (&next / &r_dot_r) * &p;
        r_dot_r = next;
        if r_dot_r.double_value(&[]) < residual_tol {
            break;
        }
    }
    x
}

/// TRPO's trust-region settings (garage `ConjugateGradientOptimizer` defaults).
#[derive(Debug, Clone, Copy)]
pub struct TrustRegion {
    /// δ, the largest mean KL between the old and new policies.
    pub max_kl: f64,
    pub cg_iters: usize,
    pub backtrack_ratio: f64,
    pub max_backtracks: usize,
    /// Damping added to the Hessian: A → A + reg·I.
    pub hvp_reg: f64,
}

/// What a TRPO step did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct TrpoOutcome {
    pub loss_before: f64,
    pub loss_after: f64,
    pub kl_after: f64,
    /// Fraction of the full step taken (0 when the line search rejected every candidate).
    pub step_fraction: f64,
}

/// One TRPO step on `params` in place: direction s = A⁻¹g by conjugate gradient (A the KL's
/// Hessian, via `hvp`), the largest step β = √(2δ / sᵀAs) along it, then a backtracking line
/// search by `backtrack_ratio` until the loss improves and KL ≤ δ; if none does, the parameters
/// are restored. `evaluate` returns (loss, KL) at the current parameter values.
/// The search direction s = A⁻¹g by conjugate gradient and the largest step β = √(2δ / sᵀAs)
/// along it (1 where that is not a number), as garage's `ConjugateGradientOptimizer` takes them.
pub fn search_direction(loss_grad: &Tensor, hvp: &HessianVectorProduct, region: &TrustRegion) -> (Tensor, f64) {
    let direction = conjugate_gradient(|v| hvp.apply(v), loss_grad, region.cg_iters, 1e-10).nan_to_num(0.0, None, None);
    let curvature = direction.dot(&hvp.apply(&direction)).double_value(&[]);
    let step_size = (2.0 * region.max_kl / (curvature + 1e-8)).sqrt();
    (direction, if step_size.is_nan() { 1.0 } else { step_size })
}

pub fn trpo_step(
    params: &[Tensor],
    loss_grad: &Tensor,
    hvp: &HessianVectorProduct,
    region: &TrustRegion,
    loss_before: f64,
    mut evaluate: impl FnMut() -> (f64, f64),
) -> TrpoOutcome {
    let (direction, step_size) = search_direction(loss_grad, hvp, region);
    let full_step = unflatten(&(direction.detach() * step_size), params);
    let start: Vec<Tensor> = params.iter().map(|p| p.detach().copy()).collect();
    let set = |fraction: f64| {
        tch::no_grad(|| {
            for ((p, s), step) in params.iter().zip(&start).zip(&full_step) {
                p.shallow_clone().copy_(&(s - step * fraction));
            }
        })
    };
    let mut fraction = 1.0;
    for _ in 0..region.max_backtracks {
        set(fraction);
        let (loss, kl) = evaluate();
        if loss < loss_before && kl <= region.max_kl {
            return TrpoOutcome { loss_before, loss_after: loss, kl_after: kl, step_fraction: fraction };
        }
        fraction *= region.backtrack_ratio;
    }
    set(0.0);
    TrpoOutcome { loss_before, loss_after: loss_before, kl_after: 0.0, step_fraction: 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn gae_and_returns_on_a_hand_computed_trajectory() {
        let rewards = [1.0, 0.0, 2.0];
        let values = [0.5, 1.0, 1.5];
        let (gamma, lambda) = (0.9, 0.8);
        // Returns: 2.0; 0 + 0.9·2 = 1.8; 1 + 0.9·1.8 = 2.62.
        assert!(close(&discount_cumsum(&rewards, gamma), &[2.62, 1.8, 2.0], 1e-12));
        // δ = [1 + 0.9·1 - 0.5, 0 + 0.9·1.5 - 1, 2 - 1.5] = [1.4, 0.35, 0.5];
        // A₂ = 0.5, A₁ = 0.35 + 0.72·0.5 = 0.71, A₀ = 1.4 + 0.72·0.71 = 1.9112.
        assert!(close(&gae(&rewards, &values, gamma, lambda), &[1.9112, 0.71, 0.5], 1e-12));
        // λ = 1 with V = 0 is the discounted return; λ = 0 is the one-step TD error.
        assert!(close(&gae(&rewards, &[0.0; 3], gamma, 1.0), &discount_cumsum(&rewards, gamma), 1e-12));
        assert!(close(&gae(&rewards, &values, gamma, 0.0), &[1.4, 0.35, 0.5], 1e-12));
        let mut adv = vec![1.0, 2.0, 3.0];
        standardize(&mut adv);
        let s = (2.0f64 / 3.0).sqrt();
        assert!(close(&adv, &[-1.0 / s, 0.0, 1.0 / s], 1e-7));
    }

    #[test]
    fn linear_baseline_recovers_a_function_of_its_features() {
        // Returns that are exactly 2·o + 0.5·(t/100) - 1 are fitted to the ridge's precision.
        let obs: Vec<f32> = (0..40).map(|i| ((i * 7) % 11) as f32 * 0.3 - 1.0).collect();
        let returns: Vec<f64> = obs.iter().enumerate().map(|(t, &o)| 2.0 * o as f64 + 0.5 * t as f64 / 100.0 - 1.0).collect();
        let path = PathObs { obs: &obs, obs_dim: 1 };
        let mut baseline = LinearFeatureBaseline::default();
        assert_eq!(baseline.predict(&path), vec![0.0; 40]);
        baseline.fit(&[PathObs { obs: &obs, obs_dim: 1 }], &[returns.clone()]).unwrap();
        assert!(close(&baseline.predict(&path), &returns, 1e-3));
    }

    #[test]
    fn conjugate_gradient_solves_a_small_spd_system() {
        let a = Tensor::from_slice(&[4.0f64, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0]).view([3, 3]);
        let b = Tensor::from_slice(&[1.0f64, 2.0, 3.0]);
        let x = conjugate_gradient(|v| a.mv(v), &b, 10, 1e-20);
        // Solved by hand (Cramer's rule, det = 18): x = (4, 2, 26)/18.
        let x = Vec::<f64>::try_from(x).unwrap();
        assert!(close(&x, &[2.0 / 9.0, 1.0 / 9.0, 13.0 / 9.0], 1e-10), "{x:?}");
        // CG is exact in n steps on an n×n system.
        let x3 = Vec::<f64>::try_from(conjugate_gradient(|v| a.mv(v), &b, 3, 0.0)).unwrap();
        assert!(close(&x3, &x, 1e-10));
    }

    #[test]
    fn hessian_vector_product_of_a_quadratic_is_the_matrix_product() {
        // f(x) = ½ xᵀ A x → ∇²f = A.
        let a = Tensor::from_slice(&[2.0f64, 0.5, 0.5, 1.0]).view([2, 2]);
        let x = Tensor::from_slice(&[0.3f64, -0.7]).set_requires_grad(true);
        let f = x.dot(&a.mv(&x)) * 0.5;
        let params = [x.shallow_clone()];
        let hvp = HessianVectorProduct::new(&f, &params, 0.0);
        let v = Tensor::from_slice(&[1.0f64, 2.0]);
        assert!(close(&Vec::<f64>::try_from(hvp.apply(&v)).unwrap(), &[3.0, 2.5], 1e-12));
    }

    #[test]
    fn trpo_step_stays_in_the_trust_region_and_improves_a_quadratic() {
        // loss = gᵀx, KL ≈ ½ xᵀ x (identity Fisher): the step is -√(2δ)·g/|g|.
        let x = Tensor::zeros([2], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        let params = [x.shallow_clone()];
        let g = Tensor::from_slice(&[3.0f64, 4.0]);
        let kl = x.dot(&x) * 0.5;
        let hvp = HessianVectorProduct::new(&kl, &params, 0.0);
        let region = TrustRegion { max_kl: 0.02, cg_iters: 10, backtrack_ratio: 0.8, max_backtracks: 15, hvp_reg: 0.0 };
        let outcome = trpo_step(&params, &g, &hvp, &region, 0.0, || {
            let v = Vec::<f64>::try_from(x.detach()).unwrap();
            (3.0 * v[0] + 4.0 * v[1], 0.5 * (v[0] * v[0] + v[1] * v[1]))
        });
        let moved = Vec::<f64>::try_from(x.detach()).unwrap();
        // Full step length √(2·0.02) = 0.2 has KL exactly δ: accepted at fraction 1.
        assert!(close(&moved, &[-0.12, -0.16], 1e-9), "{moved:?}");
        assert_eq!(outcome.step_fraction, 1.0);
        assert!((outcome.loss_after + 1.0).abs() < 1e-9 && outcome.kl_after <= 0.02 + 1e-12);

        // A loss that never improves: every candidate is rejected and x is restored.
        let rejected = trpo_step(&params, &g, &hvp, &region, -10.0, || (0.0, 0.0));
        assert_eq!(rejected.step_fraction, 0.0);
        assert!(close(&Vec::<f64>::try_from(x.detach()).unwrap(), &moved, 0.0));
    }
}
