//! The Rust side of the update-equivalence tests: a learner's starting weights, the batches and
//! noise of K gradient steps, and every loss and parameter after each step go into one `.npz`;
//! the Python restatement of the authors' update (`tools/reference_updates/<name>.py`, run in
//! the dependency cache's venv) replays the same steps from the same weights, batches and noise
//! and compares, with the tolerance it states. A mismatch fails the test with the reference's
//! report: the first step, and the loss or parameter, that disagrees.
//!
//! Key names: `init/<var>` the starting weights, `step<k>/in/<name>` step k's inputs (batches,
//! noise), `step<k>/loss/<name>` its losses, `step<k>/param/<var>` the weights after it; `meta/<name>`
//! scalar settings the reference needs (sizes, coefficients).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::sync::{Mutex, MutexGuard};

use metarl::protocol::buffer::Batch;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{nn::VarStore, Kind, Tensor};

/// The tests of one binary take turns: each seeds torch's global generator and draws its
/// learner's initial weights from it, which a test running beside it would disturb.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct Exchange {
    reference: &'static str,
    tensors: Vec<(String, Tensor)>,
}

impl Exchange {
    /// For the restatement `tools/reference_updates/<reference>.py`.
    pub fn new(reference: &'static str) -> Self {
        Exchange { reference, tensors: Vec::new() }
    }

    /// A tensor under `name`, copied (detached, on the CPU, float32 unless it is an integer).
    pub fn put(&mut self, name: impl Into<String>, t: &Tensor) {
        let t = t.detach().to_device(tch::Device::Cpu);
        let t = if t.kind() == Kind::Double { t.to_kind(Kind::Float) } else { t.copy() };
        self.tensors.push((name.into(), t));
    }

    /// A scalar (a loss, a setting) under `name`, as float64 so settings cross unrounded.
    pub fn put_scalar(&mut self, name: impl Into<String>, value: f64) {
        self.tensors.push((name.into(), Tensor::from_slice(&[value])));
    }

    /// Every variable of `vars` under `prefix/`.
    pub fn put_vars(&mut self, prefix: &str, vars: &VarStore) {
        let mut named = vars.variables().into_iter().collect::<Vec<_>>();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in named {
            self.put(format!("{prefix}/{name}"), &t);
        }
    }

    /// Writes the file, runs the reference on it and fails the test with its report on a
    /// mismatch. Prints the report (per step, the largest deviation of any loss and parameter).
    pub fn check(self) {
        // One folder per check: tests of one binary run in parallel and may share a reference.
        static CHECKS: AtomicUsize = AtomicUsize::new(0);
        let check = CHECKS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("metarl-equivalence-{}-{}-{check}", self.reference, std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("exchange.npz");
        Tensor::write_npz(&self.tensors, &file).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".deps/venv/bin/python");
        assert!(python.exists(), "{} is missing: run `make deps`", python.display());
        let script: PathBuf = root.join("tools/reference_updates").join(format!("{}.py", self.reference));
        let out = Command::new(&python).arg(&script).arg(&file).output().unwrap();
        let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        println!("{report}");
        assert!(out.status.success(), "{} disagrees with this update:\n{report}", script.display());
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// Uniform(-1, 1) float32 `[dims]` from `rng`, for batches both sides read from the file.
pub fn uniform(rng: &mut ChaCha8Rng, dims: &[i64]) -> Tensor {
    let n: i64 = dims.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    Tensor::from_slice(&values).view(dims)
}

/// A meta-batch `[tasks, b, ·]` of uniform draws, about a fifth of its transitions terminal.
pub fn meta_batch(rng: &mut ChaCha8Rng, tasks: i64, b: i64, obs_dim: i64, action_dim: i64) -> Batch {
    let rewards = uniform(rng, &[tasks, b, 1]);
    Batch {
        obs: uniform(rng, &[tasks, b, obs_dim]),
        actions: uniform(rng, &[tasks, b, action_dim]),
        sparse_rewards: rewards.copy(),
        rewards,
        next_obs: uniform(rng, &[tasks, b, obs_dim]),
        terminals: uniform(rng, &[tasks, b, 1]).gt(0.6).to_kind(Kind::Float),
    }
}
