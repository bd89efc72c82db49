//! stick-pull-v3 and stick-push-v3 (`sawyer_stick_pull_v3.py`, `sawyer_stick_push_v3.py`): pick a
//! stick up and with it pull or push a thermos-like container (on two slide joints) to a goal.

use super::place::{held_up, lifted_in_grasp};
use super::reward_utils::{distance, hamacher_product, scaled_distance, tolerance, Caging, CagingDensity, Sigmoid};
use super::{xy_distance, Info, Sawyer, SawyerSpec, SawyerTask, OBJECT_SLOTS, OBS_DIM};
use crate::envs::EnvError;

/// The container's slide joints, `qpos[16:18]`.
const CONTAINER_QPOS: std::ops::Range<usize> = 16..18;
/// The stick's start height (`init_config["stick_init_pos"][2]`).
const STICK_HEIGHT: f64 = 0.02;

/// The stick and the container of the shared model.
struct StickAndContainer {
    stick: usize,
    stick_geom: usize,
    stick_end: usize,
    container: usize,
    insertion: usize,
    goal_site: usize,
    stick_init_pos: [f64; 3],
    /// The container's body at the start.
    obj_init_pos: [f64; 3],
    target_pos: [f64; 3],
}

impl StickAndContainer {
    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        Ok(StickAndContainer {
            stick: sim.model.body_id("stick")?,
            stick_geom: sim.model.geom_id("objGeom")?,
            stick_end: sim.model.site_id("stick_end")?,
            container: sim.model.body_id("object")?,
            insertion: sim.model.site_id("insertion")?,
            goal_site: sim.model.site_id("goal")?,
            stick_init_pos: [0.0; 3],
            obj_init_pos: [0.0; 3],
            target_pos: [0.0; 3],
        })
    }

    /// The stick at the rand vec's x-y, the container's slides at `container_qpos` (the env's
    /// `_set_obj_xyz` zeroes `qvel[16:18]`, which is only the y slide's); the goal site at the
    /// target.
    fn place(&mut self, sim: &mut Sawyer, rand_vec: &[f64], container_qpos: [f64; 2]) -> Result<(), EnvError> {
        self.stick_init_pos = [rand_vec[0], rand_vec[1], STICK_HEIGHT];
        sim.set_obj_xyz(&self.stick_init_pos)?;
        sim.data.qpos_mut()[CONTAINER_QPOS].copy_from_slice(&container_qpos);
        let nv = sim.data.qvel().len();
        sim.data.qvel_mut()[CONTAINER_QPOS.start.min(nv)..CONTAINER_QPOS.end.min(nv)].fill(0.0);
        sim.forward()?;
        self.obj_init_pos = sim.body_xpos(self.container);
        sim.set_site_pos(self.goal_site, &self.target_pos);
        Ok(())
    }

    /// The stick (position, scipy quaternion) and the container's insertion site, moved by
    /// `insertion_offset` (its quaternion slot stays zero).
    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS], insertion_offset: [f64; 3]) {
        slots[..3].copy_from_slice(&sim.body_xpos(self.stick));
        slots[3..7].copy_from_slice(&sim.body_quat(self.stick));
        let insertion = sim.site_xpos(self.insertion);
        slots[7..10].copy_from_slice(&[0, 1, 2].map(|i| insertion[i] + insertion_offset[i]));
    }

    fn caging(&self, sim: &Sawyer, action: &[f64], stick: &[f64; 3], obj_radius: f64, obj_init_pos: &[f64; 3]) -> f64 {
        let caging = Caging {
            obj_radius,
            pad_success_thresh: 0.05,
            object_reach_radius: 0.01,
            xz_thresh: 0.01,
            desired_gripper_effort: 1.0,
            density: CagingDensity::High,
        };
        sim.gripper_caging_reward(action, stick, obj_init_pos, &caging)
    }
}

/// The two objects' positions in the observation: the stick's `obs[4:7]`, the container's
/// `obs[11:14]`.
fn observed(obs: &[f64; OBS_DIM]) -> ([f64; 3], [f64; 3]) {
    ([obs[4], obs[5], obs[6]], [obs[11], obs[12], obs[13]])
}

