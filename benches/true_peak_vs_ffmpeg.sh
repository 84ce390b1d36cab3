#!/usr/bin/env bash
# The true-peak adversarial set of tests/it/true_peak.rs as a table: every case rendered by lathe
# (ceiling -1.0 dBTP) and read by lathe's own final check, the 32x windowed-sinc reference of
# tests/it/common, the `ebur128` crate and ffmpeg's `ebur128=peak=true` (three decimals of linear
# gain: 0.003 dB near -1 dBTP). The test asserts the ceiling by all three independent meters;
# this script keeps its outputs and prints the table.
#
# Usage: benches/true_peak_vs_ffmpeg.sh [dir]   (needs ffmpeg; runs `cargo test`)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
LATHE_TP_DUMP="$dir" cargo test -q --test it true_peak::adversarial_set_stays_under_the_ceiling \
  >"$dir/test.log" 2>&1 || echo "note: the test failed (see $dir/test.log); table follows"
column -t -s $'\t' "$dir/cases.tsv"
echo "outputs and cases.tsv in $dir"
