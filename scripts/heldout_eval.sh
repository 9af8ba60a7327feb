#!/bin/bash
# Held-out evaluation of the segmentation pipeline on the shared annotated images (docs/accuracy.md, "Held-out
# evaluation"): GrapheneH trains on the first 3 annotated images by name and tests on the other 2, WSe2 on 5 / 3.
# Per split: an AMM (and GMM) trained on the training images; the test images scored class-agnostic (COCO mask
# AP, AP50, recall at IoU 0.5) for the classifier alone, the zero-shot segmenter + AMM, and the segmenter
# fine-tuned (decoder only) on the training images + AMM.
# Usage: scripts/heldout_eval.sh OUT_DIR [SEGMENTER_DIR]   → OUT_DIR/heldout.csv
set -euo pipefail
OUT=${1:?usage: scripts/heldout_eval.sh OUT_DIR [SEGMENTER_DIR]}
MT=$(realpath "${MT:-build/maskterial}")
DATA=$(realpath "${DATA:-../shared/data/maskterial-demo}")
BASE=$(realpath "${2:-models/segmenter/pretrained}")
SPLITS=${SPLITS:-"GrapheneH:3 WSe2:5"}   # material:training images (the first by name; the rest are the test)
FINETUNE=${FINETUNE:-1}                   # 0: skip the fine-tuned rows
THREADS=${THREADS:-0}
mkdir -p "$OUT"
CSV="$OUT/heldout.csv"
echo "material,method,AP,AP50,recall50,flakes,detections,seconds" > "$CSV"

link_set() {  # link_set DIR MATERIAL STEM... : images and masks of the stems, then DIR/coco.json
  local dir=$1 material=$2; shift 2
  rm -rf "$dir"; mkdir -p "$dir/images" "$dir/masks"
  for stem in "$@"; do
    ln -sf "$DATA/images/$material/$stem.jpg" "$dir/images/$stem.jpg"
    ln -sf "$DATA/instance_masks/$material/$stem.png" "$dir/masks/$stem.png"
  done
  "$MT" dataset --images "$dir/images" --instance-masks "$dir/masks" --out "$dir/coco.json" > /dev/null
}

score() {  # score TEST_DIR ROW_PREFIX SECONDS detector-options...
  local test=$1 prefix=$2 seconds=$3; shift 3
  local report="$OUT/report_${prefix//,/_}.json"
  "$MT" eval --gt "$test/coco.json" --images "$test/images" --class-agnostic -j "$THREADS" --out "$report" "$@" > /dev/null
  echo "$prefix,$(jq -r '"\(.stats.AP),\(.stats.AP50),\(.flake_metrics.per_class[0].recall // 0),\((.flake_metrics.per_class[0].tp // 0) + (.flake_metrics.per_class[0].fn // 0)),\((.flake_metrics.per_class[0].tp // 0) + (.flake_metrics.per_class[0].fp // 0))"' "$report"),$seconds" >> "$CSV"
}

for split in $SPLITS; do
  IFS=: read -r material n_train <<< "$split"
  mapfile -t stems < <(ls "$DATA/instance_masks/$material" | sed 's/\.png$//' | sort)
  link_set "$OUT/$material/train" "$material" "${stems[@]:0:$n_train}"
  link_set "$OUT/$material/test" "$material" "${stems[@]:$n_train}"
  for type in amm gmm; do
    [ -d "$OUT/$material/$type" ] || "$MT" train-classifier -q --type "$type" --images "$OUT/$material/train/images" \
      --annotations "$OUT/$material/train/coco.json" --out "$OUT/$material/$type" > /dev/null
  done
  score "$OUT/$material/test" "$material,gmm" 0 --classifier "$OUT/$material/gmm" --segmenter none
  score "$OUT/$material/test" "$material,amm" 0 --classifier "$OUT/$material/amm" --segmenter none
  score "$OUT/$material/test" "$material,zero-shot+amm" 0 --classifier "$OUT/$material/amm" --segmenter "$BASE"
  score "$OUT/$material/test" "$material,zero-shot+amm masks only" 0 --classifier "$OUT/$material/amm" --segmenter "$BASE" \
    --no-classifier-fill
  if [ "$FINETUNE" = 1 ]; then
    start=$(date +%s)
    "$MT" finetune -q --base "$BASE" --images "$OUT/$material/train/images" --annotations "$OUT/$material/train/coco.json" \
      --out "$OUT/$material/tuned" > /dev/null
    seconds=$(( $(date +%s) - start ))
    score "$OUT/$material/test" "$material,finetuned+amm" "$seconds" --classifier "$OUT/$material/amm" --segmenter "$OUT/$material/tuned"
    score "$OUT/$material/test" "$material,finetuned+amm masks only" "$seconds" --classifier "$OUT/$material/amm" \
      --segmenter "$OUT/$material/tuned" --no-classifier-fill
  fi
done
column -s, -t < "$CSV"
