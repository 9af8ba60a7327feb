# shellcheck shell=bash
# Sourced by scripts/few_shot.sh and scripts/benchmark.sh: annotated image sets as one COCO file each, and
# subsets of them (a split's training or test images). Needs MT (the CLI) and jq.

set_coco() {  # set_coco DATA MATERIAL OUT.json : the shared layout's annotations of MATERIAL as one COCO file
  # DATA/annotations/MATERIAL.json (semi-synthetic sets from `maskterial synth`) or DATA/instance_masks/MATERIAL/
  local data=$1 material=$2 out=$3
  if [ -f "$data/annotations/$material.json" ]; then
    cp "$data/annotations/$material.json" "$out"
  else
    "$MT" dataset --images "$data/images/$material" --instance-masks "$data/instance_masks/$material" \
      --out "$out" > /dev/null
  fi
}

image_names() {  # image_names COCO.json : its images' file names, sorted
  jq -r '.images[].file_name' "$1" | sort
}

flakes_on() {  # flakes_on COCO.json FILE_NAME : how many annotations that image has
  jq --arg f "$2" '(.images[] | select(.file_name == $f) | .id) as $id
    | [.annotations[] | select(.image_id == $id)] | length' "$1"
}

coco_subset() {  # coco_subset ALL.json IMAGES_DIR DIR NAME... : DIR/images/ (links) and DIR/coco.json over NAMEs
  local all=$1 images=$2 dir=$3; shift 3
  mkdir -p "$dir/images"
  for name in "$@"; do
    mkdir -p "$(dirname "$dir/images/$name")"
    ln -sfn "$(realpath "$images/$name")" "$dir/images/$name"
  done
  jq --args '($ARGS.positional) as $names | (.images | map(select(.file_name as $f | $names | index($f)))) as $kept
    | ($kept | map(.id)) as $ids | .images = $kept | .annotations = (.annotations | map(select(.image_id as $i | $ids | index($i))))' \
    "$@" < "$all" > "$dir/coco.json.tmp"
  mv "$dir/coco.json.tmp" "$dir/coco.json"
}
