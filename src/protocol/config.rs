//! Run configuration: oyster's `configs/default.py` values as defaults, a JSON file on top
//! (`configs/<algo>/<env>.json`), unknown fields rejected by name.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::algos::contrastive::Similarity;
use crate::suggest::closest_match;

/// The algorithms `metarl train` runs.
pub const ALGORITHMS: &[&str] = &["pearl", "oracle-sac", "tcl", "cocoa"];

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
        }
    }
}

impl Config {
    /// Parse a JSON config; an unknown field is an error naming it and the closest known field.
    pub fn from_json(text: &str, source: &str) -> Result<Config> {
        let value: serde_json::Value = serde_json::from_str(text).with_context(|| format!("{source} is not valid JSON"))?;
        let known = serde_json::to_value(Config::default())?;
        let (Some(fields), Some(known)) = (value.as_object(), known.as_object()) else {
            bail!("{source}: a config is a JSON object of fields");
        };
        for name in fields.keys().filter(|k| !known.contains_key(*k)) {
            let hint = closest_match(name, known.keys().map(String::as_str));
            bail!("{source}: unknown config field {name:?}{}", hint.map(|h| format!(" (did you mean {h:?}?)")).unwrap_or_default());
        }
        serde_json::from_value(value.clone()).map_err(|error| {
            // Name the field: the first one that does not parse on its own.
            let culprit = fields.iter().find(|(name, v)| serde_json::from_value::<Config>(serde_json::json!({ name.as_str(): v })).is_err());
            match culprit {
                Some((name, v)) => anyhow::anyhow!("{source}: config field {name:?} has a bad value {v}: {error}"),
                None => anyhow::anyhow!("{source}: {error}"),
            }
        })
    }

    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
        Config::from_json(&text, &path.display().to_string())
    }

    /// The shipped config, in layers: PEARL's file, then (TCL, CoCOA) TCL's, then (CoCOA)
    /// CoCOA's, each layer `configs/<layer>/<env>.json`, else the suite's
    /// `configs/<layer>/<suite>.json` (`ml1.json`), fields of a later layer over an earlier's;
    /// the defaults below all. Oracle SAC, TCL and CoCOA run PEARL's schedule (papers/001 §C:
    /// TCL shares PEARL's meta-RL hyper-parameters), so they compare like for like, and each
    /// value lives in one file.
    pub fn shipped(algo: &str, env: &str, suite: &str) -> Result<Config> {
        let layers: &[&str] = match algo {
            "tcl" => &["pearl", "tcl"],
            "cocoa" => &["pearl", "tcl", "cocoa"],
            _ => &["pearl"],
        };
        let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let files: Vec<_> = layers
            .iter()
            .filter_map(|layer| [format!("{env}.json"), format!("{suite}.json")].iter().map(|file| configs.join(layer).join(file)).find(|p| p.is_file()))
            .collect();
        let mut merged = serde_json::Map::new();
        for path in &files {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
            let serde_json::Value::Object(fields) = value else { bail!("{}: a config is a JSON object of fields", path.display()) };
            merged.extend(fields);
        }
        let source = files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" + ");
        Config::from_json(&serde_json::Value::Object(merged).to_string(), &source)
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
        assert_eq!(Config::shipped("pearl", "cheetah-armature", "dynamics").unwrap(), Config::default());
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
}
