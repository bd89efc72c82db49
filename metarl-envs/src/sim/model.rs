//! `Model` (mjModel) and `Data` (mjData) with ownership, name lookup and field slices.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Instant;

use mujoco_sys as ffi;

use super::{init, SimError};
use crate::suggest::closest_match;

/// Sizes of the compiled model; they never change, so `Data` keeps a copy to size its slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sizes {
    nq: usize,
    nv: usize,
    nu: usize,
    na: usize,
    nbody: usize,
    njnt: usize,
    ngeom: usize,
    nsite: usize,
    nmocap: usize,
    neq: usize,
    nsensordata: usize,
    nuserdata: usize,
    /// Length of `eq_data`: neq × mjNEQDATA.
    neq_data: usize,
}

impl Sizes {
    fn of(m: &ffi::mjModel) -> Self {
        Sizes {
            nq: m.nq as usize,
            nv: m.nv as usize,
            nu: m.nu as usize,
            na: m.na as usize,
            nbody: m.nbody as usize,
            njnt: m.njnt as usize,
            ngeom: m.ngeom as usize,
            nsite: m.nsite as usize,
            nmocap: m.nmocap as usize,
            neq: m.neq as usize,
            nsensordata: m.nsensordata as usize,
            nuserdata: m.nuserdata as usize,
            neq_data: m.neq as usize * ffi::mjNEQDATA as usize,
        }
    }
}

/// Kinds of named MuJoCo objects (mjtObj) that envs look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjType {
    Body,
    Joint,
    Geom,
    Site,
    Actuator,
    Sensor,
    Camera,
}

impl ObjType {
    fn raw(self) -> c_int {
        (match self {
            ObjType::Body => ffi::mjOBJ_BODY,
            ObjType::Joint => ffi::mjOBJ_JOINT,
            ObjType::Geom => ffi::mjOBJ_GEOM,
            ObjType::Site => ffi::mjOBJ_SITE,
            ObjType::Actuator => ffi::mjOBJ_ACTUATOR,
            ObjType::Sensor => ffi::mjOBJ_SENSOR,
            ObjType::Camera => ffi::mjOBJ_CAMERA,
        }) as c_int
    }

    fn label(self) -> &'static str {
        match self {
            ObjType::Body => "body",
            ObjType::Joint => "joint",
            ObjType::Geom => "geom",
            ObjType::Site => "site",
            ObjType::Actuator => "actuator",
            ObjType::Sensor => "sensor",
            ObjType::Camera => "camera",
        }
    }
}

/// Borrow `len` elements at `ptr`; MuJoCo leaves pointers of empty arrays null.
///
/// SAFETY: when `len > 0`, `ptr` must point at `len` initialised elements that live as long as
/// the borrow of their owner.
unsafe fn raw_slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if len == 0 { &[] } else { std::slice::from_raw_parts(ptr, len) }
}

/// Mutable twin of `raw_slice`, with the same contract.
unsafe fn raw_slice_mut<'a, T>(ptr: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 { &mut [] } else { std::slice::from_raw_parts_mut(ptr, len) }
}

/// Slice accessors `field()` (and `field_mut()`) over an array of the owned C struct, whose
/// length is one of the model sizes times a constant.
macro_rules! arrays {
    ($( $field:ident $(/ $field_mut:ident)? : $ty:ty = $size:ident * $width:literal; )*) => {
        $(
            #[doc = concat!("`", stringify!($field), "`: ", stringify!($size), " × ", stringify!($width), ".")]
            pub fn $field(&self) -> &[$ty] {
                // SAFETY: MuJoCo allocates this array with exactly this many elements, and it lives
                // as long as `self`.
                unsafe { raw_slice(self.raw().$field, self.sizes.$size * $width) }
            }
            $(
                pub fn $field_mut(&mut self) -> &mut [$ty] {
                    // SAFETY: as above, and `&mut self` makes the borrow exclusive.
                    unsafe { raw_slice_mut(self.raw().$field, self.sizes.$size * $width) }
                }
            )?
        )*
    };
}

