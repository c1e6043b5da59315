#!/bin/sh
# Runs weir's `auto` detector over the Numenta Anomaly Benchmark and scores it with NAB's rules
# (standard, low-FP and low-FN profiles, per category). Builds nothing: build weir first,
#   cmake --build BUILD --target weir
# then
#   tests/bench/nab/run.sh [BUILD_DIR]        (default: build)
# Environment: WEIR_NAB_DIR (default ../shared/nab beside the repo), WEIR_DETECT (the detector
# command; default "BUILD_DIR/agent/app/weir detect").
# Exit status: score.py's (0 scored, 2 bad input); 2 when NAB or the driver is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=${1:-$repo/build}
nab=${WEIR_NAB_DIR:-$repo/../shared/nab}
weir=$build/agent/app/weir
detect=${WEIR_DETECT:-$weir detect}
if [ ! -f "$nab/score.py" ] || [ ! -d "$nab/data" ]; then
  echo "run.sh: no NAB checkout at $nab (set WEIR_NAB_DIR)" >&2
  exit 2
fi
if [ -z "${WEIR_DETECT:-}" ] && [ ! -x "$weir" ]; then
  echo "run.sh: $weir not built (cmake --build $build --target weir)" >&2
  exit 2
fi
results=$(mktemp -d "${TMPDIR:-/tmp}/weir-nab.XXXXXX")
trap 'rm -rf "$results"' EXIT
start=$(date +%s.%N)
$detect "$nab/data" -o "$results" --quiet
end=$(date +%s.%N)
files=$(find "$nab/data" -name '*.csv' | wc -l)
rows=$(( $(find "$nab/data" -name '*.csv' -exec cat {} + | wc -l) - files ))
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
echo "weir detect over $nab/data: $files files, $rows rows in $secs s"
python3 "$nab/score.py" "$results" --by-category
