//! Objects the gripper picks up: come down on the object, close the fingers, carry it to the goal.

use super::{add, approach, distance, within, xy_distance, Command, Obs, Vec3};
use crate::envs::metaworld::norm;

/// `sawyer_assembly_v3_policy.py`: grip the wrench, lift it to the peg's height, drop it on.
pub fn assembly(o: &Obs) -> Command {
    let hand = o.hand();
    let wrench = add(o.object(), [-0.02, 0.0, 0.0]);
    let peg = add(o.goal(), [0.12, 0.0, 0.14]);
    let to = if xy_distance(hand, wrench) > 0.02 {
        add(wrench, [0.0, 0.0, 0.1])
    } else if xy_distance(hand, peg) <= 0.02 {
        add(peg, [0.0, 0.0, -0.2])
    } else if (hand[2] - wrench[2]).abs() > 0.05 {
        add(wrench, [0.0, 0.0, 0.03])
    } else if (hand[2] - peg[2]).abs() > 0.04 {
        [hand[0], hand[1], peg[2]]
    } else {
        peg
    };
    Command::new(to, 10.0, if within(hand, wrench, 0.02, 0.12) { 0.6 } else { 0.0 })
}

/// `sawyer_basketball_v3_policy.py`: grip the ball, lift it to the hoop's height, carry it over.
/// The hoop's y varies between 0.85 and 0.9 and is taken as 0.875; its z is always 0.35.
pub fn basketball(o: &Obs) -> Command {
    let hand = o.hand();
    let ball = add(o.object(), [0.0, 0.0, 0.01]);
    let hoop = [o.goal()[0], 0.875, 0.35];
    let to = approach(hand, ball, 0.04, 0.3, 0.025).unwrap_or_else(|| {
        if (ball[2] - hoop[2]).abs() > 0.025 {
            [hand[0], hand[1], hoop[2]]
        } else {
            hoop
        }
    });
    Command::new(to, 25.0, if within(hand, o.object(), 0.04, 0.15) { 0.6 } else { -1.0 })
}

/// `sawyer_bin_picking_v3_policy.py`: grip the cube, aiming nearer the bin's middle in y (the
/// closing fingers drag it there, clear of the bin's edge), lift it and drop it in the other bin.
pub fn bin_picking(o: &Obs) -> Command {
    let hand = o.hand();
    let mut cube = add(o.object(), [0.0, 0.0, 0.03]);
    cube[1] = cube[1].clamp(0.675, 0.725);
    let bin = [0.12, 0.7, 0.02];
    let to = approach(hand, cube, 0.02, 0.15, 0.01).unwrap_or_else(|| {
        if xy_distance(hand, bin) > 0.02 {
            if hand[2] < 0.15 {
                add(hand, [0.0, 0.0, 0.1])
            } else {
                [bin[0], bin[1], 0.18]
            }
        } else {
            bin
        }
    });
    Command::new(to, 25.0, if within(hand, cube, 0.02, 0.02) { 0.6 } else { -1.0 })
}

/// `sawyer_box_close_v3_policy.py`: grip the lid, lift it to 0.15, carry it over the box.
pub fn box_close(o: &Obs) -> Command {
    let hand = o.hand();
    let lid = add(o.object(), [0.0, 0.0, 0.02]);
    let goal = o.goal();
    let box_top = add([goal[0], goal[1], 0.15], [0.0, 0.0, 0.0]);
    let to = if xy_distance(hand, lid) > 0.01 {
        [lid[0], lid[1], 0.2]
    } else if (hand[2] - lid[2]).abs() > 0.05 {
        lid
    } else if (hand[2] - box_top[2]).abs() > 0.04 {
        [hand[0], hand[1], box_top[2]]
    } else {
        box_top
    };
    Command::new(to, 25.0, if within(hand, lid, 0.01, 0.13) { 1.0 } else { 0.5 })
}

/// `sawyer_coffee_pull_v3_policy.py`: grip the mug and pull it to the goal.
pub fn coffee_pull(o: &Obs) -> Command {
    let hand = o.hand();
    let mug = add(o.object(), [-0.005, 0.0, 0.05]);
    let to = approach(hand, mug, 0.06, 0.15, 0.02).unwrap_or_else(|| o.goal());
    let grip_at = add(o.object(), [0.01, 0.0, 0.05]);
    Command::new(to, 10.0, if within(hand, grip_at, 0.06, 0.1) { 0.7 } else { -1.0 })
}

/// `sawyer_coffee_push_v3_policy.py`: grip the mug and push it to the goal under the machine.
pub fn coffee_push(o: &Obs) -> Command {
    let hand = o.hand();
    let mug = add(o.object(), [0.01, 0.0, 0.05]);
    let goal = o.goal();
    let to = approach(hand, mug, 0.06, 0.2, 0.02).unwrap_or([goal[0], goal[1], 0.1]);
    Command::new(to, 10.0, if within(hand, mug, 0.06, 0.1) { 0.5 } else { -1.0 })
}

