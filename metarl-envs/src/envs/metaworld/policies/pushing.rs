//! Objects pushed or slid without a firm grip, and the reach envs.

use super::{add, approach, distance, within, xy_distance, Command, Obs};

/// `sawyer_reach_v3_policy.py`: straight to the goal.
pub fn reach(o: &Obs) -> Command {
    Command::new(o.goal(), 5.0, 0.0)
}

/// `sawyer_reach_wall_v3_policy.py`: aim 1 above the goal while low in the wall's zone.
pub fn reach_wall(o: &Obs) -> Command {
    let (hand, goal) = (o.hand(), o.goal());
    let to = if (-0.1..=0.3).contains(&hand[0]) && (0.60..=0.80).contains(&hand[1]) && hand[2] < 0.25 {
        add(goal, [0.0, 0.0, 1.0])
    } else {
        goal
    };
    Command::new(to, 5.0, 0.0)
}

/// `sawyer_push_v3_policy.py`: down behind the puck, grip lightly, push it to the goal.
pub fn push(o: &Obs) -> Command {
    let hand = o.hand();
    let puck = add(o.object(), [-0.005, 0.0, 0.0]);
    let to = if xy_distance(hand, puck) > 0.02 {
        add(puck, [0.0, 0.0, 0.2])
    } else if (hand[2] - puck[2]).abs() > 0.04 {
        add(puck, [0.0, 0.0, 0.03])
    } else {
        o.goal()
    };
    Command::new(to, 10.0, if within(hand, o.object(), 0.02, 0.10) { 0.6 } else { 0.0 })
}

/// `sawyer_push_back_v3_policy.py`: onto the puck, then to the goal, the hand's height added
/// to the goal's.
pub fn push_back(o: &Obs) -> Command {
    let (hand, puck) = (o.hand(), o.object());
    let to = approach(hand, puck, 0.04, 0.3, 0.055).unwrap_or_else(|| add(o.goal(), [0.0, 0.0, hand[2]]));
    Command::new(to, 10.0, if within(hand, puck, 0.04, 0.05) { 0.9 } else { 0.0 })
}

/// `sawyer_push_wall_v3_policy.py`: as push, but around the wall: left while the object is in
/// front of it, then forward past it, then to the goal.
pub fn push_wall(o: &Obs) -> Command {
    let hand = o.hand();
    let object = add(o.object(), [-0.005, 0.0, 0.0]);
    let to = if xy_distance(hand, object) > 0.02 {
        add(object, [0.0, 0.0, 0.2])
    } else if (hand[2] - object[2]).abs() > 0.04 {
        add(object, [0.0, 0.0, 0.03])
    } else if (-0.1..=0.3).contains(&object[0]) && (0.65..=0.75).contains(&object[1]) {
        add(hand, [-1.0, 0.0, 0.0])
    } else if ((-0.15 < object[0] && object[0] < 0.05) || (0.15 < object[0] && object[0] < 0.35))
        && (0.695..=0.755).contains(&object[1])
    {
        add(hand, [0.0, 1.0, 0.0])
    } else {
        o.goal()
    };
    Command::new(to, 10.0, if within(hand, o.object(), 0.02, 0.1) { 0.6 } else { 0.0 })
}

/// `sawyer_soccer_v3_policy.py`: get behind the ball on the side away from the goal (low while
/// not over it), then drive through it.
pub fn soccer(o: &Obs) -> Command {
    let (hand, goal) = (o.hand(), o.goal());
    let ball = add(o.object(), [0.0, 0.0, 0.03]);
    let desired_z = if xy_distance(hand, ball) < 0.02 { 0.1 } else { 0.03 };
    let offset = 0.03;
    let mut push_location = if ball[0] - goal[0] < -0.05 {
        add(ball, [-offset, 0.0, 0.0])
    } else if ball[0] - goal[0] > 0.05 {
        add(ball, [offset, 0.0, 0.0])
    } else {
        add(ball, [0.0, -offset, 0.0])
    };
    push_location[2] = desired_z;
    let to = if distance(hand, push_location) > 0.01 { push_location } else { ball };
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_sweep_v3_policy.py`: onto the cube while left of x = 0.2, then to 0.1 above the goal.
pub fn sweep(o: &Obs) -> Command {
    let hand = o.hand();
    let cube = add(o.object(), [0.0, 0.0, 0.015]);
    let to = if hand[0] < 0.2 { approach(hand, cube, 0.04, 0.3, 0.04) } else { None }
        .unwrap_or_else(|| add(o.goal(), [0.0, 0.0, 0.1]));
    let grab = if !within(hand, o.object(), 0.04, 0.15) {
        -1.0
    } else if o.object()[0] < 0.4 {
        0.7
    } else {
        -1.0
    };
    Command::new(to, 25.0, grab)
}

/// `sawyer_sweep_into_v3_policy.py`: onto the cube, then sweep it into the hole.
pub fn sweep_into(o: &Obs) -> Command {
    let hand = o.hand();
    let cube = add(o.object(), [-0.005, 0.0, 0.01]);
    let to = approach(hand, cube, 0.04, 0.3, 0.04).unwrap_or_else(|| o.goal());
    Command::new(to, 25.0, if within(hand, o.object(), 0.04, 0.15) { 0.7 } else { -1.0 })
}

/// `sawyer_plate_slide_v3_policy.py`: behind the plate, then slide it to y = 0.9 at the goal's x.
pub fn plate_slide(o: &Obs) -> Command {
    let plate = add(o.object(), [0.0, -0.055, 0.03]);
    let to = approach(o.hand(), plate, 0.03, 0.1, 0.04).unwrap_or([o.goal()[0], 0.9, plate[2]]);
    Command::new(to, 10.0, -1.0)
}

/// `sawyer_plate_slide_back_v3_policy.py`: onto the plate, pull it back to y = 0.6, then across
/// to x = 0.15 and on, at y = 0.55.
pub fn plate_slide_back(o: &Obs) -> Command {
    let hand = o.hand();
    let plate = add(o.object(), [0.0, -0.065, 0.025]);
    let to = approach(hand, plate, 0.01, 0.1, 0.04).unwrap_or_else(|| {
        if hand[1] > 0.7 {
            add(hand, [0.0, -0.1, 0.0])
        } else if hand[1] > 0.6 {
            [0.15, 0.55, hand[2]]
        } else {
            [hand[0] - 0.1, 0.55, hand[2]]
        }
    });
    Command::new(to, 10.0, -1.0)
}

/// `sawyer_plate_slide_back_side_v3_policy.py`: onto the plate's left, then slide it right.
pub fn plate_slide_back_side(o: &Obs) -> Command {
    let hand = o.hand();
    let plate = add(o.object(), [0.023, 0.0, 0.025]);
    let to = approach(hand, plate, 0.01, 0.07, 0.04).unwrap_or([hand[0] + 0.1, 0.6, hand[2]]);
    Command::new(to, 10.0, 1.0)
}

/// `sawyer_plate_slide_side_v3_policy.py`: onto the plate's right, then slide it left.
pub fn plate_slide_side(o: &Obs) -> Command {
    let hand = o.hand();
    let plate = add(o.object(), [0.07, 0.0, -0.005]);
    let to = approach(hand, plate, 0.04, 0.1, 0.04).unwrap_or_else(|| {
        if hand[0] > -0.2 {
            [hand[0] - 0.1, 0.6, hand[2]]
        } else {
            add(plate, [-0.1, 0.0, 0.0])
        }
    });
    Command::new(to, 25.0, 1.0)
}
