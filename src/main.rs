//! The `metarl` command line: one binary for every algorithm, suite and workflow (DESIGN.md, CLI).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use metarl::progress::{Line, Progress};

use metarl::envs::metaworld::policies;
use metarl::envs::np_random::RandomState;
use metarl::envs::registry::{self, DEFAULT_TASK_SEED};
use metarl::envs::rollout::{self, Policy};
use metarl::envs::{npy, parity, EnvError, EnvOptions, Suite, REGISTRY};
use metarl::protocol::config::{self, Algorithm, Config};
use metarl::protocol::driver::{self, drive, TrainingRun};
use metarl::protocol::embeddings;
use metarl::protocol::mcat::{transfer_eval, McatTrainer, TransferEvalSpec};
use metarl::protocol::meta_train::{RunSpec, Trainer};
use metarl::protocol::offline::train::{OfflineSpec, OfflineTrainer};
use metarl::protocol::offline::{collect, FocalConfig};
use metarl::protocol::onpolicy::maml::MamlRunner;
use metarl::protocol::onpolicy::rl2::Rl2Runner;
use metarl::protocol::onpolicy::{OnPolicyAlgorithm, OnPolicyTrainer};
use metarl::{bench, doctor};

#[derive(Parser)]
#[command(name = "metarl", version, about = "Meta-RL benchmark harness: train and evaluate the papers' baselines on MuJoCo Controls and Meta-World ML1")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// libtorch's CPU kernels: reproducible (the same bits on any x86-64 machine, slower) or fast
    /// (the CPU's widest kernels). Default: $METARL_NUMERICS, else the mode a run was trained in
    /// for eval, render, analyze and --resume, reproducible for `regress` and `numerics`, fast
    /// for the rest.
    #[arg(long, global = true, value_enum)]
    numerics: Option<metarl::numerics::Numerics>,
}

