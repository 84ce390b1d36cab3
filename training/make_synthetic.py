#!/usr/bin/env python3
"""Writes a small synthetic dataset CSV in the layout of `lathe dataset` (src/dataset.rs), for
the training smoke test: masters with genre-typical curves, mixes = masters + random EQ,
gain and width. Column names mirror `src/targets/model.rs` input_names()/output_names()."""

import argparse
import csv

import numpy as np

BANDS, OCTAVES = 31, 10


def input_names():
    n = [f"mid_norm_db_{i:02}" for i in range(BANDS)] + [f"side_norm_db_{i:02}" for i in range(BANDS)]
    n += ["integrated_lufs", "plr_db", "lra_lu", "crest_db", "true_peak_dbtp", "short_term_p10_rel_lu",
          "short_term_p50_rel_lu", "short_term_p95_rel_lu", "max_short_term_rel_lu", "max_momentary_rel_lu"]
    n += [f"octave_crest_db_{i:02}" for i in range(OCTAVES)]
    n += ["width_db", "correlation", "low_end_correlation", "low_end_mono_loss_db", "log2_bandwidth_khz",
          "looks_limited"]
    return n


def output_names():
    return ([f"target_mid_db_{i:02}" for i in range(BANDS)] + [f"target_side_db_{i:02}" for i in range(BANDS)]
            + ["target_integrated_lufs", "target_plr_db", "target_short_term_spread_lu", "target_width_db"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tracks-per-source", type=int, default=6)
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    k = np.arange(BANDS)
    genres = {"orchestral": (-0.6, -14.0), "electronic": (-0.3, -9.0), "ambient": (-0.9, -17.0)}
    header = (["source", "track", "genre", "variant", "seed", "sample_rate_hz", "duration_s",
               "master_bandwidth_hz", "tilt_db_per_decade", "side_gain_db", "expansion_ratio", "gain_db"]
              + ["x_" + n for n in input_names()] + ["y_" + n for n in output_names()])
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for g, (slope, lufs) in genres.items():
            for s in range(3):
                source = f"{g}-pkg{s}"
                for t in range(a.tracks_per_source):
                    mid = -20 + slope * np.abs(k - 12) ** 1.2 + rng.normal(0, 1.5, BANDS)
                    side = mid - 12 + rng.normal(0, 1, BANDS)
                    bw = 16000.0 if rng.random() < 0.5 else 20000.0
                    y = list(mid) + list(side) + [lufs + rng.normal(0, 1), 10 - lufs / 3, 8.0, -12 + rng.normal()]
                    for v in range(a.variants):
                        tilt = rng.uniform(-3, 3)
                        eq = tilt * (k - 17) / 10 + rng.normal(0, 1, BANDS)
                        gain = rng.uniform(-14, -6)
                        x = list(mid + eq) + list(side + eq + rng.uniform(-4, 4))
                        x += [lufs + gain, 14.0, 7.0, 16.0, lufs + gain + 14, -6, -1, 3, 5, 7]
                        x += list(rng.uniform(8, 20, OCTAVES))
                        x += [-12.0, 0.8, 0.95, -0.2, np.log2(bw / 1000), 0.0]
                        w.writerow([source, f"t{t}", g, v, 0, 44100, 240.0, bw, tilt, 0, 1, gain]
                                   + [f"{z:.4f}" for z in x] + [f"{z:.4f}" for z in y])


if __name__ == "__main__":
    main()
