#!/usr/bin/env bash
# The whole pipeline, reproducible end to end from Debian's archive:
#   fetch (apt-get download + extract) -> dataset (Rust un-mastering + features)
#   -> train + evaluate + export ONNX -> training/REPORT.md, models/*.onnx, models/golden.json
# Environment: LATHE_DATA (default training/data), VARIANTS (4), SEED (1), JOBS (rayon threads).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
DATA="${LATHE_DATA:-$HERE/data}"
export LATHE_DATA="$DATA"
cd "$ROOT"
python3 "$HERE/fetch_data.py" --data "$DATA"
if [ -n "${JOBS:-}" ]; then export RAYON_NUM_THREADS="$JOBS"; fi
cargo run --profile test -- dataset "$HERE/manifest.csv" "$DATA/dataset.csv" \
  --variants "${VARIANTS:-3}" --seed "${SEED:-1}"
python3 "$HERE/train.py" "$DATA/dataset.csv" --manifest "$HERE/manifest.csv" --select
echo "done: see training/REPORT.md"
