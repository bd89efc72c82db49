//! RL² with PPO (Duan et al. 2016; Schulman et al. 2017; garage `rl2.py`, `rl2ppo.py`): the
//! recurrent policy sees (obs, previous action, reward, done) and keeps its hidden state across
//! the episodes of a trial, so the fast learner is the GRU's state and the slow one is PPO.
//!
//! PPO's clipped objective (Schulman et al. 2017, Eq. 7),
//! L = -E[min(r Â, clip(r, 1 - ε, 1 + ε) Â)], r = π_θ(a|h)/π_θ_old(a|h), is minimised with Adam
//! for a number of epochs over minibatches of whole trials (the GRU must run a trial from its start).

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::nn::{load_vars_state, variables_under, vars_state, Adam, GaussianGruPolicy};

#[derive(Debug, Clone)]
pub struct Rl2Settings {
    /// |o| + |a| + 2: the observation, previous action, reward and done flag.
    pub input_dim: i64,
    pub action_dim: i64,
    pub hidden: i64,
    pub init_std: f64,
    pub lr: f64,
    /// ε of the clipped ratio.
    pub clip: f64,
    pub epochs: usize,
    /// Trials per minibatch.
    pub minibatch_trials: usize,
}

/// A batch of trials, padded to the longest: `inputs` `[B, T, input]`, `actions` `[B, T, a]`,
/// `advantages`, `old_log_probs` and `mask` (1 on real steps) `[B, T]`.
pub struct TrialBatch {
    pub inputs: Tensor,
    pub actions: Tensor,
    pub advantages: Tensor,
    pub old_log_probs: Tensor,
    pub mask: Tensor,
}

impl TrialBatch {
    fn select(&self, trials: &Tensor) -> TrialBatch {
        let pick = |t: &Tensor| t.index_select(0, trials);
        TrialBatch {
            inputs: pick(&self.inputs),
            actions: pick(&self.actions),
            advantages: pick(&self.advantages),
            old_log_probs: pick(&self.old_log_probs),
            mask: pick(&self.mask),
        }
    }
}

/// One update's numbers, for progress.csv and the NaN guard.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PpoLosses {
    /// The clipped surrogate before and after the update.
    pub loss_before: f64,
    pub loss_after: f64,
    /// Mean KL(π_old ‖ π_new) over the batch's steps after the update.
    pub kl: f64,
    /// Mean policy entropy per step after the update.
    pub entropy: f64,
}

pub struct Rl2Ppo {
    pub settings: Rl2Settings,
    pub vars: VarStore,
    pub policy: GaussianGruPolicy,
    optimizer: Adam,
}

/// The clipped surrogate, averaged over the mask's steps.
pub fn clipped_surrogate(log_probs: &Tensor, batch: &TrialBatch, clip: f64) -> Tensor {
    let ratio = (log_probs - &batch.old_log_probs).exp();
    let unclipped = &ratio * &batch.advantages;
    let clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * &batch.advantages;
    -(unclipped.minimum(&clipped) * &batch.mask).sum(None::<Kind>) / batch.mask.sum(None::<Kind>)
}

impl Rl2Ppo {
    pub fn new(settings: Rl2Settings, device: Device) -> Self {
        let vars = VarStore::new(device);
        let s = &settings;
        let policy = GaussianGruPolicy::new(&(vars.root() / "policy"), s.input_dim, s.hidden, s.action_dim, s.init_std);
        let optimizer = Adam::new(variables_under(&vars, "policy"), s.lr);
        Rl2Ppo { settings, vars, policy, optimizer }
    }

    fn loss(&self, batch: &TrialBatch) -> Tensor {
        clipped_surrogate(&self.policy.trials(&batch.inputs).log_prob(&batch.actions), batch, self.settings.clip)
    }

    /// `epochs` passes of Adam over shuffled minibatches of whole trials.
    pub fn update(&mut self, batch: &TrialBatch, rng: &mut ChaCha8Rng) -> PpoLosses {
        let loss_before = tch::no_grad(|| self.loss(batch)).double_value(&[]);
        let trials = batch.inputs.size()[0];
        let mut order: Vec<i64> = (0..trials).collect();
        for _ in 0..self.settings.epochs {
            order.shuffle(rng);
            for chunk in order.chunks(self.settings.minibatch_trials.max(1)) {
                let minibatch = batch.select(&Tensor::from_slice(chunk).to_device(batch.inputs.device()));
                let loss = self.loss(&minibatch);
                self.optimizer.zero_grad();
                loss.backward();
                self.optimizer.step();
            }
        }
        tch::no_grad(|| {
            let dist = self.policy.trials(&batch.inputs);
            let log_probs = dist.log_prob(&batch.actions);
            let steps = batch.mask.sum(None::<Kind>);
            let mean = |t: Tensor| ((t * &batch.mask).sum(None::<Kind>) / &steps).double_value(&[]);
            PpoLosses {
                loss_before,
                loss_after: clipped_surrogate(&log_probs, batch, self.settings.clip).double_value(&[]),
                kl: mean(&batch.old_log_probs - &log_probs),
                entropy: mean(dist.entropy()),
            }
        })
    }

    /// Every variable and Adam moment, named, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = vars_state(&self.vars);
        named.extend(self.optimizer.state("adam.policy"));
        named
    }

    pub fn load_state(&mut self, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        load_vars_state(&self.vars, saved)?;
        self.optimizer.load_state("adam.policy", saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipped_surrogate_on_hand_values() {
        // Ratios e^{0.5} ≈ 1.65 and e^{-0.5} ≈ 0.61 with ε = 0.2:
        // Â = +1 at ratio 1.65 → min(1.65, 1.2) = 1.2; Â = -1 at ratio 0.61 → min(-0.61, -0.8) = -0.8;
        // the padded third step is masked out. Loss = -(1.2 - 0.8)/2 = -0.2.
        let batch = TrialBatch {
            inputs: Tensor::zeros([1, 3, 1], (Kind::Double, Device::Cpu)),
            actions: Tensor::zeros([1, 3, 1], (Kind::Double, Device::Cpu)),
            advantages: Tensor::from_slice(&[1.0f64, -1.0, 5.0]).view([1, 3]),
            old_log_probs: Tensor::from_slice(&[0.0f64, 0.0, 0.0]).view([1, 3]),
            mask: Tensor::from_slice(&[1.0f64, 1.0, 0.0]).view([1, 3]),
        };
        let log_probs = Tensor::from_slice(&[0.5f64, -0.5, 3.0]).view([1, 3]);
        let loss = clipped_surrogate(&log_probs, &batch, 0.2).double_value(&[]);
        assert!((loss + 0.2).abs() < 1e-12, "{loss}");
    }
}
