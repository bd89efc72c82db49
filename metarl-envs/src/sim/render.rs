//! Offscreen rendering through MuJoCo's own renderer (`mjv_updateScene`, `mjr_render`,
//! `mjr_readPixels`) in one of two OpenGL contexts ([`Gl`]): a software one from OSMesa, as the
//! Python bindings do with `MUJOCO_GL=osmesa` (headless, no display, no GPU; libOSMesa is loaded
//! at run time, Debian `libosmesa6`), or mujoco-rs's offscreen renderer in an EGL context (a GPU's
//! where there is one, else Mesa's software device), as `MUJOCO_GL=egl`.

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

/// The OpenGL context MuJoCo's renderer draws in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gl {
    /// OSMesa's software context (llvmpipe), our own.
    OsMesa,
    /// mujoco-rs's offscreen renderer in an EGL context.
    #[cfg(feature = "viewer")]
    Egl,
}

impl Gl {
    /// `METARL_GL` (`osmesa` or `egl`) where set; else EGL on a machine with a GPU render node
    /// (`/dev/nvidia0`, `/dev/dri/renderD*`) and OSMesa without one, where it draws faster than
    /// EGL's software device (BENCHMARKS.md, `metarl bench render`).
    pub fn from_env() -> Result<Gl, SimError> {
        match std::env::var("METARL_GL").ok().as_deref() {
            None | Some("") => Ok(Gl::default_here()),
            Some(name) => Gl::parse(name),
        }
    }

    pub fn parse(name: &str) -> Result<Gl, SimError> {
        match name {
            "osmesa" => Ok(Gl::OsMesa),
            #[cfg(feature = "viewer")]
            "egl" => Ok(Gl::Egl),
            other => Err(SimError::Render(format!("unknown OpenGL context {other:?} (METARL_GL): osmesa or egl"))),
        }
    }

    fn default_here() -> Gl {
        #[cfg(feature = "viewer")]
        {
            let render_nodes = std::fs::read_dir("/dev/dri").into_iter().flatten().flatten();
            let gpu = std::path::Path::new("/dev/nvidia0").exists()
                || render_nodes.into_iter().any(|node| node.file_name().to_string_lossy().starts_with("renderD"));
            if gpu {
                return Gl::Egl;
            }
        }
        Gl::OsMesa
    }
}

/// MuJoCo's scene and GL context objects in an OSMesa context.
struct OsMesaScene {
    // Field order is drop order: MuJoCo's GL objects go before the context they live in.
    context: Box<ffi::mjrContext>,
    scene: Box<ffi::mjvScene>,
    option: ffi::mjvOption,
    _gl: OsMesa,
}

impl Drop for OsMesaScene {
    fn drop(&mut self) {
        // SAFETY: both were made in `Renderer::with`, and are freed once, while the GL context
        // still exists.
        unsafe {
            ffi::mjr_freeContext(self.context.as_mut());
            ffi::mjv_freeScene(self.scene.as_mut());
        }
    }
}

enum Backend {
    OsMesa(OsMesaScene),
    #[cfg(feature = "viewer")]
    Egl(super::mirror::EglRenderer),
}

/// Renders a model's states to RGB images. It owns a GL context current on the thread that made
/// it, so it stays on that thread (it is neither `Send` nor `Sync`).
pub struct Renderer {
    backend: Backend,
    width: usize,
    height: usize,
    model: *const ffi::mjModel,
}

impl Renderer {
    /// A renderer of `width × height` images of `model` (at most its offscreen buffer's size,
    /// `<visual><global offwidth offheight>`, 640 × 480 unless the model says more), in the
    /// context [`Gl::from_env`] picks.
    pub fn new(model: &Model, width: usize, height: usize) -> Result<Renderer, SimError> {
        Renderer::with(Gl::from_env()?, model, width, height)
    }

    /// [`Renderer::new`] in the context `gl`.
    pub fn with(gl: Gl, model: &Model, width: usize, height: usize) -> Result<Renderer, SimError> {
        let global = &model.raw().vis.global;
        let (max_w, max_h) = (global.offwidth as usize, global.offheight as usize);
        if width == 0 || height == 0 || width > max_w || height > max_h {
            return Err(SimError::Render(format!("image size {width}×{height} is outside the model's offscreen buffer (1..={max_w} × 1..={max_h})")));
        }
        match gl {
            Gl::OsMesa => {}
            #[cfg(feature = "viewer")]
            Gl::Egl => {
                let backend = Backend::Egl(super::mirror::EglRenderer::new(model, width, height)?);
                return Ok(Renderer { backend, width, height, model: model.as_ptr() });
            }
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
            let scene = OsMesaScene { context, scene, option, _gl: gl };
            if scene.context.currentBuffer != ffi::mjFB_OFFSCREEN as c_int {
                return Err(SimError::Render("MuJoCo could not make its offscreen framebuffer".into()));
            }
            Ok(Renderer { backend: Backend::OsMesa(scene), width, height, model: model.as_ptr() })
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
        let scene = match &mut self.backend {
            Backend::OsMesa(scene) => scene,
            #[cfg(feature = "viewer")]
            Backend::Egl(egl) => return egl.render(model, data, camera),
        };
        // SAFETY: model and data belong together (checked above); mjv_updateScene only reads the
        // data despite its non-const signature; the scene, context and option were made for this
        // model; the pixel buffer holds width × height × 3 bytes.
        unsafe {
            let mut cam = free_or_fixed(model, camera)?;
            ffi::mjv_updateScene(model.as_ptr(), data.as_ptr() as *mut ffi::mjData, &scene.option, std::ptr::null(), &mut cam, ffi::mjCAT_ALL as c_int, scene.scene.as_mut());
            let rect = ffi::mjrRect { left: 0, bottom: 0, width: self.width as c_int, height: self.height as c_int };
            ffi::mjr_render(rect, scene.scene.as_mut(), scene.context.as_ref());
            let mut pixels = vec![0u8; 3 * self.width * self.height];
            ffi::mjr_readPixels(pixels.as_mut_ptr(), std::ptr::null_mut(), rect, scene.context.as_ref());
            Ok(top_row_first(&pixels, self.width))
        }
    }

    /// The model's camera names.
    pub fn cameras(model: &Model) -> Vec<String> {
        model.names(ObjType::Camera)
    }
}

/// `camera` as an mjvCamera of `model`.
fn free_or_fixed(model: &Model, camera: &Camera) -> Result<ffi::mjvCamera, SimError> {
    // SAFETY: mjvCamera is plain C data that the default functions initialise; a valid model.
    let mut cam: ffi::mjvCamera = unsafe { std::mem::zeroed() };
    match camera {
        // SAFETY: as above.
        Camera::Free => unsafe { ffi::mjv_defaultFreeCamera(model.as_ptr(), &mut cam) },
        Camera::Named(name) => {
            // SAFETY: as above.
            unsafe { ffi::mjv_defaultCamera(&mut cam) };
            cam.type_ = ffi::mjCAMERA_FIXED as c_int;
            cam.fixedcamid = model.id(ObjType::Camera, name)? as c_int;
        }
    }
    Ok(cam)
}

/// OpenGL's rows run bottom to top: the image with its top row first.
pub(super) fn top_row_first(pixels: &[u8], width: usize) -> Vec<u8> {
    pixels.chunks_exact(3 * width).rev().flatten().copied().collect()
}
