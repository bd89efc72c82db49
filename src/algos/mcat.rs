//! MCAT's learned pieces (papers/004 §3.2-3.4): the context encoder C over the last K
//! transitions, the Gaussian forward model F, their losses (Eq. 1 multi-step prediction, Eq. 2
//! contrastive margin), task features z⁽ⁱ⁾ as averages over many segments of a task's buffer, the
//! action translator H trained through the fixed F (Eq. 3), and the rule that picks, per target
//! task, the learned or a transferred policy from recent returns. The policy and critics are the
//! [`Td3`](super::td3::Td3) core conditioned on C's output.

use std::collections::{HashMap, VecDeque};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::sac::scalar;
use crate::nn::{load_vars_state, portable_sqrt, variables_under as params, vars_state, Adam, Mlp};
use crate::protocol::buffer::Batch;

/// Bounds of F's log σ.
const LOG_STD_MIN: f64 = -10.0;
const LOG_STD_MAX: f64 = 2.0;

#[derive(Debug, Clone)]
pub struct McatSettings {
    pub obs_dim: i64,
    pub action_dim: i64,
    /// Width of the context z.
    pub z_dim: i64,
    /// K, the past transitions C reads.
    pub history: usize,
    pub hidden: Vec<i64>,
    pub model_lr: f64,
    pub translator_lr: f64,
    /// Eq. 2's margin m.
    pub margin: f64,
    /// Weight of Eq. 2 next to Eq. 1 in C's and F's objective.
    pub contrastive_weight: f64,
}

/// −log N(x; μ, σ²) summed over the last dimension (keeps it, width 1).
pub fn gaussian_nll(x: &Tensor, mean: &Tensor, log_std: &Tensor) -> Tensor {
    let z = (x - mean) / log_std.exp();
    (z.square() * 0.5 + log_std + 0.5 * (2.0 * std::f64::consts::PI).ln()).sum_dim_intlist(-1, true, Kind::Float)
}

/// Eq. 1: `−Σ_{m=1..M} log F(s_{t+m} | s_{t+m−1}, a_{t+m−1}, z_t)` per segment, over the steps the
/// mask marks real (`[n, M]`), averaged over segments. `mean`, `log_std`, `next_obs`: `[n, M, |s|]`.
pub fn forward_prediction_loss(mean: &Tensor, log_std: &Tensor, next_obs: &Tensor, mask: &Tensor) -> Tensor {
    (gaussian_nll(next_obs, mean, log_std).squeeze_dim(-1) * mask).sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float)
}

/// Eq. 2 over pairs `(z1[k], z2[k])`: `‖z1 − z2‖²` when `same_task[k]` is 1, `max(0, m − ‖z1 − z2‖)`
/// when 0; averaged over the pairs.
pub fn contrastive_loss(z1: &Tensor, z2: &Tensor, same_task: &Tensor, margin: f64) -> Tensor {
    let squared = (z1 - z2).square().sum_dim_intlist(-1, false, Kind::Float);
    // The small constant keeps the gradient of the distance finite at 0.
    let distance = portable_sqrt(&(&squared + 1e-12));
    let apart = (distance.neg() + margin).clamp_min(0.0);
    (same_task * &squared + (same_task.neg() + 1.0) * apart).mean(Kind::Float)
}

/// Eq. 3: `−log F(s_{t+1}⁽ʲ⁾ | s_t⁽ʲ⁾, ã⁽ⁱ⁾, z⁽ⁱ⁾)` averaged over the batch, where F's `mean` and
/// `log_std` were computed at the translated action.
pub fn translation_loss(source_next_obs: &Tensor, mean: &Tensor, log_std: &Tensor) -> Tensor {
    gaussian_nll(source_next_obs, mean, log_std).mean(Kind::Float)
}

/// One context transition as C reads it: `(s, a, s' − s)`. Over K consecutive transitions this
/// is the paper's `(s_{t−K}, a_{t−K}, …, s_{t−1}, a_{t−1})` plus the state reached, `s_t`.
pub fn context_features(obs: &Tensor, actions: &Tensor, next_obs: &Tensor) -> Tensor {
    Tensor::cat(&[obs, actions, &(next_obs - obs)], -1)
}

/// C, F and H, with their optimisers; one variable store.
pub struct ContextModels {
    pub settings: McatSettings,
    pub device: Device,
    pub vars: nn::VarStore,
    encoder: Mlp,
    forward: Mlp,
    translator: Mlp,
    model_optimizer: Adam,
    translator_optimizer: Adam,
}

