//! The contrastive task-representation loss that TCL-PEARL (papers/001 §4.2, Algorithms 1-2) and
//! CoCOA (papers/000 §4) add to PEARL.
//!
//! Per gradient step, each task of the meta-batch gives one trajectory of its encoder buffer and
//! two windows cropped from it: the query, encoded by PEARL's encoder f_φq, and its positive key,
//! encoded by the momentum key encoder f_φk; the other N - 1 keys are the query's negatives. The
//! loss is InfoNCE over the N × N similarities of the window posteriors. The query encoder gets
//! it (scaled, Table 4) on top of PEARL's Q loss and KL; the key encoder only follows the query
//! encoder by an exponential moving average (Alg. 2 lines 15-16).

use serde::{Deserialize, Serialize};
use tch::nn::{self, Init};
use tch::{Kind, Tensor};

use super::pearl::ContextEncoder;
use super::sac::{ContextSettings, Sac};
use crate::nn::{portable_sqrt, soft_update, Adam};

/// How a query window's posterior is compared with a key window's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Similarity {
    /// TCL (papers/001 Eq. 7): −(‖μq − μk‖² + ‖σq − σk‖²).
    Wasserstein,
    /// CoCOA (papers/000 Eq. 4.2): −(μq − μk)ᵀ Σ⁻¹ (μq − μk), Σ = (Σq + Σk)/2, diagonal.
    Bhattacharyya,
    /// CoCOA's ablation (papers/000 Table 5.2): μqᵀ W μk with W learned.
    Bilinear,
}

/// Where PEARL's z comes from in a TCL/CoCOA gradient step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PearlContext {
    /// PEARL's own context sample, `embedding_batch_size` transitions per task, as in PEARL.
    #[default]
    Sampled,
    /// The contrastive query windows, shared by PEARL's loss and the contrastive one (papers/001
    /// §4.3(2), Alg. 2 lines 11-13).
    QueryWindows,
}

/// The diagonal Gaussians q(z|w) of a batch of windows, `[n, latent]` each.
pub struct Gaussians {
    pub mean: Tensor,
    pub var: Tensor,
}

/// `[n, m]` squared Euclidean distances between the rows of `a` `[n, d]` and `b` `[m, d]`.
fn pairwise_squared_distance(a: &Tensor, b: &Tensor) -> Tensor {
    (a.unsqueeze(1) - b.unsqueeze(0)).square().sum_dim_intlist(-1, false, Kind::Float)
}

/// papers/001 Eq. 7 for every query-key pair, `[n, m]` (Alg. 1 lines 2-4).
pub fn wasserstein_similarity(q: &Gaussians, k: &Gaussians) -> Tensor {
    -(pairwise_squared_distance(&q.mean, &k.mean) + pairwise_squared_distance(&portable_sqrt(&q.var), &portable_sqrt(&k.var)))
}

/// papers/000 Eq. 4.2 for every query-key pair, `[n, m]`.
pub fn bhattacharyya_similarity(q: &Gaussians, k: &Gaussians) -> Tensor {
    let difference = q.mean.unsqueeze(1) - k.mean.unsqueeze(0);
    let average_var = (q.var.unsqueeze(1) + k.var.unsqueeze(0)) * 0.5;
    -(difference.square() / average_var).sum_dim_intlist(-1, false, Kind::Float)
}

/// μqᵀ W μk for every query-key pair, `[n, m]` (CURL's bilinear product on the means).
pub fn bilinear_similarity(q: &Gaussians, w: &Tensor, k: &Gaussians) -> Tensor {
    q.mean.matmul(w).matmul(&k.mean.transpose(0, 1))
}

/// Alg. 1 line 5: subtract each row's maximum, so the largest logit of a row is 0 (stable
/// exponentials; the cross-entropy is unchanged).
pub fn shift_by_row_max(scores: &Tensor) -> Tensor {
    scores - scores.amax([1].as_slice(), true)
}

