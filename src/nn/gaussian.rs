//! garage's `GaussianMLPPolicy` with functional parameters, for MAML: tanh hidden layers, a linear
//! mean head and a state-independent log σ, evaluated on an explicit parameter list so that an
//! inner step θ' = θ - α∇L(θ) taken with `create_graph` keeps θ' a differentiable function of θ.

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

/// garage's `min_std` (σ ≥ 1e-6).
const LOG_STD_MIN: f64 = -13.815_510_557_964_274;

/// A diagonal Gaussian over actions: `mean` `[.., a]`, `log_std` broadcast to it.
pub struct DiagGaussian {
    pub mean: Tensor,
    pub log_std: Tensor,
}

impl DiagGaussian {
    /// log N(a; μ, σ²) summed over action dimensions, `[..]`.
    pub fn log_prob(&self, actions: &Tensor) -> Tensor {
        let z = (actions - &self.mean) / self.log_std.exp();
        let per_dim = z.square() * -0.5 - &self.log_std - 0.5 * (2.0 * std::f64::consts::PI).ln();
        per_dim.sum_dim_intlist(-1, false, None::<Kind>)
    }

    /// KL(self ‖ other) summed over action dimensions, `[..]`.
    pub fn kl(&self, other: &DiagGaussian) -> Tensor {
        let var = (&self.log_std * 2.0).exp();
        let other_var = (&other.log_std * 2.0).exp();
        let per_dim = &other.log_std - &self.log_std + (var + (&self.mean - &other.mean).square()) / (other_var * 2.0) - 0.5;
        per_dim.sum_dim_intlist(-1, false, None::<Kind>)
    }

    /// Differential entropy Σ (log σ + ½ log 2πe), `[..]`.
    pub fn entropy(&self) -> Tensor {
        let per_dim = &self.log_std + 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln();
        per_dim.expand_as(&self.mean).sum_dim_intlist(-1, false, None::<Kind>)
    }

    /// μ + σ·ε for standard normal `noise` of the mean's shape.
    pub fn sample(&self, noise: &Tensor) -> Tensor {
        &self.mean + self.log_std.exp() * noise
    }

    /// The same distribution cut from the graph.
    pub fn detach(&self) -> DiagGaussian {
        DiagGaussian { mean: self.mean.detach(), log_std: self.log_std.detach() }
    }
}

/// The policy's shape; its parameters are a flat list `[w0, b0, w1, b1, …, w_out, b_out, log_std]`.
#[derive(Debug)]
pub struct GaussianMlpPolicy {
    params: Vec<Tensor>,
}

impl GaussianMlpPolicy {
    /// garage's initialisation: Xavier-uniform weights, zero biases, log σ = log `init_std`.
    pub fn new(path: &nn::Path, obs_dim: i64, hidden: &[i64], action_dim: i64, init_std: f64) -> Self {
        let mut params = Vec::new();
        let widths: Vec<i64> = std::iter::once(obs_dim).chain(hidden.iter().copied()).chain([action_dim]).collect();
        for (i, pair) in widths.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
            let layer = path / format!("fc{i}");
            params.push(layer.var("weight", &[fan_out, fan_in], Init::Uniform { lo: -bound, up: bound }));
            params.push(layer.var("bias", &[fan_out], Init::Const(0.0)));
        }
        params.push(path.var("log_std", &[action_dim], Init::Const(init_std.ln())));
        GaussianMlpPolicy { params }
    }

    /// θ: the policy's own parameters (leaves of the variable store).
    pub fn parameters(&self) -> &[Tensor] {
        &self.params
    }

    /// π(·|s) under the parameter list `params` (θ or an adapted θ'), `obs` `[n, obs_dim]`.
    pub fn distribution(params: &[Tensor], obs: &Tensor) -> DiagGaussian {
        let (layers, log_std) = params.split_at(params.len() - 1);
        let depth = layers.len() / 2;
        let mut h = obs.shallow_clone();
        for (i, layer) in layers.chunks(2).enumerate() {
            h = h.linear(&layer[0], Some(&layer[1]));
            if i + 1 < depth {
                h = h.tanh();
            }
        }
        let log_std = log_std[0].clamp_min(LOG_STD_MIN).expand_as(&h);
        DiagGaussian { mean: h, log_std }
    }
}

/// π(·|s) for rows that each act with their own parameter list, in one batched pass: `stacked[i]`
/// is parameter i of K lists stacked on a new first axis, `which` `[n]` picks each row's list.
pub fn distribution_per_row(stacked: &[Tensor], which: &Tensor, obs: &Tensor) -> DiagGaussian {
    let (layers, log_std) = stacked.split_at(stacked.len() - 1);
    let depth = layers.len() / 2;
    let mut h = obs.unsqueeze(2);
    for (i, layer) in layers.chunks(2).enumerate() {
        h = layer[0].index_select(0, which).bmm(&h) + layer[1].index_select(0, which).unsqueeze(2);
        if i + 1 < depth {
            h = h.tanh();
        }
    }
    let mean = h.squeeze_dim(2);
    let log_std = log_std[0].index_select(0, which).clamp_min(LOG_STD_MIN);
    DiagGaussian { mean, log_std }
}

