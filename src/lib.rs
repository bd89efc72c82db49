//! metarl: a meta-RL benchmark harness. Layout and conventions: DESIGN.md; commands: README.md.

#![deny(unsafe_code)]

pub mod algos;
pub mod assets;
pub mod bench;
pub mod campaign;
pub mod doctor;
pub mod nn;
pub mod numerics;
pub mod progress;
pub mod protocol;
pub mod regress;
pub mod results;
pub mod video;
#[cfg(feature = "viewer")]
pub mod view;

// The environments live in their own crate, without libtorch (metarl-envs/).
pub use metarl_envs::{envs, paths, sim, suggest};