/// A compiled MuJoCo model (mjModel).
pub struct Model {
    ptr: NonNull<ffi::mjModel>,
    sizes: Sizes,
}

// SAFETY: an mjModel is a plain heap block owned by this value; MuJoCo keeps no thread-local state
// tied to it.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

const ERROR_CAPACITY: usize = 1024;

fn error_text(buffer: &[c_char]) -> String {
    // SAFETY: MuJoCo writes a NUL-terminated string into the buffer (it is zeroed beforehand).
    unsafe { CStr::from_ptr(buffer.as_ptr()) }.to_string_lossy().trim().to_owned()
}

impl Model {
    /// Load and compile an MJCF file; its includes and meshes resolve relative to it.
    pub fn from_xml_path(path: impl AsRef<Path>) -> Result<Self, SimError> {
        let path = path.as_ref();
        let source_name = path.display().to_string();
        init()?;
        if !path.is_file() {
            return Err(SimError::Load { source_name, message: "no such file".into() });
        }
        let c_path = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| SimError::Load { source_name: source_name.clone(), message: "path contains NUL".into() })?;
        let mut error = vec![0 as c_char; ERROR_CAPACITY];
        // SAFETY: valid NUL-terminated path, no VFS, an error buffer of the stated size.
        let raw = unsafe {
            ffi::mj_loadXML(c_path.as_ptr(), std::ptr::null(), error.as_mut_ptr(), ERROR_CAPACITY as c_int)
        };
        Self::wrap(raw, source_name, &error)
    }

    /// Compile an MJCF document held in memory; file references resolve against the working
    /// directory, so use `from_xml_path` for models with meshes.
    pub fn from_xml_str(xml: &str) -> Result<Self, SimError> {
        let source_name = "<xml string>".to_string();
        init()?;
        let c_xml = CString::new(xml)
            .map_err(|_| SimError::Load { source_name: source_name.clone(), message: "XML contains NUL".into() })?;
        let mut error = vec![0 as c_char; ERROR_CAPACITY];
        // SAFETY: valid NUL-terminated XML; the spec is freed below on every path.
        unsafe {
            let spec = ffi::mj_parseXMLString(c_xml.as_ptr(), std::ptr::null(), error.as_mut_ptr(), ERROR_CAPACITY as c_int);
            if spec.is_null() {
                return Self::wrap(std::ptr::null_mut(), source_name, &error);
            }
            let raw = ffi::mj_compile(spec, std::ptr::null());
            if raw.is_null() {
                let message = CStr::from_ptr(ffi::mjs_getError(spec)).to_string_lossy().trim().to_owned();
                ffi::mj_deleteSpec(spec);
                return Err(SimError::Load { source_name, message });
            }
            ffi::mj_deleteSpec(spec);
            Self::wrap(raw, source_name, &error)
        }
    }

    fn wrap(raw: *mut ffi::mjModel, source_name: String, error: &[c_char]) -> Result<Self, SimError> {
        match NonNull::new(raw) {
            // SAFETY: a non-null model returned by MuJoCo's loader, now owned by us.
            Some(ptr) => Ok(Model { sizes: Sizes::of(unsafe { ptr.as_ref() }), ptr }),
            None => Err(SimError::Load { source_name, message: error_text(error) }),
        }
    }

    pub(super) fn raw(&self) -> &ffi::mjModel {
        // SAFETY: the pointer is valid for the life of `self`.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn as_ptr(&self) -> *const ffi::mjModel {
        self.ptr.as_ptr()
    }

    pub fn nq(&self) -> usize { self.sizes.nq }
    pub fn nv(&self) -> usize { self.sizes.nv }
    pub fn nu(&self) -> usize { self.sizes.nu }
    pub fn na(&self) -> usize { self.sizes.na }
    pub fn nbody(&self) -> usize { self.sizes.nbody }
    pub fn njnt(&self) -> usize { self.sizes.njnt }
    pub fn ngeom(&self) -> usize { self.sizes.ngeom }
    pub fn nsite(&self) -> usize { self.sizes.nsite }
    pub fn nmocap(&self) -> usize { self.sizes.nmocap }

    /// `opt.timestep`, seconds per `mj_step`.
    pub fn timestep(&self) -> f64 {
        self.raw().opt.timestep
    }

    pub fn set_timestep(&mut self, dt: f64) {
        // SAFETY: exclusive access; a plain field write.
        unsafe { self.ptr.as_mut().opt.timestep = dt }
    }

    /// `mj_name2id`, with the closest existing name suggested when there is none.
    pub fn id(&self, kind: ObjType, name: &str) -> Result<usize, SimError> {
        let found = CString::new(name).ok().map(|c_name| {
            // SAFETY: valid model and NUL-terminated name.
            unsafe { ffi::mj_name2id(self.as_ptr(), kind.raw(), c_name.as_ptr()) }
        });
        match found {
            Some(id) if id >= 0 => Ok(id as usize),
            _ => Err(SimError::UnknownName {
                kind: kind.label(),
                name: name.to_owned(),
                suggestion: closest_match(name, self.names(kind).iter().map(String::as_str)),
            }),
        }
    }

    /// `mj_id2name` for `id`, or None for an unnamed object.
    pub fn name(&self, kind: ObjType, id: usize) -> Option<String> {
        // SAFETY: valid model; MuJoCo bounds-checks the id and returns null when out of range.
        let ptr = unsafe { ffi::mj_id2name(self.as_ptr(), kind.raw(), id as c_int) };
        // SAFETY: a non-null result points into the model's NUL-terminated name buffer.
        (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned())
    }

    /// All names of one kind, in id order (unnamed objects skipped).
    pub fn names(&self, kind: ObjType) -> Vec<String> {
        let m = self.raw();
        let count = match kind {
            ObjType::Body => m.nbody,
            ObjType::Joint => m.njnt,
            ObjType::Geom => m.ngeom,
            ObjType::Site => m.nsite,
            ObjType::Actuator => m.nu,
            ObjType::Sensor => m.nsensor,
            ObjType::Camera => m.ncam,
        } as usize;
        (0..count).filter_map(|id| self.name(kind, id)).filter(|n| !n.is_empty()).collect()
    }

    pub fn body_id(&self, name: &str) -> Result<usize, SimError> { self.id(ObjType::Body, name) }
    pub fn joint_id(&self, name: &str) -> Result<usize, SimError> { self.id(ObjType::Joint, name) }
    pub fn geom_id(&self, name: &str) -> Result<usize, SimError> { self.id(ObjType::Geom, name) }
    pub fn site_id(&self, name: &str) -> Result<usize, SimError> { self.id(ObjType::Site, name) }
    pub fn actuator_id(&self, name: &str) -> Result<usize, SimError> { self.id(ObjType::Actuator, name) }

    arrays! {
        qpos0: f64 = nq * 1;
        body_mass / body_mass_mut: f64 = nbody * 1;
        body_inertia / body_inertia_mut: f64 = nbody * 3;
        body_pos / body_pos_mut: f64 = nbody * 3;
        body_quat / body_quat_mut: f64 = nbody * 4;
        body_mocapid: c_int = nbody * 1;
        jnt_type: c_int = njnt * 1;
        jnt_qposadr: c_int = njnt * 1;
        jnt_dofadr: c_int = njnt * 1;
        jnt_range / jnt_range_mut: f64 = njnt * 2;
        dof_damping / dof_damping_mut: f64 = nv * 1;
        dof_armature: f64 = nv * 1;
        dof_frictionloss / dof_frictionloss_mut: f64 = nv * 1;
        dof_invweight0: f64 = nv * 1;
        body_invweight0: f64 = nbody * 2;
        geom_friction / geom_friction_mut: f64 = ngeom * 3;
        geom_size: f64 = ngeom * 3;
        geom_pos / geom_pos_mut: f64 = ngeom * 3;
        geom_rbound: f64 = ngeom * 1;
        site_pos / site_pos_mut: f64 = nsite * 3;
        actuator_gear / actuator_gear_mut: f64 = nu * 6;
        actuator_ctrlrange: f64 = nu * 2;
        eq_type: c_int = neq * 1;
        eq_data / eq_data_mut: f64 = neq_data * 1;
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: we own the model and drop it once.
        unsafe { ffi::mj_deleteModel(self.ptr.as_ptr()) }
    }
}

