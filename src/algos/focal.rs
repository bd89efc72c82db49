//! FOCAL's task inference (Li et al. 2021, papers/002 §4.1-4.2): a context encoder trained by
//! distance metric learning on the embeddings of a meta-batch, apart from the Bellman backup.
//! Embedding distances are per latent dimension, d²(qᵢ, qⱼ) = ‖qᵢ − qⱼ‖²/l (FOCAL-ICLR's
//! `z_loss`), so the loss weights do not depend on the latent size.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::pearl::ContextEncoder;
use crate::nn::{portable_sqrt, Mlp};

/// FOCAL's deterministic encoder: z = the mean over the context of tanh(f(cₙ)), in (-1, 1)^latent
/// (papers/002 App. F: tanh is the encoder's last activation and a context's embedding is the
/// average of its transitions' embeddings; FOCAL-ICLR's `MlpEncoder` with `output_activation=tanh`).
pub struct DeterministicEncoder {
    mlp: Mlp,
}

impl DeterministicEncoder {
    pub fn new(path: &nn::Path, input: i64, hidden: &[i64], latent: i64) -> Self {
        DeterministicEncoder { mlp: Mlp::new(path, input, hidden, latent, 3e-3) }
    }

    /// z `[tasks, latent]` for context `[tasks, n, width]`.
    pub fn embed(&self, context: &Tensor) -> Tensor {
        self.mlp.forward(context).tanh().mean_dim(1, false, Kind::Float)
    }
}

/// The encoder a run uses (papers/002 Fig. 4 compares the two).
pub enum TaskEncoder {
    Deterministic(DeterministicEncoder),
    Probabilistic(ContextEncoder),
}

/// One encoding of a meta-batch's contexts.
pub struct Encoding {
    /// What the actor-critic is conditioned on: z, or a draw from q(z|c).
    pub z: Tensor,
    /// The point embedding the metrics see: z, or q(z|c)'s mean.
    pub embedding: Tensor,
    /// KL(q(z|c) ‖ N(0, I)) summed over tasks (probabilistic only).
    pub kl: Option<Tensor>,
}

impl TaskEncoder {
    pub fn new(path: &nn::Path, probabilistic: bool, input: i64, hidden: &[i64], latent: i64) -> Self {
        if probabilistic {
            TaskEncoder::Probabilistic(ContextEncoder::new(path, input, hidden, latent))
        } else {
            TaskEncoder::Deterministic(DeterministicEncoder::new(path, input, hidden, latent))
        }
    }

    /// `noise` (standard normal, `[tasks, latent]`) draws z from q(z|c); the deterministic
    /// encoder ignores it.
    pub fn encode(&self, context: &Tensor, noise: &Tensor) -> Encoding {
        match self {
            TaskEncoder::Deterministic(encoder) => {
                let z = encoder.embed(context);
                Encoding { embedding: z.shallow_clone(), z, kl: None }
            }
            TaskEncoder::Probabilistic(encoder) => {
                let (mean, var) = encoder.posterior(context);
                let kl = ContextEncoder::kl_to_prior(&mean, &var);
                Encoding { z: ContextEncoder::sample(&mean, &var, noise), embedding: mean, kl: Some(kl) }
            }
        }
    }
}

/// What a same-task pair costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SameTaskTerm {
    /// √(d² + 10⁻³), FOCAL-ICLR's `z_loss`: a pull of unit strength however close the pair.
    Distance,
    /// d², Eq. 12-13 as written: a pull that fades as the pair closes.
    Square,
}

/// FOCAL-ICLR's ε under the square root of a same-task distance.
const SAME_TASK_EPSILON: f64 = 1e-3;

/// The metric loss on embeddings of a meta-batch: `same_task` on same-task pairs, the
/// different-task term below on the others.
#[derive(Debug, Clone, Copy)]
pub enum MetricLoss {
    /// Eq. 13: same task d², different tasks β/(dⁿ + ε).
    InversePower { power: f64, beta: f64, epsilon: f64 },
    /// Eq. 12: same task d², different tasks max(0, m − d)².
    Contrastive { margin: f64 },
    /// Fig. 2's positive powers (L1, L2): different tasks −β·dᵖ, a reward for distance that
    /// Lemma B.1 shows a degenerate two-cluster embedding can maximise.
    DistancePower { power: f64, beta: f64 },
}

impl MetricLoss {
    /// The positive-power loss weighted as papers/002 App. A (b) weighs Fig. 2's losses: equal to
    /// `matched`'s different-task term where the per-dimension distance is 0.5.
    pub fn distance_power_matched(power: f64, matched: MetricLoss) -> MetricLoss {
        let half = Tensor::from_slice(&[0.25f32]);
        let target = Self::different_task_term(&half, matched).double_value(&[0]).abs();
        MetricLoss::DistancePower { power, beta: target / 0.5f64.powf(power) }
    }

