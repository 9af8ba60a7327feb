#!/bin/bash
# scripts/benchmark.sh on a tiny configuration: a semi-synthetic COCO set of 4 images passed as a lab's set, k = 1,
# one seed, no fine-tuning. Checks the CSV's and the table's shape, that a rerun skips the rows it has, and that
# the doc keeps its text above the marker. Usage: benchmark_script.sh MASKTERIAL_CLI
set -euo pipefail
MT=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$MT" synth -q --count 4 --size 384 --seed 5 -j 1 --out "$T/synth" > /dev/null
printf '# My benchmark\n\nProse to keep.\n\n<!-- scripts/benchmark.sh writes everything below this line -->\nold table\n' \
  > "$T/bench.md"
run() {
  MT="$MT" SETS="tiny=$T/synth/images:$T/synth/annotations.json" KS=1 SEEDS=1 FINETUNE=0 WORK="$T/work" \
    CSV="$T/bench.csv" DOC="$T/bench.md" "$ROOT/scripts/benchmark.sh" 2> "$T/progress.txt" ||
    { cat "$T/progress.txt" >&2; fail "benchmark.sh failed"; }
}
run

[ "$(head -1 "$T/bench.csv")" = "set,k,seed,pipeline,test_images,test_flakes,AP50,recall,P5,train_seconds,detect_seconds,commit" ] ||
  fail "CSV header: $(head -1 "$T/bench.csv")"
[ "$(wc -l < "$T/bench.csv")" -eq 3 ] || fail "CSV: want a header and 2 rows (amm, default), got $(cat "$T/bench.csv")"
awk -F, 'NR > 1 {
  if (NF != 12 || $1 != "tiny" || $2 != 1 || $3 != 1 || $5 != 3) exit 1
  for (i = 7; i <= 9; i++) if ($i !~ /^[0-9.]+$/ || $i < 0 || $i > 1) exit 1
  if ($10 !~ /^[0-9.]+$/ || $11 !~ /^[0-9.]+$/) exit 1
}' "$T/bench.csv" || fail "CSV rows: $(cat "$T/bench.csv")"
cut -d, -f4 "$T/bench.csv" | tail -n +2 | sort | paste -sd' ' | grep -qx "amm default" || fail "pipelines: $(cat "$T/bench.csv")"
grep -q "\[2/2\] tiny k=1 seed=1 default: AP50" "$T/progress.txt" || fail "progress lines: $(cat "$T/progress.txt")"

head -3 "$T/bench.md" | grep -qx "Prose to keep." || fail "the doc lost its prose"
grep -q "old table" "$T/bench.md" && fail "the doc kept the old table"
grep -q "scripts/benchmark.sh --sets" "$T/bench.md" || fail "the doc does not name the command"
grep -qE "^\| tiny \| 1 \| amm \| 1 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| [0-9.]+ \|$" "$T/bench.md" ||
  fail "no per-set row for amm: $(cat "$T/bench.md")"
grep -qE "^\| all \| default \| 1 \|" "$T/bench.md" || fail "no all-sets row for default"

cp "$T/bench.csv" "$T/before.csv"
run
cmp -s "$T/bench.csv" "$T/before.csv" || fail "a rerun changed the CSV"
[ "$(grep -c "in the CSV already" "$T/progress.txt")" -eq 2 ] || fail "a rerun did not skip: $(cat "$T/progress.txt")"
echo "benchmark.sh: CSV, table and resume as expected"