/// `sawyer_disassemble_v3_policy.py`: grip the wrench and lift it off the peg.
pub fn disassemble(o: &Obs) -> Command {
    let hand = o.hand();
    let wrench = add(o.object(), [-0.02, 0.0, 0.01]);
    let to = approach(hand, wrench, 0.02, 0.1, 0.03).unwrap_or_else(|| add(hand, [0.0, 0.0, 0.1]));
    Command::new(to, 10.0, if within(hand, wrench, 0.02, 0.07) { 0.8 } else { 0.0 })
}

/// `sawyer_hammer_v3_policy.py`: grip the hammer and swing it to a fixed spot level with the nail.
pub fn hammer(o: &Obs) -> Command {
    let hand = o.hand();
    let hammer = add(o.object(), [-0.04, 0.0, -0.01]);
    let goal = add([0.24, 0.71, 0.11], [-0.19, 0.0, 0.05]);
    let to = if xy_distance(hand, hammer) > 0.04 {
        add(hammer, [0.0, 0.0, 0.1])
    } else if (hand[2] - hammer[2]).abs() > 0.05 && hammer[2] < 0.03 {
        add(hammer, [0.0, 0.0, 0.03])
    } else if norm(&[hand[0] - goal[0], hand[2] - goal[2]]) > 0.02 {
        [goal[0], hand[1], goal[2]]
    } else {
        goal
    };
    Command::new(to, 10.0, if within(hand, hammer, 0.04, 0.1) { 0.8 } else { 0.0 })
}

/// `sawyer_hand_insert_v3_policy.py`: grip the object and carry it into the hole.
pub fn hand_insert(o: &Obs) -> Command {
    let (hand, object, goal) = (o.hand(), o.object(), o.goal());
    let to = if xy_distance(hand, object) > 0.02 {
        add(object, [0.0, 0.0, 0.1])
    } else if (hand[2] - object[2]).abs() > 0.05 {
        add(object, [0.0, 0.0, 0.03])
    } else if xy_distance(hand, goal) > 0.04 {
        [goal[0], goal[1], hand[2]]
    } else {
        goal
    };
    Command::new(to, 10.0, if within(hand, object, 0.02, 0.1) { 0.65 } else { 0.0 })
}

/// `sawyer_peg_insertion_side_v3_policy.py`: grip the peg, line it up 0.4 in front of the hole
/// (at x = -0.35, z = 0.16, the goal's y), then push it in.
pub fn peg_insert_side(o: &Obs) -> Command {
    let (hand, peg) = (o.hand(), o.object());
    let hole = [-0.35, o.goal()[1], 0.16];
    let to = approach(hand, peg, 0.04, 0.3, 0.025).unwrap_or_else(|| {
        if norm(&[peg[1] - hole[1], peg[2] - hole[2]]) > 0.03 {
            add(hole, [0.4, 0.0, 0.0])
        } else {
            hole
        }
    });
    Command::new(to, 25.0, if within(hand, peg, 0.04, 0.15) { 0.6 } else { -1.0 })
}

/// `sawyer_peg_unplug_side_v3_policy.py`: grip the peg at 0.15 and pull it out along x.
pub fn peg_unplug_side(o: &Obs) -> Command {
    let hand = o.hand();
    let peg = add(o.object(), [-0.02, 0.0, 0.035]);
    let to = if xy_distance(hand, peg) > 0.04 {
        add(peg, [0.0, 0.0, 0.2])
    } else if (hand[2] - 0.15).abs() > 0.02 {
        [peg[0], peg[1], 0.15]
    } else {
        add(hand, [0.01, 0.0, 0.0])
    };
    Command::new(to, 25.0, if within(hand, peg, 0.04, 0.15) { 0.1 } else { -1.0 })
}

/// `sawyer_pick_out_of_hole_v3_policy.py`: grip the puck, lift it to the goal's height, carry it.
pub fn pick_out_of_hole(o: &Obs) -> Command {
    let (hand, goal) = (o.hand(), o.goal());
    let puck = add(o.object(), [0.0, 0.0, 0.02]);
    let to = approach(hand, puck, 0.02, 0.15, 0.01).unwrap_or_else(|| {
        if (hand[2] - goal[2]).abs() > 0.04 {
            [hand[0], hand[1], goal[2]]
        } else {
            goal
        }
    });
    Command::new(to, 25.0, if within(hand, puck, 0.02, 0.15) { 0.1 } else { 0.0 })
}

