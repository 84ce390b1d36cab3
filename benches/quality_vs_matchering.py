#!/usr/bin/env python3
"""Reference-matching quality, lathe vs Matchering 2, on real masters (issue 3).

For each of N mastered tracks from the training manifest (one clip per track, several source
packages and genres), make a plausible unmastered mix: a random tonal tilt (+-3 dB/decade) and
two or three bumps (+-6 dB, about an octave wide), and a level that puts the peak between -8
and -3 dBFS. Then:

- *self* test: `lathe match degraded original` and Matchering with the same pair; the result
  should come back close to the original;
- *cross* test: the degraded mix matched to a *different* track.

Measures, with lathe's own analysis for every file (the same ruler for both tools): mean
absolute third-octave band error of the loudness-normalised mid spectrum, 40 Hz..16 kHz;
integrated-loudness error; PLR error; and the true peak of every output by ffmpeg's ebur128
filter (an independent meter).

Usage: python3 benches/quality_vs_matchering.py [--tracks 12] [--seconds 60]
Needs: numpy, soundfile, matchering (pip), ffmpeg, a release build of lathe.
"""
import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def degrade(x, rate, rng):
    """Random tilt and bumps applied as a zero-phase spectral gain, then a random peak level."""
    n = x.shape[0]
    spec = np.fft.rfft(x, axis=0)
    f = np.fft.rfftfreq(n, 1.0 / rate)
    lf = np.log10(np.maximum(f, 10.0) / 1000.0)
    tilt = rng.uniform(-3.0, 3.0)
    gain_db = tilt * lf
    for _ in range(rng.integers(2, 4)):
        centre = rng.uniform(np.log10(60.0 / 1000), np.log10(10000.0 / 1000))
        width = rng.uniform(0.12, 0.3)  # decades: ~0.4 to 1 octave half-width
        gain_db += rng.uniform(-6.0, 6.0) * np.exp(-0.5 * ((lf - centre) / width) ** 2)
    spec *= (10 ** (gain_db / 20.0))[:, None]
    y = np.fft.irfft(spec, n=n, axis=0)
    peak_dbfs = rng.uniform(-8.0, -3.0)
    y *= 10 ** (peak_dbfs / 20.0) / np.max(np.abs(y))
    return y, {"tilt_db_per_decade": tilt, "peak_dbfs": peak_dbfs}


