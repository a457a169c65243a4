#!/usr/bin/env bash
# Compiles kernels/*.cu for the host emulator (cuda_emu.h, no GPU needed) and runs them against
# plain loops: bash kernels/emu/run.sh. Needs g++ with C++20 (std::barrier).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d "${TMPDIR:-/tmp}/headsweep-kernel-emu.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
out="$dir/kernel-emu"
g++ -std=c++20 -O1 -ffp-contract=off -fno-strict-aliasing -pthread -DHEADSWEEP_EMU -I"$here/.." \
    -o "$out" "$here/test_kernels.cpp"
"$out"
# The tensor-core top-k (its own program: it needs warp_emu.h's emulated mma)
g++ -std=c++20 -O1 -ffp-contract=off -pthread -DHEADSWEEP_EMU -I"$here/.." \
    -o "$out-tc" "$here/test_topk_tc.cpp"
"$out-tc"
# The bf16 tensor-core GEMM and the bf16 packing (its own program: warp_emu.h's emulated mma)
g++ -std=c++20 -O1 -ffp-contract=off -pthread -DHEADSWEEP_EMU -I"$here/.." \
    -o "$out-gemm-bf16" "$here/test_gemm_bf16.cpp"
"$out-gemm-bf16"
# The cold rank test's pieces: the bf16 split, the bound B1 (against |X - X^| of random and
# adversarial heads) and the union of collected tokens
g++ -std=c++20 -O1 -ffp-contract=off -pthread -DHEADSWEEP_EMU -I"$here/.." \
    -o "$out-twopass" "$here/test_twopass.cpp"
"$out-twopass"
