"""Meta-World ML1 references: the pinned `metaworld` 3.1.1 package itself, on the official mujoco
bindings of the dependency cache's venv (the same MuJoCo 3.3.7 library metarl links).

`tasks` prints the rand vecs of `metaworld.ML1(name, seed)` (train: seed s, test: seed s + 1);
`goldens` writes, per env, episodes of the official env class under an ML1 task
(`env.set_task(task)`, as the package's examples do) into tests/goldens/metaworld/<env>.json.gz
(gzip-compressed JSON):

- train task 0: a full 500-step episode of random actions (truncated at `max_path_length`), then
  a reset and a shorter episode on the same generator;
- train task 1 and test task 0: a shorter random episode each;
- test task 1: a full episode of the package's scripted policy (`metaworld.policies`), shown the
  goal that the ML1 observation hides (from `env._target_pos`), so the replay reaches the grasps
  and successes random actions rarely do. Its actions are float32 (the policies' `Action` array)
  and are written as their shortest float32 decimals.

`live` streams, for `metarl envs parity`, one JSON line per env: N episodes of
`metaworld.ML1(name, seed)`, episode e on train task e (mod 50), a full episode of random actions
(`RandomState(seed + e)`) for even e and of the scripted policy for odd e, with every action,
observation, reward and flag (floats as Python's shortest round-trip decimals, so exact).

Random actions are `RandomState(action_seed).uniform(-1, 1, size=4)` per step (metarl's
`Policy::Random` draws the same floats). Per step: reward and the sum of the observation; the
steps where `terminated`, `truncated` and `success` hold, as lists of step indices; the full
observation and the info fields every `FULL_OBS_EVERY` steps and at the last step.

    .deps/venv/bin/python tools/reference_metaworld.py tasks reach-v3 [push-v3 ...] [--seed 0 --seed 1]
    .deps/venv/bin/python tools/reference_metaworld.py goldens [--env reach-v3 ...] [--out tests/goldens/metaworld]
    .deps/venv/bin/python tools/reference_metaworld.py live --env reach-v3 [--env ...] --episodes 3 --seed 123
"""

import argparse
import gzip
import json
import pickle
import pathlib
import time

import mujoco
import numpy as np

import metaworld
from metaworld.policies import ENV_POLICY_MAP

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPTED_TRIES = 10
FULL_OBS_EVERY = 50
SHORT_EPISODE = 100
TASK_SEED = 0
# (split, index in that split, the episodes' lengths on one action generator, policy);
# None is a full episode.
EPISODES = [("train", 0, [None, SHORT_EPISODE], "random"), ("train", 1, [SHORT_EPISODE], "random"),
            ("test", 0, [SHORT_EPISODE], "random"), ("test", 1, [None], "scripted")]
INFO_FIELDS = ["near_object", "grasp_success", "grasp_reward", "in_place_reward", "obj_to_target",
               "unscaled_reward"]
# Every ML1 env; `goldens` without --env writes them all.
ENVS = sorted(metaworld.ML1.ENV_NAMES)


def rand_vecs(tasks):
    return [pickle.loads(t.data)["rand_vec"].tolist() for t in tasks]


def float32_decimal(value):
    """The shortest decimal of a float32, as the float64 nearest it: parsed as float64 and
    rounded to float32 (what a reader does), it gives the float32 back."""
    shortest = float(np.format_float_positional(value, unique=True, trim="0"))
    assert np.float32(shortest) == value, value
    return shortest


def scripted_action(env, policy, obs):
    shown = obs.copy()
    shown[-3:] = env._target_pos
    action = np.clip(policy.get_action(shown), -1.0, 1.0)
    assert action.dtype == np.float32, action.dtype
    return action


def run_episode(env, rng, policy, steps):
    obs, _ = env.reset()
    episode = {"steps": steps, "reset_obs": obs.tolist(), "reward": [], "obs_sum": [],
               "terminated": [], "truncated": [], "success": [], "full_obs": {}, "info": {},
               "actions": []}
    for t in range(steps):
        if policy is None:
            action = rng.uniform(-1.0, 1.0, size=4)
        else:
            action = scripted_action(env, policy, obs)
            episode["actions"].append([float32_decimal(a) for a in action])
            action = action.astype(np.float64)
        obs, reward, terminated, truncated, info = env.step(action)
        episode["reward"].append(float(reward))
        episode["obs_sum"].append(float(obs.sum()))
        for flag, value in [("terminated", terminated), ("truncated", truncated), ("success", info["success"])]:
            if value:
                episode[flag].append(t)
        if t % FULL_OBS_EVERY == 0 or t == steps - 1:
            episode["full_obs"][t] = obs.tolist()
            episode["info"][t] = {k: float(info[k]) for k in INFO_FIELDS}
        if terminated or truncated:
            assert t == steps - 1, f"the episode ended at step {t} of {steps}"
            break
    return episode


