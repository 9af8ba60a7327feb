#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a full test run: install, build, run every test, then each
# fuzz target for 30 s on its seed corpus (clang build in build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900)
scripts/fuzz.sh 30
