//! Asset manifests: `metaworld_xml/MANIFEST.sha256` lists every Meta-World file by sha256
//! (`<hex>  <relative path>`, as `sha256sum` writes it); a folder is usable only if it matches.
//! The manifest is compiled into the binary, so a binary carried to another machine checks the
//! assets it is pointed at (`METARL_ASSETS`) against the ones it was built for.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::paths::FIX_DEPS;

const METAWORLD_MANIFEST: &str = include_str!("../metaworld_xml/MANIFEST.sha256");

#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("asset {path} is missing: run `{FIX_DEPS}` (it copies the assets from the dependency cache)")]
    Missing { path: PathBuf },
    #[error("asset {path} differs from its manifest entry (corrupted or edited): run `{FIX_DEPS}`")]
    Mismatch { path: PathBuf },
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The Meta-World manifest as (sha256, relative path) pairs; `#` lines are comments.
pub fn metaworld_manifest() -> Vec<(String, String)> {
    METAWORLD_MANIFEST
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once("  ").map(|(h, p)| (h.to_owned(), p.to_owned())))
        .collect()
}

/// Check every Meta-World asset under `dir` against the manifest; returns how many were verified.
pub fn verify_metaworld(dir: &Path) -> Result<usize, AssetError> {
    let entries = metaworld_manifest();
    for (digest, rel) in &entries {
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|_| AssetError::Missing { path: path.clone() })?;
        if sha256_hex(&bytes) != *digest {
            return Err(AssetError::Mismatch { path });
        }
    }
    Ok(entries.len())
}
