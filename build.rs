//! Embeds rpaths to MuJoCo and libtorch in the dependency cache, so `metarl` and the test
//! binaries run without LD_LIBRARY_PATH (which, when set, still wins: RUNPATH semantics), and
//! links libtorch_cuda for real. mujoco-sys has already located and verified the cache. Also
//! compiles the shipped configs (`configs/**/*.json`) into the binary, so a copy of it on a node
//! without the repository runs with the same settings.

use std::env;
use std::path::PathBuf;

fn main() {
    embed_configs();
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
    println!("cargo:rerun-if-env-changed=DEP_MUJOCO_DEPS");
}

/// `$OUT_DIR/shipped_configs.rs`: `SHIPPED`, every `configs/<folder>/<name>.json` as
/// (`"<folder>/<name>.json"`, its text), sorted by name.
fn embed_configs() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("configs");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&root).expect("configs/ is in the repository") {
        let folder = folder.expect("configs/ is readable").path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).expect("a configs folder is readable") {
            let file = file.expect("a configs folder is readable").path();
            if file.extension().is_some_and(|e| e == "json") {
                let name = file.strip_prefix(&root).expect("under configs/").to_string_lossy().replace('\\', "/");
                files.push((name, file));
            }
        }
    }
    files.sort();
    let mut code = String::from("pub static SHIPPED: &[(&str, &str)] = &[\n");
    for (name, path) in &files {
        code.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("shipped_configs.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
