#!/bin/bash
# Pretraining ablation of the dense model (docs/accuracy.md, "Pretraining ablation"): the same short schedule for each
# input (contrast / colour / both) and pretraining data (synthetic substrates only / + real substrates), scored
# zero-shot on the annotated GrapheneH and WSe2 images (class-agnostic AP50 and recall of the model alone), for
# each seed in SEEDS (weights, data and sampling).
# Usage: scripts/pretraining_ablation.sh OUT_DIR [ITERATIONS]   → OUT_DIR/pretraining_ablation.csv
set -euo pipefail
OUT=${1:?usage: scripts/pretraining_ablation.sh OUT_DIR [ITERATIONS]}
ITERATIONS=${2:-1000}
SEEDS=${SEEDS:-"42 1 2"}
MT=$(realpath "${MT:-build/maskterial}")
S=$(realpath "${SHARED:-../shared/data}")
D=$S/maskterial-demo
REAL=(--backgrounds "$D/images/MoSe2" --backgrounds "$D/images/WS2" --backgrounds "$D/images/hBN_Thin"
      --backgrounds "$S/2dmatgmm-demo/images")
VALIDATE=(--validate "GrapheneH=$D/images/GrapheneH:$D/instance_masks/GrapheneH"
          --validate "WSe2=$D/images/WSe2:$D/instance_masks/WSe2")
mkdir -p "$OUT"
CSV="$OUT/pretraining_ablation.csv"
[ -f "$CSV" ] || echo "variant,seed,iterations,GrapheneH_AP50,GrapheneH_recall50,WSe2_AP50,WSe2_recall50,seconds" > "$CSV"
for seed in $SEEDS; do
  for variant in contrast+real colour+real both+real contrast+synthetic; do
    grep -q "^$variant,$seed," "$CSV" && continue
    input=${variant%%+*}; data=${variant#*+}
    run="$OUT/seed$seed/$variant"
    mkdir -p "$OUT/seed$seed"
    echo "{\"input\": \"$input\"}" > "$run.json"
    backgrounds=(); [ "$data" = real ] && backgrounds=("${REAL[@]}")
    [ -d "$run" ] || "$MT" pretrain --type dense --out "$run" --iterations "$ITERATIONS" --seed "$seed" --threads 1 -q \
      --model-config "$run.json" "${backgrounds[@]}" "${VALIDATE[@]}" > "$run.log" 2>&1
    jq -r --arg v "$variant" --arg seed "$seed" '.training as $t | $t.validation[-1].sets as $s |
      "\($v),\($seed),\($t.log.iteration[-1]),\($s.GrapheneH.ap50),\($s.GrapheneH.recall50),\($s.WSe2.ap50),\($s.WSe2.recall50),\($t.log.seconds | floor)"' \
      "$run/model.json" >> "$CSV"
  done
done
column -s, -t < "$CSV"
