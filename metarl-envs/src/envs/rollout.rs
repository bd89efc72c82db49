//! Rolling an env out under a fixed policy and recording every step: what `metarl envs rollout`
//! writes and what the parity tests compare.

use serde::Serialize;

use super::metaworld::policies::ScriptedPolicy;
use super::np_random::RandomState;
use super::{Env, EnvError};

/// Where actions come from.
pub enum Policy {
    /// `RandomState(seed).uniform(low, high)` per step, as numpy draws it for a box.
    Random(RandomState),
    /// All zeros.
    Zero,
    /// A given sequence, consumed step by step; the episode stops when it runs out.
    Replay(std::vec::IntoIter<Vec<f64>>),
    /// A Meta-World scripted policy, shown the goal the observation hides, its action clipped
    /// to [-1, 1] (an env without Meta-World's observation ends the episode at once).
    Scripted(&'static ScriptedPolicy),
}

impl Policy {
    fn next_action(&mut self, env: &dyn Env) -> Option<Vec<f64>> {
        let space = env.action_space();
        match self {
            Policy::Random(rng) => Some(space.low.iter().zip(&space.high).map(|(l, h)| rng.uniform(*l, *h)).collect()),
            Policy::Zero => Some(vec![0.0; space.dim()]),
            Policy::Replay(actions) => actions.next(),
            Policy::Scripted(policy) => policy.act(env).ok().map(|a| a.iter().map(|x| x.clamp(-1.0, 1.0)).collect()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    pub action: Vec<f64>,
    /// The observation after the step.
    pub obs: Vec<f64>,
    pub reward: f64,
    pub terminated: bool,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparse_reward: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Episode {
    pub reset_obs: Vec<f64>,
    pub steps: Vec<Transition>,
}

impl Episode {
    pub fn total_reward(&self) -> f64 {
        self.steps.iter().map(|s| s.reward).sum()
    }

    /// Meta-World's episode success: success at any step.
    pub fn success(&self) -> Option<bool> {
        let flags: Option<Vec<bool>> = self.steps.iter().map(|s| s.success).collect();
        flags.map(|flags| flags.contains(&true))
    }
}

/// Reset, then step until the episode ends (terminal or time limit) or the policy runs out.
pub fn run_episode(env: &mut dyn Env, policy: &mut Policy) -> Result<Episode, EnvError> {
    run_episode_with(env, policy, |_, _| Ok::<(), EnvError>(()))
}

/// `run_episode`, with `observe` called on the env after the reset (no transition yet) and after
/// every step (a renderer captures frames there).
pub fn run_episode_with<E: From<EnvError>>(
    env: &mut dyn Env,
    policy: &mut Policy,
    mut observe: impl FnMut(&dyn Env, Option<&Transition>) -> Result<(), E>,
) -> Result<Episode, E> {
    let reset_obs = env.reset()?.to_vec();
    observe(env, None)?;
    let mut steps = Vec::new();
    while let Some(action) = policy.next_action(env) {
        let step = env.step(&action)?;
        steps.push(Transition {
            obs: env.observation().to_vec(),
            action,
            reward: step.reward,
            terminated: step.terminated,
            truncated: step.truncated,
            success: step.success,
            sparse_reward: step.sparse_reward,
        });
        observe(env, steps.last())?;
        if step.done() {
            break;
        }
    }
    Ok(Episode { reset_obs, steps })
}
