#!/usr/bin/env bash
# lathe analyze vs ffmpeg's ebur128 filter on the same files: integrated loudness, LRA and
# true peak side by side, with the differences. Goal: within 0.1 LU and 0.2 dB.
#
# Usage: benches/vs_ffmpeg_loudness.sh FILE...   (needs ffmpeg, jq and a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
lathe=target/release/lathe
printf '%-40s %9s %9s %6s %8s %8s %6s %8s %8s %6s\n' file 'I lathe' 'I ffmpeg' 'dI' \
  'LRA l' 'LRA f' 'dLRA' 'TP lathe' 'TP ffm' 'dTP'
for f in "$@"; do
  read -r li ll lt < <("$lathe" analyze --json "$f" | jq -r '"\(.integrated_lufs) \(.lra_lu) \(.true_peak_dbtp)"')
  summary=$(ffmpeg -hide_banner -nostats -i "$f" -af ebur128=peak=true -f null - 2>&1 | sed -n '/Summary:/,$p')
  fi=$(echo "$summary" | awk '/ I:/ {print $2}')
  fl=$(echo "$summary" | awk '/ LRA:/ {print $2}')
  ft=$(echo "$summary" | awk '/ Peak:/ {print $2}')
  printf '%-40s %9.2f %9.1f %6.2f %8.2f %8.1f %6.2f %8.2f %8.1f %6.2f\n' "$(basename "$f")" \
    "$li" "$fi" "$(echo "$li - $fi" | bc -l)" "$ll" "$fl" "$(echo "$ll - $fl" | bc -l)" \
    "$lt" "$ft" "$(echo "$lt - $ft" | bc -l)"
done
