//! A training run's progress, as its reader sees it: on a terminal an indicatif spinner with the
//! latest iteration; otherwise (stdout redirected to a file, a Slurm log) one `tracing` INFO line
//! per iteration on stderr with the iteration, env and gradient steps, test return and success,
//! seconds per iteration and the time left.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// What one iteration reports (the fields a trainer does not count are `None`).
#[derive(Debug, Clone, Default)]
pub struct Line {
    pub iteration: usize,
    pub env_steps: Option<u64>,
    pub train_steps: Option<u64>,
    pub test_return: f64,
    pub test_success: Option<f64>,
}

impl Line {
    /// The line of a progress.csv row, read by column name (a family without env steps or
    /// gradient steps leaves them out).
    pub fn of_row(columns: &[&str], row: &[String]) -> Line {
        let value = |column: &str| crate::protocol::driver::value(columns, row, column);
        Line {
            iteration: value("iteration").and_then(|v| v.parse().ok()).unwrap_or_default(),
            env_steps: value("env_steps").and_then(|v| v.parse().ok()),
            train_steps: value("train_steps").and_then(|v| v.parse().ok()),
            test_return: value("test_return").and_then(|v| v.parse().ok()).unwrap_or(f64::NAN),
            test_success: value("test_success").and_then(|v| v.parse().ok()),
        }
    }
}

/// The progress of one run: a spinner on a terminal, log lines elsewhere.
pub struct Progress {
    label: String,
    /// Iterations the run makes in all (its schedule and budget), for the ETA.
    total: Option<u64>,
    bar: Option<ProgressBar>,
    started: Instant,
    last: Instant,
    first: Option<usize>,
}

/// Seconds as "42.0 s", "12 min 5 s" or "3 h 20 min".
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {} s", (s / 60.0).floor(), (s % 60.0).floor())
    } else {
        format!("{} h {} min", (s / 3600.0).floor(), ((s % 3600.0) / 60.0).floor())
    }
}

impl Progress {
    /// Progress of `label` ("pearl on cheetah-vel (seed 0)") over `total` iterations. The
    /// spinner only when stdout is a terminal (or `METARL_PROGRESS=bar`); log lines when it is not
    /// (or `METARL_PROGRESS=log`).
    pub fn start(label: impl Into<String>, total: Option<u64>) -> Progress {
        let bar = match std::env::var("METARL_PROGRESS").as_deref() {
            Ok("log") => false,
            Ok("bar") => true,
            _ => std::io::stdout().is_terminal(),
        };
        let bar = bar.then(|| {
            let style = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("a valid template");
            let bar = ProgressBar::new_spinner().with_style(style);
            bar.enable_steady_tick(std::time::Duration::from_millis(500));
            bar
        });
        let label = label.into();
        if bar.is_none() {
            tracing::info!("{label}: training{}", total.map(|t| format!(", {t} iterations")).unwrap_or_default());
        }
        Progress { label, total, bar, started: Instant::now(), last: Instant::now(), first: None }
    }

    /// The line of one finished iteration.
    pub fn iteration(&mut self, line: &Line) {
        let now = Instant::now();
        let seconds = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        let first = *self.first.get_or_insert(line.iteration);
        let done_here = (line.iteration + 1 - first.min(line.iteration)) as f64;
        let per_iteration = now.duration_since(self.started).as_secs_f64() / done_here.max(1.0);
        let mut parts = vec![match self.total {
            Some(total) => format!("iteration {} ({}/{total})", line.iteration, line.iteration + 1),
            None => format!("iteration {}", line.iteration),
        }];
        if let Some(steps) = line.env_steps {
            parts.push(format!("{steps} env steps"));
        }
        if let Some(steps) = line.train_steps {
            parts.push(format!("{steps} gradient steps"));
        }
        parts.push(format!("test return {:.3}", line.test_return));
        if let Some(success) = line.test_success {
            parts.push(format!("success {:.0}%", 100.0 * success));
        }
        match &self.bar {
            Some(bar) => bar.set_message(parts.join(" · ")),
            None => {
                parts.push(format!("{} per iteration", duration(seconds)));
                if let Some(total) = self.total {
                    let left = total.saturating_sub(line.iteration as u64 + 1);
                    parts.push(format!("ETA {}", duration(per_iteration * left as f64)));
                }
                tracing::info!("{}: {}", self.label, parts.join(", "));
            }
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_would_write_them() {
        assert_eq!(duration(4.0), "4.0 s");
        assert_eq!(duration(725.0), "12 min 5 s");
        assert_eq!(duration(3.0 * 3600.0 + 20.0 * 60.0 + 7.0), "3 h 20 min");
    }
}
