#!/usr/bin/env bash
# Builds the native CPU kernel (native/, C through JNI) with CMake and puts it where the jar
# takes it from: OUTDIR/native/linux-x86_64/libheadsweep_native.so. The Maven build calls this in
# generate-resources with OUTDIR = target/classes. Without cmake or a C compiler (or off Linux
# x86-64) it says so once and builds nothing: the jar then runs the Java kernels only.
#   bash native/build.sh OUTDIR [JAVA_HOME]   (HEADSWEEP_NATIVE=none: build as if the tools were missing)
# The CMake build folder is OUTDIR/../native-build (incremental; two compile jobs at most).
# Compile time from scratch, 2-core dev VM, gcc 12: about 3 s.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
outdir="${1:?usage: native/build.sh OUTDIR [JAVA_HOME]}"
jdk="${2:-${JAVA_HOME:-}}"
say() { echo "[headsweep] $*"; }
if [ "${HEADSWEEP_NATIVE:-}" = none ]; then
  say "HEADSWEEP_NATIVE=none: no native kernels (the jar runs the Java kernels)"
  exit 0
fi
if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  say "native kernels are built for Linux x86-64 only: none for $(uname -s) $(uname -m)"
  exit 0
fi
cmake="$(command -v cmake || true)"
cc="${CC:-$(command -v cc || command -v gcc || command -v clang || true)}"
if [ -z "$cmake" ] || [ -z "$cc" ]; then
  say "cmake or a C compiler not found: no native kernels (the jar runs the Java kernels)"
  exit 0
fi
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"
build="$(dirname "$outdir")/native-build"
dest="$outdir/native/linux-x86_64"
args=(-S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$cc")
[ -n "$jdk" ] && args+=(-DHS_JAVA_HOME="$jdk")
if ! log="$("$cmake" "${args[@]}" 2>&1 && "$cmake" --build "$build" -j 2 2>&1)"; then
  echo "$log" >&2
  say "the native build failed (see above); HEADSWEEP_NATIVE=none builds without it"
  exit 1
fi
lib="$build/libheadsweep_native.so"
if [ ! -f "$lib" ]; then
  echo "$log" | grep -i "headsweep" >&2 || true
  say "no native library was built (see the CMake message above)"
  exit 0
fi
mkdir -p "$dest"
if ! cmp -s "$lib" "$dest/libheadsweep_native.so"; then
  cp "$lib" "$dest/libheadsweep_native.so.tmp" && mv "$dest/libheadsweep_native.so.tmp" "$dest/libheadsweep_native.so"
  say "native kernels: $dest/libheadsweep_native.so ($("$cc" --version | head -n 1))"
fi
