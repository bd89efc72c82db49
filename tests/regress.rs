//! `metarl regress`: the quick suite reproduces every seed-0 value of
//! tests/regression/baselines.csv bit for bit (`--exact`; the baselines were recorded in
//! reproducible numerics, so this holds on any machine) and covers every algorithm that has a
//! baseline. Which faults in a learner the suite catches is measured by `tools/faults.py`, which
//! applies them as patches (README, Regression on returns).

mod common;

use std::process::Output;

use metarl::regress::{baselines_path, read_baselines, select};

use common::metarl;

fn regress(args: &[&str]) -> Output {
    let out = tempfile::tempdir().unwrap();
    metarl()
        .arg("regress")
        .args(args)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap()
}

#[test]
fn every_quick_case_has_a_baseline_measured_over_several_seeds() {
    let baselines = read_baselines(&baselines_path(env!("CARGO_MANIFEST_DIR").as_ref())).unwrap();
    for case in select("quick", &[]).unwrap() {
        let b = baselines.iter().find(|b| (b.algo.as_str(), b.env.as_str(), b.config.as_str()) == (case.algo, case.env, case.config));
        let b = b.unwrap_or_else(|| panic!("{} has no baseline", case.name()));
        assert!(b.seeds.split(';').count() >= 3 && b.std > 0.0 && b.low < b.seed0 && b.seed0 < b.high, "{b:?}");
        assert_eq!(b.numerics, "reproducible", "{} was recorded in {} numerics: its seed 0 cannot be checked on other machines", case.name(), b.numerics);
    }
}

#[test]
fn the_quick_suite_reproduces_its_baselines() {
    let intact = regress(&["--suite", "quick", "--exact"]);
    let stdout = String::from_utf8_lossy(&intact.stdout);
    println!("{stdout}");
    assert!(intact.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&intact.stderr));
    assert_eq!(stdout.matches(" identical ").count(), select("quick", &[]).unwrap().len(), "every case reproduces its seed 0:\n{stdout}");
}
