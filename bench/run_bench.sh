#!/usr/bin/env bash
# Google Benchmark on one core (per stage; the in-process ratios of bench_pipeline_ratios.cpp), then the speed
# table of whole `maskterial detect` commands as users run them, each divided by the OpenCV decode floor
# (scripts/speed_table.sh, the table in docs/speed.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/maskterial_bench ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null; cmake --build build -j"$(nproc)"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
taskset -c 0 build/bench/maskterial_bench 2>/dev/null || build/bench/maskterial_bench
scripts/speed_table.sh
