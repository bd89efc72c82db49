//! The `metarl` command line: one binary for every algorithm, suite and workflow (DESIGN.md, CLI).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use metarl::envs::metaworld::policies;
use metarl::envs::np_random::RandomState;
use metarl::envs::registry::{self, DEFAULT_TASK_SEED};
use metarl::envs::rollout::{self, Policy};
use metarl::envs::{npy, EnvError, EnvOptions, Suite, REGISTRY};
use metarl::protocol::config::{self, Algorithm, Config};
use metarl::protocol::meta_train::{RunSpec, Trainer};
use metarl::protocol::onpolicy::maml::MamlRunner;
use metarl::protocol::onpolicy::rl2::Rl2Runner;
use metarl::protocol::onpolicy::{OnPolicyAlgorithm, OnPolicyTrainer};
use metarl::{bench, doctor, suggest};

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

#[derive(Args)]
struct TrainArgs {
    /// pearl, oracle-sac, maml-trpo or rl2-ppo.
    algo: String,
    #[arg(long)]
    env: String,
    /// JSON config; default configs/<algo>/<env>.json, else configs/<algo>/<suite>.json, else the defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after the iteration that reaches this many env steps.
    #[arg(long)]
    steps: Option<u64>,
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// Run folder; default results/<suite>/<env>/<algo>/seed<k>.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in the folder from its checkpoint.
    #[arg(long)]
    resume: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    Cpu,
    Cuda,
}

impl DeviceArg {
    fn name(self) -> &'static str {
        match self {
            DeviceArg::Cpu => "cpu",
            DeviceArg::Cuda => "cuda",
        }
    }
}

#[derive(Subcommand)]
enum EnvsCommand {
    /// Every env: suite, observation and action sizes, horizon, train/test task counts.
    List {
        /// Only this suite (controls, point, dynamics, ml1).
        #[arg(long)]
        suite: Option<String>,
    },
    /// An env's train and test tasks for a task seed, as JSON.
    Show {
        env: String,
        #[arg(long, default_value_t = DEFAULT_TASK_SEED)]
        seed: u32,
    },
    /// Roll an env out on one task and write every step (obs, action, reward, flags) to JSON.
    Rollout(RolloutArgs),
}

#[derive(Args)]
struct RolloutArgs {
    env: String,
    /// Task index in the family's list (`metarl envs show ENV`).
    #[arg(long, default_value_t = 0)]
    task: usize,
    /// Seeds the reset noise and the random policy.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Seed of the task list.
    #[arg(long, default_value_t = DEFAULT_TASK_SEED)]
    task_seed: u32,
    /// Actions to replay, a JSON array of arrays or a 2-D float64 .npy; episodes follow one
    /// another until the actions run out.
    #[arg(long)]
    actions: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = PolicyArg::Random)]
    policy: PolicyArg,
    #[arg(long, default_value_t = 1)]
    episodes: usize,
    #[arg(long)]
    horizon: Option<usize>,
    /// Pay the summed reward every N steps (MCAT's delayed rewards).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    reward_delay: Option<u64>,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyArg {
    Random,
    Zero,
    /// The env's scripted policy (Meta-World only, `metaworld.policies`).
    Scripted,
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
    /// Env steps/s, the share spent in mj_step, and (with --reference) the Python reference's rate.
    Envs {
        /// Envs to measure; default: all.
        #[arg(long = "env")]
        envs: Vec<String>,
        #[arg(long, default_value_t = 20_000)]
        steps: usize,
        #[arg(long, default_value_t = 0)]
        seed: u32,
        /// Also time tools/reference_envs.py on the same envs (cache venv).
        #[arg(long)]
        reference: bool,
        #[arg(long, default_value = "results/bench/env_step.csv")]
        out: PathBuf,
    },
    /// PEARL family: time per gradient step of the update at the shipped config's sizes.
    /// maml-trpo, rl2-ppo: the sampler's env steps/s and the time per training iteration.
    Train {
        #[arg(long, default_value = "pearl")]
        algo: String,
        #[arg(long, default_value = "cheetah-vel")]
        env: String,
        /// Gradient steps timed (PEARL family).
        #[arg(long, default_value_t = 50)]
        steps: usize,
        #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
        device: DeviceArg,
        /// libtorch intra-op threads.
        #[arg(long, default_value_t = 1)]
        threads: i32,
        /// Training iterations timed (on-policy algorithms).
        #[arg(long, default_value_t = 1)]
        iterations: usize,
        /// Threads stepping the envs (on-policy algorithms).
        #[arg(long, default_value_t = 2)]
        sampler_threads: usize,
        #[arg(long, default_value = "results/bench/train_step.csv")]
        out: PathBuf,
    },
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

