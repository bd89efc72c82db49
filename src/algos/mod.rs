//! Learners. The SAC core is shared; PEARL adds the context encoder; oracle SAC feeds z from the
//! task family's ground truth.

pub mod pearl;
pub mod sac;
