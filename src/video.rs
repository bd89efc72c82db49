//! Videos of episodes: frames from the offscreen renderer (or, for the planar point robots, a
//! top view drawn here) with a caption (episode, step, return, success) drawn on each, written as
//! an animated GIF or a folder of PNGs.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::envs::Env;
use crate::results::chart::Canvas;
use crate::sim::{Camera, Renderer};

/// Levels per channel of the GIF palette: a fixed 6 × 7 × 6 colour cube (252 colours), so a frame
/// is quantised by arithmetic instead of a per-frame palette search.
const CUBE: [usize; 3] = [6, 7, 6];

fn cube_palette() -> Vec<u8> {
    let level = |i: usize, n: usize| (i * 255 / (n - 1)) as u8;
    let mut palette = Vec::with_capacity(3 * 256);
    for r in 0..CUBE[0] {
        for g in 0..CUBE[1] {
            for b in 0..CUBE[2] {
                palette.extend([level(r, CUBE[0]), level(g, CUBE[1]), level(b, CUBE[2])]);
            }
        }
    }
    palette.resize(3 * 256, 0);
    palette
}

/// The palette entry nearest an RGB pixel, channel by channel.
fn cube_index(pixel: &[u8]) -> u8 {
    let q = |v: u8, n: usize| (usize::from(v) * (n - 1) + 127) / 255;
    (q(pixel[0], CUBE[0]) * CUBE[1] * CUBE[2] + q(pixel[1], CUBE[1]) * CUBE[2] + q(pixel[2], CUBE[2])) as u8
}

/// Where frames come from.
enum Source {
    /// MuJoCo's renderer; `rotate` turns each image 180° (see [`crate::envs::camera::upside_down`]).
    Mujoco { renderer: Renderer, camera: Camera, rotate: bool },
    /// A top view of a planar env (the point robots): the goal, the agent and its trail this episode.
    Plane { trail: Vec<[f64; 2]> },
}

/// Frames of one env, captured step by step.
pub struct Recorder {
    source: Source,
    width: usize,
    height: usize,
    frames: Vec<Vec<u8>>,
}

/// Half the side of the square a planar view shows, centred on the origin (the point robots'
/// goals lie in [-1, 1]²).
const PLANE_HALF_SIDE: f64 = 1.6;

fn draw_plane(canvas: &mut Canvas, at: crate::envs::Planar, trail: &[[f64; 2]]) {
    let scale = canvas.width.min(canvas.height) as f64 / (2.0 * PLANE_HALF_SIDE);
    let (cx, cy) = (canvas.width as f64 / 2.0, canvas.height as f64 / 2.0);
    let px = |p: [f64; 2]| (cx + p[0] * scale, cy - p[1] * scale);
    let grey = [200, 200, 200];
    for k in -1..=1 {
        let v = k as f64;
        canvas.line(px([-PLANE_HALF_SIDE, v]), px([PLANE_HALF_SIDE, v]), grey, 1);
        canvas.line(px([v, -PLANE_HALF_SIDE]), px([v, PLANE_HALF_SIDE]), grey, 1);
    }
    let disc = |canvas: &mut Canvas, centre: [f64; 2], radius: f64, colour: [u8; 3]| {
        let (x, y) = px(centre);
        let r = (radius * scale).max(3.0);
        for dy in -(r as i64)..=(r as i64) {
            for dx in -(r as i64)..=(r as i64) {
                if ((dx * dx + dy * dy) as f64) <= r * r {
                    canvas.set(x as i64 + dx, y as i64 + dy, colour);
                }
            }
        }
    };
    disc(canvas, at.goal, at.goal_radius.unwrap_or(0.04), [140, 220, 140]);
    for pair in trail.windows(2) {
        canvas.line(px(pair[0]), px(pair[1]), [31, 119, 180], 2);
    }
    disc(canvas, at.position, 0.05, [214, 39, 40]);
}

impl Recorder {
    /// A recorder of `env` (MuJoCo envs through `camera`; planar envs drawn from above).
    pub fn new(env: &dyn Env, camera: Camera, rotate: bool, width: usize, height: usize) -> Result<Recorder> {
        let source = match env.physics() {
            Some((model, _)) => {
                if let Camera::Named(name) = &camera {
                    let names = Renderer::cameras(model);
                    if !names.contains(name) {
                        bail!("{} has no camera {name:?}; its cameras: {}", env.name(), if names.is_empty() { "none".into() } else { names.join(", ") });
                    }
                }
                Source::Mujoco { renderer: Renderer::new(model, width, height)?, camera, rotate }
            }
            None if env.planar().is_some() => Source::Plane { trail: Vec::new() },
            None => bail!("{} has nothing to render", env.name()),
        };
        Ok(Recorder { source, width, height, frames: Vec::new() })
    }

    /// A new episode starts: a planar view's trail starts again.
    pub fn new_episode(&mut self) {
        if let Source::Plane { trail } = &mut self.source {
            trail.clear();
        }
    }

    /// Renders the env's current state with `caption` in the top-left corner.
    pub fn capture(&mut self, env: &dyn Env, caption: &str) -> Result<()> {
        let (width, height) = (self.width, self.height);
        let mut canvas = match &mut self.source {
            Source::Mujoco { renderer, camera, rotate } => {
                let (model, data) = env.physics().context("the env lost its physics")?;
                let mut rgb = renderer.render(model, data, camera)?;
                if *rotate {
                    rgb = crate::envs::camera::turned_half(&rgb);
                }
                Canvas { width, height, rgb }
            }
            Source::Plane { trail } => {
                let at = env.planar().context("the env is no longer planar")?;
                trail.push(at.position);
                let mut canvas = Canvas::new(width, height);
                draw_plane(&mut canvas, at, trail);
                canvas
            }
        };
        // A dark strip behind the text keeps it readable on any scene.
        for y in 0..14.min(height) {
            for x in 0..(8 * caption.len() + 8).min(width) {
                canvas.set(x as i64, y as i64, [20, 20, 20]);
            }
        }
        canvas.text(4, 3, caption, [255, 255, 255], 1);
        self.frames.push(canvas.rgb);
        Ok(())
    }

    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// Writes the frames to `out`: an animated GIF (`.gif`, `fps` frames per second) or, for a
    /// path without an extension, a folder of `frame-00000.png`, ...
    pub fn save(&self, out: &Path, fps: u16) -> Result<()> {
        let (width, height) = (self.width, self.height);
        match out.extension().and_then(|e| e.to_str()) {
            Some("gif") => {
                if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let file = std::fs::File::create(out).with_context(|| format!("cannot write {}", out.display()))?;
                let mut encoder = gif::Encoder::new(std::io::BufWriter::new(file), width as u16, height as u16, &cube_palette())?;
                encoder.set_repeat(gif::Repeat::Infinite)?;
                for rgb in &self.frames {
                    let indices: Vec<u8> = rgb.chunks_exact(3).map(cube_index).collect();
                    let mut frame = gif::Frame::from_indexed_pixels(width as u16, height as u16, indices, None);
                    frame.delay = (100 / fps.max(1)).max(2);
                    encoder.write_frame(&frame)?;
                }
                Ok(())
            }
            None => {
                std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
                for (i, rgb) in self.frames.iter().enumerate() {
                    Canvas { width, height, rgb: rgb.clone() }.save_png(&out.join(format!("frame-{i:05}.png")))?;
                }
                Ok(())
            }
            Some(other) => bail!("{}: .{other} is not a format written here; use .gif or a folder name (PNG frames; ffmpeg -i frame-%05d.png makes an mp4)", out.display()),
        }
    }
}
