//! MCAT's learned pieces (papers/004 §3.2-3.4) as the authors' code trains them (guoyijie/MCAT,
//! "Table 1 Replicate": models.py, single_transfer.py, cycle_transfer_action.py): the context
//! encoder C over the last K transitions, the Gaussian forward model F, their losses (Eq. 1
//! multi-step prediction, Eq. 2 contrastive margin), task features z⁽ⁱ⁾ as averages over many
//! segments of a task's buffer, the action translator H trained through the fixed F (Eq. 3), and
//! the rule that picks, per target task, the learned or a transferred policy from recent returns.
//! C and F read their inputs normalised by statistics of every transition stored so far. The
//! policy and critics are the [`Td3`](super::td3::Td3) core conditioned on C's output.

use std::collections::{HashMap, VecDeque};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::sac::scalar;
use crate::nn::{load_vars_state, portable_sqrt, torch_linear, variables_under as params, vars_state, Activation, Adam, Mlp};
use crate::protocol::buffer::{Batch, Trajectory};

/// Soft bounds of F's log-variance (models.py 76-77, 104-105).
const MAX_LOGVAR: f64 = 0.5;
const MIN_LOGVAR: f64 = -10.0;
/// L2 weights of C's and F's layers, first hidden layer first (models.py 21, 58); C's output
/// layer takes C's last weight, F's two heads F's last (`l2_reg`, models.py 42-47, 80-89).
const CONTEXT_DECAYS: [f64; 3] = [2.5e-5, 5e-5, 7.5e-5];
const FORWARD_DECAYS: [f64; 5] = [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4];

/// The form of Eq. 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TranslatorLoss {
    /// L1 between F's mean at the translated action and the source's normalised change of state
    /// (the authors' code, cycle_transfer_action.py 433).
    L1,
    /// The paper's Eq. 3: F's Gaussian negative log-likelihood of the source's change of state.
    Nll,
}

#[derive(Debug, Clone)]
pub struct McatSettings {
    pub obs_dim: i64,
    pub action_dim: i64,
    /// Width of the context z.
    pub z_dim: i64,
    /// K, the past transitions C reads.
    pub history: usize,
    /// Hidden layers of C (ReLU) and F (swish); H's per-input embedding width and its trunk.
    pub context_hidden: Vec<i64>,
    pub forward_hidden: Vec<i64>,
    pub translator_embedding: i64,
    pub translator_hidden: Vec<i64>,
    pub model_lr: f64,
    pub translator_lr: f64,
    /// Eq. 2's margin m.
    pub margin: f64,
    /// Weight of Eq. 2 next to Eq. 1 in C's and F's objective.
    pub contrastive_weight: f64,
    /// Eq. 2's hinge squared, max(0, m − d)², as the authors' code has it; `false` is the paper's
    /// max(0, m − d).
    pub squared_hinge: bool,
    /// Weight of C's and F's L2 penalty (the authors' `weight_decay_coeff`).
    pub weight_decay: f64,
    pub translator_loss: TranslatorLoss,
}

/// Mean and standard deviation of every row added so far (single_transfer.py
/// `update_normalization` 556-564); mean 0 and deviation 1 before the first row. The float
/// columns `normalize` applies are refreshed once per stored episode, not per use.
#[derive(Debug)]
pub struct RunningStats {
    sum: Vec<f64>,
    square_sum: Vec<f64>,
    count: f64,
    columns: (Tensor, Tensor),
}

impl RunningStats {
    pub fn new(width: usize) -> Self {
        let mut stats = RunningStats { sum: vec![0.0; width], square_sum: vec![0.0; width], count: 0.0, columns: (Tensor::new(), Tensor::new()) };
        stats.refresh();
        stats
    }

    fn add(&mut self, row: impl Iterator<Item = f64>) {
        for ((sum, square_sum), x) in self.sum.iter_mut().zip(&mut self.square_sum).zip(row) {
            *sum += x;
            *square_sum += x * x;
        }
        self.count += 1.0;
    }