impl Clone for Model {
    /// `mj_copyModel`: an independent model, e.g. one per task with randomised parameters.
    fn clone(&self) -> Self {
        // SAFETY: a null destination asks MuJoCo to allocate the copy.
        let raw = unsafe { ffi::mj_copyModel(std::ptr::null_mut(), self.as_ptr()) };
        Model { ptr: NonNull::new(raw).expect("mj_copyModel allocates or aborts"), sizes: self.sizes }
    }
}

/// One active contact (mjContact): its two geoms and its first row in the `efc_*` arrays
/// (-1 when the contact is excluded from the constraint solver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact {
    pub geom1: c_int,
    pub geom2: c_int,
    pub efc_address: c_int,
}

/// Simulation state (mjData) made from one `Model`.
pub struct Data {
    ptr: NonNull<ffi::mjData>,
    sizes: Sizes,
    model: *const ffi::mjModel,
}

// SAFETY: an mjData is a heap block owned by this value; `model` is only compared, never read.
unsafe impl Send for Data {}

impl Data {
    /// `mj_makeData`, then `mj_forward` so positions are valid before the first step.
    pub fn new(model: &Model) -> Self {
        // SAFETY: valid model; MuJoCo allocates the data or aborts through its error handler.
        let raw = unsafe { ffi::mj_makeData(model.as_ptr()) };
        let mut data = Data { ptr: NonNull::new(raw).expect("mj_makeData allocates or aborts"), sizes: model.sizes, model: model.as_ptr() };
        data.forward(model).expect("data was made from this model");
        data
    }

