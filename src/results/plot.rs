//! PNG scatter plots drawn pixel by pixel (no font, no plotting stack): one square panel per
//! point set, side by side, each point a disc coloured by its class.

use std::path::Path;

use anyhow::{Context, Result};

/// matplotlib's tab10 palette.
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
const PANEL: usize = 400;
const MARGIN: usize = 20;
const RADIUS: i64 = 3;

/// One panel: 2-D points and the class of each (its colour).
pub struct Panel<'a> {
    pub points: &'a [[f64; 2]],
    pub classes: &'a [usize],
}

struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if (0..self.width as i64).contains(&x) && (0..self.height as i64).contains(&y) {
            let at = 3 * (y as usize * self.width + x as usize);
            self.rgb[at..at + 3].copy_from_slice(&colour);
        }
    }
}

/// Write `panels` side by side to `path`; each panel's axes span its own points' range.
pub fn scatter_png(path: &Path, panels: &[Panel]) -> Result<()> {
    let (width, height) = (panels.len() * PANEL, PANEL);
    let mut canvas = Canvas { width, height, rgb: vec![255; 3 * width * height] };
    for (p, panel) in panels.iter().enumerate() {
        let left = (p * PANEL + MARGIN) as i64;
        let (top, span) = (MARGIN as i64, (PANEL - 2 * MARGIN) as i64);
        for i in 0..=span {
            for (x, y) in [(left + i, top), (left + i, top + span), (left, top + i), (left + span, top + i)] {
                canvas.set(x, y, [160, 160, 160]);
            }
        }
        let range = |axis: usize| {
            let values = panel.points.iter().map(|q| q[axis]);
            let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
            let pad = ((high - low) * 0.05).max(1e-12);
            (low - pad, high + pad)
        };
        let ((x0, x1), (y0, y1)) = (range(0), range(1));
        for (point, &class) in panel.points.iter().zip(panel.classes) {
            let cx = left + ((point[0] - x0) / (x1 - x0) * span as f64).round() as i64;
            let cy = top + span - ((point[1] - y0) / (y1 - y0) * span as f64).round() as i64;
            for dy in -RADIUS..=RADIUS {
                for dx in -RADIUS..=RADIUS {
                    if dx * dx + dy * dy <= RADIUS * RADIUS {
                        canvas.set(cx + dx, cy + dy, PALETTE[class % PALETTE.len()]);
                    }
                }
            }
        }
    }
    let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&canvas.rgb).with_context(|| format!("cannot encode {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_land_in_their_panel_in_their_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        let points = [[0.0, 0.0], [1.0, 1.0]];
        scatter_png(&path, &[Panel { points: &points, classes: &[0, 1] }, Panel { points: &points, classes: &[2, 2] }]).unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!((info.width, info.height), (800, 400));
        let pixel = |x: usize, y: usize| &rgb[3 * (y * 800 + x)..3 * (y * 800 + x) + 3];
        // The range [0, 1] is padded by 5% a side: 0 maps 0.05/1.1 · 360 ≈ 16 px into the 360 px
        // frame from the bottom-left, 1 as far from the top-right.
        assert_eq!(pixel(20 + 16, 380 - 16), PALETTE[0]);
        assert_eq!(pixel(380 - 16, 20 + 16), PALETTE[1]);
        assert_eq!(pixel(400 + 20 + 16, 380 - 16), PALETTE[2]);
        assert_eq!(pixel(200, 200), [255, 255, 255]);
    }
}
