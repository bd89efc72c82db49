//! Benchmarks, each against its limit or its reference (DESIGN.md, performance targets):
//! `metarl bench mujoco` (raw `mj_step` throughput), `metarl bench envs` (env steps/s against the
//! raw `mj_step` limit of the same physics and the Python references), `metarl bench train` and
//! `metarl bench sampler` (the learners' gradient steps and the sampler's env steps).

mod envs;
mod mujoco;
mod train;

pub use envs::*;
pub use mujoco::*;
pub use train::*;

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

pub fn write_csv<T: Serialize>(rows: &[T], out: &Path) -> Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut writer = csv::Writer::from_path(out).with_context(|| format!("cannot write {}", out.display()))?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}
