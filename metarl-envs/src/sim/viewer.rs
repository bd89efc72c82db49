//! MuJoCo's interactive viewer (mujoco-rs's Rust viewer: winit and OpenGL, free camera, body
//! tracking, visualisation toggles, F1 help) showing an env's model and state, with a caption
//! and the keys `metarl view` acts on.
//!
//! The viewer draws its own copy of the env's model ([`Mirror`]); the env's state is copied into it
//! each frame, and its model again after a task edits it ([`Viewer::sync_model`]). The env steps
//! as it always does; mouse perturbations move the viewer's copy only.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_void};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use mujoco_rs::prelude::MjData;
use mujoco_rs::viewer::{egui, MjViewer};

use super::mirror::Mirror;
use super::{Data, Model, SimError};

/// Keys pressed since the last frame (Space pauses, N steps once while paused, R restarts the
/// episode, PageDown/PageUp switch to the next/previous task).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys {
    pub pause: bool,
    pub step: bool,
    pub reset: bool,
    pub next_task: bool,
    pub previous_task: bool,
}

impl Keys {
    fn merge(self, other: Keys) -> Keys {
        Keys {
            pause: self.pause ^ other.pause,
            step: self.step || other.step,
            reset: self.reset || other.reset,
            next_task: self.next_task || other.next_task,
            previous_task: self.previous_task || other.previous_task,
        }
    }
}

pub const KEY_HELP: &str = "Space pause · N step · R restart · PgDn/PgUp task · F1 viewer help";

/// A connection to the X display, closed when dropped.
struct XConnection {
    library: libloading::Library,
    display: *mut c_void,
}

impl Drop for XConnection {
    fn drop(&mut self) {
        // SAFETY: `display` came from this library's XOpenDisplay and is closed once.
        unsafe {
            if let Ok(close) = self.library.get::<unsafe extern "C" fn(*mut c_void) -> i32>(b"XCloseDisplay\0") {
                close(self.display);
            }
        }
    }
}

/// A connection to the X display and an OpenGL library (EGL or GLX), described; `Err` says what
/// is missing and what fixes it.
fn reach_display() -> Result<(XConnection, String), SimError> {
    let unavailable = |why: String| Err(SimError::Render(why));
    let Some(display) = std::env::var_os("DISPLAY").filter(|d| !d.is_empty()) else {
        return unavailable("no display: DISPLAY is unset; run under an X server, e.g. `xvfb-run -a metarl view ...` (Debian: apt-get install xvfb)".into());
    };
    let display = display.to_string_lossy().into_owned();
    // SAFETY: loading libX11 runs no initialisers with preconditions; XOpenDisplay(NULL) opens the
    // DISPLAY connection or returns null.
    let connection = unsafe {
        let library = match libloading::Library::new("libX11.so.6") {
            Ok(lib) => lib,
            Err(e) => return unavailable(format!("libX11 cannot be loaded ({e}); Debian: apt-get install libx11-6")),
        };
        let open: libloading::Symbol<unsafe extern "C" fn(*const c_char) -> *mut c_void> =
            library.get(b"XOpenDisplay\0").map_err(|e| SimError::Render(e.to_string()))?;
        let opened = open(std::ptr::null());
        if opened.is_null() {
            return unavailable(format!("cannot connect to the X display {display:?}; is the X server running?"));
        }
        XConnection { library, display: opened }
    };
    let gl = ["libEGL.so.1", "libGL.so.1"].into_iter().find(|name| {
        // SAFETY: as above, for the GL loader libraries.
        unsafe { libloading::Library::new(name) }.is_ok()
    });
    match gl {
        Some(library) => Ok((connection, format!("display {display}, OpenGL through {library}"))),
        None => unavailable("no OpenGL library (libEGL.so.1 or libGL.so.1); Debian: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri".into()),
    }
}

/// Whether this process can open a viewer window: an X display it can reach and an OpenGL
/// library (EGL or GLX). `Err` says what is missing and what fixes it.
pub fn can_open_window() -> Result<String, SimError> {
    reach_display().map(|(_, description)| description)
}

/// One viewer window on one env's model.
pub struct Viewer {
    viewer: MjViewer<Mirror>,
    mirror: Mirror,
    data: MjData<Mirror>,
    caption: Rc<RefCell<String>>,
    keys: Rc<Cell<Keys>>,
}

impl Viewer {
    /// Open a window titled `title` on a copy of `model`.
    pub fn open(model: &Model, title: &str) -> Result<Viewer, SimError> {
        // Held until the viewer has its own connection: a bare X server (Xvfb, xvfb-run) resets
        // when its last client leaves, and refuses connections while it does.
        let (_held, _) = reach_display()?;
        let mirror = Mirror::of(model)?;
        // mujoco-rs panics (rather than returning an error) where the window or the GL context
        // cannot be made; say so in one line instead.
        let built = std::panic::catch_unwind(AssertUnwindSafe(|| {
            MjViewer::builder().window_name(title.to_owned()).build_passive(mirror.clone())
        }));
        let mut viewer = match built {
            Ok(Ok(viewer)) => viewer,
            Ok(Err(e)) => return Err(SimError::Render(format!("the viewer cannot open a window: {e:?}"))),
            Err(_) => return Err(SimError::Render("the viewer cannot open a window or an OpenGL context on this display".into())),
        };
        let (caption, keys) = (Rc::new(RefCell::new(String::new())), Rc::new(Cell::new(Keys::default())));
        let (shown, pressed) = (caption.clone(), keys.clone());
        viewer.add_ui_callback_detached(move |ctx| {
            let now = ctx.input(|input| Keys {
                pause: input.key_pressed(egui::Key::Space),
                step: input.key_pressed(egui::Key::N),
                reset: input.key_pressed(egui::Key::R),
                next_task: input.key_pressed(egui::Key::PageDown),
                previous_task: input.key_pressed(egui::Key::PageUp),
            });
            pressed.set(pressed.get().merge(now));
            egui::Area::new(egui::Id::new("metarl-caption"))
                .anchor(egui::Align2::LEFT_BOTTOM, [8.0, -8.0])
                .show(ctx, |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.label(egui::RichText::new(shown.borrow().as_str()).monospace());
                        ui.label(egui::RichText::new(KEY_HELP).small());
                    });
                });
        });
        let data = MjData::new(mirror.clone());
        Ok(Viewer { viewer, mirror, data, caption, keys })
    }

    /// Copy `model` into the viewer's copy: after a reset or a task switch, which may edit the
    /// env's model (Meta-World's goal bodies) or swap it for another compiled one (hopper-size).
    pub fn sync_model(&mut self, model: &Model) -> Result<(), SimError> {
        self.mirror.copy_model(model)
    }

    /// Draw `data` (of the model last synced) with `caption`; the keys pressed since the last
    /// frame, or `None` once the window is closed.
    pub fn show(&mut self, model: &Model, data: &Data, caption: &str) -> Result<Option<Keys>, SimError> {
        if !self.mirror.mirrors(model) {
            self.mirror.copy_model(model)?;
        }
        if !self.viewer.running() {
            return Ok(None);
        }
        self.mirror.copy_data(&mut self.data, model, data)?;
        caption.clone_into(&mut self.caption.borrow_mut());
        self.viewer.sync_data(&mut self.data);
        self.viewer.render();
        Ok(Some(self.keys.replace(Keys::default())))
    }
}
