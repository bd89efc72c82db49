//! Run configuration: oyster's `configs/default.py` values as defaults, a JSON file on top
//! (`configs/<algo>/<env>.json`), unknown fields rejected by name.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::algos::contrastive::{PearlContext, Similarity};
use crate::algos::mcat::TranslatorLoss;
use crate::suggest::closest_match;

/// The algorithms `metarl train` runs.
pub const ALGORITHMS: &[&str] = &["pearl", "oracle-sac", "tcl", "cocoa", "maml-trpo", "rl2-ppo", "focal", "mcat"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Train/test task counts; `None` keeps the env family's (oyster's configs).
    pub n_train_tasks: Option<usize>,
    pub n_eval_tasks: Option<usize>,
    /// Seed of the task list (numpy draws, as the references).
    pub task_seed: u32,
    /// PEARL's latent z size.
    pub latent_size: i64,
    /// Units per hidden layer (3 layers) of the policy, Q and V networks.
    pub net_size: i64,
    pub encoder_hidden: Vec<i64>,
    pub meta_batch: usize,
    pub num_iterations: usize,
    pub num_initial_steps: usize,
    pub num_tasks_sample: usize,
    pub num_steps_prior: usize,
    pub num_steps_posterior: usize,
    pub num_extra_rl_steps_posterior: usize,
    pub num_train_steps_per_itr: usize,
    pub num_evals: usize,
    pub num_steps_per_eval: usize,
    pub batch_size: usize,
    pub embedding_batch_size: usize,
    pub embedding_mini_batch_size: usize,
    pub max_path_length: usize,
    pub discount: f64,
    pub soft_target_tau: f64,
    pub policy_lr: f64,
    pub qf_lr: f64,
    pub vf_lr: f64,
    pub context_lr: f64,
    pub reward_scale: f64,
    /// Context carries the sparse reward (`info.sparse_reward`); RL uses the dense one.
    pub sparse_rewards: bool,
    pub kl_lambda: f64,
    pub use_next_obs_in_context: bool,
    /// Trajectories between posterior updates while collecting posterior data.
    pub update_post_train: usize,
    /// Exploration trajectories before the posterior is inferred at meta-test time.
    pub num_exp_traj_eval: usize,
    pub replay_buffer_size: usize,
    /// libtorch intra-op threads, and the sampler's env-stepping threads (results are
    /// reproducible for a fixed count).
    pub threads: i32,
    /// Envs the sampler steps together, one batched policy forward per step: the tasks of one
    /// collection round and the meta-test runs go through in waves of this many.
    pub sampler_envs: usize,
    /// TCL/CoCOA window size W, in transitions (papers/001 Table 4 per env; Table 8: 64 on
    /// Meta-World). Below `max_path_length`, so two crops of a trajectory differ.
    pub contrastive_window: usize,
    /// The contrastive loss's weight in the query encoder's objective (papers/001 Table 4).
    pub contrastive_loss_scale: f64,
    /// InfoNCE temperature: logits are similarities divided by it (papers/001 Table 8: 1).
    pub contrastive_temperature: f64,
    /// The key encoder's EMA step, φk ← (1 − τ)·φk + τ·φq after every gradient step: papers/001
    /// §C.1 "momentum 0.005", read as the weight of the query encoder (MoCo's m = 1 − τ).
    pub key_encoder_tau: f64,
    /// Query-key similarity: "wasserstein" (TCL), "bhattacharyya" (CoCOA) or "bilinear" (CoCOA's
    /// ablation, papers/000 Table 5.2); null runs the algorithm's own.
    pub similarity: Option<Similarity>,
    /// Oracle SAC's reward scale (garage `MTSAC`'s `reward_scale`, 1 in Yu et al. 2020's
    /// launchers); the PEARL family's is `reward_scale`.
    pub oracle_reward_scale: f64,
    /// TCL/CoCOA: "sampled" gives PEARL's loss its own context sample, as PEARL (default);
    /// "query_windows" gives it the contrastive query windows (papers/001 §4.3(2)).
    pub pearl_context: PearlContext,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            n_train_tasks: None,
            n_eval_tasks: None,
            task_seed: crate::envs::registry::DEFAULT_TASK_SEED,
            latent_size: 5,
            net_size: 300,
            encoder_hidden: vec![200, 200, 200],
            meta_batch: 16,
            num_iterations: 500,
            num_initial_steps: 2000,
            num_tasks_sample: 5,
            num_steps_prior: 400,
            num_steps_posterior: 0,
            num_extra_rl_steps_posterior: 400,
            num_train_steps_per_itr: 2000,
            num_evals: 2,
            num_steps_per_eval: 600,
            batch_size: 256,
            embedding_batch_size: 64,
            embedding_mini_batch_size: 64,
            max_path_length: 200,
            discount: 0.99,
            soft_target_tau: 0.005,
            policy_lr: 3e-4,
            qf_lr: 3e-4,
            vf_lr: 3e-4,
            context_lr: 3e-4,
            reward_scale: 5.0,
            sparse_rewards: false,
            kl_lambda: 0.1,
            use_next_obs_in_context: false,
            update_post_train: 1,
            num_exp_traj_eval: 1,
            replay_buffer_size: 1_000_000,
            threads: 1,
            sampler_envs: 8,
            contrastive_window: 64,
            contrastive_loss_scale: 1.0,
            contrastive_temperature: 1.0,
            key_encoder_tau: 0.005,
            similarity: None,
            oracle_reward_scale: 1.0,
            pearl_context: PearlContext::Sampled,
        }
    }
}

