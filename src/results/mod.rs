//! Run folders: `config.json`, `progress.csv`, `eval.csv`, `summary.csv` and `checkpoint/`,
//! written so that a killed run never leaves a torn row or a half-written checkpoint; PNG plots
//! (`plot`).


pub mod chart;
pub mod tensorboard;

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

/// The mean of `values`; 0 for none.
/// A success cell: 1, 0, or empty where the env defines no success.
pub fn success_field(success: Option<bool>) -> String {
    success.map(|s| u8::from(s).to_string()).unwrap_or_default()
}

/// The share of episodes that succeeded at any step, where the env defines success (else `None`).
pub fn success_share(successes: impl IntoIterator<Item = Option<bool>>) -> Option<f64> {
    let successes: Option<Vec<bool>> = successes.into_iter().collect();
    successes.map(|s| s.iter().filter(|&&x| x).count() as f64 / s.len().max(1) as f64)
}

pub fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values.into_iter().fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

/// Mean and sample standard deviation (0 for a single value): the spread over seeds that
/// campaign tables and regression bands report.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// The median (the upper one of an even count): the benchmarks' figure over rounds, robust to
/// other work on the machine.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A run's learning curve: (steps, test return, test success) per iteration — env steps, or for
/// an offline run (which takes none while training) gradient steps.
pub type Curve = Vec<(f64, f64, Option<f64>)>;

/// The learning curve in a run folder's progress.csv.
pub fn read_curve(dir: &Path) -> Result<Curve> {
    let path = dir.join("progress.csv");
    let mut reader = csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("{} has no {name} column", path.display()));
    let (steps, ret) = (column("env_steps").or_else(|_| column("train_steps"))?, column("test_return")?);
    let success = headers.iter().position(|h| h == "test_success");
    reader
        .records()
        .map(|row| {
            let row = row?;
            Ok((row[steps].parse()?, row[ret].parse()?, success.and_then(|c| row[c].parse().ok())))
        })
        .collect()
}

/// `curves.png` in a run folder: its test return and (where defined) success against env steps
/// (gradient steps for an offline run).
pub fn write_run_curves(dir: &Path, title: &str) -> Result<()> {
    use chart::{Chart, Series};
    let curve = read_curve(dir)?;
    let header = fs::read_to_string(dir.join("progress.csv"))?.lines().next().unwrap_or_default().to_owned();
    let x_label = if header.split(',').any(|c| c == "env_steps") { "env steps" } else { "gradient steps" };
    let panel = |name: &str, points: Vec<(f64, f64)>| Chart {
        title: title.to_string(),
        x_label: x_label.into(),
        y_label: name.into(),
        series: vec![Series { label: name.into(), points, std: None }],
    };
    let mut charts = vec![panel("test return", curve.iter().map(|p| (p.0, p.1)).collect())];
    let success: Vec<(f64, f64)> = curve.iter().filter_map(|p| p.2.map(|s| (p.0, s))).collect();
    if !success.is_empty() {
        charts.push(panel("test success", success));
    }
    chart::save_grid(&dir.join("curves.png"), &charts, 2)
}

/// Today's UTC date as YYYY-MM-DD (civil-from-days, Hinnant's algorithm).
pub fn today() -> String {
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