    /// (mean, standard deviation) per column, as the authors compute them.
    pub fn moments(&self) -> (Vec<f64>, Vec<f64>) {
        if self.count == 0.0 {
            return (vec![0.0; self.sum.len()], vec![1.0; self.sum.len()]);
        }
        let n = self.count;
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let std = self.square_sum.iter().zip(&self.sum).zip(&mean).map(|((q, s), m)| ((q - 2.0 * s * m + n * m * m) / n).max(0.0).sqrt()).collect();
        (mean, std)
    }

    /// Recomputes the float columns from the sums (after rows were added or loaded).
    fn refresh(&mut self) {
        let (mean, std) = self.moments();
        let column = |v: Vec<f64>| Tensor::from_slice(&v.into_iter().map(|x| x as f32).collect::<Vec<_>>());
        self.columns = (column(mean), column(std) + 1e-10);
    }

    /// (x − mean) / (std + 1e-10) over the last dimension (models.py `normalize`).
    pub fn normalize(&self, x: &Tensor) -> Tensor {
        let (mean, std) = &self.columns;
        (x - mean.to_device(x.device())) / std.to_device(x.device())
    }

    fn state(&self) -> Tensor {
        Tensor::from_slice(&[self.sum.as_slice(), &self.square_sum, &[self.count]].concat())
    }

    fn load(&mut self, saved: &Tensor) -> Result<(), String> {
        let values = Vec::<f64>::try_from(saved.to_kind(Kind::Double).reshape([-1])).map_err(|e| e.to_string())?;
        let width = self.sum.len();
        if values.len() != 2 * width + 1 {
            return Err(format!("normalisation statistics of width {} where {width} was expected", (values.len().max(1) - 1) / 2));
        }
        self.sum.copy_from_slice(&values[..width]);
        self.square_sum.copy_from_slice(&values[width..2 * width]);
        self.count = values[2 * width];
        self.refresh();
        Ok(())
    }
}

/// What C and F normalise by (single_transfer.py 263-269, 566-574): states, actions and changes
/// of state of every stored transition, and the K-step action windows C reads (its state-change
/// windows are read raw, the authors' `state_diff` branch of `get_normalization_stats`).
#[derive(Debug)]
pub struct Normalization {
    pub obs: RunningStats,
    pub actions: RunningStats,
    pub delta: RunningStats,
    pub context_actions: RunningStats,
}

impl Normalization {
    fn new(obs_dim: usize, action_dim: usize, history: usize) -> Self {
        Normalization {
            obs: RunningStats::new(obs_dim),
            actions: RunningStats::new(action_dim),
            delta: RunningStats::new(obs_dim),
            context_actions: RunningStats::new(history * action_dim),
        }
    }

