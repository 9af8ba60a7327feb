#!/bin/bash
# Benchmark across annotated sets (docs/benchmark.md). The few-shot protocol on every set: for each seed and each
# k, train on k annotated images (the seed picks which), test on all the set's other annotated images, and score
# three pipelines with class-agnostic AP50, recall@0.5 and the precision of each image's 5 best detections:
#   amm        detect --segmenter none --classifier AMM        (the classifier alone)
#   default    detect --classifier AMM                         (what detect runs with no other option)
#   finetuned  finetune (its defaults) on the k images, then detect --segmenter SEG --classifier AMM
#   unlabelled as finetuned, with finetune --unlabelled over the set's images that no annotation file lists
#              (never a test image; skipped on a set without such images)
# The AMM comes from train-classifier --type amm on the same k images. Writes one CSV row per run (resumable:
# rows already in the CSV are skipped) and a markdown table of mean ± standard deviation over the seeds.
#
# Usage: scripts/benchmark.sh [--sets "SET..."] [--k "1 3 5"] [--seeds "1 2 3"] [--no-finetune]
#                             [--pipelines "amm default finetuned unlabelled"] [--csv FILE] [--doc FILE]
#                             [--work DIR]
#                             [--doc-only]   (only rewrite the doc's tables from the CSV)
# (or the variables SETS, KS, SEEDS, FINETUNE=0, PIPELINES, CSV, DOC, WORK; flags win). A SET is
#   NAME                          a set in DATA's layout (default ../shared/data/maskterial-demo): images/NAME/
#                                 with instance_masks/NAME/*.png or annotations/NAME.json (`maskterial synth`)
#   NAME=IMAGES_DIR:COCO.json     any COCO instances file over a folder of images (a lab's own set)
#   NAME=IMAGES_DIR:MASKS_DIR     instance-mask PNGs named like the images (pixel = instance id)
# Other settings: MT (the CLI, default build/maskterial), MIN_AREA (ground-truth instances below this many
# pixels are dropped, default 300 as in the acceptance checks), THREADS (per command, default 1), NICE (10).
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=${SETS:-"GrapheneH WSe2"}
KS=${KS:-"1 3 5"}
SEEDS=${SEEDS:-"1 2 3"}
FINETUNE=${FINETUNE:-1}
WORK=${WORK:-build/benchmark}
while (( $# )); do
  case $1 in
    --sets) SETS=$2; shift 2 ;;
    --k) KS=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --no-finetune) FINETUNE=0; shift ;;
    --pipelines) PIPELINES=$2; shift 2 ;;
    --doc-only) DOC_ONLY=1; shift ;;
    --csv) CSV=$2; shift 2 ;;
    --doc) DOC=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "benchmark.sh: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done
MT=$(realpath "${MT:-build/maskterial}")
DATA=$(realpath "${DATA:-../shared/data/maskterial-demo}")
MIN_AREA=${MIN_AREA:-300}
THREADS=${THREADS:-1}
NICE=${NICE:-10}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
CSV=${CSV:-$WORK/benchmark.csv}
DOC=${DOC:-$WORK/benchmark.md}
PIPELINES=${PIPELINES:-"amm default finetuned unlabelled"}
(( FINETUNE )) || { PIPELINES=${PIPELINES//finetuned/}; PIPELINES=${PIPELINES//unlabelled/}; }
read -ra pipes <<< "$PIPELINES"; PIPELINES="${pipes[*]}"
for pipeline in "${pipes[@]}"; do
  case $pipeline in amm|default|finetuned|unlabelled) ;;
    *) echo "benchmark.sh: no pipeline '$pipeline' (amm, default, finetuned, unlabelled)" >&2; exit 2 ;;
  esac
done
COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
# What the models in WORK depend on: the code and the shipped models, as committed plus uncommitted changes.
CODE=$({ git ls-files -s src include tools models CMakeLists.txt; git diff HEAD -- src include tools models CMakeLists.txt; } |
  md5sum | cut -c1-12)
