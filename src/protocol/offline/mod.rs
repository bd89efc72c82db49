//! Offline meta-RL (FOCAL, papers/002): datasets of per-task behaviour policies
//! ([`collect`], stored as [`dataset`] `.npz` + JSON manifests) and the offline meta-training
//! loop ([`train`]) of FOCAL and the baselines it compares with (Batch PEARL with and without
//! behaviour regularisation, FOCAL with a probabilistic encoder), all switches of
//! [`FocalConfig`].

pub mod collect;
pub mod dataset;
pub mod npz;
pub mod train;


use serde::{Deserialize, Serialize};

use crate::algos::brac::PenaltyForm;
use crate::envs::point::SparseReward;
use crate::algos::focal::SameTaskTerm;

/// A dataset quality level (papers/002 App. D): the first behaviour checkpoint (after the random
/// steps), the checkpoint whose return is nearest halfway between it and the last, the last, or
/// every checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Random,
    Medium,
    Expert,
    Mixed,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Random, Level::Medium, Level::Expert, Level::Mixed];

    pub fn name(self) -> &'static str {
        match self {
            Level::Random => "random",
            Level::Medium => "medium",
            Level::Expert => "expert",
            Level::Mixed => "mixed",
        }
    }
}

/// The context encoder (papers/002 §4.1 and Fig. 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderKind {
    /// FOCAL: z = mean of per-transition tanh embeddings, bounded in (-1, 1)^latent.
    Deterministic,
    /// PEARL's product of Gaussians, z sampled from q(z|c).
    Probabilistic,
}

/// What trains the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncoderLoss {
    /// FOCAL: the inverse-power distance metric loss (papers/002 Eq. 13).
    Dml,
    /// The classical contrastive loss with margin (Eq. 12).
    L2Contrastive,
    /// Fig. 2 and Table 1's positive powers of distance (L1, L2): −β·dᵖ on different-task
    /// pairs, p = `distance_power`, β matched to Eq. 13's term at distance 0.5 (App. A (b)).
    DistancePower,
    /// Batch PEARL: the Bellman (Q) loss plus β·KL(q(z|c) ‖ N(0, I)), PEARL's way.
    Bellman,
}

