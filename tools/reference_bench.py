"""Serves `metarl bench envs --reference`: reads lines `<env> <steps>` on stdin and answers each
with the Python reference's steps/s on that env, one number per line: the `metaworld` package
for ML1 envs (reference_metaworld.py), reference_envs.py for the others. One process for the
whole run, each env built once, so the Rust bench can alternate its own timings with these."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import reference_envs  # noqa: E402
import reference_metaworld  # noqa: E402


def main():
    runners = {}
    for line in sys.stdin:
        name, steps = line.split()
        if name not in runners:
            runners[name] = (reference_metaworld if name in reference_metaworld.ENVS else reference_envs).bench(name)
        print(runners[name](int(steps)), flush=True)


if __name__ == "__main__":
    main()
