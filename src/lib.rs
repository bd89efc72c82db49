//! metarl: a meta-RL benchmark harness. Layout and conventions: DESIGN.md; commands: README.md.

// `sim` is the only safe layer over mujoco-sys; nothing else may use `unsafe`.
#![deny(unsafe_code)]

pub mod algos;
pub mod assets;
pub mod bench;
pub mod campaign;
pub mod doctor;
pub mod envs;
pub mod nn;
pub mod numerics;
pub mod paths;
pub mod progress;
pub mod protocol;
pub mod regress;
pub mod results;
#[allow(unsafe_code)]
pub mod sim;
pub mod suggest;
pub mod video;
