//! Task lists equal the references' numpy draws bit for bit (tools/reference_envs.py in the
//! cache's venv draws them the references' way), and the families keep the properties the
//! protocol relies on.

use std::process::Command;

use metarl::envs::registry::DEFAULT_TASK_SEED;
use metarl::envs::{EnvOptions, Suite, REGISTRY};
use metarl::paths;
use serde_json::Value;

/// The task without our additions (the oracle vector), as the reference script writes it.
fn comparable(task: &metarl::envs::Task) -> Value {
    let mut value = serde_json::to_value(task).unwrap();
    value.as_object_mut().unwrap().remove("oracle");
    value
}

/// The path of the first leaf where two JSON values differ, with both leaves.
fn first_difference(ours: &Value, theirs: &Value, path: String) -> Option<String> {
    match (ours, theirs) {
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| first_difference(x, y, format!("{path}[{i}]")))
        }
        (Value::Object(a), Value::Object(b)) if a.len() == b.len() => {
            a.iter().find_map(|(k, x)| first_difference(x, b.get(k).unwrap_or(&Value::Null), format!("{path}.{k}")))
        }
        _ if ours == theirs => None,
        _ => Some(format!("{path}: ours {ours}, reference {theirs}")),
    }
}

#[test]
fn task_lists_equal_numpy_draws_bit_for_bit() {
    let seeds = [DEFAULT_TASK_SEED, 0, 1];
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/reference_envs.py");
    let mut command = Command::new(paths::reference_python());
    command.arg(script).arg("tasks");
    for seed in seeds {
        command.args(["--seed", &seed.to_string()]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Meta-World's ML1 vectors are checked against the package in tests/metaworld_parity.rs.
    for entry in REGISTRY.iter().filter(|e| e.suite != Suite::Metaworld) {
        for seed in seeds {
            let ours = entry.tasks(&EnvOptions::default(), seed).unwrap();
            let theirs = &reference[entry.name][seed.to_string()];
            for (split, tasks) in [("train", &ours.train), ("test", &ours.test)] {
                let ours = Value::Array(tasks.iter().map(comparable).collect());
                // serde_json parses the reference's shortest round-trip floats exactly, so
                // equality is bit equality.
                if let Some(difference) = first_difference(&ours, &theirs[split], String::new()) {
                    panic!("{} seed {seed} {split} tasks differ at {difference}", entry.name);
                }
            }
        }
    }
}

#[test]
fn split_sizes_are_the_reference_configs() {
    let expected = [
        ("cheetah-vel", 100, 30), ("cheetah-dir", 2, 2), ("ant-dir", 2, 2), ("ant-goal", 150, 30),
        ("humanoid-dir", 100, 30), ("walker-rand-params", 40, 10), ("hopper-rand-params", 40, 10),
        ("point-robot", 80, 20), ("sparse-point-robot", 80, 20), ("point-robot-wind", 40, 10),
    ];
    for (name, train, test) in expected {
        let tasks = metarl::envs::registry::lookup(name).unwrap().tasks(&EnvOptions::default(), DEFAULT_TASK_SEED).unwrap();
        assert_eq!((tasks.train.len(), tasks.test.len()), (train, test), "{name}");
    }
}

#[test]
fn families_with_enough_tasks_keep_train_and_test_disjoint_and_fixed() {
    for entry in REGISTRY {
        let first = entry.tasks(&EnvOptions::default(), 7).unwrap();
        assert_eq!(first, entry.tasks(&EnvOptions::default(), 7).unwrap(), "{}: same seed, same tasks", entry.name);
        // cheetah-dir and ant-dir have two tasks in all, shared by train and test as in oyster.
        if first.train.len() + first.test.len() > 4 {
            let train: Vec<usize> = first.train.iter().map(|t| t.index).collect();
            assert!(first.test.iter().all(|t| !train.contains(&t.index)), "{}: a test task is also a train task", entry.name);
        }
    }
}

#[test]
fn oracle_vectors_have_table_5_dimensions() {
    // papers/001 Table 5: one-hot direction (2), velocity (1), goal direction (2), goal (2),
    // the walker's randomised parameters (all of them).
    for (name, dim) in [("cheetah-dir", 2), ("cheetah-vel", 1), ("humanoid-dir", 2), ("ant-dir", 2), ("ant-goal", 2)] {
        let tasks = metarl::envs::registry::lookup(name).unwrap().tasks(&EnvOptions::default(), DEFAULT_TASK_SEED).unwrap();
        assert!(tasks.train.iter().all(|t| t.oracle.len() == dim), "{name}");
    }
    let walker = metarl::envs::registry::lookup("walker-rand-params").unwrap().tasks(&EnvOptions::default(), 0).unwrap();
    // nbody 8 masses + 8×3 inertias + 9 dof dampings + 8 geoms × 3 frictions.
    assert_eq!(walker.train[0].oracle.len(), 8 + 24 + 9 + 24);
    assert_ne!(walker.train[0].oracle, walker.train[1].oracle);
}

/// Every train and test task of an MCAT dynamics family, sorted as the table lists them, with an
/// env set to it and reset.
fn dynamics_envs(name: &str) -> Vec<(metarl::envs::Task, Box<dyn metarl::envs::Env>)> {
    let entry = metarl::envs::registry::lookup(name).unwrap();
    let tasks = entry.tasks(&EnvOptions::default(), DEFAULT_TASK_SEED).unwrap();
    let mut all: Vec<_> = tasks.train.into_iter().chain(tasks.test).collect();
    all.sort_by(|a, b| a.oracle[0].total_cmp(&b.oracle[0]));
    all.into_iter()
        .map(|task| {
            let mut env = entry.make(&EnvOptions::default()).unwrap();
            env.set_task(&task).unwrap();
            env.seed(0);
            env.reset().unwrap();
            (task, env)
        })
        .collect()
}

#[test]
fn hopper_size_compiles_one_model_per_radius() {
    // MCAT's hopper_size{r}.xml: capsule radii r, r, 0.8 r, 1.2 r, masses from the volumes.
    let envs = dynamics_envs("hopper-size");
    let mut previous_masses: Option<Vec<f64>> = None;
    for (task, env) in &envs {
        let radius = task.oracle[0];
        let (model, data) = env.physics().unwrap();
        let foot = model.geom_id("foot_geom").unwrap();
        let expected_foot = (1.2 * radius * 1e6).round() / 1e6;
        assert_eq!(model.geom_size()[3 * foot], expected_foot, "radius {radius}: foot radius");
        // The compiler's bounding sphere follows the radius (half-length 0.195 + radius).
        assert!((model.geom_rbound()[foot] - (0.195 + expected_foot)).abs() < 1e-12, "radius {radius}: rbound");
        // At reset no capsule reaches below the floor (geom 0): its lowest point is the centre
        // minus the axis' vertical extent minus the radius.
        for geom in 1..model.ngeom() {
            let (centre_z, axis_z) = (data.geom_xpos()[3 * geom + 2], data.geom_xmat()[9 * geom + 8]);
            let lowest = centre_z - axis_z.abs() * model.geom_size()[3 * geom + 1] - model.geom_size()[3 * geom];
            assert!(lowest > 0.0, "radius {radius}: geom {geom} reaches {lowest} at reset");
        }
        let masses: Vec<f64> = model.body_mass()[1..].to_vec();
        if let Some(previous) = &previous_masses {
            assert!(masses.iter().zip(previous).all(|(m, p)| m > p), "radius {radius}: masses {masses:?} after {previous:?}");
        }
        previous_masses = Some(masses);
    }
}

#[test]
fn cheetah_armature_compiles_the_derived_inverse_weights() {
    // Armature enters the compiled model's dof_invweight0 (soft limits, contacts): a heavier
    // joint has a smaller inverse weight; the root joints keep armature 0.
    let envs = dynamics_envs("cheetah-armature");
    let mut previous: Option<f64> = None;
    for (task, env) in &envs {
        let (model, _) = env.physics().unwrap();
        let armature = task.oracle[0];
        assert_eq!(&model.dof_armature()[..3], &[0.0; 3]);
        assert!(model.dof_armature()[3..].iter().all(|&a| a == armature), "armature {armature}: {:?}", model.dof_armature());
        let back_thigh = model.dof_invweight0()[3];
        if let Some(previous) = previous {
            assert!(back_thigh < previous, "armature {armature}: dof_invweight0 {back_thigh} not below {previous}");
        }
        previous = Some(back_thigh);
    }
}

#[test]
fn ant_dynamics_rewards_are_the_authors() {
    // ant_env.py / ant_cripple_env.py: forward velocity of the torso + 0.05, control cost
    // 0.005·‖a‖² (none when crippled), no contact term; crippled actuators get 0; never done.
    for name in ["ant-damp", "ant-cripple"] {
        for (task, mut env) in dynamics_envs(name) {
            let action = [0.9, -0.8, 0.7, -0.6, 0.5, -0.4, 0.3, -0.2];
            let dt = 0.01 * 5.0;
            for step in 0..200 {
                let x_before = env.physics().unwrap().1.xpos()[3];
                let outcome = env.step(&action).unwrap();
                let (_, data) = env.physics().unwrap();
                let forward = (data.xpos()[3] - x_before) / dt;
                let control = if name == "ant-damp" { 0.005 * action.iter().map(|a| a * a).sum::<f64>() } else { 0.0 };
                assert!((outcome.reward - (forward - control + 0.05)).abs() < 1e-9, "{name} {task:?} step {step}");
                assert!(!outcome.terminated, "{name} {task:?} step {step}");
                if name == "ant-cripple" {
                    let leg = task.oracle.iter().position(|&v| v == 1.0).unwrap();
                    let crippled = [[2, 3], [4, 5], [6, 7], [0, 1]][leg];
                    assert!(crippled.iter().all(|&i| data.ctrl()[i] == 0.0), "{name} leg {leg}: ctrl {:?}", data.ctrl());
                }
            }
        }
    }
}

#[test]
fn ant_damp_scales_one_leg_up_and_three_down() {
    // ant_env.py: damping[2:8] *= s, damping[8:14] /= s.
    for (task, env) in dynamics_envs("ant-damp") {
        let scale = task.oracle[0];
        let (model, _) = env.physics().unwrap();
        let damping = model.dof_damping();
        assert_eq!(&damping[..6], &[0.0; 6]);
        assert_eq!(&damping[6..8], &[scale; 2], "scale {scale}");
        assert!(damping[8..].iter().all(|&d| d == 1.0 / scale), "scale {scale}: {damping:?}");
    }
}
