#!/usr/bin/env bash
# The README's Numerics table: `metarl numerics` fingerprints on this CPU, with ATen, MKL and
# oneDNN capped at AVX2, and on emulated AMD EPYC-Rome and Intel Haswell CPUs (qemu-user, from
# Debian's qemu-user package; the emulated runs take about half a minute each).
#
#   tools/numerics_check.sh [path/to/metarl]     (default: target/release/metarl)
set -euo pipefail
cd "$(dirname "$0")/.."
metarl=${1:-target/release/metarl}
capped=(ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2)
fingerprints() { "$@" 2>/dev/null | awk '/gradient steps/ { for (i = 1; i <= NF; i++) if (length($i) == 64) printf "%s=%s… ", $1, substr($i, 1, 12) }'; }

for numerics in reproducible fast; do
    echo "== $numerics"
    echo "this CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)): $(fingerprints "$metarl" numerics --numerics $numerics)"
    echo "capped at AVX2: $(fingerprints env "${capped[@]}" "$metarl" numerics --numerics $numerics)"
    if command -v qemu-x86_64 >/dev/null; then
        for cpu in EPYC-Rome Haswell; do
            echo "qemu $cpu: $(fingerprints env QEMU_CPU=$cpu qemu-x86_64 "$metarl" numerics --numerics $numerics)"
        done
    else
        echo "(qemu-x86_64 not found: apt-get install qemu-user for the emulated CPUs)"
    fi
done
