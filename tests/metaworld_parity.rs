//! Every Meta-World env replays the golden trajectories of the `metaworld` 3.1.1 package
//! (tools/reference_metaworld.py on the official mujoco bindings, same MuJoCo 3.3.7 and asset
//! files): under the same ML1 task and actions, the same observations, rewards, flags, success
//! and info; and the ML1 task vectors equal the package's bit for bit.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::process::Command;

use flate2::read::GzDecoder;
use metarl::envs::metaworld::{
    Assembly, Basketball, BinPicking, BoxClose, ButtonPress, ButtonPressTopdown, ButtonPressTopdownWall,
    ButtonPressWall, CoffeeButton, CoffeePull, CoffeePush, DialTurn, Disassemble, DoorClose, DoorLock, DoorOpen,
    DoorUnlock, DrawerClose, DrawerOpen, FaucetClose, FaucetOpen, Hammer, HandInsert, HandlePress,
    HandlePressSide, HandlePull, HandlePullSide, Info, LeverPull, PegInsertSide, PegUnplugSide, PickOutOfHole,
    PickPlace, PickPlaceWall, PlateSlide, PlateSlideBack, PlateSlideBackSide, PlateSlideSide, Push, PushBack,
    PushWall, Reach, ReachWall, SawyerEnv, SawyerTask, ShelfPlace, Soccer, StickPull, StickPush, Sweep,
    SweepInto, WindowClose, WindowOpen,
};
use metarl::envs::np_random::RandomState;
use metarl::envs::registry::lookup;
use metarl::envs::{Env, EnvError, EnvOptions, Suite, TaskParams, REGISTRY};
use metarl::paths;
use serde::Deserialize;
use serde_json::Value;

/// Largest tolerated difference in an observation, reward or info field.
const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Golden {
    env: String,
    task_seed: u32,
    horizon: usize,
    episodes: Vec<GoldenEpisode>,
}

#[derive(Deserialize)]
struct GoldenEpisode {
    /// "random" (actions regenerated from `action_seed`) or "scripted" (recorded `actions`,
    /// float32 values).
    policy: String,
    actions: Vec<[f64; 4]>,
    split: String,
    index: usize,
    action_seed: u32,
    steps: usize,
    reset_obs: Vec<f64>,
    reward: Vec<f64>,
    obs_sum: Vec<f64>,
    /// The steps where the flag holds.
    terminated: BTreeSet<usize>,
    truncated: BTreeSet<usize>,
    success: BTreeSet<usize>,
    full_obs: BTreeMap<usize, Vec<f64>>,
    info: BTreeMap<usize, BTreeMap<String, f64>>,
}

fn read_golden(path: &Path) -> Golden {
    let file = File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}; regenerate with tools/reference_metaworld.py goldens", path.display()));
    serde_json::from_reader(BufReader::new(GzDecoder::new(file))).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Largest absolute difference, with NaN counted as infinitely far.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| if (x - y).is_nan() { f64::INFINITY } else { (x - y).abs() }).fold(0.0, f64::max)
}

fn info_field(info: &Info, name: &str) -> f64 {
    match name {
        "near_object" => info.near_object,
        "grasp_success" => info.grasp_success,
        "grasp_reward" => info.grasp_reward,
        "in_place_reward" => info.in_place_reward,
        "obj_to_target" => info.obj_to_target,
        "unscaled_reward" => info.unscaled_reward,
        other => panic!("unknown info field {other}"),
    }
}

#[derive(Default)]
struct Differences {
    obs: f64,
    reward: f64,
    info: f64,
    steps: usize,
    successes: usize,
    /// Successful steps of the scripted episodes.
    scripted_successes: usize,
    grasps: usize,
}

