//! Which CPU kernels libtorch may use, and what a run records about the machine it ran on.
//!
//! libtorch picks its CPU kernels at run time from the instructions the CPU has: ATen's
//! vectorised element-wise ops (scalar, AVX2 or AVX-512 builds of each kernel), MKL's BLAS (one
//! code path per ISA and, historically, per vendor) and oneDNN. Each path sums in its own order,
//! so in `fast` mode the same seed gives the same bits only on the same CPU model. In
//! `reproducible` mode the process pins every library to an ISA-independent path before libtorch
//! runs its first op: ATen's scalar (`default`) kernels, MKL's conditional numerical
//! reproducibility at its `COMPATIBLE` branch (SSE2 code, the same on Intel and AMD), and
//! oneDNN capped at SSE4.1. A seed then gives the same bits on any x86-64 CPU with AVX2 and FMA
//! (glibc's libm and MuJoCo choose their code by those two; every CPU of the last decade has
//! both), at the cost `metarl bench train` measures (README, Numerics).

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Chosen by `--numerics`, else by `METARL_NUMERICS`, else by the command (reproducible for
/// `regress` and `numerics`, fast for the rest).
pub const ENV_VAR: &str = "METARL_NUMERICS";

/// The library settings of reproducible mode (each library reads its variable on first use).
pub const REPRODUCIBLE_SETTINGS: &[(&str, &str)] = &[("ATEN_CPU_CAPABILITY", "default"), ("MKL_CBWR", "COMPATIBLE"), ("ONEDNN_MAX_CPU_ISA", "SSE41")];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Numerics {
    /// ISA-independent kernels: the same seed gives the same bits on any x86-64 machine.
    Reproducible,
    /// The fastest kernels the CPU has: the same bits on the same CPU model only.
    Fast,
}

impl Numerics {
    pub fn name(self) -> &'static str {
        match self {
            Numerics::Reproducible => "reproducible",
            Numerics::Fast => "fast",
        }
    }

    pub fn parse(name: &str) -> Result<Numerics> {
        match name {
            "reproducible" => Ok(Numerics::Reproducible),
            "fast" => Ok(Numerics::Fast),
            other => bail!("{ENV_VAR}={other:?}: use reproducible or fast"),
        }
    }
}

static ACTIVE: OnceLock<Numerics> = OnceLock::new();

/// Sets the process's numerics: `choice`, else `METARL_NUMERICS`, else `default`. Call it
/// before libtorch runs an op (the first thing `main` does); the mode passes on to the child
/// processes `regress` and campaigns start. A second call must ask for the same mode.
pub fn apply(choice: Option<Numerics>, default: Numerics) -> Result<Numerics> {
    let from_env = std::env::var(ENV_VAR).ok().filter(|v| !v.is_empty()).map(|v| Numerics::parse(&v)).transpose()?;
    let mode = choice.or(from_env).unwrap_or(default);
    let active = *ACTIVE.get_or_init(|| {
        if mode == Numerics::Reproducible {
            for (name, value) in REPRODUCIBLE_SETTINGS {
                std::env::set_var(name, value);
            }
        }
        std::env::set_var(ENV_VAR, mode.name());
        mode
    });
    if active != mode {
        bail!("numerics are already {} in this process; {} cannot be set after libtorch has started", active.name(), mode.name());
    }
    Ok(active)
}

/// The mode [`apply`] set (fast, libtorch's own choice, if it was never called).
pub fn active() -> Numerics {
    ACTIVE.get().copied().unwrap_or(Numerics::Fast)
}

/// The machine and kernels a run's numbers came from (a run folder's `machine.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    /// The widest vector ISA the CPU has: avx512, avx2 or sse.
    pub isa: String,
    pub numerics: Numerics,
    /// The kernels libtorch was allowed, e.g. "ATen default, MKL COMPATIBLE, oneDNN SSE41".
    pub kernels: String,
    pub torch_threads: i32,
}

impl Machine {
    pub fn current() -> Machine {
        let numerics = active();
        Machine { cpu: cpu_model(), isa: widest_isa().into(), numerics, kernels: kernels(numerics), torch_threads: tch::get_num_threads() }
    }

    /// Why numbers recorded on `recorded` may not be reproduced here, or None when they are
    /// (same mode and, in fast mode, the same CPU model and kernels).
    pub fn mismatch(&self, recorded: &Machine) -> Option<String> {
        if recorded.numerics != self.numerics {
            return Some(format!("recorded in {} numerics, running in {}: the numbers will differ (rerun with --numerics {})", recorded.numerics.name(), self.numerics.name(), recorded.numerics.name()));
        }
        let same_kernels = recorded.kernels == self.kernels && recorded.torch_threads == self.torch_threads;
        if same_kernels && self.reproduces(recorded.numerics, &recorded.cpu) {
            return None;
        }
        Some(format!(
            "recorded on {} ({}, {} numerics, {}), running on {} ({}, {}): the numbers may differ in the last bits and then diverge",
            recorded.cpu, recorded.isa, recorded.numerics.name(), recorded.kernels, self.cpu, self.isa, self.kernels
        ))
    }

