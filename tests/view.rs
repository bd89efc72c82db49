//! `metarl view` opens MuJoCo's viewer and draws the env: run under Xvfb, screenshotted with xwd,
//! the window's scene checked to be a drawn image (a blank or black window fails), and a key sent
//! with xdotool acted on. The Debian packages come from `make deps` (CI installs them); elsewhere,
//! without them, the test says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

/// An Xvfb server on a free display number, stopped when dropped.
struct Xvfb {
    display: String,
    server: Child,
}

impl Xvfb {
    fn start() -> Option<Xvfb> {
        let number = (90..200).find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())?;
        let display = format!(":{number}");
        let server = Command::new("Xvfb")
            // -noreset: the display stays up between clients, as a desktop's does.
            .args([display.as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let started = Instant::now();
        while !Path::new(&format!("/tmp/.X11-unix/X{number}")).exists() {
            if started.elapsed() > Duration::from_secs(10) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Xvfb { display, server })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn installed(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// An RGB image from an `xwd` dump (ZPixmap, 24/32 bits per pixel, as Xvfb's TrueColor visual).
struct Image {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

fn read_xwd(bytes: &[u8]) -> Image {
    let field = |i: usize| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap()) as usize;
    let (header, format, width, height) = (field(0), field(2), field(4), field(5));
    let (byte_order, bits_per_pixel, bytes_per_line, colours) = (field(7), field(11), field(12), field(19));
    assert_eq!((format, bits_per_pixel), (2, 32), "xwd: a 32-bit ZPixmap");
    let pixels = &bytes[header + 12 * colours..];
    let mut rgb = Vec::with_capacity(3 * width * height);
    for row in pixels.chunks_exact(bytes_per_line).take(height) {
        for pixel in row[..4 * width].chunks_exact(4) {
            // Masks 0xff0000, 0xff00, 0xff: least significant byte first is B, G, R.
            rgb.extend(if byte_order == 0 { [pixel[2], pixel[1], pixel[0]] } else { [pixel[1], pixel[2], pixel[3]] });
        }
    }
    Image { width, height, rgb }
}

/// The scene: the window right of the viewer's side panel.
fn scene_statistics(image: &Image) -> (f64, usize) {
    let mut values = Vec::new();
    let mut colours = std::collections::HashSet::new();
    for y in 0..image.height {
        for x in image.width / 4..image.width {
            let pixel = &image.rgb[3 * (y * image.width + x)..3 * (y * image.width + x) + 3];
            colours.insert([pixel[0], pixel[1], pixel[2]]);
            values.extend(pixel.iter().map(|&v| f64::from(v)));
        }
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    (std, colours.len())
}

/// A drawn scene, by its statistics (std, colours): a blank or black window has one colour; the
/// scenes measured here have 1,400 (cheetah-vel: a checkered floor) to 8,600 (reach-v3).
fn drawn((std, colours): (f64, usize)) -> bool {
    std > 30.0 && colours > 500
}

fn save_png(image: &Image, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), image.width as u32, image.height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.write_header().unwrap().write_image_data(&image.rgb).unwrap();
}

/// Run `metarl view ARGS` on `xvfb`, screenshot its window (`title`) every 2 s until the scene is
/// drawn or 60 s pass, then press `key` in it (an X keysym) and wait until the output shows
/// `answer` (or 30 s pass); the last screenshot, its scene statistics (std, colours) and what the
/// command printed.
fn watch(xvfb: &Xvfb, args: &[&str], title: &str, name: &str, key: &str, answer: &str) -> (Image, (f64, usize), String) {
    let mut view = common::metarl().arg("view").args(args).args(["--seconds", "90"]).env("DISPLAY", &xvfb.display)
        .stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.xwd"));
    // Software OpenGL on a busy 2-core machine: the first frames take a few seconds.
    let started = Instant::now();
    let (mut image, mut statistics) = (None, (0.0, 0));
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(2));
        if view.try_wait().unwrap().is_some() {
            break; // it stopped: its stderr says why below
        }
        let taken = Command::new("xwd").args(["-silent", "-name", title, "-out"]).arg(&shot).env("DISPLAY", &xvfb.display)
            .stderr(Stdio::null()).status().unwrap();
        if !taken.success() {
            continue; // the window is not mapped yet
        }
        let dump = read_xwd(&std::fs::read(&shot).unwrap());
        statistics = scene_statistics(&dump);
        image = Some(dump);
        if drawn(statistics) {
            break;
        }
    }
    let stdout = view.stdout.take().unwrap();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let printed = printed.clone();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
                let mut printed = printed.lock().unwrap();
                printed.push_str(&line);
                printed.push('\n');
            }
        })
    };
    let xdotool = |args: &[&str]| {
        Command::new("xdotool").args(args).env("DISPLAY", &xvfb.display).stdout(Stdio::piped()).stderr(Stdio::null()).output().unwrap()
    };
    // xdotool matches names as regular expressions.
    let pattern: String = title.chars().flat_map(|c| if "()[].*+?".contains(c) { vec!['\\', c] } else { vec![c] }).collect();
    let window = String::from_utf8_lossy(&xdotool(&["search", "--name", &pattern]).stdout).lines().next().unwrap_or_default().to_owned();
    let pressed = Instant::now();
    if !window.is_empty() {
        xdotool(&["windowfocus", &window]);
        xdotool(&["key", "--window", &window, key]);
        while !printed.lock().unwrap().contains(answer) && pressed.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let _ = view.kill();
    let output = view.wait_with_output().unwrap();
    reader.join().unwrap();
    let printed = printed.lock().unwrap().clone();
    let image = image.unwrap_or_else(|| panic!("no viewer window {title:?} appeared; metarl said:\n{}", String::from_utf8_lossy(&output.stderr)));
    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
    save_png(&image, &png);
    println!("{title}: window {}×{}, scene std {:.1}, {} colours; screenshot {}; printed:\n{printed}", image.width, image.height, statistics.0, statistics.1, png.display());
    (image, statistics, printed)
}

