//! Charts as PNG, drawn pixel by pixel with an 8×8 bitmap font (no plotting stack, no system
//! fonts): line charts (learning curves with a shaded ±std band per series, axes with rounded
//! ticks, a title and a legend, several to a grid) and scatter panels (embeddings coloured by
//! task).

use std::path::Path;

use anyhow::{Context, Result};
use font8x8::UnicodeFonts;

/// matplotlib's tab10 palette.
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
const INK: [u8; 3] = [40, 40, 40];
const GRID: [u8; 3] = [225, 225, 225];

/// An RGB image.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas { width, height, rgb: vec![255; 3 * width * height] }
    }

    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let at = 3 * (y * self.width + x);
        [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
    }

    pub fn set(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if (0..self.width as i64).contains(&x) && (0..self.height as i64).contains(&y) {
            let at = 3 * (y as usize * self.width + x as usize);
            self.rgb[at..at + 3].copy_from_slice(&colour);
        }
    }

    /// A straight line `width` pixels thick.
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), colour: [u8; 3], width: i64) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as i64;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let (x, y) = ((x0 + t * (x1 - x0)).round() as i64, (y0 + t * (y1 - y0)).round() as i64);
            for d in 0..width {
                self.set(x + d - width / 2, y, colour);
                self.set(x, y + d - width / 2, colour);
            }
        }
    }

    /// `text` with its top-left corner at (x, y), each glyph 8×8 pixels times `scale`.
    pub fn text(&mut self, x: i64, y: i64, text: &str, colour: [u8; 3], scale: i64) {
        for (i, c) in text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(c).or_else(|| font8x8::BASIC_FONTS.get('?')).expect("'?' has a glyph");
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        for (dx, dy) in (0..scale).flat_map(|dx| (0..scale).map(move |dy| (dx, dy))) {
                            self.set(x + (i as i64 * 8 + col) * scale + dx, y + row as i64 * scale + dy, colour);
                        }
                    }
                }
            }
        }
    }

    pub fn save_png(&self, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&self.rgb).with_context(|| format!("cannot encode {}", path.display()))
    }
}

/// One line of a chart: points (x, mean) and, optionally, the std at each point (shaded band).
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub std: Option<Vec<f64>>,
}

pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// Tick values: 4–8 round numbers (1, 2 or 5 × 10^k apart) inside [low, high].
pub fn ticks(low: f64, high: f64) -> Vec<f64> {
    let span = (high - low).max(1e-12);
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| span / s <= 8.0).unwrap_or(10.0 * magnitude);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

pub const CHART_WIDTH: usize = 520;
pub const CHART_HEIGHT: usize = 360;