/// FOCAL's run and dataset config: FOCAL-ICLR's `configs/default.py` values as defaults, each
/// env's `configs/focal/<env>.json` on top, unknown fields named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FocalConfig {
    /// Train/test task counts; `None` keeps the env family's.
    pub n_train_tasks: Option<usize>,
    pub n_eval_tasks: Option<usize>,
    pub task_seed: u32,
    pub max_path_length: usize,

    /// Dataset collection (papers/002 App. D; FOCAL-ICLR `policy_train.py`, its behaviour SAC
    /// `rlkit/torch/sac/pytorch_sac/config/{train,agent/sac}.yaml`): env steps per task of its
    /// behaviour policy (`num_train_steps`).
    pub behaviour_env_steps: usize,
    /// Uniformly random actions, and no update, before this many env steps (`num_seed_steps`).
    pub behaviour_initial_steps: usize,
    /// A behaviour checkpoint at the first episode end at or past each multiple of this many env
    /// steps after the random ones and before the last step (`eval_frequency`).
    pub checkpoint_every: usize,
    /// Trajectories rolled out per checkpoint with sampled actions (`num_eval_sample_episodes`).
    pub n_trj: usize,
    /// The behaviour SAC's hidden layers (`hidden_depth` × `hidden_dim`), one learning rate for
    /// actor, critics and α, batch size, discount, target weight τ, initial α and target-critic
    /// period (`critic_target_update_frequency`).
    pub behaviour_hidden: Vec<i64>,
    pub behaviour_lr: f64,
    pub behaviour_batch_size: usize,
    pub behaviour_discount: f64,
    pub behaviour_tau: f64,
    pub behaviour_initial_temperature: f64,
    pub behaviour_target_update_every: usize,
    /// The level meta-training reads (FOCAL-ICLR `train_epoch` null: every checkpoint).
    pub dataset_level: Level,

    pub latent_size: i64,
    /// Units per hidden layer (3 layers) of policy, Q, V and the dual critic.
    pub net_size: i64,
    pub encoder_hidden: Vec<i64>,
    pub meta_batch: usize,
    pub num_iterations: usize,
    pub num_train_steps_per_itr: usize,
    pub batch_size: usize,
    /// Context transitions per task for the encoder (training and meta-test).
    pub embedding_batch_size: usize,
    pub discount: f64,
    pub soft_target_tau: f64,
    pub policy_lr: f64,
    pub qf_lr: f64,
    pub vf_lr: f64,
    pub context_lr: f64,
    pub reward_scale: f64,
    /// Context carries the sparse reward; RL uses the dense one.
    pub sparse_rewards: bool,
    /// sparse-point-robot's sparse reward: "one-minus-distance" (1 − d, papers/002 App. D and
    /// oyster) or "focal-iclr" (5·(0.2 − d), FOCAL-ICLR's code with `goal_radius: -0.2`).
    pub sparse_reward: SparseReward,
    /// Mark the last transition of every stored trajectory terminal, time limits included, as
    /// FOCAL-ICLR's data does (`terminal[-1] = 1`); off, a time limit stays non-terminal.
    pub time_limit_terminal: bool,
    pub use_next_obs_in_context: bool,

    pub encoder: EncoderKind,
    pub encoder_loss: EncoderLoss,
    /// FOCAL-ICLR `allow_backward_z`: the Bellman gradient also reaches the encoder (the coupled
    /// ablation, papers/002 Fig. 9); off, the encoder learns from its metric loss alone.
    pub allow_backward_z: bool,
    /// FOCAL-ICLR steps the context optimiser before `qf_loss.backward()`, so a coupled or Batch
    /// PEARL encoder never takes the Bellman gradient; true reproduces that, for comparisons
    /// with its published baselines.
    pub encoder_step_before_bellman: bool,
    /// Weight of the metric loss (FOCAL-ICLR `z_loss_weight`).
    pub z_loss_weight: f64,
    /// Same-task pairs: `distance` √(d² + 10⁻³) as FOCAL-ICLR's `z_loss` trains, or `square` d²
    /// as Eq. 12-13 write it.
    pub same_task_loss: SameTaskTerm,
    /// Eq. 13: n, β and ε of β/(‖qᵢ − qⱼ‖ⁿ + ε).
    pub dml_power: f64,
    pub dml_beta: f64,
    pub dml_epsilon: f64,
    /// Eq. 12's margin m.
    pub contrastive_margin: f64,
    /// p of the `distance-power` loss (1 linear, 2 square).
    pub distance_power: f64,
    /// Batch PEARL's information bottleneck weight (probabilistic encoder).
    pub kl_lambda: f64,

    /// BRAC (Wu et al. 2019) on the actor-critic: policy regularisation by α·D_KL.
    pub use_brac: bool,
    /// BRAC's value penalty: α·D_KL also taken off the Bellman target.
    pub use_value_penalty: bool,
    pub alpha_init: f64,
    pub alpha_max: f64,
    /// α's dual step: α ← clip(α + alpha_lr·(D̂ − target_divergence), 0, alpha_max).
    pub alpha_lr: f64,
    pub target_divergence: f64,
    /// The dual critic (discriminator) of the KL estimate: learning rate and steps per step.
    pub dual_critic_lr: f64,
    pub dual_critic_steps: usize,
    /// Weight of the dual critic's gradient penalty.
    pub gradient_penalty: f64,
    /// What the penalty bounds: "output" (FOCAL-ICLR's code: the critic's output at the
    /// interpolated actions) or "input-gradient" (BRAC's paper: its gradient there).
    pub gradient_penalty_form: PenaltyForm,

    /// Meta-test runs per test task (FOCAL-ICLR `num_evals`).
    pub num_evals: usize,
    /// Meta-test: each run rolls out until this many transitions; before each rollout,
    /// `max_path_length` transitions of the test task's dataset join the run's context and z is
    /// inferred from all of it; the last rollout is scored (FOCAL-ICLR `collect_paths` →
    /// `offline_rollout`).
    pub num_steps_per_eval: usize,
    /// libtorch intra-op threads (results are reproducible for a fixed count).
    pub threads: i32,
}

impl Default for FocalConfig {
    fn default() -> Self {
        FocalConfig {
            n_train_tasks: None,
            n_eval_tasks: None,
            task_seed: crate::envs::registry::DEFAULT_TASK_SEED,
            max_path_length: 200,
            behaviour_env_steps: 5_000,
            behaviour_initial_steps: 2_000,
            checkpoint_every: 200,
            n_trj: 45,
            behaviour_hidden: vec![1024, 1024],
            behaviour_lr: 1e-4,
            behaviour_batch_size: 1024,
            behaviour_discount: 0.99,
            behaviour_tau: 0.005,
            behaviour_initial_temperature: 0.1,
            behaviour_target_update_every: 2,
            dataset_level: Level::Mixed,
            latent_size: 20,
            net_size: 256,
            encoder_hidden: vec![200, 200, 200],
            meta_batch: 16,
            num_iterations: 500,
            num_train_steps_per_itr: 2000,
            batch_size: 256,
            embedding_batch_size: 64,
            discount: 0.99,
            soft_target_tau: 0.005,
            policy_lr: 3e-4,
            qf_lr: 3e-4,
            vf_lr: 3e-4,
            context_lr: 3e-4,
            reward_scale: 5.0,
            sparse_rewards: false,
            sparse_reward: SparseReward::OneMinusDistance,
            time_limit_terminal: false,
            use_next_obs_in_context: false,
            encoder: EncoderKind::Deterministic,
            encoder_loss: EncoderLoss::Dml,
            allow_backward_z: false,
            encoder_step_before_bellman: false,
            z_loss_weight: 10.0,
            same_task_loss: SameTaskTerm::Distance,
            dml_power: 2.0,
            dml_beta: 1.0,
            dml_epsilon: 0.1,
            contrastive_margin: 1.0,
            distance_power: 2.0,
            kl_lambda: 0.1,
            use_brac: true,
            use_value_penalty: false,
            alpha_init: 500.0,
            alpha_max: 2000.0,
            alpha_lr: 1.0,
            target_divergence: 0.05,
            dual_critic_lr: 1e-4,
            dual_critic_steps: 3,
            gradient_penalty: 5.0,
            gradient_penalty_form: PenaltyForm::Output,
            num_evals: 2,
            num_steps_per_eval: 600,
            threads: 1,
        }
    }
}

