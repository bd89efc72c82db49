//! Offscreen rendering through MuJoCo's own renderer (`mjv_updateScene`, `mjr_render`,
//! `mjr_readPixels`) in a software OpenGL context from OSMesa, as the Python bindings do with
//! `MUJOCO_GL=osmesa`: headless, no display, no GPU. libOSMesa is loaded at run time, so only
//! rendering needs it (Debian: `apt-get install libosmesa6`).

use std::ffi::c_void;
use std::os::raw::{c_int, c_uint};

use mujoco_sys as ffi;

use super::{Data, Model, ObjType, SimError};

/// Where the camera looks from.
#[derive(Debug, Clone, PartialEq)]
pub enum Camera {
    /// MuJoCo's default free camera for the model (`mjv_defaultFreeCamera`).
    Free,
    /// A camera defined in the model, by name (Meta-World's `corner`, gymnasium's `track`).
    Named(String),
}

const OSMESA_RGBA: c_uint = 0x1908;
const GL_UNSIGNED_BYTE: c_uint = 0x1401;
const DEPTH_BITS: c_int = 24;
const STENCIL_BITS: c_int = 8;
/// `mjv_makeScene`'s geom budget, the Python `Renderer`'s default.
const MAX_GEOM: c_int = 10_000;

type CreateContext = unsafe extern "C" fn(c_uint, c_int, c_int, c_int, *mut c_void) -> *mut c_void;
type MakeCurrent = unsafe extern "C" fn(*mut c_void, *mut c_void, c_uint, c_int, c_int) -> u8;
type DestroyContext = unsafe extern "C" fn(*mut c_void);

/// A software GL context and the buffer it draws into.
struct OsMesa {
    library: libloading::Library,
    context: *mut c_void,
    /// The window-system buffer (RGBA); MuJoCo draws into its own offscreen framebuffer.
    buffer: Vec<u8>,
}

impl OsMesa {
    fn new(width: usize, height: usize) -> Result<OsMesa, SimError> {
        let unavailable = |why: String| SimError::Render(format!("{why}; install OSMesa (Debian: apt-get install libosmesa6)"));
        // SAFETY: loading libOSMesa runs its initialisers, which have no preconditions; the
        // symbols are looked up with their C signatures from GL/osmesa.h.
        unsafe {
            let library = ["libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so"]
                .iter()
                .find_map(|name| libloading::Library::new(name).ok())
                .ok_or_else(|| unavailable("cannot load libOSMesa".into()))?;
            let create: libloading::Symbol<CreateContext> = library.get(b"OSMesaCreateContextExt\0").map_err(|e| unavailable(e.to_string()))?;
            let context = create(OSMESA_RGBA, DEPTH_BITS, STENCIL_BITS, 0, std::ptr::null_mut());
            if context.is_null() {
                return Err(unavailable("OSMesaCreateContextExt failed".into()));
            }
            let mut osmesa = OsMesa { library, context, buffer: vec![0; 4 * width * height] };
            let make_current: libloading::Symbol<MakeCurrent> = osmesa.library.get(b"OSMesaMakeCurrent\0").map_err(|e| unavailable(e.to_string()))?;
            if make_current(osmesa.context, osmesa.buffer.as_mut_ptr().cast(), GL_UNSIGNED_BYTE, width as c_int, height as c_int) == 0 {
                return Err(unavailable("OSMesaMakeCurrent failed".into()));
            }
            Ok(osmesa)
        }
    }
}

impl Drop for OsMesa {
    fn drop(&mut self) {
        // SAFETY: `context` came from OSMesaCreateContextExt of this library and is destroyed once.
        unsafe {
            if let Ok(destroy) = self.library.get::<DestroyContext>(b"OSMesaDestroyContext\0") {
                destroy(self.context);
            }
        }
    }
}

/// Renders a model's states to RGB images. It owns a GL context current on the thread that made
/// it, so it stays on that thread (it is neither `Send` nor `Sync`).
pub struct Renderer {
    // Field order is drop order: MuJoCo's GL objects go before the context they live in.
    context: Box<ffi::mjrContext>,
    scene: Box<ffi::mjvScene>,
    option: ffi::mjvOption,
    _gl: OsMesa,
    width: usize,
    height: usize,
    model: *const ffi::mjModel,
}

