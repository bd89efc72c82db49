//! Copyable snapshots of the full integration state (`mj_getState` / `mj_setState` with
//! mjSTATE_INTEGRATION: time, qpos, qvel, act, warm start, ctrl, applied forces, mocap, ...),
//! so a restored simulation continues bit-for-bit as the original would have.

use mujoco_sys as ffi;

use super::{Data, Model, SimError};

const SPEC: ffi::mjtState_ = ffi::mjSTATE_INTEGRATION;

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    values: Vec<f64>,
}

impl State {
    /// The numbers of the snapshot, in MuJoCo's mjSTATE_INTEGRATION order.
    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }
}

fn state_size(model: &Model) -> usize {
    // SAFETY: valid model and a valid state specification.
    unsafe { ffi::mj_stateSize(model.as_ptr(), SPEC as _) as usize }
}

impl Data {
    pub fn state(&mut self, model: &Model) -> Result<State, SimError> {
        self.check_model(model)?;
        let mut values = vec![0.0; state_size(model)];
        // SAFETY: model and data belong together; the buffer has mj_stateSize elements.
        unsafe { ffi::mj_getState(model.as_ptr(), self.as_mut_ptr(), values.as_mut_ptr(), SPEC as _) };
        Ok(State { values })
    }

    /// Restore a snapshot, then `mj_forward` so derived quantities (xpos, ...) match it.
    pub fn set_state(&mut self, model: &Model, state: &State) -> Result<(), SimError> {
        self.check_model(model)?;
        let expected = state_size(model);
        if state.values.len() != expected {
            return Err(SimError::StateSize { expected, found: state.values.len() });
        }
        // SAFETY: model and data belong together; the buffer has mj_stateSize elements.
        unsafe { ffi::mj_setState(model.as_ptr(), self.as_mut_ptr(), state.values.as_ptr(), SPEC as _) };
        self.forward(model)
    }
}