    /// Whether numbers recorded in `numerics` on `cpu` come out bit for bit here: in the same
    /// mode, and in fast mode on the same CPU model.
    pub fn reproduces(&self, numerics: Numerics, cpu: &str) -> bool {
        numerics == self.numerics && (numerics == Numerics::Reproducible || cpu == self.cpu)
    }

    pub fn write(&self, run_dir: &Path) -> Result<()> {
        crate::results::write_atomic(&run_dir.join(MACHINE_FILE), serde_json::to_string_pretty(self)?.as_bytes())
    }

    /// The machine a run folder recorded, if it did.
    pub fn recorded(run_dir: &Path) -> Option<Machine> {
        serde_json::from_slice(&std::fs::read(run_dir.join(MACHINE_FILE)).ok()?).ok()
    }
}

/// `metarl numerics`: gradient steps per fingerprint, and the fingerprints reproducible mode
/// gives on every machine checked (README, Numerics). They hash the update's results too: a
/// change to PEARL's or TCL's update step changes them, and they are re-recorded with it.
pub const FINGERPRINT_STEPS: usize = 5;
pub const REPRODUCIBLE_FINGERPRINTS: &[(&str, &str)] = &[
    ("pearl", "d9cde73af91fee94294d25948c6d333d8bb3b8fe55dbcbd9b1d7dcc83b35c0a2"),
    ("tcl", "39c3460e8dc93e87ea0af2353402b5fc5f42855466b8444e8de59dff583d14c2"),
];

pub const MACHINE_FILE: &str = "machine.json";

/// A warning when `run_dir`'s recorded machine differs from this one in a way that changes
/// numbers (for eval, resume and render of a checkpoint).
pub fn warn_if_other_machine(run_dir: &Path) {
    if let Some(why) = Machine::recorded(run_dir).and_then(|recorded| Machine::current().mismatch(&recorded)) {
        tracing::warn!("{}: {why}", run_dir.display());
    }
}

fn cpu_model() -> String {
    cpuinfo("model name").unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// A field of /proc/cpuinfo's first CPU, e.g. "vendor_id" → "GenuineIntel".
pub fn cpuinfo(field: &str) -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines().find_map(|l| l.strip_prefix(field).and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()))
}

fn widest_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return "avx2";
        }
        "sse"
    }
    #[cfg(not(target_arch = "x86_64"))]
    std::env::consts::ARCH
}

/// The kernels each library may use: in fast mode the CPU's widest ISA unless a library's own
/// variable narrows it.
fn kernels(numerics: Numerics) -> String {
    let setting = |name: &str, otherwise: &str| std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| otherwise.to_owned());
    let isa = widest_isa();
    match numerics {
        Numerics::Reproducible => REPRODUCIBLE_SETTINGS.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(" "),
        Numerics::Fast => format!(
            "ATEN_CPU_CAPABILITY={} MKL_CBWR={} MKL_ENABLE_INSTRUCTIONS={} ONEDNN_MAX_CPU_ISA={}",
            setting("ATEN_CPU_CAPABILITY", isa),
            setting("MKL_CBWR", "auto"),
            setting("MKL_ENABLE_INSTRUCTIONS", isa),
            setting("ONEDNN_MAX_CPU_ISA", isa)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(cpu: &str, numerics: Numerics, kernels: &str) -> Machine {
        Machine { cpu: cpu.into(), isa: "avx2".into(), numerics, kernels: kernels.into(), torch_threads: 1 }
    }

    #[test]
    fn a_reproducible_record_matches_any_cpu_and_a_fast_one_only_its_own() {
        let repro = |cpu| machine(cpu, Numerics::Reproducible, "pinned");
        assert_eq!(repro("AMD EPYC 7B13").mismatch(&repro("Intel Xeon")), None);
        let fast = |cpu| machine(cpu, Numerics::Fast, "ATEN_CPU_CAPABILITY=avx2");
        assert_eq!(fast("Intel Xeon").mismatch(&fast("Intel Xeon")), None);
        let other_cpu = fast("AMD EPYC 7B13").mismatch(&fast("Intel Xeon")).unwrap();
        assert!(other_cpu.contains("recorded on Intel Xeon") && other_cpu.contains("running on AMD EPYC 7B13"), "{other_cpu}");
        let other_mode = repro("Intel Xeon").mismatch(&fast("Intel Xeon")).unwrap();
        assert!(other_mode.contains("recorded in fast numerics, running in reproducible") && other_mode.contains("--numerics fast"), "{other_mode}");
        let mut threads = repro("x");
        threads.torch_threads = 4;
        assert!(repro("x").mismatch(&threads).is_some(), "another thread count sums in another order");
    }

    #[test]
    fn modes_parse_by_name_and_a_typo_is_named() {
        assert_eq!(Numerics::parse("fast").unwrap(), Numerics::Fast);
        assert_eq!(Numerics::parse(Numerics::Reproducible.name()).unwrap(), Numerics::Reproducible);
        assert!(Numerics::parse("exact").unwrap_err().to_string().contains("\"exact\": use reproducible or fast"));
    }
}
