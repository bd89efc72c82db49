"""metarl_envs from Python: every ML1 env against the `metaworld` package in this process, every
other env against tools/reference_envs.py, Gymnasium's env checker on every env, and the
vectorised env against single envs.

Run by `make test` with the dependency cache's venv (metaworld 3.1.1, mujoco 3.3.7) and the
built wheel on PYTHONPATH: `make python-test`.
"""

import importlib.util
import pathlib
import pickle
import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import metarl_envs

REPO = pathlib.Path(__file__).resolve().parents[2]
# Largest tolerated difference in an observation, reward or info field.
TOLERANCE = 1e-9
ML1_ENVS = sorted(name for name, (suite, _, _) in metarl_envs.ENVS.items() if suite == "ml1")
INFO_FIELDS = ["near_object", "grasp_success", "grasp_reward", "in_place_reward", "obj_to_target", "unscaled_reward"]


def load_reference_envs():
    spec = importlib.util.spec_from_file_location("reference_envs", REPO / "tools" / "reference_envs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference_envs = load_reference_envs()


def max_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def test_every_env_is_covered():
    references = set(ML1_ENVS) | set(reference_envs.ENVS)
    assert len(ML1_ENVS) == 50
    assert references == set(metarl_envs.ENVS)


# ----------------------------------------------------------------------------------------------
# Meta-World: the package itself, same process, same MuJoCo library version.

@pytest.mark.parametrize("name", ML1_ENVS)
def test_ml1_env_steps_as_the_metaworld_package(name):
    import metaworld
    from metaworld.policies import ENV_POLICY_MAP

    theirs_ml1, ours_ml1 = metaworld.ML1(name, seed=0), metarl_envs.ML1(name, seed=0)
    for theirs_tasks, our_tasks in [(theirs_ml1.train_tasks, ours_ml1.train_tasks), (theirs_ml1.test_tasks, ours_ml1.test_tasks)]:
        assert [pickle.loads(t.data)["rand_vec"].tolist() for t in theirs_tasks] == [t.params["rand_vec"] for t in our_tasks]
    theirs, ours = theirs_ml1.train_classes[name](), ours_ml1.train_classes[name]()
    policy = ENV_POLICY_MAP[name]()
    worst = {"obs": 0.0, "reward": 0.0, "info": 0.0}
    # A random episode on train task 0, a scripted one (shown the hidden goal) on test task 1.
    for tasks, index, scripted in [("train_tasks", 0, False), ("test_tasks", 1, True)]:
        theirs.set_task(getattr(theirs_ml1, tasks)[index])
        ours.set_task(getattr(ours_ml1, tasks)[index])
        (their_obs, _), (obs, _) = theirs.reset(), ours.reset()
        worst["obs"] = max(worst["obs"], max_diff(their_obs, obs))
        rng = np.random.RandomState(index)
        for t in range(theirs.max_path_length):
            if scripted:
                np.testing.assert_array_equal(ours.hidden_goal, theirs._target_pos)
                shown = obs.copy()
                shown[-3:] = ours.hidden_goal
                action = np.clip(policy.get_action(shown), -1.0, 1.0).astype(np.float64)
            else:
                action = rng.uniform(-1.0, 1.0, size=4)
            their_obs, their_reward, their_term, their_trunc, their_info = theirs.step(action)
            obs, reward, term, trunc, info = ours.step(action)
            worst["obs"] = max(worst["obs"], max_diff(their_obs, obs))
            worst["reward"] = max(worst["reward"], abs(their_reward - reward))
            worst["info"] = max(worst["info"], max_diff([their_info[k] for k in INFO_FIELDS], [info[k] for k in INFO_FIELDS]))
            assert (term, trunc) == (their_term, their_trunc), f"flags at step {t}"
            assert bool(info["success"]) == bool(their_info["success"]), f"success at step {t}"
            if their_term or their_trunc:
                break
        assert trunc and t + 1 == ours.max_path_length == 500
    assert max(worst.values()) <= TOLERANCE, worst


# ----------------------------------------------------------------------------------------------
# Controls, point robots, MCAT's dynamics tasks: tools/reference_envs.py.

@pytest.mark.parametrize("name", sorted(reference_envs.ENVS))
def test_env_steps_as_its_reference(name):
    make_reference, horizon = reference_envs.ENVS[name]
    seed = metarl_envs.DEFAULT_TASK_SEED
    reference_tasks = reference_envs.tasks_for(name, seed)
    train, test = metarl_envs.tasks(name, seed)
    for theirs, ours in [(reference_tasks["train"], train), (reference_tasks["test"], test)]:
        assert [t["index"] for t in theirs] == [t.index for t in ours]
        assert [{k: v for k, v in t.items() if k != "index"} for t in theirs] == [t.params for t in ours]
    reference, env = make_reference(), metarl_envs.make(name, task_seed=seed)
    assert env.max_path_length == horizon
    low, high = reference.action_bounds()
    np.testing.assert_array_equal(env.action_space.low, low)
    np.testing.assert_array_equal(env.action_space.high, high)
    worst = 0.0
    for their_task, task in [(reference_tasks["train"][0], train[0]), (reference_tasks["test"][-1], test[-1])]:
        reset_seed = 7 + task.index
        reference.seed(reset_seed)
        reference.set_task(their_task)
        env.set_task(task)
        rng = np.random.RandomState(1000 + task.index)
        # A random episode, then a reset on the same generator and an episode of zero actions.
        for episode, policy in enumerate(["random", "zero"]):
            their_obs = reference.reset()
            obs, _ = env.reset(seed=reset_seed if episode == 0 else None)
            worst = max(worst, max_diff(their_obs, obs))
            for t in range(horizon):
                action = rng.uniform(low, high) if policy == "random" else np.zeros_like(low)
                their_obs, their_reward, done, their_info = reference.step(action)
                obs, reward, term, trunc, info = env.step(action)
                worst = max(worst, max_diff(their_obs, obs), abs(their_reward - reward))
                assert term == bool(done) and trunc == (t + 1 == horizon and not done), f"flags at step {t}"
                if "sparse_reward" in their_info:
                    worst = max(worst, abs(their_info["sparse_reward"] - info["sparse_reward"]))
                if term or trunc:
                    break
    assert worst <= TOLERANCE, worst


# ----------------------------------------------------------------------------------------------
# Gymnasium's API.

@pytest.mark.parametrize("name", sorted(metarl_envs.ENVS))
def test_gymnasium_env_checker_passes(name):
    check_env(metarl_envs.make(name), skip_render_check=True)


def test_registered_with_gymnasium():
    env = gymnasium.make("metarl/reach-v3")
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (39,) and obs.dtype == np.float64 and "success" in info and "near_object" in info
    assert gymnasium.make("metarl/cheetah-vel").unwrapped.max_path_length == 200


def test_renders_the_robot():
    env = metarl_envs.make("reach-v3", render_mode="rgb_array", width=64, height=48)
    env.reset()
    frame = env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
    # Not a blank or one-colour image: the arm and the table differ from the background.
    assert frame.std() > 10 and len(np.unique(frame.reshape(-1, 3), axis=0)) > 50
    # hopper-size compiles a new model per task: the renderer follows it.
    hopper = metarl_envs.make("hopper-size", render_mode="rgb_array", width=32, height=32)
    hopper.reset()
    first = hopper.render()
    hopper.set_task(hopper.test_tasks[-1])
    hopper.reset()
    assert hopper.render().shape == first.shape


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="did you mean \"reach-v3\""):
        metarl_envs.make("reach-v4")
    with pytest.raises(TypeError, match="'horizn' .*did you mean 'horizon'"):
        metarl_envs.make("cheetah-vel", horizn=5)
    with pytest.raises(TypeError, match="sparse_reward"):
        metarl_envs.make("sparse-point-robot", sparse_reward="dense")
    env = metarl_envs.make("point-robot")
    env.reset()
    with pytest.raises(ValueError, match="action has 3 entries, the action space has 2"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="not a finite number"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="a task of reach-v3 given to point-robot"):
        env.set_task(metarl_envs.ML1("reach-v3").train_tasks[0])


