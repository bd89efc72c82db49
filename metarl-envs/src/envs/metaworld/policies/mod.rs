//! The scripted policies of the pinned `metaworld` package (`metaworld.policies`, one per v3 env,
//! `ENV_POLICY_MAP`): hand-written controllers that read the object and goal positions from the
//! observation and drive the hand through a few waypoints. They succeed on most tasks, which
//! makes them the end-to-end check that an env behaves like the reference.
//!
//! Every policy is `get_action(obs)`: pick the next waypoint (`_desired_pos`), move toward it
//! with `move(hand, waypoint, p) = p · (waypoint − hand)`, and set the gripper effort
//! (`_grab_effort`). The package writes both into a float32 `Action` array, so the actions here
//! are float32 values too; waypoint arithmetic follows the package's order of operations, so
//! actions agree to the last bit.
//!
//! The policies read the goal, the last 3 entries of the observation, which ML1 hides (zeros):
//! show it to them from the env's target position ([`Env::hidden_goal`], `env._target_pos` in
//! Python), as [`observation_with_goal`] does.
//!
//! The envs group into four files: articulated objects (doors, drawers, faucets, windows),
//! buttons, handles and dials, grasped objects, and pushed or reached ones.

mod articulated;
mod buttons;
mod grasping;
mod pushing;

use super::{norm, OBS_DIM};
use crate::envs::Env;
use crate::suggest::closest_match;

pub type Vec3 = [f64; 3];

/// The observation as the policies' `_parse_obs` read it.
pub struct Obs<'a>(&'a [f64; OBS_DIM]);

impl Obs<'_> {
    /// `hand_pos`, `obs[:3]`.
    fn hand(&self) -> Vec3 {
        [self.0[0], self.0[1], self.0[2]]
    }

    /// `gripper_distance_apart`, `obs[3]`.
    fn gripper(&self) -> f64 {
        self.0[3]
    }

    /// The first object's position, `obs[4:7]` (puck, button, handle, ...).
    fn object(&self) -> Vec3 {
        [self.0[4], self.0[5], self.0[6]]
    }

    /// The second object's position, `obs[11:14]` (the thermos of the stick envs).
    fn second_object(&self) -> Vec3 {
        [self.0[11], self.0[12], self.0[13]]
    }

    /// `goal_pos`, `obs[-3:]`.
    fn goal(&self) -> Vec3 {
        [self.0[36], self.0[37], self.0[38]]
    }
}

/// One step's decision: the waypoint, `move`'s gain `p`, and the gripper effort.
pub struct Command {
    to: Vec3,
    p: f64,
    grab: f64,
}

impl Command {
    fn new(to: Vec3, p: f64, grab: f64) -> Self {
        Command { to, p, grab }
    }
}

/// A scripted policy of one env.
pub struct ScriptedPolicy {
    /// The env's name, with `-v3`.
    pub env: &'static str,
    decide: fn(&Obs) -> Command,
}

impl std::fmt::Debug for ScriptedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScriptedPolicy({})", self.env)
    }
}

impl ScriptedPolicy {
    /// `get_action(obs)` for an observation with the goal shown: `move(hand, waypoint, p)` and the
    /// gripper effort, rounded to float32 as the package's `Action` array stores them (not
    /// clipped: the env clips).
    pub fn action(&self, obs_with_goal: &[f64; OBS_DIM]) -> [f64; 4] {
        let obs = Obs(obs_with_goal);
        let Command { to, p, grab } = (self.decide)(&obs);
        let hand = obs.hand();
        let f32_value = |x: f64| f64::from(x as f32);
        [f32_value(p * (to[0] - hand[0])), f32_value(p * (to[1] - hand[1])), f32_value(p * (to[2] - hand[2])), f32_value(grab)]
    }

