#!/usr/bin/env bash
# Checks that a GPT-2-xl-shaped checkpoint (48 layers, 25 heads, d 1600; 6.2 GB in fp32) is
# mapped, not copied: it sweeps (numerals, copy + next + prev, all 1200 heads) with a 4 GB heap,
# and the planted heads are found. Needs ~6.2 GB of disk in $TMPDIR and ~12 GB of memory for the
# planting step (which holds every tensor), about 3 minutes on 2 cores.
#
#   bash bench/xl-heap-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TMPDIR:-/tmp}/headsweep-xl-check"
trap 'rm -rf "$dir"' EXIT
./headsweep --version >/dev/null
echo "planting a GPT-2-xl-shaped checkpoint in $dir ..."
JAVA_OPTS=-Xmx14g ./headsweep demo --size xl --dir "$dir" --plant-only -q
du -sh "$dir"
echo "sweeping it with -Xmx4g ..."
JAVA_OPTS=-Xmx4g /usr/bin/time -f "peak RSS %M KB, %e s" ./headsweep sweep --model "$dir" --task numerals \
  --relations copy,next,prev --min 50
