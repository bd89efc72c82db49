//! `metarl analyze embeddings`: how well a run's context encoder separates tasks, by papers/001
//! Table 2's metrics on the raw window embeddings (posterior means), with a PCA projection to
//! 2-D as a PNG (the paper plots t-SNE; PCA is linear and deterministic).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use tch::{Kind, Tensor};

use super::meta_train::{RunSpec, Trainer};
use crate::results::chart::{scatter_png, Panel};
use crate::results::write_atomic;

/// papers/001 Table 2 on raw embeddings, and their ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClusterMetrics {
    /// Mean Euclidean distance of a point to its task's centroid (smaller: tighter clusters).
    pub mean_distance_to_centroid: f64,
    /// Mean Euclidean distance between two tasks' centroids, over all pairs (larger: further apart).
    pub mean_distance_between_centroids: f64,
    /// Between / within: both distances scale with the embedding, their ratio does not.
    pub separation: f64,
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt()
}

/// Table 2's metrics for `points` labelled by class `0..classes`.
pub fn cluster_metrics(points: &[Vec<f64>], labels: &[usize]) -> ClusterMetrics {
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let dim = points[0].len();
    let mut centroids = vec![vec![0.0; dim]; classes];
    let mut counts = vec![0usize; classes];
    for (p, &c) in points.iter().zip(labels) {
        centroids[c].iter_mut().zip(p).for_each(|(s, v)| *s += v);
        counts[c] += 1;
    }
    for (centroid, &n) in centroids.iter_mut().zip(&counts) {
        centroid.iter_mut().for_each(|s| *s /= n as f64);
    }
    let within = points.iter().zip(labels).map(|(p, &c)| distance(p, &centroids[c])).sum::<f64>() / points.len() as f64;
    let pairs: Vec<f64> = (0..classes).flat_map(|a| (a + 1..classes).map(move |b| (a, b))).map(|(a, b)| distance(&centroids[a], &centroids[b])).collect();
    let between = pairs.iter().sum::<f64>() / pairs.len() as f64;
    ClusterMetrics { mean_distance_to_centroid: within, mean_distance_between_centroids: between, separation: between / within }
}

/// The rows of `points` `[n, d]` projected on their first two principal components (the second
/// is 0 for 1-D embeddings).
pub fn pca_2d(points: &Tensor) -> Vec<[f64; 2]> {
    let x = points.to_kind(Kind::Double);
    let centred = &x - x.mean_dim([0].as_slice(), true, Kind::Double);
    // Right singular vectors, by decreasing singular value, are the principal directions.
    let (_, _, v) = centred.svd(true, true);
    let components = v.narrow(1, 0, v.size()[1].min(2));
    let projected = Vec::<f64>::try_from(centred.matmul(&components).reshape([-1])).expect("doubles");
    let width = components.size()[1] as usize;
    projected.chunks(width).map(|r| [r[0], r.get(1).copied().unwrap_or(0.0)]).collect()
}

fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let width = t.size()[1] as usize;
    Vec::<f64>::try_from(t.to_kind(Kind::Double).reshape([-1])).expect("doubles").chunks(width).map(<[f64]>::to_vec).collect()
}

/// One analysed encoder: its label, the raw embeddings, their metrics and 2-D projection.
pub struct EncoderReport {
    pub encoder: &'static str,
    pub embeddings: Vec<Vec<f64>>,
    pub metrics: ClusterMetrics,
    pub projection: Vec<[f64; 2]>,
}

/// What `analyze` wrote and found.
pub struct EmbeddingReport {
    pub window: usize,
    pub encoders: Vec<EncoderReport>,
    pub metrics_csv: PathBuf,
    pub points_csv: PathBuf,
    pub png: PathBuf,
}

/// Encode windows from `rollouts` rollouts on each of `tasks` test tasks of the run in
/// `run_dir` (its checkpoint's policy and encoder, and the run's initial encoder for comparison);
/// write `embedding_metrics.csv`, `embeddings.csv` (per window: task, PCA coordinates, raw
/// embedding) and `embeddings.png` (initial encoder left, trained right) to `out`.
pub fn analyze(run_dir: &Path, tasks: usize, rollouts: usize, window: Option<usize>, out: &Path) -> Result<EmbeddingReport> {
    let (mut trainer, default_window) = open(run_dir)?;
    report(&mut trainer, tasks, rollouts, window.unwrap_or(default_window), out)
}