    /// The action for `env`'s current observation, the goal shown from [`Env::hidden_goal`].
    pub fn act(&self, env: &dyn Env) -> Result<[f64; 4], PolicyError> {
        Ok(self.action(&observation_with_goal(env)?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("no scripted policy for {name:?}{}; Meta-World has one per v3 env (`metarl envs list`)",
            .suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    Unknown { name: String, suggestion: Option<String> },
    #[error("a Meta-World observation has {OBS_DIM} entries, this one has {found}")]
    ObservationLength { found: usize },
}

/// The policy of a Meta-World env, by its name with or without `-v3`, or an error naming the
/// closest one.
pub fn lookup(name: &str) -> Result<&'static ScriptedPolicy, PolicyError> {
    POLICIES.iter().find(|p| p.env == name || p.env.strip_suffix("-v3") == Some(name)).ok_or_else(|| PolicyError::Unknown {
        name: name.to_owned(),
        suggestion: closest_match(name, POLICIES.iter().map(|p| p.env)),
    })
}

/// `ENV_POLICY_MAP[env_name]().get_action(obs_with_goal)`.
pub fn scripted_action(env_name: &str, obs_with_goal: &[f64]) -> Result<[f64; 4], PolicyError> {
    let obs = obs_with_goal.try_into().map_err(|_| PolicyError::ObservationLength { found: obs_with_goal.len() })?;
    Ok(lookup(env_name)?.action(obs))
}

/// `env`'s current observation with its hidden goal written into the last 3 entries (unchanged
/// where the env hides none).
pub fn observation_with_goal(env: &dyn Env) -> Result<[f64; OBS_DIM], PolicyError> {
    let obs = env.observation();
    let mut shown: [f64; OBS_DIM] = obs.try_into().map_err(|_| PolicyError::ObservationLength { found: obs.len() })?;
    if let Some(goal) = env.hidden_goal() {
        shown[OBS_DIM - 3..].copy_from_slice(&goal);
    }
    Ok(shown)
}

/// `a + b`, element by element (`pos + np.array([...])`).
fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `np.linalg.norm(a[:2] - b[:2])`.
fn xy_distance(a: Vec3, b: Vec3) -> f64 {
    norm(&[a[0] - b[0], a[1] - b[1]])
}

/// `np.linalg.norm(a - b)`.
fn distance(a: Vec3, b: Vec3) -> f64 {
    norm(&[a[0] - b[0], a[1] - b[1], a[2] - b[2]])
}

/// The hand is within `xy` of `target` in the plane and within `z` of its height: the negation
/// of the policies' `norm(hand[:2] - target[:2]) > xy or abs(hand[2] - target[2]) > z`.
fn within(hand: Vec3, target: Vec3, xy: f64, z: f64) -> bool {
    !(xy_distance(hand, target) > xy || (hand[2] - target[2]).abs() > z)
}

/// The opening the policies share: `lift` above `target` until within `xy` of it in the plane,
/// then down onto it until within `z` of its height; `None` once there.
fn approach(hand: Vec3, target: Vec3, xy: f64, lift: f64, z: f64) -> Option<Vec3> {
    if xy_distance(hand, target) > xy {
        Some(add(target, [0.0, 0.0, lift]))
    } else if (hand[2] - target[2]).abs() > z {
        Some(target)
    } else {
        None
    }
}

macro_rules! policies {
    ($($env:literal => $decide:path),* $(,)?) => {
        /// `ENV_POLICY_MAP`.
        pub static POLICIES: &[ScriptedPolicy] = &[$(ScriptedPolicy { env: $env, decide: $decide }),*];
    };
}

policies! {
    "assembly-v3" => grasping::assembly,
    "basketball-v3" => grasping::basketball,
    "bin-picking-v3" => grasping::bin_picking,
    "box-close-v3" => grasping::box_close,
    "button-press-topdown-v3" => buttons::button_press_topdown,
    "button-press-topdown-wall-v3" => buttons::button_press_topdown_wall,
    "button-press-v3" => buttons::button_press,
    "button-press-wall-v3" => buttons::button_press_wall,
    "coffee-button-v3" => buttons::coffee_button,
    "coffee-pull-v3" => grasping::coffee_pull,
    "coffee-push-v3" => grasping::coffee_push,
    "dial-turn-v3" => buttons::dial_turn,
    "disassemble-v3" => grasping::disassemble,
    "door-close-v3" => articulated::door_close,
    "door-lock-v3" => articulated::door_lock,
    "door-open-v3" => articulated::door_open,
    "door-unlock-v3" => articulated::door_unlock,
    "drawer-close-v3" => articulated::drawer_close,
    "drawer-open-v3" => articulated::drawer_open,
    "faucet-close-v3" => articulated::faucet_close,
    "faucet-open-v3" => articulated::faucet_open,
    "hammer-v3" => grasping::hammer,
    "hand-insert-v3" => grasping::hand_insert,
    "handle-press-side-v3" => buttons::handle_press_side,
    "handle-press-v3" => buttons::handle_press,
    "handle-pull-v3" => buttons::handle_pull,
    "handle-pull-side-v3" => buttons::handle_pull_side,
    "peg-insert-side-v3" => grasping::peg_insert_side,
    "lever-pull-v3" => buttons::lever_pull,
    "peg-unplug-side-v3" => grasping::peg_unplug_side,
    "pick-out-of-hole-v3" => grasping::pick_out_of_hole,
    "pick-place-v3" => grasping::pick_place,
    "pick-place-wall-v3" => grasping::pick_place_wall,
    "plate-slide-back-side-v3" => pushing::plate_slide_back_side,
    "plate-slide-back-v3" => pushing::plate_slide_back,
    "plate-slide-side-v3" => pushing::plate_slide_side,
    "plate-slide-v3" => pushing::plate_slide,
    "reach-v3" => pushing::reach,
    "reach-wall-v3" => pushing::reach_wall,
    "push-back-v3" => pushing::push_back,
    "push-v3" => pushing::push,
    "push-wall-v3" => pushing::push_wall,
    "shelf-place-v3" => grasping::shelf_place,
    "soccer-v3" => pushing::soccer,
    "stick-pull-v3" => grasping::stick_pull,
    "stick-push-v3" => grasping::stick_push,
    "sweep-into-v3" => pushing::sweep_into,
    "sweep-v3" => pushing::sweep,
    "window-close-v3" => articulated::window_close,
    "window-open-v3" => articulated::window_open,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_answers_to_its_name_with_and_without_the_suffix() {
        assert_eq!(POLICIES.len(), 50);
        for policy in POLICIES {
            assert_eq!(lookup(policy.env).unwrap().env, policy.env);
            assert_eq!(lookup(policy.env.strip_suffix("-v3").unwrap()).unwrap().env, policy.env);
        }
    }

    #[test]
    fn unknown_names_suggest_the_closest_policy() {
        let err = lookup("drawer-opne").unwrap_err().to_string();
        assert!(err.contains("\"drawer-open-v3\""), "{err}");
        assert!(matches!(scripted_action("reach", &[0.0; 38]), Err(PolicyError::ObservationLength { found: 38 })));
    }

    #[test]
    fn actions_are_float32_values() {
        let mut obs = [0.0; OBS_DIM];
        obs[36..].copy_from_slice(&[0.1, 0.8, 0.2]);
        let action = scripted_action("reach-v3", &obs).unwrap();
        assert_eq!(action, [f64::from(0.5f32), f64::from(4.0f32), f64::from(1.0f32), 0.0]);
    }
}
