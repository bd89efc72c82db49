//! `metarl doctor` on a healthy set-up: every check passes and reports the pinned versions, and
//! libtorch_cuda is really loaded (the linker's --as-needed would drop it, leaving
//! `tch::Cuda::is_available()` false even on a GPU machine).

use std::process::Command;

#[test]
fn doctor_reports_the_pinned_stack_with_the_cuda_backend_linked() {
    let out = Command::new(env!("CARGO_BIN_EXE_metarl")).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "MuJoCo             3.3.7 (library and headers agree)",
        "libtorch           2.11.0",
        "(CUDA backend linked)",
        "325 files",
        "mujoco 3.3.7 metaworld 3.1.1",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
    assert!(!report.contains("FAIL"), "{report}");
}
