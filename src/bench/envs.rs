//! `metarl bench envs`: per env, (a) our env steps/s on a fixed action sequence, (b) the raw
//! `mj_step` limit of the same physics — the inputs each env step wrote to MuJoCo replayed with
//! its frame_skip × `mj_step` in a tight loop, nothing else — and (c) the Python reference's steps/s
//! in the cache venv. a, b and c are timed in turn, round after round, so load that drifts
//! during the run hits them alike; each is the median over rounds. Only steps are timed: resets
//! (Meta-World's settle the arm for 50 frames) are outside all three.

use std::time::Instant;

use anyhow::{ensure, Result};
use serde::Serialize;

use crate::envs::{self, np_random::RandomState, Env};
use super::Served;
use crate::results::median;
use crate::sim::{self, Data, Model, State};

/// One env's measurement, one CSV row of `metarl bench envs`.
#[derive(Debug, Serialize)]
pub struct EnvRate {
    pub env: String,
    pub steps: usize,
    pub rounds: usize,
    /// (a) Our env steps/s.
    pub steps_per_s: f64,
    /// (b) Env steps/s of the raw replay: the `mj_step` limit (none for envs without physics).
    pub raw_steps_per_s: Option<f64>,
    /// a / b.
    pub of_raw: Option<f64>,
    /// (c) The Python reference's steps/s.
    pub reference_steps_per_s: Option<f64>,
    /// a / c.
    pub vs_reference: Option<f64>,
}

/// Aggregate steps/s of `threads` independent copies of an env, each on its own thread.
#[derive(Debug, Serialize)]
pub struct ThreadScaling {
    pub env: String,
    pub threads: usize,
    pub steps_per_s: f64,
    /// steps_per_s / (threads × the one-thread rate).
    pub efficiency: f64,
}

/// Env `name` on train task 0, seeded, and the fixed action sequence it plays: 1000 uniform draws
/// within the action bounds from numpy's `RandomState(seed)`, cycled, as the Python references play.
fn setup(name: &str, seed: u32) -> Result<(Box<dyn Env>, Vec<Vec<f64>>)> {
    let entry = envs::registry::lookup(name)?;
    let options = envs::EnvOptions::default();
    let mut env = entry.make(&options)?;
    env.set_task(&entry.tasks(&options, envs::registry::DEFAULT_TASK_SEED)?.train[0])?;
    env.seed(seed);
    let mut rng = RandomState::new(seed);
    let space = env.action_space().clone();
    let actions = (0..1000).map(|_| space.low.iter().zip(&space.high).map(|(l, h)| rng.uniform(*l, *h)).collect()).collect();
    Ok((env, actions))
}

/// Seconds spent in `steps` calls of `env.step` (from a reset; resets between episodes untimed).
fn time_steps(env: &mut dyn Env, actions: &[Vec<f64>], steps: usize) -> Result<f64> {
    env.reset()?;
    let mut seconds = 0.0;
    for t in 0..steps {
        let start = Instant::now();
        let done = env.step(&actions[t % actions.len()])?.done();
        seconds += start.elapsed().as_secs_f64();
        if done {
            env.reset()?;
        }
    }
    Ok(seconds)
}

/// What an env's steps did to MuJoCo, replayable without the env: per episode the full state
/// after the reset, then per step the inputs the env wrote and how many `mj_step`s it took, and
/// the state the episode ended in.
struct PhysicsTrace {
    episodes: Vec<EpisodeTrace>,
}

struct EpisodeTrace {
    start: State,
    steps: Vec<(State, usize)>,
    end: State,
}

impl PhysicsTrace {
    /// Play the env as [`time_steps`] does, recording; `None` for an env without physics.
    fn record(env: &mut dyn Env, actions: &[Vec<f64>], steps: usize) -> Result<Option<PhysicsTrace>> {
        env.reset()?;
        let snapshot = |env: &dyn Env, inputs: bool| -> Result<Option<State>> {
            Ok(match env.physics() {
                Some((model, data)) if inputs => Some(data.inputs(model)?),
                Some((model, data)) => Some(data.state(model)?),
                None => None,
            })
        };
        let Some(mut start) = snapshot(env, false)? else { return Ok(None) };
        let (mut episodes, mut episode) = (Vec::new(), Vec::new());
        for t in 0..steps {
            let before = sim::physics_steps();
            let done = env.step(&actions[t % actions.len()])?.done();
            episode.push((snapshot(env, true)?.expect("an env with physics"), (sim::physics_steps() - before) as usize));
            if done || t + 1 == steps {
                let end = snapshot(env, false)?.expect("an env with physics");
                episodes.push(EpisodeTrace { start, steps: std::mem::take(&mut episode), end });
                env.reset()?;
                start = snapshot(env, false)?.expect("an env with physics");
            }
        }
        Ok(Some(PhysicsTrace { episodes }))
    }