/// Replays one golden file on the env `T` (unwrapped, so its own 500-step truncation is tested).
fn replay<T: SawyerTask>(golden: &Golden) -> Differences {
    let entry = lookup(&golden.env).unwrap();
    let tasks = entry.tasks(&EnvOptions::default(), golden.task_seed).unwrap();
    let mut env = SawyerEnv::<T>::new(entry.name).unwrap();
    let mut diff = Differences::default();
    let mut current = None;
    let mut actions = RandomState::new(0);
    for (e, ep) in golden.episodes.iter().enumerate() {
        let task = if ep.split == "train" { &tasks.train[ep.index] } else { &tasks.test[ep.index] };
        if current != Some((task.index, ep.action_seed)) {
            env.set_task(task).unwrap();
            actions = RandomState::new(ep.action_seed);
            current = Some((task.index, ep.action_seed));
        }
        let at = format!("{} episode {e} ({} task {}, {})", golden.env, ep.split, ep.index, ep.policy);
        diff.obs = diff.obs.max(max_diff(env.reset().unwrap(), &ep.reset_obs));
        assert!(ep.steps <= golden.horizon && ep.reward.len() == ep.steps && ep.obs_sum.len() == ep.steps, "{at}: {} steps", ep.steps);
        for t in 0..ep.steps {
            let action: Vec<f64> = match ep.policy.as_str() {
                "random" => (0..4).map(|_| actions.uniform(-1.0, 1.0)).collect(),
                // The policies' float32 actions, widened as numpy's `astype(np.float64)`.
                "scripted" => ep.actions[t].iter().map(|&a| f64::from(a as f32)).collect(),
                other => panic!("{at}: unknown policy {other}"),
            };
            let step = env.step(&action).unwrap();
            let flags = (step.terminated, step.truncated);
            assert_eq!(flags, (ep.terminated.contains(&t), ep.truncated.contains(&t)), "{at}: flags at step {t}");
            assert_eq!(step.success, Some(ep.success.contains(&t)), "{at}: success at step {t}");
            diff.reward = diff.reward.max(max_diff(&[step.reward], &[ep.reward[t]]));
            let obs = env.observation();
            diff.obs = diff.obs.max(max_diff(&[obs.iter().sum()], &[ep.obs_sum[t]]));
            if let Some(full) = ep.full_obs.get(&t) {
                diff.obs = diff.obs.max(max_diff(obs, full));
            }
            diff.grasps += usize::from(env.info().grasp_success > 0.0);
            for (name, value) in ep.info.get(&t).into_iter().flatten() {
                diff.info = diff.info.max(max_diff(&[info_field(env.info(), name)], &[*value]));
            }
        }
        diff.successes += ep.success.len();
        if ep.policy == "scripted" {
            diff.scripted_successes += ep.success.len();
        }
        if ep.steps == golden.horizon {
            let past_the_end = env.step(&[0.0; 4]);
            assert!(matches!(past_the_end, Err(EnvError::EpisodeOver { limit: 500 })), "{at}: a step past max_path_length is refused");
        }
        diff.steps += ep.steps;
    }
    diff
}

/// The golden replays what parity needs: a full random episode and a reset on a train task,
/// random steps on a second train task and on a test task, and a full scripted episode.
fn assert_coverage(golden: &Golden) {
    let full = |ep: &&GoldenEpisode| ep.steps == golden.horizon;
    let random = |split: &'static str| golden.episodes.iter().filter(move |ep| ep.policy == "random" && ep.split == split);
    let reset_after_full = golden.episodes.windows(2).any(|pair| {
        full(&&pair[0]) && (pair[1].split.as_str(), pair[1].index) == (pair[0].split.as_str(), pair[0].index)
    });
    let train_tasks: BTreeSet<usize> = random("train").map(|ep| ep.index).collect();
    let env = &golden.env;
    assert!(random("train").any(|ep| full(&ep)) && reset_after_full, "{env}: a full random episode, then a reset");
    assert!(train_tasks.len() >= 2 && random("test").count() >= 1, "{env}: two train tasks and a test task");
    assert!(golden.episodes.iter().any(|ep| ep.policy == "scripted" && full(&ep)), "{env}: a full scripted episode");
}

