#!/usr/bin/env python3
"""Compare MCAT's own model files with the models hopper-size and cheetah-armature compile.

The authors ship one XML per task (guoyijie/MCAT, `Table 1 Replicate/envs/assets/hopper/
hopper_size{r}.xml`, `half_cheetah/half_cheetah_arma{a}.xml`). The hopper files use
`coordinate="global"`, which MuJoCo 3 no longer reads, so this script converts them to local
coordinates with MuJoCo 2.3.3 (the last release that reads them, installed from PyPI into a
scratch venv) and then compiles both sets with the cache's MuJoCo 3.3.7, printing per file the
largest difference over the compiled physics fields. The files write the foot's body position as
"0.13/2 0 0.1", which MuJoCo 2.3.3 refuses; mujoco-py 1.5 read the leading 0.13 (Gymnasium's
conversion of the same hopper puts the foot body there), so the conversion uses "0.13 0 0".

    python3 tools/mcat_models_check.py --mcat PATH/TO/MCAT/checkout
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import venv

REPO = pathlib.Path(__file__).resolve().parent.parent
CACHE_PYTHON = REPO / ".deps" / "venv" / "bin" / "python"
RADII = ["0.01", "0.02", "0.03", "0.04", "0.05", "0.06", "0.07"]
ARMATURES = ["0.05", "0.1", "0.2", "0.3", "0.4", "0.5", "0.75"]
FIELDS = ["body_mass", "body_inertia", "body_pos", "body_quat", "body_ipos", "body_iquat", "geom_size", "geom_pos",
          "geom_quat", "geom_friction", "geom_rbound", "jnt_pos", "jnt_axis", "jnt_range", "dof_armature", "dof_damping",
          "dof_invweight0", "body_invweight0", "actuator_gear", "actuator_ctrlrange", "qpos0"]

CONVERT = """
import mujoco, pathlib, sys
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for r in sys.argv[3:]:
    xml = (src / f"hopper_size{r}.xml").read_text().replace('pos="0.13/2 0 0.1"', 'pos="0.13 0 0"')
    (out / f"global_{r}.xml").write_text(xml)
    model = mujoco.MjModel.from_xml_path(str(out / f"global_{r}.xml"))
    mujoco.mj_saveLastXML(str(out / f"local_{r}.xml"), model)
"""

COMPARE = """
import json, sys, numpy as np, mujoco
sys.path.insert(0, sys.argv[1])
import reference_envs as R
out, assets, fields = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
def report(name, theirs, ours):
    diffs = {f: float(np.max(np.abs(getattr(theirs, f) - getattr(ours, f)))) for f in fields}
    # The converter prints joint ranges in degrees with 6 significant digits.
    rest = max(v for f, v in diffs.items() if f != "jnt_range")
    print(f"{name}: largest difference {rest:.1e} over every field but jnt_range, {diffs['jnt_range']:.1e} in jnt_range")
for r in json.loads(sys.argv[5]):
    report(f"hopper_size{r}.xml", mujoco.MjModel.from_xml_path(f"{out}/local_{r}.xml"), mujoco.MjModel.from_xml_string(R.hopper_size_xml(float(r))))
for a in json.loads(sys.argv[6]):
    theirs = mujoco.MjModel.from_xml_path(f"{assets}/half_cheetah/half_cheetah_arma{a}.xml")
    report(f"half_cheetah_arma{a}.xml", theirs, mujoco.MjModel.from_xml_string(R.half_cheetah_arma_xml(float(a))))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mcat", type=pathlib.Path, required=True, help="a checkout of guoyijie/MCAT")
    args = parser.parse_args()
    assets = args.mcat / "Table 1 Replicate" / "envs" / "assets"
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        venv.EnvBuilder(with_pip=True).create(scratch / "venv")
        python = scratch / "venv" / "bin" / "python"
        subprocess.run([python, "-m", "pip", "install", "--quiet", "mujoco==2.3.3"], check=True)
        subprocess.run([python, "-c", CONVERT, assets / "hopper", scratch, *RADII], check=True)
        subprocess.run([CACHE_PYTHON, "-c", COMPARE, REPO / "tools", scratch, assets, json.dumps(FIELDS),
                        json.dumps(RADII), json.dumps(ARMATURES)], check=True)


if __name__ == "__main__":
    sys.exit(main())