/// papers/001 Eq. 8: the N-way cross-entropy whose label for query i is key i.
pub fn info_nce(logits: &Tensor) -> Tensor {
    let labels = Tensor::arange(logits.size()[0], (Kind::Int64, logits.device()));
    logits.cross_entropy_for_logits(&labels)
}

/// The contrastive hyper-parameters (papers/001 Tables 4 and 8, §C.1; papers/000 §4).
#[derive(Debug, Clone)]
pub struct ContrastiveSettings {
    pub similarity: Similarity,
    /// The contrastive loss's weight in the query encoder's objective.
    pub loss_scale: f64,
    /// Logits are similarities divided by it.
    pub temperature: f64,
    /// Each step, φk ← (1 − τ)·φk + τ·φq.
    pub key_encoder_tau: f64,
    /// CoCOA: weight of KL(q ‖ N(0, I)) on the queries; `None` for TCL.
    pub query_kl_lambda: Option<f64>,
    /// Learning rate of the bilinear W.
    pub bilinear_lr: f64,
}

/// One step's contrastive terms: the loss for the query encoder's backward pass and its parts.
pub struct ContrastiveTerms {
    /// scale · InfoNCE (+ λ · KL on the queries for CoCOA), with gradients into φq (and W).
    pub loss: Tensor,
    pub info_nce: f64,
    pub query_kl: Option<f64>,
    /// The query windows' q(z|w), mean and variance `[n, latent]`, with their graph.
    pub queries: Gaussians,
}

pub struct Contrastive {
    pub settings: ContrastiveSettings,
    /// The key encoder and, for the bilinear similarity, W.
    vars: nn::VarStore,
    key_encoder: ContextEncoder,
    key_params: Vec<Tensor>,
    /// The query encoder's parameters (PEARL's encoder in `Sac`), in the key's order.
    query_params: Vec<Tensor>,
    bilinear: Option<(Tensor, Adam)>,
}

/// Variables of `vars` under `prefix`, sorted by name (the order `Sac::encoder_params` uses).
fn sorted_params(vars: &nn::VarStore, prefix: &str) -> Vec<Tensor> {
    let mut named: Vec<(String, Tensor)> = vars.variables().into_iter().filter(|(n, _)| n.starts_with(prefix)).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.into_iter().map(|(_, t)| t).collect()
}

impl Contrastive {
    /// A key encoder shaped like `sac`'s context encoder and starting as its copy (MoCo).
    pub fn new(settings: ContrastiveSettings, sac: &Sac, context: &ContextSettings) -> Self {
        let vars = nn::VarStore::new(sac.device);
        let root = vars.root();
        let latent = sac.settings.z_dim;
        let key_encoder = ContextEncoder::new(&(&root / "key_encoder"), context.input_dim, &context.hidden, latent);
        let bilinear = (settings.similarity == Similarity::Bilinear).then(|| {
            let w = root.var("bilinear_w", &[latent, latent], Init::Uniform { lo: 0.0, up: 1.0 });
            let optimizer = Adam::new(vec![w.shallow_clone()], settings.bilinear_lr);
            (w, optimizer)
        });
        let key_params = sorted_params(&vars, "key_encoder.");
        let query_params = sac.encoder_params();
        for p in &key_params {
            let _ = p.shallow_clone().set_requires_grad(false);
        }
        soft_update(&key_params, &query_params, 1.0);
        Contrastive { settings, vars, key_encoder, key_params, query_params, bilinear }
    }

