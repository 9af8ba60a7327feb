#!/usr/bin/env bash
# The speed table (docs/speed.md, README): whole `maskterial detect` commands as users run them, one worker on
# one core (taskset -c 0), per 1920x1200 JPEG, and each divided by the fastest OpenCV decode (C++ cv::imdecode)
# of the same files on that core, measured in the same run (a busy machine slows both alike: compare ratios).
# Per image = (time for 32 images - time for 8) / 24, so start-up (libraries, models) cancels; each time is the
# median of RUNS whole commands. Images: the 8 2DMatGMM demo JPEGs (../shared/data), each 4 times for 32.
# Prints a markdown table. Usage: scripts/speed_table.sh [RUNS (5)]; needs a build (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
images=${SPEED_IMAGES:-../shared/data/2dmatgmm-demo/images}
mt=build/maskterial
floor=build/bench/decode_floor
[ -x "$mt" ] || { echo "no $mt: run scripts/build.sh first" >&2; exit 1; }
[ -x "$floor" ] || { echo "no $floor: build with benchmarks (cmake --build build --target decode_floor)" >&2; exit 1; }
ls "$images"/*.jpg >/dev/null 2>&1 || { echo "no JPEGs in $images (the shared data)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/x8" "$work/x32"
for f in "$images"/*.jpg; do
  ln -s "$(realpath "$f")" "$work/x8/$(basename "$f")"
  for k in 1 2 3 4; do ln -s "$(realpath "$f")" "$work/x32/${k}_$(basename "$f")"; done
done

# Median wall time in ms of a command over $runs runs.
median_ms() {
  local ts=()
  for _ in $(seq "$runs"); do
    local start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    ts+=($(( ($(date +%s%N) - start) / 1000000 )))
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
}
# ms per image of `detect ARGS` on one core: (32 images - 8 images) / 24.
per_image_ms() {
  local d8 d32
  d8=$(median_ms taskset -c 0 "$mt" detect -q -j 1 "$@" --out "$work/out8" "$work/x8")
  d32=$(median_ms taskset -c 0 "$mt" detect -q -j 1 "$@" --out "$work/out32" "$work/x32")
  awk -v a="$d32" -v b="$d8" 'BEGIN { printf "%.1f", (a - b) / 24 }'
}

dec=$(taskset -c 0 "$floor" "$work"/x32/*.jpg)
row() {  # label, command shown, detect arguments...
  local label=$1 shown=$2; shift 2
  local ms; ms=$(per_image_ms "$@")
  awk -v l="$label" -v s="$shown" -v m="$ms" -v d="$dec" 'BEGIN { printf "| %s | `%s` | %.1f | %.1f |\n", l, s, m, m / d }'
}
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%d); scripts/speed_table.sh $runs"
echo
echo "| what (one worker, one core) | command | ms per image | ÷ decode floor |"
echo "|---|---|---|---|"
awk -v d="$dec" 'BEGIN { printf "| JPEG decode floor (OpenCV `cv::imdecode`, best of 5) | `build/bench/decode_floor` | %.1f | 1.0 |\n", d }'
row "classifier path, JPEG overlays (default), JSON + CSV" "detect -j 1 --segmenter none" --segmenter none
row "classifier path, no overlays" "detect -j 1 --segmenter none --overlays none" --segmenter none --overlays none
row "default pipeline (shipped segmenter + classifier), JPEG overlays" "detect -j 1" 
row "default pipeline, no overlays" "detect -j 1 --overlays none" --overlays none
