#!/usr/bin/env bash
# Builds the folder that bench/gpu-check.sh runs on a GPU machine that may have no Java and no
# network (an NVIDIA driver and CUDA 13 are enough):
#   DIR/jre/            a jlinked Java 17 runtime (java.base, jdk.incubator.vector, java.management,
#                       java.logging, java.xml, java.sql, java.compiler, jdk.unsupported, jdk.zipfs)
#   DIR/headsweep.jar   the shaded jar, with the CUDA kernels (built here with nvcc)
#   DIR/test-classes/   the test classes and resources (the suites and GpuBench)
#   DIR/junit-platform-console-standalone.jar   (from Maven Central)
#   DIR/gpu-check.sh    the check itself
#   DIR/kernels/        the CUDA sources and kernels/bench (timed alone on the GPU when nvcc is there)
#   bash bench/make-gpu-bundle.sh [DIR]          (default target/gpu-bundle)
# Prints the bundle's size; it must stay under 64 MiB (the limit on what a check carries).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-target/gpu-bundle}"
junit=1.14.1   # the JUnit Platform of junit-jupiter 5.14.1 (pom.xml)
command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ] || {
  echo "make-gpu-bundle: nvcc is needed to build the kernels into the jar" >&2; exit 2; }

mvn -q -B -ntp -DskipTests package
mvn -q -B -ntp test-compile
[ -f target/classes/kernels/topk.fatbin ] || { echo "make-gpu-bundle: no kernels were built" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir"
mvn -q -B -ntp dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:$junit \
    -DoutputDirectory="$dir" -Dmdep.stripVersion=true
jlink --add-modules java.base,java.compiler,java.sql,java.logging,java.management,java.xml,jdk.unsupported,jdk.zipfs,jdk.incubator.vector \
      --strip-debug --no-man-pages --no-header-files --compress=2 --output "$dir/jre"
cp target/headsweep.jar "$dir/"
cp -r target/test-classes "$dir/test-classes"
cp bench/gpu-check.sh "$dir/"
mkdir -p "$dir/kernels" && cp -r kernels/*.cu kernels/*.cuh "$dir/kernels/"
[ -d kernels/bench ] && cp -r kernels/bench "$dir/kernels/"
chmod +x "$dir/gpu-check.sh"
size=$(du -sm "$dir" | cut -f1)
echo "make-gpu-bundle: $dir is ${size} MiB ($(du -sh "$dir/jre" | cut -f1) runtime, $(du -sh "$dir/headsweep.jar" | cut -f1) jar)"
[ "$size" -lt 64 ] || { echo "make-gpu-bundle: over 64 MiB" >&2; exit 1; }