/// What the on-policy baselines share: the task lists, the schedule and the meta-test protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnPolicyRun {
    /// Train/test task counts; `None` keeps the env family's.
    pub n_train_tasks: Option<usize>,
    pub n_eval_tasks: Option<usize>,
    pub task_seed: u32,
    pub num_iterations: usize,
    /// Tasks per iteration (garage's `meta_batch_size`).
    pub meta_batch: usize,
    /// Episodes per task and policy: MAML's rollouts per task before and after each inner step,
    /// RL²'s episodes per trial.
    pub episodes_per_task: usize,
    pub max_path_length: usize,
    pub discount: f64,
    /// GAE's λ (1: discounted returns minus the baseline).
    pub gae_lambda: f64,
    /// Initial σ of the Gaussian policy (garage `init_std`).
    pub init_std: f64,
    /// Meta-test: exploration episodes per test task (MAML adapts on them; RL² runs them first in
    /// its trial).
    pub num_exp_traj_eval: usize,
    /// Meta-test: episodes after exploration whose returns are reported.
    pub num_eval_episodes: usize,
    /// Threads stepping the envs (results do not depend on it).
    pub sampler_threads: usize,
    /// libtorch intra-op threads (results are reproducible for a fixed count).
    pub threads: i32,
}

impl Default for OnPolicyRun {
    fn default() -> Self {
        OnPolicyRun {
            n_train_tasks: None,
            n_eval_tasks: None,
            task_seed: crate::envs::registry::DEFAULT_TASK_SEED,
            num_iterations: 500,
            meta_batch: 40,
            episodes_per_task: 20,
            max_path_length: 200,
            discount: 0.99,
            gae_lambda: 1.0,
            init_std: 1.0,
            num_exp_traj_eval: 2,
            num_eval_episodes: 1,
            sampler_threads: 2,
            threads: 1,
        }
    }
}

/// MAML-TRPO (garage `MAMLTRPO`, ProMP `TRPOMAML`); defaults are the values Rakelly et al. ran on
/// MuJoCo Controls (ProMP `trpo_run_all.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MamlConfig {
    #[serde(flatten)]
    pub run: OnPolicyRun,
    /// Policy hidden layers (tanh).
    pub hidden_sizes: Vec<i64>,
    pub inner_lr: f64,
    pub num_grad_updates: usize,
    /// δ, the outer step's KL bound (garage `max_kl_step`).
    pub max_kl: f64,
    pub cg_iters: usize,
    pub backtrack_ratio: f64,
    pub max_backtracks: usize,
    pub hvp_reg_coeff: f64,
}

impl Default for MamlConfig {
    fn default() -> Self {
        MamlConfig {
            run: OnPolicyRun::default(),
            hidden_sizes: vec![64, 64],
            inner_lr: 0.1,
            num_grad_updates: 1,
            max_kl: 0.01,
            cg_iters: 10,
            backtrack_ratio: 0.8,
            max_backtracks: 15,
            hvp_reg_coeff: 1e-5,
        }
    }
}

/// RL²-PPO (garage `RL2PPO`; Duan et al. 2016). The shared fields' defaults are MAML's, so each
/// shipped file states meta_batch, episodes_per_task and gae_lambda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rl2Config {
    #[serde(flatten)]
    pub run: OnPolicyRun,
    /// GRU hidden units.
    pub gru_hidden: i64,
    pub lr: f64,
    /// PPO's ε.
    pub clip: f64,
    pub ppo_epochs: usize,
    /// Whole trials per PPO minibatch.
    pub minibatch_trials: usize,
    /// garage's `entropy_method='max'`: the policy's entropy times this is added to every reward.
    pub entropy_coeff: f64,
    /// Standardise the advantages over the batch.
    pub center_adv: bool,
    /// An episode's first input carries the previous episode's last action, reward and an
    /// episode-end flag (Duan et al. 2016 §2.2) instead of garage `RL2Env`'s zeros (default).
    pub carry_inputs_across_episodes: bool,
}

impl Default for Rl2Config {
    fn default() -> Self {
        Rl2Config { run: OnPolicyRun::default(), gru_hidden: 64, lr: 1e-3, clip: 0.2, ppo_epochs: 5, minibatch_trials: 100, entropy_coeff: 0.0, center_adv: true, carry_inputs_across_episodes: false }
    }
}

