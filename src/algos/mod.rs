//! Learners. The SAC core is shared; PEARL adds the context encoder; oracle SAC feeds z from the
//! task family's ground truth; TCL-PEARL and CoCOA add a contrastive loss on PEARL's encoder. The
//! offline FOCAL adds BRAC's behaviour regularisation ([`brac`]) to the SAC core and trains its
//! encoder by distance metric learning ([`focal`]). The on-policy baselines share `onpolicy` (GAE,
//! the linear feature baseline, conjugate gradient, TRPO's step): MAML-TRPO and RL²-PPO. MCAT
//! trains the TD3 core with a context encoder, a forward model and an action translator of its own.

pub mod brac;
pub mod contrastive;
pub mod focal;
pub mod maml_trpo;
pub mod mcat;
pub mod onpolicy;
pub mod pearl;
pub mod rl2_ppo;
pub mod sac;
pub mod sac_v2;
pub mod td3;
