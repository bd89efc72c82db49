"""metarl's environments from Python: the 50 Meta-World ML1 envs, the MuJoCo Controls (PEARL)
suite, the point robots and MCAT's dynamics tasks, stepped in Rust, step for step equal to the
`metaworld` package and the reference envs.

    import metarl_envs
    env = metarl_envs.make("reach-v3")                 # a gymnasium.Env
    ml1 = metarl_envs.ML1("reach-v3", seed=0)          # metaworld.ML1's tasks
    env.set_task(ml1.train_tasks[3])
    vec = metarl_envs.VecEnv("reach-v3", 32, threads=2)  # a gymnasium.vector.VectorEnv

Every env is also registered with Gymnasium as `metarl/<name>` (`gymnasium.make("metarl/reach-v3")`).
"""

import dataclasses
import difflib
import json
import os
import pathlib

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

_PACKAGE = pathlib.Path(__file__).resolve().parent
# The wheel carries the Meta-World assets; Gymnasium's own package carries the MuJoCo models the
# Controls envs load. Set before the native module reads them.
if (_PACKAGE / "metaworld_xml").is_dir():
    os.environ.setdefault("METARL_ASSETS", str(_PACKAGE / "metaworld_xml"))
os.environ.setdefault("METARL_GYMNASIUM_ASSETS", str(pathlib.Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets"))

from . import _native  # noqa: E402  (after the asset folders are set)

__all__ = ["ENVS", "ML1", "MetarlEnv", "Task", "VecEnv", "make", "tasks"]

# name -> (suite, summary, horizon)
ENVS = {name: (suite, summary, horizon) for name, suite, summary, horizon in _native.registry()}
# EnvOptions' fields (metarl-envs/src/envs/registry.rs), for "did you mean" on a typo.
OPTIONS = tuple(_native.option_names())
# The task seed the references draw the Controls and point-robot task lists with.
DEFAULT_TASK_SEED = 1337


def _options_json(options):
    for key in options:
        if key not in OPTIONS:
            close = difflib.get_close_matches(key, OPTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"unknown env option {key!r}{hint}; options: {', '.join(OPTIONS)}")
    return json.dumps(options)


@dataclasses.dataclass(frozen=True)
class Task:
    """One task of an env's family: its index in the family's list, its parameters (`kind` and
    the values, e.g. `{"kind": "rand_vec", "rand_vec": [...]}`) and its ground-truth vector."""

    env_name: str
    index: int
    params: dict
    oracle: tuple

    @property
    def params_json(self):
        return json.dumps(self.params)


def tasks(name, seed=DEFAULT_TASK_SEED, **options):
    """(train, test): the family's task lists for `seed`, as the reference code draws them."""
    name = _native.canonical_name(name)
    drawn = json.loads(_native.tasks(name, _options_json(options), seed))

    def task(entry):
        index, oracle = entry.pop("index"), tuple(entry.pop("oracle"))
        return Task(name, index, entry, oracle)

    return [task(t) for t in drawn["train"]], [task(t) for t in drawn["test"]]


class MetarlEnv(gymnasium.Env):
    """One metarl env as a Gymnasium env. It starts on train task 0 of `task_seed`; `set_task`
    (or `reset(options={"task": task})`) switches task at the next reset. `reset(seed=s)` seeds
    the reset noise as the reference envs' `seed(s)`. `info` has `success` (a float, as
    Meta-World's) where the env defines one, `sparse_reward` for the point robots, and a Meta-World
    env's own fields. The env's time limit (its horizon, or `horizon=`) truncates episodes."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, name, task_seed=None, render_mode=None, width=480, height=480, camera=None, **options):
        self.name = _native.canonical_name(name)
        suite = ENVS[self.name][0]
        if task_seed is None:
            task_seed = 0 if suite == "ml1" else DEFAULT_TASK_SEED
        self._options = options
        self._native = _native.NativeEnv(self.name, _options_json(options))
        low, high = (np.asarray(bound, dtype=np.float64) for bound in self._native.action_bounds)
        self.action_space = gymnasium.spaces.Box(low, high, dtype=np.float64)
        dim = self._native.observation_dim
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float64)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r}: metarl envs render 'rgb_array'")
        if render_mode is not None and not self._native.renderable:
            raise ValueError(f"{self.name} has no MuJoCo model to render")
        self.render_mode = render_mode
        self._render_args = (width, height, camera)
        self._renderer = None
        self.max_path_length = self._native.horizon
        self.train_tasks, self.test_tasks = tasks(self.name, task_seed, **options)
        self.set_task(self.train_tasks[0])

    @property
    def suite(self):
        return self._native.suite

    @property
    def task(self):
        return self._task

    def set_task(self, task):
        if task.env_name != self.name:
            raise ValueError(f"a task of {task.env_name} given to {self.name}")
        self._native.set_task(task.index, task.params_json)
        self._task = task

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._native.seed(seed)
        if options and "task" in options:
            self.set_task(options["task"])
        return self._native.reset(), {}

    def step(self, action):
        return self._native.step(np.ascontiguousarray(action, dtype=np.float64))

    @property
    def hidden_goal(self):
        """The goal the observation hides (a Meta-World env's `_target_pos`), else None."""
        goal = self._native.hidden_goal()
        return None if goal is None else np.asarray(goal)

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn("render() without render_mode: make the env with render_mode='rgb_array'")
            return None
        if self._renderer is None:
            self._renderer = _native.NativeRenderer(*self._render_args)
        return self._renderer.render(self._native)

    def close(self):
        self._renderer = None


def make(name, task_seed=None, **options):
    """The env `name` (`metarl_envs.ENVS` lists them) as a `gymnasium.Env`."""
    return MetarlEnv(name, task_seed=task_seed, **options)


class ML1:
    """`metaworld.ML1(name, seed)`'s benchmark: `train_classes`/`test_classes` map the env name to
    a constructor, `train_tasks`/`test_tasks` are the 50 train and 50 test tasks (the package's
    rand vecs, bit for bit), set on an env with `env.set_task(task)`."""

    def __init__(self, env_name, seed=0):
        name = _native.canonical_name(env_name)
        if ENVS[name][0] != "ml1":
            raise ValueError(f"{env_name} is not a Meta-World env")
        self.train_tasks, self.test_tasks = tasks(name, seed)
        constructor = {name: lambda **kwargs: MetarlEnv(name, task_seed=seed, **kwargs)}
        self.train_classes = dict(constructor)
        self.test_classes = dict(constructor)


class VecEnv(VectorEnv):
    """`num_envs` copies of env `name` stepped on `threads` Rust threads with the GIL released.
    Env i starts on `tasks[i]` (default: train task 0); `set_task(i, task)` changes it. Autoreset
    is Gymnasium's next-step mode: the step after an episode ends resets that env (reward 0).
    `infos["success"]` holds each env's success (NaN where the env defines none)."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, name, num_envs, threads=1, task_seed=None, tasks=None, **options):
        template = MetarlEnv(name, task_seed=task_seed, **options)
        self.name, self.num_envs = template.name, num_envs
        self._native = _native.NativeVecEnv(self.name, num_envs, _options_json(options), threads)
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.train_tasks, self.test_tasks = template.train_tasks, template.test_tasks
        for i, task in enumerate(tasks or [self.train_tasks[0]] * num_envs):
            self.set_task(i, task)

    def set_task(self, i, task):
        if task.env_name != self.name:
            raise ValueError(f"a task of {task.env_name} given to {self.name}")
        self._native.set_task(i, task.index, task.params_json)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed if isinstance(seed, int) else None)
        if isinstance(seed, int):
            seed = [seed + i for i in range(self.num_envs)]
        return self._native.reset(seed), {}

    def step(self, actions):
        obs, rewards, terminated, truncated, success = self._native.step(np.ascontiguousarray(actions, dtype=np.float64))
        return obs, rewards, terminated, truncated, {"success": success}


for _name in ENVS:
    if f"metarl/{_name}" not in gymnasium.registry:
        gymnasium.register(id=f"metarl/{_name}", entry_point=MetarlEnv, kwargs={"name": _name})
