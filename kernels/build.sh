#!/usr/bin/env bash
# Compiles each kernels/*.cu into one fatbin, OUTDIR/kernels/NAME.fatbin: cubins for sm_80, sm_86,
# sm_89 and sm_90 plus compute_90 PTX that the driver compiles for newer GPUs. The Maven build
# calls this in generate-resources with OUTDIR = target/classes, so the jar carries the fatbins
# as resources (/kernels/*.fatbin). Without nvcc it says so once and builds nothing: the jar is
# CPU-only and `--device auto` picks the CPU.
#   bash kernels/build.sh OUTDIR   (HEADSWEEP_NVCC=/path/to/nvcc to pick one, =none for a CPU-only jar)
# Up-to-date fatbins are kept. Compile time, all eight files, 2-core dev VM, nvcc 13.0: about 27 s (two at a time).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: kernels/build.sh OUTDIR}/kernels"
nvcc="${HEADSWEEP_NVCC:-$(command -v nvcc || true)}"
if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [ "$nvcc" = none ]; then nvcc=""; fi   # HEADSWEEP_NVCC=none: build as if there were no nvcc
if [ -z "$nvcc" ]; then
  echo "[headsweep] nvcc not found: building CPU-only (the jar carries no CUDA kernels)"
  exit 0
fi
mkdir -p "$out"
arch=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86
      -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90
      -gencode arch=compute_90,code=compute_90)
built=0
pids=()
for src in "$here"/*.cu; do
  name="$(basename "$src" .cu)"
  dst="$out/$name.fatbin"
  if [ -f "$dst" ] && [ -z "$(find "$src" "$here"/*.cuh -newer "$dst" 2>/dev/null)" ]; then
    continue
  fi
  # --fmad=false: a*b+c rounds twice, as in Java; the kernels write fmaf() where the CPU fuses
  "$nvcc" -fatbin -O3 --fmad=false "${arch[@]}" -o "$dst.tmp" "$src" && mv "$dst.tmp" "$dst" &
  pids+=($!)
  built=$((built + 1))
  if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done
echo "[headsweep] CUDA kernels: $built of $(ls "$here"/*.cu | wc -l) fatbins rebuilt with $("$nvcc" --version | tail -n 1)"
