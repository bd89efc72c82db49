//! `metarl view`: an env under a policy, or a trained run's meta-test, played live in MuJoCo's
//! interactive viewer at the env's control period (`sim::viewer`).

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::envs::rollout::{self, Policy};
use crate::envs::{Env, Task};
use crate::protocol::driver::TrainingRun;
use crate::sim::viewer::{Viewer, KEY_HELP};

/// How often the window is redrawn while the env waits (paused, or ahead of real time).
const FRAME: Duration = Duration::from_millis(16);

/// Why an episode stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    /// The window was closed.
    Closed,
    /// `--seconds` ran out.
    TimeUp,
    /// R: the episode (or meta-test) starts again.
    Restart,
    /// PageDown / PageUp: the next or previous task.
    Task(isize),
}

impl fmt::Display for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "viewer: {self:?}")
    }
}

impl std::error::Error for Interrupt {}

/// The viewer with real-time pacing, pause and single steps.
struct Player {
    viewer: Viewer,
    paused: bool,
    /// Wall time and simulated time when the current stretch of play began.
    anchor: (Instant, f64),
    deadline: Option<Instant>,
}

impl Player {
    fn open(env: &dyn Env, title: &str, seconds: Option<f64>) -> Result<Player> {
        let (model, data) = physics(env)?;
        let viewer = Viewer::open(model, title)?;
        println!("{title}: {KEY_HELP}");
        let deadline = seconds.map(|s| Instant::now() + Duration::from_secs_f64(s));
        Ok(Player { viewer, paused: false, anchor: (Instant::now(), data.time()), deadline })
    }

    /// Draw the env's state and hold it until its simulated time is due (or while paused); a
    /// key that ends the episode comes back as an [`Interrupt`] error.
    fn frame(&mut self, env: &dyn Env, caption: &str, new_episode: bool) -> Result<()> {
        let (model, data) = physics(env)?;
        if new_episode {
            self.viewer.sync_model(model)?;
            self.anchor = (Instant::now(), data.time());
        }
        let due = self.anchor.0 + Duration::from_secs_f64((data.time() - self.anchor.1).max(0.0));
        loop {
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Interrupt::TimeUp.into());
            }
            let shown = if self.paused { format!("{caption}  [paused]") } else { caption.to_owned() };
            let keys = self.viewer.show(model, data, &shown)?.ok_or(Interrupt::Closed)?;
            if keys.reset {
                return Err(Interrupt::Restart.into());
            }
            if keys.next_task || keys.previous_task {
                return Err(Interrupt::Task(if keys.next_task { 1 } else { -1 }).into());
            }
            self.paused ^= keys.pause;
            if self.paused && keys.step {
                self.anchor = (Instant::now(), data.time());
                return Ok(());
            }
            let now = Instant::now();
            if self.paused {
                // Time stands still while paused: play resumes from here.
                self.anchor = (now, data.time());
            } else if now >= due {
                return Ok(());
            }
            std::thread::sleep(FRAME.min(due.saturating_duration_since(now)).max(Duration::from_millis(1)));
        }
    }
}

fn physics(env: &dyn Env) -> Result<(&crate::sim::Model, &crate::sim::Data)> {
    env.physics().with_context(|| format!("{} has no MuJoCo model to view (the point robots are drawn by `metarl envs render`)", env.name()))
}

/// Ends the loop quietly for a closed window or `--seconds`; `Some(step)` for a task switch,
/// `Some(0)` for a restart; any other error is returned.
fn interrupted(error: anyhow::Error) -> Result<Option<isize>> {
    match error.downcast_ref::<Interrupt>() {
        Some(Interrupt::Closed | Interrupt::TimeUp) => Ok(None),
        Some(Interrupt::Restart) => Ok(Some(0)),
        Some(Interrupt::Task(step)) => Ok(Some(*step)),
        None => Err(error),
    }
}