/// The losses of one C/F step.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelLosses {
    pub forward_loss: f64,
    pub contrastive_loss: f64,
}

impl ContextModels {
    /// Networks from torch's generator (seed it first).
    pub fn new(settings: McatSettings, device: Device) -> Self {
        let vars = nn::VarStore::new(device);
        let root = vars.root();
        let s = &settings;
        let width = 2 * s.obs_dim + s.action_dim;
        let encoder = Mlp::new(&(&root / "context_encoder"), s.history as i64 * width, &s.hidden, s.z_dim, 3e-3);
        let forward = Mlp::new(&(&root / "forward_model"), s.obs_dim + s.action_dim + s.z_dim, &s.hidden, 2 * s.obs_dim, 3e-3);
        let translator = Mlp::new(&(&root / "translator"), s.obs_dim + s.action_dim + 2 * s.z_dim, &s.hidden, s.action_dim, 3e-3);
        let model_params = [params(&vars, "context_encoder"), params(&vars, "forward_model")].into_iter().flatten().collect();
        ContextModels {
            model_optimizer: Adam::new(model_params, s.model_lr),
            translator_optimizer: Adam::new(params(&vars, "translator"), s.translator_lr),
            settings,
            device,
            vars,
            encoder,
            forward,
            translator,
        }
    }

    /// z = C(last K transitions): `history` columns `[n, K, ·]`, `mask` `[n, K]` (0 rows, before
    /// an episode's start, read as zeros).
    pub fn encode(&self, history: &Batch, mask: &Tensor) -> Tensor {
        let dev = self.device;
        self.encode_rows(&context_features(&history.obs.to_device(dev), &history.actions.to_device(dev), &history.next_obs.to_device(dev)), &mask.to_device(dev))
    }

    /// z = C(rows): the K transitions already as [`context_features`], `[n, K, 2|s| + |a|]`.
    pub fn encode_rows(&self, rows: &Tensor, mask: &Tensor) -> Tensor {
        self.encoder.forward(&(rows * mask.unsqueeze(-1)).flatten(1, -1))
    }

    /// F(· | s, a, z): the Gaussian's mean (s plus the predicted change) and log σ, over any
    /// leading dimensions.
    pub fn predict(&self, obs: &Tensor, actions: &Tensor, z: &Tensor) -> (Tensor, Tensor) {
        let out = self.forward.forward(&Tensor::cat(&[obs, actions, z], -1));
        let parts = out.chunk(2, -1);
        (obs + &parts[0], parts[1].clamp(LOG_STD_MIN, LOG_STD_MAX))
    }

    /// ã = H(s, a, z_src, z_tgt), in [-1, 1].
    pub fn translate(&self, obs: &Tensor, actions: &Tensor, z_source: &Tensor, z_target: &Tensor) -> Tensor {
        self.translator.forward(&Tensor::cat(&[obs, actions, z_source, z_target], -1)).tanh()
    }

    /// One step of C and F on `segments` (`[tasks·n, K + M, ·]`, task by task, as
    /// [`MultiTaskBuffer::sample_segments`](crate::protocol::buffer::MultiTaskBuffer::sample_segments)
    /// gives them): Eq. 1 on the M transitions after each history, plus Eq. 2 on pairs of the
    /// histories' contexts — the first half of each task's segments with the second half
    /// (positives), and with the second half of the previous task's in the list (negatives).
    pub fn model_step(&mut self, segments: &Batch, mask: &Tensor, tasks: usize) -> ModelLosses {
        let (dev, k) = (self.device, self.settings.history as i64);
        let length = segments.obs.size()[1];
        let part = |t: &Tensor, start: i64, len: i64| t.to_device(dev).narrow(1, start, len);
        let history = segments.map(|t| part(t, 0, k));
        let z = self.encode(&history, &part(mask, 0, k));
        let m = length - k;
        let z_steps = z.unsqueeze(1).expand([-1, m, -1], false);
        let (mean, log_std) = self.predict(&part(&segments.obs, k, m), &part(&segments.actions, k, m), &z_steps);
        let forward = forward_prediction_loss(&mean, &log_std, &part(&segments.next_obs, k, m), &part(mask, k, m));

        let per_task = z.size()[0] / tasks as i64;
        let half = per_task / 2;
        let by_task = z.view([tasks as i64, per_task, -1]);
        let (first, second) = (by_task.narrow(1, 0, half), by_task.narrow(1, half, half));
        let mut z1 = vec![first.reshape([-1, self.settings.z_dim])];
        let mut z2 = vec![second.reshape([-1, self.settings.z_dim])];
        let mut same = vec![Tensor::ones([tasks as i64 * half], (Kind::Float, dev))];
        if tasks > 1 {
            z1.push(first.reshape([-1, self.settings.z_dim]));
            z2.push(second.roll([1], [0]).reshape([-1, self.settings.z_dim]));
            same.push(Tensor::zeros([tasks as i64 * half], (Kind::Float, dev)));
        }
        let contrastive = contrastive_loss(&Tensor::cat(&z1, 0), &Tensor::cat(&z2, 0), &Tensor::cat(&same, 0), self.settings.margin);

        self.model_optimizer.zero_grad();
        (&forward + &contrastive * self.settings.contrastive_weight).backward();
        self.model_optimizer.step();
        ModelLosses { forward_loss: scalar(&forward), contrastive_loss: scalar(&contrastive) }
    }