/// Parameter lists stacked for [`distribution_per_row`].
pub fn stack_params(lists: &[Vec<Tensor>]) -> Vec<Tensor> {
    (0..lists[0].len()).map(|i| Tensor::stack(&lists.iter().map(|l| l[i].shallow_clone()).collect::<Vec<_>>(), 0)).collect()
}

/// Shallow copies (same storage, same graph) of a parameter list.
pub fn shallow_copies(params: &[Tensor]) -> Vec<Tensor> {
    params.iter().map(Tensor::shallow_clone).collect()
}

/// One plain gradient step on a parameter list, θ' = θ - α∇L(θ) (MAML's inner update, garage's
/// `DifferentiableSGD`). With `create_graph` θ' stays a function of θ for second-order gradients;
/// without, θ' is detached.
pub fn sgd_step(params: &[Tensor], loss: &Tensor, lr: f64, create_graph: bool) -> Vec<Tensor> {
    let grads = Tensor::run_backward(&[loss], params, create_graph, create_graph);
    params
        .iter()
        .zip(grads)
        .map(|(p, g)| {
            let g = if g.defined() { g } else { p.zeros_like() };
            if create_graph {
                p - g * lr
            } else {
                (p.detach() - g * lr).set_requires_grad(true)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn t(values: &[f64]) -> Tensor {
        Tensor::from_slice(values)
    }

    #[test]
    fn gaussian_log_prob_kl_and_entropy_match_closed_forms() {
        // N(1, 2²) at a = 2: -½(½)² - ln 2 - ½ ln 2π.
        let d = DiagGaussian { mean: t(&[1.0]), log_std: t(&[2f64.ln()]) };
        let expected = -0.125 - 2f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((d.log_prob(&t(&[2.0])).double_value(&[]) - expected).abs() < 1e-12);
        // KL(N(0,1) ‖ N(1,2²)) = ln 2 + (1 + 1)/8 - ½.
        let p = DiagGaussian { mean: t(&[0.0]), log_std: t(&[0.0]) };
        assert!((p.kl(&d).double_value(&[]) - (2f64.ln() + 0.25 - 0.5)).abs() < 1e-12);
        assert!(p.kl(&p).double_value(&[]).abs() < 1e-15);
        let two_dims = DiagGaussian { mean: t(&[0.0, 0.0]), log_std: t(&[0.0, 0.0]) };
        let entropy = (2.0 * std::f64::consts::PI * std::f64::consts::E).ln();
        assert!((two_dims.entropy().double_value(&[]) - entropy).abs() < 1e-12);
    }

    #[test]
    fn functional_forward_is_a_tanh_mlp_and_the_inner_step_keeps_the_graph() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let policy = GaussianMlpPolicy::new(&vs.root(), 3, &[4, 4], 2, 1.0);
        assert_eq!(policy.parameters().len(), 7);
        let obs = Tensor::randn([5, 3], (Kind::Float, Device::Cpu));
        let p = policy.parameters();
        let by_hand = obs.linear(&p[0], Some(&p[1])).tanh().linear(&p[2], Some(&p[3])).tanh().linear(&p[4], Some(&p[5]));
        let dist = GaussianMlpPolicy::distribution(p, &obs);
        assert_eq!(f64::try_from((dist.mean - by_hand).abs().max()).unwrap(), 0.0);
        assert_eq!(dist.log_std.size(), [5, 2]);

        let actions = Tensor::randn([5, 2], (Kind::Float, Device::Cpu));
        let loss = -GaussianMlpPolicy::distribution(p, &obs).log_prob(&actions).mean(Kind::Float);
        let adapted = sgd_step(p, &loss, 0.1, true);
        assert!(adapted.iter().all(|a| a.requires_grad()), "θ' is a function of θ");
        let outer = GaussianMlpPolicy::distribution(&adapted, &obs).log_prob(&actions).sum(Kind::Float);
        let grads = Tensor::run_backward(&[outer], p, false, false);
        assert!(grads.iter().all(|g| g.defined() && f64::try_from(g.abs().sum(Kind::Float)).unwrap() > 0.0));
        let detached = sgd_step(p, &(-GaussianMlpPolicy::distribution(p, &obs).log_prob(&actions).mean(Kind::Float)), 0.1, false);
        for (a, d) in adapted.iter().zip(&detached) {
            assert!(f64::try_from((a - d).abs().max()).unwrap() < 1e-6, "same step with and without the graph");
        }

        // Rows acting with different lists in one batched pass = each row on its own.
        let lists = vec![shallow_copies(p), detached];
        let which = Tensor::from_slice(&[1i64, 0, 0, 1, 1]);
        let batched = distribution_per_row(&stack_params(&lists), &which, &obs);
        for (row, &k) in [1usize, 0, 0, 1, 1].iter().enumerate() {
            let alone = GaussianMlpPolicy::distribution(&lists[k], &obs.narrow(0, row as i64, 1));
            let gap = f64::try_from((batched.mean.narrow(0, row as i64, 1) - alone.mean).abs().max()).unwrap();
            assert!(gap < 1e-6, "row {row}: {gap}");
            assert_eq!(batched.log_std.narrow(0, row as i64, 1).size(), alone.log_std.size());
        }
    }
}
