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
