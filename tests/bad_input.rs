//! Bad input gets one clear message naming the fix, and no panic, linker error or segfault:
//! an empty or corrupted cache, a wrong MuJoCo version, a missing or edited asset, a broken MJCF.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use metarl::{assets, paths};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn assert_clear_failure(out: &Output, expected: &[&str]) {
    let all = text(out);
    assert!(!out.status.success(), "should fail:\n{all}");
    for needle in expected {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    for symptom in ["panicked", "RUST_BACKTRACE", "undefined reference", "Segmentation"] {
        assert!(!all.contains(symptom), "{symptom:?} reached the user:\n{all}");
    }
}

fn deps_py(cache_root: &Path, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(Path::new(REPO).join("tools/deps.py"))
        .args(args)
        .env("METARL_DEPS", cache_root)
        .output()
        .unwrap()
}

#[test]
fn empty_cache_is_reported_with_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let out = deps_py(root.path(), &["check"]);
    assert_clear_failure(&out, &["does not exist", "fix: run `make deps`"]);
}

#[test]
fn corrupted_cache_is_reported_with_the_file_and_the_fix() {
    let root = tempfile::tempdir().unwrap();
    let key_dir = PathBuf::from(String::from_utf8(deps_py(root.path(), &["dir"]).stdout).unwrap().trim());
    std::fs::create_dir_all(key_dir.join("mujoco")).unwrap();
    let good = b"pinned bytes";
    let manifest = serde_json::json!({
        "mujoco/lib.so": { "size": good.len(), "sha256": assets::sha256_hex(good) },
    });
    std::fs::write(key_dir.join("MANIFEST.json"), manifest.to_string()).unwrap();

    // Interrupted install: no READY stamp.
    std::fs::write(key_dir.join("mujoco/lib.so"), good).unwrap();
    assert_clear_failure(&deps_py(root.path(), &["check"]), &["incomplete", "make deps"]);

    std::fs::write(key_dir.join("READY"), "").unwrap();
    std::fs::write(key_dir.join("mujoco/lib.so"), b"flipped byte").unwrap();
    assert_clear_failure(&deps_py(root.path(), &["check"]), &["lib.so fails its sha256 check", "make deps"]);

    std::fs::write(key_dir.join("mujoco/lib.so"), b"short").unwrap();
    assert_clear_failure(&deps_py(root.path(), &["check"]), &["lib.so has the wrong size", "make deps"]);

    std::fs::remove_file(key_dir.join("mujoco/lib.so")).unwrap();
    assert_clear_failure(&deps_py(root.path(), &["check"]), &["lib.so is missing", "make deps"]);
}

fn doctor_with_assets(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metarl")).arg("doctor").env("METARL_ASSETS", dir).output().unwrap()
}

#[test]
fn missing_or_edited_asset_fails_doctor_with_the_fix() {
    let empty = tempfile::tempdir().unwrap();
    assert_clear_failure(&doctor_with_assets(empty.path()), &["FAIL", "Meta-World assets", "is missing", "make deps"]);

    // A full asset folder in which one file was edited.
    let edited = tempfile::tempdir().unwrap();
    let entries = assets::metaworld_manifest();
    for (i, (_, rel)) in entries.iter().enumerate() {
        let dst = edited.path().join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        if i == entries.len() / 2 {
            std::fs::write(&dst, "<mujoco/>").unwrap();
        } else {
            std::os::unix::fs::symlink(paths::metaworld_assets().join(rel), &dst).unwrap();
        }
    }
    let out = doctor_with_assets(edited.path());
    assert_clear_failure(&out, &["differs from its manifest", &entries[entries.len() / 2].1]);
    // The healthy folder passes, so the failures above are about the edits.
    assert!(doctor_with_assets(&paths::metaworld_assets()).status.success());
}

