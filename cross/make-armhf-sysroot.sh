#!/usr/bin/env bash
# Builds an armhf sysroot with weir's build dependencies from Debian 12, without adding armhf as
# a dpkg architecture: mmdebstrap unpacks the packages (no maintainer scripts run). Takes about
# 10 s with a near mirror; needs root (or mmdebstrap's unshare mode).
# Usage: [WEIR_ARMHF_EXTRA_PKGS=pkg,...] cross/make-armhf-sysroot.sh DIR
# Does nothing when DIR already holds a sysroot made from the same package list (a stamp file
# records it); otherwise DIR is replaced.
set -euo pipefail
dir=${1:?usage: $0 SYSROOT_DIR}
pkgs=libc6-dev,libstdc++-12-dev,libpaho-mqttpp-dev,libpaho-mqtt-dev,libssl-dev,libsqlite3-dev
pkgs+=,libzstd-dev,libprotobuf-dev,libgtest-dev,libgmock-dev,nlohmann-json3-dev,libcli11-dev
# More packages, comma-separated (e.g. libbenchmark-dev for tests/bench on armhf).
pkgs+=${WEIR_ARMHF_EXTRA_PKGS:+,$WEIR_ARMHF_EXTRA_PKGS}
# The point releases and security updates too, as the host's own packages have them.
mirror=http://deb.debian.org/debian
sources=("deb $mirror bookworm main" "deb $mirror bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main")
stamp="$dir/.weir-sysroot"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ]; then
  echo "armhf sysroot in $dir is up to date"
  exit 0
fi
rm -rf "$dir"
mmdebstrap --quiet --variant=extract --architectures=armhf --include="$pkgs" bookworm "$dir" \
  "${sources[@]}"
# Absolute symlinks inside the sysroot must resolve inside it.
find "$dir" -type l -lname '/*' | while read -r link; do
  target=$(readlink "$link")
  ln -sfn "$dir$target" "$link"
done
echo "$pkgs" >"$stamp"
echo "armhf sysroot ready in $dir"
