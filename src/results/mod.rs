//! Run folders: `config.json`, `progress.csv`, `eval.csv`, `summary.csv` and `checkpoint/`,
//! written so that a killed run never leaves a torn row or a half-written checkpoint; PNG plots
//! (`plot`).

pub mod plot;

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Write `contents` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}

/// A CSV file that grows by whole rows: each row is one `write` followed by an fsync.
pub struct CsvLog {
    path: PathBuf,
    file: File,
}

impl CsvLog {
    /// Open `path`, writing `header` if it is new. On resume, rows whose first column (the
    /// iteration) is above `keep_through` and any torn last line are dropped first.
    pub fn open(path: &Path, header: &[&str], keep_through: Option<usize>) -> Result<Self> {
        if let (Some(keep), true) = (keep_through, path.exists()) {
            let reader = BufReader::new(File::open(path)?);
            let mut kept = String::new();
            let text = fs::read_to_string(path)?;
            let complete_lines = if text.ends_with('\n') { text.lines().count() } else { text.lines().count().saturating_sub(1) };
            for (i, line) in reader.lines().take(complete_lines).enumerate() {
                let line = line?;
                let iteration = line.split(',').next().and_then(|v| v.parse::<usize>().ok());
                if i == 0 || iteration.is_some_and(|it| it <= keep) {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
            write_atomic(path, kept.as_bytes())?;
        } else {
            write_atomic(path, format!("{}\n", header.join(",")).as_bytes())?;
        }
        let file = OpenOptions::new().append(true).open(path).with_context(|| format!("cannot append to {}", path.display()))?;
        Ok(CsvLog { path: path.to_owned(), file })
    }

    pub fn append(&mut self, fields: &[String]) -> Result<()> {
        let row = format!("{}\n", fields.join(","));
        self.file.write_all(row.as_bytes()).with_context(|| format!("cannot append to {}", self.path.display()))?;
        self.file.sync_data()?;
        Ok(())
    }
}

/// Replace directory `dir` by the one `fill` writes, so readers see the old or the new one whole.
pub fn replace_dir_atomic(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let staging = dir.with_extension("staging");
    let retired = dir.with_extension("old");
    for stale in [&staging, &retired] {
        if stale.exists() {
            fs::remove_dir_all(stale)?;
        }
    }
    fs::create_dir_all(&staging)?;
    fill(&staging)?;
    if dir.exists() {
        fs::rename(dir, &retired)?;
    }
    fs::rename(&staging, dir)?;
    if retired.exists() {
        fs::remove_dir_all(&retired)?;
    }
    Ok(())
}

/// A float as a CSV field with full precision (empty for a missing value).
pub fn field(value: Option<f64>) -> String {
    value.map(|v| format!("{v}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_drops_rows_past_the_checkpoint_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.csv");
        let mut log = CsvLog::open(&path, &["iteration", "value"], None).unwrap();
        for it in 0..4 {
            log.append(&[it.to_string(), format!("{}", it * 10)]).unwrap();
        }
        OpenOptions::new().append(true).open(&path).unwrap().write_all(b"4,4").unwrap();
        let mut log = CsvLog::open(&path, &["iteration", "value"], Some(1)).unwrap();
        log.append(&["2".into(), "99".into()]).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "iteration,value\n0,0\n1,10\n2,99\n");
    }
}
