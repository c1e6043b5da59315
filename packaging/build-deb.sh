#!/usr/bin/env bash
# Builds the weir Debian packages (binary only, unsigned):
#   packaging/build-deb.sh                 amd64 (the build machine's architecture)
#   packaging/build-deb.sh amd64 arm64     also arm64, cross-built (dpkg-buildpackage -a arm64)
#   WEIR_DEB_CHECK=1 packaging/build-deb.sh    run the unit tests during the build (default: off,
#                                              CI runs the whole suite on its own)
# The .deb files land in ./build-deb/out (or $WEIR_DEB_OUT).
#
# Why a copy: dpkg-buildpackage wants debian/ at the top of the source tree, but the top level of
# this repository is fixed (DESIGN.md) and debian/ lives in packaging/debian. The script copies
# the source (the files git knows, committed or not, minus ignored ones) to
# build-deb/<arch>/weir-<version>/ and puts packaging/debian there as debian/. That also keeps
# dpkg-buildpackage's output (debian/tmp, obj-*, ../*.deb) out of the worktree and lets the amd64
# and arm64 builds run side by side.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WEIR_DEB_WORK:-$root/build-deb}
out=${WEIR_DEB_OUT:-$work/out}
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=("$(dpkg --print-architecture)")
build_arch=$(dpkg --print-architecture)
version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)

profiles=nocheck
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }nocheck"
if [ "${WEIR_DEB_CHECK:-0}" = 1 ]; then
  profiles=""
  DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS//nocheck/}
fi
# ccache, when installed, makes rebuilds cheap (debian/rules passes WEIR_CMAKE_EXTRA to CMake).
if command -v ccache >/dev/null; then
  export WEIR_CMAKE_EXTRA="-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
fi

mkdir -p "$out"
for arch in "${archs[@]}"; do
  dir="$work/$arch"
  src="$dir/weir-$version"
  rm -rf "$dir"
  mkdir -p "$src"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' |
    tar --null -T - -cf -) | tar -xf - -C "$src"
  cp -a "$root/packaging/debian" "$src/debian"
  args=(-b -us -uc)
  if [ "$arch" != "$build_arch" ]; then
    args+=(-a "$arch" "-P${profiles:+$profiles,}cross")
  elif [ -n "$profiles" ]; then
    args+=("-P$profiles")
  fi
  echo "build-deb: $arch: dpkg-buildpackage ${args[*]} in $src"
  start=$(date +%s)
  (cd "$src" && dpkg-buildpackage "${args[@]}") >"$dir/build.log" 2>&1 || {
    tail -n 60 "$dir/build.log"
    echo "build-deb: $arch failed; full log in $dir/build.log" >&2
    exit 1
  }
  cp "$dir"/weir_"${version}"_"$arch".deb "$out"/
  echo "build-deb: $arch: $out/weir_${version}_${arch}.deb ($(($(date +%s) - start)) s)"
done