def test_options_change_the_env():
    short = metarl_envs.make("cheetah-vel", horizon=5)
    short.reset(seed=0)
    flags = [short.step(np.zeros(6))[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]
    # Walk onto the goal: inside the radius oyster pays 1 − d, FOCAL-ICLR 5·(0.2 − d).
    for sparse_reward, paid in [("one-minus-distance", lambda d: 1.0 - d), ("focal-iclr", lambda d: 5.0 * (0.2 - d))]:
        env = metarl_envs.make("sparse-point-robot", sparse_reward=sparse_reward)
        goal = np.asarray(env.task.params["goal"])
        obs, _ = env.reset(seed=0)
        for _ in range(20):
            obs, _, _, _, info = env.step(np.clip(goal - obs, -0.1, 0.1))
        distance = np.linalg.norm(goal - obs)
        assert distance < 0.2 and info["sparse_reward"] == pytest.approx(paid(distance), abs=1e-12)


# ----------------------------------------------------------------------------------------------
# The vectorised env.

def single_envs(name, tasks):
    envs = []
    for task in tasks:
        env = metarl_envs.make(name)
        env.set_task(task)
        envs.append(env)
    return envs


@pytest.mark.parametrize("threads", [1, 2])
def test_vec_env_steps_as_single_envs_with_next_step_autoreset(threads):
    name = "point-robot"  # a 20-step horizon: 45 steps cross two autoresets
    train, test = metarl_envs.tasks(name)
    tasks = [train[0], train[5], test[0]]
    vec = metarl_envs.VecEnv(name, 3, threads=threads, tasks=tasks)
    singles = single_envs(name, tasks)
    obs, _ = vec.reset(seed=10)
    np.testing.assert_array_equal(obs, np.stack([env.reset(seed=10 + i)[0] for i, env in enumerate(singles)]))
    rng = np.random.RandomState(0)
    ended = [False] * 3
    for t in range(45):
        actions = rng.uniform(-1.0, 1.0, size=(3, 2))
        obs, rewards, terminated, truncated, infos = vec.step(actions)
        for i, env in enumerate(singles):
            if ended[i]:
                expected = (env.reset()[0], 0.0, False, False)
            else:
                expected = env.step(actions[i])[:4]
            np.testing.assert_array_equal(obs[i], expected[0])
            assert (rewards[i], terminated[i], truncated[i]) == tuple(expected[1:]), (t, i)
            ended[i] = bool(terminated[i] or truncated[i])
    assert vec.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP


def test_vec_env_threads_give_the_same_numbers():
    name = "reach-v3"
    ml1 = metarl_envs.ML1(name)
    runs = []
    for threads in (1, 2):
        vec = metarl_envs.VecEnv(name, 8, threads=threads, tasks=ml1.train_tasks[:8])
        vec.reset()
        rng = np.random.RandomState(1)
        runs.append([vec.step(rng.uniform(-1, 1, size=(8, 4))) for _ in range(30)])
    for one, two in zip(*runs):
        for a, b in zip(one[:4], two[:4]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(one[4]["success"], two[4]["success"])
    with pytest.raises(ValueError, match=r"actions have shape \[8, 3\]"):
        vec.step(np.zeros((8, 3)))


def test_the_module_loads_mujoco_and_no_libtorch():
    code = "import metarl_envs; metarl_envs.make('reach-v3').reset(); print(open('/proc/self/maps').read())"
    maps = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "libmujoco.so.3.3.7" in maps
    assert "libtorch" not in maps and "libc10" not in maps
