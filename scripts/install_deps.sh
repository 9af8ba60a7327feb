#!/usr/bin/env bash
# Installs the Debian 12 packages maskterial builds with, skipping the ones already there.
#   scripts/install_deps.sh       everything: the CLI's, and the tests', benchmarks' and fuzzers' (scripts/test.sh)
#   scripts/install_deps.sh cli   only what the CLI and its libraries build with (scripts/demo.sh, scripts/package.sh)
set -euo pipefail
what=${1:-all}
cli=(build-essential cmake pkg-config libopencv-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libnanoflann-dev
     libcpp-httplib-dev libtorch-dev libopenblas0-pthread libgloo-dev libjpeg-dev libpng-dev libtiff-dev libwebp-dev
     libsqlite3-dev)
tests=(libgtest-dev libbenchmark-dev chromium chromium-driver
       clang libclang-rt-14-dev)  # clang + libFuzzer for scripts/fuzz.sh
case "$what" in
  cli) packages=("${cli[@]}") ;;
  all) packages=("${cli[@]}" "${tests[@]}")
       # The browser test drives Chromium from Node.js (playwright-core); Debian's nodejs/npm only where no Node.js is.
       command -v npm >/dev/null || packages+=(nodejs npm) ;;
  *) echo "usage: scripts/install_deps.sh [cli|all]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