    /// z⁽ⁱ⁾: the mean context of a task's history segments (`[n, K, ·]`, mask `[n, K]`).
    pub fn task_feature(&self, history: &Batch, mask: &Tensor) -> Tensor {
        tch::no_grad(|| self.encode(history, mask).mean_dim(0, false, Kind::Float))
    }

    /// One step of H with Eq. 3 through the fixed F: `batch` holds source transitions
    /// (`[n, ·]`), `z_source` and `z_target` (`[n, z]`) the task features of each row's source
    /// and target task. Only H's parameters move.
    pub fn translator_step(&mut self, batch: &Batch, z_source: &Tensor, z_target: &Tensor) -> f64 {
        let dev = self.device;
        let obs = batch.obs.to_device(dev);
        let translated = self.translate(&obs, &batch.actions.to_device(dev), z_source, z_target);
        let (mean, log_std) = self.predict(&obs, &translated, z_target);
        let loss = translation_loss(&batch.next_obs.to_device(dev), &mean, &log_std);
        self.translator_optimizer.zero_grad();
        loss.backward();
        self.translator_optimizer.step();
        scalar(&loss)
    }

    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = vars_state(&self.vars);
        named.extend(self.model_optimizer.state("adam.model"));
        named.extend(self.translator_optimizer.state("adam.translator"));
        named
    }

    pub fn load_state(&mut self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        load_vars_state(&self.vars, saved)?;
        self.model_optimizer.load_state("adam.model", saved)?;
        self.translator_optimizer.load_state("adam.translator", saved)
    }
}

/// A translator training batch's (source, target) task pairs: each source row gets a target
/// drawn uniformly among the other tasks.
pub fn translation_targets(sources: &[usize], tasks: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    sources.iter().map(|&j| (j + 1 + rng.gen_range(0..tasks - 1)) % tasks).collect()
}

/// Which policy collects a target task's next episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Behaviour {
    /// The learned policy π(s, z⁽ⁱ⁾).
    Own,
    /// π(s, z⁽ʲ⁾) from source task j, translated by H(s, ·, z⁽ʲ⁾, z⁽ⁱ⁾).
    Transfer { source: usize },
}

/// Recent episode returns per train task (papers/004 §3.4, Fig. 2e): of the learned policy on
/// each task, and of the policy transferred from each source to each target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferTracker {
    window: usize,
    own: Vec<VecDeque<f64>>,
    /// `transferred[target][source]`.
    transferred: Vec<Vec<VecDeque<f64>>>,
}

fn recent_mean(returns: &VecDeque<f64>) -> Option<f64> {
    (!returns.is_empty()).then(|| returns.iter().sum::<f64>() / returns.len() as f64)
}

impl TransferTracker {
    pub fn new(tasks: usize, window: usize) -> Self {
        TransferTracker { window: window.max(1), own: vec![VecDeque::new(); tasks], transferred: vec![vec![VecDeque::new(); tasks]; tasks] }
    }

    pub fn record(&mut self, target: usize, behaviour: Behaviour, episode_return: f64) {
        let returns = match behaviour {
            Behaviour::Own => &mut self.own[target],
            Behaviour::Transfer { source } => &mut self.transferred[target][source],
        };
        returns.push_back(episode_return);
        if returns.len() > self.window {
            returns.pop_front();
        }
    }

