//! A copy of one of our models as mujoco-rs holds models, for mujoco-rs's viewer and its EGL
//! renderer: made from the model's MJB image, rewritten in place (`mj_copyModel`) when the model
//! changes, with its data copied from ours (`mj_copyData`).

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use mujoco_rs::prelude::{MjData, MjModel, MjvCamera};
use mujoco_rs::renderer::MjRenderer;
use mujoco_sys as ffi;

use super::render::{top_row_first, Camera};
use super::{Data, Model, ObjType, SimError};

/// mujoco-rs's front ends hold clones and borrow the model only while they draw; the copy is
/// rewritten between frames, on the thread that owns it (the type is neither Send nor Sync).
#[derive(Clone)]
pub(crate) struct Mirror {
    model: Rc<UnsafeCell<MjModel>>,
    /// The model last copied in, and its MJB size (the same for every model of one MJCF structure).
    source: Rc<UnsafeCell<(*const ffi::mjModel, usize)>>,
}

impl Deref for Mirror {
    type Target = MjModel;

    fn deref(&self) -> &MjModel {
        // SAFETY: the only writer is `copy_model`, which runs between frames, when no borrow
        // handed out here is alive.
        unsafe { &*self.model.get() }
    }
}

fn mjb_size(model: &Model) -> usize {
    // SAFETY: a valid model.
    unsafe { ffi::mj_sizeModel(model.as_ptr()) as usize }
}

impl Mirror {
    pub(crate) fn of(model: &Model) -> Result<Mirror, SimError> {
        let size = mjb_size(model);
        let mut image = vec![0u8; size];
        // SAFETY: a valid model; the buffer holds mj_sizeModel bytes, which mj_saveModel fills.
        unsafe { ffi::mj_saveModel(model.as_ptr(), std::ptr::null(), image.as_mut_ptr() as *mut c_void, size as i32) };
        let copy = MjModel::from_buffer(&image).map_err(|e| SimError::Render(format!("mujoco-rs cannot load the model: {e}")))?;
        Ok(Mirror { model: Rc::new(UnsafeCell::new(copy)), source: Rc::new(UnsafeCell::new((model.as_ptr(), size))) })
    }

    /// Whether `model` is the one last copied in.
    pub(crate) fn mirrors(&self, model: &Model) -> bool {
        // SAFETY: read on the owning thread; written only by `copy_model`.
        std::ptr::eq(unsafe { (*self.source.get()).0 }, model.as_ptr())
    }

    /// Copy `model` in: another task's edits, or another compiled model of the same structure.
    pub(crate) fn copy_model(&self, model: &Model) -> Result<(), SimError> {
        let size = mjb_size(model);
        // SAFETY: as in `deref`: no frame is being drawn; both models have the same sizes (same
        // MJB size from the same MJCF structure), as mj_copyModel into an existing model requires;
        // mujoco-rs's mjModel is MuJoCo 3.3.7's struct, as ours.
        unsafe {
            let source = &mut *self.source.get();
            if size != source.1 {
                return Err(SimError::Render(format!("the model changed size ({} → {size} bytes)", source.1)));
            }
            let target = (*self.model.get()).ffi_mut() as *mut _ as *mut ffi::mjModel;
            ffi::mj_copyModel(target, model.as_ptr());
            *source = (model.as_ptr(), size);
        }
        Ok(())
    }

    /// Copy `data` (of `model`, the model last copied in) into `target`, made for this mirror.
    pub(crate) fn copy_data(&self, target: &mut MjData<Mirror>, model: &Model, data: &Data) -> Result<(), SimError> {
        data.check_model(model)?;
        if !self.mirrors(model) {
            return Err(SimError::ModelMismatch);
        }
        // SAFETY: `target` was made for the mirror, which has `model`'s sizes; mj_copyData reads
        // `data` (of `model`) and writes every array of `target`.
        unsafe { ffi::mj_copyData(target.ffi_mut() as *mut _ as *mut ffi::mjData, model.as_ptr(), data.as_ptr()) };
        Ok(())
    }
}

/// mujoco-rs's offscreen renderer (MuJoCo's renderer in an EGL context) on a mirror of a model.
pub(crate) struct EglRenderer {
    renderer: MjRenderer<Mirror>,
    mirror: Mirror,
    data: MjData<Mirror>,
    width: usize,
}

impl EglRenderer {
    pub(crate) fn new(model: &Model, width: usize, height: usize) -> Result<EglRenderer, SimError> {
        let mirror = Mirror::of(model)?;
        let unavailable = |why: String| SimError::Render(format!("no EGL context ({why}); Debian: apt-get install libegl1 libegl-mesa0, or METARL_GL=osmesa"));
        // mujoco-rs panics where it cannot make a context current; say so in one line instead.
        let built = std::panic::catch_unwind(AssertUnwindSafe(|| MjRenderer::builder().width(width as u32).height(height as u32).build(mirror.clone())));
        let renderer = match built {
            Ok(Ok(renderer)) => renderer,
            Ok(Err(e)) => return Err(unavailable(e.to_string())),
            Err(_) => return Err(unavailable("mujoco-rs could not make it current".into())),
        };
        let data = MjData::new(mirror.clone());
        Ok(EglRenderer { renderer, mirror, data, width })
    }

    pub(crate) fn render(&mut self, model: &Model, data: &Data, camera: &Camera) -> Result<Vec<u8>, SimError> {
        // The env may have edited its model since the last frame (Meta-World's goal bodies).
        self.mirror.copy_model(model)?;
        self.mirror.copy_data(&mut self.data, model, data)?;
        self.renderer.set_camera(match camera {
            Camera::Free => MjvCamera::new_free(&self.mirror),
            Camera::Named(name) => MjvCamera::new_fixed(model.id(ObjType::Camera, name)? as u32),
        });
        self.renderer.sync(&mut self.data);
        let rgb = self.renderer.rgb_flat().ok_or_else(|| SimError::Render("mujoco-rs drew no RGB image".into()))?;
        Ok(top_row_first(rgb, self.width))
    }
}
