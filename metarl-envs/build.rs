//! Embeds the dependency cache this build links (mujoco-sys located and verified it) for
//! `paths::deps_dir`, and an rpath to its MuJoCo library for this crate's test binaries.

use std::env;

fn main() {
    // Exported by mujoco-sys/build.rs (links = "mujoco").
    let deps = env::var("DEP_MUJOCO_DEPS").expect("mujoco-sys exports its cache");
    let mujoco_lib = env::var("DEP_MUJOCO_LIB_DIR").expect("mujoco-sys exports its lib dir");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{mujoco_lib}");
    println!("cargo:rustc-env=METARL_BUILD_DEPS={deps}");
    println!("cargo:rerun-if-env-changed=DEP_MUJOCO_DEPS");
}