    /// The cost of different-task pairs at squared per-dimension distances `d2`.
    fn different_task_term(d2: &Tensor, loss: MetricLoss) -> Tensor {
        let distance = || portable_sqrt(&(d2 + 1e-12));
        match loss {
            MetricLoss::InversePower { power, beta, epsilon } => ((d2 + 1e-12).pow_tensor_scalar(power / 2.0) + epsilon).reciprocal() * beta,
            MetricLoss::Contrastive { margin } => (distance().neg() + margin).clamp_min(0.0).square(),
            MetricLoss::DistancePower { power, beta } => distance().pow_tensor_scalar(power) * -beta,
        }
    }
}

/// Row indices of the pairs i < j with equal (`same`) or different labels.
fn pairs(labels: &[usize], same: bool) -> (Tensor, Tensor) {
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for i in 0..labels.len() {
        for j in i + 1..labels.len() {
            if (labels[i] == labels[j]) == same {
                left.push(i as i64);
                right.push(j as i64);
            }
        }
    }
    (Tensor::from_slice(&left), Tensor::from_slice(&right))
}

/// d² per pair, `[pairs]`.
fn pair_square_distances(z: &Tensor, (left, right): &(Tensor, Tensor)) -> Tensor {
    let device = z.device();
    let diff = z.index_select(0, &left.to_device(device)) - z.index_select(0, &right.to_device(device));
    diff.square().mean_dim(-1, false, Kind::Float)
}

fn mean_or_zero(t: Tensor, device: Device) -> Tensor {
    if t.numel() == 0 { Tensor::zeros([], (Kind::Float, device)) } else { t.mean(Kind::Float) }
}

/// The loss over all pairs of rows of `z` (`[m, latent]`, row i from task `labels[i]`): the mean
/// over same-task pairs plus the mean over different-task pairs (FOCAL-ICLR averages each kind).
pub fn metric_loss(z: &Tensor, labels: &[usize], same_task: SameTaskTerm, loss: MetricLoss) -> Tensor {
    let device = z.device();
    let same = pair_square_distances(z, &pairs(labels, true));
    let same = match same_task {
        SameTaskTerm::Distance => portable_sqrt(&(same + SAME_TASK_EPSILON)),
        SameTaskTerm::Square => same,
    };
    let positive = mean_or_zero(same, device);
    let d2 = pair_square_distances(z, &pairs(labels, false));
    positive + mean_or_zero(MetricLoss::different_task_term(&d2, loss), device)
}

