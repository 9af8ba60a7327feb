#!/usr/bin/env bash
# Times scripts/demo.sh as a newcomer meets it: a fresh clone in a clean Debian 12 root (debootstrap minbase),
# apt's downloads and installs included. Needs root and Debian's mirror. Usage: scripts/demo_clean_root.sh [ROOT]
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-/tmp/maskterial-demo-root}
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
[ -x "$root/bin/bash" ] || debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
cp /etc/resolv.conf "$root/etc/resolv.conf"
for fs in dev proc sys; do mountpoint -q "$root/$fs" || mount --bind "/$fs" "$root/$fs"; done
trap 'for fs in dev proc sys; do umount "$root/$fs" 2>/dev/null || true; done' EXIT
rm -rf "$root/root/maskterial"
git clone -q "$PWD" "$root/root/maskterial"
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/bash -c 'cd /root/maskterial && time scripts/demo.sh'
