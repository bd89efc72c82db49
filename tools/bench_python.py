"""metarl_envs from Python against the `metaworld` package, on the same machine, round-interleaved.

Single env: steps/s of `metarl_envs.make(name)` and of the package's env under the same ML1 task
and the same seeded random actions (`RandomState(0).uniform(-1, 1)`, 1000 cycled); resets at the
time limit are not timed. The same steps from Rust (`metarl bench envs`, the same env and actions)
give the binding's overhead per step: 1/ours_python − 1/ours_rust.

Vectorised: env steps/s (n × vector steps / s, autoresets included) of `metarl_envs.VecEnv` with
n envs on 1 and 2 threads against gymnasium's `SyncVectorEnv` and `AsyncVectorEnv` (one process
per env) over the package's env, each env on its own ML1 train task.

Each figure is the median over `--rounds` rounds; in a round every contender runs once, in turn.

    make wheel   # then, with the wheel beside the package:
    rm -rf target/python/site && .deps/venv/bin/python -m pip install -q --no-deps --target target/python/site target/wheels/metarl_envs-*.whl
    PYTHONPATH=target/python/site .deps/venv/bin/python tools/bench_python.py --env reach-v3 --env pick-place-v3
"""

import argparse
import csv
import pathlib
import statistics
import subprocess
import tempfile
import time

import gymnasium
import metaworld
import numpy as np

import metarl_envs

REPO = pathlib.Path(__file__).resolve().parent.parent
TASK_SEED = 0


def actions(count, dim=4):
    rng = np.random.RandomState(0)
    return [rng.uniform(-1.0, 1.0, size=dim) for _ in range(count)]


def package_env(name, task=0):
    ml1 = metaworld.ML1(name, seed=TASK_SEED)
    env = ml1.train_classes[name]()
    env.set_task(ml1.train_tasks[task])
    return env


def our_env(name, task=0):
    env = metarl_envs.make(name, task_seed=TASK_SEED)
    env.set_task(env.train_tasks[task])
    return env


def single_steps_per_second(env, steps, cycle):
    """Steps/s of `steps` steps, the time-limit resets not timed."""
    env.reset(seed=0)
    seconds = 0.0
    for i in range(steps):
        action = cycle[i % len(cycle)]
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        seconds += time.perf_counter() - start
        if terminated or truncated:
            env.reset()
    return steps / seconds


def rust_steps_per_second(name, steps):
    """`metarl bench envs` on the same env, task and actions: its `steps_per_s` column."""
    with tempfile.TemporaryDirectory() as folder:
        out = pathlib.Path(folder) / "bench.csv"
        subprocess.run([str(REPO / "target" / "release" / "metarl"), "bench", "envs", "--env", name, "--steps", str(steps),
                        "--rounds", "1", "--out", str(out)], check=True, capture_output=True)
        row = next(csv.DictReader(out.open()))
        return float(row["steps_per_s"])


def call_cost(calls=20000):
    """µs per `step` call on point-robot, whose own step is trivial: through the native class and
    through the Gymnasium wrapper (its episodes' resets amortised in)."""
    env = metarl_envs.make("point-robot")
    action = np.zeros(2)
    costs = {}
    for label, step in [("native", lambda: env._native.step(action)), ("gymnasium.Env", lambda: env.step(action))]:
        env.reset(seed=0)
        start = time.perf_counter()
        for i in range(calls):
            step()
            if i % 20 == 19:
                env.reset()
        costs[label] = 1e6 * (time.perf_counter() - start) / calls
    return costs


def vector_steps_per_second(vec, env_steps, cycle):
    n = vec.num_envs
    batches = [np.stack([cycle[(i * n + j) % len(cycle)] for j in range(n)]) for i in range(len(cycle) // n + 1)]
    vec.reset(seed=0)
    vector_steps = max(1, env_steps // n)
    start = time.perf_counter()
    for i in range(vector_steps):
        vec.step(batches[i % len(batches)])
    return n * vector_steps / (time.perf_counter() - start)


def vector_contenders(name, n):
    tasks = [i % 50 for i in range(n)]
    ml1 = metarl_envs.ML1(name, seed=TASK_SEED)
    factories = [lambda task=task: package_env(name, task) for task in tasks]
    return {
        "metarl VecEnv, 1 thread": lambda: metarl_envs.VecEnv(name, n, threads=1, task_seed=TASK_SEED, tasks=[ml1.train_tasks[t] for t in tasks]),
        "metarl VecEnv, 2 threads": lambda: metarl_envs.VecEnv(name, n, threads=2, task_seed=TASK_SEED, tasks=[ml1.train_tasks[t] for t in tasks]),
        "gymnasium SyncVectorEnv(metaworld)": lambda: gymnasium.vector.SyncVectorEnv(factories),
        "gymnasium AsyncVectorEnv(metaworld)": lambda: gymnasium.vector.AsyncVectorEnv(factories),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="append", help="ML1 envs (default: reach-v3)")
    parser.add_argument("--steps", type=int, default=3000, help="env steps per contender per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, action="append", help="vector sizes (default: 1, 8, 32)")
    args = parser.parse_args()
    cycle = actions(1000)
    print(f"# {args.rounds} rounds, {args.steps} env steps per contender per round; medians")
    print("\n| env | metarl_envs from Python (steps/s) | metaworld package (steps/s) | ratio | metarl from Rust (steps/s) | binding overhead per step |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.env or ["reach-v3"]:
        ours, theirs = our_env(name), package_env(name)
        runs = {"ours": [], "theirs": [], "rust": []}
        for _ in range(args.rounds):
            runs["ours"].append(single_steps_per_second(ours, args.steps, cycle))
            runs["theirs"].append(single_steps_per_second(theirs, args.steps, cycle))
            runs["rust"].append(rust_steps_per_second(name, args.steps))
        ours_, theirs_, rust_ = (statistics.median(runs[k]) for k in ("ours", "theirs", "rust"))
        print(f"| {name} | {ours_:,.0f} | {theirs_:,.0f} | {ours_ / theirs_:.1f}× | {rust_:,.0f} | {1e6 * (1 / ours_ - 1 / rust_):.1f} µs |", flush=True)
    costs = [call_cost() for _ in range(args.rounds)]
    print("\nA `step` call on point-robot (a trivial step): " + ", ".join(
        f"{label} {statistics.median(c[label] for c in costs):.2f} µs" for label in costs[0]))
    print("\n| env | n | contender | env steps/s | vs SyncVectorEnv |")
    print("|---|---:|---|---:|---:|")
    for name in args.env or ["reach-v3"]:
        for n in args.n or [1, 8, 32]:
            vecs = {label: make() for label, make in vector_contenders(name, n).items()}
            runs = {label: [] for label in vecs}
            for _ in range(args.rounds):
                for label, vec in vecs.items():
                    runs[label].append(vector_steps_per_second(vec, args.steps, cycle))
            for vec in vecs.values():
                vec.close()
            sync = statistics.median(runs["gymnasium SyncVectorEnv(metaworld)"])
            for label, values in runs.items():
                rate = statistics.median(values)
                print(f"| {name} | {n} | {label} | {rate:,.0f} | {rate / sync:.1f}× |", flush=True)


if __name__ == "__main__":
    main()
