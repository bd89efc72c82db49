//! Benchmarks, each against its limit or its reference (DESIGN.md, performance targets):
//! `metarl bench mujoco` (raw `mj_step` throughput), `metarl bench envs` (env steps/s against the
//! raw `mj_step` limit of the same physics and the Python references), `metarl bench train` and
//! `metarl bench sampler` (the learners' gradient steps and the sampler's env steps).

mod envs;
mod mujoco;
mod render;
mod train;

pub use envs::*;
pub use mujoco::*;
pub use render::*;
pub use train::*;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{anyhow, Context, Result};
use serde::Serialize;

use crate::paths;

/// A Python reference script in the cache venv, serving one measurement per request line for
/// the whole run, so a bench can alternate its own timings with the reference's.
struct Served {
    script: &'static str,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Served {
    fn start(script: &'static str, args: &[String]) -> Result<Self> {
        // A binary carried without the repository finds the scripts in $METARL_TOOLS_DIR.
        let path = match std::env::var_os("METARL_TOOLS_DIR") {
            Some(dir) => Path::new(&dir).join(Path::new(script).file_name().expect("a script file")),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join(script),
        };
        let mut child = Command::new(paths::reference_python())
            .arg(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}; {}", paths::reference_python().display(), paths::FIX_DEPS))?;
        let input = child.stdin.take().expect("piped stdin");
        let output = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Served { script, child, input, output })
    }

    /// Send `request`, read the number the script answers.
    fn ask(&mut self, request: &str) -> Result<f64> {
        writeln!(self.input, "{request}").and_then(|()| self.input.flush()).with_context(|| format!("{} stopped", self.script))?;
        let mut line = String::new();
        self.output.read_line(&mut line)?;
        line.trim().parse().map_err(|_| anyhow!("{} gave no answer to {request:?}: {:?} (its error is above)", self.script, line.trim()))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn write_csv<T: Serialize>(rows: &[T], out: &Path) -> Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut writer = csv::Writer::from_path(out).with_context(|| format!("cannot write {}", out.display()))?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}
