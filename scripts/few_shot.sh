#!/bin/bash
# Few-shot study and ablations (docs/accuracy.md, "Few-shot study"). For each material with instance masks, the last
# images by name are held out; for k = 1, 2, 3, 5 of the others (the seed picks which and seeds the training)
# an AMM, a GMM and an MLP are trained on the k images, and the held-out images are scored with class-agnostic
# mask AP / AP50 for: each classifier alone; the pretrained dense model as it is (zero-shot) with each
# classifier; the dense model fine-tuned decoder-only (the default) and whole; a dense network without
# pretraining fine-tuned on the k images; and Mask2Former lite (synthetic pretraining, zero-shot).
# A material's annotations: DATA/instance_masks/MATERIAL/*.png (the shared layout, images *.jpg) or a COCO file
# DATA/annotations/MATERIAL.json over DATA/images/MATERIAL/ (semi-synthetic sets from `maskterial synth`).
# Usage: scripts/few_shot.sh OUT_DIR   → OUT_DIR/few_shot.csv (settings through the variables below)
set -euo pipefail
OUT=${1:?usage: scripts/few_shot.sh OUT_DIR}
MT=$(realpath "${MT:-build/maskterial}")
DATA=$(realpath "${DATA:-../shared/data/maskterial-demo}")
BASE=$(realpath "${BASE:-models/segmenter/pretrained}")
M2F=$(realpath "${M2F:-models/segmenter/lite-synthetic}")
ITERATIONS=${ITERATIONS:-}  # empty: finetune's default
SEEDS=${SEEDS:-"1 2"}
SPLITS=${SPLITS:-"WSe2:3:1,2,3,5 GrapheneH:2:1,2,3"}  # material:held-out images:training set sizes
THREADS=${THREADS:-1}  # compute threads per command
# shellcheck source=scripts/lib/annotated_sets.sh
. "$(dirname "$0")/lib/annotated_sets.sh"
mkdir -p "$OUT"
CSV="$OUT/few_shot.csv"
[ -f "$CSV" ] || echo "material,train_images,seed,method,AP,AP50,train_seconds" > "$CSV"

score() {  # score TEST_DIR ROW_PREFIX SECONDS eval-options... : appends AP and AP50 of the held-out images
  local test=$1 prefix=$2 seconds=$3; shift 3
  local report; report=$(mktemp)
  "$MT" eval --gt "$test/coco.json" --images "$test/images" --class-agnostic -j 1 --out "$report" "$@" > /dev/null 2>&1
  echo "$prefix,$(jq -r '"\(.stats.AP),\(.stats.AP50)"' "$report"),$seconds" >> "$CSV"
  rm -f "$report"
}

done_already() { grep -q "^$1," "$CSV"; }

for split in $SPLITS; do
  IFS=: read -r material held_out sizes <<< "$split"
  mkdir -p "$OUT/$material"
  all="$OUT/$material/all.json"
  set_coco "$DATA" "$material" "$all"
  mapfile -t stems < <(image_names "$all")
  test_stems=("${stems[@]: -$held_out}")
  train_stems=("${stems[@]:0:${#stems[@]}-$held_out}")
  coco_subset "$all" "$DATA/images/$material" "$OUT/$material/test" "${test_stems[@]}"
  # Images with flakes first (a one-image set without a flake teaches nothing); even seeds reverse them.
  with_flakes=(); without=()
  for s in "${train_stems[@]}"; do
    if (( $(flakes_on "$all" "$s") > 0 )); then with_flakes+=("$s"); else without+=("$s"); fi
  done
  for seed in $SEEDS; do
    order=()
    if (( seed % 2 == 0 )); then
      for (( i=${#with_flakes[@]}-1; i>=0; i-- )); do order+=("${with_flakes[$i]}"); done
    else
      order=("${with_flakes[@]}")
    fi
    order+=("${without[@]}")
    for k in ${sizes//,/ }; do
      (( k <= ${#order[@]} )) || continue
      run="$OUT/$material/k${k}_seed$seed"
      key="$material,$k,$seed"
      coco_subset "$all" "$DATA/images/$material" "$run/train" "${order[@]:0:$k}"
      for type in gmm amm mlp; do
        [ -d "$run/$type" ] || "$MT" train-classifier -q --type "$type" --seed "$seed" --images "$run/train/images" \
          --annotations "$run/train/coco.json" --out "$run/$type" > /dev/null 2>&1
        done_already "$key,$type" || score "$OUT/$material/test" "$key,$type" 0 --classifier "$run/$type" --segmenter none
        done_already "$key,zero-shot+$type" ||
          score "$OUT/$material/test" "$key,zero-shot+$type" 0 --classifier "$run/$type" --segmenter "$BASE"
      done
      done_already "$key,m2f-lite-zero-shot+amm" ||
        score "$OUT/$material/test" "$key,m2f-lite-zero-shot+amm" 0 --classifier "$run/amm" --segmenter "$M2F"
      for variant in "decoder:--base $BASE" "whole:--base $BASE --train-all" "scratch:--preset dense"; do
        name=${variant%%:*}; from=${variant#*:}
        done_already "$key,$name+amm" && continue
        # A model fine-tuned before is scored again as it is (rows deleted from the CSV are re-scored).
        if [ ! -f "$run/seg_$name.seconds" ]; then
          start=$(date +%s)
          # shellcheck disable=SC2086
          "$MT" finetune -q $from --images "$run/train/images" --annotations "$run/train/coco.json" \
            --out "$run/seg_$name" ${ITERATIONS:+--iterations "$ITERATIONS"} --seed "$seed" --threads "$THREADS" \
            --checkpoint-every 0 > "$run/seg_$name.log" 2>&1
          echo $(( $(date +%s) - start )) > "$run/seg_$name.seconds"
        fi
        score "$OUT/$material/test" "$key,$name+amm" "$(cat "$run/seg_$name.seconds")" --classifier "$run/amm" \
          --segmenter "$run/seg_$name"
      done
    done
  done
done
echo "$CSV"
