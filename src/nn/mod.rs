//! Networks as rlkit (oyster) builds them, on tch: MLPs with rlkit's initialisation (or
//! pytorch_sac's orthogonal one), the tanh-Gaussian policy in either codebase's style,
//! target-network updates and an Adam whose state can be checkpointed;
//! garage's Gaussian MLP policy with functional parameters (MAML, [`gaussian`]) and its GRU policy
//! (RL², [`gru`]).
//!
//! All networks of one learner live in one `VarStore` under their own prefix, so a checkpoint is
//! one file of named tensors.

pub mod gaussian;
pub mod gru;

pub use gaussian::{DiagGaussian, GaussianMlpPolicy};
pub use gru::GaussianGruPolicy;

use tch::nn::{self, Init, LinearConfig, Module};
use tch::{Kind, Tensor};

/// `LOG_SIG_MIN`, `LOG_SIG_MAX` of rlkit's TanhGaussianPolicy.
const LOG_STD_MIN: f64 = -20.0;
const LOG_STD_MAX: f64 = 2.0;

/// rlkit `Mlp`: ReLU hidden layers initialised by `fanin_init` (uniform ±1/√size[0], which for
/// a `[out, in]` weight is the *output* width — rlkit's quirk, kept) with biases 0.1, and a last
/// layer uniform ±`init_w`.
#[derive(Debug)]
pub struct Mlp {
    hidden: Vec<nn::Linear>,
    last: nn::Linear,
    activation: Activation,
}

/// The nonlinearity of an [`Mlp`]'s hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    /// x·sigmoid(x), the authors' `SiLU` of MCAT's forward model (models.py 14-17).
    Swish,
}

impl Activation {
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Relu => x.relu(),
            Activation::Swish => x * x.sigmoid(),
        }
    }
}

fn rlkit_hidden(path: nn::Path, input: i64, output: i64) -> nn::Linear {
    let bound = 1.0 / (output as f64).sqrt();
    let config = LinearConfig { ws_init: Init::Uniform { lo: -bound, up: bound }, bs_init: Some(Init::Const(0.1)), bias: true };
    nn::linear(path, input, output, config)
}

fn rlkit_last(path: nn::Path, input: i64, output: i64, init_w: f64) -> nn::Linear {
    let uniform = Init::Uniform { lo: -init_w, up: init_w };
    nn::linear(path, input, output, LinearConfig { ws_init: uniform, bs_init: Some(uniform), bias: true })
}

/// `torch.nn.Linear`'s own initialisation (Kaiming uniform with a = √5): weights and biases
/// uniform ±1/√fan_in.
pub fn torch_linear(path: nn::Path, input: i64, output: i64) -> nn::Linear {
    let bound = Init::Uniform { lo: -1.0 / (input as f64).sqrt(), up: 1.0 / (input as f64).sqrt() };
    nn::linear(path, input, output, LinearConfig { ws_init: bound, bs_init: Some(bound), bias: true })
}

/// pytorch_sac's `utils.weight_init`: orthogonal weights (`nn.init.orthogonal_`), zero biases.
fn orthogonal(path: nn::Path, input: i64, output: i64) -> nn::Linear {
    nn::linear(path, input, output, LinearConfig { ws_init: Init::Orthogonal { gain: 1.0 }, bs_init: Some(Init::Const(0.0)), bias: true })
}

impl Mlp {
    pub fn new(path: &nn::Path, input: i64, hidden: &[i64], output: i64, init_w: f64) -> Self {
        Self::with_layers(path, input, hidden, rlkit_hidden, |path, width| rlkit_last(path, width, output, init_w))
    }

    /// The same shape initialised as pytorch_sac's `utils.mlp` under `weight_init`.
    pub fn orthogonal(path: &nn::Path, input: i64, hidden: &[i64], output: i64) -> Self {
        Self::with_layers(path, input, hidden, orthogonal, |path, width| orthogonal(path, width, output))
    }

    /// The same shape as PyTorch builds it by default (`nn.Sequential` of `nn.Linear`), with
    /// `activation` between layers.
    pub fn torch_default(path: &nn::Path, input: i64, hidden: &[i64], output: i64, activation: Activation) -> Self {
        Mlp { activation, ..Self::with_layers(path, input, hidden, torch_linear, |path, width| torch_linear(path, width, output)) }
    }

    fn with_layers(path: &nn::Path, input: i64, hidden: &[i64], hidden_layer: impl Fn(nn::Path, i64, i64) -> nn::Linear, last: impl Fn(nn::Path, i64) -> nn::Linear) -> Self {
        let mut width = input;
        let layers = hidden
            .iter()
            .enumerate()
            .map(|(i, &next)| {
                let layer = hidden_layer(path / format!("fc{i}"), width, next);
                width = next;
                layer
            })
            .collect();
        Mlp { hidden: layers, last: last(path / "last_fc", width), activation: Activation::Relu }
    }

