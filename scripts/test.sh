#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a full test run: install, build everything (after
# scripts/demo.sh only the tests, benchmarks and tools are left to compile), run every test, then each fuzz
# target for 30 s on its seed corpus (clang build in build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh all
scripts/build.sh all
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900)
scripts/fuzz.sh 30
