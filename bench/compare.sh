#!/usr/bin/env bash
# HeadSweep against its peers, side by side, in one invocation (see bench/README.md):
#
#   bash bench/compare.sh [--quick] [options of bench/compare.py]
#
# Installs what is missing (Debian's python3-torch, python3-matplotlib), builds the jar, plants a
# GPT-2-small-shaped fp32 checkpoint once (headsweep demo --keep, ~0.65 GB in $TMPDIR), then runs
# bench/compare.py: the numerals task on every system (HeadSweep cold, cached and the cache build;
# PyTorch batched, factored and notebook-style), then synthetic tasks of growing size. Checks that
# every system gives the same scores, prints the tables, and writes bench/results/compare.{json,csv,md,png}.
# The A_h cache of the run (1.85 GB) lives in $TMPDIR/headsweep-bench-cache and is removed at the end
# unless KEEP_CACHE=1. About 15 minutes on a 2-core machine; --quick takes 3-5.
set -euo pipefail
cd "$(dirname "$0")/.."

py=/usr/bin/python3   # Debian's python, where apt puts torch (PyPI is not assumed)
if ! "$py" -c 'import torch, numpy, matplotlib' 2>/dev/null; then
  echo "compare: installing python3-torch python3-matplotlib (apt)..." >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch python3-matplotlib python3-numpy >/dev/null
fi

./headsweep --version >/dev/null            # builds the jar when needed
tmp="${TMPDIR:-/tmp}"
model="$tmp/headsweep-bench-gpt2-small"      # shared with cpu-sweep.sh
# planted-v2: made with independent random streams per chunk (earlier ones repeat wte rows); an
# older checkpoint in the folder is made again
if [ ! -f "$model/model.safetensors" ] || [ ! -f "$model/.planted-v2" ]; then
  rm -rf "$model"
  ./headsweep demo --dir "$model" --keep -q >/dev/null
  touch "$model/.planted-v2"
fi
work="$tmp/headsweep-bench-compare"
cache="$tmp/headsweep-bench-cache"
mkdir -p "$work"

args=()
if [ "${1:-}" = "--quick" ]; then
  shift
  args=(--repeat 1 --notebook-sample 1 --sizes-headsweep 10,100,1000 --sizes-torch 10,100 --out "$work/quick-results")
fi
status=0
"$py" bench/compare.py --model "$model" --work "$work" --cache-dir "$cache" "${args[@]}" "$@" || status=$?
[ "${KEEP_CACHE:-0}" = 1 ] || rm -rf "$cache"
exit $status
