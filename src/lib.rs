//! metarl: a meta-RL benchmark harness. Layout and conventions: DESIGN.md; commands: README.md.

pub mod assets;
pub mod bench;
pub mod doctor;
pub mod envs;
pub mod paths;
pub mod sim;
pub mod suggest;