# shellcheck source=scripts/lib/annotated_sets.sh
. scripts/lib/annotated_sets.sh

[ -x "$MT" ] || { echo "benchmark.sh: no CLI at $MT: build the project first (scripts/build.sh)" >&2; exit 1; }
command -v jq > /dev/null || { echo "benchmark.sh: needs jq (apt-get install jq)" >&2; exit 1; }
HEADER="set,k,seed,pipeline,test_images,test_flakes,AP50,recall,P5,train_seconds,detect_seconds,commit"
[ -s "$CSV" ] || { mkdir -p "$(dirname "$CSV")"; echo "$HEADER" > "$CSV"; }
[ "$(head -1 "$CSV")" = "$HEADER" ] || { echo "benchmark.sh: $CSV has other columns than: $HEADER" >&2; exit 1; }

mt() { nice -n "$NICE" "$MT" "$@"; }
progress() { echo "benchmark: $*" >&2; }
shown() {  # shown PATH : relative to the project's root where it lies inside it
  local path; path=$(realpath -m "$1")
  if [[ $path == "$PWD"/* ]]; then echo "${path#"$PWD"/}"; else echo "$path"; fi
}
done_already() { grep -q "^$1," "$CSV"; }

declare -A IMAGES_OF=()  # set name -> its image folder
prepare_set() {  # prepare_set SPEC : SET_NAME, IMAGES_OF[SET_NAME], and WORK/SET_NAME/all.json without small instances
  local spec=$1 images annotations raw
  SET_NAME=${spec%%=*}
  mkdir -p "$WORK/$SET_NAME"
  raw="$WORK/$SET_NAME/annotations.json"
  if [[ $spec == *=* ]]; then
    images=${spec#*=}; annotations=${images#*:}; images=${images%%:*}
  else
    images="$DATA/images/$SET_NAME"; annotations=
  fi
  [ -d "$images" ] || { echo "benchmark.sh: set $SET_NAME: no image folder $images" >&2; return 1; }
  if [ -z "$annotations" ]; then
    set_coco "$DATA" "$SET_NAME" "$raw"
  elif [ -d "$annotations" ]; then
    mt dataset --images "$images" --instance-masks "$annotations" --out "$raw" > /dev/null
  elif [ -f "$annotations" ]; then
    cp "$annotations" "$raw"
  else
    echo "benchmark.sh: set $SET_NAME: $annotations is neither a COCO file nor a folder of masks" >&2; return 1
  fi
  IMAGES_OF[$SET_NAME]=$(realpath "$images")
  jq --argjson min "$MIN_AREA" '.annotations |= map(select((.area // $min) >= $min))' "$raw" > "$WORK/$SET_NAME/all.json"
  # The set's unannotated images (links), for finetune --unlabelled.
  local name; rm -rf "$WORK/$SET_NAME/unlabelled"; mkdir -p "$WORK/$SET_NAME/unlabelled"
  while IFS= read -r name; do
    ln -sfn "$(realpath "$images/$name")" "$WORK/$SET_NAME/unlabelled/$name"
  done < <(comm -23 <(find "$images" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \
             -o -iname '*.tif' -o -iname '*.tiff' -o -iname '*.bmp' -o -iname '*.webp' \) -printf '%f\n' | sort) \
                      <(image_names "$WORK/$SET_NAME/all.json"))
}

shuffled() {  # shuffled SEED NAME... : the names in an order the seed picks, the same on every machine
  local seed=$1 name; shift
  for name in "$@"; do printf '%s %s\n' "$(printf '%s:%s' "$seed" "$name" | md5sum | cut -c1-12)" "$name"; done |
    sort | cut -d' ' -f2-
}

seed_order() {  # seed_order SEED ALL.json : its images with flakes in an order the seed picks, then those without
  # shellcheck disable=SC2016  # a jq program, not shell
  local flaky=() bare=() holds='(.annotations | map(.image_id)) as $flaky | .images[] | select(.id as $i | $flaky | index($i))'
  mapfile -t flaky < <(jq -r "$holds | .file_name" "$2")
  mapfile -t bare < <(jq -r "[$holds | .file_name] as \$f | .images[] | select(.file_name as \$n | \$f | index(\$n) | not) | .file_name" "$2")
  if (( ${#flaky[@]} )); then shuffled "$1" "${flaky[@]}"; fi
  if (( ${#bare[@]} )); then shuffled "$1" "${bare[@]}"; fi
}

fresh_run_dir() {  # fresh_run_dir DIR : models in DIR are reused only when this version of the code made them
  if [ "$(cat "$1/code" 2>/dev/null)" != "$CODE" ]; then rm -rf "$1"; mkdir -p "$1"; echo "$CODE" > "$1/code"; fi
}

timed() {  # timed SECONDS_FILE LOG COMMAND... : runs it, its output into LOG, its wall seconds into SECONDS_FILE
  local seconds=$1 log=$2 start; shift 2
  start=$(date +%s.%N)
  "$@" > "$log" 2>&1 || { echo "benchmark.sh: failed ($log): $*" >&2; tail -3 "$log" >&2; return 1; }
  awk -v start="$start" -v end="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", end - start }' > "$seconds"
}

train_amm() {  # train_amm RUN SEED : RUN/classifier
  [ -f "$1/classifier.seconds" ] && return
  rm -rf "$1/classifier"
  timed "$1/classifier.seconds.tmp" "$1/classifier.log" mt train-classifier -q --type amm --seed "$2" \
    --images "$1/train/images" --annotations "$1/train/coco.json" --out "$1/classifier" &&
    mv "$1/classifier.seconds.tmp" "$1/classifier.seconds"
}

finetune() {  # finetune RUN SEED PIPELINE [UNLABELLED_DIR] : RUN/segmenter (finetuned) or RUN/segmenter_unlabelled
  local seg extra=()
  seg="$1/$(segmenter_of "$3")"
  [ -f "$seg.seconds" ] && return
  [ -n "${4:-}" ] && extra=(--unlabelled "$4")
  rm -rf "$seg" "$seg.checkpoint.pt"
  timed "$seg.seconds.tmp" "$seg.log" mt finetune -q --images "$1/train/images" \
    --annotations "$1/train/coco.json" --out "$seg" --seed "$2" --threads "$THREADS" --checkpoint-every 0 "${extra[@]}" &&
    mv "$seg.seconds.tmp" "$seg.seconds"
}
segmenter_of() { [ "$1" = unlabelled ] && echo segmenter_unlabelled || echo segmenter; }
fine_tuned() { [ "$1" = finetuned ] || [ "$1" = unlabelled ]; }

score() {  # score RUN PIPELINE : detect on the test images, then "AP50,recall,P5" of the class-agnostic evaluation
  local run=$1 pipeline=$2 out="$1/detect_$2" segmenter=()
  case $pipeline in
    amm) segmenter=(--segmenter none) ;;
    finetuned|unlabelled) segmenter=(--segmenter "$run/$(segmenter_of "$pipeline")") ;;
  esac
  rm -rf "$out"
  timed "$out.seconds" "$out.log" mt detect -q --no-overlays -j "$THREADS" --classifier "$run/classifier" \
    "${segmenter[@]}" --gt "$run/test/coco.json" --coco-results "$out.json" --out "$out" "$run/test/images" || return 1
  mt eval --gt "$run/test/coco.json" --dt "$out.json" --class-agnostic --top-k 5 --out "$out.eval.json" > /dev/null \
    2>> "$out.log" || return 1
  jq -r '[.stats.AP50, .flake_metrics.per_class[0].recall, .flake_metrics.precision_at_k.precision]
    | map(. * 1000 | round / 1000) | join(",")' "$out.eval.json"
}

MARKER="<!-- scripts/benchmark.sh writes everything below this line -->"

tables() {  # tables CSV : markdown tables of mean ± sample standard deviation, over all sets and per set
  awk -F, '
    function add(g,   m) { n[g]++; for (m = 1; m <= 5; m++) { sum[g, m] += v[m]; sq[g, m] += v[m] * v[m] } }
    function cell(g, m, digits,   mean, var) {
      mean = sum[g, m] / n[g]
      if (n[g] < 2) return sprintf("%." digits "f", mean)
      var = (sq[g, m] - n[g] * mean * mean) / (n[g] - 1)
      return sprintf("%." digits "f ± %." digits "f", mean, var > 0 ? sqrt(var) : 0)
    }
    function row(prefix, g) {
      printf "| %s | %d | %s | %s | %s | %s | %s |\n", prefix, n[g], cell(g, 1, 3), cell(g, 2, 3), cell(g, 3, 3),
        cell(g, 4, 0), cell(g, 5, 1)
    }
    NR == 1 { next }
    {
      v[1] = $7; v[2] = $8; v[3] = $9; v[4] = $10; v[5] = $11 / ($5 > 0 ? $5 : 1)
      if (!($1 in seen_set)) { seen_set[$1] = 1; sets[++nsets] = $1 }
      if (!($2 in seen_k)) { seen_k[$2] = 1; ks[++nks] = $2 }
      if (!($4 in seen_p)) { seen_p[$4] = 1; pipes[++npipes] = $4 }
      add($1 SUBSEP $2 SUBSEP $4); add("all" SUBSEP $2 SUBSEP $4); add("all" SUBSEP "all" SUBSEP $4)
    }
    END {
      for (i = 1; i < nks; i++) for (j = i + 1; j <= nks; j++) if (ks[j] + 0 < ks[i] + 0) { t = ks[i]; ks[i] = ks[j]; ks[j] = t }
      head = "| runs | AP50 | recall@0.5 | P@5 | train s | detect s/image |"
      rule = "|---|---|---|---|---|---|"
      print "### Mean over all sets\n"
      print "| k | pipeline " head; print "|---|---" rule
      for (i = 1; i <= nks; i++) for (p = 1; p <= npipes; p++)
        if (("all" SUBSEP ks[i] SUBSEP pipes[p]) in n) row(ks[i] " | " pipes[p], "all" SUBSEP ks[i] SUBSEP pipes[p])
      for (p = 1; p <= npipes; p++) row("all | " pipes[p], "all" SUBSEP "all" SUBSEP pipes[p])
      print "\n### Per set\n"
      print "| set | k | pipeline " head; print "|---|---|---" rule
      for (s = 1; s <= nsets; s++) for (i = 1; i <= nks; i++) for (p = 1; p <= npipes; p++)
        if ((sets[s] SUBSEP ks[i] SUBSEP pipes[p]) in n)
          row(sets[s] " | " ks[i] " | " pipes[p], sets[s] SUBSEP ks[i] SUBSEP pipes[p])
    }' "$1"
}

write_doc() {  # DOC keeps what precedes MARKER (or is new) and gets the tables of the whole CSV after it
  local tmp="$DOC.tmp" commits
  mkdir -p "$(dirname "$DOC")"
  if grep -qxF "$MARKER" "$DOC" 2>/dev/null; then
    awk -v marker="$MARKER" '{ print } $0 == marker { exit }' "$DOC" > "$tmp"
  else
    printf '# Benchmark across sets\n\n%s\n' "$MARKER" > "$tmp"
  fi
  commits=$(tail -n +2 "$CSV" | cut -d, -f12 | sort -u | paste -sd' ')
  {
    echo
    echo "\`$COMMAND\` (code: ${commits:-none}), $(date -u '+%Y-%m-%d %H:%M') UTC, on $(lscpu | sed -n 's/^Model name: *//p')"
    echo "($(nproc) cores; every command on $THREADS thread(s), niced). Cells: mean ± sample standard deviation over"
    echo "the runs (seeds; over sets and seeds for \"all sets\"); train s: training the AMM (+ fine-tuning);"
    echo "detect s/image: wall time of \`detect\` per test image. Every run: $(shown "$CSV")."
    echo
    tables "$CSV"
  } >> "$tmp"
  mv "$tmp" "$DOC"
}

COMMAND="scripts/benchmark.sh --sets \"$SETS\" --k \"$KS\" --seeds \"$SEEDS\" --pipelines \"$PIPELINES\""
COMMAND+=" --csv $(shown "$CSV") --doc $(shown "$DOC")"  # what the doc says made it

if (( ${DOC_ONLY:-0} )); then write_doc; progress "$DOC"; exit 0; fi

# The plan first, so that progress lines can count.
PLAN=()
for spec in $SETS; do
  prepare_set "$spec"
  with_flakes=$(jq '[.annotations[].image_id] | unique | length' "$WORK/$SET_NAME/all.json")
  for k in $KS; do
    if (( k >= with_flakes )); then
      progress "$SET_NAME: k=$k skipped: the set has $with_flakes images with flakes, and the test images need one"
      continue
    fi
    for seed in $SEEDS; do
      for pipeline in $PIPELINES; do
        if [ "$pipeline" = unlabelled ] && [ -z "$(ls -A "$WORK/$SET_NAME/unlabelled")" ]; then continue; fi
        PLAN+=("$SET_NAME|$k|$seed|$pipeline")
      done
    done
  done
done

n=0; failures=0
for entry in "${PLAN[@]}"; do
  IFS='|' read -r set k seed pipeline <<< "$entry"
  n=$((n + 1))
  key="$set,$k,$seed,$pipeline"
  if done_already "$key"; then progress "[$n/${#PLAN[@]}] $set k=$k seed=$seed $pipeline: in the CSV already"; continue; fi
  all="$WORK/$set/all.json"
  run="$WORK/$set/k${k}_seed$seed"
  fresh_run_dir "$run"
  mapfile -t order < <(seed_order "$seed" "$all")
  coco_subset "$all" "${IMAGES_OF[$set]}" "$run/train" "${order[@]:0:$k}"
  coco_subset "$all" "${IMAGES_OF[$set]}" "$run/test" "${order[@]:$k}"
  seg="$run/$(segmenter_of "$pipeline")"
  fine_tuned "$pipeline" && [ ! -f "$seg.seconds" ] && progress "$set k=$k seed=$seed: fine-tuning on $k image(s) ($pipeline)"
  unlabelled=; [ "$pipeline" = unlabelled ] && unlabelled="$WORK/$set/unlabelled"
  if ! train_amm "$run" "$seed" || { fine_tuned "$pipeline" && ! finetune "$run" "$seed" "$pipeline" "$unlabelled"; } ||
     ! metrics=$(score "$run" "$pipeline"); then
    failures=$((failures + 1)); continue
  fi
  train=$(cat "$run/classifier.seconds")
  fine_tuned "$pipeline" && train=$(awk -v a="$train" -v b="$(cat "$seg.seconds")" 'BEGIN { print a + b }')
  detect=$(cat "$run/detect_$pipeline.seconds")
  echo "$key,$(( ${#order[@]} - k )),$(jq '.annotations | length' "$run/test/coco.json"),$metrics,$train,$detect,$COMMIT" \
    >> "$CSV"
  IFS=, read -r ap50 recall p5 <<< "$metrics"
  progress "[$n/${#PLAN[@]}] $set k=$k seed=$seed $pipeline: AP50 $ap50, recall $recall, P@5 $p5 (train $train s, detect $detect s)"
done

write_doc
progress "$CSV, $DOC"
(( failures == 0 )) || { progress "$failures run(s) failed: see the logs named above; a rerun retries them"; exit 1; }