    const NAMES: [&'static str; 4] = ["obs", "actions", "delta", "context_actions"];

    fn streams(&self) -> [&RunningStats; 4] {
        [&self.obs, &self.actions, &self.delta, &self.context_actions]
    }

    fn streams_mut(&mut self) -> [&mut RunningStats; 4] {
        [&mut self.obs, &mut self.actions, &mut self.delta, &mut self.context_actions]
    }
}

/// −log F's per-dimension form as the authors train it (single_transfer.py 403-409):
/// (μ − Δ)²·e^(−log σ²) + log σ², averaged over the state dimensions (twice the Gaussian NLL per
/// dimension, less its constant). Reduces the last dimension.
pub fn gaussian_loss(target: &Tensor, mean: &Tensor, logvar: &Tensor) -> Tensor {
    ((mean - target).square() * logvar.neg().exp() + logvar).mean_dim(-1, false, Kind::Float)
}

/// Eq. 1 on one batch of segments: [`gaussian_loss`] of each future step (`[n, M, |s|]`, each
/// predicted from the true previous state and action with the segment's z), averaged over the
/// steps the mask (`[n, M]`) marks real (single_transfer.py 607-629).
pub fn forward_prediction_loss(target: &Tensor, mean: &Tensor, logvar: &Tensor, mask: &Tensor) -> Tensor {
    (gaussian_loss(target, mean, logvar) * mask).sum(Kind::Float) / mask.sum(Kind::Float)
}

/// Eq. 2 between the contexts `first[i, k]` and `second[j, k]` (`[tasks, n, z]`): for each task,
/// ‖first − second‖² with its own (pulled together); for each pair of tasks i ≠ j the hinge
/// max(0, m − ‖first_i − second_j‖), squared where `squared_hinge` (single_transfer.py 449-454).
/// The two kinds weigh half each, as a step of the authors' multi-task loop draws a same-task pair
/// with probability ½ (cycle_transfer_action.py 353-360). The distance is
/// `F.pairwise_distance`'s, ‖a − b + 1e-6‖.
pub fn contrastive_loss(first: &Tensor, second: &Tensor, margin: f64, squared_hinge: bool) -> Tensor {
    let (tasks, n) = (first.size()[0], first.size()[1]);
    let squared = (first.unsqueeze(1) - second.unsqueeze(0) + 1e-6).square().sum_dim_intlist(-1, false, Kind::Float);
    let same = Tensor::eye(tasks, (Kind::Float, first.device())).unsqueeze(-1);
    let pulled = (&squared * &same).sum(Kind::Float) / (tasks * n) as f64;
    if tasks == 1 {
        return pulled;
    }
    // The diagonal, masked out below, is kept away from the square root's pole at 0.
    let hinge = (portable_sqrt(&(&squared + &same)).neg() + margin).clamp_min(0.0);
    let hinge = if squared_hinge { hinge.square() } else { hinge };
    let pushed = (hinge * (same.neg() + 1.0)).sum(Kind::Float) / (tasks * (tasks - 1) * n) as f64;
    (pulled + pushed) * 0.5
}

/// Eq. 3 at the translated action, in the chosen form; `target` is the source's normalised
/// change of state, `mean` and `logvar` F's at the translated action and the target's z.
pub fn translation_loss(target: &Tensor, mean: &Tensor, logvar: &Tensor, form: TranslatorLoss) -> Tensor {
    match form {
        TranslatorLoss::L1 => (mean - target).abs().mean(Kind::Float),
        TranslatorLoss::Nll => gaussian_loss(target, mean, logvar).mean(Kind::Float),
    }
}

/// One context transition as the sampler records it: `(s, a, s' − s)`. C reads its action and
/// its change of state.
pub fn context_features(obs: &Tensor, actions: &Tensor, next_obs: &Tensor) -> Tensor {
    Tensor::cat(&[obs, actions, &(next_obs - obs)], -1)
}

/// H (models.py `MultiPairAxmodel`, 115-154): a ReLU embedding of each input, the four joined
/// (action, state, source z, target z) into a ReLU trunk, tanh out.
struct Translator {
    state: nn::Linear,
    action: nn::Linear,
    source: nn::Linear,
    target: nn::Linear,
    trunk: Mlp,
}

impl Translator {
    fn new(path: &nn::Path, s: &McatSettings) -> Self {
        let width = s.translator_embedding;
        Translator {
            state: torch_linear(path / "state", s.obs_dim, width),
            action: torch_linear(path / "action", s.action_dim, width),
            source: torch_linear(path / "source", s.z_dim, width),
            target: torch_linear(path / "target", s.z_dim, width),
            trunk: Mlp::torch_default(&(path / "trunk"), 4 * width, &s.translator_hidden, s.action_dim, Activation::Relu),
        }
    }