fn check<T: SawyerTask>(name: &str) {
    let golden = read_golden(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/goldens/metaworld/{name}.json.gz")));
    assert_eq!(golden.env, name);
    assert_coverage(&golden);
    let d = replay::<T>(&golden);
    println!(
        "{name:<28} {:>5} steps ({:>3} successful, {:>3} grasping)  max |Δobs| {:.1e}  max |Δreward| {:.1e}  max |Δinfo| {:.1e}",
        d.steps, d.successes, d.grasps, d.obs, d.reward, d.info
    );
    assert!(d.scripted_successes > 0, "{name}: the scripted episode reaches success");
    assert!(d.obs <= TOLERANCE && d.reward <= TOLERANCE && d.info <= TOLERANCE, "{name}: beyond {TOLERANCE}");
}

/// One test per env, `<env>` replaying tests/goldens/metaworld/<env>-v3.json.gz, and the list of
/// the envs replayed.
macro_rules! replays {
    ($($test:ident: $task:ty = $name:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check::<$task>($name);
            }
        )*
        const REPLAYED: &[&str] = &[$($name),*];
    };
}

replays! {
    reach: Reach = "reach-v3";
    push: Push = "push-v3";
    pick_place: PickPlace = "pick-place-v3";
    door_open: DoorOpen = "door-open-v3";
    drawer_close: DrawerClose = "drawer-close-v3";
    button_press_topdown: ButtonPressTopdown = "button-press-topdown-v3";
    window_open: WindowOpen = "window-open-v3";
    button_press: ButtonPress = "button-press-v3";
    button_press_topdown_wall: ButtonPressTopdownWall = "button-press-topdown-wall-v3";
    button_press_wall: ButtonPressWall = "button-press-wall-v3";
    coffee_button: CoffeeButton = "coffee-button-v3";
    coffee_pull: CoffeePull = "coffee-pull-v3";
    coffee_push: CoffeePush = "coffee-push-v3";
    dial_turn: DialTurn = "dial-turn-v3";
    door_close: DoorClose = "door-close-v3";
    door_lock: DoorLock = "door-lock-v3";
    door_unlock: DoorUnlock = "door-unlock-v3";
    drawer_open: DrawerOpen = "drawer-open-v3";
    faucet_open: FaucetOpen = "faucet-open-v3";
    faucet_close: FaucetClose = "faucet-close-v3";
    window_close: WindowClose = "window-close-v3";
    handle_press: HandlePress = "handle-press-v3";
    handle_press_side: HandlePressSide = "handle-press-side-v3";
    handle_pull: HandlePull = "handle-pull-v3";
    handle_pull_side: HandlePullSide = "handle-pull-side-v3";
    lever_pull: LeverPull = "lever-pull-v3";
    plate_slide: PlateSlide = "plate-slide-v3";
    plate_slide_side: PlateSlideSide = "plate-slide-side-v3";
    plate_slide_back: PlateSlideBack = "plate-slide-back-v3";
    plate_slide_back_side: PlateSlideBackSide = "plate-slide-back-side-v3";
    push_back: PushBack = "push-back-v3";
    push_wall: PushWall = "push-wall-v3";
    reach_wall: ReachWall = "reach-wall-v3";
    pick_place_wall: PickPlaceWall = "pick-place-wall-v3";
    soccer: Soccer = "soccer-v3";
    assembly: Assembly = "assembly-v3";
    basketball: Basketball = "basketball-v3";
    bin_picking: BinPicking = "bin-picking-v3";
    box_close: BoxClose = "box-close-v3";
    disassemble: Disassemble = "disassemble-v3";
    hammer: Hammer = "hammer-v3";
    hand_insert: HandInsert = "hand-insert-v3";
    peg_insert_side: PegInsertSide = "peg-insert-side-v3";
    peg_unplug_side: PegUnplugSide = "peg-unplug-side-v3";
    pick_out_of_hole: PickOutOfHole = "pick-out-of-hole-v3";
    shelf_place: ShelfPlace = "shelf-place-v3";
    stick_pull: StickPull = "stick-pull-v3";
    stick_push: StickPush = "stick-push-v3";
    sweep: Sweep = "sweep-v3";
    sweep_into: SweepInto = "sweep-into-v3";
}

#[test]
fn every_metaworld_env_is_replayed() {
    let mut registered: Vec<&str> = metaworld_entries().map(|e| e.name).collect();
    let mut replayed = REPLAYED.to_vec();
    registered.sort_unstable();
    replayed.sort_unstable();
    assert_eq!(registered, replayed);
}