    fn raw(&self) -> &ffi::mjData {
        // SAFETY: the pointer is valid for the life of `self`.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut ffi::mjData {
        self.ptr.as_ptr()
    }

    /// For readers that take MuJoCo's non-const `mjData*` but only read it (`mjv_updateScene`).
    pub(super) fn as_ptr(&self) -> *const ffi::mjData {
        self.ptr.as_ptr()
    }

    pub(crate) fn check_model(&self, model: &Model) -> Result<(), SimError> {
        if std::ptr::eq(self.model, model.as_ptr()) { Ok(()) } else { Err(SimError::ModelMismatch) }
    }

    /// `n` calls of `mj_step` (the frame skip of an env step); they and the time they take are
    /// counted in this thread's [`physics_steps`](super::physics_steps) and
    /// [`physics_time`](super::physics_time).
    pub fn step(&mut self, model: &Model, n: usize) -> Result<(), SimError> {
        self.check_model(model)?;
        let start = Instant::now();
        for _ in 0..n {
            // SAFETY: model and data belong together (checked above).
            unsafe { ffi::mj_step(model.as_ptr(), self.as_mut_ptr()) }
        }
        super::add_physics(start.elapsed(), n as u64);
        Ok(())
    }

    /// `mj_forward`: positions, velocities and forces from the current state, no integration.
    pub fn forward(&mut self, model: &Model) -> Result<(), SimError> {
        self.check_model(model)?;
        // SAFETY: model and data belong together.
        unsafe { ffi::mj_forward(model.as_ptr(), self.as_mut_ptr()) };
        Ok(())
    }

