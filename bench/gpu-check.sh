#!/usr/bin/env bash
# One-call GPU check: the CUDA test suites and the GPU benchmark, from a bundle made by
# bench/make-gpu-bundle.sh (a jlinked Java 17, the jar with its kernels, the test classes, JUnit's
# console launcher), so the GPU machine needs only an NVIDIA driver (CUDA 13): no Java, no network.
#   bash gpu-check.sh                 (inside the bundle folder)
#   bash bench/gpu-check.sh           (in the repository, after bench/make-gpu-bundle.sh)
# Prints "gpu-check: PASS" or "gpu-check: FAIL" last, with the timings against the targets
# (numerals <= 20 ms, vocab <= 1 s on an H100); writes everything under $OUT when set.
# Exit 0 PASS, 1 FAIL, 3 no GPU here (said in one line). Takes under 5 minutes.
# HEADSWEEP_GPU_CHECK_DRY=1 runs it all the same on a machine without a GPU (to try the bundle:
# the GPU halves then skip, which counts as a FAIL, and the benchmark says there is no GPU).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$here/jre/bin/java" ]; then b="$here"; else b="$here/../target/gpu-bundle"; fi
out="${OUT:-}"
log() { echo "$*"; [ -n "$out" ] && echo "$*" >> "$out/gpu-check.txt"; return 0; }
[ -n "$out" ] && mkdir -p "$out" && : > "$out/gpu-check.txt"

if [ ! -x "$b/jre/bin/java" ]; then
  log "gpu-check: no bundle at $b (make it with bash bench/make-gpu-bundle.sh)"; exit 2
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  if [ ! -e /dev/nvidiactl ] && [ ! -e /proc/driver/nvidia/version ] && [ -z "${HEADSWEEP_GPU_CHECK_DRY:-}" ]; then
    log "gpu-check: no GPU here: no NVIDIA driver (no nvidia-smi, /dev/nvidiactl or /proc/driver/nvidia); nothing checked"
    exit 3
  fi
fi
log "gpu-check: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)"
java=("$b/jre/bin/java" --add-modules=jdk.incubator.vector -Xmx16g)
cp="$b/headsweep.jar:$b/test-classes"
start=$(date +%s)

# 1. The suites that have a GPU half (which skip without a GPU and must not skip here); of
#    EngineMatchesReferenceTest only its two methods with GPU cases (the rest is CPU-only and long).
reports="${TMPDIR:-/tmp}/headsweep-gpu-check"   # the logs; the main ones are copied to $OUT at the end
rm -rf "$reports"; mkdir -p "$reports"
tests_log="$reports/console.txt"
timeout 170 "${java[@]}" -jar "$b/junit-platform-console-standalone.jar" execute --disable-banner --disable-ansi-colors \
    --class-path "$cp" --reports-dir "$reports" --details=tree \
    --select-class dev.headsweep.engine.cuda.CudaKernelsTest \
    --select-class dev.headsweep.reference.EngineMatchesReferenceTest \
    --select-class dev.headsweep.plant.CudaPlantedTest \
    --select-class dev.headsweep.engine.BackendsTest \
    --exclude-methodname '.*EngineMatchesReferenceTest[#.](?!cudaTopKSetsEqualTheReference|rankTestScoresEqualTheWholeTopK).*' \
    > "$tests_log" 2>&1
tests_rc=$?
grep -E "tests (successful|failed|skipped|aborted)" "$tests_log" | sed 's/^/gpu-check: junit /' | while read -r l; do log "$l"; done
skipped=$(grep -Eo '[0-9]+ tests skipped' "$tests_log" | grep -Eo '^[0-9]+' || echo 0)
aborted=$(grep -Eo '[0-9]+ tests aborted' "$tests_log" | grep -Eo '^[0-9]+' || echo 0)
if [ "$tests_rc" -ne 0 ]; then
  log "gpu-check: tests FAILED (exit $tests_rc); the failures:"
  grep -E "✘|Exception|expected" "$tests_log" | head -n 20 | while read -r l; do log "  $l"; done
elif [ "$skipped" != 0 ] || [ "$aborted" != 0 ]; then
  log "gpu-check: $skipped tests skipped, $aborted aborted on a GPU machine (the GPU was not usable?):"
  grep -E "↷|■" "$tests_log" | head -n 5 | while read -r l; do log "  $l"; done
  tests_rc=1
fi

# 2. The benchmark: numerals and vocab sweeps, timings against the targets, scores against the CPU.
timeout 120 "${java[@]}" -cp "$cp" dev.headsweep.engine.cuda.GpuBench > "$reports/bench.txt" 2>&1
bench_rc=$?
while read -r l; do log "$l"; done < "$reports/bench.txt"
[ $bench_rc -eq 124 ] && log "gpu-check: the benchmark ran past 120 s and was stopped"

# 3. Facts about the kernels themselves, where the machine has the tools (informative, no verdict):
#    tensor-core instructions in the top-k kernel's machine code, and the SGEMM versions timed alone.
if command -v cuobjdump >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
  sass="$reports/sass"
  mkdir -p "$sass"
  python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); [open(sys.argv[2]+'/'+n.split('/')[-1],'wb').write(z.read(n)) for n in z.namelist() if n.endswith('.fatbin')]" "$b/headsweep.jar" "$sass"
  if [ -f "$sass/topk_tc.fatbin" ]; then
    cuobjdump -sass -arch sm_90 "$sass/topk_tc.fatbin" > "$sass/topk_tc.sass" 2>&1
    log "gpu-check: sm_90 machine code of hs_ov_topk_tc: $(grep -c HMMA "$sass/topk_tc.sass") HMMA instructions"
  fi
fi
if [ -f "$b/kernels/bench/run.sh" ] && command -v nvcc >/dev/null 2>&1; then
  timeout 120 bash "$b/kernels/bench/run.sh" > "$reports/sgemm-bench.txt" 2>&1
  while read -r l; do log "gpu-check: sgemm-bench: $l"; done < <(tail -n 12 "$reports/sgemm-bench.txt")
fi

log "gpu-check: $(( $(date +%s) - start )) s in all"
if [ -n "$out" ]; then
  for f in console.txt bench.txt sgemm-bench.txt sass/topk_tc.sass; do
    [ -f "$reports/$f" ] && cp "$reports/$f" "$out/"
  done
fi
if [ $tests_rc -eq 0 ] && [ $bench_rc -eq 0 ]; then log "gpu-check: PASS"; exit 0; fi
log "gpu-check: FAIL (tests exit $tests_rc, benchmark exit $bench_rc)"
exit 1