fn train(args: TrainArgs) -> Result<ExitCode> {
    let algorithm = Algorithm::parse(&args.algo)?;
    let entry = registry::lookup(&args.env)?;
    let dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(entry.suite.label()).join(&args.env).join(algorithm.name()).join(format!("seed{}", args.seed))
    });
    match algorithm {
        Algorithm::MamlTrpo => train_on_policy::<MamlRunner>(algorithm, &args, entry.suite.label(), &dir),
        Algorithm::Rl2Ppo => train_on_policy::<Rl2Runner>(algorithm, &args, entry.suite.label(), &dir),
        Algorithm::Pearl | Algorithm::OracleSac => train_pearl(algorithm, &args, entry.suite.label(), &dir),
    }
}

fn spec<C>(algorithm: Algorithm, args: &TrainArgs, config: C) -> RunSpec<C> {
    RunSpec { algorithm, env: args.env.clone(), seed: args.seed, max_env_steps: args.steps, device: args.device.name().into(), config }
}

fn spinner() -> Result<ProgressBar> {
    let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")?);
    bar.enable_steady_tick(std::time::Duration::from_millis(500));
    Ok(bar)
}

fn success_note(success: Option<f64>) -> String {
    success.map(|s| format!(", success {:.0}%", 100.0 * s)).unwrap_or_default()
}

