#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to flakes: install and build only what the CLI needs (no browser,
# clang, tests or benchmarks: scripts/test.sh adds those), then detect on the bundled sample images with the
# shipped segmentation model (models/segmenter/pretrained, dense) and the built-in graphene GMM.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh cli
scripts/build.sh cli
build/maskterial detect examples/images --out results/demo
