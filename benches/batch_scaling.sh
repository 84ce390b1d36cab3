#!/usr/bin/env bash
# Batch throughput: `lathe batch -j 1` against `-j 2` (and more with JOBS="1 2 4") on the same
# FILES files (default 8) of LENGTH_S seconds (default 60) of stereo 44.1 kHz 24-bit audio, cut
# from the bundled example at different offsets, matched to the bundled reference. Prints wall
# time, CPU time and peak RSS of each run (median of RUNS runs, default 3, alternating) and the
# throughput ratio of each -j to -j 1. The machine should be otherwise idle: on a loaded machine
# the ratio measures the other load as well (the CPU column shows whether -j 2 did more work).
# Linux with autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled = 1) gives every
# session an equal share of the CPUs whatever its thread count and `nice`: beside another busy
# session, -j 2 gets no more CPU than -j 1. AUTOGROUP_NICE=-15 (as root) raises this session's
# share for the runs (and sets it back), so that the ratio measures lathe rather than the load.
#
# Usage: benches/batch_scaling.sh            (FILES=8 LENGTH_S=60 RUNS=3 JOBS="1 2")
# Needs: a release build (cargo build --release), ffmpeg, GNU time.
# LATHE is the binary (default target/release/lathe; CARGO_TARGET_DIR is honoured).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lathe=${LATHE:-${CARGO_TARGET_DIR:-target}/release/lathe}
files=${FILES:-8}
seconds=${LENGTH_S:-60}
runs=${RUNS:-3}
jobs=${JOBS:-1 2}

mkdir -p "$work/in"
for i in $(seq 1 "$files"); do
  # Different offsets into the looped example: files that are not byte-identical.
  ffmpeg -loglevel error -stream_loop -1 -ss "$((i * 3))" -i tests/data/example/mix.flac \
    -t "$seconds" -ar 44100 -c:a pcm_s24le "$work/in/mix$i.wav"
done

if [ -n "${AUTOGROUP_NICE:-}" ] && [ -w /proc/self/autogroup ]; then
  echo "$AUTOGROUP_NICE" > /proc/$$/autogroup
  trap 'echo 0 > /proc/$$/autogroup; rm -rf "$work"' EXIT
fi

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for r in $(seq 1 "$runs"); do
  for j in $jobs; do
    rm -rf "$work/out"
    /usr/bin/time -f "%e %M %U %S" -o "$work/t" "$lathe" batch "$work/in" --out-dir "$work/out" \
      --reference tests/data/example/reference.flac -j "$j" > /dev/null 2>&1
    awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$work/t" >> "$work/j$j"
  done
done

printf '%d files of %d s, median of %d runs (load average before: %s)\n' "$files" "$seconds" \
  "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %9s %9s %14s %12s\n' -j 'wall (s)' 'CPU (s)' 'peak RSS (MB)' throughput
base=""
for j in $jobs; do
  s=$(awk '{ print $1 }' "$work/j$j" | median)
  kb=$(awk '{ print $2 }' "$work/j$j" | median)
  cpu=$(awk '{ print $3 }' "$work/j$j" | median)
  [ -z "$base" ] && base=$s
  printf '%-5s %9.2f %9.2f %14.0f %11.2fx\n' "$j" "$s" "$cpu" "$(echo "$kb / 1024" | bc -l)" \
    "$(echo "$base / $s" | bc -l)"
done
