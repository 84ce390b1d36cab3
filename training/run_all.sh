#!/usr/bin/env bash
# The whole pipeline, reproducible end to end from Debian's archive:
#   fetch (apt-get download + extract) -> cut each track's central CUT_SECONDS without
#   re-encoding -> dataset (Rust un-mastering + features)
#   -> train + evaluate + export ONNX -> training/REPORT.md, models/*.onnx, models/golden.json
# Environment: LATHE_DATA (default training/data), VARIANTS (rendered variants per track, 2),
# TONAL (feature-domain tonal variants per rendered variant, 12), CUT_SECONDS (40), SEED (1),
# JOBS (rayon threads).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
DATA="${LATHE_DATA:-$HERE/data}"
export LATHE_DATA="$DATA"
cd "$ROOT"
python3 "$HERE/fetch_data.py" --data "$DATA"
if [ -n "${JOBS:-}" ]; then export RAYON_NUM_THREADS="$JOBS"; fi
CUT="${CUT_SECONDS:-40}"
python3 "$HERE/crop_centre.py" "$HERE/manifest.csv" "$DATA/crops" "$DATA/crops/manifest.csv" --seconds "$CUT"
cargo run --profile test -- dataset "$DATA/crops/manifest.csv" "$DATA/dataset.csv" \
  --variants "${VARIANTS:-2}" --tonal "${TONAL:-12}" --max-seconds "$CUT" --seed "${SEED:-1}"
python3 "$HERE/train.py" "$DATA/dataset.csv" --manifest "$HERE/manifest.csv"
echo "done: see training/REPORT.md"
