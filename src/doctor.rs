//! `metarl doctor`: what this build found (MuJoCo, libtorch, CUDA, assets, reference venv), and
//! for each problem the command that fixes it.

use std::fmt;
use std::path::Path;
use std::process::Command;

use crate::paths::{self, FIX_DEPS};
use crate::{assets, sim};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Worth knowing, not a failure (e.g. no GPU on this machine).
    Info,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Check { name, status: Status::Ok, detail: detail.into(), fix: None }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { name, status: Status::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
}

pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            let tag = match check.status {
                Status::Ok => "ok",
                Status::Info => "info",
                Status::Fail => "FAIL",
            };
            writeln!(f, "{tag:<5} {:<18} {}", check.name, check.detail)?;
            if let Some(fix) = &check.fix {
                writeln!(f, "{:<24}fix: {fix}", "")?;
            }
        }
        Ok(())
    }
}

pub fn run() -> Report {
    let deps = paths::deps_dir();
    let mut checks = vec![cache(&deps), mujoco()];
    checks.extend(libtorch(&deps));
    checks.push(metaworld_assets());
    checks.push(gymnasium_models());
    checks.push(reference_venv());
    checks.push(rendering());
    checks.push(viewer());
    Report { checks }
}

/// Offscreen rendering (OSMesa): optional, so its absence is information, not a failure.
fn rendering() -> Check {
    let model = crate::sim::Model::from_xml_str("<mujoco><worldbody><geom size='.1'/></worldbody></mujoco>");
    match model.map_err(anyhow::Error::from).and_then(|m| Ok(crate::sim::Renderer::new(&m, 8, 8)?)) {
        Ok(_) => Check::ok("rendering", "MuJoCo's renderer in an OSMesa context (headless)"),
        Err(e) => Check {
            name: "rendering",
            status: Status::Info,
            detail: format!("unavailable ({e}); `metarl render` and `envs render` need it"),
            fix: Some("apt-get install libosmesa6 (as root), or `make deps` as root".into()),
        },
    }
}

/// `metarl view`'s window: optional, like rendering.
fn viewer() -> Check {
    #[cfg(feature = "viewer")]
    let found = crate::sim::viewer::can_open_window().map_err(|e| e.to_string());
    #[cfg(not(feature = "viewer"))]
    let found: Result<String, String> = Err("this build has no viewer (built without the `viewer` feature)".into());
    match found {
        Ok(detail) => Check::ok("viewer", format!("`metarl view` can open a window: {detail}")),
        Err(why) => Check {
            name: "viewer",
            status: Status::Info,
            detail: format!("unavailable: {why}"),
            fix: Some("run under an X display (on a headless machine: `xvfb-run -a metarl view ...`; Debian: apt-get install xvfb libegl-mesa0), or use `metarl render` for a GIF".into()),
        },
    }
}

fn cache(deps: &Path) -> Check {
    if deps.join("READY").is_file() {
        Check::ok("dependency cache", deps.display().to_string())
    } else {
        Check::fail("dependency cache", format!("{} is missing or incomplete", deps.display()), FIX_DEPS)
    }
}

fn mujoco() -> Check {
    let found = sim::library_version();
    let version = |v: i32| format!("{}.{}.{}", v / 100, v / 10 % 10, v % 10);
    if found == sim::MUJOCO_VERSION {
        Check::ok("MuJoCo", format!("{} (library and headers agree)", version(found)))
    } else {
        Check::fail(
            "MuJoCo",
            format!("library {} but built against {}", version(found), version(sim::MUJOCO_VERSION)),
            format!("unset LD_LIBRARY_PATH, or `{FIX_DEPS} && cargo build --release`"),
        )
    }
}

fn libtorch(deps: &Path) -> Vec<Check> {
    let version_file = deps.join("torch").join("version.py");
    let version = std::fs::read_to_string(&version_file).ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("__version__ = "))
            .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_owned())
    });
    let cuda_linked = std::fs::read_to_string("/proc/self/maps")
        .map(|maps| maps.contains("libtorch_cuda.so"))
        .unwrap_or(false);
    let sum = tch::Tensor::from_slice(&[1.0f64, 2.0, 3.0]).sum(tch::Kind::Double).double_value(&[]);
    let torch = match version {
        Some(v) if sum == 6.0 => Check::ok(
            "libtorch",
            format!("{v} (CUDA backend {})", if cuda_linked { "linked" } else { "not linked" }),
        ),
        _ => Check::fail("libtorch", format!("no torch/version.py in {}", deps.display()), FIX_DEPS),
    };
    let devices = tch::Cuda::device_count();
    let cuda = if tch::Cuda::is_available() {
        Check::ok("CUDA", format!("{devices} device(s), cuDNN {}", tch::Cuda::cudnn_is_available()))
    } else {
        Check {
            name: "CUDA",
            status: Status::Info,
            detail: "no GPU visible: `--device cpu` only".into(),
            fix: None,
        }
    };
    vec![torch, cuda]
}

fn metaworld_assets() -> Check {
    let dir = paths::metaworld_assets();
    match assets::verify_metaworld(&dir) {
        Ok(n) => Check::ok("Meta-World assets", format!("{n} files in {} match the manifest", dir.display())),
        Err(e) => Check::fail("Meta-World assets", e.to_string(), FIX_DEPS),
    }
}

fn gymnasium_models() -> Check {
    let dir = paths::gymnasium_assets();
    let wanted = ["half_cheetah.xml", "ant.xml", "hopper.xml", "walker2d.xml", "humanoid.xml"];
    match wanted.iter().find(|f| !dir.join(f).is_file()) {
        None => Check::ok("Gymnasium models", format!("{} ({})", dir.display(), wanted.join(" "))),
        Some(missing) => Check::fail("Gymnasium models", format!("{missing} missing in {}", dir.display()), FIX_DEPS),
    }
}

fn reference_venv() -> Check {
    const PROBE: &str = "import mujoco, metaworld, gymnasium, numpy; from importlib.metadata import version; \
        print(' '.join(f'{p} {version(p)}' for p in ('mujoco', 'metaworld', 'gymnasium', 'numpy')))";
    let python = paths::reference_python();
    match Command::new(&python).args(["-c", PROBE]).output() {
        Ok(out) if out.status.success() => {
            let versions = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if versions.contains("mujoco 3.3.7") && versions.contains("metaworld 3.1.1") {
                Check::ok("reference venv", versions)
            } else {
                Check::fail("reference venv", format!("wrong versions: {versions}"), FIX_DEPS)
            }
        }
        Ok(out) => Check::fail(
            "reference venv",
            format!("imports fail: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")),
            FIX_DEPS,
        ),
        Err(e) => Check::fail("reference venv", format!("cannot run {}: {e}", python.display()), FIX_DEPS),
    }
}
