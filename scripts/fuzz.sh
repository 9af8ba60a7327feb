#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs each for SECONDS (default 30) on a
# copy of its seed corpus (fuzz/corpus/<target>). Exits non-zero when a target finds a crash, a sanitizer
# report or an input slower than 10 s; the input is left in build-fuzz/artifacts/<target>/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_coco fuzz_image_header fuzz_model_files fuzz_multipart)
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DMASKTERIAL_BUILD_FUZZ=ON \
      -DMASKTERIAL_BUILD_TESTS=OFF -DMASKTERIAL_BUILD_BENCH=OFF >/dev/null
fi
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"
for target in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$target artifacts=build-fuzz/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  cp -n fuzz/corpus/"$target"/* "$corpus"/
  echo "== $target: ${seconds} s"
  # Model files and forms are larger than libFuzzer's default 4 KB inputs; 2 GB covers a capped allocation.
  rc=0
  # A fixed seed (FUZZ_SEED, default 1): every run tries the same sequence of inputs (as far as its time allows),
  # so a red CI names a reproducible input rather than a chance find.
  build-fuzz/fuzz/"$target" "$corpus" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2560 \
      -artifact_prefix="$artifacts"/ -print_final_stats=1 >"$artifacts/log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|SUMMARY|==[0-9]+==ERROR)|Done [0-9]+ runs' "$artifacts/log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$artifacts/log"
    echo "$target: failed (rc $rc), input in $artifacts/"
    exit 1
  fi
done
