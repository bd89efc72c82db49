//! Wrappers over any [`Env`]: the time limit, MCAT's delayed reward and oyster's action scaling.

use super::{BoxSpace, Env, EnvError, Step, Task};

/// Ends an episode after `horizon` steps, flagged as truncation (not a terminal state).
pub struct TimeLimit {
    inner: Box<dyn Env>,
    horizon: usize,
    elapsed: usize,
}

impl TimeLimit {
    pub fn new(inner: Box<dyn Env>, horizon: usize) -> Self {
        TimeLimit { inner, horizon, elapsed: 0 }
    }
}

/// Sums the dense reward over `delay` steps and pays it every `delay`-th step and at a terminal
/// state, as MCAT's `delay_reward_env.py` does (guoyijie/MCAT@9ab4651, line 33: `t % delay == 0 or done`); with `pays_at_time_limit` also when the time limit
/// ends the episode. Every other step pays 0 (papers/004 §5.2). `Step::reward` carries the
/// delayed reward; the dense one is dropped, as the agent never sees it.
pub struct DelayedReward {
    inner: Box<dyn Env>,
    delay: usize,
    pays_at_time_limit: bool,
    pending: f64,
    since_payment: usize,
}

impl DelayedReward {
    pub fn new(inner: Box<dyn Env>, delay: usize, pays_at_time_limit: bool) -> Self {
        assert!(delay > 0, "a reward delay is at least one step");
        DelayedReward { inner, delay, pays_at_time_limit, pending: 0.0, since_payment: 0 }
    }
}

/// oyster's `NormalizedBoxEnv`: the agent acts in [-1, 1]; the env gets
/// `low + (a + 1)·(high - low)/2`, clipped to [low, high].
pub struct NormalizedActions {
    inner: Box<dyn Env>,
    unit: BoxSpace,
    scaled: Vec<f64>,
}

impl NormalizedActions {
    pub fn new(inner: Box<dyn Env>) -> Self {
        let dim = inner.action_space().dim();
        NormalizedActions { inner, unit: BoxSpace::uniform(dim, -1.0, 1.0), scaled: vec![0.0; dim] }
    }
}