    fn forward(&self, obs: &Tensor, actions: &Tensor, z_source: &Tensor, z_target: &Tensor) -> Tensor {
        let embedded = [(&self.action, actions), (&self.state, obs), (&self.source, z_source), (&self.target, z_target)].map(|(layer, x)| layer.forward(x).relu());
        self.trunk.forward(&Tensor::cat(&embedded, -1)).tanh()
    }
}

/// C, F and H with their optimisers (one variable store), and the normalisation statistics.
pub struct ContextModels {
    pub settings: McatSettings,
    pub device: Device,
    pub vars: nn::VarStore,
    pub normalization: Normalization,
    encoder: Mlp,
    forward: Mlp,
    translator: Translator,
    model_optimizer: Adam,
    translator_optimizer: Adam,
}

/// The losses of one C/F step.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelLosses {
    pub forward_loss: f64,
    pub contrastive_loss: f64,
}

fn l2_norm(t: &Tensor) -> Tensor {
    portable_sqrt(&t.square().sum(Kind::Float))
}

fn layer_norm(layer: &nn::Linear) -> Tensor {
    l2_norm(&layer.ws) + l2_norm(layer.bs.as_ref().expect("layers have biases"))
}

impl ContextModels {
    /// Networks from torch's generator (seed it first), in PyTorch's default initialisation.
    pub fn new(settings: McatSettings, device: Device) -> Self {
        let vars = nn::VarStore::new(device);
        let root = vars.root();
        let s = &settings;
        let encoder = Mlp::torch_default(&(&root / "context_encoder"), s.history as i64 * (s.obs_dim + s.action_dim), &s.context_hidden, s.z_dim, Activation::Relu);
        let forward = Mlp::torch_default(&(&root / "forward_model"), s.obs_dim + s.action_dim + s.z_dim, &s.forward_hidden, 2 * s.obs_dim, Activation::Swish);
        let translator = Translator::new(&(&root / "translator"), s);
        let model_params = [params(&vars, "context_encoder"), params(&vars, "forward_model")].into_iter().flatten().collect();
        ContextModels {
            model_optimizer: Adam::new(model_params, s.model_lr),
            translator_optimizer: Adam::new(params(&vars, "translator"), s.translator_lr),
            normalization: Normalization::new(s.obs_dim as usize, s.action_dim as usize, s.history),
            settings,
            device,
            vars,
            encoder,
            forward,
            translator,
        }
    }

    /// Adds a stored episode to the normalisation statistics: each transition's state, action and
    /// change of state, and the window of the K actions before it, zeros before the episode's
    /// start (train_transfer_action.py 162-196).
    pub fn observe(&mut self, episode: &Trajectory) {
        let (s, a, k) = (self.settings.obs_dim as usize, self.settings.action_dim as usize, self.settings.history);
        let norm = &mut self.normalization;
        for t in 0..episode.len() {
            let (obs, next) = (&episode.obs[t * s..(t + 1) * s], &episode.next_obs[t * s..(t + 1) * s]);
            norm.obs.add(obs.iter().copied());
            norm.actions.add(episode.actions[t * a..(t + 1) * a].iter().copied());
            norm.delta.add(next.iter().zip(obs).map(|(n, o)| n - o));
            let window = (0..k).flat_map(|slot| {
                let before = (t + slot).checked_sub(k);
                (0..a).map(move |d| before.map_or(0.0, |u| episode.actions[u * a + d]))
            });
            norm.context_actions.add(window);
        }
        norm.streams_mut().into_iter().for_each(RunningStats::refresh);
    }

    /// z = C(last K transitions): `history` columns `[n, K, ·]`, `mask` `[n, K]` (0 rows, before
    /// an episode's start, read as zeros).
    pub fn encode(&self, history: &Batch, mask: &Tensor) -> Tensor {
        let dev = self.device;
        self.encode_rows(&context_features(&history.obs.to_device(dev), &history.actions.to_device(dev), &history.next_obs.to_device(dev)), &mask.to_device(dev))
    }

    /// z = C(rows): the K transitions as [`context_features`], `[n, K, 2|s| + |a|]`. C reads the
    /// K changes of state, then the K actions normalised as windows (models.py 49-54,
    /// train_transfer_action.py 193-196).
    pub fn encode_rows(&self, rows: &Tensor, mask: &Tensor) -> Tensor {
        let (s, a) = (self.settings.obs_dim, self.settings.action_dim);
        let rows = rows * mask.unsqueeze(-1);
        let deltas = rows.narrow(-1, s + a, s).flatten(1, -1);
        let actions = self.normalization.context_actions.normalize(&rows.narrow(-1, s, a).flatten(1, -1));
        self.encoder.forward(&Tensor::cat(&[deltas, actions], -1))
    }

