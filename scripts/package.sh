#!/usr/bin/env bash
# Builds the Debian package build/maskterial_<version>_amd64.deb (CPack; layout in cmake/package.cmake): the
# programs in /usr/bin, the shipped models, the documentation, and the server's systemd unit (not enabled)
# with its settings in /etc/maskterial/serve.conf. Dependencies are computed from the programs (dpkg-shlibdeps).
# On the microscope's PC:  sudo apt install ./maskterial_<version>_amd64.deb
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh cli
scripts/build.sh cli
(cd build && cpack -G DEB)
ls build/maskterial_*_amd64.deb
