//! The metarl binary as the learning tests run it: in reproducible numerics, so each learning
//! assertion gives the same verdict on every machine (README, Numerics).

use std::process::Command;

pub fn metarl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_metarl"));
    command.env("METARL_NUMERICS", "reproducible");
    command
}