def golden(name):
    ml1 = metaworld.ML1(name, seed=TASK_SEED)
    env = ml1.train_classes[name]()
    tasks = {"train": ml1.train_tasks, "test": ml1.test_tasks}
    episodes = []
    for split, index, lengths, policy_name in EPISODES:
        policy = ENV_POLICY_MAP[name]() if policy_name == "scripted" else None
        # The scripted policy misses some tasks (soccer-v3's test task 1): it moves on to the next
        # task of the split until an episode succeeds, for at most SCRIPTED_TRIES tasks.
        for attempt in range(SCRIPTED_TRIES if policy else 1):
            env.set_task(tasks[split][index + attempt])
            action_seed = len(episodes)
            rng = np.random.RandomState(action_seed)
            run = [run_episode(env, rng, policy, steps or env.max_path_length) for steps in lengths]
            if policy is None or any(episode["success"] for episode in run):
                break
        index += attempt
        for episode in run:
            episode.update(split=split, index=index, action_seed=action_seed, policy=policy_name)
            episodes.append(episode)
    return {"env": name, "task_seed": TASK_SEED, "horizon": env.max_path_length,
            "mujoco": mujoco.__version__, "full_obs_every": FULL_OBS_EVERY, "episodes": episodes}


def live(name, episodes, seed):
    """Every step of `episodes` full episodes on ML1(name, seed)'s train tasks (module docstring)."""
    ml1 = metaworld.ML1(name, seed=seed)
    env = ml1.train_classes[name]()
    policy = ENV_POLICY_MAP[name]()
    runs = []
    for e in range(episodes):
        env.set_task(ml1.train_tasks[e % len(ml1.train_tasks)])
        rng = np.random.RandomState(seed + e)
        obs, _ = env.reset()
        run = {"policy": "scripted" if e % 2 else "random", "task": e % len(ml1.train_tasks),
               "reset_obs": obs.tolist(), "actions": [], "obs": [], "reward": [], "terminated": [],
               "truncated": [], "success": []}
        for _ in range(env.max_path_length):
            action = scripted_action(env, policy, obs).astype(np.float64) if e % 2 else rng.uniform(-1.0, 1.0, size=4)
            obs, reward, terminated, truncated, info = env.step(action)
            for key, value in [("actions", action.tolist()), ("obs", obs.tolist()), ("reward", float(reward)),
                               ("terminated", bool(terminated)), ("truncated", bool(truncated)),
                               ("success", bool(info["success"]))]:
                run[key].append(value)
            if terminated or truncated:
                break
        runs.append(run)
    return {"env": name, "task_seed": seed, "episodes": runs}


def bench(name):
    """The package's env on ML1 train task 0, ready to be timed: returns `run(steps)`, the
    steps/s of `steps` steps of 1000 seeded random actions cycled; only the steps are timed,
    resets at the time limit are not (what `metarl bench envs` does)."""
    ml1 = metaworld.ML1(name, seed=TASK_SEED)
    env = ml1.train_classes[name]()
    env.set_task(ml1.train_tasks[0])
    rng = np.random.RandomState(0)
    actions = [rng.uniform(-1.0, 1.0, size=4) for _ in range(1000)]

    def run(steps):
        env.reset()
        seconds = 0.0
        for i in range(steps):
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(actions[i % len(actions)])
            seconds += time.perf_counter() - start
            if terminated or truncated:
                env.reset()
        return steps / seconds

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    tasks = sub.add_parser("tasks")
    tasks.add_argument("names", nargs="+")
    tasks.add_argument("--seed", type=int, action="append")
    goldens = sub.add_parser("goldens")
    goldens.add_argument("--env", action="append", choices=sorted(ENVS))
    goldens.add_argument("--out", type=pathlib.Path, default=REPO / "tests" / "goldens" / "metaworld")
    live_parser = sub.add_parser("live")
    live_parser.add_argument("--env", action="append", choices=sorted(ENVS), required=True)
    live_parser.add_argument("--episodes", type=int, default=3)
    live_parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    if args.command == "live":
        for name in args.env:
            print(json.dumps(live(name, args.episodes, args.seed)), flush=True)
    elif args.command == "tasks":
        out = {}
        for name in args.names:
            out[name] = {}
            for seed in args.seed or [0, 1]:
                ml1 = metaworld.ML1(name, seed=seed)
                out[name][str(seed)] = {"train": rand_vecs(ml1.train_tasks), "test": rand_vecs(ml1.test_tasks)}
        print(json.dumps(out))
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        for name in args.env or sorted(ENVS):
            path = args.out / f"{name}.json.gz"
            text = json.dumps(golden(name), separators=(",", ":")).encode()
            # mtime 0: the same golden gives the same bytes.
            with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as f:
                f.write(text)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