/// Draws `chart` into the `CHART_WIDTH × CHART_HEIGHT` cell whose top-left corner is (x, y).
pub fn draw(canvas: &mut Canvas, chart: &Chart, x: i64, y: i64) {
    let (left, top) = (x + 70, y + 46);
    let (width, height) = (CHART_WIDTH as i64 - 90, CHART_HEIGHT as i64 - 111);
    let all = chart.series.iter().flat_map(|s| {
        s.points.iter().enumerate().flat_map(move |(i, p)| {
            let d = s.std.as_ref().map_or(0.0, |std| std[i]);
            [(p.0, p.1 - d), (p.0, p.1 + d)]
        })
    });
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (px, py) in all.filter(|p| p.0.is_finite() && p.1.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(px), x1.max(px), y0.min(py), y1.max(py));
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    // 5% headroom; a flat curve gets ±1 so its ticks stay readable.
    let pad = if y1 - y0 > 1e-9 { (y1 - y0) * 0.05 } else { 1.0 };
    let (y0, y1) = (y0 - pad, y1 + pad);
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let px = |v: f64| left as f64 + (v - x0) / (x1 - x0) * width as f64;
    let py = |v: f64| (top + height) as f64 - (v - y0) / (y1 - y0) * height as f64;

    canvas.text(x + 10, y + 6, &chart.title, INK, 2);
    for t in ticks(y0, y1) {
        canvas.line((left as f64, py(t)), ((left + width) as f64, py(t)), GRID, 1);
        let label = tick_label(t);
        canvas.text(left - 8 - 8 * label.len() as i64, py(t) as i64 - 4, &label, INK, 1);
    }
    for t in ticks(x0, x1) {
        canvas.line((px(t), top as f64), (px(t), (top + height) as f64), GRID, 1);
        let label = tick_label(t);
        canvas.text(px(t) as i64 - 4 * label.len() as i64, top + height + 6, &label, INK, 1);
    }
    for (a, b) in [((left, top), (left, top + height)), ((left, top + height), (left + width, top + height))] {
        canvas.line((a.0 as f64, a.1 as f64), (b.0 as f64, b.1 as f64), INK, 1);
    }
    canvas.text(left + width / 2 - 4 * chart.x_label.len() as i64, top + height + 20, &chart.x_label, INK, 1);
    canvas.text(x + 10, top - 16, &chart.y_label, INK, 1);

    // Every band first, then every line on top, so no band hides another series' line.
    for (k, series) in chart.series.iter().enumerate() {
        let Some(std) = &series.std else { continue };
        // A light tint between mean - std and mean + std, column by column.
        let tint = PALETTE[k % PALETTE.len()].map(|c| ((u16::from(c) + 3 * 255) / 4) as u8);
        for (pair, spread) in series.points.windows(2).zip(std.windows(2)) {
            let (a, b) = (pair[0], pair[1]);
            let (c0, c1) = (px(a.0).round() as i64, px(b.0).round() as i64);
            for c in c0..=c1 {
                let t = if c1 > c0 { (c - c0) as f64 / (c1 - c0) as f64 } else { 0.0 };
                let (m, s) = (a.1 + t * (b.1 - a.1), spread[0] + t * (spread[1] - spread[0]));
                for r in py(m + s).round() as i64..=py(m - s).round() as i64 {
                    canvas.set(c, r, tint);
                }
            }
        }
    }
    for (k, series) in chart.series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        for pair in series.points.windows(2) {
            canvas.line((px(pair[0].0), py(pair[0].1)), (px(pair[1].0), py(pair[1].1)), colour, 2);
        }
        if let [only] = series.points.as_slice() {
            canvas.line((px(only.0) - 2.0, py(only.1)), (px(only.0) + 2.0, py(only.1)), colour, 3);
        }
        // Legend, top right, one line per series.
        let (lx, ly) = (left + width - 8 * series.label.len() as i64 - 26, top + 6 + 14 * k as i64);
        canvas.line((lx as f64, ly as f64 + 4.0), (lx as f64 + 16.0, ly as f64 + 4.0), colour, 3);
        canvas.text(lx + 22, ly, &series.label, INK, 1);
    }
}

/// Writes `charts` to `path` as a grid `columns` wide.
pub fn save_grid(path: &Path, charts: &[Chart], columns: usize) -> Result<()> {
    let columns = columns.clamp(1, charts.len().max(1));
    let rows = charts.len().div_ceil(columns).max(1);
    let mut canvas = Canvas::new(columns * CHART_WIDTH, rows * CHART_HEIGHT);
    for (i, chart) in charts.iter().enumerate() {
        draw(&mut canvas, chart, ((i % columns) * CHART_WIDTH) as i64, ((i / columns) * CHART_HEIGHT) as i64);
    }
    canvas.save_png(path)
}

/// One scatter panel: 2-D points and the class of each (its colour).
pub struct Panel<'a> {
    pub title: &'a str,
    pub points: &'a [[f64; 2]],
    pub classes: &'a [usize],
}

const SCATTER_PANEL: usize = 400;
const SCATTER_MARGIN: usize = 24;
const DOT_RADIUS: i64 = 3;

/// Writes `panels` side by side to `path`; each panel's axes span its own points' range
/// (padded 5%), its title above the frame.
pub fn scatter_png(path: &Path, panels: &[Panel]) -> Result<()> {
    let mut canvas = Canvas::new(panels.len() * SCATTER_PANEL, SCATTER_PANEL);
    for (p, panel) in panels.iter().enumerate() {
        let left = (p * SCATTER_PANEL + SCATTER_MARGIN) as i64;
        let (top, span) = (SCATTER_MARGIN as i64, (SCATTER_PANEL - 2 * SCATTER_MARGIN) as i64);
        canvas.text(left, 6, panel.title, INK, 1);
        let frame = [(left, top), (left + span, top), (left + span, top + span), (left, top + span), (left, top)];
        for edge in frame.windows(2) {
            canvas.line((edge[0].0 as f64, edge[0].1 as f64), (edge[1].0 as f64, edge[1].1 as f64), [160, 160, 160], 1);
        }
        let range = |axis: usize| {
            let (low, high) = panel.points.iter().map(|q| q[axis]).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
            let pad = ((high - low) * 0.05).max(1e-12);
            (low - pad, high + pad)
        };
        let ((x0, x1), (y0, y1)) = (range(0), range(1));
        for (point, &class) in panel.points.iter().zip(panel.classes) {
            let cx = left + ((point[0] - x0) / (x1 - x0) * span as f64).round() as i64;
            let cy = top + span - ((point[1] - y0) / (y1 - y0) * span as f64).round() as i64;
            for (dx, dy) in (-DOT_RADIUS..=DOT_RADIUS).flat_map(|dx| (-DOT_RADIUS..=DOT_RADIUS).map(move |dy| (dx, dy))) {
                if dx * dx + dy * dy <= DOT_RADIUS * DOT_RADIUS {
                    canvas.set(cx + dx, cy + dy, PALETTE[class % PALETTE.len()]);
                }
            }
        }
    }
    canvas.save_png(path)
}

