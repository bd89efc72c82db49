#!/usr/bin/env bash
# The GPU checks in one command: `metarl doctor`, a short PEARL run on cheetah-vel with
# --device cuda, and `metarl bench train --device cuda` at oyster's sizes (cheetah-vel) and at
# papers/001 Table 7's (reach-v3), each beside the same update in eager PyTorch on the same GPU;
# then the lines to paste into BENCHMARKS.md.
#
#   tools/gpu-check.sh pack DIR   on the build machine (after `make build`): DIR/ gets the
#                                 stripped binary, libmujoco, the Gymnasium and Meta-World
#                                 assets and the eager-PyTorch reference script (~60 MB)
#   tools/gpu-check.sh run DIR    on the GPU machine, where `python3 -c 'import torch'` loads
#                                 torch 2.11.0 with CUDA (e.g. pip install torch==2.11.0); writes
#                                 DIR/results/ and prints the report
#
# STEPS=N sets the gradient steps each bench times (default 50); PYTHON the interpreter with
# torch (default python3); DEVICE=cpu dry-runs the whole script on a machine without a GPU.
set -euo pipefail
command=${1:?pack or run}
dir=$(realpath -m "${2:?bundle folder}")
repo=$(cd "$(dirname "$0")/.." && pwd)

if [[ $command == pack ]]; then
    deps=$(realpath "$repo/.deps")
    mkdir -p "$dir/deps" "$dir/tools"
    strip -o "$dir/metarl" "$repo/target/release/metarl"
    cp -L "$deps"/mujoco/libmujoco.so.* "$dir/"
    cp -rL "$deps/gymnasium_assets" "$dir/deps/"
    cp -r "$repo/metaworld_xml" "$dir/metaworld_xml"
    cp "$repo/tools/reference_pearl_update.py" "$dir/tools/"
    du -sh "$dir"
    echo "carry $dir to the GPU machine, then: tools/gpu-check.sh run $dir"
    exit 0
fi

[[ $command == run ]] || { echo "usage: tools/gpu-check.sh pack|run DIR" >&2; exit 2; }
[[ -x $dir/metarl ]] || { echo "$dir/metarl is missing: run tools/gpu-check.sh pack $dir on the build machine first" >&2; exit 2; }
python=${PYTHON:-$(command -v python3)}
device=${DEVICE:-cuda}
torch_lib=$("$python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') \
    || { echo "python3 cannot import torch: pip install torch==2.11.0" >&2; exit 2; }
# The binary reads the Gymnasium models and the reference interpreter from its dependency
# folder, the Meta-World assets from METARL_ASSETS and the reference script from METARL_TOOLS_DIR.
mkdir -p "$dir/deps/venv/bin" "$dir/results"
printf '#!/bin/sh\nexec %q "$@"\n' "$python" >"$dir/deps/venv/bin/python"
chmod +x "$dir/deps/venv/bin/python"
export LD_LIBRARY_PATH=$torch_lib:$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export METARL_DEPS_DIR=$dir/deps METARL_ASSETS=$dir/metaworld_xml METARL_TOOLS_DIR=$dir/tools
metarl=$dir/metarl
out=$dir/results
steps=${STEPS:-50}

gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || echo "unknown GPU")
echo "== GPU: $gpu; torch $("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"

echo "== metarl doctor"
"$metarl" doctor | tee "$out/doctor.txt" || echo "(doctor reported problems above; the CUDA line is what matters here)"
grep -q "CUDA" "$out/doctor.txt" || true

echo "== a short PEARL run on cheetah-vel on the GPU (oyster's config, one iteration)"
rm -rf "$out/pearl-cheetah-vel-cuda"
start=$(date +%s.%N)
"$metarl" train pearl --env cheetah-vel --device "$device" --steps 5000 --out "$out/pearl-cheetah-vel-cuda" >"$out/train.txt" 2>&1 \
    || { cat "$out/train.txt"; echo "the cuda run failed" >&2; exit 1; }
train_s=$("$python" -c "print(round($(date +%s.%N) - $start, 1))")
tail -n 3 "$out/train.txt"

bench() {  # bench ENV THREADS: PEARL, TCL, CoCOA and eager PyTorch, in turn, on the GPU
    "$metarl" bench train --algo pearl,tcl,cocoa --env "$1" --device "$device" --steps "$steps" --threads "$2" --reference --out "$out/train_step-$1.csv" 2>&1 \
        | tee "$out/bench-$1.txt"
}
echo "== bench train --device cuda at oyster's sizes (cheetah-vel)"
bench cheetah-vel 1
echo "== bench train --device cuda at papers/001 Table 7's sizes (reach-v3)"
bench reach-v3 2

echo
echo "== for BENCHMARKS.md"
cat <<REPORT
### GPU: $gpu ($(date -u +%Y-%m-%d))

\`tools/gpu-check.sh run\`: torch $("$python" -c 'import torch; print(torch.__version__)'), $steps gradient steps per bench.

- \`metarl train pearl --env cheetah-vel --device $device --steps 5000\` (one iteration of oyster's schedule and its meta-test): ${train_s} s; last line: $(grep -v '^wrote' "$out/train.txt" | tail -n 1)

| env (sizes) | implementation | ms per gradient step (median) |
|---|---|---|
$(for env in cheetah-vel reach-v3; do
    tail -n +2 "$out/train_step-$env.csv" | while IFS=, read -r algo implementation rest; do
        median=$(echo "$rest" | awk -F, '{printf "%.2f", $NF}')
        echo "| $env | $algo ($implementation) | $median |"
    done
done)
REPORT