#[derive(Subcommand)]
enum Command {
    /// Meta-train an algorithm on an environment family and evaluate it on the held-out tasks.
    Train(TrainArgs),
    /// Re-run the meta-test evaluation of a finished or checkpointed run.
    Eval { run_dir: PathBuf },
    /// Analyse a run's checkpoint.
    Analyze {
        #[command(subcommand)]
        command: AnalyzeCommand,
    },
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
    /// This machine's numerics: CPU, ISA, the kernels libtorch may use, and the fingerprint of a
    /// few gradient steps, checked in reproducible mode against the bits every machine gives.
    Numerics {
        /// Gradient steps fingerprinted per algorithm.
        #[arg(long, default_value_t = metarl::numerics::FINGERPRINT_STEPS)]
        steps: usize,
    },
    /// Short deterministic learning runs checked against stored baselines.
    Regress {
        /// quick (CI, 2 cores) or full (adds MuJoCo Controls runs; a bigger machine or a GPU).
        #[arg(long, default_value = "quick")]
        suite: String,
        /// Re-record the selected cases' baselines over --seeds (the others are kept).
        #[arg(long)]
        update: bool,
        /// Only the cases of these algorithms.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Seeds to run: a baseline is recorded over them (--update; default 0-4); a check runs
        /// them (default 0), judging one seed by the band and several by Welch's t-test.
        #[arg(long, value_delimiter = ',')]
        seeds: Vec<u64>,
        /// Runs at once, each its own process (default: the cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Fail a case whose seed-0 value is not the baseline's bit for bit (where the baseline
        /// is comparable: same numerics mode, and in fast mode the same CPU).
        #[arg(long)]
        exact: bool,
        #[arg(long, default_value = "results/regress")]
        out: PathBuf,
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
    /// MCAT's experiments beyond training (papers/004).
    Mcat {
        #[command(subcommand)]
        command: McatCommand,
    },
    /// Film a run's checkpoint on a test task through the meta-test protocol (exploration
    /// episodes, then adapted ones): a GIF or PNG frames with episode, return and success drawn.
    Render(RunRenderArgs),
    /// Watch an env under a policy, or a trained run's meta-test, live in MuJoCo's interactive
    /// viewer (needs a display): real time, episodes looping; Space pauses, N steps, R restarts,
    /// PageDown/PageUp switch task, F1 shows the viewer's own keys.
    View(ViewArgs),
    /// Report what this build found (MuJoCo, libtorch, CUDA, assets, reference venv) and how to fix problems.
    Doctor,
}

#[derive(Args)]
struct ViewArgs {
    /// An env (`metarl envs list`) or a run folder (its meta-test on a test task).
    target: String,
    /// Task index: in the env's family list (`metarl envs show ENV`), or in the run's test tasks.
    #[arg(long, default_value_t = 0)]
    task: usize,
    /// The env's policy (a run plays its own).
    #[arg(long, value_enum, default_value_t = PolicyArg::Random)]
    policy: PolicyArg,
    /// Seeds the reset noise and the random policy.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Seed of the env's task list.
    #[arg(long, default_value_t = DEFAULT_TASK_SEED)]
    task_seed: u32,
    /// Close the window after this many seconds.
    #[arg(long)]
    seconds: Option<f64>,
}

#[derive(Subcommand)]
enum AnalyzeCommand {
    /// How well the context encoder separates tasks (papers/001 §5.5, Table 2): windows from
    /// rollouts of the checkpoint's policy on test tasks, encoded by the checkpoint's encoder and
    /// by the run's initial one; metrics as CSV, a PCA scatter as PNG.
    Embeddings {
        run_dir: PathBuf,
        /// Test tasks to roll out (the first K of the run's test list).
        #[arg(long, default_value_t = 8)]
        tasks: usize,
        /// Rollouts per task, and windows encoded per task.
        #[arg(long, default_value_t = 50)]
        rollouts: usize,
        /// Window size; default the run's contrastive_window (whole trajectories when longer).
        #[arg(long)]
        window: Option<usize>,
        /// Output folder; default <run-dir>/analysis.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum McatCommand {
    /// Policy transfer with a fixed dataset (papers/004 §5.1, Table 1): a TD3 source policy
    /// trained with dense rewards on a source task, a dataset of its noisy episodes on the source
    /// and a target task, C/F/H trained on it; then the source policy on the source task, the
    /// source policy on the target task and the transferred policy on the target task: returns and
    /// the mean distance of their states to the source policy's on the source task. Writes CSV.
    TransferEval {
        #[arg(long, default_value = "point-robot-wind")]
        env: String,
        /// Source and target task indices, over the train tasks and then the test tasks (0..n_train
        /// are train tasks, n_train.. test tasks); default the two train tasks farthest apart.
        #[arg(long)]
        source: Option<usize>,
        #[arg(long)]
        target: Option<usize>,
        /// MCAT JSON config (networks, K, M, batch sizes, learning rates); default
        /// configs/mcat/<env>.json.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Dense-reward TD3 episodes that train the source policy.
        #[arg(long, default_value_t = 60)]
        source_episodes: usize,
        /// Episodes per task in the fixed dataset, and the noise σ of its (mediocre) policy.
        #[arg(long, default_value_t = 40)]
        dataset_episodes: usize,
        #[arg(long, default_value_t = 0.6)]
        dataset_noise: f64,
        /// Gradient steps of C/F, then of H, on the dataset.
        #[arg(long, default_value_t = 2000)]
        model_steps: usize,
        #[arg(long, default_value_t = 2000)]
        translator_steps: usize,
        #[arg(long, default_value_t = 5)]
        eval_episodes: usize,
        #[arg(long, default_value = "results/mcat/transfer_eval.csv")]
        out: PathBuf,
    },
}

#[derive(Args)]
struct TrainArgs {
    /// pearl, oracle-sac, tcl, cocoa, maml-trpo, rl2-ppo, focal (offline: with --dataset) or mcat.
    algo: String,
    #[arg(long)]
    env: String,
    /// JSON config file (fields not in it keep their defaults); default the shipped
    /// configs/<algo>/<env>.json, else configs/<algo>/<suite>.json, built into the binary
    /// ($METARL_CONFIGS: a folder laid out like configs/ read instead).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override one config field on top of the config, typed as in a config file (repeat for
    /// more): --set num_iterations=100 --set hidden_sizes=[64,64]. Recorded in config.json.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
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
    /// focal: the offline dataset folder (`metarl offline collect`).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// MCAT: pay the rewards every N steps (papers/004 §5.2: 200, 350, 500), over the config's.
    #[arg(long)]
    reward_delay: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
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
    /// Film an env on one task under a policy (headless, MuJoCo's renderer): a GIF or PNG frames.
    Render(RenderArgs),
    /// Replay the Python reference's episodes live (ML1: the `metaworld` package in the cache
    /// venv) and print per env the largest observation and reward differences and any flag or
    /// success mismatch; exits non-zero if an env is off.
    Parity {
        /// ML1 envs to check (or --suite ml1).
        envs: Vec<String>,
        #[arg(long)]
        suite: Option<String>,
        /// Full episodes per env: even ones random actions, odd ones the scripted policy.
        #[arg(long, default_value_t = 3)]
        episodes: usize,
        /// ML1 task seed and action seed.
        #[arg(long, default_value_t = 123)]
        seed: u32,
        #[arg(long, default_value = "results/parity/ml1.csv")]
        out: PathBuf,
    },
}

/// Which env, task and policy an episode runs (`envs rollout` and `envs render`).
#[derive(Args)]
struct EpisodeArgs {
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
    #[arg(long, value_enum, default_value_t = PolicyArg::Random)]
    policy: PolicyArg,
    #[arg(long, default_value_t = 1)]
    episodes: usize,
    #[arg(long)]
    horizon: Option<usize>,
    /// Pay the summed reward every N steps (MCAT's delayed rewards).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    reward_delay: Option<u64>,
}

#[derive(Args)]
struct RolloutArgs {
    #[command(flatten)]
    episode: EpisodeArgs,
    /// Actions to replay, a JSON array of arrays or a 2-D float64 .npy; episodes follow one
    /// another until the actions run out.
    #[arg(long)]
    actions: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

/// How episodes are filmed (`envs render` and `render`).
#[derive(Args)]
struct FilmArgs {
    /// A camera of the model (Meta-World: corner, corner2, corner3, corner4, topview,
    /// behindGripper, gripperPOV; MuJoCo Controls: track); default corner2 / track.
    #[arg(long)]
    camera: Option<String>,
    /// Keep Meta-World's corner cameras as defined (upside down) instead of turning them upright.
    #[arg(long)]
    as_defined: bool,
    #[arg(long, default_value_t = 320)]
    width: usize,
    #[arg(long, default_value_t = 240)]
    height: usize,
    /// Keep every k-th step as a frame (software rendering takes ~0.1 s a frame at 320×240).
    #[arg(long, default_value_t = 5)]
    every: usize,
    #[arg(long, default_value_t = 20)]
    fps: u16,
    /// FILE.gif, or a folder for PNG frames.
    #[arg(long)]
    out: PathBuf,
}

impl FilmArgs {
    fn recorder(&self, env: &dyn metarl::envs::Env, suite: Suite) -> Result<metarl::video::Recorder> {
        let camera = self.camera.clone().map_or_else(|| metarl::envs::camera::default_camera(env, suite), metarl::sim::Camera::Named);
        let rotate = !self.as_defined && metarl::envs::camera::upside_down(&camera, suite);
        metarl::video::Recorder::new(env, camera, rotate, self.width, self.height)
    }
}

#[derive(Args)]
struct RenderArgs {
    #[command(flatten)]
    episode: EpisodeArgs,
    #[command(flatten)]
    film: FilmArgs,
}

#[derive(Args)]
struct RunRenderArgs {
    run_dir: PathBuf,
    /// Test task index (0-based, in the run's test tasks).
    #[arg(long, default_value_t = 0)]
    task: usize,
    /// Film only the first K episodes of the meta-test run (default: all of them).
    #[arg(long)]
    episodes: Option<usize>,
    #[command(flatten)]
    film: FilmArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyArg {
    Random,
    Zero,
    /// The env's scripted policy (Meta-World only, `metaworld.policies`).
    Scripted,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Backend {
    Local,
    Slurm,
}

#[derive(Subcommand)]
enum CampaignCommand {
    /// Write a campaign folder: manifest.csv (one line per run) and the resolved configs;
    /// every name and override is checked first.
    Plan {
        /// A suite (ml1, controls, point, dynamics) or a comma-separated list of envs.
        #[arg(long)]
        suite: String,
        #[arg(long, value_delimiter = ',')]
        algos: Vec<String>,
        #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
        seeds: Vec<u64>,
        /// Env-step budget per run (`train --steps`): a count, or with k / M (papers/001 runs ML1
        /// to 1M, papers/000 to 2.5M).
        #[arg(long, value_parser = metarl::campaign::parse_step_count)]
        steps: Option<u64>,
        /// Config fields set on top of every shipped config: field=value ... (JSON values, e.g.
        /// num_iterations=50 'encoder_hidden=[64,64]').
        #[arg(long, num_args = 1..)]
        config_overrides: Vec<String>,
        /// The device every run trains on (recorded in manifest.csv, passed to `metarl train`).
        #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
        device: DeviceArg,
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a planned campaign: complete runs skipped, checkpointed ones resumed, crashes retried.
    /// `--backend local` runs a worker pool here; `--backend slurm` submits one job array.
    Run {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Backend::Local)]
        backend: Backend,
        /// Runs at once (local backend; default: the cores). Threads per run come from the
        /// config (`--config-overrides threads=T` at plan time).
        #[arg(long)]
        jobs: Option<usize>,
        /// Retries of a crashed run, each resuming from its checkpoint.
        #[arg(long, default_value_t = 2)]
        retries: usize,
        /// Slurm: partition of the array's tasks.
        #[arg(long)]
        partition: Option<String>,
        /// Slurm: time limit per task (sbatch --time).
        #[arg(long)]
        time: Option<String>,
        /// Slurm: CPUs per task.
        #[arg(long, default_value_t = 1)]
        cpus_per_task: usize,
        /// Slurm: memory per task (sbatch --mem).
        #[arg(long)]
        mem: Option<String>,
        /// Slurm: generic resources per task, e.g. gpu:1.
        #[arg(long)]
        gres: Option<String>,
        /// Slurm: account charged (sbatch --account).
        #[arg(long)]
        account: Option<String>,
        /// Slurm: quality of service (sbatch --qos).
        #[arg(long)]
        qos: Option<String>,
        /// Slurm: node features required (sbatch --constraint), e.g. 'a100|h100'.
        #[arg(long)]
        constraint: Option<String>,
        /// Slurm: any other sbatch option, written as an #SBATCH line (repeatable), e.g.
        /// --sbatch=--mail-type=END.
        #[arg(long, allow_hyphen_values = true)]
        sbatch: Vec<String>,
        /// Slurm: a shell line each task runs before metarl (repeatable), e.g.
        /// --setup 'module load cuda/12.4'.
        #[arg(long)]
        setup: Vec<String>,
        /// Slurm: at most this many tasks of each array at once.
        #[arg(long)]
        max_concurrent: Option<usize>,
        /// Slurm: task ids per array; default the cluster's MaxArraySize (scontrol show config).
        #[arg(long)]
        max_array_size: Option<usize>,
        /// Seconds a run lock stays valid without renewal (the holder renews it every tenth);
        /// after that another runner, on any node, takes the run over.
        #[arg(long, default_value_t = metarl::campaign::lock::DEFAULT_LEASE_S)]
        lease: u64,
        /// Slurm: seconds a task waits for a run (or dataset) another live process holds before
        /// it fails.
        #[arg(long, default_value_t = DEFAULT_MAX_WAIT_S)]
        max_wait: u64,
        /// Slurm: write the sbatch scripts without submitting them.
        #[arg(long)]
        no_submit: bool,
        /// Slurm: wait until the arrays have left the queue, then report.
        #[arg(long)]
        wait: bool,
    },
    /// Run one line of the manifest (what each Slurm array task calls): by its index, or by an
    /// array task id and the task list of its submission.
    RunOne {
        dir: PathBuf,
        #[arg(long, required_unless_present = "tasks")]
        index: Option<usize>,
        /// A task list of `campaign run --backend slurm` (slurm/s<N>/part<k>.tasks).
        #[arg(long, requires = "task_id")]
        tasks: Option<PathBuf>,
        #[arg(long)]
        task_id: Option<usize>,
        #[arg(long, default_value_t = 2)]
        retries: usize,
        /// Seconds the run lock stays valid without renewal.
        #[arg(long, default_value_t = metarl::campaign::lock::DEFAULT_LEASE_S)]
        lease: u64,
        /// Seconds to wait for a run (or dataset) another live process holds, then fail.
        #[arg(long, default_value_t = DEFAULT_MAX_WAIT_S)]
        max_wait: u64,
    },
    /// Per run: complete, partial (checkpoint iteration), running (locked) or pending.
    Status { dir: PathBuf },
    /// Aggregate the run folders into the papers' tables and curves.
    Collect {
        dir: PathBuf,
        /// Each run's score is its meta-test return (success) averaged over the iterations of its
        /// last this many env steps (papers/001 Tables 1 and 3: 100k); 0 takes the last iteration.
        /// Offline runs, which take no env steps, score their last iteration.
        #[arg(long, value_parser = metarl::campaign::parse_step_count, default_value = "100k")]
        window: u64,
    },
}

/// How long a Slurm task waits by default for a run or dataset another live process holds (an
/// offline env's dataset, collected by one of its seeds while the others wait, takes hours).
const DEFAULT_MAX_WAIT_S: u64 = 2 * 24 * 3600;

#[derive(Subcommand)]
enum OfflineCommand {
    /// Per task (train and test), a SAC behaviour policy trained from scratch as pytorch_sac
    /// trains FOCAL-ICLR's, checkpointed every `checkpoint_every` env steps after the
    /// `behaviour_initial_steps` random ones; each checkpoint rolled out `n_trj` times into the
    /// task's `.npz`, levels random/medium/expert/mixed in its `.json`. Complete tasks are skipped.
    Collect {
        #[arg(long)]
        env: String,
        /// JSON config (FOCAL's fields); default configs/focal/<env>.json.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Dataset folder; default data/offline/<env>.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Args)]
struct BenchEnvsArgs {
    /// Envs to measure; default: all.
    #[arg(long = "env")]
    envs: Vec<String>,
    /// Every env of a suite (controls, point, dynamics, ml1).
    #[arg(long)]
    suite: Option<String>,
    /// Steps per env per round.
    #[arg(long, default_value_t = 5_000)]
    steps: usize,
    /// Rounds; each figure is the median over them.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Also time the Python references on the same envs, in turn with ours (cache venv: the
    /// `metaworld` package for ML1, tools/reference_envs.py for the others).
    #[arg(long)]
    reference: bool,
    /// Thread counts for the scaling table, e.g. 1,2,16.
    #[arg(long, value_delimiter = ',')]
    threads: Vec<usize>,
    #[arg(long, default_value = "results/bench/env_step.csv")]
    out: PathBuf,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Env steps/s against the raw mj_step limit of the same physics and (--reference) the
    /// Python reference; --threads adds scaling over independent envs on N threads.
    Envs(BenchEnvsArgs),
    /// PEARL family: time per gradient step of the update at the shipped config's sizes; with
    /// several (`--algo pearl,tcl`), steps taken in turn and each one's extra cost over the first.
    /// maml-trpo, rl2-ppo: the sampler's env steps/s and the time per training iteration.
    Train {
        #[arg(long, default_value = "pearl", value_delimiter = ',')]
        algo: Vec<String>,
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
        /// Also time PEARL's update in eager PyTorch at the same sizes
        /// (tools/reference_pearl_update.py in the cache venv), in turn with ours.
        #[arg(long)]
        reference: bool,
        /// Training iterations timed (on-policy algorithms).
        #[arg(long, default_value_t = 1)]
        iterations: usize,
        /// Threads stepping the envs (on-policy algorithms).
        #[arg(long, default_value_t = 2)]
        sampler_threads: usize,
        #[arg(long, default_value = "results/bench/train_step.csv")]
        out: PathBuf,
    },
    /// Env steps per second of the learner's batched sampler (several envs, one policy forward per step).
    Sampler {
        #[arg(long, default_value = "pearl")]
        algo: String,
        #[arg(long, default_value = "cheetah-vel")]
        env: String,
        /// Envs stepped together, one setting per value.
        #[arg(long, value_delimiter = ',', default_value = "1,8")]
        envs: Vec<usize>,
        /// Env-stepping threads, one setting per value (crossed with --envs).
        #[arg(long, value_delimiter = ',', default_value = "1")]
        threads: Vec<usize>,
        #[arg(long, default_value_t = 20_000)]
        steps: usize,
        /// Repetitions, interleaved across settings.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value = "results/bench/sampler.csv")]
        out: PathBuf,
    },
    /// Raw mj_step throughput per model through our bindings (seeded random controls).
    /// MuJoCo's renderer in each OpenGL context of this build (OSMesa; EGL through mujoco-rs):
    /// frames/s, and the distance of a Meta-World frame from the Python bindings' renderer.
    Render {
        #[arg(long = "env", default_values_t = ["reach-v3".to_string(), "cheetah-vel".to_string()])]
        envs: Vec<String>,
        #[arg(long, default_value_t = 320)]
        width: usize,
        #[arg(long, default_value_t = 240)]
        height: usize,
        /// Frames per context per round (one per env step).
        #[arg(long, default_value_t = 100)]
        frames: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value = "results/bench/render.csv")]
        out: PathBuf,
    },
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

impl TrainArgs {
    /// `--out`, else `results/<suite>/<env>/<algo>/seed<k>`.
    fn run_dir(&self) -> Result<PathBuf> {
        if let Some(out) = &self.out {
            return Ok(out.clone());
        }
        let (algorithm, entry) = (Algorithm::parse(&self.algo)?, registry::lookup(&self.env)?);
        Ok(PathBuf::from("results").join(entry.suite.label()).join(&self.env).join(algorithm.name()).join(format!("seed{}", self.seed)))
    }
}

/// Marks an error that stops `metarl train` before its first iteration (a config or argument it
/// cannot run with, a device this node lacks): the process exits with status 2
/// (`campaign::local::EXIT_REFUSED`) and a campaign does not retry it.
#[derive(Debug)]
struct CannotStart;

impl std::fmt::Display for CannotStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the run cannot start")
    }
}

fn starting<T>(result: Result<T>) -> Result<T> {
    result.map_err(|e| if e.downcast_ref::<CannotStart>().is_some() { e } else { e.context(CannotStart) })
}

/// Records where a new run's config values came from (`config_sources.json` in its folder).
fn write_sources(dir: &Path, sources: &config::ConfigSources, resume: bool) -> Result<()> {
    let path = dir.join("config_sources.json");
    if resume && path.exists() {
        return Ok(());
    }
    metarl::results::write_atomic(&path, format!("{}\n", serde_json::to_string_pretty(sources)?).as_bytes())
}


fn train(args: TrainArgs) -> Result<ExitCode> {
    let algorithm = starting(Algorithm::parse(&args.algo))?;
    if args.reward_delay.is_some() && algorithm != Algorithm::Mcat {
        starting(Err(anyhow::anyhow!("--reward-delay is read by mcat only; {} runs set no reward delay", algorithm.name())))?;
    }
    let entry = starting(registry::lookup(&args.env).map_err(anyhow::Error::from))?;
    let dir = starting(args.run_dir())?;
    if args.device == DeviceArg::Cuda {
        starting(metarl::protocol::run_dir::parse_device("cuda").map(drop))?;
    }
    let mut learner = starting(open_learner(algorithm, &args, entry.suite.label(), &dir))?;
    let mut progress = Progress::start(learner.label(), Some(learner.planned_iterations() as u64));
    let row = drive(learner.as_mut(), |columns, row| progress.iteration(&Line::of_row(columns, row)))?;
    progress.finish();
    println!("{}", final_line(&learner.progress_columns(), &row));
    drop(learner);
    if matches!(algorithm, Algorithm::Tcl | Algorithm::Cocoa) {
        // The trained encoder's task clusters, as `metarl analyze embeddings`.
        if let Some(analysis) = embeddings::analyze_trained(&dir)? {
            println!("embeddings: {}", analysis.png.display());
        }
    }
    println!("wrote {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The run's learner, new or resumed (`--resume`): its config (the shipped or `--config` file,
/// then `--set`), checked as `campaign plan` checks it; `config_sources.json` written.
fn open_learner(algorithm: Algorithm, args: &TrainArgs, suite: &str, dir: &Path) -> Result<Box<dyn TrainingRun>> {
    let (learner, sources): (Box<dyn TrainingRun>, _) = match algorithm {
        Algorithm::Pearl | Algorithm::OracleSac | Algorithm::Tcl | Algorithm::Cocoa => {
            let (config, sources) = config::with_overrides(Config::load(args.config.as_deref(), algorithm.name(), &args.env, suite)?, &args.set)?;
            config::checks::pearl(algorithm, &config)?;
            (Box::new(Trainer::open(spec(algorithm, args, config), dir, args.resume)?), sources)
        }
        Algorithm::MamlTrpo => open_on_policy::<MamlRunner>(algorithm, args, suite, dir)?,
        Algorithm::Rl2Ppo => open_on_policy::<Rl2Runner>(algorithm, args, suite, dir)?,
        Algorithm::Mcat => {
            let (mut config, mut sources) = config::with_overrides(config::load::<config::McatConfig>(args.config.as_deref(), "mcat", &args.env, suite)?, &args.set)?;
            if args.reward_delay.is_some() {
                config.reward_delay = args.reward_delay;
                sources.fields.insert("reward_delay".into(), "--reward-delay".into());
            }
            config::checks::mcat(&config)?;
            (Box::new(McatTrainer::open(spec(Algorithm::Mcat, args, config), dir, args.resume)?), sources)
        }
        Algorithm::Focal => {
            let Some(dataset) = args.dataset.clone() else {
                anyhow::bail!("{} trains offline: pass --dataset DIR (a folder of `metarl offline collect --env {}`)", algorithm.name(), args.env);
            };
            anyhow::ensure!(args.steps.is_none(), "--steps: {} takes no env steps while training; set num_iterations in its config", algorithm.name());
            let (config, sources) = config::with_overrides(config::load::<FocalConfig>(args.config.as_deref(), "focal", &args.env, suite)?, &args.set)?;
            config::checks::focal(&config)?;
            let spec = OfflineSpec { algorithm, env: args.env.clone(), seed: args.seed, dataset, device: args.device.name().into(), config };
            (Box::new(OfflineTrainer::open(spec, dir, args.resume)?), sources)
        }
    };
    write_sources(dir, &sources, args.resume)?;
    Ok(learner)
}

fn open_on_policy<A: OnPolicyAlgorithm + 'static>(algorithm: Algorithm, args: &TrainArgs, suite: &str, dir: &Path) -> Result<(Box<dyn TrainingRun>, config::ConfigSources)> {
    let (config, sources) = config::with_overrides(config::load::<A::Config>(args.config.as_deref(), algorithm.name(), &args.env, suite)?, &args.set)?;
    config::checks::on_policy(A::run_config(&config), algorithm == Algorithm::MamlTrpo)?;
    Ok((Box::new(OnPolicyTrainer::<A>::open(spec(algorithm, args, config), dir, args.resume)?), sources))
}

/// A run folder's learner, resumed from its checkpoint (`eval`).
fn resume_learner(run_dir: &Path) -> Result<Box<dyn TrainingRun>> {
    let (algorithm, spec) = run_config(run_dir)?;
    Ok(match algorithm {
        Algorithm::MamlTrpo => Box::new(OnPolicyTrainer::<MamlRunner>::open(serde_json::from_value(spec)?, run_dir, true)?),
        Algorithm::Rl2Ppo => Box::new(OnPolicyTrainer::<Rl2Runner>::open(serde_json::from_value(spec)?, run_dir, true)?),
        Algorithm::Mcat => Box::new(McatTrainer::open(serde_json::from_value(spec)?, run_dir, true)?),
        Algorithm::Pearl | Algorithm::OracleSac | Algorithm::Tcl | Algorithm::Cocoa => Box::new(Trainer::open(serde_json::from_value(spec)?, run_dir, true)?),
        Algorithm::Focal => Box::new(OfflineTrainer::open(serde_json::from_value(spec)?, run_dir, true)?),
    })
}

/// A fractional CSV value to 3 decimals; integers as they are.
fn three_decimals(value: &str) -> String {
    match value.parse::<f64>() {
        Ok(v) if value.contains('.') => format!("{v:.3}"),
        _ => value.to_string(),
    }
}

/// The closing line of `metarl train`: the last iteration's budget counters, test return and
/// success, and the family's own headline columns.
fn final_line(columns: &[&str], row: &[String]) -> String {
    let value = |column| driver::value(columns, row, column);
    let mut parts = vec![];
    for (column, label) in [("env_steps", "env steps"), ("train_steps", "gradient steps")] {
        if let Some(v) = value(column) {
            parts.push(format!("{v} {label}"));
        }
    }
    let test_return = value("test_return").and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    parts.push(format!("test return {test_return:.3}{}", success_note(value("test_success").and_then(|v| v.parse().ok()))));
    let extras: Vec<String> = [
        ("test_explore_return", "exploration episodes"),
        ("train_return", "train return"),
        ("transfer_episodes", "transferred episodes"),
        ("effective_separation_rate", "effective separation rate"),
        ("rms_embedding_distance", "RMS embedding distance"),
    ]
    .iter()
    .filter_map(|(column, label)| value(column).map(|v| format!("{label} {}", three_decimals(v))))
    .collect();
    let extras = if extras.is_empty() { String::new() } else { format!(" ({})", extras.join(", ")) };
    format!("iteration {}: {}{extras}", value("iteration").unwrap_or("?"), parts.join(", "))
}

fn offline_collect(env: &str, config: Option<&Path>, out: Option<PathBuf>, seed: u64) -> Result<ExitCode> {
    let entry = registry::lookup(env)?;
    let config = FocalConfig::load(config, env, entry.suite.label())?;
    let out = out.unwrap_or_else(|| PathBuf::from("data/offline").join(env));
    collect::collect(env, &config, &out, seed, |task| {
        let returns: Vec<String> = task.level_returns.iter().map(|(level, r)| format!("{level} {r:.2}")).collect();
        println!("{} task {}{}: mean return {}", task.split, task.index, if task.skipped { " (already collected)" } else { "" }, returns.join(", "));
    })?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn spec<C>(algorithm: Algorithm, args: &TrainArgs, config: C) -> RunSpec<C> {
    RunSpec { algorithm, env: args.env.clone(), seed: args.seed, max_env_steps: args.steps, device: args.device.name().into(), config }
}

fn success_note(success: Option<f64>) -> String {
    success.map(|s| format!(", success {:.0}%", 100.0 * s)).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
/// `steps`: source episodes, dataset episodes, model steps, translator steps, eval episodes.
fn mcat_transfer_eval(env: String, source: Option<usize>, target: Option<usize>, config_path: Option<PathBuf>, seed: u64, steps: [usize; 5], dataset_noise: f64,
    out: PathBuf) -> Result<ExitCode> {
    let [source_episodes, dataset_episodes, model_steps, translator_steps, eval_episodes] = steps;
    let suite = registry::lookup(&env)?.suite.label();
    let config: config::McatConfig = match &config_path {
        Some(path) => config::read_file(path)?,
        None => config::shipped("mcat", &env, suite)?,
    };
    let spec = TransferEvalSpec { env: env.clone(), source, target, seed, source_episodes, dataset_episodes, dataset_noise, model_steps, translator_steps, eval_episodes, config };
    let report = transfer_eval(&spec)?;
    println!("{env}: source task {} → target task {} (papers/004 §5.1)", report.source, report.target);
    println!("{:<24} {:>5} {:>12} {:>26}", "policy", "task", "mean return", "state distance to source");
    let mut csv = String::from("env,source,target,policy,task,mean_return,state_distance_to_source\n");
    for r in &report.rows {
        println!("{:<24} {:>5} {:>12.3} {:>26.4}", r.policy, r.task, r.mean_return, r.state_distance_to_source);
        csv.push_str(&format!("{env},{},{},{},{},{},{}\n", report.source, report.target, r.policy, r.task, r.mean_return, r.state_distance_to_source));
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    metarl::results::write_atomic(&out, csv.as_bytes())?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// A run folder's config.json: its algorithm, and the whole spec to parse for that algorithm.
fn run_config(run_dir: &Path) -> Result<(Algorithm, serde_json::Value)> {
    let config = run_dir.join("config.json");
    let text = std::fs::read(&config).with_context(|| format!("{} is not a run folder (no config.json)", run_dir.display()))?;
    let not_a_run = format!("{} is not a run config", config.display());
    let value: serde_json::Value = serde_json::from_slice(&text).context(not_a_run.clone())?;
    let algorithm: Algorithm = serde_json::from_value(value["algorithm"].clone()).context(not_a_run)?;
    Ok((algorithm, value))
}

fn eval(run_dir: &Path) -> Result<ExitCode> {
    let summary = resume_learner(run_dir)?.evaluate_checkpoint()?;
    let mut csv = String::from("task,run,final_return,final_success\n");
    for (task, run, score, success) in &summary.rows {
        csv.push_str(&format!("{task},{run},{score},{}\n", metarl::results::success_field(*success)));
    }
    let out = run_dir.join(format!("reeval_iteration{}.csv", summary.iteration));
    metarl::results::write_atomic(&out, csv.as_bytes())?;
    println!("checkpoint of iteration {}: test return {:.3}{}", summary.iteration, summary.test_return, success_note(summary.test_success));
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn analyze_embeddings(run_dir: &Path, tasks: usize, rollouts: usize, window: Option<usize>, out: Option<PathBuf>) -> Result<ExitCode> {
    let out = out.unwrap_or_else(|| run_dir.join("analysis"));
    let report = embeddings::analyze(run_dir, tasks, rollouts, window, &out)?;
    println!("{tasks} test tasks × {rollouts} windows of {} transitions (raw embeddings, papers/001 Table 2):", report.window);
    println!("{:<8} {:>26} {:>32} {:>11}", "encoder", "mean distance to centroid", "mean distance between centroids", "separation");
    for e in &report.encoders {
        println!("{:<8} {:>26.4} {:>32.4} {:>11.3}", e.encoder, e.metrics.mean_distance_to_centroid, e.metrics.mean_distance_between_centroids, e.metrics.separation);
    }
    for path in [&report.metrics_csv, &report.points_csv, &report.png] {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_envs(args: BenchEnvsArgs) -> Result<ExitCode> {
    let mut names = args.envs;
    if let Some(suite) = args.suite {
        names.extend(Suite::parse(&suite)?.envs().map(String::from));
    }
    let names = if names.is_empty() { REGISTRY.iter().map(|e| e.name.to_owned()).collect() } else { names };
    let rows = bench::env_rates(&names, args.steps, args.rounds, args.seed, args.reference)?;
    let ratio = |v: Option<f64>, percent: bool| match v {
        Some(v) if percent => format!("{:.0}%", 100.0 * v),
        Some(v) => format!("{v:.1}x"),
        None => "-".into(),
    };
    let rate = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    println!("{:<28} {:>10} {:>10} {:>8} {:>11} {:>8}", "env", "steps/s", "raw mj/s", "of raw", "reference/s", "speedup");
    for r in &rows {
        println!("{:<28} {:>10.0} {:>10} {:>8} {:>11} {:>8}", r.env, r.steps_per_s, rate(r.raw_steps_per_s), ratio(r.of_raw, true),
                 rate(r.reference_steps_per_s), ratio(r.vs_reference, false));
    }
    let summary = |values: Vec<f64>, percent: bool| -> String {
        if values.is_empty() {
            return "-".into();
        }
        let (min, max) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
        let median = metarl::results::median(values);
        [min, median, max].map(|v| ratio(Some(v), percent)).join(" / ")
    };
    println!("min / median / max: of raw {}; speedup {}", summary(rows.iter().filter_map(|r| r.of_raw).collect(), true),
             summary(rows.iter().filter_map(|r| r.vs_reference).collect(), false));
    bench::write_csv(&rows, &args.out)?;
    println!("wrote {}", args.out.display());
    if !args.threads.is_empty() {
        let scaling = names.iter().map(|n| bench::thread_scaling(n, &args.threads, args.steps, args.seed)).collect::<Result<Vec<_>>>()?.into_iter().flatten().collect::<Vec<_>>();
        println!("{:<28} {:>8} {:>10} {:>11}", "env", "threads", "steps/s", "efficiency");
        for r in &scaling {
            println!("{:<28} {:>8} {:>10.0} {:>10.0}%", r.env, r.threads, r.steps_per_s, 100.0 * r.efficiency);
        }
        let out = args.out.with_file_name(format!("{}-threads.csv", args.out.file_stem().and_then(|s| s.to_str()).unwrap_or("env_step")));
        bench::write_csv(&scaling, &out)?;
        println!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn campaign(command: CampaignCommand) -> Result<ExitCode> {
    use metarl::campaign::{self, local, RunState};
    match command {
        CampaignCommand::Plan { suite, algos, seeds, steps, config_overrides, device, out } => {
            let request = campaign::PlanRequest { targets: &suite, algos: &algos, seeds: &seeds, steps, overrides: &config_overrides, device: device.name() };
            let (runs, cost) = campaign::plan(&request, &out)?;
            println!("planned {} runs into {} (manifest.csv, configs/), device {}", runs.len(), out.display(), device.name());
            println!("in all: {} iterations, {} gradient steps, {} training env steps and {} meta-test env steps (multiply by the per-step costs of `metarl bench train` and `metarl bench sampler` for a compute estimate)",
                cost.iterations, cost.gradient_steps, cost.env_steps, cost.eval_steps);
            Ok(ExitCode::SUCCESS)
        }
        CampaignCommand::Run { dir, backend: Backend::Slurm, retries, partition, time, cpus_per_task, mem, gres, account, qos, constraint, sbatch, setup,
            max_concurrent, max_array_size, lease, max_wait, no_submit, wait, .. } => {
            let runs = campaign::read_manifest(&dir)?;
            let on_cuda = runs.iter().any(|r| r.device == "cuda");
            let asks_gpu = gres.as_deref().is_some_and(|g| g.contains("gpu"));
            if asks_gpu && !on_cuda {
                tracing::warn!("--gres {}: the campaign's runs train on cpu (planned without --device cuda), so the GPUs would sit idle; plan with --device cuda", gres.as_deref().unwrap_or_default());
            }
            if on_cuda && !asks_gpu {
                tracing::warn!("the campaign's runs train on cuda but the tasks ask for no GPU (--gres gpu:1): on a node without one they fail at start");
            }
            let options = campaign::slurm::SlurmOptions { partition, time, cpus_per_task, mem, gres, account, qos, constraint, sbatch, setup, max_concurrent,
                max_array_size, retries, lease_s: lease, max_wait_s: max_wait };
            let (parts, size) = campaign::slurm::write_scripts(&dir, &options)?;
            if parts.is_empty() {
                println!("every run is complete; nothing to submit");
                return Ok(ExitCode::SUCCESS);
            }
            let tasks: usize = parts.iter().map(|p| p.indices.len()).sum();
            if no_submit {
                for part in &parts {
                    println!("wrote {} ({} array tasks); submit it with sbatch", part.script.display(), part.indices.len());
                }
                return Ok(ExitCode::SUCCESS);
            }
            let mut jobs = Vec::new();
            for part in &parts {
                let job = campaign::slurm::submit(&dir, part)?;
                println!("submitted job {job}: {} array tasks ({})", part.indices.len(), part.script.display());
                jobs.push(job);
            }
            println!("{tasks} runs in {} array(s) of at most {size} tasks (MaxArraySize); follow them with `metarl campaign status {}`", parts.len(), dir.display());
            if !wait {
                return Ok(ExitCode::SUCCESS);
            }
            campaign::slurm::wait(&dir)?;
            let unfinished: Vec<String> = runs.iter().filter(|r| campaign::run_state(&dir, r) != RunState::Complete).map(|r| r.name()).collect();
            println!("job(s) {} left the queue: {} of {} runs complete", jobs.join(", "), runs.len() - unfinished.len(), runs.len());
            if unfinished.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("not complete (logs in {}/logs): {}", dir.display(), unfinished.join(", "));
                Ok(ExitCode::FAILURE)
            }
        }
        CampaignCommand::RunOne { dir, index, tasks, task_id, retries, lease, max_wait } => {
            let runs = campaign::read_manifest(&dir)?;
            let index = match (index, tasks, task_id) {
                (Some(index), _, _) => index,
                (None, Some(tasks), Some(id)) => campaign::slurm::task_index(&tasks, id)?,
                _ => anyhow::bail!("give --index I, or --tasks FILE --task-id ID"),
            };
            let run = runs.get(index).with_context(|| format!("--index {index}: the manifest has {} runs", runs.len()))?;
            let runner = local::Runner::new(retries, lease)?;
            // A run (or its dataset) another live process holds: wait for it, so the task ends with
            // the run done; its lock lapses if the holder dies, and the wait is bounded.
            let started = std::time::Instant::now();
            let outcome = loop {
                match local::execute(&dir, run, &runner)? {
                    local::Outcome::Busy { holder } => {
                        if started.elapsed().as_secs() >= max_wait {
                            eprintln!("error: {} is held by {holder}, alive (it renews its lease); gave up after --max-wait {max_wait} s without running it",
                                run.name());
                            return Ok(ExitCode::FAILURE);
                        }
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                    outcome => break outcome,
                }
            };
            println!("{}: {outcome:?}", run.name());
            Ok(if matches!(outcome, local::Outcome::Failed { .. } | local::Outcome::Refused { .. }) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        CampaignCommand::Run { dir, backend: Backend::Local, jobs, retries, lease, .. } => {
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let total = campaign::read_manifest(&dir)?.len();
            let bar = ProgressBar::new(total as u64).with_style(ProgressStyle::with_template("{bar:30} {pos}/{len} runs · {elapsed_precise} · {msg}")?);
            let runner = local::Runner::new(retries, lease)?;
            // Without a terminal the bar draws nothing: a log line per finished run instead.
            let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let outcomes = local::run(&dir, jobs, &runner, |run, outcome| {
                bar.inc(1);
                bar.set_message(format!("{}: {outcome:?}", run.name()));
                if !terminal {
                    tracing::info!("{}/{total} runs done; {}: {outcome:?}", bar.position(), run.name());
                }
            })?;
            bar.finish_and_clear();
            let failed: Vec<String> = outcomes
                .iter()
                .filter_map(|(run, o)| match o {
                    local::Outcome::Failed { attempts, log } => Some(format!("{} ({attempts} attempts; {})", run.name(), log.display())),
                    local::Outcome::Refused { log } => Some(format!("{} (refused to start, not retried: its config or arguments; {})", run.name(), log.display())),
                    _ => None,
                })
                .collect();
            let count = |f: fn(&local::Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
            println!("{} runs: {} completed now ({} of them resumed), {} completed by another runner, {} already complete, {} failed",
                outcomes.len(), count(|o| matches!(o, local::Outcome::Completed { .. })),
                count(|o| matches!(o, local::Outcome::Completed { resumed_from: Some(_), .. })),
                count(|o| matches!(o, local::Outcome::CompletedElsewhere { .. })),
                count(|o| *o == local::Outcome::AlreadyComplete), failed.len());
            if failed.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("failed:\n  {}", failed.join("\n  "));
                Ok(ExitCode::FAILURE)
            }
        }
        CampaignCommand::Status { dir } => {
            let runs = campaign::read_manifest(&dir)?;
            let queued = if campaign::slurm::jobs(&dir).is_empty() { Default::default() } else { campaign::slurm::queued(&dir)? };
            let devices: std::collections::BTreeSet<&str> = runs.iter().map(|r| r.device.as_str()).collect();
            println!("device: {}", devices.into_iter().collect::<Vec<_>>().join(", "));
            let mut counts = std::collections::BTreeMap::new();
            let mut totals = std::collections::HashMap::new();
            for (index, run) in runs.iter().enumerate() {
                // A lock whose holder is gone (dead, or its lease lapsed) is no longer a running run.
                let lock = campaign::lock::read(&campaign::lock::lock_path(&dir.join(&run.run_dir))).filter(|h| !h.is_stale(campaign::lock::now()));
                let locked = lock.is_some();
                let state = match (campaign::run_state(&dir, run), locked) {
                    (RunState::Complete, _) => "complete".to_string(),
                    (_, false) if queued.contains_key(&index) => format!("queued (Slurm {} {})", queued[&index].0, queued[&index].1),
                    (RunState::Partial { iteration }, true) => format!("running (checkpoint after iteration {iteration})"),
                    (RunState::Partial { iteration }, false) => format!("partial (checkpoint after iteration {iteration})"),
                    (RunState::Pending, true) => "running (no checkpoint yet)".to_string(),
                    (RunState::Pending, false) => "pending".to_string(),
                };
                let mut line = format!("{:<40} {state}", run.name());
                if let Some(holder) = lock.filter(|_| state.starts_with("running")) {
                    line.push_str(&format!(" on {}", holder.describe(campaign::lock::now())));
                }
                if let Some(done) = campaign::latest_progress(&dir, run).filter(|_| !state.starts_with("complete")) {
                    let key = (run.algo.clone(), run.env.clone(), run.steps);
                    let total = *totals.entry(key).or_insert_with(|| campaign::planned_iterations(&dir, run).ok());
                    line.push_str(&format!("; {}", campaign::progress_note(done, total)));
                }
                println!("{line}");
                *counts.entry(state.split(' ').next().unwrap_or_default().to_string()).or_insert(0) += 1;
            }
            println!("{}", counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "));
            Ok(ExitCode::SUCCESS)
        }
        CampaignCommand::Collect { dir, window } => {
            let collected = campaign::collect::collect(&dir, window)?;
            println!("{} complete runs over {} envs and {} ({}) → {}", collected.complete, collected.envs, collected.algos.join(", "),
                if collected.incomplete.is_empty() { "all runs complete".to_string() } else { format!("{} incomplete, left out", collected.incomplete.len()) },
                dir.join("tables").display());
            for name in &collected.incomplete {
                println!("  incomplete: {name}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn numerics_report(steps: usize) -> Result<ExitCode> {
    use metarl::numerics::{Machine, Numerics, FINGERPRINT_STEPS, REPRODUCIBLE_FINGERPRINTS};
    let machine = Machine::current();
    println!("cpu       {} (widest ISA: {})", machine.cpu, machine.isa);
    println!("numerics  {}: {}", machine.numerics.name(), machine.kernels);
    let mut differs = false;
    for &(algo, expected) in REPRODUCIBLE_FINGERPRINTS {
        let fingerprint = bench::numerics_fingerprint(algo, steps)?;
        let verdict = match machine.numerics {
            Numerics::Reproducible if steps == FINGERPRINT_STEPS && fingerprint == expected => "the reproducible bits",
            Numerics::Reproducible if steps == FINGERPRINT_STEPS => {
                differs = true;
                "DIFFERS from the reproducible bits"
            }
            _ => "not compared",
        };
        println!("{algo:<9} {steps} gradient steps at the demo's sizes: {fingerprint} ({verdict})");
    }
    if differs {
        eprintln!("error: reproducible mode gives other bits here than the ones recorded in src/numerics.rs: either this machine's kernels differ from every machine checked (README, Numerics), or PEARL's or TCL's update changed since they were recorded (then record the new ones)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn regress(suite: &str, update: bool, exact: bool, only: &[String], seeds: &[u64], jobs: usize, out: &Path) -> Result<ExitCode> {
    use metarl::regress::{self as r, Verdict};
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = r::select(suite, only)?;
    let path = r::baselines_path(repo);
    let mut baselines = r::read_baselines(&path)?;
    if update {
        let runs: Vec<_> = cases.iter().flat_map(|&c| seeds.iter().map(move |&s| (c, s))).collect();
        println!("recording {} baseline(s) over seeds {seeds:?}: {} runs, {jobs} at once", cases.len(), runs.len());
        let outcomes = r::run_cases(&runs, jobs, out, repo)?;
        let command = std::env::args().skip(1).fold("metarl".to_string(), |c, a| c + " " + &a);
        let date = metarl::results::today();
        for case in &cases {
            let values = outcomes
                .iter()
                .filter(|o| o.case.name() == case.name())
                .map(|o| o.test_return.clone().map(|v| (o.seed, v)).map_err(|e| anyhow::anyhow!("{} seed {}: {e}", case.name(), o.seed)))
                .collect::<Result<Vec<_>>>()?;
            let row = r::baseline_from(case, &values, &command, &date);
            println!("{:<24} mean {:>9.3}  std {:>7.3}  band [{:.3}, {:.3}]", case.name(), row.mean, row.std, row.low, row.high);
            baselines.retain(|b| (b.algo.as_str(), b.env.as_str(), b.config.as_str()) != (case.algo, case.env, case.config));
            baselines.push(row);
        }
        r::write_baselines(&path, &baselines)?;
        println!("updated the baselines of {} in {} (the others are unchanged)", cases.iter().map(r::Case::name).collect::<Vec<_>>().join(", "), path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let runs: Vec<_> = cases.iter().flat_map(|&c| seeds.iter().map(move |&s| (c, s))).collect();
    let outcomes = r::run_cases(&runs, jobs, out, repo)?;
    let machine = metarl::numerics::Machine::current();
    println!("seeds {seeds:?} of each case in {} numerics on {}", machine.numerics.name(), machine.cpu);
    println!("{:<24} {:>5} {:>19} {:>38} {:>22}", "case", "seed", "test return", "against the baseline's value", "band");
    let mut failed = Vec::new();
    for case in &cases {
        let runs: Vec<&r::Outcome> = outcomes.iter().filter(|o| o.case.name() == case.name()).collect();
        let baseline = r::baseline_for(case, &baselines);
        let mut changed = false;
        for outcome in &runs {
            let value = outcome.test_return.as_ref().map_or("-".to_string(), |v| format!("{v:.15}"));
            let exactness = outcome.test_return.as_ref().ok().zip(baseline).map(|(&v, b)| r::exactness(outcome.seed, v, b, &machine));
            changed |= matches!(exactness, Some(r::Exactness::Changed(_)));
            let compared = match &exactness {
                Some(r::Exactness::Identical) => "identical".to_string(),
                Some(r::Exactness::Changed(by)) => format!("CHANGED by {by:+.3e}"),
                Some(r::Exactness::NotComparable(why)) => format!("not compared ({why})"),
                None => "-".to_string(),
            };
            let band = baseline.map_or("-".to_string(), |b| format!("[{:.3}, {:.3}]", b.low, b.high));
            println!("{:<24} {:>5} {value:>19} {compared:>38} {band:>22}", case.name(), outcome.seed);
        }
        let (verdict, test) = r::judge(case, &runs, &baselines);
        let how = match (test, baseline) {
            (Some(t), Some(b)) => format!("mean of {} seeds {:.3} vs the baseline's {:.3} over {}: Welch t = {:.2}, df = {:.1}, p = {:.3} (fails below {})",
                runs.len(), t.mean, b.mean, b.seed_count(), t.t, t.degrees_of_freedom, t.p, r::ALPHA),
            _ => "one seed against the band".to_string(),
        };
        let text = match &verdict {
            Verdict::Within => "ok".to_string(),
            Verdict::Below => "BELOW the band".to_string(),
            Verdict::Above => "ABOVE the band".to_string(),
            Verdict::NoBaseline => format!("NO BASELINE (record it: metarl regress --update --only {})", case.algo),
            Verdict::Failed(e) => format!("FAILED: {e}"),
        };
        let text = match (&verdict, test) {
            (Verdict::Below | Verdict::Above, Some(_)) => text.replace("the band", "the baseline"),
            _ => text,
        };
        println!("{:<24} {text}: {how}", case.name());
        if verdict != Verdict::Within || (exact && changed) {
            failed.push(case.name());
        }
    }
    if failed.is_empty() {
        println!("all {} case(s) within their baselines ({})", cases.len(), path.display());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("failed: {}", failed.join(", "));
        if exact {
            eprintln!("(--exact: a case whose seed value changed fails even within its band; if the change is intended, record the new values with `metarl regress --update --only ALGO` in the same commit)");
        }
        Ok(ExitCode::FAILURE)
    }
}

fn envs_list(suite: Option<String>) -> Result<ExitCode> {
    let suite = suite.as_deref().map(Suite::parse).transpose()?;
    println!("{:<20} {:<9} {:>4} {:>4} {:>7} {:>6} {:>5}  summary", "env", "suite", "obs", "act", "horizon", "train", "test");
    for entry in REGISTRY.iter().filter(|e| suite.map_or(true, |s| s == e.suite)) {
        let options = EnvOptions::default();
        let env = entry.make(&options)?;
        let tasks = entry.tasks(&options, DEFAULT_TASK_SEED)?;
        println!("{:<20} {:<9} {:>4} {:>4} {:>7} {:>6} {:>5}  {}", entry.name, entry.suite.label(), env.observation_dim(),
            env.action_space().dim(), entry.horizon, tasks.train.len(), tasks.test.len(), entry.summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn envs_parity(mut envs: Vec<String>, suite: Option<String>, episodes: usize, seed: u32, out: PathBuf) -> Result<ExitCode> {
    if let Some(suite) = suite {
        envs.extend(Suite::parse(&suite)?.envs().map(String::from));
    }
    if envs.is_empty() {
        anyhow::bail!("name the envs to check, or --suite ml1");
    }
    println!("{:<28} {:>8} {:>6} {:>12} {:>12} {:>9} {:>6} {:>9}  (tolerance {:e})", "env", "episodes", "steps", "max |Δobs|", "max |Δrew|", "success≠", "flags≠", "successes", parity::TOLERANCE);
    let reports = parity::metaworld(&envs, episodes, seed, |r| {
        println!("{:<28} {:>8} {:>6} {:>12.1e} {:>12.1e} {:>9} {:>6} {:>9}  {}", r.env, r.episodes, r.steps, r.max_obs_diff, r.max_reward_diff,
            r.success_mismatches, r.flag_mismatches, r.reference_successes, if r.within_tolerance() { "ok" } else { "OFF" });
    })?;
    bench::write_csv(&reports, &out)?;
    let off: Vec<&str> = reports.iter().filter(|r| !r.within_tolerance()).map(|r| r.env.as_str()).collect();
    println!("{} of {} envs within tolerance; wrote {}", reports.len() - off.len(), reports.len(), out.display());
    if off.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("off: {}", off.join(", "));
        Ok(ExitCode::FAILURE)
    }
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

/// The env (seeded, on its task), the task and the policy an episode command asks for.
fn episode_setup(args: &EpisodeArgs) -> Result<(Box<dyn metarl::envs::Env>, metarl::envs::Task, Policy)> {
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
    Ok((env, task.clone(), policy_for(entry, args.policy, args.seed)?))
}

fn policy_for(entry: &registry::EnvEntry, policy: PolicyArg, seed: u32) -> Result<Policy> {
    Ok(match policy {
        PolicyArg::Random => Policy::Random(RandomState::new(seed)),
        PolicyArg::Zero => Policy::Zero,
        PolicyArg::Scripted if entry.suite == Suite::Metaworld => Policy::Scripted(policies::lookup(entry.name)?),
        PolicyArg::Scripted => {
            anyhow::bail!("{} has no scripted policy: `--policy scripted` is for Meta-World envs (`metarl envs list --suite ml1`)", entry.name)
        }
    })
}

/// `metarl view`: a run folder plays its meta-test, anything else names an env.
#[cfg(feature = "viewer")]
fn view(args: ViewArgs) -> Result<ExitCode> {
    let folder = Path::new(&args.target);
    if folder.is_dir() {
        let mut learner = resume_learner(folder)?;
        metarl::view::run(learner.as_mut(), args.task, args.seconds)?;
        return Ok(ExitCode::SUCCESS);
    }
    let entry = registry::lookup(&args.target)?;
    let options = EnvOptions::default();
    let tasks = entry.tasks(&options, args.task_seed)?;
    let all = tasks.all();
    let first = all.iter().position(|t| t.index == args.task).ok_or(EnvError::TaskOutOfRange {
        env: entry.name.to_owned(), index: args.task, count: all.len(), train: tasks.train.len(), test: tasks.test.len(),
    })?;
    let mut env = entry.make(&options)?;
    env.seed(args.seed);
    metarl::view::env(env, &all, first, policy_for(entry, args.policy, args.seed)?, args.seconds)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "viewer"))]
fn view(_: ViewArgs) -> Result<ExitCode> {
    anyhow::bail!("this metarl was built without the viewer (cargo feature `viewer`); rebuild with default features")
}

fn envs_render(args: RenderArgs) -> Result<ExitCode> {
    let (mut env, _, mut policy) = episode_setup(&args.episode)?;
    let mut recorder = args.film.recorder(env.as_ref(), registry::lookup(&args.episode.env)?.suite)?;
    let every = args.film.every.max(1);
    for e in 0..args.episode.episodes {
        let (mut step, mut total, mut success) = (0, 0.0, false);
        recorder.new_episode();
        let episode = rollout::run_episode_with(env.as_mut(), &mut policy, |env, transition| -> Result<()> {
            if let Some(t) = transition {
                (step, total, success) = (step + 1, total + t.reward, success || t.success == Some(true));
            }
            let last = transition.is_some_and(|t| t.terminated || t.truncated);
            if step % every == 0 || last {
                recorder.capture(env, &format!("episode {e} step {step} return {total:.1}{}", if success { " success" } else { "" }))?;
            }
            Ok(())
        })?;
        println!("episode {e}: {} steps, return {:.3}{}", episode.steps.len(), episode.total_reward(),
            episode.success().map(|s| format!(", success {s}")).unwrap_or_default());
    }
    recorder.save(&args.film.out, args.film.fps)?;
    println!("wrote {} ({} frames)", args.film.out.display(), recorder.frames());
    Ok(ExitCode::SUCCESS)
}

fn render_run(args: RunRenderArgs) -> Result<ExitCode> {
    let (_, spec) = run_config(&args.run_dir)?;
    let suite = registry::lookup(spec["env"].as_str().unwrap_or_default())?.suite;
    let mut trainer = resume_learner(&args.run_dir)?;
    let (mut recorder, mut last_trajectory) = (None, None);
    let every = args.film.every.max(1);
    let (score, success) = trainer.film(args.task, &mut |env, at| {
        if args.episodes.is_some_and(|k| at.trajectory >= k) {
            return Ok(());
        }
        let recorder = match &mut recorder {
            Some(r) => r,
            None => recorder.insert(args.film.recorder(env, suite)?),
        };
        if last_trajectory != Some(at.trajectory) {
            recorder.new_episode();
        }
        if at.step % every == 0 || last_trajectory != Some(at.trajectory) {
            let phase = if at.exploration { "exploring" } else { "adapted" };
            recorder.capture(env, &format!("task {} ep {} {phase} t={} R={:.1}{}", args.task, at.trajectory, at.step, at.episode_return, if at.success { " success" } else { "" }))?;
        }
        last_trajectory = Some(at.trajectory);
        Ok(())
    })?;
    let recorder = recorder.context("the meta-test run took no step")?;
    recorder.save(&args.film.out, args.film.fps)?;
    println!("test task {}: meta-test return {score:.3}{}; wrote {} ({} frames)", args.task,
        success.map(|s| format!(", success {s}")).unwrap_or_default(), args.film.out.display(), recorder.frames());
    Ok(ExitCode::SUCCESS)
}

fn envs_rollout(args: RolloutArgs) -> Result<ExitCode> {
    let (mut env, task, mut policy) = episode_setup(&args.episode)?;
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
            for _ in 0..args.episode.episodes {
                episodes.push(rollout::run_episode(env.as_mut(), &mut policy)?);
            }
        }
    }
    let a = &args.episode;
    let report = serde_json::json!({ "env": a.env, "task": task, "seed": a.seed, "task_seed": a.task_seed, "episodes": episodes });
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

fn bench_render(envs: &[String], width: usize, height: usize, frames: usize, rounds: usize, out: PathBuf) -> Result<ExitCode> {
    let rates = bench::render_rates(envs, width, height, frames, rounds)?;
    println!("{:<8} {:<14} {:>9} {:>9}", "context", "env", "size", "frames/s");
    for r in &rates {
        println!("{:<8} {:<14} {:>9} {:>9.1}", r.gl, r.env, format!("{}×{}", r.width, r.height), r.frames_per_s);
    }
    println!("\n{:<8} {:<8} {:>14} {:>16}", "context", "camera", "mean |Δpixel|", "share |Δ| > 2");
    for camera in ["corner", "corner2"] {
        for m in bench::python_match(camera, 160, 120)? {
            println!("{:<8} {:<8} {:>14.4} {:>15.2}%", m.gl, m.camera, m.mean_abs_diff, 100.0 * m.share_beyond_2);
        }
    }
    bench::write_csv(&rates, &out)?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> Result<ExitCode> {
    use metarl::numerics::Numerics;
    // A command on an existing run continues in the numerics it was trained in.
    let recorded = |dir: &Path| metarl::numerics::Machine::recorded(dir).map(|m| m.numerics);
    let default = match &cli.command {
        Command::Regress { .. } | Command::Numerics { .. } => Some(Numerics::Reproducible),
        Command::Eval { run_dir } | Command::Analyze { command: AnalyzeCommand::Embeddings { run_dir, .. } } => recorded(run_dir),
        Command::Render(args) => recorded(&args.run_dir),
        Command::View(args) if Path::new(&args.target).is_dir() => recorded(Path::new(&args.target)),
        Command::Train(args) if args.resume => args.run_dir().ok().and_then(|dir| recorded(&dir)),
        _ => None,
    };
    metarl::numerics::apply(cli.numerics, default.unwrap_or(Numerics::Fast))?;
    match cli.command {
        Command::Doctor => {
            let report = doctor::run();
            print!("{report}");
            Ok(if report.healthy() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench { command: BenchCommand::Mujoco { models, steps, seed, out } } => bench_mujoco(models, steps, seed, out),
        Command::Bench { command: BenchCommand::Envs(args) } => bench_envs(args),
        Command::Bench { command: BenchCommand::Render { envs, width, height, frames, rounds, out } } => bench_render(&envs, width, height, frames, rounds, out),
        Command::Bench { command: BenchCommand::Train { algo, env, steps, device, threads, reference, iterations, sampler_threads, out } } => {
            tch::set_num_threads(threads);
            let algorithms = algo.iter().map(|a| Algorithm::parse(a)).collect::<Result<Vec<_>>>()?;
            if let Some(&algorithm) = algorithms.iter().find(|a| a.is_on_policy()) {
                anyhow::ensure!(algorithms.len() == 1, "--algo {}: time an on-policy algorithm on its own", algorithm.name());
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
            let rates = bench::train_step_rates(&algo, &env, steps, device, threads, reference)?;
            for rate in &rates {
                let overhead = format!("; median {:+.1}% over {} ({})", 100.0 * (rate.median_ms_per_step / rates[0].median_ms_per_step - 1.0), rates[0].algo, rates[0].implementation);
                println!("{} ({}) on {} ({}, {threads} thread(s)): {:.1} ms per gradient step (median {:.1}) over {} steps{}", rate.algo, rate.implementation,
                    rate.env, rate.device, rate.ms_per_step, rate.median_ms_per_step, rate.steps, if std::ptr::eq(rate, &rates[0]) { String::new() } else { overhead });
            }
            bench::write_csv(&rates, &out)?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Sampler { algo, env, envs, threads, steps, rounds, out } } => {
            tch::set_num_threads(1);
            let settings: Vec<(usize, usize)> = envs.iter().flat_map(|&n| threads.iter().map(move |&t| (n, t))).collect();
            let rows = bench::sampler_rate(&algo, &env, &settings, steps, rounds)?;
            println!("{:>5} {:>8} {:>14}  ({} on {}, median of {rounds} interleaved rounds)", "envs", "threads", "env steps/s", algo, env);
            for &(n, t) in &settings {
                let rates: Vec<f64> = rows.iter().filter(|r| (r.envs, r.threads) == (n, t)).map(|r| r.env_steps_per_s).collect();
                println!("{n:>5} {t:>8} {:>14.0}", metarl::results::median(rates));
            }
            bench::write_csv(&rows, &out)?;
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Train(args) => train(args),
        Command::Eval { run_dir } => eval(&run_dir),
        Command::Analyze { command: AnalyzeCommand::Embeddings { run_dir, tasks, rollouts, window, out } } => analyze_embeddings(&run_dir, tasks, rollouts, window, out),
        Command::Envs { command: EnvsCommand::List { suite } } => envs_list(suite),
        Command::Envs { command: EnvsCommand::Show { env, seed } } => envs_show(&env, seed),
        Command::Envs { command: EnvsCommand::Rollout(args) } => envs_rollout(args),
        Command::Envs { command: EnvsCommand::Render(args) } => envs_render(args),
        Command::Envs { command: EnvsCommand::Parity { envs, suite, episodes, seed, out } } => envs_parity(envs, suite, episodes, seed, out),
        Command::Campaign { command } => campaign(command),
        Command::Numerics { steps } => numerics_report(steps),
        Command::Regress { suite, update, only, seeds, jobs, exact, out } => {
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let seeds = match (seeds.is_empty(), update) {
                (false, _) => seeds,
                (true, true) => (0..5).collect(),
                (true, false) => vec![0],
            };
            regress(&suite, update, exact, &only, &seeds, jobs, &out)
        }
        Command::Offline { command: OfflineCommand::Collect { env, config, out, seed } } => offline_collect(&env, config.as_deref(), out, seed),
        Command::Render(args) => render_run(args),
        Command::View(args) => view(args),
        Command::Mcat { command: McatCommand::TransferEval { env, source, target, config, seed, source_episodes, dataset_episodes, dataset_noise, model_steps, translator_steps, eval_episodes, out } } => {
            let steps = [source_episodes, dataset_episodes, model_steps, translator_steps, eval_episodes];
            mcat_transfer_eval(env, source, target, config, seed, steps, dataset_noise, out)
        }
    }
}

fn main() -> ExitCode {
    // The viewer's window libraries (winit, egui_glow) warn about what a bare X server (Xvfb)
    // lacks: not ours to act on.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,winit=error,egui_glow=error".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<CannotStart>().is_some() {
                ExitCode::from(metarl::campaign::local::EXIT_REFUSED as u8)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
