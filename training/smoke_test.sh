#!/usr/bin/env bash
# Smoke test of the training scripts on a tiny synthetic corpus (no audio, no Rust):
# make_synthetic.py -> train.py -> ONNX export -> onnxruntime check. Needs only the Python
# packages in requirements.txt (numpy, scikit-learn, onnx, onnxruntime); runs in ~30 s.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
python3 "$HERE/make_synthetic.py" "$TMP/dataset.csv" --tracks-per-source 5 --variants 3
python3 "$HERE/train.py" "$TMP/dataset.csv" --manifest none --val-sources auto --epochs 20 \
  --model-out "$TMP/model.onnx" --golden-out "$TMP/golden.json" --report "$TMP/REPORT.md"
python3 - "$TMP" <<'PY'
import json, sys, onnx
tmp = sys.argv[1]
m = onnx.load(f"{tmp}/model.onnx")
assert m.ir_version == 8 and m.opset_import[0].version == 17, (m.ir_version, m.opset_import)
meta = {p.key: p.value for p in m.metadata_props}
for k in ["lathe.features_schema_version", "lathe.input_names", "lathe.output_names", "lathe.quantiles", "lathe.genres",
          "lathe.band_centers_hz", "lathe.data_fingerprint", "lathe.created"]:
    assert k in meta, k
g = json.load(open(f"{tmp}/golden.json"))
assert len(g["rows"]) >= 3
report = open(f"{tmp}/REPORT.md").read()
assert "genre mean" in report and "Accuracy" in report and "Do no harm" in report
print("smoke test passed")
PY