/// MCAT (papers/004): context TD3 with the context encoder, forward model and action translator,
/// policy transfer and self-imitation. The TD3 values are Fujimoto et al. 2018's; the schedule
/// is one episode per train task per iteration, then the alternating updates of §3.4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McatConfig {
    /// Train/test task counts; `None` keeps the env family's fixed tables.
    pub n_train_tasks: Option<usize>,
    pub n_eval_tasks: Option<usize>,
    pub task_seed: u32,
    /// Rewards summed and paid every n steps (papers/004 §5.2: 200, 350, 500); `None` is dense.
    /// `--reward-delay` overrides it.
    pub reward_delay: Option<usize>,
    /// Pay the delayed reward still pending when the episode's time limit ends it (the paper's
    /// text); `false` is `delay_reward_env.py`, which drops it.
    pub delay_pays_at_time_limit: bool,
    /// Episode length; `None` is the env's horizon (1000 for the dynamics families).
    pub max_path_length: Option<usize>,
    pub num_iterations: usize,
    /// Iterations whose episodes take uniformly random actions (TD3's start steps).
    pub num_initial_iterations: usize,
    /// TD3 gradient steps per iteration (each on `batch_size` transitions of every train task);
    /// `None` is one per env step collected in the iteration (the authors' `train_td3.py`).
    pub td3_steps_per_iteration: Option<usize>,
    /// C/F steps (Eq. 1 + Eq. 2) and H steps (Eq. 3) per iteration, before the TD3 steps.
    pub model_steps_per_iteration: usize,
    pub translator_steps_per_iteration: usize,
    /// Transitions per train task in a TD3 or H step; segments per train task in a C/F step.
    pub batch_size: usize,
    pub model_batch_size: usize,
    /// Segments averaged into a task feature z⁽ⁱ⁾ (§3.2).
    pub feature_segments: usize,
    /// Hidden layers of the actor and the critics.
    pub hidden_sizes: Vec<i64>,
    /// Hidden layers of C (ReLU) and F (swish); H's embedding width per input (state, action,
    /// source z, target z) and its trunk (models.py 20-154).
    pub context_hidden_sizes: Vec<i64>,
    pub forward_hidden_sizes: Vec<i64>,
    pub translator_embedding_size: i64,
    pub translator_hidden_sizes: Vec<i64>,
    /// Width of the context z.
    pub latent_size: i64,
    /// K: past transitions C reads; M: future steps of Eq. 1.
    pub history_length: usize,
    pub prediction_horizon: usize,
    /// Eq. 2's margin m and its weight next to Eq. 1.
    pub contrastive_margin: f64,
    pub contrastive_weight: f64,
    /// Eq. 2's hinge squared as the authors' code has it; `false` is the paper's text.
    pub contrastive_squared_hinge: bool,
    /// Weight of C's and F's L2 penalty (the authors' `weight_decay_coeff`; 0 turns it off).
    pub model_weight_decay: f64,
    /// Eq. 3 as the authors' code computes it (`"l1"`) or as the paper writes it (`"nll"`).
    pub translator_loss: TranslatorLoss,
    pub actor_lr: f64,
    pub critic_lr: f64,
    pub model_lr: f64,
    pub translator_lr: f64,
    pub discount: f64,
    pub tau: f64,
    /// TD3's target smoothing σ and clip c, actor delay, and the σ of the collection noise.
    pub policy_noise: f64,
    pub noise_clip: f64,
    pub policy_delay: usize,
    pub exploration_noise: f64,
    /// Self-imitation on the agent's good transitions (papers/004 §5.2, D.4) and its weight.
    pub self_imitation: bool,
    pub sil_weight: f64,
    /// Policy transfer during collection (§3.4); false is "MCAT w/o PT" (Table 3).
    pub policy_transfer: bool,
    /// Recent episodes whose mean return decides between the learned and a transferred policy.
    pub transfer_window: usize,
    /// Episodes per test task at meta-test (the learned policy, acting deterministically).
    pub num_eval_episodes: usize,
    pub replay_buffer_size: usize,
    /// libtorch intra-op threads and the sampler's env-stepping threads (results do not depend
    /// on the latter).
    pub threads: i32,
    pub sampler_threads: usize,
}

impl Default for McatConfig {
    fn default() -> Self {
        McatConfig {
            n_train_tasks: None,
            n_eval_tasks: None,
            task_seed: crate::envs::registry::DEFAULT_TASK_SEED,
            reward_delay: None,
            delay_pays_at_time_limit: false,
            max_path_length: None,
            num_iterations: 400,
            num_initial_iterations: 5,
            td3_steps_per_iteration: None,
            model_steps_per_iteration: 200,
            translator_steps_per_iteration: 200,
            batch_size: 256,
            model_batch_size: 64,
            feature_segments: 256,
            hidden_sizes: vec![256, 256],
            context_hidden_sizes: vec![256, 128, 64],
            forward_hidden_sizes: vec![200; 4],
            translator_embedding_size: 128,
            translator_hidden_sizes: vec![256, 256],
            latent_size: 10,
            history_length: 10,
            prediction_horizon: 10,
            contrastive_margin: 1.0,
            contrastive_weight: 1.0,
            contrastive_squared_hinge: true,
            model_weight_decay: 1.0,
            translator_loss: TranslatorLoss::L1,
            actor_lr: 3e-4,
            critic_lr: 3e-4,
            model_lr: 2e-4,
            translator_lr: 3e-4,
            discount: 0.99,
            tau: 0.005,
            policy_noise: 0.2,
            noise_clip: 0.5,
            policy_delay: 2,
            exploration_noise: 0.1,
            self_imitation: true,
            sil_weight: 1.0,
            policy_transfer: true,
            transfer_window: 5,
            num_eval_episodes: 1,
            replay_buffer_size: 1_000_000,
            threads: 1,
            sampler_threads: 2,
        }
    }
}

/// Parse a JSON config of type `T` (every field defaulted): an unknown field is an error naming it
/// and the closest known field, a bad value an error naming its field.
pub fn parse_json<T: Serialize + DeserializeOwned + Default>(text: &str, source: &str) -> Result<T> {
    let value: serde_json::Value = serde_json::from_str(text).with_context(|| format!("{source} is not valid JSON"))?;
    let known = serde_json::to_value(T::default())?;
    let (Some(fields), Some(known)) = (value.as_object(), known.as_object()) else {
        bail!("{source}: a config is a JSON object of fields");
    };
    for name in fields.keys().filter(|k| !known.contains_key(*k)) {
        let hint = closest_match(name, known.keys().map(String::as_str));
        bail!("{source}: unknown config field {name:?}{}", hint.map(|h| format!(" (did you mean {h:?}?)")).unwrap_or_default());
    }
    serde_json::from_value(value.clone()).map_err(|error| {
        // Name the field: the first one that does not parse on its own.
        let culprit = fields.iter().find(|(name, v)| serde_json::from_value::<T>(serde_json::json!({ name.as_str(): v })).is_err());
        match culprit {
            Some((name, v)) => anyhow::anyhow!("{source}: config field {name:?} has a bad value {v}: {error}"),
            None => anyhow::anyhow!("{source}: {error}"),
        }
    })
}