    /// The last hidden layer's activations.
    pub fn features(&self, x: &Tensor) -> Tensor {
        self.hidden.iter().fold(x.shallow_clone(), |h, layer| self.activation.apply(&layer.forward(&h)))
    }

    /// The hidden layers, then the last.
    pub fn layers(&self) -> impl Iterator<Item = &nn::Linear> {
        self.hidden.iter().chain(std::iter::once(&self.last))
    }

    pub fn last_width(&self) -> i64 {
        self.last.ws.size()[1]
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.last.forward(&self.features(x))
    }
}

/// The outputs of a policy pass (rlkit's `policy_outputs`).
pub struct PolicyOutput {
    pub action: Tensor,
    pub mean: Tensor,
    pub log_std: Tensor,
    /// `log π(a|s)` with the tanh correction, `[batch, 1]`; `None` for deterministic actions.
    pub log_prob: Option<Tensor>,
}

/// How a tanh-Gaussian policy is initialised, bounds log σ and corrects log π for the tanh: the
/// codebases whose SAC this project follows differ there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TanhGaussianStyle {
    /// rlkit (oyster) and garage: rlkit's initialisation, log σ clamped to [-20, 2],
    /// log π = log N(u; μ, σ) − Σ log(1 − a² + 1e-6).
    Rlkit,
    /// pytorch_sac (FOCAL-ICLR `rlkit/torch/sac/pytorch_sac/agent/actor.py`: `DiagGaussianActor`,
    /// `SquashedNormal`, `TanhTransform`): orthogonal weights and zero biases, the mean and log σ
    /// heads one orthogonal `[2|A|, h]` layer, log σ = −5 + 3.5·(tanh(h) + 1) ∈ [-5, 2],
    /// log π = log N(u; μ, σ) − Σ 2(log 2 − u − softplus(−2u)).
    PytorchSac,
}

/// pytorch_sac's `log_std_bounds` (config/agent/sac.yaml).
const PYTORCH_SAC_LOG_STD_BOUNDS: (f64, f64) = (-5.0, 2.0);

/// A tanh-Gaussian policy, `a = tanh(μ + σ·ε)`, with log σ from its own head: rlkit's
/// `TanhGaussianPolicy` or pytorch_sac's actor ([`TanhGaussianStyle`]).
#[derive(Debug)]
pub struct TanhGaussianPolicy {
    mlp: Mlp,
    log_std: nn::Linear,
    style: TanhGaussianStyle,
}

impl TanhGaussianPolicy {
    pub fn new(path: &nn::Path, input: i64, hidden: &[i64], action_dim: i64) -> Self {
        let init_w = 1e-3;
        let mlp = Mlp::new(path, input, hidden, action_dim, init_w);
        let log_std = rlkit_last(path / "last_fc_log_std", mlp.last_width(), action_dim, init_w);
        TanhGaussianPolicy { mlp, log_std, style: TanhGaussianStyle::Rlkit }
    }

    pub fn pytorch_sac(path: &nn::Path, input: i64, hidden: &[i64], action_dim: i64) -> Self {
        let mlp = Mlp::orthogonal(path, input, hidden, action_dim);
        let width = mlp.last_width();
        let log_std = orthogonal(path / "last_fc_log_std", width, action_dim);
        let heads = nn::init(Init::Orthogonal { gain: 1.0 }, &[2 * action_dim, width], log_std.ws.device());
        tch::no_grad(|| {
            mlp.last.ws.shallow_clone().copy_(&heads.narrow(0, 0, action_dim));
            log_std.ws.shallow_clone().copy_(&heads.narrow(0, action_dim, action_dim));
        });
        TanhGaussianPolicy { mlp, log_std, style: TanhGaussianStyle::PytorchSac }
    }

    pub fn action_dim(&self) -> i64 {
        self.log_std.ws.size()[0]
    }

    pub fn device(&self) -> tch::Device {
        self.log_std.ws.device()
    }

    /// With `noise` (standard normal, `[batch, action_dim]`): a reparameterised sample and its
    /// log-probability with the style's tanh correction. Without: `tanh(μ)`.
    pub fn forward(&self, input: &Tensor, noise: Option<&Tensor>) -> PolicyOutput {
        let h = self.mlp.features(input);
        let mean = self.mlp.last.forward(&h);
        let raw_log_std = self.log_std.forward(&h);
        let log_std = match self.style {
            TanhGaussianStyle::Rlkit => raw_log_std.clamp(LOG_STD_MIN, LOG_STD_MAX),
            TanhGaussianStyle::PytorchSac => {
                let (lo, hi) = PYTORCH_SAC_LOG_STD_BOUNDS;
                (raw_log_std.tanh() + 1.0) * (0.5 * (hi - lo)) + lo
            }
        };
        let Some(noise) = noise else {
            return PolicyOutput { action: mean.tanh(), mean, log_std, log_prob: None };
        };
        let pre_tanh = &mean + log_std.exp() * noise;
        let action = pre_tanh.tanh();
        let gaussian = noise.square() * -0.5 - &log_std - 0.5 * (2.0 * std::f64::consts::PI).ln();
        let correction = match self.style {
            TanhGaussianStyle::Rlkit => (action.square().neg() + (1.0 + 1e-6)).log(),
            TanhGaussianStyle::PytorchSac => (-&pre_tanh - (&pre_tanh * -2.0).softplus() + std::f64::consts::LN_2) * 2.0,
        };
        let log_prob = (gaussian - correction).sum_dim_intlist(-1, true, Kind::Float);
        PolicyOutput { action, mean, log_std, log_prob: Some(log_prob) }
    }
}