/// An env under its scripted policy, then a trained PEARL run's meta-test (a tiny cheetah-vel run).
#[test]
fn the_viewer_draws_an_env_and_a_run_under_xvfb() {
    if !["Xvfb", "xwd", "xdotool"].iter().all(|p| installed(p)) {
        assert!(std::env::var("CI").is_err(), "CI installs xvfb, x11-apps and xdotool (`make deps` under CI=true)");
        println!("skipped: Xvfb, xwd or xdotool is not installed (Debian: apt-get install xvfb x11-apps xdotool, or `make deps` as root)");
        return;
    }
    let xvfb = Xvfb::start().expect("Xvfb starts on a free display");
    // PageDown ("Next") switches to the next task.
    let (_, (std, colours), printed) =
        watch(&xvfb, &["reach-v3", "--policy", "scripted"], "metarl view reach-v3", "view-reach-v3", "Next", "switched to task 1");
    assert!(drawn((std, colours)), "the scene is blank or flat (std {std:.1}, {colours} colours)");
    assert!(printed.contains("switched to task 1"), "PageDown did not switch task:\n{printed}");

    let dir = tempfile::tempdir().unwrap();
    let run = common::tiny_pearl_run(dir.path(), "cheetah-vel");
    let run = run.to_str().unwrap();
    // R restarts the meta-test.
    let (_, (std, colours), printed) =
        watch(&xvfb, &[run, "--task", "1"], "metarl view pearl on cheetah-vel (seed 0)", "view-pearl-cheetah-vel", "r", "meta-test restarted");
    assert!(drawn((std, colours)), "the run's scene is blank or flat (std {std:.1}, {colours} colours)");
    assert!(printed.contains("test task 1: meta-test restarted"), "R did not restart the meta-test:\n{printed}");
}

#[test]
fn without_a_display_the_viewer_names_the_fix() {
    let output = common::metarl().args(["view", "reach-v3", "--seconds", "1"]).env_remove("DISPLAY").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("DISPLAY is unset") && stderr.contains("xvfb-run"), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error")).count(), 1, "{stderr}");
}

#[test]
fn a_point_robot_has_nothing_to_view() {
    let output = common::metarl().args(["view", "point-robot", "--seconds", "1"]).env("DISPLAY", ":0").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("point-robot has no MuJoCo model to view"), "{stderr}");
}