#[test]
fn broken_mjcf_through_the_cli_names_the_file_and_mujocos_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.xml");
    std::fs::write(&file, "<mujoco><worldbody><geom type=\"sphere\" size=\"abc\"/></worldbody></mujoco>").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_metarl"))
        .args(["bench", "mujoco", "--steps", "10", "--out"])
        .arg(dir.path().join("out.csv"))
        .arg("--model")
        .arg(&file)
        .output()
        .unwrap();
    assert_clear_failure(&out, &["cannot load MJCF", "broken.xml", "size"]);
}

#[test]
fn offline_collect_names_unknown_envs_and_config_fields() {
    let out = Command::new(env!("CARGO_BIN_EXE_metarl")).args(["offline", "collect", "--env", "point-robt"]).output().unwrap();
    assert_clear_failure(&out, &["unknown environment \"point-robt\"", "did you mean \"point-robot\""]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    std::fs::write(&config, r#"{"n_trjs": 5}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_metarl")).args(["offline", "collect", "--env", "point-robot", "--config"]).arg(&config).output().unwrap();
    assert_clear_failure(&out, &["unknown config field \"n_trjs\"", "did you mean \"n_trj\""]);
}

fn train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metarl")).arg("train").args(args).output().unwrap()
}

#[test]
fn train_names_unknown_algorithms_envs_and_config_fields() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    assert_clear_failure(&train(&["pearll", "--env", "point-robot", "--out", out]), &["unknown algorithm \"pearll\"", "did you mean \"pearl\""]);
    assert_clear_failure(&train(&["pearl", "--env", "point-robt", "--out", out]), &["unknown environment \"point-robt\"", "did you mean \"point-robot\""]);
    let config = dir.path().join("bad.json");
    std::fs::write(&config, r#"{"meta_batch": 4, "kl_lamda": 0.1}"#).unwrap();
    assert_clear_failure(&train(&["pearl", "--env", "point-robot", "--config", config.to_str().unwrap(), "--out", out]), &["unknown config field \"kl_lamda\"", "did you mean \"kl_lambda\""]);
    std::fs::write(&config, r#"{"meta_batch": -4}"#).unwrap();
    assert_clear_failure(&train(&["pearl", "--env", "point-robot", "--config", config.to_str().unwrap(), "--out", out]), &["config field \"meta_batch\" has a bad value -4"]);
    assert_clear_failure(&train(&["pearl", "--env", "point-robot", "--resume", "--out", out]), &["--resume: no checkpoint in"]);
    assert_clear_failure(&train(&["pearl", "--env", "point-robot", "--set", "kl_lamda=0.1", "--out", out]),
        &["--set kl_lamda=0.1: unknown config field \"kl_lamda\"", "did you mean \"kl_lambda\""]);
    assert_clear_failure(&train(&["mcat", "--env", "point-robot-wind", "--set", "policy_transfer=maybe", "--out", out]),
        &["--set policy_transfer=maybe: config field \"policy_transfer\" has a bad value \"maybe\""]);
    assert_clear_failure(&train(&["focal", "--env", "point-robot", "--dataset", out, "--set", "n_trj", "--out", out]), &["expected KEY=VALUE"]);
    assert!(!Path::new(out).join("progress.csv").exists(), "a refused run writes nothing");
}

#[test]
fn transfer_eval_names_the_task_indices_it_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("transfer.csv");
    let transfer_eval = |source: &str, target: &str| {
        Command::new(env!("CARGO_BIN_EXE_metarl"))
            .args(["mcat", "transfer-eval", "--env", "ant-cripple", "--source", source, "--target", target, "--out"])
            .arg(&csv)
            .output()
            .unwrap()
    };
    // ant-cripple: legs 0-2 train, leg 3 test (papers/004 Table 1 moves crip0 to crip3: --target 3).
    assert_clear_failure(&transfer_eval("0", "4"), &["--target 4: ant-cripple has 4 tasks, train 0-2 and test 3"]);
    assert_clear_failure(&transfer_eval("3", "3"), &["--source and --target are the same task (3)"]);
    assert!(!csv.exists(), "a refused transfer-eval writes nothing");
}

#[test]
fn set_overrides_reach_the_run_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let demo = Path::new(REPO).join("configs/demo/point-robot.json");
    let args = ["pearl", "--env", "point-robot", "--config", demo.to_str().unwrap(), "--set", "num_iterations=1", "--set", "net_size=32", "--set", "num_iterations=2"];
    let run = train(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(run.status.success(), "{}", text(&run));
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!((&config["config"]["num_iterations"], &config["config"]["net_size"]), (&serde_json::json!(2), &serde_json::json!(32)), "the later --set wins");
    let progress = std::fs::read_to_string(out.join("progress.csv")).unwrap();
    assert_eq!(progress.lines().count(), 3, "two iterations ran:\n{progress}");
    let sources: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("config_sources.json")).unwrap()).unwrap();
    assert_eq!(sources["fields"]["net_size"], "--set net_size=32");
    assert_eq!(sources["fields"]["num_iterations"], "--set num_iterations=2");
    assert_eq!(sources["fields"]["batch_size"], demo.to_str().unwrap());
    // Resuming needs the same overrides: they are part of the run's config.
    let other = train(&[&args[..5], &["--set", "net_size=64", "--resume", "--out", out.to_str().unwrap()]].concat());
    assert_clear_failure(&other, &["with another config"]);
}

