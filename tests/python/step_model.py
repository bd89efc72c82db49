"""Reference side of tests/mujoco_parity.rs: step an MJCF model with the Python mujoco bindings.

Reads a JSON request {"model": path, "qpos": [...], "qvel": [...], "ctrl": [[...] per step]},
sets the state, steps once per control row, and writes {"qpos": [[...]], "qvel": [[...]],
"version": mj_version} with the state after every step. JSON floats are repr()s, so they
round-trip exactly.
"""
import json
import sys

import mujoco
import numpy as np

request = json.load(open(sys.argv[1]))
model = mujoco.MjModel.from_xml_path(request["model"])
data = mujoco.MjData(model)
data.qpos[:] = np.array(request["qpos"])
data.qvel[:] = np.array(request["qvel"])
mujoco.mj_forward(model, data)
qpos, qvel = [], []
for ctrl in request["ctrl"]:
    data.ctrl[:] = np.array(ctrl)
    mujoco.mj_step(model, data)
    qpos.append(data.qpos.tolist())
    qvel.append(data.qvel.tolist())
json.dump({"qpos": qpos, "qvel": qvel, "version": mujoco.mj_version()}, sys.stdout)