impl FocalConfig {
    /// The offline learner's SAC core for `z_dim`-wide task variables.
    pub fn sac_settings(&self, obs_dim: usize, action_dim: usize, z_dim: i64) -> crate::algos::sac::SacSettings {
        crate::algos::sac::SacSettings {
            obs_dim: obs_dim as i64,
            action_dim: action_dim as i64,
            z_dim,
            net_size: self.net_size,
            discount: self.discount,
            reward_scale: self.reward_scale,
            soft_target_tau: self.soft_target_tau,
            policy_lr: self.policy_lr,
            qf_lr: self.qf_lr,
            vf_lr: self.vf_lr,
            policy_reg_weight: 1e-3,
        }
    }

    /// The behaviour policies' SAC: pytorch_sac's, one task, no task variable, rewards unscaled.
    pub fn behaviour_settings(&self, obs_dim: usize, action_dim: usize) -> crate::algos::sac_v2::SacV2Settings {
        use crate::algos::sac_v2::{SacV2Convention, SacV2Settings};
        SacV2Settings {
            discount: self.behaviour_discount,
            reward_scale: 1.0,
            tau: self.behaviour_tau,
            policy_lr: self.behaviour_lr,
            qf_lr: self.behaviour_lr,
            initial_alpha: self.behaviour_initial_temperature,
            target_update_every: self.behaviour_target_update_every,
            convention: SacV2Convention::PytorchSac,
            ..SacV2Settings::garage(obs_dim as i64, action_dim as i64, 0, self.behaviour_hidden.clone(), 1)
        }
    }

    /// `configs/focal/<env>.json` (else the defaults), or the given file.
    pub fn load(file: Option<&std::path::Path>, env: &str, suite: &str) -> anyhow::Result<FocalConfig> {
        match file {
            Some(path) => super::config::read_file(path),
            None => super::config::shipped("focal", env, suite),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configs_parse_and_carry_focal_iclr_values() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/focal");
        for entry in std::fs::read_dir(&folder).unwrap() {
            crate::protocol::config::read_file::<FocalConfig>(&entry.unwrap().path()).unwrap();
        }
        let cheetah = FocalConfig::load(None, "cheetah-vel", "controls").unwrap();
        assert_eq!((cheetah.alpha_init, cheetah.embedding_batch_size, cheetah.latent_size, cheetah.z_loss_weight, cheetah.dml_power), (50.0, 100, 20, 10.0, 2.0));
        let ant = FocalConfig::load(None, "ant-dir", "controls").unwrap();
        assert!(ant.use_value_penalty && ant.alpha_max == 5e6 && ant.meta_batch == 4);
        let wind = FocalConfig::load(None, "point-robot-wind", "point").unwrap();
        assert!(!wind.use_brac && wind.max_path_length == 25 && wind.use_next_obs_in_context && wind.discount == 0.9);
        // FOCAL-ICLR configs/point-robot.json leaves BRAC, α and the context size at their defaults.
        let point = FocalConfig::load(None, "point-robot", "point").unwrap();
        assert!(point.use_brac && point.alpha_init == 500.0 && point.reward_scale == 100.0 && point.embedding_batch_size == 64);
        assert_eq!((point.same_task_loss, point.num_evals), (SameTaskTerm::Distance, 2));
        let err = crate::protocol::config::parse_json::<FocalConfig>(r#"{"dml_pwer": 1}"#, "x.json").unwrap_err().to_string();
        assert!(err.contains("did you mean \"dml_power\""), "{err}");
        // FOCAL-ICLR's `train_epoch`: one late checkpoint (6e5 for cheetah-vel and, by
        // default.py, point-robot; 4800 for the sparse and wind point robots), every checkpoint
        // (null) for cheetah-dir, ant-dir and walker.
        for (env, level) in [("cheetah-vel", Level::Expert), ("point-robot", Level::Expert), ("sparse-point-robot", Level::Expert), ("point-robot-wind", Level::Expert),
            ("cheetah-dir", Level::Mixed), ("ant-dir", Level::Mixed), ("walker-rand-params", Level::Mixed)] {
            assert_eq!(FocalConfig::load(None, env, "controls").unwrap().dataset_level, level, "{env}");
        }
    }
}
