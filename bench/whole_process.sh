#!/usr/bin/env bash
# Whole-process timings where users wait, each set measured in one run of this script so the ratios compare
# like with like on a busy machine: AMM training (5,000 iterations, 5 GrapheneH images, one core), `detect`
# on the classifier path with JPEG / PNG / no overlays, and -j 1 against -j 2 for the default segmentation
# pipeline and the classifier path.
# Usage: bench/whole_process.sh [BUILD_DIR]   (prints the machine first: quote figures with it)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cli=$build/maskterial
data=../shared/data/maskterial-demo
images=$data/images/GrapheneH
[ -x "$cli" ] && [ -d "$images" ] || { echo "needs $cli and $images" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$cli" doctor | sed 's/^/  /'

# wall and CPU seconds of one command: "label: W s wall, C s CPU"
timed() {
  local label=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$out/time" "$@" >/dev/null 2>&1
  read -r wall user sys <"$out/time"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN { printf "%s: %.2f s wall, %.2f s CPU\n", l, w, u + s }'
  echo "$wall" >"$out/last"
}

"$cli" dataset --images "$images" --instance-masks "$data/instance_masks/GrapheneH" --out "$out/gt.json" >/dev/null
timed "train-classifier --type amm, 5000 iterations, taskset -c 0" \
  taskset -c 0 "$cli" train-classifier --type amm --images "$images" --annotations "$out/gt.json" --out "$out/amm"

n=$(find "$images" -maxdepth 1 -name '*.jpg' | wc -l)
for overlays in "--overlay-format jpeg" "--overlay-format png" "--no-overlays"; do
  timed "detect --segmenter none $overlays, -j 1, $n images" \
    taskset -c 0 "$cli" detect "$images" --segmenter none $overlays -j 1 -q --out "$out/detect"
done
# -j 1 against -j 2 (the default on 2 cores), alternating, ROUNDS times each (default 3), for the default
# pipeline and the classifier path; throughput from the median wall time.
all=$(echo "$(dirname "$images")"/*/)  # the 50 images of all five materials
n_all=$(find $all -maxdepth 1 -name '*.jpg' | wc -l)
for pipeline in "shipped segmenter|$images|$n|" "--segmenter none|$all|$n_all|--segmenter none"; do
  IFS='|' read -r label folder count flags <<<"$pipeline"
  for j in 1 2; do : >"$out/walls$j"; done
  for _ in $(seq "${ROUNDS:-3}"); do
    for j in 1 2; do
      # shellcheck disable=SC2086
      timed "detect ($label) -j $j, $count images" "$cli" detect $folder $flags -j "$j" -q --out "$out/j$j"
      cat "$out/last" >>"$out/walls$j"
    done
  done
  for j in 1 2; do
    sort -g "$out/walls$j" | awk -v n="$count" -v j="$j" -v l="$label" \
      '{ w[NR] = $1 } END { m = w[int((NR + 1) / 2)]; printf "  %s -j %s: median %.2f s wall, %.2f images/s\n", l, j, m, n / m }'
  done
done
