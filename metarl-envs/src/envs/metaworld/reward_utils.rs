//! Meta-World's reward shaping (`metaworld/utils/reward_utils.py`, after dm_control's rewards)
//! and the gripper caging reward of `SawyerXYZEnv._gripper_caging_reward`, with the terms the
//! envs that override it share, and the two placement stages of the wall envs.

use super::{norm, Sawyer, TARGET_RADIUS};

/// `_DEFAULT_VALUE_AT_MARGIN`.
const VALUE_AT_MARGIN: f64 = 0.1;

/// How far from the object each pad may be in y for the pad rewards of the envs that override
/// `_gripper_caging_reward` (pick-place, push-back, soccer): `pad_success_margin`.
const PAD_SUCCESS_MARGIN: f64 = 0.05;

/// The sigmoids `tolerance` uses outside its bounds (`_sigmoids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sigmoid {
    Gaussian,
    LongTail,
}

impl Sigmoid {
    /// `_sigmoids(x, value_at_1, sigmoid)`: 1 at x = 0, `value_at_1` at x = 1.
    fn at(self, x: f64, value_at_1: f64) -> f64 {
        match self {
            Sigmoid::Gaussian => {
                let scale = (-2.0 * value_at_1.ln()).sqrt();
                (-0.5 * (x * scale).powi(2)).exp()
            }
            Sigmoid::LongTail => {
                let scale = (1.0 / value_at_1 - 1.0).sqrt();
                1.0 / ((x * scale).powi(2) + 1.0)
            }
        }
    }
}

/// `reward_utils.tolerance`: 1 inside `[lower, upper]`, falling off with the distance to the
/// nearest bound over `margin` (0 outside when `margin` is 0).
pub fn tolerance(x: f64, (lower, upper): (f64, f64), margin: f64, sigmoid: Sigmoid) -> f64 {
    let in_bounds = lower <= x && x <= upper;
    if in_bounds {
        1.0
    } else if margin == 0.0 {
        0.0
    } else {
        let distance = if x < lower { lower - x } else { x - upper };
        sigmoid.at(distance / margin, VALUE_AT_MARGIN)
    }
}

/// `reward_utils.hamacher_product`: the Hamacher t-norm `ab / (a + b - ab)` of two values in [0, 1].
pub fn hamacher_product(a: f64, b: f64) -> f64 {
    debug_assert!((0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b), "hamacher_product({a}, {b})");
    let denominator = a + b - a * b;
    if denominator > 0.0 { a * b / denominator } else { 0.0 }
}

/// `reward_utils.rect_prism_tolerance`: inside the box spanned by the corners `zero` and `one`,
/// the product of the point's fractions of the way from `zero` to `one` along each axis; 1
/// outside it.
pub fn rect_prism_tolerance(curr: &[f64; 3], zero: &[f64; 3], one: &[f64; 3]) -> f64 {
    let in_range = |i: usize| {
        let (low, high) = if one[i] >= zero[i] { (zero[i], one[i]) } else { (one[i], zero[i]) };
        low <= curr[i] && curr[i] <= high
    };
    if (0..3).all(in_range) {
        (0..3).map(|i| (curr[i] - zero[i]) / (one[i] - zero[i])).product()
    } else {
        1.0
    }
}

/// The `_reward_quat` of the envs that grasp a tool: 1 when the observed quaternion `obs[7:11]`
/// is `ideal`, falling linearly to 0 at a distance `scale` from it.
pub fn quat_alignment(quat: &[f64], ideal: [f64; 4], scale: f64) -> f64 {
    let error = (0..4).map(|i| (quat[i] - ideal[i]).powi(2)).sum::<f64>().sqrt();
    (1.0 - error / scale).max(0.0)
}

/// The height the hand should keep while it is `radius` away (in x-y) from where it is headed:
/// 0 within `threshold`, then `gain * ln(radius - threshold) + offset` (the "floor" of the
/// door, box-close, bin-picking and pick-out-of-hole rewards).
pub fn floor_height(radius: f64, threshold: f64, gain: f64, offset: f64) -> f64 {
    if radius > threshold { gain * (radius - threshold).ln() + offset } else { 0.0 }
}

