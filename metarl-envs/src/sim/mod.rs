//! The only safe layer over `mujoco-sys`. Names follow MuJoCo's C API (qpos, qvel, xpos,
//! site_xpos, ...), so <https://mujoco.readthedocs.io/en/3.3.7/APIreference> maps onto this code.
//!
//! `Model` owns an `mjModel`, `Data` an `mjData`; as in C, stepping takes both
//! (`data.step(&model, n)`) and checks that the data was made from that model. Array fields are
//! slices with MuJoCo's row-major layout (`xpos` is nbody × 3 flattened).

mod model;
mod render;
mod state;
#[cfg(feature = "viewer")]
mod mirror;
#[cfg(feature = "viewer")]
pub mod viewer;

pub use model::{Contact, Data, Model, ObjType};
pub use render::{Camera, Gl, Renderer};
pub use state::State;

use std::cell::Cell;
use std::ffi::CStr;
use std::time::Duration;
use std::sync::Once;

use mujoco_sys as ffi;

/// `mjEQ_WELD`, the `eq_type` of a weld equality constraint.
pub const EQ_WELD: i32 = ffi::mjEQ_WELD as i32;

/// The MuJoCo release this build was generated from and must run against.
pub const MUJOCO_VERSION: i32 = ffi::mjVERSION_HEADER as i32;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot load MJCF {source_name}: {message}")]
    Load { source_name: String, message: String },
    #[error("no {kind} named {name:?} in the model{}", suggestion_text(.suggestion))]
    UnknownName { kind: &'static str, name: String, suggestion: Option<String> },
    #[error("MuJoCo version mismatch: built against {expected}, the loaded library is {found}; \
             run `make deps` and rebuild, and unset LD_LIBRARY_PATH if it points at another MuJoCo")]
    Version { expected: i32, found: i32 },
    #[error("cannot render: {0}")]
    Render(String),
    #[error("this Data was made from another Model")]
    ModelMismatch,
    #[error("state size mismatch: the snapshot holds {found} numbers, this model needs {expected}")]
    StateSize { expected: usize, found: usize },
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default()
}

thread_local! {
    static PHYSICS_TIME: Cell<Duration> = const { Cell::new(Duration::ZERO) };
    static PHYSICS_STEPS: Cell<u64> = const { Cell::new(0) };
}

/// Time this thread has spent inside `mj_step` (through [`Data::step`]): what `metarl bench envs`
/// compares an env step's cost with.
pub fn physics_time() -> Duration {
    PHYSICS_TIME.with(Cell::get)
}

/// Calls of `mj_step` this thread has made (through [`Data::step`]).
pub fn physics_steps() -> u64 {
    PHYSICS_STEPS.with(Cell::get)
}

fn add_physics(elapsed: Duration, steps: u64) {
    PHYSICS_TIME.with(|t| t.set(t.get() + elapsed));
    PHYSICS_STEPS.with(|s| s.set(s.get() + steps));
}

/// The version of the MuJoCo library actually loaded, `mj_version()`.
pub fn library_version() -> i32 {
    // SAFETY: mj_version has no preconditions.
    unsafe { ffi::mj_version() }
}

/// Checks the loaded library against the build, and routes MuJoCo's warnings to `tracing`.
/// Runs once, before the first model is loaded.
fn init() -> Result<(), SimError> {
    static HOOKS: Once = Once::new();
    HOOKS.call_once(|| {
        // SAFETY: the hooks are plain C function pointers, set once before any other MuJoCo call
        // of this process can race with them.
        unsafe {
            ffi::mju_user_warning = Some(on_warning);
            ffi::mju_user_error = Some(on_error);
        }
    });
    match library_version() {
        found if found == MUJOCO_VERSION => Ok(()),
        found => Err(SimError::Version { expected: MUJOCO_VERSION, found }),
    }
}

unsafe extern "C" fn on_warning(msg: *const std::os::raw::c_char) {
    tracing::warn!("MuJoCo: {}", CStr::from_ptr(msg).to_string_lossy());
}

/// MuJoCo's errors are unrecoverable (its default handler exits); say so clearly, then abort,
/// because unwinding through C frames is undefined.
unsafe extern "C" fn on_error(msg: *const std::os::raw::c_char) {
    eprintln!("error: MuJoCo: {}", CStr::from_ptr(msg).to_string_lossy());
    std::process::abort();
}