/// Variables of `vars` under `prefix`, in a fixed (sorted) order.
pub fn variables_under(vars: &nn::VarStore, prefix: &str) -> Vec<Tensor> {
    let prefix = format!("{prefix}.");
    let mut named: Vec<(String, Tensor)> = vars.variables().into_iter().filter(|(n, _)| n.starts_with(&prefix)).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.into_iter().map(|(_, t)| t).collect()
}

/// Every variable of `vars`, named `net.<name>`, for a checkpoint.
pub fn vars_state(vars: &nn::VarStore) -> Vec<(String, Tensor)> {
    vars.variables().into_iter().map(|(n, t)| (format!("net.{n}"), t)).collect()
}

/// Restore what [`vars_state`] saved; a missing entry is an error naming it.
pub fn load_vars_state(vars: &nn::VarStore, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
    tch::no_grad(|| {
        for (name, var) in vars.variables() {
            let key = format!("net.{name}");
            var.shallow_clone().copy_(saved.get(&key).ok_or(key)?);
        }
        Ok(())
    })
}

/// √x through IEEE-exact operations only, 1 / (1 / √x): libtorch's `sqrt` runs MKL's vector
/// math, whose float results differ in the last bit from one CPU to another even in MKL's
/// reproducible mode. This one is within an ulp of the exact root and the same on every CPU
/// (README, Numerics); every square root of a tensor in the learners goes through it.
pub fn portable_sqrt(x: &Tensor) -> Tensor {
    x.rsqrt().reciprocal()
}

/// `target ← τ·source + (1 - τ)·target` for every pair of parameters.
pub fn soft_update(target: &[Tensor], source: &[Tensor], tau: f64) {
    tch::no_grad(|| {
        for (t, s) in target.iter().zip(source) {
            t.shallow_clone().copy_(&(t * (1.0 - tau) + s * tau));
        }
    });
}

/// Adam (Kingma & Ba 2015) as `torch.optim.Adam` computes it, with its moments kept as tensors so
/// a checkpoint can hold them.
pub struct Adam {
    lr: f64,
    params: Vec<Tensor>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    steps: i64,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    pub fn new(params: Vec<Tensor>, lr: f64) -> Self {
        let zeros = |ps: &[Tensor]| ps.iter().map(|p| p.zeros_like().detach()).collect();
        Adam { lr, first: zeros(&params), second: zeros(&params), params, steps: 0 }
    }

    /// Steps taken.
    pub fn steps(&self) -> i64 {
        self.steps
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    pub fn step(&mut self) {
        self.steps += 1;
        let bias1 = 1.0 - Self::BETA1.powi(self.steps as i32);
        let bias2 = 1.0 - Self::BETA2.powi(self.steps as i32);
        tch::no_grad(|| {
            for ((p, m), v) in self.params.iter().zip(&mut self.first).zip(&mut self.second) {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let _ = m.g_mul_scalar_(Self::BETA1).g_add_(&(&grad * (1.0 - Self::BETA1)));
                let _ = v.g_mul_scalar_(Self::BETA2).g_add_(&(grad.square() * (1.0 - Self::BETA2)));
                let denom = portable_sqrt(v) / bias2.sqrt() + Self::EPS;
                let _ = p.shallow_clone().g_sub_(&(&*m / &denom * (self.lr / bias1)));
            }
        });
    }

    /// Named state tensors for a checkpoint: the step count and both moments.
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut named = vec![(format!("{prefix}.steps"), Tensor::from(self.steps))];
        for (i, (m, v)) in self.first.iter().zip(&self.second).enumerate() {
            named.push((format!("{prefix}.m{i}"), m.shallow_clone()));
            named.push((format!("{prefix}.v{i}"), v.shallow_clone()));
        }
        named
    }

    /// Restore what `state` saved; missing entries are an error naming them.
    pub fn load_state(&mut self, prefix: &str, saved: &std::collections::HashMap<String, Tensor>) -> Result<(), String> {
        let get = |name: String| saved.get(&name).ok_or(name);
        self.steps = get(format!("{prefix}.steps"))?.int64_value(&[]);
        tch::no_grad(|| {
            for (i, (m, v)) in self.first.iter_mut().zip(&mut self.second).enumerate() {
                m.copy_(get(format!("{prefix}.m{i}"))?);
                v.copy_(get(format!("{prefix}.v{i}"))?);
            }
            Ok(())
        })
    }
}