    /// The contrastive terms for query windows (encoded by `query_encoder`, with gradients) and
    /// key windows (encoded by the key encoder), `[n, window, width]` with `mask` `[n, window, 1]`.
    /// `shared_trajectory` (`[n, n]`, true where key j ≠ i was cropped from query i's trajectory)
    /// takes those keys out of query i's negatives.
    pub fn terms(&self, query_encoder: &ContextEncoder, queries: &Tensor, keys: &Tensor, mask: &Tensor, shared_trajectory: Option<&Tensor>) -> ContrastiveTerms {
        let device = self.vars.device();
        let mask = mask.to_device(device);
        let (mean, var) = query_encoder.window_posterior(&queries.to_device(device), &mask);
        let q = Gaussians { mean, var };
        let (mean, var) = tch::no_grad(|| self.key_encoder.window_posterior(&keys.to_device(device), &mask));
        let k = Gaussians { mean, var };
        let scores = match (&self.bilinear, self.settings.similarity) {
            (Some((w, _)), _) => bilinear_similarity(&q, w, &k),
            (None, Similarity::Bhattacharyya) => bhattacharyya_similarity(&q, &k),
            (None, _) => wasserstein_similarity(&q, &k),
        };
        let mut logits = scores / self.settings.temperature;
        if let Some(shared) = shared_trajectory {
            logits = logits.masked_fill(&shared.to_device(device), f64::NEG_INFINITY);
        }
        let info_nce = info_nce(&shift_by_row_max(&logits));
        let mut loss = &info_nce * self.settings.loss_scale;
        let mut query_kl = None;
        if let Some(lambda) = self.settings.query_kl_lambda {
            // papers/000 §4.5: keeps the queries in the prior's region, where posterior sampling explores.
            let kl = ContextEncoder::kl_to_prior(&q.mean, &q.var);
            loss = loss + &kl * lambda;
            query_kl = Some(kl.double_value(&[]));
        }
        ContrastiveTerms { loss, info_nce: info_nce.double_value(&[]), query_kl, queries: q }
    }

    /// After the query encoder's update: W's own step (bilinear), then the key encoder's EMA
    /// toward the query encoder (Alg. 2 line 16).
    pub fn after_step(&mut self) {
        if let Some((_, optimizer)) = &mut self.bilinear {
            optimizer.step();
            optimizer.zero_grad();
        }
        soft_update(&self.key_params, &self.query_params, self.settings.key_encoder_tau);
    }

    /// The key encoder's posterior of windows (no gradients), for analysis and tests.
    pub fn key_posterior(&self, windows: &Tensor, mask: &Tensor) -> Gaussians {
        let (mean, var) = tch::no_grad(|| self.key_encoder.window_posterior(windows, mask));
        Gaussians { mean, var }
    }

