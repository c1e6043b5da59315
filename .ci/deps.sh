#!/usr/bin/env bash
# Installs what weir needs to build, test and demo on Debian 12 (bookworm), from Debian only.
#   .ci/deps.sh            native build, tests, demo and the Debian package tools
#   .ci/deps.sh --cross    also the arm64 cross toolchain, :arm64 libraries and qemu-user, and the
#                          armhf cross toolchain with an armhf sysroot in $WEIR_ARMHF_SYSROOT
#                          (default /opt/weir-armhf-sysroot, made by cross/make-armhf-sysroot.sh)
# Runs apt-get through sudo when not root. Safe to run again.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

native=(
  build-essential cmake ninja-build pkg-config git clang-14 clang-format
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev libsqlite3-dev sqlite3 libzstd-dev
  libprotobuf-dev protobuf-compiler nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  mosquitto mosquitto-clients openssl python3 procps
  debhelper dpkg-dev fakeroot lintian systemd mmdebstrap systemd-container
)
cross=(
  crossbuild-essential-arm64 qemu-user pkg-config:arm64
  libpaho-mqttpp-dev:arm64 libpaho-mqtt-dev:arm64 libssl-dev:arm64 libsqlite3-dev:arm64
  libzstd-dev:arm64 libprotobuf-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
  crossbuild-essential-armhf
)

want_cross=0
[ "${1:-}" = "--cross" ] && want_cross=1

missing=()
for p in "${native[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ $want_cross -eq 1 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
  fi
  for p in "${cross[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: every package already installed"
else
  echo "deps: installing ${missing[*]}"
  # Limit the index update to the architectures we use: a broken foreign index on a mirror (armhf
  # has had them) would otherwise drop all foreign indexes.
  archs=(-o APT::Architectures::=amd64)
  [ $want_cross -eq 1 ] && archs+=(-o APT::Architectures::=arm64)
  $SUDO apt-get update -q "${archs[@]}"
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# armhf is not a dpkg architecture here (its multiarch index has been broken on mirrors): its
# libraries come as a sysroot that mmdebstrap unpacks (cross/armhf-sysroot.cmake uses it).
if [ $want_cross -eq 1 ]; then
  $SUDO "$(dirname "$0")/../cross/make-armhf-sysroot.sh" \
    "${WEIR_ARMHF_SYSROOT:-/opt/weir-armhf-sysroot}"
fi
