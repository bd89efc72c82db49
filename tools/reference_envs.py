"""Reference environments for the MuJoCo Controls, point-robot and MCAT dynamics suites.

Each class below restates one reference env -- oyster's rlkit/envs (cheetah-vel, cheetah-dir,
ant-dir, ant-goal, humanoid-dir, point robots), FOCAL-ICLR (point-robot-wind), rand_param_envs
(walker/hopper-rand-params) and MCAT's dynamics envs (guoyijie/MCAT) -- on the official `mujoco`
bindings and Gymnasium's model files from the dependency cache, so that metarl's ports can be
compared with them step for step on the same MuJoCo library. Where the references ran on mujoco-py
(MuJoCo 1.5), two facts carry over explicitly: `cfrc_ext` is recomputed after every forward pass
and step (`mj_rnePostConstraint`, which MuJoCo 1.5 ran inside mj_forward), and `get_body_com`
returns `xpos`. Task lists are the references' numpy draws from `np.random.seed(seed)`.

Run with the cache's venv (`make deps` creates it):

    .deps/venv/bin/python tools/reference_envs.py tasks [NAME ...] [--seed 1337 --seed 0 ...]
    .deps/venv/bin/python tools/reference_envs.py goldens [--env NAME ...] [--out tests/goldens/controls]
"""

import argparse
import json
import math
import pathlib
import sys
import time

import mujoco
import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
ASSETS = REPO / ".deps" / "gymnasium_assets"


# ----------------------------------------------------------------------------------------------
# MuJoCo base: gym's MujocoEnv (do_simulation, set_state, reset = mj_resetData + reset_model).

