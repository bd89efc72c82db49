"""One frame of a Meta-World env from the Python bindings' renderer (`mujoco.Renderer` in an
OSMesa context), for tests/render.rs to compare with metarl's renderer at the same state.

The env is the `metaworld` package's, on train task TASK of `metaworld.ML1(name, seed=0)`, just
reset (a deterministic state). The frame's raw RGB bytes, rows top first, go to OUT.

    MUJOCO_GL=osmesa .deps/venv/bin/python tools/reference_render.py reach-v3 corner 160 120 OUT [--task 0]
"""

import argparse
import os

os.environ.setdefault("MUJOCO_GL", "osmesa")

import metaworld  # noqa: E402
import mujoco  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env")
    parser.add_argument("camera")
    parser.add_argument("width", type=int)
    parser.add_argument("height", type=int)
    parser.add_argument("out")
    parser.add_argument("--task", type=int, default=0)
    args = parser.parse_args()
    ml1 = metaworld.ML1(args.env, seed=0)
    env = ml1.train_classes[args.env]()
    env.set_task(ml1.train_tasks[args.task])
    env.reset()
    renderer = mujoco.Renderer(env.model, args.height, args.width)
    renderer.update_scene(env.data, camera=args.camera)
    with open(args.out, "wb") as f:
        f.write(renderer.render().tobytes())


if __name__ == "__main__":
    main()