def analyze(lathe, path):
    out = subprocess.run([lathe, "analyze", "--json", path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def ffmpeg_true_peak(path):
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", path, "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True,
    ).stderr
    tail = out[out.rfind("Summary:"):]
    return float(re.search(r"Peak:\s+(-?[\d.]+|-inf)", tail).group(1))


def band_errors(result, reference, mix, limit_db=12.0):
    """Mean absolute band error of the loudness-normalised mid curve, 40 Hz..16 kHz, three ways:
    over all bands; over the bands whose needed correction (reference - mix, normalised) is
    within lathe's +-12 dB EQ range; and of the shape alone (each curve minus its own mean over
    those bands, which removes the offset that a width or level mismatch puts on the mid
    curve)."""
    def norm(x):
        return np.array(x["bands"]["mid_db"]) - x["integrated_lufs"]
    c = np.array(result["bands"]["center_hz"])
    sel = (c >= 40.0) & (c <= 16000.0)
    r, t, m = norm(result)[sel], norm(reference)[sel], norm(mix)[sel]
    reachable = np.abs(t - m) <= limit_db
    err = np.abs(r - t)
    shape = np.abs((r - r.mean()) - (t - t.mean()))
    return float(err.mean()), float(err[reachable].mean()) if reachable.any() else float("nan"), float(shape.mean())


def run_matchering(target, reference, out):
    import matchering as mg
    mg.log(lambda *_: None)
    mg.process(target=target, reference=reference, results=[mg.pcm24(out)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", default=os.path.join(ROOT, "training", "manifest.csv"))
    ap.add_argument("--data-root", default=os.path.join(ROOT, "training"))
    ap.add_argument("--lathe", default=os.path.join(ROOT, "target", "release", "lathe"))
    ap.add_argument("--work", default="/tmp/lathe-quality")
    ap.add_argument("--tracks", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "results", "quality.md"))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    rows = list(csv.DictReader(open(args.manifest)))
    rows = [r for r in rows if float(r["duration_s"]) >= args.seconds + 20 and r["genre"] != "chiptune"]
    # One track per source package first, then more, in a seeded order: spread over genres.
    rng.shuffle(rows)
    picked, seen = [], set()
    for r in rows:
        if r["source"] not in seen:
            picked.append(r)
            seen.add(r["source"])
    for r in rows:
        if len(picked) >= args.tracks:
            break
        if r not in picked:
            picked.append(r)
    picked = picked[: args.tracks]

    items = []
    for i, r in enumerate(picked):
        src = os.path.join(args.data_root, r["path"])
        orig = os.path.join(args.work, f"{i:02d}_original.wav")
        deg = os.path.join(args.work, f"{i:02d}_degraded.wav")
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-ss", "10", "-t", str(args.seconds), "-i", src,
                        "-ac", "2", "-c:a", "pcm_f32le", orig], check=True)
        x, rate = sf.read(orig, dtype="float64", always_2d=True)
        y, info = degrade(x, rate, rng)
        sf.write(deg, y, rate, subtype="FLOAT")
        items.append({"i": i, "name": r["track"], "genre": r["genre"], "source": r["source"],
                      "orig": orig, "deg": deg, **info})

    results = []
    for kind in ["self", "cross"]:
        for it in items:
            ref = it if kind == "self" else items[(it["i"] + 1) % len(items)]
            for tool in ["lathe", "matchering"]:
                out = os.path.join(args.work, f"{it['i']:02d}_{kind}_{tool}.wav")
                if os.path.exists(out):
                    os.remove(out)
                t0 = time.time()
                if tool == "lathe":
                    subprocess.run([args.lathe, "match", it["deg"], ref["orig"], "-o", out], check=True,
                                   capture_output=True)
                else:
                    run_matchering(it["deg"], ref["orig"], out)
                elapsed = time.time() - t0
                a_out = analyze(args.lathe, out)
                a_ref = analyze(args.lathe, ref["orig"])
                a_mix = analyze(args.lathe, it["deg"])
                all_bands, reachable, shape = band_errors(a_out, a_ref, a_mix)
                results.append({
                    "kind": kind, "tool": tool, "track": it["name"], "genre": it["genre"],
                    "band_err_db": all_bands, "band_err_reachable_db": reachable,
                    "shape_err_db": shape,
                    "width_err_db": a_out["width_db"] - a_ref["width_db"],
                    "lufs_err": a_out["integrated_lufs"] - a_ref["integrated_lufs"],
                    "plr_err_db": a_out["plr_db"] - a_ref["plr_db"],
                    "true_peak_dbtp": ffmpeg_true_peak(out),
                    "seconds": elapsed,
                })
                print(json.dumps(results[-1]), flush=True)

    lines = ["# Reference matching: lathe vs Matchering 2", "",
             f"{len(items)} clips of {args.seconds:.0f} s from the training packages "
             f"({', '.join(sorted(set(it['source'] for it in items)))}), seed {args.seed}. "
             "Generated by `benches/quality_vs_matchering.py`.", "",
             "Band error: mean absolute difference of the loudness-normalised third-octave mid curves, "
             "40 Hz..16 kHz, result vs reference. *Reachable*: only bands whose needed correction is "
             "within lathe's +-12 dB EQ range. *Shape*: each curve minus its own mean first (removes "
             "the offset that a width or level mismatch puts on the whole mid curve).", "",
             "| test | tool | band error median (dB) | band error mean | reachable bands, median | shape, median | "
             "loudness error mean abs (LU) | PLR error mean abs (dB) | width error mean abs (dB) | "
             "highest true peak (dBTP, ffmpeg) | outputs above -1 dBTP |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind in ["self", "cross"]:
        for tool in ["lathe", "matchering"]:
            rs = [r for r in results if r["kind"] == kind and r["tool"] == tool]
            be = [r["band_err_db"] for r in rs]
            lines.append(
                f"| {kind} | {tool} | {statistics.median(be):.2f} | {np.mean(be):.2f} | "
                f"{statistics.median([r['band_err_reachable_db'] for r in rs]):.2f} | "
                f"{statistics.median([r['shape_err_db'] for r in rs]):.2f} | "
                f"{np.mean([abs(r['lufs_err']) for r in rs]):.2f} | {np.mean([abs(r['plr_err_db']) for r in rs]):.2f} | "
                f"{np.mean([abs(r['width_err_db']) for r in rs]):.2f} | "
                f"{max(r['true_peak_dbtp'] for r in rs):+.2f} | {sum(r['true_peak_dbtp'] > -1.0 for r in rs)} of {len(rs)} |")
    lines += ["", "Per clip:", "", "| test | tool | track | genre | band err (dB) | reachable | shape | width err (dB) | loudness err (LU) | PLR err (dB) | true peak (dBTP) | time (s) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['kind']} | {r['tool']} | {r['track']} | {r['genre']} | {r['band_err_db']:.2f} | "
                     f"{r['band_err_reachable_db']:.2f} | {r['shape_err_db']:.2f} | {r['width_err_db']:+.2f} | "
                     f"{r['lufs_err']:+.2f} | {r['plr_err_db']:+.2f} | {r['true_peak_dbtp']:+.2f} | {r['seconds']:.1f} |")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    open(args.out, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))


if __name__ == "__main__":
    sys.exit(main())