/// Read and parse a config file of type `T`.
pub fn read_file<T: Serialize + DeserializeOwned + Default>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
    parse_json(&text, &path.display().to_string())
}

mod built_in {
    include!(concat!(env!("OUT_DIR"), "/shipped_configs.rs"));
}

/// The shipped config files compiled into this binary: (`"<folder>/<name>.json"`, text).
pub fn built_in() -> &'static [(&'static str, &'static str)] {
    built_in::SHIPPED
}

/// Where a run's config values came from: the files read, in order, and per field the file that
/// set it (a later file over an earlier one) or `default`. Written to the run folder as
/// `config_sources.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConfigSources {
    pub files: Vec<String>,
    pub fields: std::collections::BTreeMap<String, String>,
}

impl ConfigSources {
    /// Sources of `config` after `layers` (each a source name and its JSON object) were merged.
    fn of<T: Serialize>(config: &T, layers: &[(String, serde_json::Map<String, serde_json::Value>)]) -> Result<ConfigSources> {
        let value = serde_json::to_value(config)?;
        let fields = value
            .as_object()
            .map(|o| o.keys().map(|k| (k.clone(), layers.iter().rev().find(|(_, f)| f.contains_key(k)).map_or("default".to_string(), |(n, _)| n.clone()))).collect())
            .unwrap_or_default();
        Ok(ConfigSources { files: layers.iter().map(|(n, _)| n.clone()).collect(), fields })
    }
}

/// The folder `METARL_CONFIGS` names (laid out like `configs/`): read instead of the built-in
/// files when set.
fn configs_override() -> Option<std::path::PathBuf> {
    std::env::var_os("METARL_CONFIGS").filter(|v| !v.is_empty()).map(std::path::PathBuf::from)
}

/// One layer of a shipped config: `<layer>/<env>.json`, else `<layer>/<suite>.json`, from the
/// `METARL_CONFIGS` folder when set, else from the files built into the binary. A layer with
/// neither is an error naming both files: no value falls back silently to the defaults.
fn shipped_layer(layer: &str, env: &str, suite: &str) -> Result<(String, serde_json::Map<String, serde_json::Value>)> {
    shipped_layer_from(configs_override().as_deref(), layer, env, suite)
}

/// [`shipped_layer`] from the folder `dir` (else the built-in files).
fn shipped_layer_from(dir: Option<&Path>, layer: &str, env: &str, suite: &str) -> Result<(String, serde_json::Map<String, serde_json::Value>)> {
    let names = [format!("{layer}/{env}.json"), format!("{layer}/{suite}.json")];
    let (source, text) = match dir {
        Some(dir) => {
            let found = names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
            let Some(path) = found else {
                bail!("no {layer} config for {env}: METARL_CONFIGS={} has neither {} nor {}", dir.display(), names[0], names[1]);
            };
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read config {}", path.display()))?;
            (path.display().to_string(), text)
        }
        None => {
            let found = names.iter().find_map(|n| built_in().iter().find(|(name, _)| name == n));
            let Some((name, text)) = found else {
                bail!("no {layer} config for {env}: neither configs/{} nor configs/{} is built into this binary (pass --config FILE)", names[0], names[1]);
            };
            (format!("configs/{name} (built in)"), text.to_string())
        }
    };
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{source} is not valid JSON"))?;
    let serde_json::Value::Object(fields) = value else { bail!("{source}: a config is a JSON object of fields") };
    Ok((source, fields))
}

/// Merges `layers` (later over earlier) into a config of type `T`, checked as any file is.
fn merge<T: Serialize + DeserializeOwned + Default>(layers: Vec<(String, serde_json::Map<String, serde_json::Value>)>) -> Result<(T, ConfigSources)> {
    let mut merged = serde_json::Map::new();
    for (_, fields) in &layers {
        merged.extend(fields.clone());
    }
    let source = layers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(" + ");
    let config: T = parse_json(&serde_json::Value::Object(merged).to_string(), &source)?;
    let sources = ConfigSources::of(&config, &layers)?;
    Ok((config, sources))
}

/// The shipped config of `algo` for `env`: `configs/<folder>/<env>.json`, else the suite's
/// `configs/<folder>/<suite>.json` (`ml1.json`), built into the binary (or from `METARL_CONFIGS`).
pub fn shipped<T: Serialize + DeserializeOwned + Default>(folder: &str, env: &str, suite: &str) -> Result<T> {
    Ok(shipped_with_sources(folder, env, suite)?.0)
}

/// [`shipped`], with where each value came from.
pub fn shipped_with_sources<T: Serialize + DeserializeOwned + Default>(folder: &str, env: &str, suite: &str) -> Result<(T, ConfigSources)> {
    merge(vec![shipped_layer(folder, env, suite)?])
}

/// Where a config file's own record of its sources lives: `<name>.sources.json` next to it
/// (`campaign plan` writes one beside each resolved config).
pub fn sources_path(config: &Path) -> std::path::PathBuf {
    config.with_extension("sources.json")
}

/// A config file named on the command line (`--config`), with its sources: those recorded next to
/// it (a campaign's resolved config), else the file's fields from it and the others from the
/// defaults.
pub fn from_file_with_sources<T: Serialize + DeserializeOwned + Default>(path: &Path) -> Result<(T, ConfigSources)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
    let source = path.display().to_string();
    let config: T = parse_json(&text, &source)?;
    let recorded = std::fs::read(sources_path(path)).ok().and_then(|bytes| serde_json::from_slice::<ConfigSources>(&bytes).ok());
    if let Some(mut recorded) = recorded {
        recorded.files.insert(0, format!("{source}, resolved from:"));
        return Ok((config, recorded));
    }
    let fields = match serde_json::from_str::<serde_json::Value>(&text)? {
        serde_json::Value::Object(fields) => fields,
        _ => serde_json::Map::new(),
    };
    let sources = ConfigSources::of(&config, &[(source, fields)])?;
    Ok((config, sources))
}