/// A copy of mujoco-sys in a scratch workspace whose `.deps` points at `cache` (or nowhere);
/// returns the output of building it.
fn build_mujoco_sys_against(scratch: &Path, cache: Option<&Path>) -> Output {
    let crate_dir = scratch.join("mujoco-sys");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    for file in ["Cargo.toml", "build.rs", "src/lib.rs"] {
        std::fs::copy(Path::new(REPO).join("mujoco-sys").join(file), crate_dir.join(file)).unwrap();
    }
    std::fs::copy(Path::new(REPO).join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let link = scratch.join(".deps");
    let _ = std::fs::remove_file(&link);
    if let Some(cache) = cache {
        std::os::unix::fs::symlink(cache, &link).unwrap();
    }
    Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", Path::new(REPO).join("target").join("build-check"))
        .env_remove("LIBCLANG_PATH")
        .output()
        .unwrap()
}

#[test]
fn build_refuses_a_missing_cache_and_a_wrong_mujoco_version() {
    let scratch = tempfile::tempdir().unwrap();
    let out = build_mujoco_sys_against(scratch.path(), None);
    assert_clear_failure(&out, &["dependency cache is not set up", "fix: run `make deps`"]);

    // A cache whose headers are MuJoCo 3.1.6's, beside the real 3.3.7 library.
    let real = paths::deps_dir();
    let fake = scratch.path().join("cache");
    let include = fake.join("mujoco/include/mujoco");
    std::fs::create_dir_all(&include).unwrap();
    for entry in std::fs::read_dir(real.join("mujoco/include/mujoco")).unwrap() {
        let entry = entry.unwrap();
        let mut header = std::fs::read_to_string(entry.path()).unwrap();
        header = header.replace("#define mjVERSION_HEADER 337", "#define mjVERSION_HEADER 316");
        std::fs::write(include.join(entry.file_name()), header).unwrap();
    }
    std::os::unix::fs::symlink(real.join("mujoco/libmujoco.so.3.3.7"), fake.join("mujoco/libmujoco.so.3.3.7")).unwrap();
    std::os::unix::fs::symlink(real.join("libclang"), fake.join("libclang")).unwrap();
    std::fs::write(fake.join("READY"), "").unwrap();
    let out = build_mujoco_sys_against(scratch.path(), Some(&fake));
    assert_clear_failure(&out, &["MuJoCo version mismatch", "the pin is 337, the headers say 316", "make deps"]);
}
