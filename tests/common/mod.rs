//! The metarl binary as the learning tests run it: in reproducible numerics, so each learning
//! assertion gives the same verdict on every machine (README, Numerics).

use std::process::Command;

pub fn metarl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_metarl"));
    command.env("METARL_NUMERICS", "reproducible");
    command
}

/// A one-iteration PEARL run on `env` with tiny networks and buffers, trained into `dir/run`: a
/// checkpoint for the commands that film or view a run.
#[allow(dead_code)] // not every test binary that shares this module trains one
pub fn tiny_pearl_run(dir: &std::path::Path, env: &str) -> std::path::PathBuf {
    let config = dir.join("tiny.json");
    std::fs::write(&config, r#"{"n_train_tasks": 4, "n_eval_tasks": 2, "latent_size": 2, "net_size": 32, "encoder_hidden": [32, 32],
        "meta_batch": 2, "num_iterations": 1, "num_initial_steps": 200, "num_tasks_sample": 2, "num_steps_prior": 200,
        "num_extra_rl_steps_posterior": 200, "num_train_steps_per_itr": 20, "batch_size": 32, "embedding_batch_size": 32,
        "num_evals": 1, "num_steps_per_eval": 400, "num_exp_traj_eval": 1}"#).unwrap();
    let run = dir.join("run");
    let out = metarl().args(["train", "pearl", "--env", env, "--config"]).arg(&config).arg("--out").arg(&run).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    run
}