/// A run's config: the `--config` file if one is named, else the shipped one; with its sources.
pub fn load<T: Serialize + DeserializeOwned + Default>(file: Option<&Path>, folder: &str, env: &str, suite: &str) -> Result<(T, ConfigSources)> {
    match file {
        Some(path) => from_file_with_sources(path),
        None => shipped_with_sources(folder, env, suite),
    }
}

/// A loaded config with `--set key=value` overrides on top, in order (a later one over an earlier
/// one), each typed and checked as a config file's field is: the value is JSON (`100`, `3e-4`,
/// `[64, 64]`, `false`, `null`) or else a string (`--set dataset_level=expert`). An unknown key is
/// an error naming the closest field; the sources record each overridden field as `--set`.
pub fn with_overrides<T: Serialize + DeserializeOwned + Default>(loaded: (T, ConfigSources), sets: &[String]) -> Result<(T, ConfigSources)> {
    let (config, mut sources) = loaded;
    if sets.is_empty() {
        return Ok((config, sources));
    }
    let serde_json::Value::Object(mut fields) = serde_json::to_value(&config)? else {
        bail!("a config is a JSON object of fields");
    };
    for set in sets {
        let Some((key, text)) = set.split_once('=') else {
            bail!("--set {set:?}: expected KEY=VALUE, e.g. --set num_iterations=100");
        };
        let key = key.trim();
        if !fields.contains_key(key) {
            let hint = closest_match(key, fields.keys().map(String::as_str));
            bail!("--set {set}: unknown config field {key:?}{}", hint.map(|h| format!(" (did you mean {h:?}?)")).unwrap_or_default());
        }
        let value = serde_json::from_str(text.trim()).unwrap_or_else(|_| serde_json::Value::String(text.to_string()));
        // Checked alone first, so a bad value names its own --set.
        parse_json::<T>(&serde_json::json!({ key: value.clone() }).to_string(), &format!("--set {set}"))?;
        fields.insert(key.to_string(), value);
        sources.fields.insert(key.to_string(), format!("--set {set}"));
    }
    sources.files.push("--set on the command line".to_string());
    let config = parse_json(&serde_json::Value::Object(fields).to_string(), "the config with --set")?;
    Ok((config, sources))
}

impl Config {
    pub fn from_json(text: &str, source: &str) -> Result<Config> {
        parse_json(text, source)
    }

    pub fn from_file(path: &Path) -> Result<Config> {
        read_file(path)
    }

    /// The shipped config, in layers: PEARL's file, then (TCL, CoCOA) TCL's, then (CoCOA)
    /// CoCOA's, each layer `configs/<layer>/<env>.json`, else the suite's
    /// `configs/<layer>/<suite>.json` (`ml1.json`), fields of a later layer over an earlier's;
    /// the defaults below all. Oracle SAC, TCL and CoCOA run PEARL's schedule (papers/001 §C:
    /// TCL shares PEARL's meta-RL hyper-parameters), so they compare like for like, and each
    /// value lives in one file.
    pub fn shipped(algo: &str, env: &str, suite: &str) -> Result<Config> {
        Ok(Config::shipped_with_sources(algo, env, suite)?.0)
    }

    /// [`Config::shipped`], with where each value came from. Every layer must exist (for the
    /// env or its suite).
    pub fn shipped_with_sources(algo: &str, env: &str, suite: &str) -> Result<(Config, ConfigSources)> {
        let layers: &[&str] = match algo {
            "tcl" => &["pearl", "tcl"],
            "cocoa" => &["pearl", "tcl", "cocoa"],
            _ => &["pearl"],
        };
        merge(layers.iter().map(|layer| shipped_layer(layer, env, suite)).collect::<Result<Vec<_>>>()?)
    }

    /// A run's config: the `--config` file if one is named, else the shipped layers.
    pub fn load(file: Option<&Path>, algo: &str, env: &str, suite: &str) -> Result<(Config, ConfigSources)> {
        match file {
            Some(path) => from_file_with_sources(path),
            None => Config::shipped_with_sources(algo, env, suite),
        }
    }
}

/// The checks `metarl train` makes of a run's config before it starts, which `campaign plan`
/// makes of every resolved config: a value no run can start with is an error naming its field.
pub mod checks {
    use anyhow::{ensure, Result};

    use super::{Algorithm, Config, McatConfig, OnPolicyRun, PearlContext};
    use crate::protocol::offline::{EncoderLoss, FocalConfig};

    fn at_least_one(fields: &[(&str, usize)]) -> Result<()> {
        for (name, value) in fields {
            ensure!(*value >= 1, "config field {name} is {value}: it must be at least 1");
        }
        Ok(())
    }

    fn task_counts(n_train: Option<usize>, n_eval: Option<usize>) -> Result<()> {
        ensure!(n_train != Some(0), "config field n_train_tasks is 0: a run needs at least one train task");
        ensure!(n_eval != Some(0), "config field n_eval_tasks is 0: a run needs at least one test task");
        Ok(())
    }

