//! Our bindings step a model exactly as the reference venv's Python mujoco 3.3.7 does: same
//! model, same initial state, same controls, 1,000 steps, every qpos/qvel within 1e-12.

use std::process::Command;

use metarl::paths;
use metarl::sim::{Data, Model};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const STEPS: usize = 1000;

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn check_model(file: &str) {
    let path = paths::gymnasium_assets().join(file);
    let model = Model::from_xml_path(&path).unwrap();
    let mut data = Data::new(&model);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let qpos: Vec<f64> = model.qpos0().iter().map(|q| q + rng.gen_range(-0.1..0.1)).collect();
    let qvel: Vec<f64> = (0..model.nv()).map(|_| rng.gen_range(-0.1..0.1)).collect();
    let ctrl: Vec<Vec<f64>> = (0..STEPS).map(|_| (0..model.nu()).map(|_| rng.gen_range(-1.0..1.0)).collect()).collect();

    data.qpos_mut().copy_from_slice(&qpos);
    data.qvel_mut().copy_from_slice(&qvel);
    data.forward(&model).unwrap();
    let mut ours = Vec::with_capacity(STEPS);
    for c in &ctrl {
        data.ctrl_mut().copy_from_slice(c);
        data.step(&model, 1).unwrap();
        ours.push((data.qpos().to_vec(), data.qvel().to_vec()));
    }

    let request = tempfile::NamedTempFile::new().unwrap();
    let body = json!({ "model": path, "qpos": qpos, "qvel": qvel, "ctrl": ctrl });
    std::fs::write(request.path(), body.to_string()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/step_model.py");
    let out = Command::new(paths::reference_python()).arg(script).arg(request.path()).output().unwrap();
    assert!(out.status.success(), "reference failed: {}", String::from_utf8_lossy(&out.stderr));
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reference["version"], 337);

    let as_vec = |v: &serde_json::Value| -> Vec<f64> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
    let mut worst = 0.0f64;
    for (t, (qpos, qvel)) in ours.iter().enumerate() {
        worst = worst.max(max_abs_diff(qpos, &as_vec(&reference["qpos"][t])));
        worst = worst.max(max_abs_diff(qvel, &as_vec(&reference["qvel"][t])));
    }
    // The trajectory must actually move, or equality would prove nothing.
    assert!(max_abs_diff(&ours[STEPS - 1].0, &qpos) > 0.1, "{file}: the model barely moved");
    println!("{file}: max |Δ| over {STEPS} steps of qpos and qvel = {worst:e}");
    assert!(worst <= 1e-12, "{file}: Rust and Python mujoco differ by {worst:e}");
}

#[test]
fn half_cheetah_matches_python_mujoco() {
    check_model("half_cheetah.xml");
}

#[test]
fn ant_matches_python_mujoco() {
    check_model("ant.xml");
}
