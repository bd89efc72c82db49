//! `campaign collect`: the run folders of a campaign turned into the papers' tables
//! (papers/001 Tables 1 and 3: per env, each algorithm's mean ± std over seeds of the meta-test
//! return averaged over the last 100k env steps of a run, the winner, wins per algorithm, TCL's
//! relative gain over PEARL) and the learning curves behind them, as CSV and PNG under
//! `<campaign>/tables/`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::{read_manifest, run_state, RunState};
use crate::protocol::config::Algorithm;
use crate::results::chart::{self, Chart, Series};
use crate::results::{mean_std, read_curve, write_atomic, Curve};

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

fn csv_bytes(rows: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.write_record(row)?;
    }
    Ok(writer.into_inner()?)
}

/// One env's learning curves: per algorithm, the mean test return over its seeds against env
/// steps (gradient steps for offline algorithms, which get a chart of their own), with a ±std band.
fn curve_chart(env: &str, offline: bool, algos: &[String], curves: &BTreeMap<(String, String), Vec<Curve>>) -> Option<Chart> {
    let series: Vec<Series> = algos
        .iter()
        .filter(|algo| Algorithm::parse(algo).is_ok_and(Algorithm::is_offline) == offline)
        .filter_map(|algo| {
            let seeds = curves.get(&(env.to_string(), algo.clone()))?;
            let length = seeds.iter().map(Vec::len).min()?;
            let stats: Vec<(f64, f64)> = (0..length).map(|i| mean_std(&seeds.iter().map(|c| c[i].1).collect::<Vec<_>>())).collect();
            Some(Series {
                label: format!("{algo} ({})", seeds.len()),
                points: (0..length).map(|i| (seeds[0][i].0, stats[i].0)).collect(),
                std: Some(stats.iter().map(|s| s.1).collect()),
            })
        })
        .collect();
    let (title, x_label) = if offline { (format!("{env}-offline"), "gradient steps") } else { (env.to_string(), "env steps") };
    (!series.is_empty()).then(|| Chart { title, x_label: x_label.into(), y_label: "test return".into(), series })
}

/// A run's score (papers/001 Tables 1 and 3: "the average of the test-time returns collected
/// over the last 100,000 environment timesteps"): `pick` of each iteration whose env steps lie
/// within the last `window` of the run's, averaged; the last iteration alone with `window` 0 or
/// for an offline run, whose curve counts gradient steps. `None` where `pick` is undefined.
fn run_score(curve: &Curve, window: u64, offline: bool, pick: fn(&(f64, f64, Option<f64>)) -> Option<f64>) -> Option<f64> {
    let last = curve.last()?;
    let start = if offline || window == 0 { last.0 } else { last.0 - window as f64 };
    let values: Option<Vec<f64>> = curve.iter().filter(|p| p.0 > start || p.0 == last.0).map(pick).collect();
    values.map(|v| v.iter().sum::<f64>() / v.len() as f64)
}

/// What `collect` found and wrote.
pub struct Collected {
    pub complete: usize,
    pub incomplete: Vec<String>,
    pub envs: usize,
    pub algos: Vec<String>,
}