class MujocoEnv:
    def __init__(self, model, frame_skip):
        self.model = model
        self.data = mujoco.MjData(model)
        self.frame_skip = frame_skip
        self.init_qpos = self.data.qpos.ravel().copy()
        self.init_qvel = self.data.qvel.ravel().copy()
        self.pristine = {name: getattr(model, name).copy()
                         for name in ("body_mass", "body_inertia", "dof_damping", "geom_friction",
                                      "dof_armature", "geom_size")}
        self.np_random = np.random.RandomState(0)

    def use_model(self, model):
        self.model = model
        self.data = mujoco.MjData(model)
        self.init_qpos = self.data.qpos.ravel().copy()
        self.init_qvel = self.data.qvel.ravel().copy()

    @property
    def dt(self):
        return self.model.opt.timestep * self.frame_skip

    def seed(self, seed):
        self.np_random = np.random.RandomState(seed)

    def do_simulation(self, ctrl, n_frames):
        self.data.ctrl[:] = ctrl
        for _ in range(n_frames):
            mujoco.mj_step(self.model, self.data)
        mujoco.mj_rnePostConstraint(self.model, self.data)

    def set_state(self, qpos, qvel):
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)
        mujoco.mj_rnePostConstraint(self.model, self.data)

    def reset(self):
        mujoco.mj_resetData(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        return self.reset_model()

    def reset_noise(self, scale, normal_qvel):
        """`set_state(init_qpos + U(-s, s), init_qvel + s·N(0, 1))` (gym HalfCheetah, rlkit Ant, MCAT's
        cheetah and ant) or `init_qvel + U(-s, s)` (gym Hopper, Walker2d, Humanoid); the qpos noise is
        drawn first."""
        qpos = self.init_qpos + self.np_random.uniform(low=-scale, high=scale, size=self.model.nq)
        if normal_qvel:
            qvel = self.init_qvel + self.np_random.randn(self.model.nv) * scale
        else:
            qvel = self.init_qvel + self.np_random.uniform(low=-scale, high=scale, size=self.model.nv)
        self.set_state(qpos, qvel)
        return self._get_obs()

    def get_body_com(self, name):
        return self.data.body(name).xpos.copy()

    def state_vector(self):
        return np.concatenate([self.data.qpos.flat, self.data.qvel.flat])

    def action_bounds(self):
        bounds = self.model.actuator_ctrlrange.copy()
        return bounds[:, 0], bounds[:, 1]


def load(file, timestep=None, low_gear_ratio=False):
    path = ASSETS / file
    if low_gear_ratio:
        model = mujoco.MjModel.from_xml_string(path.read_text().replace('gear="150"', 'gear="30"'))
    else:
        model = mujoco.MjModel.from_xml_path(str(path))
    if timestep is not None:
        model.opt.timestep = timestep
    return model


# gym HalfCheetahEnv (frame_skip 5) with oyster's observation (float32, torso position appended).
class HalfCheetah(MujocoEnv):
    def __init__(self, objective):
        super().__init__(load("half_cheetah.xml"), 5)
        self.objective = objective
        self.goal = 1.0 if objective == "direction" else 0.0

    def set_task(self, task):
        if self.objective == "velocity":
            self.goal = task["velocity"]
        elif self.objective == "direction":
            self.goal = task["direction"]

    def _get_obs(self):
        return np.concatenate([self.data.qpos.flat[1:], self.data.qvel.flat,
                               self.get_body_com("torso").flat]).astype(np.float32).flatten()

    def reset_model(self):
        return self.reset_noise(.1, normal_qvel=True)

    def step(self, action):
        xposbefore = self.data.qpos[0]
        self.do_simulation(action, self.frame_skip)
        xposafter = self.data.qpos[0]
        forward_vel = (xposafter - xposbefore) / self.dt
        if self.objective == "velocity":
            reward = -1.0 * abs(forward_vel - self.goal) - 0.5 * 1e-1 * np.sum(np.square(action))
        else:
            reward = self.goal * forward_vel - 0.5 * 1e-1 * np.sum(np.square(action))
        return self._get_obs(), reward, False, {}


# rlkit AntEnv (frame_skip 5) under ant-dir and ant-goal.
class Ant(MujocoEnv):
    def __init__(self, objective, low_gear_ratio=False):
        super().__init__(load("ant.xml", low_gear_ratio=low_gear_ratio), 5)
        self.objective = objective
        self._goal = np.array([0.0, 0.0]) if objective == "goal" else 0.0

    def set_task(self, task):
        if self.objective == "direction":
            # Forward/backward tasks are oyster's goals 0 and pi.
            self._goal = task["angle"] if "angle" in task else (0.0 if task["direction"] > 0 else np.pi)
        elif self.objective == "goal":
            self._goal = np.array(task["goal"])

    def _get_obs(self):
        if self.objective == "goal":
            return np.concatenate([self.data.qpos.flat, self.data.qvel.flat,
                                   np.clip(self.data.cfrc_ext, -1, 1).flat])
        return np.concatenate([self.data.qpos.flat[2:], self.data.qvel.flat])

    def reset_model(self):
        return self.reset_noise(.1, normal_qvel=True)

    def step(self, action):
        contact = lambda: 0.5 * 1e-3 * np.sum(np.square(np.clip(self.data.cfrc_ext, -1, 1)))
        if self.objective == "goal":
            self.do_simulation(action, self.frame_skip)
            xposafter = np.array(self.get_body_com("torso"))
            goal_reward = -np.sum(np.abs(xposafter[:2] - self._goal))
            reward = goal_reward - .1 * np.square(action).sum() - contact() + 0.0
            return self._get_obs(), reward, False, {}
        angle = self._goal
        torso_xyz_before = np.array(self.get_body_com("torso"))
        direct = (np.cos(angle), np.sin(angle))
        self.do_simulation(action, self.frame_skip)
        torso_xyz_after = np.array(self.get_body_com("torso"))
        torso_velocity = torso_xyz_after - torso_xyz_before
        forward_reward = np.dot((torso_velocity[:2] / self.dt), direct)
        reward = forward_reward - .5 * np.square(action).sum() - contact() + 1.0
        state = self.state_vector()
        notdone = np.isfinite(state).all() and state[2] >= 0.2 and state[2] <= 1.0
        return self._get_obs(), reward, not notdone, {}


# gym HumanoidEnv (frame_skip 5) under oyster's humanoid-dir.
class HumanoidDir(MujocoEnv):
    def __init__(self):
        super().__init__(load("humanoid.xml"), 5)
        self._goal = 0.0

    def set_task(self, task):
        self._goal = task["angle"]

    def mass_center(self):
        mass = np.expand_dims(self.model.body_mass, 1)
        return np.sum(mass * self.data.xipos, 0) / np.sum(mass)

    def _get_obs(self):
        d = self.data
        return np.concatenate([d.qpos.flat[2:], d.qvel.flat, d.cinert.flat, d.cvel.flat,
                               d.qfrc_actuator.flat, d.cfrc_ext.flat])

    def reset_model(self):
        return self.reset_noise(0.01, normal_qvel=False)

    def step(self, action):
        pos_before = np.copy(self.mass_center()[:2])
        self.do_simulation(action, self.frame_skip)
        pos_after = self.mass_center()[:2]
        goal_direction = (np.cos(self._goal), np.sin(self._goal))
        lin_vel_cost = 0.25 * np.sum(goal_direction * (pos_after - pos_before)) / self.model.opt.timestep
        quad_ctrl_cost = 0.1 * np.square(self.data.ctrl).sum()
        quad_impact_cost = min(.5e-6 * np.square(self.data.cfrc_ext).sum(), 10)
        reward = lin_vel_cost - quad_ctrl_cost - quad_impact_cost + 5.0
        qpos = self.data.qpos
        return self._get_obs(), reward, bool((qpos[2] < 1.0) or (qpos[2] > 2.0)), {}


# rand_param_envs Walker2DRandParamsEnv / HopperRandParamsEnv (RandomEnv: frame_skip 4, the
# models' timestep 0.004).
class PlanarWalker(MujocoEnv):
    def __init__(self, body):
        file = "walker2d.xml" if body == "walker" else "hopper.xml"
        super().__init__(load(file, timestep=0.004), 4)
        self.body = body

    def set_task(self, task):
        for name in ("body_mass", "body_inertia", "dof_damping", "geom_friction"):
            getattr(self.model, name)[:] = np.array(task[name]).reshape(getattr(self.model, name).shape)

    def _get_obs(self):
        return np.concatenate([self.data.qpos.flat[1:], np.clip(self.data.qvel.flat, -10, 10)])

    def reset_model(self):
        return self.reset_noise(.005, normal_qvel=False)

    def step(self, a):
        posbefore = self.data.qpos[0]
        self.do_simulation(a, self.frame_skip)
        posafter, height, ang = self.data.qpos[0:3]
        reward = (posafter - posbefore) / self.dt
        reward += 1.0
        reward -= 1e-3 * np.square(a).sum()
        if self.body == "walker":
            done = not (height > 0.8 and height < 2.0 and ang > -1.0 and ang < 1.0)
        else:
            s = self.state_vector()
            done = not (np.isfinite(s).all() and (np.abs(s[2:]) < 100).all() and
                        (height > .7) and (abs(ang) < .2))
        return self._get_obs(), reward, done, {}


# ----------------------------------------------------------------------------------------------
# MCAT's dynamics envs: guoyijie/MCAT@9ab4651 `Table 1 Replicate/envs/` hopper_env.py, halfcheetah_env.py,
# ant_env.py and ant_cripple_env.py on gym's models (its assets/ant.xml is gym's; its
# half_cheetah.xml and hopper.xml differ from gym's only in the floor's visual size).
#
# - Size and armature load one XML per value (assets/hopper/hopper_size{r}.xml,
#   assets/half_cheetah/half_cheetah_arma{a}.xml), so the compiler derives masses, inertias and
#   `*_invweight0` from them. The hopper files use `coordinate="global"`, which MuJoCo 3 no longer
#   reads; their radii are written into Gymnasium's local-coordinate hopper.xml instead.
# - Mass and damping scale the loaded values in `reset`; the cripple mask zeroes two actuators.
# - Never done; the horizon is `_max_episode_steps` 1000.
# Two conventions differ from the authors', as the Rust port does: every reset starts from
# mj_resetData (the authors' mass/damping/cripple resets keep the simulation time and the solver's
# warm start), and the reset noise continues one seeded generator (the authors reseed gym's
# np_random with `rng.randint(100)` before each reset, so an env sees at most 100 start states).

def hopper_size_xml(radius):
    """hopper_size{radius}.xml: torso and thigh r, leg 0.8 r, foot 1.2 r, written as the files'
    short decimals (0.056, not 0.05600000000000001)."""
    xml = (ASSETS / "hopper.xml").read_text()
    for geom, default, ratio in (("torso_geom", 0.05, 1.0), ("thigh_geom", 0.05, 1.0),
                                 ("leg_geom", 0.04, 0.8), ("foot_geom", 0.06, 1.2)):
        old = f'name="{geom}" size="{default} '
        assert xml.count(old) == 1, old
        xml = xml.replace(old, f'name="{geom}" size="{round(ratio * radius * 1e6) / 1e6} ')
    return xml


def half_cheetah_arma_xml(armature):
    """half_cheetah_arma{armature}.xml: the default joint armature (0.1) replaced."""
    xml = (ASSETS / "half_cheetah.xml").read_text()
    old = '<joint armature=".1" '
    assert xml.count(old) == 1, old
    return xml.replace(old, f'<joint armature="{armature}" ')


class McatHopper(MujocoEnv):  # hopper_env.py: model per size 13/60, step 29-39, obs 41-44, reset 46-55
    def __init__(self):
        super().__init__(load("hopper.xml"), 4)

    def set_task(self, task):
        self.use_model(mujoco.MjModel.from_xml_string(hopper_size_xml(task["radius"])))

    def step(self, a):
        posbefore = self.data.qpos[0]
        self.do_simulation(a, self.frame_skip)
        posafter = self.data.qpos[0]
        alive_bonus = 1.0
        reward = (posafter - posbefore) / self.dt
        reward += alive_bonus
        reward -= 1e-3 * np.square(a).sum()
        return self._get_obs(), reward, False, {}

    def _get_obs(self):
        return np.concatenate([self.data.qpos.flat[1:], np.clip(self.data.qvel.flat, -10, 10)])

    def reset_model(self):
        return self.reset_noise(.005, normal_qvel=False)


class McatHalfCheetah(MujocoEnv):  # halfcheetah_env.py: model per arma 13/51, mass 55-59, step 31-40, reset 75-79
    def __init__(self):
        super().__init__(load("half_cheetah.xml"), 5)

    def set_task(self, task):
        if task["kind"] == "armature":
            self.use_model(mujoco.MjModel.from_xml_string(half_cheetah_arma_xml(task["armature"])))
        else:  # mass
            self.model.body_mass[:] = np.copy(self.pristine["body_mass"]) * task["scale"]

    def step(self, action):
        xposbefore = self.data.qpos[0]
        self.do_simulation(action, self.frame_skip)
        xposafter = self.data.qpos[0]
        ob = self._get_obs()
        reward_ctrl = - 0.1 * np.square(action).sum()
        reward_run = (xposafter - xposbefore) / self.dt
        return ob, reward_ctrl + reward_run, False, {}

    def _get_obs(self):
        return np.concatenate([self.data.qpos.flat[1:], self.data.qvel.flat])

    def reset_model(self):
        return self.reset_noise(.1, normal_qvel=True)


class McatAnt(MujocoEnv):  # ant_env.py: step 27-44, damping 70-78; ant_cripple_env.py: cripple_dict 19-24, step 37-63, mask 163-171
    cripple_dict = {0: [2, 3], 1: [4, 5], 2: [6, 7], 3: [0, 1]}

    def __init__(self, objective):
        super().__init__(load("ant.xml"), 5)
        self.objective = objective
        self.cripple_mask = None

    def set_task(self, task):
        if self.objective == "damping":
            damping = np.copy(self.pristine["dof_damping"])
            damping[2:5] *= task["scale"]
            damping[5:8] *= task["scale"]
            damping[8:11] *= 1.0 / task["scale"]
            damping[11:14] *= 1.0 / task["scale"]
            self.model.dof_damping[:] = damping
        else:
            self.cripple_mask = np.ones(self.model.nu)
            self.cripple_mask[self.cripple_dict[task["leg"]]] = 0

    def step(self, a):
        xposbefore = self.get_body_com("torso")[0]
        if self.cripple_mask is not None:
            a = self.cripple_mask * a
        self.do_simulation(a, self.frame_skip)
        xposafter = self.get_body_com("torso")[0]
        reward_ctrl = -0.005 * np.square(a).sum() if self.objective == "damping" else 0.0
        reward_run = (xposafter - xposbefore) / self.dt
        reward_contact = 0.0
        reward_survive = 0.05
        reward = reward_run + reward_ctrl + reward_contact + reward_survive
        return self._get_obs(), reward, False, {}

    def _get_obs(self):
        return np.concatenate([self.data.qpos.flat[2:], self.data.qvel.flat])

    def reset_model(self):
        return self.reset_noise(.1, normal_qvel=True)


# oyster PointEnv / SparsePointEnv and FOCAL-ICLR PointWindEnv; the dense robot's random start
# comes from the env's seeded generator instead of numpy's global one.
class PointRobot:
    goal_radius = 0.2

    def __init__(self, variant):
        self.variant = variant
        self._goal, self._wind = [0.0, 0.0], np.array([0.0, 0.0])
        self.np_random = np.random.RandomState(0)

    def seed(self, seed):
        self.np_random = np.random.RandomState(seed)

    def action_bounds(self):
        return np.array([-0.1, -0.1]), np.array([0.1, 0.1])

    def set_task(self, task):
        self._goal = task["goal"]
        if self.variant == "wind":
            self._wind = np.array(task["wind"])

    def reset(self):
        if self.variant == "dense":
            self._state = self.np_random.uniform(-1., 1., size=(2,))
        else:
            self._state = np.array([0, 0])
        return np.copy(self._state)

    def step(self, action):
        if self.variant == "wind":
            self._state = self._state + action + self._wind
        else:
            self._state = self._state + action
        x, y = self._state
        x -= self._goal[0]
        y -= self._goal[1]
        reward = - (x ** 2 + y ** 2) ** 0.5
        info = {}
        if self.variant != "dense":
            sparse_reward = reward * float(reward >= -self.goal_radius)
            if reward >= -self.goal_radius:
                sparse_reward += 1
            info["sparse_reward"] = sparse_reward
        return np.copy(self._state), reward, False, info


# ----------------------------------------------------------------------------------------------
# Task families: the references' draws, then oyster's split tasks[:n_train], tasks[-n_test:].

def split(tasks, n_train, n_test):
    for i, t in enumerate(tasks):
        t["index"] = i
    return {"train": tasks[:n_train], "test": tasks[-n_test:]}


def fixed_lists(kind, key, train, test):
    tasks = [{"kind": kind, key: v} for v in train + test]
    for i, t in enumerate(tasks):
        t["index"] = i
    return {"train": tasks[:len(train)], "test": tasks[len(train):]}


def log_uniform_multipliers(base, log_scale_limit, shape):
    """`np.array(base) ** np.random.uniform(-l, l, size=shape)`, with the power taken by libm's
    `pow` as the numpy of the references did: numpy >= 1.22 hands float64 power to SVML on
    AVX-512 CPUs, whose last bits differ from libm's in about 5% of draws and by CPU."""
    exponents = np.random.uniform(-log_scale_limit, log_scale_limit, size=shape)
    return np.array([math.pow(base, e) for e in exponents.ravel()]).reshape(shape)


def rand_params_tasks(body, seed):
    p = PlanarWalker(body).pristine
    np.random.seed(seed)
    log_scale_limit = 3.0
    tasks = []
    for _ in range(50):
        body_mass = p["body_mass"] * log_uniform_multipliers(1.5, log_scale_limit, p["body_mass"].shape)
        body_inertia = log_uniform_multipliers(1.5, log_scale_limit, p["body_inertia"].shape) * p["body_inertia"]
        dof_damping = np.multiply(p["dof_damping"], log_uniform_multipliers(1.3, log_scale_limit, p["dof_damping"].shape))
        geom_friction = np.multiply(p["geom_friction"], log_uniform_multipliers(1.5, log_scale_limit, p["geom_friction"].shape))
        tasks.append({"kind": "physics", "body_mass": body_mass.ravel().tolist(), "body_inertia": body_inertia.ravel().tolist(),
                      "dof_damping": dof_damping.ravel().tolist(), "geom_friction": geom_friction.ravel().tolist()})
    return split(tasks, 40, 10)


def tasks_for(name, seed):
    if name == "cheetah-vel":
        np.random.seed(seed)
        velocities = np.random.uniform(0.0, 3.0, size=(130,))
        return split([{"kind": "velocity", "velocity": float(v)} for v in velocities], 100, 30)
    if name == "cheetah-dir":
        return split([{"kind": "direction", "direction": float(d)} for d in [-1, 1]], 2, 2)
    if name == "ant-dir":  # forward_backward (oyster's goals 0 and pi), as the papers run it
        return split([{"kind": "direction", "direction": d} for d in [1.0, -1.0]], 2, 2)
    if name == "ant-goal":
        np.random.seed(seed)
        a = np.random.random(180) * 2 * np.pi
        r = 3 * np.random.random(180) ** 0.5
        goals = np.stack((r * np.cos(a), r * np.sin(a)), axis=-1)
        return split([{"kind": "goal", "goal": g.tolist()} for g in goals], 150, 30)
    if name == "humanoid-dir":
        np.random.seed(seed)
        directions = np.random.uniform(0., 2.0 * np.pi, size=(130,))
        return split([{"kind": "angle", "angle": float(d)} for d in directions], 100, 30)
    if name == "walker-rand-params":
        return rand_params_tasks("walker", seed)
    if name == "hopper-rand-params":
        return rand_params_tasks("hopper", seed)
    if name == "point-robot":
        np.random.seed(seed)
        goals = [[np.random.uniform(-1., 1.), np.random.uniform(-1., 1.)] for _ in range(100)]
        return split([{"kind": "goal", "goal": [float(x) for x in g]} for g in goals], 80, 20)
    if name == "sparse-point-robot":
        np.random.seed(seed)
        angles = np.linspace(0, np.pi, num=100)
        goals = np.stack([1.0 * np.cos(angles), 1.0 * np.sin(angles)], axis=1)
        np.random.shuffle(goals)
        return split([{"kind": "goal", "goal": g} for g in goals.tolist()], 80, 20)
    if name == "point-robot-wind":
        np.random.seed(seed)
        wind_x = np.random.uniform(-0.05, 0.05, 50)
        wind_y = np.random.uniform(-0.05, 0.05, 50)
        winds = np.stack([wind_x, wind_y], axis=1)
        return split([{"kind": "wind", "goal": [1.0, 0.0], "wind": w} for w in winds.tolist()], 40, 10)
    if name == "hopper-size":
        return fixed_lists("radius", "radius", [0.02, 0.03, 0.04, 0.05, 0.06], [0.01, 0.07])
    if name == "cheetah-armature":
        return fixed_lists("armature", "armature", [0.1, 0.2, 0.3, 0.4, 0.5], [0.05, 0.75])
    if name in ("cheetah-mass", "ant-damp"):
        return fixed_lists("scale", "scale", [0.5, 0.75, 1.0, 1.25, 1.5], [0.25, 1.75])
    if name == "ant-cripple":
        return fixed_lists("crippled_leg", "leg", [0, 1, 2], [3])
    raise SystemExit(f"unknown env {name}")


ENVS = {
    "cheetah-vel": (lambda: HalfCheetah("velocity"), 200),
    "cheetah-dir": (lambda: HalfCheetah("direction"), 200),
    "ant-dir": (lambda: Ant("direction"), 200),
    "ant-goal": (lambda: Ant("goal"), 200),
    "humanoid-dir": (HumanoidDir, 200),
    "walker-rand-params": (lambda: PlanarWalker("walker"), 200),
    "hopper-rand-params": (lambda: PlanarWalker("hopper"), 200),
    "point-robot": (lambda: PointRobot("dense"), 20),
    "sparse-point-robot": (lambda: PointRobot("sparse"), 20),
    "point-robot-wind": (lambda: PointRobot("wind"), 25),
    "hopper-size": (McatHopper, 1000),
    "cheetah-armature": (McatHalfCheetah, 1000),
    "cheetah-mass": (McatHalfCheetah, 1000),
    "ant-damp": (lambda: McatAnt("damping"), 1000),
    "ant-cripple": (lambda: McatAnt("cripple"), 1000),
}

# ----------------------------------------------------------------------------------------------
# Goldens: per env, two tasks (the first train and the first test task); on each, seed the
# reset noise, then an episode of uniform random actions (`RandomState(action_seed).uniform(low,
# high)` per step, which the Rust side redraws bit for bit) and, after a reset, one of zero
# actions, each to termination or the horizon. Every step keeps the reward, the flags and the sum
# of the observation; full observations are kept at resets, every FULL_OBS_EVERY steps and at
# episode ends, which keeps the files small while any divergence still shows.

FULL_OBS_EVERY = 25
TASK_SEED = 1337


def run_episode(env, horizon, actions_rng, policy):
    low, high = env.action_bounds()
    obs = env.reset()
    episode = {"policy": policy, "reset_obs": [float(x) for x in obs], "reward": [],
               "terminated": [], "truncated": [], "sparse_reward": [], "obs_sum": [], "full_obs": {}}
    for t in range(horizon):
        action = actions_rng.uniform(low, high) if policy == "random" else np.zeros_like(low)
        obs, reward, done, info = env.step(action)
        truncated = (t + 1 == horizon) and not done
        episode["reward"].append(float(reward))
        episode["terminated"].append(bool(done))
        episode["truncated"].append(truncated)
        episode["sparse_reward"].append(float(info["sparse_reward"]) if "sparse_reward" in info else None)
        total = 0.0
        for x in obs:
            total += float(x)
        episode["obs_sum"].append(total)
        if (t + 1) % FULL_OBS_EVERY == 0 or done or truncated:
            episode["full_obs"][str(t)] = [float(x) for x in obs]
        if done or truncated:
            break
    return episode


def golden(name):
    make, horizon = ENVS[name]
    tasks = tasks_for(name, TASK_SEED)
    chosen = [tasks["train"][0], tasks["test"][0]]
    if chosen[0]["index"] == chosen[1]["index"]:
        chosen[1] = tasks["train"][1]
    env = make()
    episodes = []
    for task in chosen:
        reset_seed = 7 + task["index"]
        env.seed(reset_seed)
        env.set_task(task)
        action_seed = 1000 + task["index"]
        actions_rng = np.random.RandomState(action_seed)
        for policy in ("random", "zero"):
            ep = run_episode(env, horizon, actions_rng, policy)
            ep.update(task=task["index"], reset_seed=reset_seed, action_seed=action_seed)
            episodes.append(ep)
    return {"env": name, "task_seed": TASK_SEED, "horizon": horizon, "mujoco": mujoco.__version__,
            "full_obs_every": FULL_OBS_EVERY, "episodes": episodes}


def bench(name):
    """The env on train task 0, ready to be timed: returns `run(steps)`, the steps/s of `steps`
    steps of 1000 seeded random actions cycled; only the steps are timed, resets are not (what
    `metarl bench envs` does)."""
    make, horizon = ENVS[name]
    env = make()
    env.set_task(tasks_for(name, TASK_SEED)["train"][0])
    env.seed(0)
    low, high = env.action_bounds()
    rng = np.random.RandomState(0)
    actions = [rng.uniform(low, high) for _ in range(1000)]

    def run(steps):
        env.reset()
        t, seconds = 0, 0.0
        for i in range(steps):
            start = time.perf_counter()
            _, _, done, _ = env.step(actions[i % len(actions)])
            seconds += time.perf_counter() - start
            t += 1
            if done or t == horizon:
                env.reset()
                t = 0
        return steps / seconds

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tasks", help="print task lists as JSON: {env: {seed: {train, test}}}")
    t.add_argument("env", nargs="*", help="default: all")
    t.add_argument("--seed", type=int, action="append", help=f"default: {TASK_SEED}")
    g = sub.add_parser("goldens", help="write golden trajectories")
    g.add_argument("--env", action="append", choices=sorted(ENVS), help="default: all")
    g.add_argument("--out", type=pathlib.Path, default=REPO / "tests" / "goldens" / "controls")
    args = parser.parse_args()
    if args.command == "tasks":
        seeds = args.seed or [TASK_SEED]
        json.dump({name: {str(seed): tasks_for(name, seed) for seed in seeds} for name in args.env or sorted(ENVS)}, sys.stdout)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.env or sorted(ENVS):
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(golden(name), separators=(",", ":")) + "\n")
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


if __name__ == "__main__":
    main()