    /// F(· | s, a, z) (models.py 91-112): the mean of the normalised change of state, and its
    /// log-variance softly bounded to [−10, 0.5], over any leading dimensions.
    pub fn predict(&self, obs: &Tensor, actions: &Tensor, z: &Tensor) -> (Tensor, Tensor) {
        let norm = &self.normalization;
        let out = self.forward.forward(&Tensor::cat(&[norm.obs.normalize(obs), norm.actions.normalize(actions), z.shallow_clone()], -1));
        let parts = out.chunk(2, -1);
        let below_max = (parts[1].neg() + MAX_LOGVAR).softplus().neg() + MAX_LOGVAR;
        (parts[0].shallow_clone(), (below_max - MIN_LOGVAR).softplus() + MIN_LOGVAR)
    }

    /// The change of state s' − s, normalised as F predicts it.
    pub fn normalized_change(&self, obs: &Tensor, next_obs: &Tensor) -> Tensor {
        self.normalization.delta.normalize(&(next_obs - obs))
    }

    /// ã = H(s, a, z_src, z_tgt), in [-1, 1].
    pub fn translate(&self, obs: &Tensor, actions: &Tensor, z_source: &Tensor, z_target: &Tensor) -> Tensor {
        self.translator.forward(obs, actions, z_source, z_target)
    }

    /// C's and F's L2 penalty, Σ_l decay_l·(‖W_l‖ + ‖b_l‖) with unsquared norms (models.py
    /// `l2_reg`); F's two heads are normed apart, as the authors' two layers.
    fn l2_penalty(&self) -> Tensor {
        let decay = |decays: &[f64], i: usize| decays[i.min(decays.len() - 1)];
        let context = self.encoder.layers().enumerate().map(|(i, layer)| layer_norm(layer) * decay(&CONTEXT_DECAYS, i));
        let hidden = self.settings.forward_hidden.len();
        let forward = self.forward.layers().enumerate().map(|(i, layer)| {
            if i < hidden {
                return layer_norm(layer) * decay(&FORWARD_DECAYS[..FORWARD_DECAYS.len() - 1], i);
            }
            let bias = layer.bs.as_ref().expect("layers have biases");
            let heads = (0..2).map(|h| l2_norm(&layer.ws.narrow(0, h * self.settings.obs_dim, self.settings.obs_dim)) + l2_norm(&bias.narrow(0, h * self.settings.obs_dim, self.settings.obs_dim)));
            heads.fold(Tensor::zeros([], (Kind::Float, self.device)), |sum, h| sum + h) * FORWARD_DECAYS[FORWARD_DECAYS.len() - 1]
        });
        context.chain(forward).fold(Tensor::zeros([], (Kind::Float, self.device)), |sum, term| sum + term)
    }

