#!/bin/bash
# Few-shot study (README "Few-shot fine-tuning"). For each material with instance masks, the last images by
# name are held out; the segmentation model is fine-tuned on 1, 2, 3, 5 of the others (the seed picks which
# and seeds the training), an AMM and a GMM are trained on the same images, and the held-out images are
# scored with class-agnostic mask AP for: the GMM pipeline, the AMM pipeline, pretrained lite as it is
# (zero-shot) + AMM, pretrained lite fine-tuned + AMM, and lite from scratch (no pretraining) fine-tuned + AMM.
# Usage: scripts/few_shot.sh OUT_DIR   → OUT_DIR/few_shot.csv (settings through the variables below)
set -euo pipefail
OUT=${1:?usage: scripts/few_shot.sh OUT_DIR}
MT=$(realpath "${MT:-build/maskterial}")
DATA=$(realpath "${DATA:-../shared/data/maskterial-demo}")
BASE=$(realpath "${BASE:-models/segmenter/lite-synthetic}")
ITERATIONS=${ITERATIONS:-300}
SEEDS=${SEEDS:-"1 2"}
SCRATCH_SEEDS=${SCRATCH_SEEDS:-"1"}
SPLITS=${SPLITS:-"WSe2:3:1,2,3,5 GrapheneH:2:1,2,3"}  # material:held-out images:training set sizes
THREADS=${THREADS:-0}  # compute threads per command (0 = all cores); 1 lets two studies run side by side
mkdir -p "$OUT"
CSV="$OUT/few_shot.csv"
[ -f "$CSV" ] || echo "material,train_images,seed,method,AP,AP50,train_seconds" > "$CSV"

link_set() {  # link_set DIR MATERIAL STEM... : images and masks of the stems, then DIR/coco.json
  local dir=$1 material=$2; shift 2
  mkdir -p "$dir/images" "$dir/masks"
  for stem in "$@"; do
    ln -sf "$DATA/images/$material/$stem.jpg" "$dir/images/$stem.jpg"
    ln -sf "$DATA/instance_masks/$material/$stem.png" "$dir/masks/$stem.png"
  done
  "$MT" dataset --images "$dir/images" --instance-masks "$dir/masks" --out "$dir/coco.json" > /dev/null
}

score() {  # score TEST_DIR ROW_PREFIX SECONDS eval-options... : appends AP and AP50 of the held-out images
  local test=$1 prefix=$2 seconds=$3; shift 3
  local report; report=$(mktemp)
  "$MT" eval --gt "$test/coco.json" --images "$test/images" --class-agnostic -j "$THREADS" --out "$report" "$@" > /dev/null 2>&1
  echo "$prefix,$(jq -r '"\(.stats.AP),\(.stats.AP50)"' "$report"),$seconds" >> "$CSV"
  rm -f "$report"
}

done_already() { grep -q "^$1," "$CSV"; }

for split in $SPLITS; do
  IFS=: read -r material held_out sizes <<< "$split"
  mapfile -t stems < <(ls "$DATA/instance_masks/$material" | sed 's/\.png$//' | sort)
  test_stems=("${stems[@]: -$held_out}")
  train_stems=("${stems[@]:0:${#stems[@]}-$held_out}")
  link_set "$OUT/$material/test" "$material" "${test_stems[@]}"
  link_set "$OUT/$material/train_all" "$material" "${train_stems[@]}"
  # Images with flakes first (a one-image set without a flake teaches nothing); even seeds reverse them.
  with_flakes=(); without=()
  for s in "${train_stems[@]}"; do
    n=$(jq --arg f "$s.jpg" '(.images[] | select(.file_name == $f) | .id) as $id | [.annotations[] | select(.image_id == $id)] | length' "$OUT/$material/train_all/coco.json")
    if (( n > 0 )); then with_flakes+=("$s"); else without+=("$s"); fi
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
      link_set "$run/train" "$material" "${order[@]:0:$k}"
      for type in gmm amm; do
        [ -d "$run/$type" ] || "$MT" train-classifier -q --type "$type" --seed "$seed" --images "$run/train/images" \
          --annotations "$run/train/coco.json" --out "$run/$type" > /dev/null 2>&1
      done
      done_already "$key,gmm" || score "$OUT/$material/test" "$key,gmm" 0 --classifier "$run/gmm" --segmenter none
      done_already "$key,amm" || score "$OUT/$material/test" "$key,amm" 0 --classifier "$run/amm" --segmenter none
      done_already "$key,zero-shot+amm" || score "$OUT/$material/test" "$key,zero-shot+amm" 0 --classifier "$run/amm" --segmenter "$BASE"
      variants=("pretrained:--base $BASE")
      [[ " $SCRATCH_SEEDS " == *" $seed "* ]] && variants+=("scratch:--preset lite")
      for variant in "${variants[@]}"; do
        name=${variant%%:*}; from=${variant#*:}
        done_already "$key,$name+amm" && continue
        start=$(date +%s)
        # shellcheck disable=SC2086
        "$MT" finetune -q $from --images "$run/train/images" --annotations "$run/train/coco.json" \
          --out "$run/seg_$name" --iterations "$ITERATIONS" --seed "$seed" --threads "$THREADS" --checkpoint-every 0 > "$run/seg_$name.log" 2>&1
        score "$OUT/$material/test" "$key,$name+amm" $(( $(date +%s) - start )) --classifier "$run/amm" --segmenter "$run/seg_$name"
      done
    done
  done
done
echo "$CSV"
