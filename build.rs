//! Embeds rpaths to MuJoCo and libtorch in the dependency cache, so `metarl` and the test
//! binaries run without LD_LIBRARY_PATH (which, when set, still wins: RUNPATH semantics), and
//! links libtorch_cuda for real. mujoco-sys has already located and verified the cache.

use std::env;
use std::path::PathBuf;

fn main() {
    // Exported by mujoco-sys/build.rs (links = "mujoco").
    let deps = PathBuf::from(env::var("DEP_MUJOCO_DEPS").expect("mujoco-sys exports its cache"));
    let mujoco_lib = env::var("DEP_MUJOCO_LIB_DIR").expect("mujoco-sys exports its lib dir");
    let torch_lib = deps.join("torch").join("lib");

    for dir in [PathBuf::from(mujoco_lib), torch_lib.clone()] {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
    // torch-sys asks for torch_cuda, but the linker's --as-needed drops it (no symbol of it is
    // referenced), and then libtorch never registers its CUDA backend: Cuda::is_available() is
    // false even on a GPU. Force the DT_NEEDED entry whenever the library is there.
    if torch_lib.join("libtorch_cuda.so").is_file() {
        println!("cargo:rustc-link-search=native={}", torch_lib.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
    // Where this build's cache is, for `metarl doctor` and the reference-venv tests.
    println!("cargo:rustc-env=METARL_BUILD_DEPS={}", deps.display());
    println!("cargo:rerun-if-env-changed=DEP_MUJOCO_DEPS");
}