    /// One step of C and F on `segments` (`[tasks·n, K + M, ·]`, task by task, as
    /// [`MultiTaskBuffer::sample_segments`](crate::protocol::buffer::MultiTaskBuffer::sample_segments)
    /// gives them), split per task into a first and a second half, the authors' batches a and b
    /// (single_transfer.py 440-458): Eq. 1 on the M transitions after each history, on each half,
    /// summed; Eq. 2 on the halves' contexts; each half's loss carries the L2 penalty.
    pub fn model_step(&mut self, segments: &Batch, mask: &Tensor, tasks: usize) -> ModelLosses {
        let (dev, k, tasks) = (self.device, self.settings.history as i64, tasks as i64);
        let length = segments.obs.size()[1];
        let part = |t: &Tensor, start: i64, len: i64| t.to_device(dev).narrow(1, start, len);
        let history = segments.map(|t| part(t, 0, k));
        let z = self.encode(&history, &part(mask, 0, k));
        let m = length - k;
        let (obs, next_obs) = (part(&segments.obs, k, m), part(&segments.next_obs, k, m));
        let (mean, logvar) = self.predict(&obs, &part(&segments.actions, k, m), &z.unsqueeze(1).expand([-1, m, -1], false));
        let target = self.normalized_change(&obs, &next_obs);

        let per_task = z.size()[0] / tasks;
        let half = per_task / 2;
        let halves = |t: &Tensor, which: i64| {
            let by_task = t.view([tasks, per_task].into_iter().chain(t.size().into_iter().skip(1)).collect::<Vec<_>>().as_slice());
            by_task.narrow(1, which * half, half).flatten(0, 1)
        };
        let future_mask = part(mask, k, m);
        let forward = (0..2).map(|h| forward_prediction_loss(&halves(&target, h), &halves(&mean, h), &halves(&logvar, h), &halves(&future_mask, h))).fold(Tensor::zeros([], (Kind::Float, dev)), |sum, l| sum + l);
        let by_task = |h: i64| halves(&z, h).view([tasks, half, -1]);
        let contrastive = contrastive_loss(&by_task(0), &by_task(1), self.settings.margin, self.settings.squared_hinge);

        let objective = &forward + self.l2_penalty() * (2.0 * self.settings.weight_decay) + &contrastive * self.settings.contrastive_weight;
        self.model_optimizer.zero_grad();
        objective.backward();
        self.model_optimizer.step();
        ModelLosses { forward_loss: scalar(&forward), contrastive_loss: scalar(&contrastive) }
    }

    /// z⁽ⁱ⁾: the mean context of a task's history segments (`[n, K, ·]`, mask `[n, K]`).
    pub fn task_feature(&self, history: &Batch, mask: &Tensor) -> Tensor {
        tch::no_grad(|| self.encode(history, mask).mean_dim(0, false, Kind::Float))
    }

