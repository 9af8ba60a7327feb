#!/usr/bin/env bash
# The original 2DMatGMM Python detector against `maskterial detect --compat 2dmatgmm --segmenter none`, whole
# processes on the same 8 2DMatGMM demo images with the same Graphene GMM parameters, measured one after the
# other in one run of this script (so the ratio compares like with like on a busy machine). Each side runs
# `rounds` times over the images in one process; the ratio is of wall seconds, start-up included, and of the
# per-image time once started (Python: after numba's JIT has compiled on the first image).
#
# Usage: bench/compare_2dmatgmm.sh [2DMATGMM_CHECKOUT] [BUILD_DIR]
#   2DMATGMM_CHECKOUT (or env TWODMATGMM_DIR): a checkout of github.com/Jaluus/2DMatGMM (its GMMDetector
#   package is imported from there, nothing of it is copied here). Without one the Python row is skipped.
#   Python: /usr/bin/python3 with Debian's python3-opencv, -sklearn, -skimage, -numba (and joblib).
#   Env ROUNDS (default 3): passes over the 8 images per process.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=${1:-${TWODMATGMM_DIR:-}}
build=${2:-build}
cli=$build/maskterial
images=../shared/data/2dmatgmm-demo/images
rounds=${ROUNDS:-3}
[ -x "$cli" ] && [ -d "$images" ] || { echo "needs $cli and $images" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=$(find "$images" -maxdepth 1 -name '*.jpg' | wc -l)
# `rounds` copies of every image under distinct names, one folder both sides read.
mkdir "$out/images"
for r in $(seq "$rounds"); do
  for f in "$images"/*.jpg; do cp "$f" "$out/images/pass${r}_$(basename "$f")"; done
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "images: $n from $images, $rounds passes per process"

# "W U S" (wall, user, system seconds) of one command into $out/$1.time; its stdout into $out/$1.out.
timed() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$out/$name.time" "$@" >"$out/$name.out"
}

ours_params=../shared/data/gmm-params/Graphene_GMM.json
python_ok=0
if [ -z "$checkout" ]; then
  echo "2DMatGMM: no checkout given (argument 1 or TWODMATGMM_DIR): Python row skipped"
elif [ ! -f "$checkout/GMMDetector/Detector.py" ]; then
  echo "2DMatGMM: $checkout has no GMMDetector/Detector.py: Python row skipped"
else
  params=$checkout/GMMDetector/trained_parameters/Graphene_GMM.json
  if ! cmp -s <(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$params") \
              <(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$ours_params"); then
    echo "note: $params differs from $ours_params; both sides use the checkout's file"
  fi
  ours_params=$params
  # The driver: imports their package from the checkout and runs it as their demo does (size 200 px,
  # standard-deviation threshold 5, all channels, their false-positive model).
  cat >"$out/driver.py" <<'EOF'
import glob, json, os, sys, time
start = time.perf_counter()
checkout, params, images = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, checkout)
import cv2
from GMMDetector import MaterialDetector
imported = time.perf_counter()
with open(params) as f:
    model = MaterialDetector(contrast_dict=json.load(f), size_threshold=200, standard_deviation_threshold=5,
                             used_channels="BGR")
paths = sorted(glob.glob(os.path.join(images, "*.jpg")))
flakes, times = 0, []
for path in paths:
    image = cv2.imread(path)
    t = time.perf_counter()
    flakes += len(model(image))
    times.append(time.perf_counter() - t)
steady = sorted(times[1:])[len(times[1:]) // 2] if len(times) > 1 else times[0]
print(json.dumps({"import_s": imported - start, "first_image_s": times[0], "median_image_s": steady,
                  "flakes": flakes}))
EOF
  if timed python /usr/bin/python3 "$out/driver.py" "$checkout" "$params" "$out/images" 2>"$out/python.err"; then
    python_ok=1
  else
    echo "2DMatGMM: the Python detector failed (Python row skipped):"; sed 's/^/  /' "$out/python.err" | tail -5
  fi
fi

# Ours: the same folder, no overlays (their detector writes none either), every core (their numba kernels run
# in parallel too).
timed ours "$cli" detect "$out/images" --compat 2dmatgmm --segmenter none --gmm "$ours_params" --no-overlays -q --timings \
  --out "$out/ours" 2>"$out/ours.err"
ours_flakes=$(python3 -c 'import json,glob,sys; print(sum(len(json.load(open(p))["flakes"]) for p in glob.glob(sys.argv[1] + "/*.json")))' "$out/ours")
ours_median=$(grep -o "[0-9.]* ms$" "$out/ours.out" | awk '{print $1}' | sort -g | awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : 0)}')

read -r ow ou os <"$out/ours.time"
printf "maskterial detect: %.2f s wall, %.2f s CPU for %d images (whole process); %s ms per image once started (median, decode excluded); %s flakes\n" \
  "$ow" "$(echo "$ou + $os" | bc)" $((n * rounds)) "${ours_median:-?}" "$ours_flakes"
if [ "$python_ok" = 1 ]; then
  read -r pw pu ps <"$out/python.time"
  python3 - "$out/python.out" "$pw" "$pu" "$ps" "$ow" "$ours_median" "$n" "$rounds" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
pw, pu, ps, ow, om, n, rounds = map(float, sys.argv[2:9])
print(f"2DMatGMM Python:   {pw:.2f} s wall, {pu + ps:.2f} s CPU for {int(n * rounds)} images (whole process; "
      f"imports {r['import_s']:.2f} s, first image {1000 * r['first_image_s']:.0f} ms with numba's JIT); "
      f"{1000 * r['median_image_s']:.1f} ms per image once started (median, imread excluded); {r['flakes']} flakes")
print(f"ratio Python / maskterial: {pw / ow:.1f}x whole process, "
      + (f"{1000 * r['median_image_s'] / om:.1f}x per image once started" if om > 0 else "per image: n/a"))
EOF
fi
