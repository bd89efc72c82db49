//! The meta-training loop, sampling and the meta-test evaluation (DESIGN.md, Evaluation protocol).

pub mod buffer;
pub mod config;
pub mod driver;
pub mod embeddings;
pub mod mcat;
pub mod meta_train;
pub mod offline;
pub mod onpolicy;
pub mod run_dir;
pub mod sampler;
