#!/usr/bin/env bash
# Speed and peak memory: lathe vs Matchering 2 mastering the same 4-minute stereo 44.1 kHz
# file against the same reference, in one run. Prints wall time, peak RSS and the ratios.
#
# Usage: benches/vs_matchering.sh [MIX] [REFERENCE]
# Without arguments, makes a 4-minute mix and reference from the bundled example with ffmpeg.
# Needs: a release build (cargo build --release), ffmpeg, GNU time, python3 with matchering.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lathe=target/release/lathe
mix=${1:-}
ref=${2:-}
if [ -z "$mix" ]; then
  mix=$work/mix.wav
  ref=$work/reference.wav
  ffmpeg -loglevel error -stream_loop -1 -i tests/data/example/mix.flac -t 240 -ar 44100 -c:a pcm_s24le "$mix"
  ffmpeg -loglevel error -stream_loop -1 -i tests/data/example/reference.flac -t 240 -ar 44100 -c:a pcm_s24le "$ref"
fi

measure() { # name, command...: prints "seconds max_rss_kb"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > /dev/null 2>&1
  cat "$work/$name.time"
}

read -r lathe_s lathe_kb < <(measure lathe "$lathe" match "$mix" "$ref" -o "$work/lathe.wav")
read -r mg_s mg_kb < <(measure matchering python3 -c "
import matchering as mg, sys
mg.log(lambda *_: None)
mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm24(sys.argv[3])])
" "$mix" "$ref" "$work/matchering.wav")

printf '%-11s %9s %12s\n' tool 'wall (s)' 'peak RSS (MB)'
printf '%-11s %9.2f %12.0f\n' lathe "$lathe_s" "$(echo "$lathe_kb / 1024" | bc -l)"
printf '%-11s %9.2f %12.0f\n' matchering "$mg_s" "$(echo "$mg_kb / 1024" | bc -l)"
printf 'lathe is %.1fx faster and uses %.1fx less memory\n' \
  "$(echo "$mg_s / $lathe_s" | bc -l)" "$(echo "$mg_kb / $lathe_kb" | bc -l)"

# Where lathe's time goes (a separate run, so that the timing lines do not touch the figures
# above): wall time since start at the end of each stage.
echo
echo "lathe stages (LATHE_TIMINGS=1, seconds since start):"
LATHE_TIMINGS=1 "$lathe" match "$mix" "$ref" -o "$work/lathe-stages.wav" 2>&1 >/dev/null | sed 's/^lathe: */  /'