fn train_pearl(algorithm: Algorithm, args: &TrainArgs, suite: &str, dir: &Path) -> Result<ExitCode> {
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::shipped(algorithm.name(), &args.env, suite)?,
    };
    let mut trainer = Trainer::open(spec(algorithm, args, config), dir, args.resume)?;
    let bar = spinner()?;
    let report = trainer.run(|r| bar.set_message(format!("iteration {} · {} env steps · test return {:.2}", r.iteration, r.env_steps, r.test_return)))?;
    bar.finish_and_clear();
    println!("iteration {}: {} env steps, {} gradient steps, test return {:.3}{}", report.iteration, report.env_steps, report.train_steps, report.test_return,
        success_note(report.test_success));
    println!("wrote {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn train_on_policy<A: OnPolicyAlgorithm>(algorithm: Algorithm, args: &TrainArgs, suite: &str, dir: &Path) -> Result<ExitCode> {
    let config: A::Config = match &args.config {
        Some(path) => config::read_file(path)?,
        None => config::shipped(algorithm.name(), &args.env, suite)?,
    };
    let mut trainer = OnPolicyTrainer::<A>::open(spec(algorithm, args, config), dir, args.resume)?;
    let bar = spinner()?;
    let row = trainer.run(|iteration, env_steps, test_return| bar.set_message(format!("iteration {iteration} · {env_steps} env steps · test return {test_return:.2}")))?;
    bar.finish_and_clear();
    let value = |name: &str| trainer.columns().iter().position(|c| *c == name).map(|i| row[i].clone()).unwrap_or_default();
    let success = value("test_success").parse::<f64>().ok();
    println!("iteration {}: {} env steps, test return {} (exploration episodes {}){}", value("iteration"), value("env_steps"), value("test_return"),
        value("test_explore_return"), success_note(success));
    println!("wrote {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn eval(run_dir: &Path) -> Result<ExitCode> {
    let config = run_dir.join("config.json");
    let text = std::fs::read(&config).with_context(|| format!("{} is not a run folder (no config.json)", run_dir.display()))?;
    let not_a_run = || format!("{} is not a run config", config.display());
    let algorithm: Algorithm = serde_json::from_value(serde_json::from_slice::<serde_json::Value>(&text).with_context(not_a_run)?["algorithm"].clone()).with_context(not_a_run)?;
    let summary = match algorithm {
        Algorithm::MamlTrpo => OnPolicyTrainer::<MamlRunner>::open(serde_json::from_slice(&text).with_context(not_a_run)?, run_dir, true)?.evaluate_checkpoint()?,
        Algorithm::Rl2Ppo => OnPolicyTrainer::<Rl2Runner>::open(serde_json::from_slice(&text).with_context(not_a_run)?, run_dir, true)?.evaluate_checkpoint()?,
        Algorithm::Pearl | Algorithm::OracleSac => Trainer::open(serde_json::from_slice(&text).with_context(not_a_run)?, run_dir, true)?.evaluate_checkpoint()?,
    };
    let mut csv = String::from("task,run,final_return,final_success\n");
    for (task, run, score, success) in &summary.rows {
        csv.push_str(&format!("{task},{run},{score},{}\n", success.map(|s| (s as u8).to_string()).unwrap_or_default()));
    }
    let out = run_dir.join(format!("reeval_iteration{}.csv", summary.iteration));
    metarl::results::write_atomic(&out, csv.as_bytes())?;
    println!("checkpoint of iteration {}: test return {:.3}{}", summary.iteration, summary.test_return, success_note(summary.test_success));
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn bench_envs(names: Vec<String>, steps: usize, seed: u32, reference: bool, out: PathBuf) -> Result<ExitCode> {
    let names = if names.is_empty() { REGISTRY.iter().map(|e| e.name.to_owned()).collect() } else { names };
    let mut rows = names.iter().map(|name| bench::env_rate(name, steps, seed)).collect::<Result<Vec<_>>>()?;
    if reference {
        // tools/reference_envs.py covers the Controls, point and dynamics suites.
        let covered: Vec<String> = names.iter().filter(|n| registry::lookup(n).is_ok_and(|e| e.suite != Suite::Metaworld)).cloned().collect();
        let rates = bench::reference_rates(&covered, steps)?;
        for row in &mut rows {
            row.reference_steps_per_s = rates.get(&row.env).and_then(|v| v.as_f64());
        }
    }
    println!("{:<20} {:>12} {:>9} {:>14} {:>8}", "env", "steps/s", "mj_step", "reference/s", "speedup");
    for r in &rows {
        let (reference, speedup) = match r.reference_steps_per_s {
            Some(p) => (format!("{p:.0}"), format!("{:.1}x", r.steps_per_s / p)),
            None => ("-".into(), "-".into()),
        };
        println!("{:<20} {:>12.0} {:>8.1}% {:>14} {:>8}", r.env, r.steps_per_s, 100.0 * r.physics_share, reference, speedup);
    }
    bench::write_csv(&rows, &out)?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn envs_list(suite: Option<String>) -> Result<ExitCode> {
    let suites = [Suite::Controls, Suite::Point, Suite::Dynamics, Suite::Metaworld];
    if let Some(wanted) = &suite {
        if !suites.iter().any(|s| s.label() == wanted) {
            let hint = suggest::closest_match(wanted, suites.iter().map(|s| s.label()));
            anyhow::bail!("unknown suite {wanted:?}{}; suites: controls, point, dynamics, ml1",
                hint.map(|h| format!(" (did you mean {h:?}?)")).unwrap_or_default());
        }
    }
    println!("{:<20} {:<9} {:>4} {:>4} {:>7} {:>6} {:>5}  summary", "env", "suite", "obs", "act", "horizon", "train", "test");
    for entry in REGISTRY.iter().filter(|e| suite.as_deref().map_or(true, |s| s == e.suite.label())) {
        let options = EnvOptions::default();
        let env = entry.make(&options)?;
        let tasks = entry.tasks(&options, DEFAULT_TASK_SEED)?;
        println!("{:<20} {:<9} {:>4} {:>4} {:>7} {:>6} {:>5}  {}", entry.name, entry.suite.label(), env.observation_dim(),
            env.action_space().dim(), entry.horizon, tasks.train.len(), tasks.test.len(), entry.summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn envs_show(env: &str, seed: u32) -> Result<ExitCode> {
    let tasks = registry::lookup(env)?.tasks(&EnvOptions::default(), seed)?;
    println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "env": env, "task_seed": seed, "train": tasks.train, "test": tasks.test }))?);
    Ok(ExitCode::SUCCESS)
}

fn read_actions(path: &Path) -> Result<Vec<Vec<f64>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read actions from {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "npy") {
        npy::read_f64_rows(&bytes).with_context(|| format!("{}", path.display()))
    } else {
        serde_json::from_slice(&bytes).with_context(|| format!("{}: expected a JSON array of action arrays", path.display()))
    }
}

fn envs_rollout(args: RolloutArgs) -> Result<ExitCode> {
    let entry = registry::lookup(&args.env)?;
    let options = EnvOptions { horizon: args.horizon, reward_delay: args.reward_delay.map(|n| n as usize), ..EnvOptions::default() };
    let tasks = entry.tasks(&options, args.task_seed)?;
    let all = tasks.all();
    let task = tasks.get(args.task).ok_or(EnvError::TaskOutOfRange {
        env: args.env.clone(), index: args.task, count: all.len(), train: tasks.train.len(), test: tasks.test.len(),
    })?;
    let mut env = entry.make(&options)?;
    env.seed(args.seed);
    env.set_task(task)?;
    let mut episodes = Vec::new();
    match &args.actions {
        Some(path) => {
            let mut policy = Policy::Replay(read_actions(path)?.into_iter());
            loop {
                let episode = rollout::run_episode(env.as_mut(), &mut policy)?;
                if episode.steps.is_empty() {
                    break;
                }
                episodes.push(episode);
            }
        }
        None => {
            let mut policy = match args.policy {
                PolicyArg::Random => Policy::Random(RandomState::new(args.seed)),
                PolicyArg::Zero => Policy::Zero,
                PolicyArg::Scripted if entry.suite == Suite::Metaworld => Policy::Scripted(policies::lookup(entry.name)?),
                PolicyArg::Scripted => {
                    anyhow::bail!("{} has no scripted policy: `--policy scripted` is for Meta-World envs (`metarl envs list --suite ml1`)", entry.name)
                }
            };
            for _ in 0..args.episodes {
                episodes.push(rollout::run_episode(env.as_mut(), &mut policy)?);
            }
        }
    }
    let report = serde_json::json!({ "env": args.env, "task": task, "seed": args.seed, "task_seed": args.task_seed, "episodes": episodes });
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string(&report)?).with_context(|| format!("cannot write {}", args.out.display()))?;
    for (i, episode) in episodes.iter().enumerate() {
        println!("episode {i}: {} steps, return {:.3}", episode.steps.len(), episode.total_reward());
    }
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
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
        Command::Bench { command: BenchCommand::Envs { envs, steps, seed, reference, out } } => bench_envs(envs, steps, seed, reference, out),
        Command::Bench { command: BenchCommand::Train { algo, env, steps, device, threads, iterations, sampler_threads, out } } => {
            tch::set_num_threads(threads);
            let algorithm = Algorithm::parse(&algo)?;
            if algorithm.is_on_policy() {
                let rate = match algorithm {
                    Algorithm::MamlTrpo => bench::on_policy_rate::<MamlRunner>(algorithm, &env, iterations, sampler_threads, device.name())?,
                    _ => bench::on_policy_rate::<Rl2Runner>(algorithm, &env, iterations, sampler_threads, device.name())?,
                };
                println!("{} on {} ({}, {} envs, {} sampler thread(s)): {:.0} env steps/s while sampling ({} steps), {:.2} s per iteration",
                    rate.algo, rate.env, rate.device, rate.envs, rate.sampler_threads, rate.steps_per_s, rate.env_steps, rate.iteration_s);
                bench::write_csv(&[rate], &out)?;
                println!("wrote {}", out.display());
                return Ok(ExitCode::SUCCESS);
            }
            let device = metarl::protocol::run_dir::parse_device(device.name())?;
            let rate = bench::train_step_rate(&algo, &env, steps, device)?;
            println!("{} on {} ({}, {threads} thread(s)): {:.1} ms per gradient step over {} steps", rate.algo, rate.env, rate.device, rate.ms_per_step, rate.steps);
            bench::write_csv(&[rate], &out)?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Train(args) => train(args),
        Command::Eval { run_dir } => eval(&run_dir),
        Command::Envs { command: EnvsCommand::List { suite } } => envs_list(suite),
        Command::Envs { command: EnvsCommand::Show { env, seed } } => envs_show(&env, seed),
        Command::Envs { command: EnvsCommand::Rollout(args) } => envs_rollout(args),
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
