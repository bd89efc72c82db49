"""Meta-World ML1 references: the pinned `metaworld` 3.1.1 package itself, on the official mujoco
bindings of the dependency cache's venv (the same MuJoCo 3.3.7 library metarl links).

`tasks` prints the rand vecs of `metaworld.ML1(name, seed)` (train: seed s, test: seed s + 1);
`goldens` writes, per env, episodes of the official env class under an ML1 task
(`env.set_task(task)`, as the package's examples do) into tests/goldens/metaworld/<env>.json:

actions `RandomState(action_seed).uniform(-1, 1, size=4)` per step (metarl's `Policy::Random`
draws the same floats), full 500-step episodes (truncated at `max_path_length`); the first task
gets a second episode after a reset, on the same generator. A last episode follows the package's
scripted policy (`metaworld.policies`), shown the goal that the ML1 observation hides (from
`env._target_pos`), on the first task from its entry on where it succeeds; its actions (float64)
are recorded, so the replay reaches the grasps and successes random actions rarely do.

Per step: reward, flags, success, the sum of the observation; the full observation and the info
fields every `FULL_OBS_EVERY` steps.

    .deps/venv/bin/python tools/reference_metaworld.py tasks reach-v3 [push-v3 ...] [--seed 0 --seed 1]
    .deps/venv/bin/python tools/reference_metaworld.py goldens [--env reach-v3 ...] [--out tests/goldens/metaworld]
"""

import argparse
import json
import pickle
import pathlib

import mujoco
import numpy as np

import metaworld
from metaworld.policies import ENV_POLICY_MAP

REPO = pathlib.Path(__file__).resolve().parent.parent
FULL_OBS_EVERY = 25
TASK_SEED = 0
# (split, index in that split, episodes, policy)
EPISODES = [("train", 0, 2, "random"), ("train", 1, 1, "random"), ("test", 0, 1, "random"),
            ("test", 1, 1, "scripted")]
INFO_FIELDS = ["near_object", "grasp_success", "grasp_reward", "in_place_reward", "obj_to_target",
               "unscaled_reward"]
# Every ML1 env; `goldens` without --env writes them all.
ENVS = sorted(metaworld.ML1.ENV_NAMES)


def rand_vecs(tasks):
    return [pickle.loads(t.data)["rand_vec"].tolist() for t in tasks]


def run_episode(env, rng, policy):
    obs, _ = env.reset()
    episode = {"reset_obs": obs.tolist(), "reward": [], "terminated": [], "truncated": [],
               "success": [], "obs_sum": [], "full_obs": {}, "info": {},
               "actions": []}
    for t in range(env.max_path_length):
        if policy is None:
            action = rng.uniform(-1.0, 1.0, size=4)
        else:
            shown = obs.copy()
            shown[-3:] = env._target_pos
            action = np.clip(policy.get_action(shown), -1.0, 1.0).astype(np.float64)
            episode["actions"].append(action.tolist())
        obs, reward, terminated, truncated, info = env.step(action)
        episode["reward"].append(float(reward))
        episode["terminated"].append(bool(terminated))
        episode["truncated"].append(bool(truncated))
        episode["success"].append(bool(info["success"]))
        episode["obs_sum"].append(float(obs.sum()))
        if t % FULL_OBS_EVERY == 0 or truncated:
            episode["full_obs"][t] = obs.tolist()
            episode["info"][t] = {k: float(info[k]) for k in INFO_FIELDS}
        if terminated or truncated:
            break
    return episode


def golden(name):
    ml1 = metaworld.ML1(name, seed=TASK_SEED)
    env = ml1.train_classes[name]()
    tasks = {"train": ml1.train_tasks, "test": ml1.test_tasks}
    episodes = []
    for split, index, count, policy_name in EPISODES:
        policy = ENV_POLICY_MAP[name]() if policy_name == "scripted" else None
        while True:
            env.set_task(tasks[split][index])
            action_seed = len(episodes)
            rng = np.random.RandomState(action_seed)
            run = [run_episode(env, rng, policy) for _ in range(count)]
            # The scripted policy misses a few tasks (soccer-v3's test task 1): it moves on to the
            # next task of the split until its episode succeeds.
            if policy is None or any(any(episode["success"]) for episode in run):
                break
            index += 1
        for episode in run:
            episode.update(split=split, index=index, action_seed=action_seed, policy=policy_name)
            episodes.append(episode)
    return {"env": name, "task_seed": TASK_SEED, "horizon": env.max_path_length,
            "mujoco": mujoco.__version__, "full_obs_every": FULL_OBS_EVERY, "episodes": episodes}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    tasks = sub.add_parser("tasks")
    tasks.add_argument("names", nargs="+")
    tasks.add_argument("--seed", type=int, action="append")
    goldens = sub.add_parser("goldens")
    goldens.add_argument("--env", action="append", choices=sorted(ENVS))
    goldens.add_argument("--out", type=pathlib.Path, default=REPO / "tests" / "goldens" / "metaworld")
    args = parser.parse_args()
    if args.command == "tasks":
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
            path = args.out / f"{name}.json"
            path.write_text(json.dumps(golden(name), separators=(",", ":")))
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
