//! Copyable snapshots of the simulation (`mj_getState` / `mj_setState`): the full integration
//! state (mjSTATE_INTEGRATION: time, qpos, qvel, act, warm start, ctrl, applied forces, mocap,
//! ...), so a restored simulation continues bit-for-bit as the original would have; or only the
//! user inputs a step reads (mjSTATE_USER: ctrl, applied forces, mocap, equality flags, userdata).

use mujoco_sys as ffi;

use super::{Data, Model, SimError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Integration,
    Inputs,
}

impl Part {
    fn spec(self) -> ffi::mjtState_ {
        match self {
            Part::Integration => ffi::mjSTATE_INTEGRATION,
            Part::Inputs => ffi::mjSTATE_USER,
        }
    }

    fn size(self, model: &Model) -> usize {
        // SAFETY: valid model and a valid state specification.
        unsafe { ffi::mj_stateSize(model.as_ptr(), self.spec() as _) as usize }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    part: Part,
    values: Vec<f64>,
}

impl State {
    /// The numbers of the snapshot, in MuJoCo's order for its state specification.
    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }
}

impl Data {
    /// The full integration state.
    pub fn state(&self, model: &Model) -> Result<State, SimError> {
        self.snapshot(model, Part::Integration)
    }

    /// Only the user inputs the next `mj_step` reads (controls, applied forces, mocap poses).
    pub fn inputs(&self, model: &Model) -> Result<State, SimError> {
        self.snapshot(model, Part::Inputs)
    }

    fn snapshot(&self, model: &Model, part: Part) -> Result<State, SimError> {
        self.check_model(model)?;
        let mut values = vec![0.0; part.size(model)];
        // SAFETY: model and data belong together; the buffer has mj_stateSize elements.
        unsafe { ffi::mj_getState(model.as_ptr(), self.as_ptr(), values.as_mut_ptr(), part.spec() as _) };
        Ok(State { part, values })
    }

    /// Restore a snapshot. A full state is followed by `mj_forward`, so derived quantities (xpos,
    /// ...) match it; inputs are written as they are, for the next step to read.
    pub fn set_state(&mut self, model: &Model, state: &State) -> Result<(), SimError> {
        self.check_model(model)?;
        let expected = state.part.size(model);
        if state.values.len() != expected {
            return Err(SimError::StateSize { expected, found: state.values.len() });
        }
        // SAFETY: model and data belong together; the buffer has mj_stateSize elements.
        unsafe { ffi::mj_setState(model.as_ptr(), self.as_mut_ptr(), state.values.as_ptr(), state.part.spec() as _) };
        match state.part {
            Part::Integration => self.forward(model),
            Part::Inputs => Ok(()),
        }
    }
}
