//! Reproducible numerics (README, Numerics): the same seed gives the same bits whatever vector
//! ISA libtorch's libraries may use. The ISA is capped here with the libraries' own variables,
//! as a CPU without AVX-512 would cap it; fast mode follows the cap, reproducible mode does not.

use std::path::Path;
use std::process::{Command, Output};

/// The variables that make ATen, MKL and oneDNN behave as on an AVX2-only CPU.
const CAPPED_AT_AVX2: &[(&str, &str)] = &[("ATEN_CPU_CAPABILITY", "avx2"), ("MKL_ENABLE_INSTRUCTIONS", "AVX2"), ("ONEDNN_MAX_CPU_ISA", "AVX2")];

fn metarl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_metarl")).args(args).env_remove("METARL_NUMERICS").envs(env.iter().copied()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn fingerprints(numerics: &str, env: &[(&str, &str)]) -> Vec<String> {
    let out = metarl(&["numerics", "--numerics", numerics], env);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    text.lines().filter(|l| l.contains("gradient steps")).map(|l| l.split(": ").nth(1).unwrap().split(' ').next().unwrap().to_owned()).collect()
}

#[test]
fn reproducible_fingerprints_are_the_recorded_ones_with_the_isa_capped_or_not() {
    let recorded: Vec<String> = metarl::numerics::REPRODUCIBLE_FINGERPRINTS.iter().map(|(_, f)| f.to_string()).collect();
    assert_eq!(fingerprints("reproducible", &[]), recorded);
    assert_eq!(fingerprints("reproducible", CAPPED_AT_AVX2), recorded);
    let (fast, fast_capped) = (fingerprints("fast", &[]), fingerprints("fast", CAPPED_AT_AVX2));
    assert_ne!(fast, recorded, "fast mode uses other kernels");
    // Measured (README, Numerics): capping changes fast mode's bits on an Intel Xeon with AVX-512,
    // not on an AMD EPYC with AVX-512 (Zen 4).
    if std::arch::is_x86_feature_detected!("avx512f") && metarl::numerics::cpuinfo("vendor_id").as_deref() == Some("GenuineIntel") {
        assert_ne!(fast, fast_capped, "on an Intel AVX-512 CPU, fast mode's bits depend on the ISA allowed");
    }
}

fn demo_progress(out: &Path, env: &[(&str, &str)]) -> std::process::Child {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/demo/point-robot.json");
    Command::new(env!("CARGO_BIN_EXE_metarl"))
        .args(["train", "pearl", "--env", "point-robot", "--seed", "0", "--numerics", "reproducible", "--config", config, "--out"])
        .arg(out)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// progress.csv without its wall-clock column.
fn progress(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("progress.csv")).unwrap().lines().map(|l| l.rsplit_once(',').unwrap().0.to_owned()).collect()
}

#[test]
fn the_pearl_demo_gives_the_same_progress_with_the_isa_capped_or_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (open, capped) = (tmp.path().join("open"), tmp.path().join("capped"));
    let children = [demo_progress(&open, &[]), demo_progress(&capped, CAPPED_AT_AVX2)];
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(progress(&open).len(), 31, "30 iterations and the header");
    assert_eq!(progress(&open), progress(&capped));
    let machine: serde_json::Value = serde_json::from_slice(&std::fs::read(open.join("machine.json")).unwrap()).unwrap();
    assert_eq!(machine["numerics"], "reproducible");
    assert!(machine["kernels"].as_str().unwrap().contains("MKL_CBWR=COMPATIBLE"), "{machine}");

    // eval continues in the mode the run was trained in, and says so when told otherwise.
    let eval = |numerics: &[&str]| {
        let out = metarl(&[&["eval", open.to_str().unwrap()], numerics].concat(), &[]);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(!eval(&[]).contains("will differ"), "the run's own mode by default");
    let told_otherwise = eval(&["--numerics", "fast"]);
    assert!(told_otherwise.contains("recorded in reproducible numerics, running in fast"), "{told_otherwise}");
}