fn metaworld_entries() -> impl Iterator<Item = &'static metarl::envs::EnvEntry> {
    REGISTRY.iter().filter(|e| e.suite == Suite::Metaworld)
}

#[test]
fn ml1_rand_vecs_equal_the_package_bit_for_bit() {
    let seeds = [0u32, 1];
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/reference_metaworld.py");
    let mut command = Command::new(paths::reference_python());
    command.arg(script).arg("tasks").args(metaworld_entries().map(|e| e.name));
    for seed in seeds {
        command.args(["--seed", &seed.to_string()]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference: Value = serde_json::from_slice(&out.stdout).unwrap();
    for entry in metaworld_entries() {
        for seed in seeds {
            let ours = entry.tasks(&EnvOptions::default(), seed).unwrap();
            for (split, tasks) in [("train", &ours.train), ("test", &ours.test)] {
                let theirs = reference[entry.name][seed.to_string()][split].as_array().unwrap();
                assert_eq!(tasks.len(), theirs.len(), "{} seed {seed} {split}", entry.name);
                for (i, (task, theirs)) in tasks.iter().zip(theirs).enumerate() {
                    let TaskParams::RandVec { rand_vec } = &task.params else { panic!("{}: not a rand vec task", entry.name) };
                    // serde_json parses Python's shortest round-trip floats exactly: equality is
                    // bit equality.
                    let theirs: Vec<f64> = serde_json::from_value(theirs.clone()).unwrap();
                    assert_eq!(rand_vec, &theirs, "{} seed {seed} {split} task {i}", entry.name);
                    assert_eq!(task.oracle, theirs, "{}: the oracle vector is the rand vec", entry.name);
                }
            }
        }
    }
}

#[test]
fn ml1_train_and_test_tasks_are_fifty_distinct_goals_each() {
    for entry in metaworld_entries() {
        let tasks = entry.tasks(&EnvOptions::default(), 0).unwrap();
        assert_eq!((tasks.train.len(), tasks.test.len()), (50, 50), "{}", entry.name);
        let all = tasks.all();
        assert_eq!(all.len(), 100, "{}: indices are distinct", entry.name);
        let mut vecs: Vec<String> = all.iter().map(|t| format!("{:?}", t.params)).collect();
        vecs.sort();
        vecs.dedup();
        assert_eq!(vecs.len(), 100, "{}: no goal repeats between or within the splits", entry.name);
    }
}

#[test]
fn names_with_and_without_the_version_suffix_find_the_same_env() {
    for entry in metaworld_entries() {
        let short = entry.name.strip_suffix("-v3").unwrap();
        assert_eq!(lookup(short).unwrap().name, entry.name);
        assert_eq!(lookup(entry.name).unwrap().name, entry.name);
        assert_eq!(entry.suite.label(), "ml1");
        assert_eq!(entry.horizon, 500);
    }
    assert!(lookup("cheetah-vel-v3").is_err(), "only Meta-World names take the suffix");
}

#[test]
fn the_goal_is_hidden_and_the_reset_observation_stacks_one_frame_twice() {
    let entry = lookup("reach").unwrap();
    let mut env = entry.make(&EnvOptions::default()).unwrap();
    let task = entry.tasks(&EnvOptions::default(), 3).unwrap().test[7].clone();
    env.set_task(&task).unwrap();
    let obs = env.reset().unwrap().to_vec();
    assert_eq!(obs.len(), 39);
    assert_eq!(obs[..18], obs[18..36]);
    assert_eq!(obs[36..], [0.0; 3]);
    // The object starts where the task puts it.
    let TaskParams::RandVec { rand_vec } = &task.params else { unreachable!() };
    assert!(max_diff(&obs[4..7], &rand_vec[..3]) < 1e-12, "{:?} vs {:?}", &obs[4..7], rand_vec);
    env.step(&[1.0, 0.0, 0.0, 0.0]).unwrap();
    let next = env.observation();
    assert_eq!(next[18..36], obs[..18], "the previous frame follows the current one");
    assert!(next[0] > obs[0], "a +x action moves the hand along +x");
}