/// papers/002 §5.2.1 on embeddings `[m, latent]` in (-1, 1)^l: the effective separation rate
/// (share of different-task pairs whose squared distance exceeds 2l/3, its expectation for
/// uniform random vectors) and the RMS distance of different-task pairs.
pub fn separation(embeddings: &Tensor, labels: &[usize]) -> (f64, f64) {
    let latent = embeddings.size()[1] as f64;
    let square = pair_square_distances(embeddings, &pairs(labels, false)) * latent;
    if square.numel() == 0 {
        return (0.0, 0.0);
    }
    let separated = square.gt(2.0 * latent / 3.0).to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
    (separated, portable_sqrt(&square.mean(Kind::Float)).double_value(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[f32], width: i64) -> Tensor {
        Tensor::from_slice(values).view([-1, width])
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn dml_loss_pulls_same_task_pairs_and_pushes_others_by_an_inverse_power() {
        use SameTaskTerm::{Distance, Square};
        // Rows 0 and 2 are task 0, row 1 task 1: d²(0,1) = mean(1, 1) = 1, d²(0,2) = mean(0, .25) = .125,
        // d²(1,2) = mean(1, .25) = .625.
        let z = rows(&[0.0, 0.0, 1.0, 1.0, 0.0, 0.5], 2);
        let labels = [0, 1, 0];
        let loss = |same: SameTaskTerm, metric: MetricLoss| metric_loss(&z, &labels, same, metric).double_value(&[]);
        let inverse_square = MetricLoss::InversePower { power: 2.0, beta: 1.0, epsilon: 0.1 };
        // .125 + (1/(1 + .1) + 1/(.625 + .1))/2
        assert!(close(loss(Square, inverse_square), 1.2692006), "inverse square");
        // FOCAL-ICLR's same-task term: √(.125 + .001) + the same different-task mean.
        assert!(close(loss(Distance, inverse_square), 0.3549648 + 1.1442006), "same-task distance");
        // .125 + (1/(1 + .1) + 1/(√.625 + .1))/2
        let inverse = MetricLoss::InversePower { power: 1.0, beta: 1.0, epsilon: 0.1 };
        assert!(close(loss(Square, inverse), 1.1409840), "inverse");
        // β scales the different-task term only: .125 + 2·1.1442006.
        let doubled = MetricLoss::InversePower { power: 2.0, beta: 2.0, epsilon: 0.1 };
        assert!(close(loss(Square, doubled), 2.4134013), "beta");
        // Eq. 12, m = 1: .125 + (max(0, 1 − 1)² + (1 − √.625)²)/2.
        assert!(close(loss(Square, MetricLoss::Contrastive { margin: 1.0 }), 0.1469306), "contrastive");
        // Fig. 2's square distance, β = 2: .125 − 2·(1 + .625)/2; linear: .125 − 2·(1 + √.625)/2.
        assert!(close(loss(Square, MetricLoss::DistancePower { power: 2.0, beta: 2.0 }), -1.5), "square distance");
        assert!(close(loss(Square, MetricLoss::DistancePower { power: 1.0, beta: 2.0 }), 0.125 - 1.0 - 0.7905694), "linear distance");
        // Matched to the inverse square (ε = .1) at d = .5: β·.25 = 1/(.25 + .1), β = 11.428571.
        let MetricLoss::DistancePower { beta, .. } = MetricLoss::distance_power_matched(2.0, inverse_square) else { panic!() };
        assert!(close(beta, 11.428571), "matched weight {beta}");
        // ε bounds the loss of two tasks embedded at one point: β/ε.
        let collapsed = rows(&[0.3, -0.2, 0.3, -0.2], 2);
        assert!(close(metric_loss(&collapsed, &[0, 1], Distance, inverse_square).double_value(&[]), 10.0), "epsilon");
        // Only same-task pairs: their mean cost, no repulsion: d² = .5, √(.5 + .001) = .7078135.
        let same_only = rows(&[0.0, 0.0, 1.0, 0.0], 2);
        assert!(close(metric_loss(&same_only, &[4, 4], Square, inverse_square).double_value(&[]), 0.5), "positives only");
        assert!(close(metric_loss(&same_only, &[4, 4], Distance, inverse_square).double_value(&[]), 0.7078135), "positive distance only");
    }

    #[test]
    fn the_same_task_distance_pulls_with_unit_strength_where_the_square_fades() {
        // One pair at per-dimension distance .01 (l = 1): d/dz √(d² + .001) = .01/√.0011 = .3015113,
        // d/dz d² = 2·.01 = .02.
        let grad = |same: SameTaskTerm| {
            let z = rows(&[0.01, 0.0], 1).set_requires_grad(true);
            metric_loss(&z, &[3, 3], same, MetricLoss::InversePower { power: 2.0, beta: 1.0, epsilon: 0.1 }).backward();
            z.grad().double_value(&[0, 0])
        };
        assert!(close(grad(SameTaskTerm::Distance), 0.3015113) && close(grad(SameTaskTerm::Square), 0.02));
    }

    #[test]
    fn the_gradient_of_the_inverse_power_pushes_different_tasks_apart() {
        let z = rows(&[0.1, 0.0, -0.1, 0.0], 2).set_requires_grad(true);
        metric_loss(&z, &[0, 1], SameTaskTerm::Distance, MetricLoss::InversePower { power: 2.0, beta: 1.0, epsilon: 0.1 }).backward();
        let grad = Vec::<f32>::try_from(z.grad().reshape([-1])).unwrap();
        assert!(grad[0] < 0.0 && grad[2] > 0.0, "descent moves row 0 right and row 1 left: {grad:?}");
    }

    #[test]
    fn separation_counts_different_task_pairs_beyond_the_random_expectation() {
        // l = 1, threshold 2/3: pairs (0,1) at 4 and (0,2) at 3.61 count; (1,2) is one task.
        let (rate, rms) = separation(&rows(&[-1.0, 1.0, 0.9], 1), &[0, 1, 1]);
        assert!(close(rate, 1.0) && close(rms, 1.9506409), "{rate} {rms}");
        let (rate, rms) = separation(&rows(&[0.0, 0.5], 1), &[0, 1]);
        assert!(close(rate, 0.0) && close(rms, 0.5), "{rate} {rms}");
    }

    #[test]
    fn the_deterministic_encoder_is_bounded_and_order_free() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let encoder = DeterministicEncoder::new(&vs.root(), 3, &[8], 4);
        let context = Tensor::randn([2, 5, 3], (Kind::Float, Device::Cpu)) * 100.0;
        let z = encoder.embed(&context);
        assert_eq!(z.size(), [2, 4]);
        assert!(z.abs().max().double_value(&[]) < 1.0);
        let reversed = encoder.embed(&context.flip([1]));
        assert!(z.allclose(&reversed, 1e-5, 1e-6, false));
    }
}