/// Per env × algorithm over the complete runs: writes tables/returns.csv, tables/success.csv (envs
/// that define success), tables/summary.csv (wins per algorithm, TCL's gain over PEARL) and
/// tables/curves.csv (mean and std over seeds per iteration against env steps, or gradient steps
/// for offline algorithms), and the curves as PNG: one `curves-<env>.png` per env (and
/// `curves-<env>-offline.png` for offline algorithms) and `curves.png`, all of them in one grid.
pub fn collect(dir: &Path, window: u64) -> Result<Collected> {
    let runs = read_manifest(dir)?;
    let mut algos: Vec<String> = Vec::new();
    let mut envs: Vec<String> = Vec::new();
    // (env, algo) → one curve per complete seed.
    let mut curves: BTreeMap<(String, String), Vec<Curve>> = BTreeMap::new();
    let mut incomplete = Vec::new();
    for run in &runs {
        if !algos.contains(&run.algo) {
            algos.push(run.algo.clone());
        }
        if !envs.contains(&run.env) {
            envs.push(run.env.clone());
        }
        if run_state(dir, run) != RunState::Complete {
            incomplete.push(run.name());
            continue;
        }
        curves.entry((run.env.clone(), run.algo.clone())).or_default().push(read_curve(&dir.join(&run.run_dir))?);
    }
    let finals = |env: &str, algo: &str, pick: fn(&(f64, f64, Option<f64>)) -> Option<f64>| -> Vec<f64> {
        let offline = Algorithm::parse(algo).is_ok_and(Algorithm::is_offline);
        curves.get(&(env.to_string(), algo.to_string())).into_iter().flatten().filter_map(|c| run_score(c, window, offline, pick)).collect()
    };
    let mut wins: BTreeMap<&str, usize> = algos.iter().map(|a| (a.as_str(), 0)).collect();
    let mut gains = Vec::new();
    let mut tables = Vec::new();
    for (file, pick) in [("returns.csv", (|p: &(f64, f64, Option<f64>)| Some(p.1)) as fn(&_) -> _), ("success.csv", |p| p.2)] {
        let mut header = vec!["env".to_string()];
        for algo in &algos {
            header.extend([format!("{algo}_mean"), format!("{algo}_std"), format!("{algo}_seeds")]);
        }
        header.push("winner".into());
        let mut rows = vec![header];
        for env in &envs {
            let stats: Vec<Option<(f64, f64, usize)>> = algos
                .iter()
                .map(|a| {
                    let values = finals(env, a, pick);
                    (!values.is_empty()).then(|| {
                        let (m, s) = mean_std(&values);
                        (m, s, values.len())
                    })
                })
                .collect();
            if stats.iter().all(Option::is_none) {
                continue;
            }
            // The highest mean; on a tie, the algorithm listed first.
            let winner = algos
                .iter()
                .zip(&stats)
                .filter_map(|(a, s)| s.map(|s| (a, s.0)))
                .fold(None, |best: Option<(&String, f64)>, (a, m)| if best.is_some_and(|b| b.1 >= m) { best } else { Some((a, m)) })
                .map(|w| w.0.clone());
            let mut row = vec![env.clone()];
            for s in &stats {
                row.extend(match s {
                    Some((m, sd, n)) => [format!("{m:.4}"), format!("{sd:.4}"), n.to_string()],
                    None => [String::new(), String::new(), "0".into()],
                });
            }
            row.push(winner.clone().unwrap_or_default());
            if file == "returns.csv" {
                if let Some(w) = &winner {
                    *wins.get_mut(w.as_str()).expect("a known algorithm") += 1;
                }
                let (tcl, pearl) = (algos.iter().position(|a| a == "tcl"), algos.iter().position(|a| a == "pearl"));
                if let (Some(Some(t)), Some(Some(p))) = (tcl.map(|i| stats[i]), pearl.map(|i| stats[i])) {
                    gains.push((t.0 - p.0) / p.0.abs().max(1e-9));
                }
            }
            rows.push(row);
        }
        tables.push((file, rows));
    }
    let mut summary = vec![vec!["statistic".to_string(), "algorithm".into(), "value".into()], vec!["score_window_env_steps".into(), String::new(), window.to_string()]];
    for (algo, n) in &wins {
        summary.push(vec!["wins".into(), algo.to_string(), n.to_string()]);
    }
    if !gains.is_empty() {
        let mean = gains.iter().sum::<f64>() / gains.len() as f64;
        summary.push(vec!["relative_gain_over_pearl_mean".into(), "tcl".into(), format!("{mean:.4}")]);
        summary.push(vec!["relative_gain_over_pearl_median".into(), "tcl".into(), format!("{:.4}", median(&mut gains))]);
    }
    tables.push(("summary.csv", summary));

    let mut curve_rows = vec![["env", "algo", "iteration", "steps", "return_mean", "return_std", "success_mean", "seeds"].map(String::from).to_vec()];
    for ((env, algo), seeds) in &curves {
        let length = seeds.iter().map(Vec::len).min().unwrap_or(0);
        for i in 0..length {
            let (returns, successes): (Vec<f64>, Vec<Option<f64>>) = seeds.iter().map(|c| (c[i].1, c[i].2)).unzip();
            let (m, s) = mean_std(&returns);
            let success: Option<Vec<f64>> = successes.into_iter().collect();
            curve_rows.push(vec![env.clone(), algo.clone(), i.to_string(), format!("{}", seeds[0][i].0), format!("{m:.4}"), format!("{s:.4}"),
                success.map(|v| format!("{:.4}", mean_std(&v).0)).unwrap_or_default(), seeds.len().to_string()]);
        }
    }
    tables.push(("curves.csv", curve_rows));
    let out = dir.join("tables");
    std::fs::create_dir_all(&out)?;
    for (file, rows) in &tables {
        write_atomic(&out.join(file), &csv_bytes(rows)?)?;
    }
    let charts: Vec<Chart> = envs.iter().flat_map(|env| [false, true].map(|offline| curve_chart(env, offline, &algos, &curves))).flatten().collect();
    for chart in &charts {
        chart::save_grid(&out.join(format!("curves-{}.png", chart.title)), std::slice::from_ref(chart), 1)?;
    }
    if !charts.is_empty() {
        chart::save_grid(&out.join("curves.png"), &charts, 4)?;
    }
    Ok(Collected { complete: runs.len() - incomplete.len(), incomplete, envs: envs.len(), algos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_scores_the_mean_of_its_last_window_of_env_steps() {
        // Iterations every 24k env steps from 200k, returns 1, 2, …, success alternating.
        let curve: Curve = (0..35).map(|i| (200_000.0 + 24_000.0 * i as f64, (i + 1) as f64, Some((i % 2) as f64))).collect();
        let returns = |window, offline| run_score(&curve, window, offline, |p| Some(p.1)).unwrap();
        // The last iteration is at 1,016k: those after 916k are 920k, 944k, 968k, 992k, 1,016k.
        assert_eq!(returns(100_000, false), (31.0 + 32.0 + 33.0 + 34.0 + 35.0) / 5.0);
        assert_eq!(returns(0, false), 35.0, "window 0: the last iteration");
        assert_eq!(returns(100_000, true), 35.0, "an offline curve counts gradient steps: the last iteration");
        assert_eq!(run_score(&curve, 100_000, false, |p| p.2), Some(2.0 / 5.0));
        assert_eq!(run_score(&curve, 100_000, false, |_| None), None);
    }
}
