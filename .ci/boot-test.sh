#!/usr/bin/env bash
# Boot test of the Debian package (issue 11): a minimal Debian 12 root with systemd and mosquitto
# (mmdebstrap), the package installed into it with apt, booted under systemd-nspawn. Inside,
# packaging/boot-test/inside.sh checks: config check names the missing keys; the service starts
# (Type=notify) as user weir; readings published to the local mosquitto reach an upstream
# mosquitto with none lost (weir sink); journal lines carry their priority; systemctl reload
# applies a change; kill -9 and SIGSTOP (watchdog) are restarted; dpkg -r then -i keeps the log.
#   .ci/boot-test.sh [path/to/weir_*_amd64.deb]     (default: build-deb/out/weir_*_amd64.deb)
# Needs root, network access to the Debian mirror, mmdebstrap and systemd-container. Where it
# cannot run (not root, no nspawn), it says why and exits 0 (skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
deb=${1:-$(ls build-deb/out/weir_*_amd64.deb 2>/dev/null | head -n 1)}
skip() { echo "boot-test: SKIPPED: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap, systemd-nspawn)"
command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (.ci/deps.sh installs it)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (systemd-container)"
[ -n "$deb" ] && [ -f "$deb" ] || { echo "boot-test: no package; build it first" >&2; exit 1; }

work=$(mktemp -d /var/tmp/weir-boot.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
here=packaging/boot-test
cp "$deb" "$work/weir.deb"

t0=$(date +%s)
# The upstream broker is a second mosquitto on 1884; weir's drop-in example configures the local
# one (mmdebstrap installs no Recommends, so mosquitto is named); the watchdog is shortened to
# 6 s so the SIGSTOP check takes seconds, not half a minute.
mmdebstrap --quiet --variant=minbase --include=systemd,systemd-sysv,procps,ca-certificates \
  --customize-hook="copy-in $work/weir.deb /var/tmp" \
  --customize-hook='chroot "$1" apt-get install -y -q /var/tmp/weir.deb mosquitto >/dev/null' \
  --customize-hook='cp "$1"/usr/share/doc/weir/examples/weir-local.conf "$1"/etc/mosquitto/conf.d/' \
  --customize-hook="copy-in $here/inside.sh /usr/local/bin" \
  --customize-hook="copy-in $here/weir-boot-test.service $here/mosquitto-upstream.service /etc/systemd/system" \
  --customize-hook="copy-in $here/upstream.conf /etc/mosquitto" \
  --customize-hook='mkdir -p "$1"/etc/systemd/system/weir.service.d' \
  --customize-hook="copy-in $here/watchdog-short.conf /etc/systemd/system/weir.service.d" \
  --customize-hook='chroot "$1" systemctl enable weir-boot-test.service mosquitto-upstream.service' \
  bookworm "$root" http://deb.debian.org/debian
echo "boot-test: root built with the package installed ($(($(date +%s) - t0)) s)"

t0=$(date +%s)
# --register=no --keep-unit: this machine's PID 1 is not systemd (PLATFORM-NOTES.md).
# --private-network: the container's brokers cannot collide with ports in use on the host.
timeout 600 systemd-nspawn -q --register=no --keep-unit --private-network -D "$root" --boot \
  >"$work/console.log" 2>&1 || true
echo "boot-test: booted, tested and powered off ($(($(date +%s) - t0)) s)"
if [ ! -f "$root/var/tmp/boot-test.log" ]; then
  tail -n 40 "$work/console.log"
  echo "boot-test: the test inside the container left no result" >&2
  exit 1
fi
cat "$root/var/tmp/boot-test.log"
if ! grep -qx "RESULT: PASS" "$root/var/tmp/boot-test.log"; then
  echo "--- weir's journal"
  tail -n 60 "$root/var/tmp/weir-journal.txt" 2>/dev/null || true
  exit 1
fi
