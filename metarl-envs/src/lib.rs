//! metarl's environments without libtorch: the safe MuJoCo layer (`sim`) and every env with its
//! task family (`envs`). The `metarl` binary and the Python module `metarl_envs` both build on it.

// `sim` is the only safe layer over mujoco-sys; nothing else may use `unsafe`.
#![deny(unsafe_code)]

pub mod envs;
pub mod paths;
#[allow(unsafe_code)]
pub mod sim;
pub mod suggest;
