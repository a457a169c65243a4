#!/usr/bin/env bash
# CPU benchmark of the core job: `sweep --task numerals` (copy + next, all 144 heads, 388
# keywords) on a GPT-2-small-shaped fp32 checkpoint, split into load, block 0, the OV chain (with
# the targets' rank test, the sweep's default, or with --whole-top-k) and scoring, with the peak
# resident memory of the whole process.
#
#   bash bench/cpu-sweep.sh [RUNS] [CONFIGS]   (default 3 runs per configuration)
#
# CONFIGS: space-separated KERNEL,THREADS[,cache][,whole] with KERNEL one of native-2pass (the default
# where the native library runs on a CPU with AVX512_BF16), native-bf16 (one pass,
# -Dheadsweep.native.twopass=false), native (fp32 native, -Dheadsweep.native.bf16=false), vector
# (-Dheadsweep.native=false) and plain (also -Dheadsweep.vector=false); ",cache" sweeps with
# --cache from an A_h cache filled once beforehand (stage 1 skipped; the native-2pass and
# native-bf16 kernels then run the same one-pass code); ",whole" sweeps with --whole-top-k (every
# head's whole top-k at every keyword, the targets looked up in it: same scores, the work the sweep
# did before the rank test). Default: native-2pass cold and cached, each with and without ",whole",
# native-2pass on 1 thread, native-bf16 and vector cold on 2.
#
# Plants the checkpoint once (headsweep demo --keep, ~0.65 GB in $TMPDIR), then runs each
# configuration RUNS times, interleaved so that machine noise hits all of them alike. Prints a
# table and writes bench/results/cpu-sweep.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
./headsweep --version >/dev/null            # builds the jar when needed
model="${TMPDIR:-/tmp}/headsweep-bench-gpt2-small"
# planted-v2: made with independent random streams per chunk (earlier ones repeat wte rows); an
# older checkpoint in the folder is made again
if [ ! -f "$model/model.safetensors" ] || [ ! -f "$model/.planted-v2" ]; then
  rm -rf "$model"
  ./headsweep demo --dir "$model" --keep -q >/dev/null
  touch "$model/.planted-v2"
fi
mkdir -p bench/results
csv=bench/results/cpu-sweep.csv
echo "config,run,total_s,load_s,block0_s,ov_chain_s,scoring_s,peak_rss_mb" > "$csv"

default_configs="native-2pass,2 native-2pass,2,whole native-2pass,1 native-2pass,2,cache native-2pass,2,cache,whole native-bf16,2 vector,2 vector,2,cache"
read -r -a configs <<< "${2:-$default_configs}"
cache="${TMPDIR:-/tmp}/headsweep-bench-ah-cache"
flags() {
  case "$1" in
    native-2pass) echo "" ;;
    native-bf16) echo "-Dheadsweep.native.twopass=false" ;;
    native) echo "-Dheadsweep.native.bf16=false" ;;
    vector) echo "-Dheadsweep.native=false" ;;
    plain) echo "-Dheadsweep.native=false -Dheadsweep.vector=false" ;;
    *) echo "unknown kernel $1" >&2; exit 2 ;;
  esac
}
if [[ " ${configs[*]} " == *",cache "* ]]; then
  # fill the A_h cache once (any kernel: all of them compute the same A, bit for bit)
  ./headsweep sweep --model "$model" --task numerals --cache="$cache" -q --format csv >/dev/null
  sync  # a file just written: its write-back would slow the first runs' reads
fi
for run in $(seq 1 "$runs"); do
  for c in "${configs[@]}"; do
    IFS=, read -r impl threads opt1 opt2 <<< "$c"
    extra=()
    for o in $opt1 $opt2; do
      case "$o" in
        cache) extra+=(--cache="$cache") ;;
        whole) extra+=(--whole-top-k) ;;
        *) echo "unknown option $o in $c" >&2; exit 2 ;;
      esac
    done
    log=$(mktemp)
    start=$(date +%s.%N)
    JAVA_OPTS="$(flags "$impl")" /usr/bin/time -f "PEAK_KB %M" ./headsweep sweep --model "$model" --task numerals \
      --threads "$threads" "${extra[@]}" --format csv >/dev/null 2>"$log"
    end=$(date +%s.%N)
    line=$(grep "heads × " "$log")
    case "$line" in *"$impl)"*) ;; *) echo "expected the $impl kernel, got: $line" >&2; exit 1 ;; esac
    peak=$(awk '/PEAK_KB/ {print int($2/1024)}' "$log")
    nums=$(echo "$line" | perl -ne 'print join(",", /load ([\d.]+) s, block 0 ([\d.]+) s, OV chain \+ (?:top-k|targets. rank) ([\d.]+) s, scoring ([\d.]+) s/)')
    total=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    echo "$impl-$threads${opt1:+-$opt1}${opt2:+-$opt2},$run,$total,$nums,$peak" >> "$csv"
    rm -f "$log"
  done
done

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores; java: $(java -version 2>&1 | head -n 1)"
echo "median of $runs runs (seconds; memory in MB); process total includes JVM start-up"
awk -F, 'NR > 1 { k = $1; n[k]++; for (i = 3; i <= 8; i++) v[k, i, n[k]] = $i }
  END {
    printf "%-28s %8s %8s %8s %10s %8s %9s\n", "config", "total", "load", "block0", "ov chain", "scoring", "peak MB"
    for (k in n) {
      printf "%-28s", k
      for (i = 3; i <= 8; i++) {
        m = n[k]; for (a = 1; a <= m; a++) s[a] = v[k, i, a]
        for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
        printf (i == 8 ? " %9d" : " %8.2f"), s[int((m + 1) / 2)]
      }
      printf "\n"
    }
  }' "$csv"
echo "raw runs: $csv"