/// The `Env` methods a wrapper passes through unchanged.
macro_rules! delegate {
    () => {
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn observation_dim(&self) -> usize {
            self.inner.observation_dim()
        }
        fn set_task(&mut self, task: &Task) -> Result<(), EnvError> {
            self.inner.set_task(task)
        }
        fn seed(&mut self, seed: u32) {
            self.inner.seed(seed)
        }
        fn observation(&self) -> &[f64] {
            self.inner.observation()
        }
        fn hidden_goal(&self) -> Option<[f64; 3]> {
            self.inner.hidden_goal()
        }
        fn physics(&self) -> Option<(&crate::sim::Model, &crate::sim::Data)> {
            self.inner.physics()
        }
        fn planar(&self) -> Option<super::Planar> {
            self.inner.planar()
        }
        fn visit_info(&self, visit: &mut dyn FnMut(&'static str, f64)) {
            self.inner.visit_info(visit)
        }
    };
}

impl Env for TimeLimit {
    delegate!();

    fn action_space(&self) -> &BoxSpace {
        self.inner.action_space()
    }

    fn reset(&mut self) -> Result<&[f64], EnvError> {
        self.elapsed = 0;
        self.inner.reset()
    }

    fn step(&mut self, action: &[f64]) -> Result<Step, EnvError> {
        let mut step = self.inner.step(action)?;
        self.elapsed += 1;
        step.truncated |= self.elapsed >= self.horizon && !step.terminated;
        Ok(step)
    }
}

impl Env for DelayedReward {
    delegate!();

    fn action_space(&self) -> &BoxSpace {
        self.inner.action_space()
    }

    fn reset(&mut self) -> Result<&[f64], EnvError> {
        (self.pending, self.since_payment) = (0.0, 0);
        self.inner.reset()
    }

    fn step(&mut self, action: &[f64]) -> Result<Step, EnvError> {
        let mut step = self.inner.step(action)?;
        self.pending += step.reward;
        self.since_payment += 1;
        step.reward = 0.0;
        if self.since_payment == self.delay || step.terminated || (self.pays_at_time_limit && step.truncated) {
            step.reward = std::mem::take(&mut self.pending);
            self.since_payment = 0;
        }
        Ok(step)
    }
}

impl Env for NormalizedActions {
    delegate!();

    fn action_space(&self) -> &BoxSpace {
        &self.unit
    }

    fn reset(&mut self) -> Result<&[f64], EnvError> {
        self.inner.reset()
    }

    fn step(&mut self, action: &[f64]) -> Result<Step, EnvError> {
        self.unit.check(action)?;
        let space = self.inner.action_space();
        for (i, a) in action.iter().enumerate() {
            let (low, high) = (space.low[i], space.high[i]);
            self.scaled[i] = (low + (a + 1.0) * 0.5 * (high - low)).clamp(low, high);
        }
        self.inner.step(&self.scaled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envs::point::{PointRobot, PointVariant};
    use crate::envs::TaskParams;

    fn point(goal: [f64; 2]) -> Box<dyn Env> {
        let mut env = PointRobot::new("sparse-point-robot", PointVariant::Sparse, Default::default());
        env.set_task(&Task { index: 0, params: TaskParams::Goal { goal }, oracle: vec![] }).unwrap();
        Box::new(env)
    }

    #[test]
    fn time_limit_truncates_at_the_horizon() {
        let mut env = TimeLimit::new(point([1.0, 0.0]), 3);
        env.reset().unwrap();
        let flags: Vec<bool> = (0..3).map(|_| env.step(&[0.0, 0.0]).unwrap().truncated).collect();
        assert_eq!(flags, [false, false, true]);
        env.reset().unwrap();
        assert!(!env.step(&[0.0, 0.0]).unwrap().truncated, "reset restarts the count");
    }

    #[test]
    fn delayed_reward_pays_the_sum_every_n_steps_and_at_the_time_limit_on_request() {
        // Standing still 1 away from the goal: dense reward -1 per step.
        let rewards = |pays_at_time_limit| -> Vec<f64> {
            let mut env = DelayedReward::new(Box::new(TimeLimit::new(point([1.0, 0.0]), 7)), 3, pays_at_time_limit);
            env.reset().unwrap();
            (0..7).map(|_| env.step(&[0.0, 0.0]).unwrap().reward).collect()
        };
        assert_eq!(rewards(false), [0.0, 0.0, -3.0, 0.0, 0.0, -3.0, 0.0], "delay_reward_env.py: the remainder is never paid");
        assert_eq!(rewards(true), [0.0, 0.0, -3.0, 0.0, 0.0, -3.0, -1.0]);
        let mut env = DelayedReward::new(Box::new(TimeLimit::new(point([1.0, 0.0]), 7)), 3, true);
        env.reset().unwrap();
        env.step(&[0.0, 0.0]).unwrap();
        env.reset().unwrap();
        assert_eq!(env.step(&[0.0, 0.0]).unwrap().reward, 0.0, "reset drops what was pending");
    }

    #[test]
    fn normalized_actions_scale_and_clip_into_the_box() {
        let mut env = NormalizedActions::new(point([0.0, 0.0]));
        env.reset().unwrap();
        env.step(&[1.0, -0.5]).unwrap();
        let obs = env.observation();
        assert!((obs[0] - 0.1).abs() < 1e-15 && (obs[1] + 0.05).abs() < 1e-15, "{obs:?}");
        env.step(&[5.0, 0.0]).unwrap();
        assert!((env.observation()[0] - 0.2).abs() < 1e-15, "clipped to the box: {:?}", env.observation());
        assert!(matches!(env.step(&[2.0, 0.0, 1.0]), Err(EnvError::ActionLength { expected: 2, found: 3 })));
    }
}
