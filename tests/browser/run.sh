#!/usr/bin/env bash
# Browser tests of the web page: starts `maskterial serve` on a free port with an empty models folder, an empty
# scan database and scan root (the folder in SCAN_ROOT), and runs a test script that drives the page in Debian's
# headless Chromium through playwright-core, with the server's URL and the remaining arguments.
# graphene_h_instances.json holds the COCO instances of the shared maskterial-demo GrapheneH instance masks (as
# coco::read_instance_mask_folder reads them).
#   web_page.test.mjs IMAGE SCREENSHOT.png [TRAINING_IMAGE_FOLDER ANNOTATIONS]: detect, models, training pages
#   annotate_page.test.mjs IMAGE_FOLDER ANNOTATIONS SCREENSHOT_DIR: annotate, train and detect
#   review_page.test.mjs IMAGE_FOLDER SCREENSHOT_DIR: scan, review by keyboard, re-rank, export, reload
# Exit 77 (ctest: skipped) only when Chromium or Node.js is not installed.
# Usage: run.sh TEST.mjs MASKTERIAL_BINARY ARGS...
set -euo pipefail
test_script=$1 cli=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
  echo "SKIPPED: Chromium is not installed (scripts/install_deps.sh installs the Debian package 'chromium')"
  exit 77
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIPPED: Node.js and npm are not installed (needed to drive Chromium with playwright-core)"
  exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

scan_root="$work/scan-root"
mkdir -p "$scan_root"
"$cli" serve --port 0 --models "$work/models" --scans "$work/scans.sqlite" --scan-root "$scan_root" \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -q "serving on" "$work/server.log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/.*serving on \(http:[^ ]*\).*/\1/p' "$work/server.log")
[ -n "$url" ] || { echo "the server did not start:"; cat "$work/server.log"; exit 1; }

SCAN_ROOT="$scan_root" CHROMIUM="$chromium" node "$here/$test_script" "$url" "$@"
