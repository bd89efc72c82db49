//! Doors, drawers, faucets and windows: hook the hand on the handle and sweep it along the joint.

use super::{add, approach, xy_distance, Command, Obs};

/// `sawyer_door_close_v3_policy.py`: from the door's far side, push it shut toward the goal.
pub fn door_close(o: &Obs) -> Command {
    let hand = o.hand();
    let door = add(o.object(), [0.05, 0.12, 0.1]);
    let to = if hand[0] > door[0] {
        if hand[2] < door[2] + 0.2 {
            [hand[0], hand[1], door[2] + 0.25]
        } else {
            [door[0] - 0.02, door[1], hand[2]]
        }
    } else if (hand[2] - door[2]).abs() > 0.04 {
        add(door, [-0.02, 0.0, 0.0])
    } else {
        o.goal()
    };
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_door_lock_v3_policy.py`: come down on the lock from above and push it down.
pub fn door_lock(o: &Obs) -> Command {
    let hand = o.hand();
    let lock = add(o.object(), [-0.02, -0.02, 0.0]);
    let to = if xy_distance(hand, lock) > 0.02 {
        if hand[2] < 0.25 {
            add(hand, [0.0, -0.1, 0.1])
        } else {
            add(lock, [0.0, 0.0, 0.3])
        }
    } else if (hand[2] - lock[2]).abs() > 0.02 {
        lock
    } else {
        add(lock, [-0.1, 0.0, -0.1])
    };
    Command::new(to, 25.0, -1.0)
}

/// `sawyer_door_open_v3_policy.py`: above the handle, down beside it, then pull.
pub fn door_open(o: &Obs) -> Command {
    let hand = o.hand();
    let object = o.object();
    let door = [object[0] - 0.05, object[1], object[2]];
    let to = if xy_distance(hand, door) > 0.12 {
        add(door, [0.06, 0.02, 0.2])
    } else if (hand[2] - door[2]).abs() > 0.04 {
        add(door, [0.06, 0.02, 0.0])
    } else {
        door
    };
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_door_unlock_v3_policy.py`: under the lock from the front, then lift it round.
pub fn door_unlock(o: &Obs) -> Command {
    let hand = o.hand();
    let lock = add(o.object(), [-0.04, -0.02, -0.03]);
    let to = if xy_distance(hand, lock) > 0.02 {
        if hand[2] > 0.15 {
            add(hand, [0.0, -0.1, -0.1])
        } else {
            lock
        }
    } else {
        add(lock, [0.1, 0.0, 0.01])
    };
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_drawer_close_v3_policy.py`: over the drawer to its front, down, then push it in.
pub fn drawer_close(o: &Obs) -> Command {
    let hand = o.hand();
    let drawer = add(o.object(), [0.0, 0.0, -0.02]);
    let to = if hand[1] > drawer[1] {
        if hand[2] < drawer[2] + 0.23 {
            [hand[0], hand[1], drawer[2] + 0.5]
        } else {
            add(drawer, [0.0, -0.075, 0.23])
        }
    } else if (hand[2] - drawer[2]).abs() > 0.04 {
        add(drawer, [0.0, -0.075, 0.0])
    } else {
        drawer
    };
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_drawer_open_v3_policy.py`: gently onto the handle, then a hard pull.
pub fn drawer_open(o: &Obs) -> Command {
    let hand = o.hand();
    let drawer = add(o.object(), [0.0, 0.0, -0.02]);
    match approach(hand, drawer, 0.06, 0.3, 0.04) {
        Some(to) => Command::new(to, 4.0, -1.0),
        None => Command::new(add(drawer, [0.0, -0.06, 0.0]), 50.0, -1.0),
    }
}

/// `sawyer_faucet_close_v3_policy.py`: onto the faucet's right of the handle, then turn it left.
pub fn faucet_close(o: &Obs) -> Command {
    let faucet = add(o.object(), [0.04, 0.0, 0.03]);
    let to = approach(o.hand(), faucet, 0.04, 0.1, 0.04).unwrap_or_else(|| add(faucet, [-0.1, 0.05, 0.0]));
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_faucet_open_v3_policy.py`: onto the handle's left, then turn it right.
pub fn faucet_open(o: &Obs) -> Command {
    let faucet = add(o.object(), [-0.04, 0.0, 0.03]);
    let to = approach(o.hand(), faucet, 0.04, 0.1, 0.04).unwrap_or_else(|| add(faucet, [0.1, 0.05, 0.0]));
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_window_close_v3_policy.py`: beside the handle, then slide it left.
pub fn window_close(o: &Obs) -> Command {
    let window = add(o.object(), [0.03, -0.03, -0.08]);
    let to = approach(o.hand(), window, 0.04, 0.25, 0.02).unwrap_or_else(|| add(window, [-0.1, 0.0, 0.0]));
    Command::new(to, 25.0, 1.0)
}

/// `sawyer_window_open_v3_policy.py`: beside the handle, then slide it right.
pub fn window_open(o: &Obs) -> Command {
    let window = add(o.object(), [-0.03, -0.03, -0.08]);
    let to = approach(o.hand(), window, 0.04, 0.3, 0.02).unwrap_or_else(|| add(window, [0.1, 0.0, 0.0]));
    Command::new(to, 25.0, 1.0)
}
