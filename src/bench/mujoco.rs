//! `metarl bench mujoco`: raw `mj_step` throughput of each model through our bindings.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::paths;
use crate::sim::{Data, Model};

/// One model's measurement, one CSV row.
#[derive(Debug, Serialize)]
pub struct StepRate {
    pub model: String,
    pub nq: usize,
    pub nv: usize,
    pub nu: usize,
    pub steps: usize,
    pub seconds: f64,
    pub steps_per_s: f64,
    /// Mean |qvel| at the end: a seeded rollout gives the same value on every run.
    pub final_mean_abs_qvel: f64,
}

/// The models of the suites: Gymnasium's MuJoCo Controls bodies and a Meta-World arm scene.
pub fn default_models() -> Vec<PathBuf> {
    let gym = paths::gymnasium_assets();
    let mut models: Vec<PathBuf> =
        ["half_cheetah.xml", "ant.xml", "hopper.xml", "walker2d.xml", "humanoid.xml"].iter().map(|f| gym.join(f)).collect();
    models.push(paths::metaworld_assets().join("sawyer_xyz").join("sawyer_reach_v3.xml"));
    models
}

/// Step `model` `steps` times from its initial state under uniformly random controls within
/// each actuator's ctrlrange (seeded), timing only the `mj_step` calls.
pub fn step_rate(path: &Path, steps: usize, seed: u64) -> Result<StepRate> {
    let model = Model::from_xml_path(path)?;
    let mut data = Data::new(&model);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let nu = model.nu();
    let ranges = model.actuator_ctrlrange().to_vec();
    let controls: Vec<f64> =
        (0..steps * nu).map(|i| rng.gen_range(ranges[2 * (i % nu)]..=ranges[2 * (i % nu) + 1])).collect();
    let start = Instant::now();
    for t in 0..steps {
        data.ctrl_mut().copy_from_slice(&controls[t * nu..(t + 1) * nu]);
        data.step(&model, 1)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let qvel = data.qvel();
    Ok(StepRate {
        model: path.file_stem().and_then(|s| s.to_str()).unwrap_or("?").to_owned(),
        nq: model.nq(),
        nv: model.nv(),
        nu: model.nu(),
        steps,
        seconds,
        steps_per_s: steps as f64 / seconds,
        final_mean_abs_qvel: qvel.iter().map(|v| v.abs()).sum::<f64>() / qvel.len().max(1) as f64,
    })
}
