//! Headless rendering through MuJoCo's renderer (in the OpenGL context `Gl::from_env` picks):
//! frames of a Meta-World and a MuJoCo Controls env are not blank and change as the env moves; a
//! Meta-World frame matches the Python bindings' renderer at the same state, in every context.

use metarl::envs::registry::lookup;
use metarl::envs::EnvOptions;
use metarl::sim::{Camera, Renderer};

mod common;

/// Ten frames of `env` under a fixed action sequence.
fn frames(env: &str, camera: Camera) -> Vec<Vec<u8>> {
    let entry = lookup(env).unwrap();
    let mut env = entry.make(&EnvOptions::default()).unwrap();
    env.set_task(&entry.tasks(&EnvOptions::default(), 0).unwrap().train[0]).unwrap();
    env.reset().unwrap();
    let (model, _) = env.physics().unwrap();
    let mut renderer = Renderer::new(model, 160, 120).unwrap();
    let dim = env.action_space().dim();
    (0..10)
        .map(|t| {
            for _ in 0..5 {
                let action: Vec<f64> = (0..dim).map(|i| ((t * 5 + i) as f64 * 0.7).sin()).collect();
                env.step(&action).unwrap();
            }
            let (model, data) = env.physics().unwrap();
            renderer.render(model, data, &camera).unwrap()
        })
        .collect()
}

/// Standard deviation of the pixel values: 0 for a blank image.
fn spread(image: &[u8]) -> f64 {
    let mean = image.iter().map(|&v| f64::from(v)).sum::<f64>() / image.len() as f64;
    (image.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / image.len() as f64).sqrt()
}

fn check_moving(env: &str, camera: Camera) {
    let frames = frames(env, camera);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.len(), 160 * 120 * 3);
        assert!(spread(f) > 10.0, "{env} frame {i} is blank (pixel std {:.1})", spread(f));
    }
    let changed = frames.windows(2).filter(|w| w[0] != w[1]).count();
    println!("{env}: pixel std {:.1}..{:.1}, {changed} of 9 consecutive pairs differ",
        frames.iter().map(|f| spread(f)).fold(f64::INFINITY, f64::min), frames.iter().map(|f| spread(f)).fold(0.0, f64::max));
    assert!(changed >= 8, "{env}: the frames should follow the motion");
}

#[test]
fn reach_and_cheetah_render_headlessly_and_move() {
    check_moving("reach-v3", Camera::Named("corner".into()));
    check_moving("cheetah-vel", Camera::Named("track".into()));
}

/// Our renderer (each context) and the Python bindings' (same MuJoCo, OSMesa) on the same just-reset
/// Meta-World state: the images agree up to a few levels of float noise in the rasteriser.
#[test]
fn a_metaworld_frame_matches_the_python_renderer() {
    let (width, height) = (160, 120);
    for camera in ["corner", "corner2"] {
        let reference = tempfile::NamedTempFile::new().unwrap();
        let out = std::process::Command::new(metarl::paths::reference_python())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tools/reference_render.py"))
            .args(["reach-v3", camera, &width.to_string(), &height.to_string()])
            .arg(reference.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let theirs = std::fs::read(reference.path()).unwrap();

        let entry = lookup("reach-v3").unwrap();
        let mut env = entry.make(&EnvOptions::default()).unwrap();
        env.set_task(&entry.tasks(&EnvOptions::default(), 0).unwrap().train[0]).unwrap();
        env.reset().unwrap();
        let (model, data) = env.physics().unwrap();
        // Every OpenGL context this build has (OSMesa; EGL through mujoco-rs).
        for gl in metarl::bench::contexts() {
            let ours = Renderer::with(gl, model, width, height).unwrap().render(model, data, &Camera::Named(camera.into())).unwrap();
            assert_eq!(ours.len(), theirs.len());
            let differing = ours.iter().zip(&theirs).filter(|(a, b)| a.abs_diff(**b) > 2).count();
            let mean_abs = ours.iter().zip(&theirs).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / ours.len() as f64;
            println!("{gl:?} {camera}: mean |Δpixel| {mean_abs:.4}, {differing} of {} values differ by more than 2", ours.len());
            assert!(mean_abs < 0.5 && differing * 100 < ours.len(), "{gl:?} {camera}: the frames differ");
        }
    }
}

/// `metarl envs render` films a scripted Meta-World episode, and `metarl render` films a trained
/// PEARL run's meta-test (exploration, then adapted episodes) on a MuJoCo Controls task.
#[test]
fn the_cli_films_an_env_and_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let metarl = || std::process::Command::new(env!("CARGO_BIN_EXE_metarl"));
    let frames = dir.path().join("reach");
    let out = metarl().args(["envs", "render", "reach", "--policy", "scripted", "--every", "100", "--out"]).arg(&frames).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // 500 steps: the reset, steps 100..500 and the last.
    assert_eq!(std::fs::read_dir(&frames).unwrap().count(), 6);

    let run = common::tiny_pearl_run(dir.path(), "cheetah-vel");
    let gif = dir.path().join("run.gif");
    let out = metarl().arg("render").arg(&run).args(["--task", "1", "--every", "40", "--out"]).arg(&gif).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Two episodes of 200 steps (one exploring, one adapted), a frame every 40 steps and at each
    // episode's first step.
    assert!(stdout.contains("test task 1") && stdout.contains("(12 frames)"), "{stdout}");
    let decoder = gif::DecodeOptions::new().read_info(std::fs::File::open(&gif).unwrap()).unwrap();
    assert_eq!((decoder.width(), decoder.height()), (320, 240));

    // The point robots have no physics: drawn from above (goal, agent, trail) instead.
    let frames = dir.path().join("point");
    let out = metarl().args(["envs", "render", "point-robot", "--every", "5", "--out"]).arg(&frames).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pictures: Vec<_> = (0..5).map(|i| metarl::results::chart::read_png(&frames.join(format!("frame-{i:05}.png"))).unwrap().2).collect();
    let red = |rgb: &[u8]| rgb.chunks_exact(3).filter(|p| p == &[214, 39, 40]).count();
    assert!(pictures.iter().all(|p| red(p) > 10), "the agent is drawn in every frame");
    assert!(pictures.windows(2).all(|w| w[0] != w[1]), "and moves");
}
