#!/usr/bin/env python3
"""How FOCAL compares with Batch PEARL and its distance-loss variants (papers/002 Fig. 2b, 3, 4b),
over seeds: collects one dataset, trains every variant on each dataset level for each seed, and
prints a markdown table of the meta-test return and the effective separation rate (mean of each
run's last three iterations; mean ± std over seeds).

    python3 tools/focal_orderings.py                                   # the demo: point-robot, seeds 1-3
    python3 tools/focal_orderings.py --env sparse-point-robot --set sparse_rewards=true --seeds 1 2 3 4 5
    python3 tools/focal_orderings.py --set num_iterations=48 --variants FOCAL "Batch PEARL without BRAC"

It runs target/release/metarl (`cargo build --release` first), `--jobs` runs at a time (one core
each), in reproducible numerics, so every number it prints reruns bit for bit on any machine.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
METARL = REPO / "target" / "release" / "metarl"

VARIANTS = [
    ("FOCAL", {}),
    ("Batch PEARL without BRAC", {"encoder": "probabilistic", "encoder_loss": "bellman", "use_brac": False}),
    ("Batch PEARL with BRAC", {"encoder": "probabilistic", "encoder_loss": "bellman"}),
    ("square distance loss (Fig. 2b)", {"encoder_loss": "distance-power", "distance_power": 2.0}),
    ("L2-contrastive (Eq. 12)", {"encoder_loss": "l2-contrastive"}),
]
LEVELS = ["mixed", "expert"]


def last_rows_mean(progress, column, rows=3):
    lines = progress.read_text().splitlines()
    index = lines[0].split(",").index(column)
    values = [float(line.split(",")[index]) for line in lines[1:]][-rows:]
    return sum(values) / len(values)


def level_returns(dataset, split="test"):
    manifest = json.loads((dataset / "manifest.json").read_text())
    tasks = [t for t in manifest["tasks"] if t["split"] == split]
    per_task = [json.loads((dataset / t["file"].replace(".npz", ".json")).read_text())["level_returns"] for t in tasks]
    return {level: sum(t[level] for t in per_task) / len(per_task) for level in per_task[0]}


def summary(values):
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="point-robot")
    parser.add_argument("--config", default=str(REPO / "configs" / "demo" / "focal-point-robot.json"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="a config field for collection and training")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", choices=[name for name, _ in VARIANTS], help="default: all")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", help="folder for the dataset and runs (default: a temporary one)")
    args = parser.parse_args()
    if not METARL.is_file():
        sys.exit(f"{METARL} is missing: run `cargo build --release` first")

    out = Path(args.out or tempfile.mkdtemp(prefix="focal-orderings-"))
    out.mkdir(parents=True, exist_ok=True)
    base = json.loads(Path(args.config).read_text())
    for item in args.set:
        key, _, value = item.partition("=")
        base[key] = json.loads(value)
    dataset = out / "dataset"
    config = out / "collect.json"
    config.write_text(json.dumps(base))
    subprocess.run([str(METARL), "offline", "collect", "--env", args.env, "--config", str(config), "--out", str(dataset), "--numerics", "reproducible"],
                   check=True, stdout=subprocess.DEVNULL)

    variants = [(name, overrides) for name, overrides in VARIANTS if not args.variants or name in args.variants]
    runs = []
    for name, overrides in variants:
        for level in LEVELS:
            for seed in args.seeds:
                slug = f"{name.split(' (')[0].replace(' ', '-').lower()}-{level}-seed{seed}"
                run_config = out / f"{slug}.json"
                run_config.write_text(json.dumps({**base, **overrides, "dataset_level": level}))
                command = [str(METARL), "train", "focal", "--env", args.env, "--seed", str(seed), "--config", str(run_config),
                           "--dataset", str(dataset), "--out", str(out / slug), "--numerics", "reproducible"]
                runs.append(((name, level), out / slug, command))
    pending = list(runs)
    while pending:
        batch, pending = pending[: args.jobs], pending[args.jobs:]
        children = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _, _, command in batch]
        for (key, folder, _), child in zip(batch, children):
            _, err = child.communicate()
            if child.returncode != 0:
                sys.exit(f"{folder.name} failed:\n{err.decode()[-2000:]}")
            print(f"{folder.name}: return {last_rows_mean(folder / 'progress.csv', 'test_return'):.2f}", file=sys.stderr, flush=True)

    levels = level_returns(dataset)
    print(f"{args.env}, {Path(args.config).name} {' '.join(args.set)}, seeds {' '.join(map(str, args.seeds))}; "
          f"test-task dataset levels: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(levels.items())))
    print()
    print("| variant | " + " | ".join(f"return, {level} level" for level in LEVELS) + " | " + " | ".join(f"ESR, {level}" for level in LEVELS) + " |")
    print("|---|" + "---|" * (2 * len(LEVELS)))
    for name, _ in variants:
        returns, rates = [], []
        for level in LEVELS:
            folders = [folder for (key, folder, _) in runs if key == (name, level)]
            returns.append(summary([last_rows_mean(f / "progress.csv", "test_return") for f in folders]))
            rates.append(summary([last_rows_mean(f / "progress.csv", "effective_separation_rate") for f in folders]))
        print(f"| {name} | " + " | ".join(returns) + " | " + " | ".join(rates) + " |")


if __name__ == "__main__":
    main()
