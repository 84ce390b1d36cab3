#!/usr/bin/env bash
# Peak memory of `lathe match` (max RSS by GNU time, median of RUNS runs, default 3) on the
# bundled example looped to 4 minutes (and to one hour with HOUR=1: ~1 GB of WAV in a temporary
# folder, about two minutes a run), stereo 44.1 kHz 24-bit, matched to the bundled reference
# looped to 4 minutes: WAV output, FLAC output and WAV with --report. Then one run with
# LATHE_TIMINGS=1: the peak so far (VmHWM) at the end of each stage.
#
# Usage: benches/memory.sh            (RUNS=3 HOUR=1 benches/memory.sh)
# Needs: a release build (cargo build --release), ffmpeg, GNU time.
# LATHE is the binary (default target/release/lathe; CARGO_TARGET_DIR is honoured).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lathe=${LATHE:-${CARGO_TARGET_DIR:-target}/release/lathe}
runs=${RUNS:-3}
loop() { # input, seconds, output
  ffmpeg -loglevel error -stream_loop -1 -i "$1" -t "$2" -ar 44100 -c:a pcm_s24le "$3"
}
loop tests/data/example/mix.flac 240 "$work/mix4.wav"
loop tests/data/example/reference.flac 240 "$work/ref.wav"
lengths="4"
if [ -n "${HOUR:-}" ]; then
  loop tests/data/example/mix.flac 3600 "$work/mix60.wav"
  lengths="4 60"
fi
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
peak_mb() { # command...: max RSS in MB (KB / 1024)
  /usr/bin/time -f "%M" -o "$work/t" "$@" > /dev/null 2>&1
  echo "$(cat "$work/t") / 1024" | bc
}
printf '%-8s %-10s %s\n' length output "peak RSS (MB), median of $runs"
for m in $lengths; do
  for kind in wav flac report; do
    : > "$work/all"
    for _ in $(seq 1 "$runs"); do
      case $kind in
        wav) peak_mb "$lathe" match "$work/mix$m.wav" "$work/ref.wav" -o "$work/out.wav" --force ;;
        flac) peak_mb "$lathe" match "$work/mix$m.wav" "$work/ref.wav" -o "$work/out.flac" --force ;;
        report) peak_mb "$lathe" match "$work/mix$m.wav" "$work/ref.wav" -o "$work/out.wav" \
          --report "$work/out.html" --force ;;
      esac >> "$work/all"
    done
    printf '%-8s %-10s %s\n' "$m min" "$kind" "$(median < "$work/all")"
  done
done
echo
echo "stages of the 4-minute match (LATHE_TIMINGS=1: seconds since start, peak so far):"
LATHE_TIMINGS=1 "$lathe" match "$work/mix4.wav" "$work/ref.wav" -o "$work/out.wav" --force \
  2>&1 >/dev/null | grep '^lathe:' | sed 's/^lathe: */  /'