/// `sawyer_pick_place_v3_policy.py`: come down on the puck, wait for the fingers to close,
/// carry it to the goal.
pub fn pick_place(o: &Obs) -> Command {
    let hand = o.hand();
    let puck = add(o.object(), [-0.005, 0.0, 0.0]);
    let to = if xy_distance(hand, puck) > 0.02 {
        add(puck, [0.0, 0.0, 0.1])
    } else if (hand[2] - puck[2]).abs() > 0.05 && puck[2] < 0.04 {
        add(puck, [0.0, 0.0, 0.03])
    } else if o.gripper() > 0.73 {
        hand
    } else {
        o.goal()
    };
    Command::new(to, 10.0, if distance(hand, o.object()) < 0.07 { 1.0 } else { 0.0 })
}

/// `sawyer_pick_place_wall_v3_policy.py`: grip the puck, rise over the wall, carry it to the goal.
pub fn pick_place_wall(o: &Obs) -> Command {
    let (hand, goal) = (o.hand(), o.goal());
    let puck = add(o.object(), [-0.005, 0.0, 0.0]);
    let over_wall_zone = (-0.15..=0.35).contains(&hand[0]) && (0.60..=0.80).contains(&hand[1]);
    let to = if xy_distance(hand, puck) > 0.015 {
        add(puck, [0.0, 0.0, 0.1])
    } else if (hand[2] - puck[2]).abs() > 0.04 && puck[2] < 0.03 {
        add(puck, [0.0, 0.0, 0.03])
    } else if over_wall_zone && hand[2] < 0.25 {
        add(hand, [0.0, 0.0, 1.0])
    } else if over_wall_zone && hand[2] < 0.35 {
        [goal[0], goal[1], hand[2]]
    } else if (hand[2] - goal[2]).abs() > 0.01 {
        [hand[0], hand[1], goal[2]]
    } else {
        goal
    };
    Command::new(to, 10.0, if within(hand, o.object(), 0.015, 0.1) { 0.9 } else { 0.0 })
}

/// `sawyer_shelf_place_v3_policy.py`: grip the block, move to the shelf's x, lift, slide it in.
pub fn shelf_place(o: &Obs) -> Command {
    let hand = o.hand();
    let block = add(o.object(), [-0.005, 0.0, 0.015]);
    let shelf_x = o.goal()[0];
    let to = approach(hand, block, 0.04, 0.3, 0.04).unwrap_or_else(|| {
        if (hand[0] - shelf_x).abs() > 0.02 {
            [shelf_x, hand[1], 0.3]
        } else if hand[2] < 0.30 {
            add(hand, [0.0, 0.0, 0.30])
        } else {
            add(hand, [0.0, 0.05, 0.0])
        }
    });
    Command::new(to, 25.0, if within(hand, o.object(), 0.04, 0.15) { 0.7 } else { -1.0 })
}

/// The stick envs: grip the stick, bring it level with the thermos (y, then z), push it into
/// the thermos; once the stick is within 0.04 of the thermos in x, head for `goal`.
fn stick_to_thermos(hand: Vec3, stick: Vec3, thermos: Vec3, goal: Vec3) -> Vec3 {
    if (stick[0] - thermos[0]).abs() > 0.04 {
        approach(hand, stick, 0.02, 0.1, 0.02).unwrap_or_else(|| {
            if (stick[1] - thermos[1]).abs() > 0.02 {
                [stick[0], thermos[1], stick[2]]
            } else if (stick[2] - thermos[2]).abs() > 0.02 {
                [stick[0], thermos[1], thermos[2]]
            } else {
                thermos
            }
        })
    } else {
        goal
    }
}

/// `sawyer_stick_pull_v3_policy.py`: hook the thermos with the stick and pull it to the goal.
pub fn stick_pull(o: &Obs) -> Command {
    let hand = o.hand();
    let stick = add(o.object(), [-0.015, 0.0, 0.03]);
    let thermos = add(o.second_object(), [-0.015, 0.0, 0.03]);
    let goal = add(o.goal(), [-0.05, 0.0, 0.0]);
    Command::new(stick_to_thermos(hand, stick, thermos, goal), 25.0, if within(hand, stick, 0.02, 0.1) { 0.7 } else { -1.0 })
}

/// `sawyer_stick_push_v3_policy.py`: push the thermos to the goal with the stick.
pub fn stick_push(o: &Obs) -> Command {
    let hand = o.hand();
    let stick = add(o.object(), [0.015, 0.0, 0.03]);
    let goal = add(o.goal(), [0.0, 0.0, 0.132]);
    Command::new(stick_to_thermos(hand, stick, o.second_object(), goal), 10.0, if within(hand, stick, 0.02, 0.1) { 0.7 } else { -1.0 })
}