    /// The policy with the higher mean return over its recent episodes on `target`: the learned
    /// one, or the one transferred from a source task. A transfer not tried yet is scored by the
    /// source policy's recent return on its own task (what a perfect translation would earn,
    /// Prop. 1), so it is tried when its source does better than the learned policy does here.
    /// Ties keep the learned policy; so does a task with no record of its own yet.
    pub fn choose(&self, target: usize) -> Behaviour {
        let Some(own) = recent_mean(&self.own[target]) else { return Behaviour::Own };
        let mut best = (Behaviour::Own, own);
        for source in (0..self.own.len()).filter(|&j| j != target) {
            let score = recent_mean(&self.transferred[target][source]).or_else(|| recent_mean(&self.own[source]));
            if let Some(score) = score.filter(|&s| s > best.1) {
                best = (Behaviour::Transfer { source }, score);
            }
        }
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tensor(values: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values).view(shape)
    }

    fn value(t: &Tensor) -> f64 {
        t.double_value(&[])
    }

    const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_7;

    #[test]
    fn eq1_sums_the_gaussian_nll_over_the_real_future_steps_and_averages_segments() {
        // Two segments, M = 2 steps, |s| = 1. Segment 0: σ = 1 (log σ 0); errors 1 and 2.
        // Segment 1: log σ = ln 2, error 2 on step 1; step 2 is past the trajectory's end.
        let mean = tensor(&[0.0, 0.0, 1.0, 5.0], &[2, 2, 1]);
        let log_std = tensor(&[0.0, 0.0, 2f32.ln(), 2f32.ln()], &[2, 2, 1]);
        let next = tensor(&[1.0, 2.0, 3.0, 9.0], &[2, 2, 1]);
        let mask = tensor(&[1.0, 1.0, 1.0, 0.0], &[2, 2]);
        let segment0 = (0.5 + HALF_LOG_2PI) + (2.0 + HALF_LOG_2PI);
        let segment1 = 0.5 * (2.0f64 / 2.0).powi(2) + 2f64.ln() + HALF_LOG_2PI;
        let loss = value(&forward_prediction_loss(&mean, &log_std, &next, &mask));
        assert!((loss - (segment0 + segment1) / 2.0).abs() < 1e-5, "{loss}");
    }

    #[test]
    fn eq2_pulls_same_task_pairs_together_and_pushes_others_past_the_margin() {
        let z1 = tensor(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[3, 2]);
        let z2 = tensor(&[3.0, 4.0, 0.6, 0.8, 3.0, 4.0], &[3, 2]);
        // Pair 0, same task: ‖Δ‖² = 25. Pair 1, other task, ‖Δ‖ = 1 < m = 2: 1. Pair 2, other task
        // at distance 5 ≥ m: 0.
        let same = tensor(&[1.0, 0.0, 0.0], &[3]);
        let loss = value(&contrastive_loss(&z1, &z2, &same, 2.0));
        assert!((loss - (25.0 + 1.0 + 0.0) / 3.0).abs() < 1e-5, "{loss}");
    }

    #[test]
    fn eq3_is_the_source_next_state_nll_under_f_at_the_translated_action() {
        // |s| = 2: F predicts (1, 1) with σ = (1, e); the source reached (2, 1 + e).
        let mean = tensor(&[1.0, 1.0], &[1, 2]);
        let log_std = tensor(&[0.0, 1.0], &[1, 2]);
        let source_next = tensor(&[2.0, 1.0 + std::f32::consts::E], &[1, 2]);
        let expected = (0.5 + HALF_LOG_2PI) + (0.5 + 1.0 + HALF_LOG_2PI);
        assert!((value(&translation_loss(&source_next, &mean, &log_std)) - expected).abs() < 1e-5);
    }

    fn tiny_models() -> ContextModels {
        tch::manual_seed(0);
        let settings = McatSettings { obs_dim: 2, action_dim: 1, z_dim: 2, history: 2, hidden: vec![8], model_lr: 1e-2, translator_lr: 1e-2, margin: 1.0, contrastive_weight: 1.0 };
        ContextModels::new(settings, Device::Cpu)
    }

    fn transitions(n: i64, seed: f64) -> Batch {
        let t = |w: i64, k: f64| Tensor::arange(n * w, (Kind::Float, Device::Cpu)).view([n, w]).g_mul_scalar(0.1 * k + seed).sin();
        Batch { obs: t(2, 1.0), actions: t(1, 2.0), rewards: t(1, 3.0), sparse_rewards: t(1, 4.0), next_obs: t(2, 5.0), terminals: t(1, 0.0) }
    }

