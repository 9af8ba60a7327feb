#!/usr/bin/env bash
# Times the GMM detector on the 8 2DMatGMM demo images: Google Benchmark per image and per stage on one core,
# then end-to-end throughput of `maskterial detect` (decode + detect + outputs) with 1 thread and all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/maskterial_bench ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null; cmake --build build -j"$(nproc)"; }
images=../shared/data/2dmatgmm-demo/images
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
taskset -c 0 build/bench/maskterial_bench 2>/dev/null || build/bench/maskterial_bench
out=$(mktemp -d)
for threads in 1 "$(nproc)"; do
  start=$(date +%s.%N)
  for _ in 1 2 3; do
    build/maskterial detect "$images" --gmm ../shared/data/gmm-params/Graphene_GMM.json --compat 2dmatgmm \
      --out "$out" --no-overlays -q -j "$threads" >/dev/null
  done
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v t="$threads" \
    'BEGIN { n = 24; printf "detect CLI, %s thread(s): %.1f images/s (%.1f ms/image incl. JPEG decode and JSON)\n", t, n / (e - s), 1000 * (e - s) / n }'
done
rm -rf "$out"
