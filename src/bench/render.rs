//! `metarl bench render`: MuJoCo's renderer in each OpenGL context this build has (OSMesa; EGL
//! through mujoco-rs): frames per second on a Meta-World and a Controls env, and how far a frame
//! is from the Python bindings' renderer at the same state (tools/reference_render.py, the
//! comparison `tests/render.rs` makes).

use anyhow::{Context, Result};
use serde::Serialize;

use crate::envs::camera::default_camera;
use crate::envs::registry::lookup;
use crate::envs::EnvOptions;
use crate::sim::{Camera, Gl, Renderer};

#[derive(Debug, Clone, Serialize)]
pub struct RenderRate {
    pub gl: String,
    pub env: String,
    pub width: usize,
    pub height: usize,
    /// Median over the rounds.
    pub frames_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RenderMatch {
    pub gl: String,
    pub camera: String,
    /// Mean |Δ| over the RGB values against the Python renderer's frame.
    pub mean_abs_diff: f64,
    /// Share of RGB values that differ by more than 2.
    pub share_beyond_2: f64,
}

/// The contexts this build can draw in.
pub fn contexts() -> Vec<Gl> {
    #[cfg(feature = "viewer")]
    return vec![Gl::OsMesa, Gl::Egl];
    #[cfg(not(feature = "viewer"))]
    vec![Gl::OsMesa]
}

pub fn label(gl: Gl) -> String {
    format!("{gl:?}").to_lowercase()
}

/// Frames per second of `env` on its train task 0 under a fixed action sequence, one frame per
/// step, in each context in turn per round; medians.
pub fn render_rates(envs: &[String], width: usize, height: usize, frames: usize, rounds: usize) -> Result<Vec<RenderRate>> {
    let mut rows = Vec::new();
    for name in envs {
        let entry = lookup(name)?;
        let options = EnvOptions::default();
        let mut env = entry.make(&options)?;
        env.set_task(&entry.tasks(&options, 0)?.train[0])?;
        let camera = default_camera(env.as_ref(), entry.suite);
        let contexts = contexts();
        let (model, _) = env.physics().with_context(|| format!("{name} has no MuJoCo model"))?;
        let mut renderers = contexts.iter().map(|&gl| Renderer::with(gl, model, width, height)).collect::<Result<Vec<_>, _>>()?;
        let mut rates = vec![Vec::new(); contexts.len()];
        let dim = env.action_space().dim();
        for _ in 0..rounds {
            for (renderer, rates) in renderers.iter_mut().zip(&mut rates) {
                env.reset()?;
                let start = std::time::Instant::now();
                for t in 0..frames {
                    let action: Vec<f64> = (0..dim).map(|i| ((t + i) as f64 * 0.7).sin()).collect();
                    if env.step(&action)?.done() {
                        env.reset()?;
                    }
                    let (model, data) = env.physics().expect("checked above");
                    renderer.render(model, data, &camera)?;
                }
                rates.push(frames as f64 / start.elapsed().as_secs_f64());
            }
        }
        for (gl, mut rates) in contexts.into_iter().zip(rates) {
            rates.sort_by(f64::total_cmp);
            rows.push(RenderRate { gl: label(gl), env: entry.name.into(), width, height, frames_per_s: rates[rates.len() / 2] });
        }
    }
    Ok(rows)
}

/// Each context's frame of reach-v3 (ML1 seed 0, train task 0, just reset) from `camera` against
/// the Python bindings' renderer.
pub fn python_match(camera: &str, width: usize, height: usize) -> Result<Vec<RenderMatch>> {
    let reference = std::env::temp_dir().join(format!("metarl-reference-frame-{}-{camera}.rgb", std::process::id()));
    let out = std::process::Command::new(crate::paths::reference_python())
        .arg(crate::paths::repository().join("tools/reference_render.py"))
        .args(["reach-v3", camera, &width.to_string(), &height.to_string()])
        .arg(&reference)
        .output()
        .with_context(|| format!("cannot run {}; {}", crate::paths::reference_python().display(), crate::paths::FIX_DEPS))?;
    anyhow::ensure!(out.status.success(), "tools/reference_render.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let theirs = std::fs::read(&reference)?;
    std::fs::remove_file(&reference)?;
    let entry = lookup("reach-v3")?;
    let mut env = entry.make(&EnvOptions::default())?;
    env.set_task(&entry.tasks(&EnvOptions::default(), 0)?.train[0])?;
    env.reset()?;
    let (model, data) = env.physics().expect("a MuJoCo env");
    let mut rows = Vec::new();
    for gl in contexts() {
        let ours = Renderer::with(gl, model, width, height)?.render(model, data, &Camera::Named(camera.into()))?;
        anyhow::ensure!(ours.len() == theirs.len(), "frame sizes differ");
        let diffs: Vec<u8> = ours.iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).collect();
        rows.push(RenderMatch {
            gl: label(gl),
            camera: camera.into(),
            mean_abs_diff: diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64,
            share_beyond_2: diffs.iter().filter(|&&d| d > 2).count() as f64 / diffs.len() as f64,
        });
    }
    Ok(rows)
}
