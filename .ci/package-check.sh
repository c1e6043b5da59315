#!/usr/bin/env bash
# The Debian package checks of CI (issue 11), also runnable alone:
#   .ci/package-check.sh            build amd64 and arm64, check the amd64 package
# Builds both packages with packaging/build-deb.sh (no tests: CI ran them), then on the amd64
# .deb:
#   - lintian: fails on any E: or W: line (overrides, each with a reason, live in packaging/debian);
#   - systemd-analyze verify on the unit as installed (the package extracted to a root): fails on
#     any output, since verify only warns (exit 0) on unknown keys;
#   - systemd-analyze security --offline: fails above exposure 2.0.
# Prints the time each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${WEIR_DEB_OUT:-build-deb/out}
export WEIR_DEB_OUT=$out
step() { printf '\n--- %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; t0=$(date +%s); }
took() { echo "--- took $(($(date +%s) - t0)) s"; }

step "build the amd64 package"
packaging/build-deb.sh amd64
took
deb=$(ls "$out"/weir_*_amd64.deb)

step "lintian $deb"
lint=$(lintian --info --display-info "$deb" 2>&1 || true)
echo "${lint:-lintian: no tags}"
if grep -E '^(E|W):' <<<"$lint" >/dev/null; then
  echo "package-check: lintian reports errors or warnings" >&2
  exit 1
fi
took

step "systemd-analyze verify and security"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
# verify checks that ExecStart='s program exists, on the host; with --root it would also want the
# root to hold systemd's own targets and /bin/kill. So it checks a copy of the unit whose
# /usr/bin/weir points into the extracted package, and changes nothing else.
mkdir "$root/verify"
sed "s|/usr/bin/weir|$root/usr/bin/weir|g" "$root/lib/systemd/system/weir.service" \
  >"$root/verify/weir.service"
verify=$(systemd-analyze verify --man=no "$root/verify/weir.service" 2>&1 || true)
if [ -n "$verify" ]; then
  echo "$verify"
  echo "package-check: systemd-analyze verify printed the above" >&2
  exit 1
fi
echo "systemd-analyze verify: no output"
# --threshold is in tenths: 20 is an exposure of 2.0. Exits non-zero above it.
security=$(systemd-analyze security --offline=yes --root="$root" --threshold=20 weir.service 2>&1) ||
  {
    echo "$security"
    echo "package-check: systemd-analyze security: exposure above 2.0" >&2
    exit 1
  }
tail -n 1 <<<"$security"
took

step "build the arm64 package (cross)"
packaging/build-deb.sh arm64
took
dpkg-deb -f "$out"/weir_*_arm64.deb Architecture
