#!/usr/bin/env bash
# Builds and runs kernels/bench/sgemm_bench.cu on a GPU machine: bash kernels/bench/run.sh [--new-only]
# (sm_90 by default; HEADSWEEP_ARCH=sm_80 etc. for another card). Prints the resource report of
# hs_sgemm2, the instruction mix of its SASS (where cuobjdump exists) and the timing table.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
arch="${HEADSWEEP_ARCH:-sm_90}"
out="${TMPDIR:-/tmp}/sgemm_bench"
nvcc -O3 --fmad=false -arch="$arch" -Xptxas -v -Xcompiler -ffp-contract=off -o "$out" "$here/sgemm_bench.cu" 2>&1 \
  | grep -A2 "for hs_sgemm2\|Function properties for hs_sgemm2" | grep -v "^--" || true
if command -v cuobjdump >/dev/null; then
  cuobjdump --dump-sass "$out" | awk '/Function : hs_sgemm2$/ {f = 1; next} /Function :/ {f = 0} f' > "$out.sass" || true
  echo "hs_sgemm2 SASS: $(grep -c ' FFMA ' "$out.sass") FFMA, $(grep -c 'LDS.128' "$out.sass") LDS.128," \
       "$(grep -c 'LDG.E.128' "$out.sass") LDG.E.128, $(grep -c 'STS' "$out.sass") STS, $(grep -c 'LDL\|STL' "$out.sass") local"
fi
"$out" "$@"
