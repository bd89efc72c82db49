//! Generates the MuJoCo bindings from the pinned 3.3.7 headers in the dependency cache and links
//! `libmujoco.so.3.3.7` from there. The cache is reached through the workspace's `.deps` link,
//! which `make deps` (tools/deps.py) creates. Any problem stops the build with one message that
//! names the fix; no panic.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// The MuJoCo release the bindings, Meta-World 3.1.1 and mujoco-rs 2.3 agree on (DESIGN.md).
const PINNED_VERSION: i32 = 337;
const LIBRARY: &str = "libmujoco.so.3.3.7";
const FIX: &str = "run `make deps` in the repository root (it fills and verifies the cache)";

fn fail(msg: &str) -> ! {
    eprintln!("\nerror: {msg}\nfix: {FIX}\n");
    exit(1)
}

fn deps_dir() -> PathBuf {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let link = crate_dir.parent().unwrap_or(&crate_dir).join(".deps");
    println!("cargo:rerun-if-changed={}", link.display());
    let dir = link.canonicalize().unwrap_or_else(|_| {
        fail(&format!("the dependency cache is not set up ({} is missing)", link.display()))
    });
    if !dir.join("READY").is_file() {
        fail(&format!("the dependency cache {} is incomplete", dir.display()));
    }
    dir
}

/// `mjVERSION_HEADER` as the header defines it.
fn header_version(header: &Path) -> i32 {
    let text = std::fs::read_to_string(header)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", header.display())));
    text.lines()
        .find_map(|line| line.trim().strip_prefix("#define mjVERSION_HEADER"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| fail(&format!("{} defines no mjVERSION_HEADER", header.display())))
}

/// `mj_version()` of the library itself, loaded the way the binaries will load it.
fn library_version(library: &Path) -> i32 {
    // SAFETY: loading MuJoCo runs no initialisers with preconditions; mj_version takes no
    // arguments and returns an int.
    unsafe {
        let lib = libloading::Library::new(library)
            .unwrap_or_else(|e| fail(&format!("cannot load {}: {e}", library.display())));
        let mj_version: libloading::Symbol<unsafe extern "C" fn() -> i32> = lib
            .get(b"mj_version")
            .unwrap_or_else(|e| fail(&format!("{} has no mj_version: {e}", library.display())));
        mj_version()
    }
}

fn gcc_builtin_includes() -> Option<String> {
    // The libclang wheel has no clang builtin headers (stddef.h); gcc's serve.
    let out = Command::new("gcc").arg("-print-file-name=include").output().ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    Path::new(&path).join("stddef.h").is_file().then_some(path)
}

fn main() {
    let deps = deps_dir();
    let mujoco = deps.join("mujoco");
    let include = mujoco.join("include");
    let header = include.join("mujoco").join("mujoco.h");
    let library = mujoco.join(LIBRARY);
    if !header.is_file() || !library.is_file() {
        fail(&format!("{} lacks include/mujoco/mujoco.h or {LIBRARY}", mujoco.display()));
    }
    let (header_v, library_v) = (header_version(&header), library_version(&library));
    if header_v != PINNED_VERSION || library_v != PINNED_VERSION {
        fail(&format!(
            "MuJoCo version mismatch: the pin is {PINNED_VERSION}, the headers say {header_v}, \
             mj_version() of {} says {library_v}",
            library.display()
        ));
    }

    if env::var_os("LIBCLANG_PATH").is_none() {
        env::set_var("LIBCLANG_PATH", deps.join("libclang"));
    }
    let mut builder = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_arg(format!("-I{}", include.display()))
        .allowlist_function("mj[a-z]*_.*")
        .allowlist_type("mj.*")
        .allowlist_var("mj.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false);
    if let Some(path) = gcc_builtin_includes() {
        builder = builder.clang_arg(format!("-I{path}"));
    }
    let bindings = builder
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen failed on {}: {e}", header.display())));
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings
        .write_to_file(&out)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", out.display())));

    println!("cargo:rustc-link-search=native={}", mujoco.display());
    println!("cargo:rustc-link-lib=dylib:+verbatim={LIBRARY}");
    // Read by dependents' build scripts as DEP_MUJOCO_DEPS / DEP_MUJOCO_LIB_DIR (they embed rpaths).
    println!("cargo:deps={}", deps.display());
    println!("cargo:lib_dir={}", mujoco.display());
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");
}
