//! One run loop for every learner family. A family implements [`TrainingRun`] (one iteration of
//! training and meta-test, its progress row, its checkpoint, the meta-test of a checkpoint); the
//! [`drive`] loop owns the rest: the iteration and env-step budget, progress.csv, eval.csv and
//! their TensorBoard twin, the checkpoint after every iteration, summary.csv, curves.png and the
//! observer that sees each row (the progress line or bar).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::meta_train::{EvalSummary, FilmStep};
use crate::envs::Env;
use super::run_dir::RunDir;

/// What one iteration wrote: its progress row without `wall_clock_s` (the driver adds it) and its
/// eval.csv rows.
pub struct IterationRows {
    pub progress: Vec<String>,
    pub eval: Vec<Vec<String>>,
}

/// Where a run stands.
pub struct Counters {
    /// The last iteration the checkpoint holds (a resumed run), else `None`.
    pub finished: Option<usize>,
    pub env_steps: u64,
    /// `--steps`: no iteration starts once `env_steps` reaches it.
    pub max_env_steps: Option<u64>,
    /// Seconds the run had trained before this process.
    pub elapsed_s: f64,
}

/// A learner family's side of a run: what every trainer (PEARL family, on-policy, MCAT, offline) implements.
pub trait TrainingRun {
    /// "pearl on cheetah-vel (seed 0)".
    fn label(&self) -> String;
    fn run_dir(&self) -> &RunDir;
    /// progress.csv's columns: the iteration first, `wall_clock_s` last.
    fn progress_columns(&self) -> Vec<&'static str>;
    fn eval_columns(&self) -> &'static [&'static str];
    fn num_iterations(&self) -> usize;
    /// The iterations the run will make in all (its schedule and budget), for the ETA.
    fn planned_iterations(&self) -> usize;
    /// Where the run stands: what its checkpoint holds and its env-step budget.
    fn counters(&self) -> Counters;
    /// Train iteration `iteration` and run its meta-test.
    fn iterate(&mut self, iteration: usize) -> Result<IterationRows>;
    /// Record `iteration` as finished after `wall_clock_s` and replace the checkpoint.
    fn checkpoint(&mut self, iteration: usize, wall_clock_s: f64) -> Result<()>;
    /// Re-run the meta-test on the checkpoint (`metarl eval`).
    fn evaluate_checkpoint(&mut self) -> Result<EvalSummary>;
    /// How many test tasks [`TrainingRun::film`] takes (0 where the family does not film).
    fn film_tasks(&self) -> usize {
        0
    }
    /// One meta-test run of the checkpoint on test task `task` with `on_step` shown the env after
    /// every step (`metarl render`, `metarl view`); its score and success. The PEARL family films
    /// its runs; the others say so.
    fn film(&mut self, _task: usize, _on_step: &mut dyn FnMut(&dyn Env, &FilmStep) -> Result<()>) -> Result<(f64, Option<bool>)> {
        bail!("`metarl render` films the PEARL family's runs (pearl, oracle-sac, tcl, cocoa); {} is not filmed yet", self.label())
    }
}

/// Run `learner` to its budget; `observe` sees progress.csv's columns and each new row. Returns
/// the last row.
pub fn drive(learner: &mut dyn TrainingRun, mut observe: impl FnMut(&[&str], &[String])) -> Result<Vec<String>> {
    let columns = learner.progress_columns();
    let Counters { finished, elapsed_s, .. } = learner.counters();
    let mut logs = learner.run_dir().open_logs(&columns, learner.eval_columns(), finished)?;
    let start = Instant::now() - Duration::from_secs_f64(elapsed_s);
    let mut last = None;
    for iteration in finished.map_or(0, |i| i + 1)..learner.num_iterations() {
        let Counters { env_steps, max_env_steps, .. } = learner.counters();
        if max_env_steps.is_some_and(|max| env_steps >= max) {
            break;
        }
        let rows = learner.iterate(iteration)?;
        let wall_clock_s = start.elapsed().as_secs_f64();
        let mut row = rows.progress;
        row.push(format!("{wall_clock_s:.3}"));
        for eval in &rows.eval {
            logs.eval.append(eval)?;
        }
        logs.append_progress(&row)?;
        learner.checkpoint(iteration, wall_clock_s)?;
        observe(&columns, &row);
        last = Some(row);
    }
    let row = last.context("no iteration ran: the run had already reached its budget")?;
    let dir = learner.run_dir();
    dir.write_summary(&columns, &row)?;
    crate::results::write_run_curves(&dir.path, &learner.label())?;
    Ok(row)
}

/// The value of `column` in a progress row, if it has one.
pub fn value<'a>(columns: &[&str], row: &'a [String], column: &str) -> Option<&'a str> {
    columns.iter().position(|c| *c == column).map(|i| row[i].as_str()).filter(|v| !v.is_empty())
}