/// Reads a PNG back as (width, height, RGB bytes), for tests and checks.
pub fn read_png(path: &Path) -> Result<(usize, usize, Vec<u8>)> {
    let decoder = png::Decoder::new(std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?);
    let mut reader = decoder.read_info()?;
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb)?;
    rgb.truncate(info.buffer_size());
    Ok((info.width as usize, info.height as usize, rgb))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: [u8; 3] = [255, 255, 255];

    #[test]
    fn points_land_in_their_panel_in_their_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        let points = [[0.0, 0.0], [1.0, 1.0]];
        let panels = [Panel { title: "a", points: &points, classes: &[0, 1] }, Panel { title: "b", points: &points, classes: &[2, 2] }];
        scatter_png(&path, &panels).unwrap();
        let (w, h, rgb) = read_png(&path).unwrap();
        assert_eq!((w, h), (800, 400));
        let canvas = Canvas { width: w, height: h, rgb };
        // [0, 1] padded 5% a side maps 0 to 0.05/1.1 · 352 ≈ 16 px inside the 352 px frame from
        // the bottom-left, 1 as far from the top-right.
        assert_eq!(canvas.pixel(24 + 16, 376 - 16), PALETTE[0]);
        assert_eq!(canvas.pixel(376 - 16, 24 + 16), PALETTE[1]);
        assert_eq!(canvas.pixel(400 + 24 + 16, 376 - 16), PALETTE[2]);
        assert_eq!(canvas.pixel(200, 200), WHITE);
    }

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(ticks(0.0, 10.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(-23.0, -4.0), [-20.0, -15.0, -10.0, -5.0]);
        assert_eq!(tick_label(250_000.0), "250k");
        assert_eq!(tick_label(-12.5), "-12.50");
    }

    #[test]
    fn a_chart_draws_its_series_band_and_text_where_the_axes_put_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        let chart = Chart {
            title: "reach".into(),
            x_label: "env steps".into(),
            y_label: "return".into(),
            series: vec![Series { label: "pearl".into(), points: vec![(0.0, 0.0), (10.0, 10.0)], std: Some(vec![2.0, 2.0]) }],
        };
        save_grid(&path, &[chart], 1).unwrap();
        let (w, h, rgb) = read_png(&path).unwrap();
        assert_eq!((w, h), (CHART_WIDTH, CHART_HEIGHT));
        let canvas = Canvas { width: w, height: h, rgb };
        // The plot box spans x 70..500 and y 46..295 for x in [0, 10] and y in [-2.7, 12.7]
        // (range ± std, padded 5%): the mean's midpoint (5, 5) lands at (285, ~170).
        let (x, y): (f64, f64) = (70.0 + 0.5 * 430.0, 46.0 + 249.0 - (5.0 + 2.7) / 15.4 * 249.0);
        assert_eq!(canvas.pixel(x.round() as usize, y.round() as usize), PALETTE[0], "the line");
        let band = canvas.pixel(x.round() as usize, (y - 20.0).round() as usize);
        assert!(band != WHITE && band != PALETTE[0], "the band above the line is tinted: {band:?}");
        assert_eq!(canvas.pixel(x.round() as usize, (y - 60.0).round() as usize), WHITE, "outside the band");
        let title_ink = (10..90).flat_map(|x| (6..22).map(move |y| (x, y))).filter(|&(x, y)| canvas.pixel(x, y) == INK).count();
        assert!(title_ink > 50, "the title is drawn ({title_ink} ink pixels)");
    }
}
