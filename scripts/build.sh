#!/usr/bin/env bash
# Configures and builds into build/ (Release); the CLI lands at build/maskterial.
#   scripts/build.sh       everything: libraries, CLI, report tools, tests and benchmarks (scripts/test.sh)
#   scripts/build.sh cli   the CLI and its libraries only (scripts/demo.sh, scripts/package.sh): a new build/ is
#                          configured without tests and benchmarks, so neither GoogleTest nor Google Benchmark is
#                          needed; a later `scripts/build.sh` turns them on and reuses what was compiled.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case "$what" in
  cli) options=(); targets=(--target maskterial)
       [ -f build/CMakeCache.txt ] || options=(-DMASKTERIAL_BUILD_TESTS=OFF -DMASKTERIAL_BUILD_BENCH=OFF) ;;
  all) options=(-DMASKTERIAL_BUILD_TESTS=ON -DMASKTERIAL_BUILD_BENCH=ON); targets=() ;;
  *) echo "usage: scripts/build.sh [cli|all]" >&2; exit 2 ;;
esac
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${options[@]}" >/dev/null
cmake --build build -j"$(nproc)" "${targets[@]}"
