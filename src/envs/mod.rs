//! Environments and their task families (DESIGN.md, Environments).

pub mod np_random;