    /// One step of H with Eq. 3 through the fixed F (cycle_transfer_action.py 392-444): `batch`
    /// holds source transitions (`[n, ·]`), `z_source` and `z_target` (`[n, z]`) the task
    /// features of each row's source and target task. Only H's parameters move.
    pub fn translator_step(&mut self, batch: &Batch, z_source: &Tensor, z_target: &Tensor) -> f64 {
        let dev = self.device;
        let (obs, next_obs) = (batch.obs.to_device(dev), batch.next_obs.to_device(dev));
        let translated = self.translate(&obs, &batch.actions.to_device(dev), z_source, z_target);
        let (mean, logvar) = self.predict(&obs, &translated, z_target);
        let loss = translation_loss(&self.normalized_change(&obs, &next_obs), &mean, &logvar, self.settings.translator_loss);
        self.translator_optimizer.zero_grad();
        loss.backward();
        self.translator_optimizer.step();
        scalar(&loss)
    }

    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut named = vars_state(&self.vars);
        named.extend(self.model_optimizer.state("adam.model"));
        named.extend(self.translator_optimizer.state("adam.translator"));
        named.extend(Normalization::NAMES.iter().zip(self.normalization.streams()).map(|(name, stats)| (format!("normalization.{name}"), stats.state())));
        named
    }

    pub fn load_state(&mut self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        load_vars_state(&self.vars, saved)?;
        self.model_optimizer.load_state("adam.model", saved)?;
        self.translator_optimizer.load_state("adam.translator", saved)?;
        for (name, stats) in Normalization::NAMES.iter().zip(self.normalization.streams_mut()) {
            let key = format!("normalization.{name}");
            stats.load(saved.get(&key).ok_or_else(|| format!("the checkpoint has no {key}"))?).map_err(|e| format!("{key}: {e}"))?;
        }
        Ok(())
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

    #[test]
    fn eq1_averages_the_authors_gaussian_loss_over_the_real_future_steps() {
        // Two segments, M = 2 steps, |s| = 1. Segment 0: log σ² 0, errors 1 and 2. Segment 1:
        // log σ² = ln 4, error 2 on step 1; step 2 is past the trajectory's end.
        let mean = tensor(&[0.0, 0.0, 1.0, 5.0], &[2, 2, 1]);
        let logvar = tensor(&[0.0, 0.0, 4f32.ln(), 4f32.ln()], &[2, 2, 1]);
        let target = tensor(&[1.0, 2.0, 3.0, 9.0], &[2, 2, 1]);
        let mask = tensor(&[1.0, 1.0, 1.0, 0.0], &[2, 2]);
        let rows = [1.0, 4.0, 4.0 / 4.0 + 4f64.ln()];
        let loss = value(&forward_prediction_loss(&target, &mean, &logvar, &mask));
        assert!((loss - rows.iter().sum::<f64>() / 3.0).abs() < 1e-5, "{loss}");
    }

    #[test]
    fn eq2_pulls_a_task_to_itself_and_pushes_other_tasks_past_the_margin() {
        // Two tasks, one pair each: task 0's halves coincide, task 1's lie 0.5 apart. The 1e-6
        // of F.pairwise_distance is below the tolerance.
        let first = tensor(&[0.0, 0.0, 1.0, 1.0], &[2, 1, 2]);
        let second = tensor(&[0.0, 0.0, 1.5, 1.0], &[2, 1, 2]);
        let pulled = (0.0 + 0.25) / 2.0;
        // Across: first_0 vs second_1: ‖(−1.5, −1)‖ = 1.803 < 2; first_1 vs second_0: ‖(1, 1)‖ = 1.414.
        let (d01, d10) = (1.5f64.hypot(1.0), 2f64.sqrt());
        let squared = value(&contrastive_loss(&first, &second, 2.0, true));
        let linear = value(&contrastive_loss(&first, &second, 2.0, false));
        assert!((squared - 0.5 * (pulled + ((2.0 - d01).powi(2) + (2.0 - d10).powi(2)) / 2.0)).abs() < 1e-5, "{squared}");
        assert!((linear - 0.5 * (pulled + ((2.0 - d01) + (2.0 - d10)) / 2.0)).abs() < 1e-5, "{linear}");
        // Past the margin, other tasks cost nothing; one task alone is pulled only.
        assert!(value(&contrastive_loss(&first, &second, 1.0, true)) - 0.5 * pulled < 1e-6);
        assert!((value(&contrastive_loss(&first.narrow(0, 1, 1), &second.narrow(0, 1, 1), 2.0, true)) - 0.25).abs() < 1e-5);
    }

    #[test]
    fn eq3_is_l1_on_the_mean_as_the_authors_or_the_gaussian_loss_as_the_paper() {
        // |s| = 2: F's mean (1, 1), log σ² (0, 2); the source's normalised change (2, 1 + e).
        let (mean, logvar) = (tensor(&[1.0, 1.0], &[1, 2]), tensor(&[0.0, 2.0], &[1, 2]));
        let target = tensor(&[2.0, 1.0 + std::f32::consts::E], &[1, 2]);
        let e = std::f64::consts::E;
        assert!((value(&translation_loss(&target, &mean, &logvar, TranslatorLoss::L1)) - (1.0 + e) / 2.0).abs() < 1e-5);
        assert!((value(&translation_loss(&target, &mean, &logvar, TranslatorLoss::Nll)) - (1.0 + (1.0 + 2.0)) / 2.0).abs() < 1e-5);
    }

    fn tiny_settings() -> McatSettings {
        McatSettings {
            obs_dim: 2,
            action_dim: 1,
            z_dim: 2,
            history: 2,
            context_hidden: vec![8],
            forward_hidden: vec![8, 8],
            translator_embedding: 4,
            translator_hidden: vec![8],
            model_lr: 1e-2,
            translator_lr: 1e-2,
            margin: 1.0,
            contrastive_weight: 1.0,
            squared_hinge: true,
            weight_decay: 1.0,
            translator_loss: TranslatorLoss::L1,
        }
    }

    fn tiny_models() -> ContextModels {
        tch::manual_seed(0);
        ContextModels::new(tiny_settings(), Device::Cpu)
    }

    #[test]
    fn fs_log_variance_stays_softly_inside_its_bounds() {
        let models = tiny_models();
        tch::no_grad(|| {
            for var in params(&models.vars, "forward_model") {
                let _ = var.shallow_clone().g_mul_scalar_(1e3);
            }
        });
        let obs = Tensor::linspace(-50.0, 50.0, 400, (Kind::Float, Device::Cpu)).view([200, 2]);
        let (_, logvar) = models.predict(&obs, &obs.narrow(1, 0, 1), &obs);
        let (low, high) = (value(&logvar.min()), value(&logvar.max()));
        assert!(low >= MIN_LOGVAR - 1e-4 && high <= MAX_LOGVAR + 1e-4, "[{low}, {high}]");
        assert!(low < MIN_LOGVAR + 0.1 && high > MAX_LOGVAR - 0.1, "reaches both ends: [{low}, {high}]");
    }

    #[test]
    fn normalisation_follows_every_stored_step_and_cs_action_windows() {
        let mut models = tiny_models();
        // |s| = 2, |a| = 1, K = 2: three steps.
        let episode = Trajectory {
            obs: vec![0.0, 1.0, 1.0, 3.0, 2.0, 5.0],
            actions: vec![1.0, 2.0, 6.0],
            next_obs: vec![1.0, 3.0, 2.0, 5.0, 4.0, 4.0],
            rewards: vec![0.0; 3],
            context_rewards: vec![0.0; 3],
            terminals: vec![false; 3],
            success: None,
        };
        models.observe(&episode);
        let norm = &models.normalization;
        assert_eq!(norm.obs.moments().0, vec![1.0, 3.0]);
        assert_eq!(norm.actions.moments(), (vec![3.0], vec![(14.0f64 / 3.0).sqrt()]));
        assert_eq!(norm.delta.moments().0, vec![4.0 / 3.0, 1.0]);
        // The windows before steps 0, 1, 2: (0, 0), (0, 1), (1, 2).
        assert_eq!(norm.context_actions.moments().0, vec![1.0 / 3.0, 1.0]);
        let saved: HashMap<String, Tensor> = models.state().into_iter().collect();
        let mut restored = tiny_models();
        restored.load_state(&saved).unwrap();
        assert_eq!(restored.normalization.delta.moments(), models.normalization.delta.moments());
        assert_eq!(value(&restored.normalized_change(&tensor(&[0.0, 0.0], &[1, 2]), &tensor(&[4.0 / 3.0, 1.0], &[1, 2])).abs().sum(Kind::Float)), 0.0);
    }

    #[test]
    fn the_l2_penalty_sums_unsquared_norms_with_the_authors_decays_and_f_heads_apart() {
        let models = tiny_models();
        let norm = |t: &Tensor| value(&t.square().sum(Kind::Float)).sqrt();
        let vars = models.vars.variables();
        let layer = |name: &str| norm(&vars[&format!("{name}.weight")]) + norm(&vars[&format!("{name}.bias")]);
        let (w, b) = (&vars["forward_model.last_fc.weight"], &vars["forward_model.last_fc.bias"]);
        let heads = norm(&w.narrow(0, 0, 2)) + norm(&b.narrow(0, 0, 2)) + norm(&w.narrow(0, 2, 2)) + norm(&b.narrow(0, 2, 2));
        let expected = 2.5e-5 * layer("context_encoder.fc0") + 5e-5 * layer("context_encoder.last_fc")
            + 2.5e-5 * layer("forward_model.fc0") + 5e-5 * layer("forward_model.fc1") + 1e-4 * heads;
        assert!((value(&models.l2_penalty()) - expected).abs() < 1e-8, "{} vs {expected}", value(&models.l2_penalty()));
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
