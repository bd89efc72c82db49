"""The scripted policies of the pinned `metaworld` 3.1.1 package (`metaworld.policies`), run on
the package's own envs in the dependency cache's venv: the references for metarl's port.

The policies read the goal, which an ML1 observation hides (zeros); they are shown it the way
tools/reference_metaworld.py shows it, from the env's target position (`env._target_pos`, what
`_get_pos_goal` returns). Their float32 actions are clipped to [-1, 1] and stepped as float64.

`success` prints, for each env and task seed, the share of the 50 ML1 train tasks on which one
500-step episode of the scripted policy succeeds (success at any step), with the per-task flags:

    .deps/venv/bin/python tools/reference_policies.py success push-v3 [reach-v3 ...] [--seed 0]

`pairs` writes observation -> action pairs of every policy (observations of scripted episodes on
ML1 train tasks, goal shown) to tests/goldens/metaworld_policies/pairs.json.gz:

    .deps/venv/bin/python tools/reference_policies.py pairs [--out FILE]
"""

import argparse
import gzip
import json
import pathlib

import numpy as np

import metaworld
from metaworld.policies import ENV_POLICY_MAP

REPO = pathlib.Path(__file__).resolve().parent.parent
# Pairs per policy, and the train tasks whose episodes they come from.
PAIRS_PER_POLICY = 12
PAIR_TASKS = (0, 1)
PAIR_SEED = 0


def shown(env, obs):
    """The observation with the goal the ML1 observation hides."""
    obs = obs.copy()
    obs[-3:] = env._target_pos
    return obs


def act(policy, obs):
    # Some policies write into the parsed observation (door-open, door-close): hand them a copy.
    return policy.get_action(obs.copy())


def episode(env, policy):
    """One scripted episode: the shown observations, the policy's actions, success at any step."""
    obs, _ = env.reset()
    observations, actions, success = [], [], False
    for _ in range(env.max_path_length):
        seen = shown(env, obs)
        action = act(policy, seen)
        observations.append(seen)
        actions.append(action)
        obs, _, terminated, truncated, info = env.step(np.clip(action, -1.0, 1.0).astype(np.float64))
        success |= bool(info["success"])
        if terminated or truncated:
            break
    return observations, actions, success


def train_env(name, seed):
    ml1 = metaworld.ML1(name, seed=seed)
    return ml1.train_classes[name](), ml1.train_tasks


def success(name, seed):
    env, tasks = train_env(name, seed)
    policy = ENV_POLICY_MAP[name]()
    flags = []
    for task in tasks:
        env.set_task(task)
        flags.append(episode(env, policy)[2])
    env.close()
    return {"seed": seed, "tasks": len(flags), "successes": sum(flags), "share": sum(flags) / len(flags),
            "per_task": flags}


def pick_steps(actions, count):
    """Steps worth checking: the first, those where the action jumps (the policy switched to its
    next target), then evenly spread ones."""
    actions = np.asarray(actions, dtype=np.float64)
    jumps = np.abs(np.diff(actions, axis=0)).max(axis=1)
    picked = [0]
    for t in np.argsort(-jumps, kind="stable") + 1:
        if len(picked) >= count // 2 + 1 or jumps[t - 1] < 0.5:
            break
        picked.append(int(t))
    for t in np.linspace(0, len(actions) - 1, count + 2).astype(int)[1:-1]:
        if len(picked) >= count:
            break
        if int(t) not in picked:
            picked.append(int(t))
    return sorted(picked)


def pairs(name):
    env, tasks = train_env(name, PAIR_SEED)
    policy = ENV_POLICY_MAP[name]()
    out = []
    per_task = PAIRS_PER_POLICY // len(PAIR_TASKS)
    for index in PAIR_TASKS:
        env.set_task(tasks[index])
        observations, actions, _ = episode(env, policy)
        for t in pick_steps(actions, per_task):
            out.append({"task": index, "step": t, "obs": observations[t].tolist(),
                        "action": [float(a) for a in actions[t]]})
    env.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    shares = sub.add_parser("success")
    shares.add_argument("names", nargs="+", choices=sorted(ENV_POLICY_MAP))
    shares.add_argument("--seed", type=int, action="append")
    fixture = sub.add_parser("pairs")
    fixture.add_argument("--out", type=pathlib.Path,
                         default=REPO / "tests" / "goldens" / "metaworld_policies" / "pairs.json.gz")
    args = parser.parse_args()
    if args.command == "success":
        out = {name: {str(seed): success(name, seed) for seed in args.seed or [0]} for name in args.names}
        print(json.dumps(out))
    else:
        fixture = {"task_seed": PAIR_SEED, "policies": {name: pairs(name) for name in sorted(ENV_POLICY_MAP)}}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(args.out, "wb", mtime=0) as f:
            f.write(json.dumps(fixture, separators=(",", ":")).encode())
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