/// `position` moved by `step` around a list of `count`.
fn cycle(position: usize, step: isize, count: usize) -> usize {
    (position as isize + step).rem_euclid(count as isize) as usize
}

/// Play `env` under `policy` on `tasks` (starting at `tasks[first]`), episode after episode,
/// until the window closes or `seconds` pass.
pub fn env(mut env: Box<dyn Env>, tasks: &[&Task], first: usize, mut policy: Policy, seconds: Option<f64>) -> Result<()> {
    let mut position = first;
    env.set_task(tasks[position])?;
    env.reset()?;
    let mut player = Player::open(env.as_ref(), &format!("metarl view {}", env.name()), seconds)?;
    let mut episode = 0;
    loop {
        let task = tasks[position];
        env.set_task(task)?;
        let (mut step, mut total, mut success) = (0, 0.0, false);
        let played = rollout::run_episode_with(env.as_mut(), &mut policy, |env, transition| -> Result<()> {
            if let Some(t) = transition {
                (step, total, success) = (step + 1, total + t.reward, success || t.success == Some(true));
            }
            let caption = format!(
                "{} task {} · episode {episode} · step {step} · return {total:.2}{}",
                env.name(),
                task.index,
                if success { " · success" } else { "" }
            );
            player.frame(env, &caption, transition.is_none())
        });
        match played {
            Ok(_) => {
                println!("task {}, episode {episode}: {step} steps, return {total:.3}{}", task.index, if success { ", success" } else { "" });
                episode += 1;
            }
            Err(error) => match interrupted(error)? {
                None => return Ok(()),
                Some(0) => println!("task {}: episode {episode} restarted", task.index),
                Some(step) => {
                    position = cycle(position, step, tasks.len());
                    println!("switched to task {}", tasks[position].index);
                }
            },
        }
    }
}

/// Play a trained run's meta-test on its test task `first` (exploration episodes, then adapted
/// ones, z updated as in evaluation), again and again, until the window closes or `seconds` pass.
pub fn run(learner: &mut dyn TrainingRun, first: usize, seconds: Option<f64>) -> Result<()> {
    let (mut task, tasks) = (first, learner.film_tasks());
    let mut player: Option<Player> = None;
    let title = format!("metarl view {}", learner.label());
    loop {
        let mut shown_trajectory = None;
        let filmed = learner.film(task, &mut |env, at| {
            let player = match &mut player {
                Some(player) => player,
                None => player.insert(Player::open(env, &title, seconds)?),
            };
            let new_episode = shown_trajectory != Some(at.trajectory);
            shown_trajectory = Some(at.trajectory);
            let phase = if at.exploration { "exploring" } else { "adapted" };
            let caption = format!(
                "test task {task} · episode {} ({phase}) · step {} · return {:.2}{}",
                at.trajectory,
                at.step,
                at.episode_return,
                if at.success { " · success" } else { "" }
            );
            player.frame(env, &caption, new_episode)
        });
        match filmed {
            Ok((score, success)) => {
                println!("test task {task}: meta-test return {score:.3}{}", success.map(|s| format!(", success {s}")).unwrap_or_default())
            }
            Err(error) => match interrupted(error)? {
                None => return Ok(()),
                Some(0) => println!("test task {task}: meta-test restarted"),
                Some(step) => {
                    task = cycle(task, step, tasks.max(1));
                    println!("switched to test task {task}");
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_switches_wrap_around_the_list() {
        assert_eq!(cycle(0, -1, 5), 4);
        assert_eq!(cycle(4, 1, 5), 0);
        assert_eq!(cycle(2, 0, 5), 2);
    }

    #[test]
    fn only_viewer_interrupts_end_quietly() {
        assert_eq!(interrupted(Interrupt::Closed.into()).unwrap(), None);
        assert_eq!(interrupted(Interrupt::Task(-1).into()).unwrap(), Some(-1));
        assert!(interrupted(anyhow::anyhow!("a NaN action")).is_err());
    }
}