/// Stick and goal are over 0.1 apart in x-y.
fn rejects_close_goal(rand_vec: &[f64]) -> bool {
    xy_distance(rand_vec, &rand_vec[3..]) < 0.1
}

/// `tolerance(d, (0, radius), margin, long_tail)`.
fn within(d: f64, radius: f64, margin: f64) -> f64 {
    tolerance(d, (0.0, radius), margin, Sigmoid::LongTail)
}

pub struct StickPull(StickAndContainer);

impl StickPull {
    /// `_stick_is_inserted`: the stick's end is past the handle and level with it.
    fn inserted(handle: &[f64; 3], end_of_stick: &[f64; 3]) -> bool {
        end_of_stick[0] >= handle[0] && (end_of_stick[1] - handle[1]).abs() <= 0.04 && (end_of_stick[2] - handle[2]).abs() <= 0.06
    }
}

impl SawyerTask for StickPull {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.0.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_stick_obj.xml",
        hand_low: [-0.5, 0.35, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Stick position (its height is replaced), then the goal's x-y.
        rand_vec_low: &[-0.1, 0.55, 0.0, 0.35, 0.45, 0.0199],
        rand_vec_high: &[0.0, 0.65, 0.001, 0.45, 0.55, 0.0201],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        StickAndContainer::new(sim).map(StickPull)
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        rejects_close_goal(rand_vec)
    }

    /// The container slid 0.09 along y (towards the stick), the goal at the stick's height.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        self.0.target_pos = [rand_vec[3], rand_vec[4], STICK_HEIGHT];
        self.0.place(sim, rand_vec, [0.0, 0.09])
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.0.objects(sim, slots, [0.0; 3]);
    }

    /// `compute_reward` (v2): grasp the stick, bring it to the container's handle, hook it in
    /// and pull the container to the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let task = &self.0;
        let (stick, handle) = observed(obs);
        let end_of_stick = sim.site_xpos(task.stick_end);
        let container = [handle[0] + 0.05, handle[1] + 0.0, handle[2] + 0.0];
        let init = task.obj_init_pos;
        let container_init_pos = [init[0] + 0.05, init[1] + 0.0, init[2] + 0.0];
        let tcp_opened = obs[3];
        let target = task.target_pos;
        let tcp_to_stick = distance(&stick, &sim.tcp_center());
        let handle_to_target = distance(&handle, &target);

        let yz_scaling = [1.0, 1.0, 2.0];
        let stick_to_container = scaled_distance(&stick, &container, yz_scaling);
        let stick_in_place_margin = scaled_distance(&task.stick_init_pos, &container_init_pos, yz_scaling);
        let stick_in_place = within(stick_to_container, 0.05, stick_in_place_margin);
        let stick_in_place_2 = within(distance(&stick, &target), 0.05, distance(&task.stick_init_pos, &target));
        let container_in_place = within(distance(&container, &target), 0.05, distance(&task.obj_init_pos, &target));

        let grasp_success = held_up(tcp_to_stick, 0.02, tcp_opened, stick[2], task.stick_init_pos[2]);
        let object_grasped = if grasp_success { 1.0 } else { task.caging(sim, action, &stick, 0.014, &task.obj_init_pos) };
        let in_place_and_object_grasped = hamacher_product(object_grasped, stick_in_place);
        let inserted = Self::inserted(&handle, &end_of_stick);
        let reward = match (grasp_success, inserted) {
            (false, _) => in_place_and_object_grasped,
            (true, false) => 1.0 + in_place_and_object_grasped + 5.0 * stick_in_place,
            (true, true) if handle_to_target <= 0.12 => 10.0,
            (true, true) => 1.0 + in_place_and_object_grasped + 5.0 + 2.0 * stick_in_place_2 + 1.0 * container_in_place,
        };
        let info = Info {
            success: handle_to_target <= 0.12 && inserted,
            near_object: f64::from(tcp_to_stick <= 0.03),
            grasp_success: f64::from(lifted_in_grasp(sim, task.stick_geom, tcp_opened, stick[2], task.obj_init_pos[2])),
            grasp_reward: object_grasped,
            in_place_reward: stick_in_place,
            obj_to_target: handle_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}

