#!/bin/bash
# Reliability of a pipeline's scores pooled over every run of a benchmark work folder (scripts/benchmark.sh
# --work DIR): the test images and detections of all runs merged into one COCO pair (image ids offset per run),
# then `maskterial eval --class-agnostic --reliability PNG` (share of true flakes per score bin against the
# diagonal). Needs jq. Usage: scripts/reliability_plot.sh WORK PIPELINE PNG   (PIPELINE: amm, default, finetuned)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
work=$1 pipeline=$2 png=$3
MT=${MT:-build/maskterial}
gts=() dts=()
for dt in "$work"/*/k*_seed*/"detect_$pipeline.json"; do
  [ -f "$dt" ] || continue
  gts+=("$(dirname "$dt")/test/coco.json")
  dts+=("$dt")
done
(( ${#dts[@]} )) || { echo "reliability_plot.sh: no $pipeline detections under $work" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jq -s '[to_entries[] | .key as $run | .value
        | {images: [.images[] | .id += $run * 1000000],
           annotations: [.annotations[] | .image_id += $run * 1000000 | .id += $run * 1000000],
           categories: .categories}]
       | {images: map(.images) | add, annotations: map(.annotations) | add, categories: .[0].categories}' \
  "${gts[@]}" > "$tmp/gt.json"
jq -s '[to_entries[] | .key as $run | .value[] | .image_id += $run * 1000000]' "${dts[@]}" > "$tmp/dt.json"
mkdir -p "$(dirname "$png")"
"$MT" eval --gt "$tmp/gt.json" --dt "$tmp/dt.json" --class-agnostic --reliability "$png" |
  jq -r --arg runs "${#dts[@]}" '"\($runs) runs, \(.num_detections) detections, \(.num_ground_truth) flakes: AP50 \(.stats.AP50 * 1000 | round / 1000)"'
