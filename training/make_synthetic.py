#!/usr/bin/env python3
"""Writes a small synthetic dataset CSV in the layout of `lathe dataset` (src/dataset.rs), for
the training smoke test: masters with genre-typical curves, mixes = masters + random EQ, gain
and width. The feature and target names are read from the bundled model's metadata
(`lathe.input_names`, `lathe.output_names`: Rust's tables), or from a real dataset's header
with --names-from; nothing here repeats them."""

import argparse
import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def names(names_from):
    if names_from:
        with open(names_from, newline="") as f:
            header = next(csv.reader(f))
        return [h[2:] for h in header if h.startswith("x_")], [h[2:] for h in header if h.startswith("y_")]
    import onnx
    m = onnx.load(str(HERE.parent / "models" / "lathe-genre-targets.onnx"))
    meta = {p.key: p.value for p in m.metadata_props}
    return meta["lathe.input_names"].split(","), meta["lathe.output_names"].split(",")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tracks-per-source", type=int, default=6)
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--names-from", help="a dataset CSV whose header gives the names")
    a = ap.parse_args()
    x_names, y_names = names(a.names_from)
    rng = np.random.default_rng(a.seed)
    bands = sum(n.startswith("mid_norm_db_") for n in x_names)
    k = np.arange(bands)
    genres = {"orchestral": (-0.6, -14.0), "electronic": (-0.3, -9.0), "ambient": (-0.9, -17.0)}
    header = (["source", "track", "genre", "audio_variant", "tonal_variant", "seed", "sample_rate_hz", "duration_s",
               "master_bandwidth_hz", "side_gain_db", "expansion_ratio", "peak_dbfs", "tilt_db_per_decade",
               "eq_max_abs_db"]
              + ["x_" + n for n in x_names] + ["y_" + n for n in y_names])
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for g, (slope, lufs) in genres.items():
            for s in range(3):
                source = f"{g}-pkg{s}"
                for t in range(a.tracks_per_source):
                    mid = -20 + slope * np.abs(k - 12) ** 1.2 + rng.normal(0, 1.5, bands)
                    side = mid - 12 + rng.normal(0, 1, bands)
                    bw = 16000.0 if rng.random() < 0.5 else 20000.0
                    y = {"target_integrated_lufs": lufs + rng.normal(0, 1), "target_plr_db": 10 - lufs / 3,
                         "target_short_term_spread_lu": 8.0, "target_width_db": -12 + rng.normal()}
                    for i in range(bands):
                        y[f"target_mid_db_{i:02}"] = mid[i]
                        y[f"target_side_db_{i:02}"] = side[i]
                    for v in range(a.variants):
                        eq = 0 * k if v == 0 else rng.uniform(-3, 3) * (k - 17) / 10 + rng.normal(0, 1, bands)
                        gain = 0.0 if v == 0 else rng.uniform(-14, -6)
                        x = {n: rng.uniform(0, 1) for n in x_names}
                        x.update({"integrated_lufs": lufs + gain, "plr_db": 14.0, "width_db": -12.0,
                                  "short_term_p10_rel_lu": -6.0, "short_term_p95_rel_lu": 3.0,
                                  "log2_bandwidth_khz": np.log2(bw / 1000)})
                        for i in range(bands):
                            x[f"mid_norm_db_{i:02}"] = mid[i] + eq[i]
                            x[f"side_norm_db_{i:02}"] = side[i] + eq[i]
                        w.writerow([source, f"t{t}", g, 0 if v == 0 else 1, 0 if v == 0 else v, 0, 44100, 240.0, bw,
                                    0, 1, -6, 0, 0]
                                   + [f"{x[n]:.4f}" for n in x_names] + [f"{y[n]:.4f}" for n in y_names])


if __name__ == "__main__":
    main()
