#!/usr/bin/env bash
# The Debian package of this build tree (cpack, as scripts/package.sh makes it), unpacked into an empty root
# (dpkg -x): its `maskterial detect` on an example image, run from another folder, writes flakes found with the
# segmentation model shipped inside that root (not the source tree's). Also checks what dpkg reads: Depends
# computed by dpkg-shlibdeps, /etc/maskterial/serve.conf as a conffile, the systemd unit installed, not enabled.
#   tests/package/run.sh BUILD_DIR IMAGE
set -euo pipefail
build=$1 image=$2
work=$(realpath "$(mktemp -d)"); trap 'rm -rf "$work"' EXIT
fail() { echo "package: $*"; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/deb" >"$work/cpack.log" 2>&1) || { tail -20 "$work/cpack.log"; fail "cpack failed"; }
deb=$(find "$work/deb" -maxdepth 1 -name 'maskterial_*_amd64.deb')
[ -n "$deb" ] || fail "no maskterial_<version>_amd64.deb in $work/deb: $(ls "$work/deb")"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libtorch libopencv-core libc6; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib (dpkg-shlibdeps): $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/maskterial/serve.conf ||
  fail "/etc/maskterial/serve.conf is not a conffile"

root=$work/root
dpkg -x "$deb" "$root"
for f in usr/bin/maskterial usr/bin/maskterial-cli usr/share/maskterial/models/segmenter/pretrained/model.json \
         usr/share/doc/maskterial/README.md usr/lib/systemd/system/maskterial.service etc/maskterial/serve.conf; do
  [ -e "$root/$f" ] || fail "/$f is not in the package"
done
grep -q '^EnvironmentFile=/etc/maskterial/serve.conf$' "$root/usr/lib/systemd/system/maskterial.service" ||
  fail "the unit does not read /etc/maskterial/serve.conf"
[ ! -e "$root/etc/systemd" ] || fail "the package enables its unit (etc/systemd/ present)"

mkdir "$work/elsewhere"
(cd "$work/elsewhere" && env -u MASKTERIAL_MODELS "$root/usr/bin/maskterial" detect "$image" --out out) ||
  fail "the installed maskterial detect failed"
json=$work/elsewhere/out/$(basename "${image%.*}").json
[ -f "$json" ] || fail "no $json"
grep -q "\"$root/usr/share/maskterial/models/segmenter/pretrained\"" "$json" ||
  fail "detect did not use the shipped segmentation model under $root: $(grep -o "\"[^\"]*segmenter[^\"]*\"" "$json" | head -3)"
grep -q '"class"' "$json" || fail "no flakes in $json"
echo "package: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB; detect from $work/elsewhere found" \
     "$(grep -o '"class"' "$json" | wc -l) flakes with $root/usr/share/maskterial/models"
