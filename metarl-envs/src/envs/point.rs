//! Point robot on the plane, position control (oyster and FOCAL-ICLR `point_robot.py`; FOCAL
//! appendix D): point-robot (goals in the unit square, random start), sparse-point-robot (goals
//! on the upper unit half-circle, start at the origin, sparse reward `1 - distance` inside the goal
//! radius and 0 outside) and point-robot-wind (goal (1, 0), a per-task wind added to every move).

use super::np_random::RandomState;
use super::{BoxSpace, Env, EnvError, Planar, Step, Task, TaskParams};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointVariant {
    Dense,
    Sparse,
    Wind,
}

/// The radius inside which the sparse reward is paid (oyster `goal_radius=0.2`).
pub const GOAL_RADIUS: f64 = 0.2;

/// sparse-point-robot's sparse reward at distance d from the goal, inside the goal radius (0
/// outside).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SparseReward {
    /// 1 − d: oyster's `sparsify_rewards` and papers/002 App. D.
    #[default]
    OneMinusDistance,
    /// 5·(0.2 − d): FOCAL-ICLR's `SparsePointEnv.sparsify_rewards` (9aff52c,
    /// `rlkit/envs/point_robot.py:188`) with `configs/sparse-point-robot.json`'s `goal_radius:
    /// -0.2`, (r − g)/|g| for the reward r = −d.
    FocalIclr,
}

impl SparseReward {
    /// The sparse reward of dense reward `reward` = −d.
    pub fn of(self, reward: f64) -> f64 {
        if reward < -GOAL_RADIUS {
            return 0.0;
        }
        match self {
            SparseReward::OneMinusDistance => reward + 1.0,
            SparseReward::FocalIclr => (reward + GOAL_RADIUS) / GOAL_RADIUS,
        }
    }
}

pub struct PointRobot {
    name: &'static str,
    variant: PointVariant,
    sparse_reward: SparseReward,
    action_space: BoxSpace,
    goal: [f64; 2],
    wind: [f64; 2],
    state: [f64; 2],
    rng: RandomState,
    was_reset: bool,
}

impl PointRobot {
    pub fn new(name: &'static str, variant: PointVariant, sparse_reward: SparseReward) -> Self {
        PointRobot {
            name,
            variant,
            sparse_reward,
            action_space: BoxSpace::uniform(2, -0.1, 0.1),
            goal: [0.0; 2],
            wind: [0.0; 2],
            state: [0.0; 2],
            rng: RandomState::new(0),
            was_reset: false,
        }
    }
}

impl Env for PointRobot {
    fn name(&self) -> &str {
        self.name
    }

    fn observation_dim(&self) -> usize {
        2
    }

    fn action_space(&self) -> &BoxSpace {
        &self.action_space
    }

    fn set_task(&mut self, task: &Task) -> Result<(), EnvError> {
        match (self.variant, &task.params) {
            (PointVariant::Dense | PointVariant::Sparse, TaskParams::Goal { goal }) => self.goal = *goal,
            (PointVariant::Wind, TaskParams::Wind { goal, wind }) => (self.goal, self.wind) = (*goal, *wind),
            (_, params) => return Err(EnvError::WrongTask { env: self.name.into(), kind: params.kind() }),
        }
        Ok(())
    }

    fn seed(&mut self, seed: u32) {
        self.rng = RandomState::new(seed);
    }

    fn reset(&mut self) -> Result<&[f64], EnvError> {
        self.state = match self.variant {
            // `np.random.uniform(-1., 1., size=(2,))`
            PointVariant::Dense => [self.rng.uniform(-1.0, 1.0), self.rng.uniform(-1.0, 1.0)],
            PointVariant::Sparse | PointVariant::Wind => [0.0, 0.0],
        };
        self.was_reset = true;
        Ok(&self.state)
    }

    fn step(&mut self, action: &[f64]) -> Result<Step, EnvError> {
        self.action_space.check(action)?;
        if !self.was_reset {
            return Err(EnvError::NotReset);
        }
        for i in 0..2 {
            self.state[i] = self.state[i] + action[i] + self.wind[i];
        }
        let (x, y) = (self.state[0] - self.goal[0], self.state[1] - self.goal[1]);
        let reward = -(x * x + y * y).sqrt();
        let sparse_reward = match self.variant {
            PointVariant::Dense => None,
            PointVariant::Sparse => Some(self.sparse_reward.of(reward)),
            // FOCAL-ICLR's `PointWindEnv` (`rlkit/envs/point_robot.py:138-155`): 1 − d inside the radius.
            PointVariant::Wind => Some(SparseReward::OneMinusDistance.of(reward)),
        };
        Ok(Step { reward, sparse_reward, ..Step::default() })
    }

    fn observation(&self) -> &[f64] {
        &self.state
    }

    fn planar(&self) -> Option<Planar> {
        let goal_radius = (self.variant != PointVariant::Dense).then_some(GOAL_RADIUS);
        Some(Planar { position: self.state, goal: self.goal, goal_radius })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_rewards_as_oyster_and_as_focal_iclr_pay_them() {
        // d = 0.1 inside the radius, 0.3 outside.
        assert!((SparseReward::OneMinusDistance.of(-0.1) - 0.9).abs() < 1e-12);
        assert!((SparseReward::FocalIclr.of(-0.1) - 0.5).abs() < 1e-12);
        assert_eq!((SparseReward::FocalIclr.of(-0.2), SparseReward::OneMinusDistance.of(-0.3), SparseReward::FocalIclr.of(-0.3)), (0.0, 0.0, 0.0));
    }
}
