#!/bin/sh
# Runs weir's `auto` detector over the Numenta Anomaly Benchmark and scores it with NAB's rules
# (standard, low-FP and low-FN profiles, per category). Builds nothing: build the driver first,
#   cmake --build BUILD --target nab_detect
# then
#   tests/bench/nab/run.sh [BUILD_DIR]        (default: build)
# Environment: WEIR_NAB_DIR (default ../shared/nab beside the repo), WEIR_DETECT (the detector
# program; default BUILD_DIR/tests/bench/nab/nab_detect, or set it to "weir detect").
# Exit status: score.py's (0 scored, 2 bad input); 2 when NAB or the driver is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=${1:-$repo/build}
nab=${WEIR_NAB_DIR:-$repo/../shared/nab}
detect=${WEIR_DETECT:-$build/tests/bench/nab/nab_detect}
if [ ! -f "$nab/score.py" ] || [ ! -d "$nab/data" ]; then
  echo "run.sh: no NAB checkout at $nab (set WEIR_NAB_DIR)" >&2
  exit 2
fi
if [ -z "${WEIR_DETECT:-}" ] && [ ! -x "$detect" ]; then
  echo "run.sh: $detect not built (cmake --build $build --target nab_detect)" >&2
  exit 2
fi
results=$(mktemp -d "${TMPDIR:-/tmp}/weir-nab.XXXXXX")
trap 'rm -rf "$results"' EXIT
start=$(date +%s.%N)
$detect "$nab/data" -o "$results" --quiet
end=$(date +%s.%N)
files=$(find "$nab/data" -name '*.csv' | wc -l)
rows=$(( $(find "$nab/data" -name '*.csv' -exec cat {} + | wc -l) - files ))
echo "weir detect over $nab/data: $files files, $rows rows in $(echo "$end - $start" | bc) s"
python3 "$nab/score.py" "$results" --by-category