/// The analysis `metarl train` writes after a TCL or CoCOA run (papers/001 Table 2): the first
/// five test tasks (all of them if fewer), 10 rollouts each, into `analysis/`; `None` for a run
/// with fewer than two test tasks.
pub fn analyze_trained(run_dir: &Path) -> Result<Option<EmbeddingReport>> {
    let (mut trainer, window) = open(run_dir)?;
    let tasks = trainer.test_task_count().min(5);
    if tasks < 2 {
        return Ok(None);
    }
    report(&mut trainer, tasks, 10, window, &run_dir.join("analysis")).map(Some)
}

/// The run's trainer on its checkpoint, and its contrastive window.
fn open(run_dir: &Path) -> Result<(Trainer, usize)> {
    let spec = RunSpec::read(run_dir)?;
    let window = spec.config.contrastive_window;
    Ok((Trainer::open(spec, run_dir, true)?, window))
}

fn report(trainer: &mut Trainer, tasks: usize, rollouts: usize, window: usize, out: &Path) -> Result<EmbeddingReport> {
    let embeddings = trainer.window_embeddings(tasks, rollouts, window)?;
    let labels = &embeddings.task_of_window;
    let encoders: Vec<EncoderReport> = [("initial", &embeddings.initial), ("trained", &embeddings.trained)]
        .into_iter()
        .map(|(encoder, means)| {
            let embeddings = rows(means);
            EncoderReport { encoder, metrics: cluster_metrics(&embeddings, labels), projection: pca_2d(means), embeddings }
        })
        .collect();

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut metrics_csv = String::from("encoder,tasks,rollouts,window,mean_distance_to_centroid,mean_distance_between_centroids,separation\n");
    let mut points_csv = String::from("encoder,task,window,pc1,pc2,embedding\n");
    for report in &encoders {
        let m = report.metrics;
        metrics_csv.push_str(&format!("{},{tasks},{rollouts},{window},{},{},{}\n", report.encoder, m.mean_distance_to_centroid, m.mean_distance_between_centroids, m.separation));
        for (i, ((point, task), z)) in report.projection.iter().zip(labels).zip(&report.embeddings).enumerate() {
            let z: Vec<String> = z.iter().map(|v| v.to_string()).collect();
            points_csv.push_str(&format!("{},{task},{i},{},{},{}\n", report.encoder, point[0], point[1], z.join(" ")));
        }
    }
    let (metrics_path, points_path, png) = (out.join("embedding_metrics.csv"), out.join("embeddings.csv"), out.join("embeddings.png"));
    write_atomic(&metrics_path, metrics_csv.as_bytes())?;
    write_atomic(&points_path, points_csv.as_bytes())?;
    let panels: Vec<Panel> = encoders.iter().map(|r| Panel { title: r.encoder, points: &r.projection, classes: labels }).collect();
    scatter_png(&png, &panels)?;
    Ok(EmbeddingReport { window, encoders, metrics_csv: metrics_path, points_csv: points_path, png })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table2_metrics_match_hand_computation() {
        // Task 0 at (±1, 0) around (0, 0); task 1 at (3, ±2) around (3, 0); task 2 at (0, 4) twice.
        let points = [[1.0, 0.0], [-1.0, 0.0], [3.0, 2.0], [3.0, -2.0], [0.0, 4.0], [0.0, 4.0]].map(|p| p.to_vec());
        let m = cluster_metrics(&points, &[0, 0, 1, 1, 2, 2]);
        // Within: (1 + 1 + 2 + 2 + 0 + 0) / 6 = 1. Between: (3 + 4 + 5) / 3 = 4.
        assert!((m.mean_distance_to_centroid - 1.0).abs() < 1e-12 && (m.mean_distance_between_centroids - 4.0).abs() < 1e-12, "{m:?}");
        assert!((m.separation - 4.0).abs() < 1e-12);
    }

    #[test]
    fn pca_keeps_the_direction_of_largest_spread_first() {
        // Points on the line y = x, spread 10 along it and ±0.1 across it.
        let points = Tensor::from_slice(&[-5.0f64, -5.0, 5.0, 5.0, 0.1, -0.1, -0.1, 0.1]).view([4, 2]);
        let projected = pca_2d(&points);
        let along = 5.0 * 2f64.sqrt();
        for (p, (first, second)) in projected.iter().zip([(along, 0.0), (along, 0.0), (0.0, 0.1 * 2f64.sqrt()), (0.0, 0.1 * 2f64.sqrt())]) {
            assert!((p[0].abs() - first).abs() < 1e-9 && (p[1].abs() - second).abs() < 1e-9, "{projected:?}");
        }
    }
}
