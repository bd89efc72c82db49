//! RL²'s recurrent policy (Duan et al. 2016, §2.2; garage `GaussianGRUPolicy`): a GRU over the
//! per-step input (observation, previous action, reward, done flag), a linear mean head on its
//! hidden state and a state-independent log σ. The hidden state carries over the episodes of a
//! trial; a trial starts from zeros.

use tch::nn::{self, Init, Module, RNN};
use tch::Tensor;

use super::gaussian::DiagGaussian;

#[derive(Debug)]
pub struct GaussianGruPolicy {
    gru: nn::GRU,
    mean: nn::Linear,
    log_std: Tensor,
    hidden: i64,
}

impl GaussianGruPolicy {
    pub fn new(path: &nn::Path, input_dim: i64, hidden: i64, action_dim: i64, init_std: f64) -> Self {
        let gru = nn::gru(path / "gru", input_dim, hidden, nn::RNNConfig { batch_first: true, ..Default::default() });
        let mean = nn::linear(path / "mean", hidden, action_dim, Default::default());
        let log_std = path.var("log_std", &[action_dim], Init::Const(init_std.ln()));
        GaussianGruPolicy { gru, mean, log_std, hidden }
    }

    /// Zero hidden state for `batch` trials, `[1, batch, hidden]`.
    pub fn initial_state(&self, batch: i64) -> Tensor {
        self.gru.zero_state(batch).0
    }

    pub fn hidden_size(&self) -> i64 {
        self.hidden
    }

    /// The entropy of the action distribution, the same at every step (σ is state-independent).
    pub fn entropy(&self) -> Tensor {
        DiagGaussian { mean: self.log_std.zeros_like(), log_std: self.log_std.shallow_clone() }.entropy()
    }

    fn head(&self, h: &Tensor) -> DiagGaussian {
        let mean = self.mean.forward(h);
        let log_std = self.log_std.expand_as(&mean);
        DiagGaussian { mean, log_std }
    }

    /// One step for a batch of running trials: inputs `[batch, input]`, state `[1, batch, hidden]`
    /// → the action distribution `[batch, a]` and the next state.
    pub fn step(&self, inputs: &Tensor, state: &Tensor) -> (DiagGaussian, Tensor) {
        let next = self.gru.step(inputs, &nn::GRUState(state.shallow_clone())).0;
        (self.head(&next.squeeze_dim(0)), next)
    }

    /// Whole trials from a zero state: inputs `[trials, T, input]` → distributions `[trials, T, a]`.
    pub fn trials(&self, inputs: &Tensor) -> DiagGaussian {
        let (outputs, _) = self.gru.seq(inputs);
        self.head(&outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// Two trials of different lengths, padded: the log-probability of each step computed over
    /// the whole trial equals the one computed step by step with the carried hidden state, and
    /// a trial's steps do not depend on the other trial or on the padding after it.
    #[test]
    fn log_prob_over_a_trial_equals_the_step_by_step_one() {
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let policy = GaussianGruPolicy::new(&vs.root(), 5, 8, 2, 0.7);
        let (trials, steps) = (2, 7);
        let inputs = Tensor::randn([trials, steps, 5], (Kind::Float, Device::Cpu));
        let actions = Tensor::randn([trials, steps, 2], (Kind::Float, Device::Cpu));
        let whole = policy.trials(&inputs).log_prob(&actions);
        assert_eq!(whole.size(), [trials, steps]);

        let mut state = policy.initial_state(trials);
        for t in 0..steps {
            let (dist, next) = policy.step(&inputs.select(1, t), &state);
            state = next;
            let stepwise = dist.log_prob(&actions.select(1, t));
            let gap = f64::try_from((stepwise - whole.select(1, t)).abs().max()).unwrap();
            assert!(gap < 1e-5, "step {t}: {gap}");
        }

        // Trial 0 alone (3 steps) gives the same numbers as inside the padded batch.
        let alone = policy.trials(&inputs.narrow(0, 0, 1).narrow(1, 0, 3)).log_prob(&actions.narrow(0, 0, 1).narrow(1, 0, 3));
        let gap = f64::try_from((alone - whole.narrow(0, 0, 1).narrow(1, 0, 3)).abs().max()).unwrap();
        assert!(gap < 1e-5, "{gap}");
    }
}
