//! Headless rendering through MuJoCo's renderer in an OSMesa context: frames of a Meta-World and
//! a MuJoCo Controls env are not blank and change as the env moves; a Meta-World frame matches
//! the Python bindings' renderer at the same state.

use metarl::envs::registry::lookup;
use metarl::envs::EnvOptions;
use metarl::sim::{Camera, Renderer};

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

/// Our renderer and the Python bindings' (same MuJoCo, same OSMesa) on the same just-reset
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
        let ours = Renderer::new(model, width, height).unwrap().render(model, data, &Camera::Named(camera.into())).unwrap();
        assert_eq!(ours.len(), theirs.len());
        let differing = ours.iter().zip(&theirs).filter(|(a, b)| a.abs_diff(**b) > 2).count();
        let mean_abs = ours.iter().zip(&theirs).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / ours.len() as f64;
        println!("{camera}: mean |Δpixel| {mean_abs:.4}, {differing} of {} values differ by more than 2", ours.len());
        assert!(mean_abs < 0.5 && differing * 100 < ours.len(), "{camera}: the frames differ");
    }
}
