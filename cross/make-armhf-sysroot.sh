#!/usr/bin/env bash
# Builds an armhf sysroot with weir's build dependencies from Debian 12, without adding armhf as
# a dpkg architecture: mmdebstrap unpacks the packages (no maintainer scripts run).
# Usage: cross/make-armhf-sysroot.sh DIR
set -euo pipefail
dir=${1:?usage: $0 SYSROOT_DIR}
pkgs=libc6-dev,libstdc++-12-dev,libpaho-mqttpp-dev,libpaho-mqtt-dev,libssl-dev,libsqlite3-dev
pkgs+=,libzstd-dev,libprotobuf-dev,libgtest-dev,nlohmann-json3-dev,libcli11-dev
mmdebstrap --variant=extract --architectures=armhf --include="$pkgs" bookworm "$dir"
# Absolute symlinks inside the sysroot must resolve inside it.
find "$dir" -type l -lname '/*' | while read -r link; do
  target=$(readlink "$link")
  ln -sfn "$dir$target" "$link"
done
echo "armhf sysroot ready in $dir"
