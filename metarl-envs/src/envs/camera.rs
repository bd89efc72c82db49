//! The camera an env is filmed from, for videos and for the Python module's `render`.

use super::{Env, Suite};
use crate::sim::{Camera, Renderer};

/// The camera an env is filmed from unless one is named: Meta-World's `corner2` overview, the
/// tracking camera of the MuJoCo Controls models (gymnasium's `track`), else the free camera.
pub fn default_camera(env: &dyn Env, suite: Suite) -> Camera {
    let names = env.physics().map(|(model, _)| Renderer::cameras(model)).unwrap_or_default();
    let preferred = if suite == Suite::Metaworld { "corner2" } else { "track" };
    if names.iter().any(|n| n == preferred) { Camera::Named(preferred.into()) } else { Camera::Free }
}

/// Whether frames from `camera` are turned 180°: Meta-World's corner cameras are defined with
/// their up axis pointing down (`corner`: xyaxes "-1 1 0 -0.2 -0.2 -1"), so their images come out
/// upside down, in the package as here.
pub fn upside_down(camera: &Camera, suite: Suite) -> bool {
    suite == Suite::Metaworld && matches!(camera, Camera::Named(name) if name.starts_with("corner"))
}

/// An RGB image turned 180°: the pixel order reversed, each pixel's channels kept.
pub fn turned_half(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3).rev().flatten().copied().collect()
}
