//! PEARL's context encoder (Rakelly et al. 2019, §4.1; oyster `agent.py`): each context transition
//! gives a Gaussian factor Ψ(z|cₙ) = N(μₙ, σₙ²); the posterior q(z|c) is their product, and the
//! information bottleneck is KL(q(z|c) ‖ N(0, I)).

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::nn::{portable_sqrt, Mlp};

pub struct ContextEncoder {
    mlp: Mlp,
    latent: i64,
}

impl ContextEncoder {
    /// oyster `MlpEncoder`: hidden (200, 200, 200), output μ and pre-softplus σ² per transition.
    pub fn new(path: &nn::Path, input: i64, hidden: &[i64], latent: i64) -> Self {
        ContextEncoder { mlp: Mlp::new(path, input, hidden, 2 * latent, 3e-3), latent }
    }

    /// q(z|c) for context `[tasks, n, width]`: mean and variance `[tasks, latent]` of the product
    /// of the per-transition Gaussians, σ² = 1/Σ(1/σₙ²), μ = σ² Σ μₙ/σₙ² (σₙ² clamped at 1e-7).
    pub fn posterior(&self, context: &Tensor) -> (Tensor, Tensor) {
        self.product_of_factors(context, None)
    }

    /// q(z|w) for windows `[n, window, width]` whose rows past a short trajectory's end are
    /// padding: `mask` (`[n, window, 1]`, 0 for padding) leaves their factors out of the product.
    pub fn window_posterior(&self, windows: &Tensor, mask: &Tensor) -> (Tensor, Tensor) {
        self.product_of_factors(windows, Some(mask))
    }

    fn product_of_factors(&self, context: &Tensor, mask: Option<&Tensor>) -> (Tensor, Tensor) {
        let params = self.mlp.forward(context);
        let mu = params.narrow(-1, 0, self.latent);
        let var = params.narrow(-1, self.latent, self.latent).softplus().clamp_min(1e-7);
        let sum = |t: Tensor| t.sum_dim_intlist(1, false, Kind::Float);
        let (precision, weighted_mu) = match mask {
            None => (sum(var.reciprocal()), sum(mu / &var)),
            Some(mask) => (sum(mask / &var), sum(mu * mask / &var)),
        };
        let posterior_var = precision.reciprocal();
        let posterior_mean = &posterior_var * weighted_mu;
        (posterior_mean, posterior_var)
    }

    /// A reparameterised draw z = μ + σ·ε.
    pub fn sample(mean: &Tensor, var: &Tensor, noise: &Tensor) -> Tensor {
        mean + portable_sqrt(&var) * noise
    }

    /// Σ over tasks and dimensions of KL(N(μ, σ²) ‖ N(0, 1)) = ½(σ² + μ² - 1 - log σ²).
    pub fn kl_to_prior(mean: &Tensor, var: &Tensor) -> Tensor {
        ((var + mean.square() - 1.0 - var.log()) * 0.5).sum(Kind::Float)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn product_of_gaussians_sharpens_with_more_context_and_kl_is_zero_at_the_prior() {
        let mean = Tensor::from_slice(&[1.0f32, 3.0]).view([1, 1, 2]);
        let var = Tensor::from_slice(&[1.0f32, 1.0]).view([1, 1, 2]);
        // Two unit-variance factors at 1 and 3 → N(2, 1/2), by the closed form used above.
        let precision = (var.reciprocal() * 2.0).sum(Kind::Float);
        assert!((precision.double_value(&[]) - 4.0).abs() < 1e-6 && mean.numel() == 2);
        let zeros = Tensor::zeros([3, 4], (Kind::Float, Device::Cpu));
        let ones = Tensor::ones([3, 4], (Kind::Float, Device::Cpu));
        assert_eq!(ContextEncoder::kl_to_prior(&zeros, &ones).double_value(&[]), 0.0);
        let shifted = ContextEncoder::kl_to_prior(&ones, &ones).double_value(&[]);
        assert!((shifted - 6.0).abs() < 1e-6, "12 dims × ½·1² = 6, got {shifted}");

        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let encoder = ContextEncoder::new(&vs.root(), 3, &[16], 2);
        let context = Tensor::randn([2, 10, 3], (Kind::Float, Device::Cpu));
        let (_, var_10) = encoder.posterior(&context);
        let (_, var_1) = encoder.posterior(&context.narrow(1, 0, 1));
        let shrank = var_10.lt_tensor(&var_1).all().int64_value(&[]);
        assert_eq!(shrank, 1, "ten factors give a tighter posterior than one");

        // Masking rows out of a window is the same as leaving them out.
        let mask = Tensor::cat(&[Tensor::ones([2, 4, 1], (Kind::Float, Device::Cpu)), Tensor::zeros([2, 6, 1], (Kind::Float, Device::Cpu))], 1);
        let (masked_mean, masked_var) = encoder.window_posterior(&context, &mask);
        let (mean_4, var_4) = encoder.posterior(&context.narrow(1, 0, 4));
        assert!(masked_mean.allclose(&mean_4, 1e-5, 1e-6, false) && masked_var.allclose(&var_4, 1e-5, 1e-6, false));
    }
}