/// 1 with the hand at or above `floor`, else a long tail in how far below it is.
pub fn above_floor(z: f64, floor: f64, margin: f64) -> f64 {
    if z >= floor { 1.0 } else { tolerance(floor - z, (0.0, 0.01), margin, Sigmoid::LongTail) }
}

/// How `_gripper_caging_reward` densifies the caging-and-gripping term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CagingDensity {
    Plain,
    /// `high_density`: averaged with the caging term.
    High,
    /// `medium_density`: averaged with a reach term.
    Medium,
}

/// The arguments of `_gripper_caging_reward`.
#[derive(Debug, Clone, Copy)]
pub struct Caging {
    pub obj_radius: f64,
    pub pad_success_thresh: f64,
    pub object_reach_radius: f64,
    pub xz_thresh: f64,
    pub desired_gripper_effort: f64,
    pub density: CagingDensity,
}

impl Sawyer {
    /// `SawyerXYZEnv._gripper_caging_reward`: the pads straddle the object in y, the gripper
    /// centre is near it in x-z, and the gripper closes once caged.
    pub fn gripper_caging_reward(&self, action: &[f64], obj_pos: &[f64; 3], obj_init_pos: &[f64; 3], caging: &Caging) -> f64 {
        let pads_y = [self.left_pad()[1], self.right_pad()[1]];
        let caging_lr = pads_y.map(|pad_y| {
            let pad_to_obj = (pad_y - obj_pos[1]).abs();
            let margin = ((pad_y - obj_init_pos[1]).abs() - caging.pad_success_thresh).abs();
            tolerance(pad_to_obj, (caging.obj_radius, caging.pad_success_thresh), margin, Sigmoid::LongTail)
        });
        let caging_y = hamacher_product(caging_lr[0], caging_lr[1]);

        let caging_xz = self.xz_caging(obj_pos, obj_init_pos, caging.xz_thresh);

        let effort = caging.desired_gripper_effort;
        let gripper_closed = action[3].max(0.0).min(effort) / effort;
        let caged = hamacher_product(caging_y, caging_xz);
        let gripping = if caged > 0.97 { gripper_closed } else { 0.0 };
        let caged_and_gripping = hamacher_product(caged, gripping);
        match caging.density {
            CagingDensity::Plain => caged_and_gripping,
            CagingDensity::High => (caged_and_gripping + caged) / 2.0,
            CagingDensity::Medium => {
                let (tcp, init_tcp) = (self.tcp_center(), self.init_tcp());
                let tcp_to_obj = distance(obj_pos, &tcp);
                let tcp_to_obj_init = distance(obj_init_pos, &init_tcp);
                let reach_margin = (tcp_to_obj_init - caging.object_reach_radius).abs();
                let reach = tolerance(tcp_to_obj, (0.0, caging.object_reach_radius), reach_margin, Sigmoid::LongTail);
                (caged_and_gripping + reach) / 2.0
            }
        }
    }

    /// The gripper centre near the object in the x-z plane: within `thresh`, falling off over the
    /// initial x-z distance from the gripper to the object.
    pub fn xz_caging(&self, obj_pos: &[f64; 3], obj_init_pos: &[f64; 3], thresh: f64) -> f64 {
        let (tcp, init_tcp) = (self.tcp_center(), self.init_tcp());
        let margin = norm(&[obj_init_pos[0] - init_tcp[0], obj_init_pos[2] - init_tcp[2]]) - thresh;
        let tcp_to_obj_xz = norm(&[tcp[0] - obj_pos[0], tcp[2] - obj_pos[2]]);
        tolerance(tcp_to_obj_xz, (0.0, thresh), margin, Sigmoid::LongTail)
    }

    /// (left, right): each pad's y distance to the object (positive when the pads straddle it)
    /// within `bounds`. The overriding envs take the margin from `init_left_pad` /
    /// `init_right_pad`, which are views of `data.xpos` in Meta-World: the pads' current positions.
    pub fn pad_y_tolerances(&self, obj_pos: &[f64; 3], bounds: (f64, f64)) -> [f64; 2] {
        let (left, right) = (self.left_pad()[1], self.right_pad()[1]);
        let pad_tolerance = |pad_to_obj: f64, pad_y: f64| {
            let margin = ((obj_pos[1] - pad_y).abs() - PAD_SUCCESS_MARGIN).abs();
            tolerance(pad_to_obj, bounds, margin, Sigmoid::LongTail)
        };
        [pad_tolerance(left - obj_pos[1], left), pad_tolerance(obj_pos[1] - right, right)]
    }