pub struct StickPush(StickAndContainer);

/// The radius round the goal that counts (`_TARGET_RADIUS` of stick-push's reward).
const PUSH_RADIUS: f64 = 0.12;

impl SawyerTask for StickPush {
    const READS_CONTACT_FORCES: bool = true;
    /// `_target_pos`, the goal the scripted policy is shown.
    fn target_pos(&self) -> [f64; 3] {
        self.0.target_pos
    }

    const SPEC: SawyerSpec = SawyerSpec {
        model: "sawyer_xyz/sawyer_stick_obj.xml",
        hand_low: [-0.5, 0.40, 0.05],
        hand_high: [0.5, 1.0, 0.5],
        hand_init_pos: [0.0, 0.6, 0.2],
        // Stick position (its height is replaced), then the goal's x-y.
        rand_vec_low: &[-0.08, 0.58, 0.0, 0.399, 0.55, 0.1319],
        rand_vec_high: &[-0.03, 0.62, 0.001, 0.401, 0.6, 0.1321],
    };

    fn new(sim: &Sawyer) -> Result<Self, EnvError> {
        StickAndContainer::new(sim).map(StickPush)
    }

    fn rejects(rand_vec: &[f64]) -> bool {
        rejects_close_goal(rand_vec)
    }

    /// The container at its slides' origin; the goal at the insertion site's height as the hand
    /// reset left it.
    fn reset(&mut self, sim: &mut Sawyer, rand_vec: &[f64]) -> Result<(), EnvError> {
        sim.reset_hand()?;
        self.0.target_pos = [rand_vec[3], rand_vec[4], sim.site_xpos(self.0.insertion)[2]];
        self.0.place(sim, rand_vec, [0.0, 0.0])
    }

    fn objects(&self, sim: &Sawyer, slots: &mut [f64; OBJECT_SLOTS]) {
        self.0.objects(sim, slots, [0.0, 0.09, 0.0]);
    }

    /// `compute_reward` (v2): grasp the stick (caged about its start), then push the container
    /// with it to the goal.
    fn evaluate(&self, sim: &Sawyer, obs: &[f64; OBS_DIM], action: &[f64]) -> (f64, Info) {
        let task = &self.0;
        let (stick_obs, container) = observed(obs);
        let stick = [stick_obs[0] + 0.015, stick_obs[1] + 0.0, stick_obs[2] + 0.0];
        let tcp_opened = obs[3];
        let target = task.target_pos;
        let tcp_to_stick = distance(&stick, &sim.tcp_center());
        let stick_in_place =
            within(distance(&stick, &target), PUSH_RADIUS, distance(&task.stick_init_pos, &target) - PUSH_RADIUS);
        let container_to_target = distance(&container, &target);
        let container_in_place =
            within(container_to_target, PUSH_RADIUS, distance(&task.obj_init_pos, &target) - PUSH_RADIUS);

        let held = held_up(tcp_to_stick, 0.02, tcp_opened, stick[2], task.stick_init_pos[2]);
        let (object_grasped, reward) = if held {
            let reward = if container_to_target <= PUSH_RADIUS { 10.0 } else { 2.0 + 5.0 * stick_in_place + 3.0 * container_in_place };
            (1.0, reward)
        } else {
            let grasped = task.caging(sim, action, &stick, 0.04, &task.stick_init_pos);
            (grasped, grasped)
        };
        let grasp_success =
            sim.touching_object(task.stick_geom) && tcp_opened > 0.0 && stick_obs[2] - 0.01 > task.stick_init_pos[2];
        let info = Info {
            success: grasp_success && distance(&container, &target) <= 0.12,
            near_object: f64::from(tcp_to_stick <= 0.03),
            grasp_success: f64::from(grasp_success),
            grasp_reward: object_grasped,
            in_place_reward: stick_in_place,
            obj_to_target: container_to_target,
            unscaled_reward: reward,
        };
        (reward, info)
    }
}
