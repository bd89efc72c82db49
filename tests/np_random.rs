//! Our RandomState reproduces numpy's legacy RandomState bit for bit (the venv's numpy runs the
//! same script of draws: tests/python/numpy_draws.py).

use std::process::Command;

use metarl::envs::np_random::RandomState;
use metarl::paths;

fn script(rs: &mut RandomState) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut push = |name: &str, v: u64| out.push((name.to_owned(), v));
    for _ in 0..5 { push("random_sample", rs.random_sample().to_bits()); }
    for v in rs.uniform_n(0.0, 3.0, 7) { push("uniform", v.to_bits()); }
    for _ in 0..5 { push("standard_normal", rs.standard_normal().to_bits()); }
    for v in rs.uniform_n(-0.1, 0.1, 3) { push("uniform", v.to_bits()); }
    push("standard_normal", rs.standard_normal().to_bits());
    for _ in 0..3 { push("normal", rs.normal(1.5, 0.01).to_bits()); }
    for (low, high) in [(0i64, 2i64), (0, 7), (-5, 5), (0, 50), (0, 1 << 32), (3, 1 << 40), (0, 1)] {
        for _ in 0..4 { push(&format!("randint {low} {high}"), rs.randint(low, high) as u64); }
    }
    for v in rs.permutation(10) { push("permutation 10", v as u64); }
    let mut items: Vec<u64> = (0..7).collect();
    rs.shuffle(&mut items);
    for v in items { push("shuffle 7", v); }
    push("random_sample", rs.random_sample().to_bits());
    out
}

#[test]
fn draws_match_numpy_bit_for_bit() {
    let reference = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/numpy_draws.py");
    let out = Command::new(paths::reference_python()).arg(reference).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cases: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let mut ours = vec![];
    for seed in [0u32, 1, 1337, u32::MAX] {
        ours.push((format!("seed {seed}"), script(&mut RandomState::new(seed))));
    }
    ours.push(("key [1, 2, 3]".into(), script(&mut RandomState::from_key(&[1, 2, 3]))));
    ours.push(("key 0..700".into(), script(&mut RandomState::from_key(&(0..700).collect::<Vec<u32>>()))));

    for (case, draws) in ours {
        let expected = cases[&case].as_array().unwrap_or_else(|| panic!("numpy has no case {case}"));
        assert_eq!(expected.len(), draws.len(), "{case}");
        for (i, ((name, value), want)) in draws.iter().zip(expected).enumerate() {
            assert_eq!(want[0].as_str().unwrap(), name, "{case} #{i}");
            let want_value = want[1].as_u64().or_else(|| want[1].as_i64().map(|v| v as u64)).unwrap();
            assert_eq!(want_value, *value, "{case} #{i} ({name}) differs from numpy");
        }
    }
}

#[test]
fn oyster_cheetah_vel_goals_are_numpys() {
    // oyster rlkit/envs/half_cheetah_vel.py: np.random.seed(1337); np.random.uniform(0, 3, size=(n,))
    let code = "import numpy as np; np.random.seed(1337); print(list(np.random.uniform(0.0, 3.0, size=(130,))))";
    let out = Command::new(paths::reference_python()).args(["-c", code]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let numpy: Vec<f64> = text.trim().trim_matches(|c| c == '[' || c == ']').split(", ")
        .map(|s| s.trim_start_matches("np.float64(").trim_end_matches(')').parse().unwrap()).collect();
    assert_eq!(RandomState::new(1337).uniform_n(0.0, 3.0, 130), numpy);
}