impl Renderer {
    /// A renderer of `width × height` images of `model` (at most its offscreen buffer's size,
    /// `<visual><global offwidth offheight>`, 640 × 480 unless the model says more).
    pub fn new(model: &Model, width: usize, height: usize) -> Result<Renderer, SimError> {
        let global = &model.raw().vis.global;
        let (max_w, max_h) = (global.offwidth as usize, global.offheight as usize);
        if width == 0 || height == 0 || width > max_w || height > max_h {
            return Err(SimError::Render(format!("image size {width}×{height} is outside the model's offscreen buffer (1..={max_w} × 1..={max_h})")));
        }
        let gl = OsMesa::new(width, height)?;
        // SAFETY: the structs are plain C data that the mjv/mjr default functions initialise;
        // `model` outlives these calls; the GL context made above is current on this thread.
        unsafe {
            let mut context: Box<ffi::mjrContext> = Box::new(std::mem::zeroed());
            let mut scene: Box<ffi::mjvScene> = Box::new(std::mem::zeroed());
            let mut option: ffi::mjvOption = std::mem::zeroed();
            ffi::mjv_defaultOption(&mut option);
            ffi::mjv_defaultScene(scene.as_mut());
            ffi::mjv_makeScene(model.as_ptr(), scene.as_mut(), MAX_GEOM);
            ffi::mjr_defaultContext(context.as_mut());
            ffi::mjr_makeContext(model.as_ptr(), context.as_mut(), ffi::mjFONTSCALE_150 as c_int);
            ffi::mjr_setBuffer(ffi::mjFB_OFFSCREEN as c_int, context.as_mut());
            if context.currentBuffer != ffi::mjFB_OFFSCREEN as c_int {
                return Err(SimError::Render("MuJoCo could not make its offscreen framebuffer".into()));
            }
            Ok(Renderer { context, scene, option, _gl: gl, width, height, model: model.as_ptr() })
        }
    }

    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The image of `data` seen from `camera`: RGB rows, top row first.
    pub fn render(&mut self, model: &Model, data: &Data, camera: &Camera) -> Result<Vec<u8>, SimError> {
        if model.as_ptr() != self.model {
            return Err(SimError::ModelMismatch);
        }
        data.check_model(model)?;
        // SAFETY: model and data belong together (checked above); mjv_updateScene only reads the
        // data despite its non-const signature; the scene, context and option were made for this
        // model; the pixel buffer holds width × height × 3 bytes.
        unsafe {
            let mut cam: ffi::mjvCamera = std::mem::zeroed();
            match camera {
                Camera::Free => ffi::mjv_defaultFreeCamera(model.as_ptr(), &mut cam),
                Camera::Named(name) => {
                    ffi::mjv_defaultCamera(&mut cam);
                    cam.type_ = ffi::mjCAMERA_FIXED as c_int;
                    cam.fixedcamid = model.id(ObjType::Camera, name)? as c_int;
                }
            }
            ffi::mjv_updateScene(model.as_ptr(), data.as_ptr() as *mut ffi::mjData, &self.option, std::ptr::null(), &mut cam, ffi::mjCAT_ALL as c_int, self.scene.as_mut());
            let rect = ffi::mjrRect { left: 0, bottom: 0, width: self.width as c_int, height: self.height as c_int };
            ffi::mjr_render(rect, self.scene.as_mut(), self.context.as_ref());
            let mut pixels = vec![0u8; 3 * self.width * self.height];
            ffi::mjr_readPixels(pixels.as_mut_ptr(), std::ptr::null_mut(), rect, self.context.as_ref());
            // OpenGL's rows run bottom to top.
            let row = 3 * self.width;
            Ok(pixels.chunks_exact(row).rev().flatten().copied().collect())
        }
    }

    /// The model's camera names.
    pub fn cameras(model: &Model) -> Vec<String> {
        model.names(ObjType::Camera)
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        // SAFETY: both were made in `new` and are freed once, while the GL context still exists.
        unsafe {
            ffi::mjr_freeContext(self.context.as_mut());
            ffi::mjv_freeScene(self.scene.as_mut());
        }
    }
}
