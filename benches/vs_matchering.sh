#!/usr/bin/env bash
# Speed and peak memory: lathe vs Matchering 2 mastering the same 4-minute stereo 44.1 kHz
# file against the same reference, in one run. Runs PAIRS alternating pairs (lathe, then
# Matchering; default 3) and prints each, then the medians and the ratio of the medians.
#
# Usage: benches/vs_matchering.sh [MIX] [REFERENCE]   (PAIRS=5 benches/vs_matchering.sh ...)
# Without arguments, makes a 4-minute mix and reference from the bundled example with ffmpeg.
# Needs: a release build (cargo build --release), ffmpeg, GNU time, python3 with matchering.
# LATHE is the binary (default target/release/lathe; CARGO_TARGET_DIR is honoured).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lathe=${LATHE:-${CARGO_TARGET_DIR:-target}/release/lathe}
pairs=${PAIRS:-3}
mix=${1:-}
ref=${2:-}
if [ -z "$mix" ]; then
  mix=$work/mix.wav
  ref=$work/reference.wav
  ffmpeg -loglevel error -stream_loop -1 -i tests/data/example/mix.flac -t 240 -ar 44100 -c:a pcm_s24le "$mix"
  ffmpeg -loglevel error -stream_loop -1 -i tests/data/example/reference.flac -t 240 -ar 44100 -c:a pcm_s24le "$ref"
fi

measure() { # name, command...: prints "wall_s max_rss_kb cpu_s"
  local name=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$work/$name.time" "$@" > /dev/null 2>&1
  awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$work/$name.time"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-5s %-11s %9s %9s %14s\n' pair tool 'wall (s)' 'CPU (s)' 'peak RSS (MB)'
: > "$work/lathe.all"; : > "$work/mg.all"
for p in $(seq 1 "$pairs"); do
  read -r s kb cpu < <(measure lathe "$lathe" match "$mix" "$ref" -o "$work/lathe.wav" --force)
  echo "$s $kb $cpu" >> "$work/lathe.all"
  printf '%-5s %-11s %9.2f %9.2f %14.0f\n' "$p" lathe "$s" "$cpu" "$(echo "$kb / 1024" | bc -l)"
  read -r s kb cpu < <(measure matchering python3 -c "
import matchering as mg, sys
mg.log(lambda *_: None)
mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm24(sys.argv[3])])
" "$mix" "$ref" "$work/matchering.wav")
  echo "$s $kb $cpu" >> "$work/mg.all"
  printf '%-5s %-11s %9.2f %9.2f %14.0f\n' "$p" matchering "$s" "$cpu" "$(echo "$kb / 1024" | bc -l)"
done
col() { awk -v c="$2" '{ print $c }' "$1" | median; }
lathe_s=$(col "$work/lathe.all" 1); lathe_kb=$(col "$work/lathe.all" 2); lathe_cpu=$(col "$work/lathe.all" 3)
mg_s=$(col "$work/mg.all" 1); mg_kb=$(col "$work/mg.all" 2); mg_cpu=$(col "$work/mg.all" 3)
echo
printf 'median of %d pairs:\n' "$pairs"
printf '%-11s %9s %9s %14s\n' tool 'wall (s)' 'CPU (s)' 'peak RSS (MB)'
printf '%-11s %9.2f %9.2f %14.0f\n' lathe "$lathe_s" "$lathe_cpu" "$(echo "$lathe_kb / 1024" | bc -l)"
printf '%-11s %9.2f %9.2f %14.0f\n' matchering "$mg_s" "$mg_cpu" "$(echo "$mg_kb / 1024" | bc -l)"
printf 'lathe is %.1fx faster (wall), uses %.1fx less CPU and %.1fx less memory\n' \
  "$(echo "$mg_s / $lathe_s" | bc -l)" "$(echo "$mg_cpu / $lathe_cpu" | bc -l)" \
  "$(echo "$mg_kb / $lathe_kb" | bc -l)"

# One thread: the single-core CPU goal.
read -r s kb cpu < <(RAYON_NUM_THREADS=1 measure lathe1 "$lathe" match "$mix" "$ref" -o "$work/lathe1.wav" --force)
printf 'lathe on one thread (RAYON_NUM_THREADS=1): %.2f s wall, %.2f s CPU, %.0f MB\n' \
  "$s" "$cpu" "$(echo "$kb / 1024" | bc -l)"

# Where lathe's time goes (a separate run, so that the timing lines do not touch the figures
# above): wall time since start at the end of each stage.
echo
echo "lathe stages (LATHE_TIMINGS=1, seconds since start):"
LATHE_TIMINGS=1 "$lathe" match "$mix" "$ref" -o "$work/lathe-stages.wav" 2>&1 >/dev/null | sed 's/^lathe: */  /'