    /// The `_gripper_caging_reward` of push-back and soccer: the pads caging the object in y and
    /// the gripper centre near it in x-z, averaged with the pads gripping it (each within
    /// `grip_margin` of it in y) once caged.
    pub fn pad_gripping_reward(&self, obj_pos: &[f64; 3], obj_init_pos: &[f64; 3], obj_radius: f64, grip_margin: f64, xz_thresh: f64) -> f64 {
        let [left_caging, right_caging] = self.pad_y_tolerances(obj_pos, (obj_radius, PAD_SUCCESS_MARGIN));
        let [left_gripping, right_gripping] = self.pad_y_tolerances(obj_pos, (obj_radius, grip_margin));
        let y_caging = hamacher_product(right_caging, left_caging);
        let y_gripping = hamacher_product(right_gripping, left_gripping);
        let caging = hamacher_product(y_caging, self.xz_caging(obj_pos, obj_init_pos, xz_thresh));
        let gripping = if caging > 0.95 { y_gripping } else { 0.0 };
        (caging + gripping) / 2.0
    }
}

/// The first stage of the wall envs' placement: the object near a midpoint beside the wall, the
/// distance scaled per axis, falling off over the object's initial scaled distance to it.
pub fn midpoint_in_place(obj: &[f64; 3], obj_init: &[f64; 3], midpoint: &[f64; 3], scaling: [f64; 3]) -> f64 {
    let scaled = |p: &[f64; 3]| [0, 1, 2].map(|i| (p[i] - midpoint[i]) * scaling[i]);
    tolerance(norm(&scaled(obj)), (0.0, TARGET_RADIUS), norm(&scaled(obj_init)), Sigmoid::LongTail)
}

/// The wall envs' bonus once the gripper has the object: towards the midpoint, then, past the
/// wall (y > 0.75), towards the goal.
pub fn wall_bonus(base: f64, obj: &[f64; 3], in_place_midpoint: f64, in_place_goal: f64) -> f64 {
    if obj[1] > 0.75 {
        base + 1.0 + 4.0 + 3.0 * in_place_goal
    } else {
        base + 1.0 + 4.0 * in_place_midpoint
    }
}

/// `np.linalg.norm(a - b)` of two points.
pub fn distance(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    norm(&[a[0] - b[0], a[1] - b[1], a[2] - b[2]])
}

/// `np.linalg.norm((a - b) * scale)`: a distance with the axes weighted.
pub fn scaled_distance(a: &[f64; 3], b: &[f64; 3], scale: [f64; 3]) -> f64 {
    norm(&[0, 1, 2].map(|i| (a[i] - b[i]) * scale[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_one_inside_and_the_value_at_margin_one_margin_out() {
        assert_eq!(tolerance(0.03, (0.0, 0.05), 0.4, Sigmoid::LongTail), 1.0);
        assert!((tolerance(0.45, (0.0, 0.05), 0.4, Sigmoid::LongTail) - 0.1).abs() < 1e-15);
        assert!((tolerance(-0.4, (0.0, 0.05), 0.4, Sigmoid::Gaussian) - 0.1).abs() < 1e-15);
        assert_eq!(tolerance(0.06, (0.0, 0.05), 0.0, Sigmoid::LongTail), 0.0);
    }

    #[test]
    fn rect_prism_tolerance_scales_inside_and_is_one_outside() {
        let (zero, one) = ([0.0, 0.0, 0.0], [1.0, 2.0, -1.0]);
        assert_eq!(rect_prism_tolerance(&[0.5, 1.0, -0.5], &zero, &one), 0.125);
        assert_eq!(rect_prism_tolerance(&[0.5, 1.0, 0.5], &zero, &one), 1.0);
    }

    #[test]
    fn hamacher_product_is_a_t_norm() {
        assert_eq!(hamacher_product(1.0, 0.3), 0.3);
        assert_eq!(hamacher_product(0.0, 0.0), 0.0);
        assert!((hamacher_product(0.5, 0.5) - 1.0 / 3.0).abs() < 1e-15);
    }
}
