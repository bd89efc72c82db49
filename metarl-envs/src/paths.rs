//! Where the dependency cache and the assets are at run time.
//!
//! The build embeds the cache it was built against (`METARL_BUILD_DEPS`, from build.rs); a binary
//! carried to another machine is pointed elsewhere with `METARL_DEPS_DIR` (the versioned cache
//! directory) and `METARL_ASSETS` (a folder holding the Meta-World assets, like `metaworld_xml/`).

use std::path::PathBuf;

/// The versioned dependency cache (tools/deps.py).
pub fn deps_dir() -> PathBuf {
    std::env::var_os("METARL_DEPS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("METARL_BUILD_DEPS")))
}

/// The Meta-World 3.1.1 assets (XML + meshes), checked against `metaworld_xml/MANIFEST.sha256`.
pub fn metaworld_assets() -> PathBuf {
    std::env::var_os("METARL_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join("metaworld_xml"))
}

/// Gymnasium's MuJoCo models (half_cheetah.xml, ant.xml, ...): the cache's, or
/// `METARL_GYMNASIUM_ASSETS` (the Python module points it at the installed gymnasium's).
pub fn gymnasium_assets() -> PathBuf {
    std::env::var_os("METARL_GYMNASIUM_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| deps_dir().join("gymnasium_assets"))
}

/// The repository this crate was built in (its tools/ and metaworld_xml/).
pub fn repository() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The reference venv's interpreter (mujoco 3.3.7, metaworld 3.1.1, gymnasium, torch).
pub fn reference_python() -> PathBuf {
    deps_dir().join("venv").join("bin").join("python")
}

/// The command that repairs anything missing from the cache.
pub const FIX_DEPS: &str = "make deps";