    #[test]
    fn the_translator_step_moves_only_h_and_lowers_eq3() {
        let mut models = tiny_models();
        let snapshot = |m: &ContextModels, prefix: &str| params(&m.vars, prefix).iter().map(|t| Vec::<f32>::try_from(t.reshape([-1])).unwrap()).collect::<Vec<_>>();
        let (encoder, forward, translator) = (snapshot(&models, "context_encoder"), snapshot(&models, "forward_model"), snapshot(&models, "translator"));
        let batch = transitions(16, 0.3);
        let (zs, zt) = (Tensor::ones([16, 2], (Kind::Float, Device::Cpu)), Tensor::zeros([16, 2], (Kind::Float, Device::Cpu)));
        let first = models.translator_step(&batch, &zs, &zt);
        let last = (0..50).map(|_| models.translator_step(&batch, &zs, &zt)).last().unwrap();
        assert!(last < first, "Eq. 3 fell: {first} → {last}");
        assert_eq!((snapshot(&models, "context_encoder"), snapshot(&models, "forward_model")), (encoder, forward), "C and F stay fixed");
        assert_ne!(snapshot(&models, "translator"), translator);
    }

    #[test]
    fn model_steps_lower_eq1_and_separate_task_contexts() {
        let mut models = tiny_models();
        // Two tasks, 8 segments each of K = 2 history rows + M = 2 future rows; task 1's next
        // states differ from task 0's by a constant shift.
        let mut segments = transitions(16 * 4, 0.1);
        let shift = Tensor::cat(&[Tensor::zeros([32, 2], (Kind::Float, Device::Cpu)), Tensor::ones([32, 2], (Kind::Float, Device::Cpu))], 0);
        segments.next_obs = &segments.next_obs + shift;
        let segments = segments.map(|t| t.view([16, 4, -1]));
        let mask = Tensor::ones([16, 4], (Kind::Float, Device::Cpu));
        let first = models.model_step(&segments, &mask, 2);
        let last = (0..200).map(|_| models.model_step(&segments, &mask, 2)).last().unwrap();
        assert!(last.forward_loss < first.forward_loss - 1.0, "{first:?} → {last:?}");
        assert!(last.contrastive_loss < first.contrastive_loss, "{first:?} → {last:?}");
    }

    #[test]
    fn translation_targets_are_other_tasks() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let sources: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let targets = translation_targets(&sources, 3, &mut rng);
        assert!(sources.iter().zip(&targets).all(|(s, t)| s != t && *t < 3));
        assert!((0..3).all(|t| targets.iter().filter(|&&x| x == t).count() > 60));
    }

    #[test]
    fn the_selection_rule_follows_the_better_recent_policy() {
        let mut tracker = TransferTracker::new(3, 2);
        assert_eq!(tracker.choose(0), Behaviour::Own, "nothing recorded yet");
        tracker.record(0, Behaviour::Own, 1.0);
        tracker.record(1, Behaviour::Own, 10.0);
        tracker.record(2, Behaviour::Own, 4.0);
        // Task 0's own policy earns 1; the untried transfers score their sources' 10 and 4.
        assert_eq!(tracker.choose(0), Behaviour::Transfer { source: 1 });
        // Task 1 is the best: nothing beats its own policy.
        assert_eq!(tracker.choose(1), Behaviour::Own);
        // The transfer from 1 earned 0.5 on task 0 — worse than the own policy's 1; the untried
        // transfer from 2 (source score 4) is next.
        tracker.record(0, Behaviour::Transfer { source: 1 }, 0.5);
        assert_eq!(tracker.choose(0), Behaviour::Transfer { source: 2 });
        tracker.record(0, Behaviour::Transfer { source: 2 }, 3.0);
        assert_eq!(tracker.choose(0), Behaviour::Transfer { source: 2 }, "it earned 3 > 1");
        // Only the last `window` = 2 episodes count: own returns 1, 6, 8 → mean 7 > 3.
        tracker.record(0, Behaviour::Own, 6.0);
        tracker.record(0, Behaviour::Own, 8.0);
        assert_eq!(tracker.choose(0), Behaviour::Own);
        // A tie keeps the learned policy.
        let mut tie = TransferTracker::new(2, 5);
        tie.record(0, Behaviour::Own, 2.0);
        tie.record(1, Behaviour::Own, 2.0);
        assert_eq!(tie.choose(0), Behaviour::Own);
    }
}