    /// Key encoder, W and W's Adam moments, named for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named: Vec<(String, Tensor)> = self.vars.variables().into_iter().map(|(n, t)| (format!("contrastive.{n}"), t)).collect();
        if let Some((_, optimizer)) = &self.bilinear {
            named.extend(optimizer.state("adam.bilinear_w"));
        }
        named
    }

    pub fn load_state(&mut self, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        tch::no_grad(|| {
            for (name, var) in self.vars.variables() {
                let key = format!("contrastive.{name}");
                var.shallow_clone().copy_(saved.get(&key).ok_or(key)?);
            }
            Ok::<(), String>(())
        })?;
        if let Some((_, optimizer)) = &mut self.bilinear {
            optimizer.load_state("adam.bilinear_w", saved)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn t(values: &[f32], rows: i64) -> Tensor {
        Tensor::from_slice(values).view([rows, -1])
    }

    fn close(a: &Tensor, expected: &[f32]) {
        let got = Vec::<f32>::try_from(a.reshape([-1])).unwrap();
        assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-5, "{got:?} vs {expected:?}");
        }
    }

    /// Two queries and two keys in 2-D.
    fn pair() -> (Gaussians, Gaussians) {
        let q = Gaussians { mean: t(&[0.0, 0.0, 1.0, 2.0], 2), var: t(&[1.0, 1.0, 4.0, 1.0], 2) };
        let k = Gaussians { mean: t(&[1.0, 0.0, 1.0, 1.0], 2), var: t(&[1.0, 4.0, 4.0, 9.0], 2) };
        (q, k)
    }

    #[test]
    fn wasserstein_similarity_matches_hand_computation() {
        let (q, k) = pair();
        // σq = (1,1), (2,1); σk = (1,2), (2,3).
        // (q0,k0): |Δμ|² = 1, |Δσ|² = 0 + 1 = 1 → −2.  (q0,k1): 1 + 1 = 2, 1 + 4 = 5 → −7.
        // (q1,k0): 0 + 4 = 4, 1 + 1 = 2 → −6.          (q1,k1): 0 + 1 = 1, 0 + 4 = 4 → −5.
        close(&wasserstein_similarity(&q, &k), &[-2.0, -7.0, -6.0, -5.0]);
    }

    #[test]
    fn bhattacharyya_similarity_matches_hand_computation() {
        let (q, k) = pair();
        // Σ = (Σq + Σk)/2 per dimension. (q0,k0): Δ = (1, 0), Σ = (1, 2.5) → −1.
        // (q0,k1): Δ = (1, 1), Σ = (2.5, 5) → −(0.4 + 0.2) = −0.6.
        // (q1,k0): Δ = (0, 2), Σ = (2.5, 2.5) → −1.6.  (q1,k1): Δ = (0, 1), Σ = (4, 5) → −0.2.
        close(&bhattacharyya_similarity(&q, &k), &[-1.0, -0.6, -1.6, -0.2]);
    }

    #[test]
    fn bilinear_similarity_matches_hand_computation() {
        let (q, k) = pair();
        let w = t(&[1.0, 2.0, 0.0, 1.0], 2);
        // q1ᵀW = (1, 2 + 2) = (1, 4); ·k0 = 1, ·k1 = 5. q0 = 0 → 0.
        close(&bilinear_similarity(&q, &w, &k), &[0.0, 0.0, 1.0, 5.0]);
    }

    #[test]
    fn row_max_shift_and_info_nce_match_hand_computation() {
        let scores = t(&[-2.0, -7.0, -6.0, -5.0], 2);
        let logits = shift_by_row_max(&scores);
        close(&logits, &[0.0, -5.0, -1.0, 0.0]);
        // Row 0: −log(1/(1 + e⁻⁵)) = log(1 + e⁻⁵); row 1 (label 1): −log(1/(e⁻¹ + 1)) = log(1 + e⁻¹).
        let expected = ((1.0 + (-5.0f64).exp()).ln() + (1.0 + (-1.0f64).exp()).ln()) / 2.0;
        let loss = info_nce(&logits).double_value(&[]);
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
        assert!((info_nce(&scores).double_value(&[]) - loss).abs() < 1e-6, "the shift leaves the loss unchanged");
    }

    fn settings(similarity: Similarity, query_kl_lambda: Option<f64>) -> ContrastiveSettings {
        ContrastiveSettings { similarity, loss_scale: 2.0, temperature: 1.0, key_encoder_tau: 0.25, query_kl_lambda, bilinear_lr: 1e-3 }
    }

    fn learner() -> (Sac, ContextSettings) {
        tch::manual_seed(0);
        let sac_settings = crate::algos::sac::SacSettings {
            obs_dim: 2, action_dim: 1, z_dim: 2, net_size: 8, discount: 0.9, reward_scale: 1.0, soft_target_tau: 0.005,
            policy_lr: 1e-3, qf_lr: 1e-3, vf_lr: 1e-3, policy_reg_weight: 1e-3,
        };
        let context = ContextSettings { input_dim: 4, hidden: vec![8], lr: 1e-3, kl_lambda: 0.1 };
        (Sac::new(sac_settings, Device::Cpu, Some(context.clone())), context)
    }

    #[test]
    fn key_encoder_starts_as_a_copy_and_follows_by_ema() {
        let (sac, context) = learner();
        let mut contrastive = Contrastive::new(settings(Similarity::Wasserstein, None), &sac, &context);
        let query = sac.encoder_params();
        let key = sorted_params(&contrastive.vars, "key_encoder.");
        assert!(key.iter().zip(&query).all(|(k, q)| k.equal(q)), "MoCo: φk starts equal to φq");
        // Move φq by +1 everywhere: one EMA step with τ = 0.25 moves φk by a quarter of that.
        let before: Vec<Tensor> = key.iter().map(|k| k.copy()).collect();
        tch::no_grad(|| query.iter().for_each(|q| {
            let _ = q.shallow_clone().g_add_scalar_(1.0);
        }));
        contrastive.after_step();
        for (k, b) in key.iter().zip(&before) {
            assert!(k.allclose(&(b + 0.25), 1e-6, 1e-6, false), "φk ← 0.75 φk + 0.25 φq");
        }
    }

    #[test]
    fn terms_scale_info_nce_and_add_the_query_kl_for_cocoa() {
        let (sac, context) = learner();
        let windows = Tensor::randn([3, 5, 4], (Kind::Float, Device::Cpu));
        let mask = Tensor::ones([3, 5, 1], (Kind::Float, Device::Cpu));
        let encoder = sac.encoder.as_ref().unwrap();
        let tcl = Contrastive::new(settings(Similarity::Wasserstein, None), &sac, &context);
        let terms = tcl.terms(encoder, &windows, &windows, &mask, None);
        assert!((terms.loss.double_value(&[]) - 2.0 * terms.info_nce).abs() < 1e-6 && terms.query_kl.is_none());
        let cocoa = Contrastive::new(settings(Similarity::Bhattacharyya, Some(0.5)), &sac, &context);
        let terms = cocoa.terms(encoder, &windows, &windows, &mask, None);
        let (mean, var) = encoder.window_posterior(&windows, &mask);
        let kl = ContextEncoder::kl_to_prior(&mean, &var).double_value(&[]);
        let bhattacharyya = info_nce(&bhattacharyya_similarity(&Gaussians { mean: mean.shallow_clone(), var: var.shallow_clone() }, &cocoa.key_posterior(&windows, &mask))).double_value(&[]);
        assert!((terms.info_nce - bhattacharyya).abs() < 1e-6);
        assert!((terms.query_kl.unwrap() - kl).abs() < 1e-6);
        assert!((terms.loss.double_value(&[]) - (2.0 * terms.info_nce + 0.5 * kl)).abs() < 1e-5);
        // The query encoder gets the gradient; the key encoder none.
        terms.loss.backward();
        assert!(sac.encoder_params().iter().any(|p| p.grad().defined() && p.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0));
        assert!(cocoa.key_params.iter().all(|p| !p.grad().defined()));
    }

    #[test]
    fn keys_of_a_shared_trajectory_leave_the_negatives() {
        let (sac, context) = learner();
        let windows = Tensor::randn([3, 5, 4], (Kind::Float, Device::Cpu));
        let mask = Tensor::ones([3, 5, 1], (Kind::Float, Device::Cpu));
        let encoder = sac.encoder.as_ref().unwrap();
        let tcl = Contrastive::new(settings(Similarity::Wasserstein, None), &sac, &context);
        // Rows 0 and 2 cropped one trajectory: each is out of the other's negatives.
        let shared = Tensor::from_slice(&[false, false, true, false, false, false, true, false, false]).view([3, 3]);
        let terms = tcl.terms(encoder, &windows, &windows, &mask, Some(&shared));
        let (mean, var) = encoder.window_posterior(&windows, &mask);
        let scores = wasserstein_similarity(&Gaussians { mean, var }, &tcl.key_posterior(&windows, &mask));
        let s = Vec::<f32>::try_from(scores.reshape([-1])).unwrap();
        let row = |i: usize, negatives: &[usize]| -> f64 {
            let positive = f64::from(s[3 * i + i]);
            let denominator: f64 = std::iter::once(i).chain(negatives.iter().copied()).map(|j| f64::from(s[3 * i + j]).exp()).sum();
            denominator.ln() - positive
        };
        let expected = (row(0, &[1]) + row(1, &[0, 2]) + row(2, &[1])) / 3.0;
        assert!((terms.info_nce - expected).abs() < 1e-5, "{} vs {expected}", terms.info_nce);
        let unmasked = tcl.terms(encoder, &windows, &windows, &mask, None).info_nce;
        assert!((unmasked - expected).abs() > 1e-4, "the mask changes the loss");
    }
}
