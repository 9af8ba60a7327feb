#!/bin/bash
# Pretraining ablation of the dense model (README "Segmentation model"): the same short schedule for each
# input (contrast / colour / both) and pretraining data (synthetic substrates only / + real substrates), scored
# zero-shot on the annotated GrapheneH and WSe2 images (class-agnostic AP50 and recall of the model alone).
# Usage: scripts/pretraining_ablation.sh OUT_DIR [ITERATIONS]   → OUT_DIR/pretraining_ablation.csv
set -euo pipefail
OUT=${1:?usage: scripts/pretraining_ablation.sh OUT_DIR [ITERATIONS]}
ITERATIONS=${2:-1000}
MT=$(realpath "${MT:-build/maskterial}")
S=$(realpath "${SHARED:-../shared/data}")
D=$S/maskterial-demo
REAL=(--backgrounds "$D/images/MoSe2" --backgrounds "$D/images/WS2" --backgrounds "$D/images/hBN_Thin"
      --backgrounds "$S/2dmatgmm-demo/images")
VALIDATE=(--validate "GrapheneH=$D/images/GrapheneH:$D/instance_masks/GrapheneH"
          --validate "WSe2=$D/images/WSe2:$D/instance_masks/WSe2")
mkdir -p "$OUT"
CSV="$OUT/pretraining_ablation.csv"
echo "variant,iterations,GrapheneH_AP50,GrapheneH_recall50,WSe2_AP50,WSe2_recall50,seconds" > "$CSV"
for variant in contrast+real colour+real both+real contrast+synthetic; do
  input=${variant%%+*}; data=${variant#*+}
  echo "{\"input\": \"$input\"}" > "$OUT/$variant.json"
  backgrounds=(); [ "$data" = real ] && backgrounds=("${REAL[@]}")
  [ -d "$OUT/$variant" ] || "$MT" pretrain --type dense --out "$OUT/$variant" --iterations "$ITERATIONS" --threads 1 -q \
    --model-config "$OUT/$variant.json" "${backgrounds[@]}" "${VALIDATE[@]}" > "$OUT/$variant.log" 2>&1
  jq -r --arg v "$variant" '.training as $t | $t.validation[-1].sets as $s |
    "\($v),\($t.log.iteration[-1]),\($s.GrapheneH.ap50),\($s.GrapheneH.recall50),\($s.WSe2.ap50),\($s.WSe2.recall50),\($t.log.seconds | floor)"' \
    "$OUT/$variant/model.json" >> "$CSV"
done
column -s, -t < "$CSV"
