//! Buttons, handles, levers and the dial: line the hand up with the part, then press or pull.

use super::{add, approach, within, xy_distance, Command, Obs};
use crate::envs::metaworld::norm;

/// `np.isclose(a, b, atol=0.02)`, with numpy's default `rtol` of 1e-5.
fn isclose(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.02 + 1e-5 * b.abs()
}

/// Above the button until within 0.04 of it in the plane, then down on it.
fn press_from_above(hand: [f64; 3], button: [f64; 3]) -> [f64; 3] {
    if xy_distance(hand, button) > 0.04 {
        add(button, [0.0, 0.0, 0.1])
    } else {
        button
    }
}

/// Above the handle until within 0.02 of it in the plane, then press it far down.
fn press_handle(hand: [f64; 3], handle: [f64; 3]) -> [f64; 3] {
    if xy_distance(hand, handle) > 0.02 {
        add(handle, [0.0, 0.0, 0.2])
    } else {
        add(handle, [0.0, 0.0, -0.5])
    }
}

/// `sawyer_button_press_v3_policy.py`: level with the button (x and z), then push in along y.
pub fn button_press(o: &Obs) -> Command {
    let hand = o.hand();
    let button = add(o.object(), [0.0, 0.0, -0.07]);
    let to = if !(isclose(hand[0], button[0]) && isclose(hand[2], button[2])) {
        [button[0], hand[1] - 0.1, button[2]]
    } else {
        [button[0], button[1] + 0.02, button[2]]
    };
    Command::new(to, 25.0, 0.0)
}

/// `sawyer_button_press_topdown_v3_policy.py`.
pub fn button_press_topdown(o: &Obs) -> Command {
    Command::new(press_from_above(o.hand(), o.object()), 25.0, 1.0)
}

/// `sawyer_button_press_topdown_wall_v3_policy.py`: aims 0.06 in front of the button.
pub fn button_press_topdown_wall(o: &Obs) -> Command {
    Command::new(press_from_above(o.hand(), add(o.object(), [0.0, -0.06, 0.0])), 25.0, -1.0)
}

/// `sawyer_button_press_wall_v3_policy.py`: over the wall at the button's x, down, then push.
pub fn button_press_wall(o: &Obs) -> Command {
    let hand = o.hand();
    let button = add(o.object(), [0.0, 0.0, 0.04]);
    let (off_x, far_in_y, off_z) =
        ((hand[0] - button[0]).abs() > 0.02, button[1] - hand[1] > 0.09, (hand[2] - button[2]).abs() > 0.02);
    let to = if off_x {
        [button[0], hand[1], 0.3]
    } else if far_in_y {
        [button[0], button[1], 0.3]
    } else if off_z {
        add(button, [0.0, -0.05, 0.0])
    } else {
        add(button, [0.0, -0.02, 0.0])
    };
    Command::new(to, 15.0, if off_x || far_in_y || off_z { 1.0 } else { -1.0 })
}

/// `sawyer_coffee_button_v3_policy.py`: level with the button (x and z), then push along y.
pub fn coffee_button(o: &Obs) -> Command {
    let hand = o.hand();
    let button = add(o.object(), [0.0, 0.0, -0.07]);
    let to = if norm(&[hand[0] - button[0], hand[2] - button[2]]) > 0.02 {
        [button[0], hand[1], button[2]]
    } else {
        add(button, [0.0, 0.2, 0.0])
    };
    Command::new(to, 10.0, -1.0)
}

/// `sawyer_dial_turn_v3_policy.py`: onto the dial's rim at a fixed height, then sweep it round.
pub fn dial_turn(o: &Obs) -> Command {
    let hand = o.hand();
    let dial = add(o.object(), [0.05, 0.02, 0.09]);
    let to = if xy_distance(hand, dial) > 0.02 {
        [dial[0], dial[1], 0.2]
    } else if (hand[2] - dial[2]).abs() > 0.02 {
        dial
    } else {
        add(dial, [-0.05, 0.005, 0.0])
    };
    Command::new(to, 10.0, 1.0)
}

/// `sawyer_handle_press_v3_policy.py`: aims 0.02 in front of the handle.
pub fn handle_press(o: &Obs) -> Command {
    Command::new(press_handle(o.hand(), add(o.object(), [0.0, -0.02, 0.0])), 25.0, -1.0)
}

/// `sawyer_handle_press_side_v3_policy.py`.
pub fn handle_press_side(o: &Obs) -> Command {
    Command::new(press_handle(o.hand(), o.object()), 25.0, 1.0)
}

/// `sawyer_handle_pull_v3_policy.py`: under the handle, then lift. Its second waypoint is the
/// handle's height alone, a scalar that `move` broadcasts to all three axes.
pub fn handle_pull(o: &Obs) -> Command {
    let hand = o.hand();
    let handle = add(o.object(), [0.0, -0.04, 0.0]);
    let to = if xy_distance(hand, handle) > 0.02 {
        handle
    } else if (hand[2] - handle[2]).abs() > 0.02 {
        [handle[2]; 3]
    } else {
        add(handle, [0.0, 0.0, 0.1])
    };
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_handle_pull_side_v3_policy.py`: grip the handle, then lift.
pub fn handle_pull_side(o: &Obs) -> Command {
    let (hand, handle) = (o.hand(), o.object());
    let to = approach(hand, handle, 0.04, 0.1, 0.03).unwrap_or_else(|| add(handle, [0.0, 0.0, 1.0]));
    Command::new(to, 25.0, if within(hand, handle, 0.04, 0.04) { 0.6 } else { 0.0 })
}

/// `sawyer_lever_pull_v3_policy.py`: under the lever's front, then pull it up and back.
pub fn lever_pull(o: &Obs) -> Command {
    let lever = add(o.object(), [0.0, -0.055, 0.0]);
    let to = approach(o.hand(), lever, 0.02, -0.1, 0.02).unwrap_or_else(|| add(lever, [0.0, 0.08, 0.02]));
    Command::new(to, 25.0, 1.0)
}
