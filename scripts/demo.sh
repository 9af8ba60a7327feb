#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to flakes: install, build, detect on the bundled sample images
# with the shipped segmentation model (models/segmenter/pretrained, dense) and the built-in graphene GMM.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
build/maskterial detect examples/images --out results/demo