    /// Seconds the replay's steps take: per env step, the recorded inputs written and its
    /// `mj_step`s. Fails if the replay does not end every episode in the env's state, bit for bit.
    fn time_replay(&self, model: &Model, env: &str) -> Result<f64> {
        let mut data = Data::new(model);
        let mut seconds = 0.0;
        for (k, episode) in self.episodes.iter().enumerate() {
            data.set_state(model, &episode.start)?;
            let start = Instant::now();
            for (inputs, frames) in &episode.steps {
                data.set_state(model, inputs)?;
                data.step(model, *frames)?;
            }
            seconds += start.elapsed().as_secs_f64();
            ensure!(data.state(model)? == episode.end, "the raw replay of {env} left its physics at episode {k}: the env changes the simulation outside its inputs and mj_step");
        }
        Ok(seconds)
    }
}

/// (a), (b) and, with `reference`, (c) for each env in `names`, `steps` steps each per round.
pub fn env_rates(names: &[String], steps: usize, rounds: usize, seed: u32, reference: bool) -> Result<Vec<EnvRate>> {
    ensure!(rounds > 0 && steps > 0, "--steps and --rounds must be at least 1");
    // The Python references, one process serving every env: the `metaworld` package for ML1,
    // tools/reference_envs.py for the others.
    let mut python = if reference { Some(Served::start("tools/reference_bench.py", &[])?) } else { None };
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        let (mut env, actions) = setup(name, seed)?;
        let trace = PhysicsTrace::record(env.as_mut(), &actions, steps)?;
        let (mut ours, mut raw, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            ours.push(steps as f64 / time_steps(env.as_mut(), &actions, steps)?);
            if let (Some(trace), Some((model, _))) = (&trace, env.physics()) {
                raw.push(steps as f64 / trace.time_replay(model, name)?);
            }
            if let Some(python) = python.as_mut() {
                theirs.push(python.ask(&format!("{name} {steps}"))?);
            }
        }
        let steps_per_s = median(ours);
        let raw_steps_per_s = (!raw.is_empty()).then(|| median(raw));
        let reference_steps_per_s = (!theirs.is_empty()).then(|| median(theirs));
        rows.push(EnvRate {
            env: name.clone(),
            steps,
            rounds,
            steps_per_s,
            raw_steps_per_s,
            of_raw: raw_steps_per_s.map(|r| steps_per_s / r),
            reference_steps_per_s,
            vs_reference: reference_steps_per_s.map(|r| steps_per_s / r),
        });
    }
    Ok(rows)
}

/// Steps/s of `threads` independent copies of env `name` stepping at once, one per thread, for
/// each count in `threads` (the first count is the baseline of `efficiency`).
pub fn thread_scaling(name: &str, threads: &[usize], steps: usize, seed: u32) -> Result<Vec<ThreadScaling>> {
    let mut rows: Vec<ThreadScaling> = Vec::new();
    for &n in threads {
        let mut workers = (0..n).map(|k| setup(name, seed + k as u32)).collect::<Result<Vec<_>>>()?;
        let start = Instant::now();
        std::thread::scope(|scope| {
            let handles: Vec<_> =
                workers.iter_mut().map(|(env, actions)| scope.spawn(move || time_steps(env.as_mut(), actions, steps))).collect();
            handles.into_iter().try_for_each(|h| h.join().expect("a bench thread panicked").map(drop))
        })?;
        let steps_per_s = (n * steps) as f64 / start.elapsed().as_secs_f64();
        let one = rows.first().map_or(steps_per_s / n as f64, |r| r.steps_per_s / r.threads as f64);
        rows.push(ThreadScaling { env: name.to_owned(), threads: n, steps_per_s, efficiency: steps_per_s / (n as f64 * one) });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The replay is the env's physics and nothing else: it ends each episode in the env's state,
    /// and it catches an env that changes the simulation outside its inputs.
    #[test]
    fn raw_replay_reproduces_the_envs_physics_and_catches_drift() {
        for name in ["cheetah-vel", "reach-v3"] {
            let (mut env, actions) = setup(name, 0).unwrap();
            let mut trace = PhysicsTrace::record(env.as_mut(), &actions, 700).unwrap().expect("physics");
            assert!(trace.episodes.len() >= 2, "{name}: 700 steps cross an episode end");
            assert!(trace.episodes[0].steps.iter().all(|(_, frames)| *frames == trace.episodes[0].steps[0].1 && *frames > 0));
            let (model, _) = env.physics().unwrap();
            trace.time_replay(model, name).unwrap();
            trace.episodes[1].steps.swap(3, 4);
            let err = trace.time_replay(model, name).unwrap_err().to_string();
            assert!(err.contains("episode 1"), "{err}");
        }
        let (mut point, actions) = setup("point-robot", 0).unwrap();
        assert!(PhysicsTrace::record(point.as_mut(), &actions, 10).unwrap().is_none());
    }
}