    /// The position stage of `mj_forward` without collision: `mj_kinematics`, `mj_comPos` and
    /// `mj_camlight` (body, geom, site, camera and light poses; centres of mass), the same numbers
    /// `mj_forward` gives them. Contacts, constraint forces and accelerations are left as they were.
    pub fn positions(&mut self, model: &Model) -> Result<(), SimError> {
        self.check_model(model)?;
        // SAFETY: model and data belong together.
        unsafe {
            ffi::mj_kinematics(model.as_ptr(), self.as_mut_ptr());
            ffi::mj_comPos(model.as_ptr(), self.as_mut_ptr());
            ffi::mj_camlight(model.as_ptr(), self.as_mut_ptr());
        }
        Ok(())
    }

    /// `mj_rnePostConstraint`: fills `cacc`, `cfc_int` and `cfrc_ext` (contact and constraint
    /// forces on each body). MuJoCo ≥ 2 computes them only for models with force sensors; MuJoCo
    /// 1.5, which the Controls references ran on, computed them in every forward pass.
    pub fn rne_post_constraint(&mut self, model: &Model) -> Result<(), SimError> {
        self.check_model(model)?;
        // SAFETY: model and data belong together.
        unsafe { ffi::mj_rnePostConstraint(model.as_ptr(), self.as_mut_ptr()) };
        Ok(())
    }

    /// `mj_resetData`: qpos = qpos0, everything else zero; then `mj_forward`.
    pub fn reset(&mut self, model: &Model) -> Result<(), SimError> {
        self.check_model(model)?;
        // SAFETY: model and data belong together.
        unsafe { ffi::mj_resetData(model.as_ptr(), self.as_mut_ptr()) };
        self.forward(model)
    }

    pub fn time(&self) -> f64 {
        self.raw().time
    }

    /// Number of active contacts after the last step or forward.
    pub fn ncon(&self) -> usize {
        self.raw().ncon as usize
    }

    /// The active contacts (`contact[0..ncon]`).
    pub fn contacts(&self) -> impl Iterator<Item = Contact> + '_ {
        // SAFETY: MuJoCo keeps `ncon` initialised contacts in the arena; they live as long as `self`.
        let contacts = unsafe { raw_slice(self.raw().contact, self.ncon()) };
        contacts.iter().map(|c| Contact { geom1: c.geom1, geom2: c.geom2, efc_address: c.efc_address })
    }

    /// Number of constraint rows after the last step or forward.
    pub fn nefc(&self) -> usize {
        self.raw().nefc as usize
    }

    /// `efc_force`: the force of each of the `nefc` constraint rows.
    pub fn efc_force(&self) -> &[f64] {
        // SAFETY: MuJoCo allocates `nefc` rows in the arena; they live as long as `self`.
        unsafe { raw_slice(self.raw().efc_force, self.nefc()) }
    }

    arrays! {
        qpos / qpos_mut: f64 = nq * 1;
        qvel / qvel_mut: f64 = nv * 1;
        qacc: f64 = nv * 1;
        ctrl / ctrl_mut: f64 = nu * 1;
        act / act_mut: f64 = na * 1;
        qfrc_applied / qfrc_applied_mut: f64 = nv * 1;
        xfrc_applied / xfrc_applied_mut: f64 = nbody * 6;
        mocap_pos / mocap_pos_mut: f64 = nmocap * 3;
        mocap_quat / mocap_quat_mut: f64 = nmocap * 4;
        userdata / userdata_mut: f64 = nuserdata * 1;
        qfrc_actuator: f64 = nv * 1;
        actuator_force: f64 = nu * 1;
        sensordata: f64 = nsensordata * 1;
        xpos: f64 = nbody * 3;
        xquat: f64 = nbody * 4;
        xmat: f64 = nbody * 9;
        xipos: f64 = nbody * 3;
        subtree_com: f64 = nbody * 3;
        cinert: f64 = nbody * 10;
        cvel: f64 = nbody * 6;
        cfrc_ext: f64 = nbody * 6;
        geom_xpos: f64 = ngeom * 3;
        geom_xmat: f64 = ngeom * 9;
        site_xpos: f64 = nsite * 3;
        site_xmat: f64 = nsite * 9;
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: we own the data and drop it once.
        unsafe { ffi::mj_deleteData(self.ptr.as_ptr()) }
    }
}
