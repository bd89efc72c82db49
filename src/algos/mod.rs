//! Learners. The SAC core is shared; PEARL adds the context encoder; oracle SAC feeds z from the
//! task family's ground truth; TCL-PEARL and CoCOA add a contrastive loss on PEARL's encoder.

pub mod contrastive;
pub mod pearl;
pub mod sac;
