#!/usr/bin/env bash
# CPU benchmark of the core job: `sweep --task numerals` (copy + next, all 144 heads, 388
# keywords) on a GPT-2-small-shaped fp32 checkpoint, split into load, block 0, OV chain + top-k
# (fused) and scoring, with the peak resident memory of the whole process.
#
#   bash bench/cpu-sweep.sh [RUNS]        (default 3 runs per configuration)
#
# Plants the checkpoint once (headsweep demo --keep, ~0.65 GB in $TMPDIR), then runs each
# configuration RUNS times, interleaved so that machine noise hits all of them alike. Prints a
# table and writes bench/results/cpu-sweep.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
./headsweep --version >/dev/null            # builds the jar when needed
model="${TMPDIR:-/tmp}/headsweep-bench-gpt2-small"
if [ ! -f "$model/model.safetensors" ]; then
  ./headsweep demo --dir "$model" --keep -q >/dev/null
fi
mkdir -p bench/results
csv=bench/results/cpu-sweep.csv
echo "config,run,total_s,load_s,block0_s,ov_topk_s,scoring_s,peak_rss_mb" > "$csv"

configs=("vector,2" "vector,1" "plain,2")
for run in $(seq 1 "$runs"); do
  for c in "${configs[@]}"; do
    impl="${c%,*}"; threads="${c#*,}"
    flag=""; [ "$impl" = plain ] && flag="-Dheadsweep.vector=false"
    log=$(mktemp)
    start=$(date +%s.%N)
    JAVA_OPTS="$flag" /usr/bin/time -f "PEAK_KB %M" ./headsweep sweep --model "$model" --task numerals \
      --threads "$threads" --format csv >/dev/null 2>"$log"
    end=$(date +%s.%N)
    line=$(grep "heads × " "$log")
    peak=$(awk '/PEAK_KB/ {print int($2/1024)}' "$log")
    nums=$(echo "$line" | perl -ne 'print join(",", /load ([\d.]+) s, block 0 ([\d.]+) s, OV chain \+ top-k ([\d.]+) s, scoring ([\d.]+) s/)')
    total=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    echo "$impl-$threads,$run,$total,$nums,$peak" >> "$csv"
    rm -f "$log"
  done
done

echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores; java: $(java -version 2>&1 | head -n 1)"
echo "median of $runs runs (seconds; memory in MB); process total includes JVM start-up"
awk -F, 'NR > 1 { k = $1; n[k]++; for (i = 3; i <= 8; i++) v[k, i, n[k]] = $i }
  END {
    printf "%-10s %8s %8s %8s %10s %8s %9s\n", "config", "total", "load", "block0", "ov+top-k", "scoring", "peak MB"
    for (k in n) {
      printf "%-10s", k
      for (i = 3; i <= 8; i++) {
        m = n[k]; for (a = 1; a <= m; a++) s[a] = v[k, i, a]
        for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
        printf (i == 8 ? " %9d" : " %8.2f"), s[int((m + 1) / 2)]
      }
      printf "\n"
    }
  }' "$csv"
echo "raw runs: $csv"