    /// PEARL, oracle SAC, TCL and CoCOA.
    pub fn pearl(algorithm: Algorithm, c: &Config) -> Result<()> {
        task_counts(c.n_train_tasks, c.n_eval_tasks)?;
        at_least_one(&[("meta_batch", c.meta_batch), ("batch_size", c.batch_size), ("embedding_batch_size", c.embedding_batch_size),
            ("embedding_mini_batch_size", c.embedding_mini_batch_size), ("max_path_length", c.max_path_length), ("sampler_envs", c.sampler_envs),
            ("num_evals", c.num_evals)])?;
        if matches!(algorithm, Algorithm::Tcl | Algorithm::Cocoa) {
            ensure!((1..=c.max_path_length.saturating_sub(2)).contains(&c.contrastive_window),
                "config field contrastive_window is {}: it must be between 1 and max_path_length - 2 = {}, so that a query and its key start at different steps of [0, T - W) (papers/001 §C.3)",
                c.contrastive_window, c.max_path_length.saturating_sub(2));
        } else {
            ensure!(c.pearl_context == PearlContext::Sampled, "config field pearl_context is {:?}: only TCL and CoCOA crop query windows to share", c.pearl_context);
        }
        Ok(())
    }

    /// MAML-TRPO and RL²-PPO (`maml`: MAML adapts on its exploration episodes).
    pub fn on_policy(run: &OnPolicyRun, maml: bool) -> Result<()> {
        task_counts(run.n_train_tasks, run.n_eval_tasks)?;
        at_least_one(&[("meta_batch", run.meta_batch), ("episodes_per_task", run.episodes_per_task), ("num_eval_episodes", run.num_eval_episodes),
            ("max_path_length", run.max_path_length)])?;
        if maml {
            at_least_one(&[("num_exp_traj_eval", run.num_exp_traj_eval)])?;
        }
        Ok(())
    }

    pub fn mcat(c: &McatConfig) -> Result<()> {
        task_counts(c.n_train_tasks, c.n_eval_tasks)?;
        at_least_one(&[("history_length", c.history_length), ("prediction_horizon", c.prediction_horizon), ("batch_size", c.batch_size),
            ("feature_segments", c.feature_segments), ("num_eval_episodes", c.num_eval_episodes)])?;
        ensure!(c.model_batch_size >= 2, "config field model_batch_size is {}: it must be at least 2 (Eq. 2 pairs the halves of each task's segments)", c.model_batch_size);
        ensure!(c.reward_delay != Some(0), "config field reward_delay is 0: it must be at least 1 step (or null for dense rewards)");
        ensure!(c.max_path_length != Some(0), "config field max_path_length is 0: it must be at least 1 (or null for the env's horizon)");
        Ok(())
    }

