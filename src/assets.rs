//! Asset manifests: `metaworld_xml/MANIFEST.sha256` lists every Meta-World file by sha256
//! (`<hex>  <relative path>`, as `sha256sum` writes it); a folder is usable only if it matches.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::paths::FIX_DEPS;

#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("cannot read the asset manifest {0}: {1}")]
    Manifest(PathBuf, std::io::Error),
    #[error("asset {path} is missing: run `{FIX_DEPS}` (it copies the assets from the dependency cache)")]
    Missing { path: PathBuf },
    #[error("asset {path} differs from its manifest entry (corrupted or edited): run `{FIX_DEPS}`")]
    Mismatch { path: PathBuf },
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse a manifest into (sha256, relative path) pairs; `#` lines are comments.
pub fn read_manifest(manifest: &Path) -> Result<Vec<(String, String)>, AssetError> {
    let text = std::fs::read_to_string(manifest).map_err(|e| AssetError::Manifest(manifest.into(), e))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once("  ").map(|(h, p)| (h.to_owned(), p.to_owned())))
        .collect())
}

/// Check every file of `manifest` under `dir`; returns how many were verified.
pub fn verify(dir: &Path, manifest: &Path) -> Result<usize, AssetError> {
    let entries = read_manifest(manifest)?;
    for (digest, rel) in &entries {
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|_| AssetError::Missing { path: path.clone() })?;
        if sha256_hex(&bytes) != *digest {
            return Err(AssetError::Mismatch { path });
        }
    }
    Ok(entries.len())
}
