//! numpy's `.npz`: a zip archive of `.npy` arrays, one entry `<name>.npy` per array, as
//! `numpy.savez` writes it (entries stored uncompressed). Errors name the file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::envs::npy::{self, Array};
use crate::results::write_atomic;

/// Write `arrays` (name, shape, float32 values in C order) to `path`, replacing it whole.
pub fn write(path: &Path, arrays: &[(&str, Vec<usize>, &[f32])]) -> Result<()> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // A fixed entry time (1980-01-01), so the same arrays give the same bytes.
    let options = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored).last_modified_time(zip::DateTime::default());
    for (name, shape, values) in arrays {
        zip.start_file(format!("{name}.npy"), options)?;
        zip.write_all(&npy::write_f32(shape, values))?;
    }
    let bytes = zip.finish()?.into_inner();
    write_atomic(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Every array of the `.npz` at `path`, by name (without `.npy`).
pub fn read(path: &Path) -> Result<BTreeMap<String, Array>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file).with_context(|| format!("{} is not a readable .npz (zip) archive; it may be truncated", path.display()))?;
    let mut arrays = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).with_context(|| format!("{}: entry {i} cannot be read", path.display()))?;
        let name = entry.name().trim_end_matches(".npy").to_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).with_context(|| format!("{}: entry {name}.npy is truncated or corrupt", path.display()))?;
        let array = npy::read_array(&bytes).with_context(|| format!("{}: entry {name}.npy", path.display()))?;
        arrays.insert(name, array);
    }
    Ok(arrays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_and_a_truncated_archive_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task.npz");
        write(&path, &[("obs", vec![2, 2], &[1.0, 2.0, 3.0, 4.0]), ("rewards", vec![2], &[-1.0, 0.5])]).unwrap();
        let arrays = read(&path).unwrap();
        assert_eq!(arrays.keys().collect::<Vec<_>>(), ["obs", "rewards"]);
        assert_eq!((arrays["obs"].shape.clone(), arrays["rewards"].values.clone()), (vec![2, 2], vec![-1.0, 0.5]));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = format!("{:#}", read(&path).unwrap_err());
        assert!(err.contains("task.npz"), "{err}");
    }
}