    pub fn focal(c: &FocalConfig) -> Result<()> {
        task_counts(c.n_train_tasks, c.n_eval_tasks)?;
        ensure!(c.meta_batch >= 2 || c.encoder_loss == EncoderLoss::Bellman,
            "config field meta_batch is {}: the metric loss compares the embeddings of at least 2 tasks", c.meta_batch);
        at_least_one(&[("behaviour_env_steps", c.behaviour_env_steps), ("behaviour_initial_steps", c.behaviour_initial_steps), ("checkpoint_every", c.checkpoint_every),
            ("n_trj", c.n_trj), ("batch_size", c.batch_size), ("behaviour_batch_size", c.behaviour_batch_size), ("behaviour_target_update_every", c.behaviour_target_update_every),
            ("max_path_length", c.max_path_length)])?;
        ensure!(c.behaviour_env_steps > c.behaviour_initial_steps + c.checkpoint_every,
            "config fields behaviour_env_steps ({}), behaviour_initial_steps ({}) and checkpoint_every ({}): a behaviour checkpoint is taken after the random steps and before the last, \
             so behaviour_env_steps must exceed the other two together", c.behaviour_env_steps, c.behaviour_initial_steps, c.checkpoint_every);
        ensure!(c.behaviour_initial_temperature > 0.0, "config field behaviour_initial_temperature is {}: α must start above 0", c.behaviour_initial_temperature);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    Pearl,
    OracleSac,
    Tcl,
    Cocoa,
    MamlTrpo,
    Rl2Ppo,
    Focal,
    Mcat,
}

impl Algorithm {
    /// The algorithm named on the command line, or an error naming the closest.
    pub fn parse(name: &str) -> Result<Algorithm> {
        Ok(match check_algorithm(name)? {
            "pearl" => Algorithm::Pearl,
            "oracle-sac" => Algorithm::OracleSac,
            "tcl" => Algorithm::Tcl,
            "cocoa" => Algorithm::Cocoa,
            "maml-trpo" => Algorithm::MamlTrpo,
            "focal" => Algorithm::Focal,
            "mcat" => Algorithm::Mcat,
            _ => Algorithm::Rl2Ppo,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Pearl => "pearl",
            Algorithm::OracleSac => "oracle-sac",
            Algorithm::Tcl => "tcl",
            Algorithm::Cocoa => "cocoa",
            Algorithm::MamlTrpo => "maml-trpo",
            Algorithm::Rl2Ppo => "rl2-ppo",
            Algorithm::Focal => "focal",
            Algorithm::Mcat => "mcat",
        }
    }

    /// MAML-TRPO and RL²-PPO: trained by the on-policy trainer with their own config.
    pub fn is_on_policy(self) -> bool {
        matches!(self, Algorithm::MamlTrpo | Algorithm::Rl2Ppo)
    }

    /// FOCAL: trained from a fixed dataset by the offline trainer with its own config.
    pub fn is_offline(self) -> bool {
        self == Algorithm::Focal
    }
}

/// An algorithm name from the command line, or an error naming the closest.
pub fn check_algorithm(name: &str) -> Result<&'static str> {
    ALGORITHMS.iter().copied().find(|a| *a == name).ok_or_else(|| {
        let hint = closest_match(name, ALGORITHMS.iter().copied());
        anyhow::anyhow!("unknown algorithm {name:?}{}; available: {}", hint.map(|h| format!(" (did you mean {h:?}?)")).unwrap_or_default(), ALGORITHMS.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_mistyped_fields_are_named() {
        let err = Config::from_json(r#"{"meta_bacth": 4}"#, "x.json").unwrap_err().to_string();
        assert!(err.contains("unknown config field \"meta_bacth\"") && err.contains("did you mean \"meta_batch\""), "{err}");
        let err = Config::from_json(r#"{"meta_batch": "four"}"#, "x.json").unwrap_err();
        assert!(format!("{err:#}").contains("meta_batch"), "{err:#}");
        let ok = Config::from_json(r#"{"meta_batch": 4, "kl_lambda": 1.0}"#, "x.json").unwrap();
        assert_eq!((ok.meta_batch, ok.kl_lambda, ok.net_size), (4, 1.0, 300));
    }

    #[test]
    fn shipped_configs_parse_and_carry_the_reference_values() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/pearl");
        for entry in std::fs::read_dir(&folder).unwrap() {
            Config::from_file(&entry.unwrap().path()).unwrap();
        }
        // oyster configs/ant-goal.json and papers/001 Table 7.
        let ant_goal = Config::shipped("pearl", "ant-goal", "controls").unwrap();
        assert_eq!((ant_goal.meta_batch, ant_goal.kl_lambda, ant_goal.num_train_steps_per_itr), (10, 1.0, 4000));
        let ml1 = Config::shipped("oracle-sac", "reach-v3", "ml1").unwrap();
        assert_eq!((ml1.latent_size, ml1.net_size, ml1.reward_scale, ml1.num_tasks_sample), (7, 400, 10.0, 15));
        // The dynamics families read configs/pearl/dynamics.json: papers/004's horizon and budget.
        let dynamics = Config::shipped("pearl", "cheetah-armature", "dynamics").unwrap();
        assert_eq!((dynamics.max_path_length, dynamics.num_iterations, dynamics.meta_batch), (1000, 200, 5));
    }

    #[test]
    fn shipped_configs_are_built_in_and_a_missing_one_is_named() {
        // The binary carries every file of configs/, byte for byte.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        assert!(built_in().len() > 60);
        for (name, text) in built_in() {
            assert_eq!(*text, std::fs::read_to_string(root.join(name)).unwrap(), "{name}");
        }
        // Sources name the file each value came from, layer over layer, and the defaults.
        let (tcl, sources) = Config::shipped_with_sources("tcl", "humanoid-dir", "controls").unwrap();
        assert_eq!(tcl.contrastive_window, 128);
        assert_eq!(sources.files, ["configs/pearl/humanoid-dir.json (built in)", "configs/tcl/humanoid-dir.json (built in)"]);
        assert_eq!(sources.fields["contrastive_window"], "configs/tcl/humanoid-dir.json (built in)");
        assert_eq!(sources.fields["num_train_steps_per_itr"], "configs/pearl/humanoid-dir.json (built in)");
        assert_eq!(sources.fields["soft_target_tau"], "default");
        // A folder named to override them must hold the layer: no silent fallback to defaults.
        let empty = tempfile::tempdir().unwrap();
        let err = shipped_layer_from(Some(empty.path()), "tcl", "point-robot", "point").unwrap_err().to_string();
        assert!(err.contains("tcl/point-robot.json") && err.contains("tcl/point.json"), "{err}");
        std::fs::create_dir_all(empty.path().join("tcl")).unwrap();
        std::fs::write(empty.path().join("tcl/point.json"), r#"{"contrastive_window": 5}"#).unwrap();
        let (source, fields) = shipped_layer_from(Some(empty.path()), "tcl", "point-robot", "point").unwrap();
        assert!(source.ends_with("tcl/point.json") && fields["contrastive_window"] == 5, "{source}");
        let err = shipped_layer_from(None, "tcl", "no-such-env", "no-such-suite").unwrap_err().to_string();
        assert!(err.contains("configs/tcl/no-such-env.json") && err.contains("built into this binary"), "{err}");
    }

    #[test]
    fn tcl_and_cocoa_read_pearl_schedule_and_their_own_tables() {
        for layer in ["tcl", "cocoa"] {
            for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(layer)).unwrap() {
                Config::from_file(&entry.unwrap().path()).unwrap();
            }
        }
        // papers/001 Table 4 (Humanoid: W 128, scale 5) on oyster's humanoid-dir schedule.
        let humanoid = Config::shipped("tcl", "humanoid-dir", "controls").unwrap();
        let pearl = Config::shipped("pearl", "humanoid-dir", "controls").unwrap();
        assert_eq!((humanoid.contrastive_window, humanoid.contrastive_loss_scale, humanoid.key_encoder_tau), (128, 5.0, 0.005));
        assert_eq!((humanoid.num_train_steps_per_itr, humanoid.embedding_batch_size), (pearl.num_train_steps_per_itr, pearl.embedding_batch_size));
        let cheetah = Config::shipped("cocoa", "cheetah-vel", "controls").unwrap();
        assert_eq!((cheetah.contrastive_window, cheetah.similarity, cheetah.embedding_batch_size), (64, Some(Similarity::Bhattacharyya), 100));
        // Table 8 on Table 7.
        let ml1 = Config::shipped("cocoa", "push-v3", "ml1").unwrap();
        assert_eq!((ml1.contrastive_window, ml1.contrastive_temperature, ml1.latent_size, ml1.net_size), (64, 1.0, 7, 400));
        assert_eq!(Config { similarity: None, ..ml1 }, Config { similarity: None, ..Config::shipped("tcl", "push-v3", "ml1").unwrap() });
        let err = Config::from_json(r#"{"similarity": "cosine"}"#, "x.json").unwrap_err();
        assert!(format!("{err:#}").contains("similarity"), "{err:#}");
    }

    #[test]
    fn mcat_configs_parse_and_carry_the_paper_values() {
        // papers/004 §5.2-5.3: horizon 1000, rewards delayed 500 steps, 2M steps over 5 train tasks.
        for env in ["hopper-size", "cheetah-armature", "cheetah-mass", "ant-damp", "ant-cripple"] {
            let c: McatConfig = shipped("mcat", env, "dynamics").unwrap();
            assert_eq!((c.reward_delay, c.max_path_length, c.num_iterations, c.hidden_sizes.as_slice()), (Some(500), Some(1000), 400, &[256, 256][..]), "{env}");
            assert!(c.self_imitation && c.policy_transfer, "{env}");
            // TD3's values (Fujimoto et al. 2018).
            assert_eq!((c.policy_noise, c.noise_clip, c.policy_delay, c.exploration_noise, c.tau), (0.2, 0.5, 2, 0.1, 0.005));
        }
        read_file::<McatConfig>(&Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/demo/mcat-point-robot-wind.json")).unwrap();
        let err = parse_json::<McatConfig>(r#"{"policy_transfr": false}"#, "x.json").unwrap_err().to_string();
        assert!(err.contains("did you mean \"policy_transfer\""), "{err}");
        assert_eq!(Algorithm::parse("mcat").unwrap().name(), "mcat");
    }

    #[test]
    fn on_policy_configs_parse_and_carry_the_reference_values() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let files = |folder: &str| std::fs::read_dir(root.join(folder)).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>();
        files("maml-trpo").iter().for_each(|path| drop(read_file::<MamlConfig>(path).unwrap()));
        files("rl2-ppo").iter().for_each(|path| drop(read_file::<Rl2Config>(path).unwrap()));
        // ProMP trpo_run_all.py: two inner steps on ant-goal, (128, 128) on humanoid, α = 0.05 on rand-params.
        let ant_goal: MamlConfig = shipped("maml-trpo", "ant-goal", "controls").unwrap();
        assert_eq!((ant_goal.num_grad_updates, ant_goal.run.meta_batch, ant_goal.run.episodes_per_task), (2, 40, 20));
        let humanoid: MamlConfig = shipped("maml-trpo", "humanoid-dir", "controls").unwrap();
        assert_eq!(humanoid.hidden_sizes, [128, 128]);
        let walker: MamlConfig = shipped("maml-trpo", "walker-rand-params", "controls").unwrap();
        assert_eq!(walker.inner_lr, 0.05);
        // Meta-World paper / garage launchers for ML1.
        let rl2: Rl2Config = shipped("rl2-ppo", "push-v3", "ml1").unwrap();
        assert_eq!((rl2.run.meta_batch, rl2.run.episodes_per_task, rl2.gru_hidden, rl2.lr, rl2.run.gae_lambda), (25, 10, 256, 5e-4, 0.95));
        assert_eq!((rl2.entropy_coeff, rl2.center_adv, rl2.run.max_path_length, rl2.run.n_eval_tasks), (0.02, false, 200, Some(10)));
        let maml: MamlConfig = shipped("maml-trpo", "reach-v3", "ml1").unwrap();
        assert_eq!((maml.run.meta_batch, maml.run.episodes_per_task, maml.inner_lr, maml.max_kl), (20, 10, 0.1, 0.01));
        // The shared fields are flat in the JSON; the other algorithm's fields are unknown.
        let err = parse_json::<MamlConfig>(r#"{"meta_batch": 3, "ppo_epochs": 2}"#, "x.json").unwrap_err().to_string();
        assert!(err.contains("unknown config field \"ppo_epochs\""), "{err}");
        assert_eq!(parse_json::<Rl2Config>(r#"{"meta_batch": 3, "ppo_epochs": 2}"#, "x.json").unwrap().run.meta_batch, 3);
    }

    /// The ML1 meta-test every algorithm runs (README, "One ML1 meta-test"): the first 10 of
    /// `ML1(env, seed)`'s test tasks, horizon 200 (papers/001 §5.4, papers/000 §5.3), 10
    /// exploration episodes, then one scored episode per test task.
    #[test]
    fn every_algorithm_meets_the_same_ml1_meta_test() {
        const EXPLORE: usize = 10;
        for algo in ["pearl", "oracle-sac", "tcl", "cocoa"] {
            let c = Config::shipped(algo, "push-v3", "ml1").unwrap();
            assert_eq!((c.n_eval_tasks, c.max_path_length, c.num_exp_traj_eval, c.num_evals), (Some(10), 200, EXPLORE, 1), "{algo}");
            // The trajectory after the 10th is the last: the posterior of 10 scores it.
            assert_eq!(c.num_steps_per_eval, (EXPLORE + 1) * c.max_path_length, "{algo}");
        }
        let maml: MamlConfig = shipped("maml-trpo", "push-v3", "ml1").unwrap();
        let rl2: Rl2Config = shipped("rl2-ppo", "push-v3", "ml1").unwrap();
        for (algo, run) in [("maml-trpo", &maml.run), ("rl2-ppo", &rl2.run)] {
            assert_eq!((run.n_eval_tasks, run.max_path_length, run.num_exp_traj_eval, run.num_eval_episodes), (Some(10), 200, EXPLORE, 1), "{algo}");
        }
        let mcat: McatConfig = shipped("mcat", "push-v3", "ml1").unwrap();
        assert_eq!((mcat.n_eval_tasks, mcat.max_path_length, mcat.num_eval_episodes), (Some(10), Some(200), 1));
        let focal: crate::protocol::offline::FocalConfig = shipped("focal", "push-v3", "ml1").unwrap();
        assert_eq!((focal.n_eval_tasks, focal.max_path_length, focal.num_evals), (Some(10), 200, 1));
    }
}
