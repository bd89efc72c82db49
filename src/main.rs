//! The `metarl` command line: one binary for every algorithm, suite and workflow (DESIGN.md, CLI).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use metarl::{bench, doctor};

#[derive(Parser)]
#[command(name = "metarl", version, about = "Meta-RL benchmark harness: train and evaluate the papers' baselines on MuJoCo Controls and Meta-World ML1")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Meta-train an algorithm on an environment family and evaluate it on the held-out tasks.
    Train(TrainArgs),
    /// Re-run the meta-test evaluation of a finished or checkpointed run.
    Eval { run_dir: PathBuf },
    /// List, inspect and roll out environments.
    Envs {
        #[command(subcommand)]
        command: EnvsCommand,
    },
    /// Plan, run and collect campaigns (algorithms × environments × seeds), locally or on Slurm.
    Campaign {
        #[command(subcommand)]
        command: CampaignCommand,
    },
    /// Short deterministic learning runs checked against stored baselines.
    Regress {
        #[arg(long, default_value = "quick")]
        suite: String,
        #[arg(long)]
        update: bool,
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Measure speed: env stepping, training updates, raw MuJoCo stepping.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Offline datasets for FOCAL: behaviour policies per task, rolled out at quality levels.
    Offline {
        #[command(subcommand)]
        command: OfflineCommand,
    },
    /// Render a run's meta-test episodes to a video.
    Render { run_dir: PathBuf },
    /// Report what this build found (MuJoCo, libtorch, CUDA, assets, reference venv) and how to fix problems.
    Doctor,
}

/// The train contract of DESIGN.md, parsed now so scripts written against it keep working.
#[derive(Args)]
#[allow(dead_code)]
struct TrainArgs {
    algo: String,
    #[arg(long)]
    env: String,
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    steps: Option<u64>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    resume: bool,
}

#[derive(Clone, Copy, ValueEnum)]
#[allow(dead_code)]
enum DeviceArg {
    Cpu,
    Cuda,
}

#[derive(Subcommand)]
enum EnvsCommand {
    List,
    Show { env: String },
    Rollout { env: String },
}

#[derive(Subcommand)]
enum CampaignCommand {
    Plan,
    Run,
    Status,
    Collect,
}

#[derive(Subcommand)]
enum OfflineCommand {
    Collect { #[arg(long)] env: String },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Env steps/s against the raw mj_step limit and the Python reference.
    Envs,
    /// Gradient steps/s of an algorithm's update at the papers' sizes.
    Train,
    /// Raw mj_step throughput per model through our bindings (seeded random controls).
    Mujoco {
        /// MJCF files; default: the Gymnasium bodies of MuJoCo Controls and a Meta-World scene.
        #[arg(long = "model")]
        models: Vec<PathBuf>,
        #[arg(long, default_value_t = 20_000)]
        steps: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value = "results/bench/mujoco_step.csv")]
        out: PathBuf,
    },
}

/// A subcommand whose machinery has not landed yet: say where it will come from, and fail.
fn not_yet(command: &str, area: &str) -> Result<ExitCode> {
    anyhow::bail!("`metarl {command}` is not available in this version: it arrives with {area}")
}

fn bench_mujoco(models: Vec<PathBuf>, steps: usize, seed: u64, out: PathBuf) -> Result<ExitCode> {
    let models = if models.is_empty() { bench::default_models() } else { models };
    let progress = ProgressBar::new(models.len() as u64)
        .with_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")?);
    let mut rows = Vec::new();
    for path in &models {
        progress.set_message(path.display().to_string());
        rows.push(bench::step_rate(path, steps, seed)?);
        progress.inc(1);
    }
    progress.finish_and_clear();
    println!("{:<20} {:>4} {:>4} {:>4} {:>12}", "model", "nq", "nv", "nu", "mj_step/s");
    for r in &rows {
        println!("{:<20} {:>4} {:>4} {:>4} {:>12.0}", r.model, r.nq, r.nv, r.nu, r.steps_per_s);
    }
    bench::write_csv(&rows, &out)?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Doctor => {
            let report = doctor::run();
            print!("{report}");
            Ok(if report.healthy() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench { command: BenchCommand::Mujoco { models, steps, seed, out } } => bench_mujoco(models, steps, seed, out),
        Command::Bench { command: BenchCommand::Envs } => not_yet("bench envs", "the env ports and the performance work"),
        Command::Bench { command: BenchCommand::Train } => not_yet("bench train", "the learning core and the performance work"),
        Command::Train(args) => not_yet(
            &format!("train {} --env {}", args.algo, args.env),
            "the learning core (PEARL, oracle SAC) and each algorithm after it",
        ),
        Command::Eval { .. } => not_yet("eval", "the learning core's run folders and checkpoints"),
        Command::Envs { .. } => not_yet("envs", "the environment ports (MuJoCo Controls, point robot, Meta-World ML1)"),
        Command::Campaign { .. } => not_yet("campaign", "the campaign work (plan, local pool, Slurm, collection)"),
        Command::Regress { .. } => not_yet("regress", "the regression-baseline work"),
        Command::Offline { .. } => not_yet("offline", "FOCAL's offline datasets"),
        Command::Render { .. } => not_yet("render", "the rendering work"),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
