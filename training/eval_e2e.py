#!/usr/bin/env python3
"""End-to-end evaluation of `lathe master` on held-out masters, as a new user meets it.

How to run (from the repository root; needs ffmpeg and sox, no Python packages):

    cargo build --release        # or `cargo build`: its profile optimises too (see default_lathe)
    LATHE_DATA=/work/data training/eval_e2e.py        # prints the tables, writes training/E2E.md
    training/eval_e2e.py --self-test                  # checks the mix generator first (seconds)

Options: --lathe PATH (default $CARGO_TARGET_DIR or target, /release/lathe else /debug/lathe),
--packages A,B,... (held-out source packages; default the training's validation packages),
--per-genre N, --excerpt-s S, --seed N, --jobs N (lathe processes at once, each with one
rayon thread), --work DIR (scratch files), --out PATH (the Markdown table).

What it measures, per held-out master (an excerpt of a real mastered track from a package that
is not in the training set; found through training/manifest.csv under $LATHE_DATA/music, or
extracted from $LATHE_DATA/debs into $LATHE_DATA/eval-src, checked against the manifest's
sha256):

1. A plausible unmastered mix, seeded per track: a bass shelf and a treble shelf (+-4 dB),
   one or two bumps (+-2..5 dB, Q 0.7..2), a modest width change (side +-2 dB), peak
   normalised to -3..-8 dBFS. Rendered by sox; `--self-test` checks that the applied
   response is the intended one.
2. `lathe master MIX --genre <true genre>` and `--genre auto`; every file is measured with
   `lathe analyze --json` (the mix, the real master, each output) and the outputs' true peak
   also with ffmpeg's ebur128 meter (an independent meter).
3. Errors against the real master: band error = mean |difference| of the loudness-normalised
   third-octave curves (band level minus integrated loudness; mid and side) over the bands from
   40 Hz to 16 kHz at or below the master's measured bandwidth; width error |width - width of
   the master|; loudness error in LU; true peak minus the ceiling. "as is" is the mix itself
   (leave it untouched). Tables give the median over tracks.
4. Do no harm: `lathe master` on the UNDEGRADED master excerpt (true genre): how far its band
   curve and width move, and the applied EQ (max and mean |gain|, mid and side, 40 Hz-16 kHz)
   from the render log of `lathe master --json`.

Deterministic: the same binary, data, seed and options give the same tables.
"""

import argparse
import concurrent.futures
import csv
import datetime
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from array import array
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The training's validation packages (held out of training; genre-ml, STATUS 14:34).
DEFAULT_PACKAGES = [
    "wesnoth-1.16-music",  # orchestral
    "nexuiz-music",  # electronic
    "singularity-music",  # ambient
    "fretsonfire-songs-muldjord",  # rock-metal
    "fretsonfire-songs-sectoid",  # rock-metal
    "heroes-sound-tracks",  # chiptune
    "hedgewars-data",  # folk-world, orchestral, rock
    "pushover-data",  # folk-world, electronic, orchestral
]
# Band-error range: the model report's "40 Hz-16 kHz" (16 kHz band centre included).
BAND_LO_HZ = 40.0
BAND_HI_HZ = 16500.0
# Bands quieter than this (side of a mono-bass master, silence) are not compared.
FLOOR_DB = -140.0
# The mix generator's ranges (see draw_degradation).
HEADROOM_DB = -15.0  # gain before the filters so sox's integer path never clips


def band_centers_hz():
    return [1000.0 * 10 ** (k / 10) for k in range(-17, 14)]


# --------------------------------------------------------------------------------------------
# the mix generator


def draw_degradation(rng: random.Random, stereo: bool) -> dict:
    """Draws one plausible unmastered mix from a master: what separates a mix from its master
    in level and tone, modestly (not arbitrary damage)."""
    filters = [
        ("lowshelf", rng.uniform(80.0, 250.0), rng.uniform(-4.0, 4.0), 0.707),
        ("highshelf", rng.uniform(2500.0, 8000.0), rng.uniform(-4.0, 4.0), 0.707),
    ]
    for _ in range(rng.choice((1, 2))):
        freq = math.exp(rng.uniform(math.log(100.0), math.log(8000.0)))
        gain = rng.choice((-1.0, 1.0)) * rng.uniform(2.0, 5.0)
        filters.append(("peak", freq, gain, rng.uniform(0.7, 2.0)))
    return {
        "filters": [(k, round(f, 1), round(g, 2), round(q, 3)) for k, f, g, q in filters],
        "side_db": round(rng.uniform(-2.0, 2.0), 2) if stereo else 0.0,
        "peak_dbfs": round(rng.uniform(-8.0, -3.0), 2),
    }


def sox_effects(deg: dict, normalise: bool = True) -> list:
    """The sox effect chain of a degradation (RBJ biquads; widths given as Q)."""
    fx = ["gain", f"{HEADROOM_DB}"]
    for kind, freq, gain, q in deg["filters"]:
        if kind == "lowshelf":
            fx += ["bass", f"{gain}", f"{freq}", f"{q}q"]
        elif kind == "highshelf":
            fx += ["treble", f"{gain}", f"{freq}", f"{q}q"]
        else:
            fx += ["equalizer", f"{freq}", f"{q}q", f"{gain}"]
    if deg["side_db"]:
        # Mid kept, side scaled by w: L' = (1+w)/2 L + (1-w)/2 R, R' mirrored.
        w = 10 ** (deg["side_db"] / 20)
        a, b = (1 + w) / 2, (1 - w) / 2
        fx += ["remix", f"1v{a:.6f},2v{b:.6f}", f"1v{b:.6f},2v{a:.6f}"]
    if normalise:
        fx += ["norm", f"{deg['peak_dbfs']}"]
    return fx


def rbj_coefficients(kind: str, freq_hz: float, gain_db: float, q: float, fs: float):
    """Audio EQ Cookbook (R. Bristow-Johnson) biquads, as sox implements bass/treble/equalizer."""
    a_ = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * freq_hz / fs
    cw, alpha = math.cos(w0), math.sin(w0) / (2 * q)
    if kind == "peak":
        b = [1 + alpha * a_, -2 * cw, 1 - alpha * a_]
        a = [1 + alpha / a_, -2 * cw, 1 - alpha / a_]
    else:
        s = 2 * math.sqrt(a_) * alpha
        if kind == "lowshelf":
            b = [a_ * ((a_ + 1) - (a_ - 1) * cw + s), 2 * a_ * ((a_ - 1) - (a_ + 1) * cw),
                 a_ * ((a_ + 1) - (a_ - 1) * cw - s)]
            a = [(a_ + 1) + (a_ - 1) * cw + s, -2 * ((a_ - 1) + (a_ + 1) * cw), (a_ + 1) + (a_ - 1) * cw - s]
        else:
            b = [a_ * ((a_ + 1) + (a_ - 1) * cw + s), -2 * a_ * ((a_ - 1) + (a_ + 1) * cw),
                 a_ * ((a_ + 1) + (a_ - 1) * cw - s)]
            a = [(a_ + 1) - (a_ - 1) * cw + s, 2 * ((a_ - 1) - (a_ + 1) * cw), (a_ + 1) - (a_ - 1) * cw - s]
    return b, a


def intended_response_db(deg: dict, freq_hz: float, fs: float) -> float:
    """The degradation's intended EQ response (mid; side adds side_db), dB, at one frequency."""
    z = complex(math.cos(2 * math.pi * freq_hz / fs), -math.sin(2 * math.pi * freq_hz / fs))
    total = 0.0
    for kind, f, g, q in deg["filters"]:
        b, a = rbj_coefficients(kind, f, g, q, fs)
        h = (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
        total += 20 * math.log10(abs(h))
    return total


def kweight_db(freq_hz: float, fs: float) -> float:
    """BS.1770-4's K-weighting in dB at one frequency: train.py's mirror of
    `render::kweight::response_db` (pinned to the Rust code by tests/it/model.rs)."""
    from train import kweight_db as mirror  # numpy; imported here so --self-test needs none

    return float(mirror(freq_hz, fs))


def promised_curves(src: dict, log: dict):
    """The band curves the render log promises: the input's loudness-normalised mid and side
    curves plus the logged EQ (and, on the side, the width stage's gain), renormalised by the
    K-weighted power change (train.py's `output_curves`, which the REPORT's numbers use; the
    width gain is the renderer's, which train.py leaves out). The compressor and the limiter
    are not in it: what they move is what `fidelity` measures."""
    eq = log["eq"]
    fs = float(log["sample_rate_hz"])
    width_gain = log["width"]["side_gain_db"] or 0.0
    mid, side = norm_curve(src, "mid_db"), norm_curve(src, "side_db")
    raw_m, raw_s = src["bands"]["mid_db"], src["bands"]["side_db"]
    before = after = 0.0
    for k, c in enumerate(src["bands"]["center_hz"]):
        w = 10 ** (kweight_db(c, fs) / 10)
        pm = 10 ** (mid[k] / 10) if raw_m[k] > FLOOR_DB else 0.0
        ps = 10 ** (side[k] / 10) if raw_s[k] > FLOOR_DB else 0.0
        before += w * (pm + ps)
        after += w * (pm * 10 ** (eq["mid_gain_db"][k] / 10) + ps * 10 ** ((eq["side_gain_db"][k] + width_gain) / 10))
    dl = 10 * math.log10(after / before) if before > 0 and after > 0 else 0.0
    return ([m + g - dl for m, g in zip(mid, eq["mid_gain_db"])],
            [v + g + width_gain - dl for v, g in zip(side, eq["side_gain_db"])])


def fidelity(src: dict, out: dict, master: dict, log: dict, targets: dict) -> dict:
    """How far the output lands from what its render log promises (`promised_curves`): mean
    |measured - promised| over the compared bands, mid and side; the output's width against the
    width target; and the promised curves' own errors against the real master."""
    pm, ps = promised_curves(src, log)
    keep = set(in_band(master))
    om, os_ = norm_curve(out, "mid_db"), norm_curve(out, "side_db")
    mm, ms = norm_curve(master, "mid_db"), norm_curve(master, "side_db")

    def err(a, b, raw):
        v = [abs(a[k] - b[k]) for k in keep if all(r[k] > FLOOR_DB for r in raw)]
        return sum(v) / len(v) if v else NAN

    stereo = out.get("channels", 2) > 1 and (targets.get("width_db") or -999) > -60
    return {"fid_mid": err(om, pm, [out["bands"]["mid_db"], src["bands"]["mid_db"]]),
            "fid_side": err(os_, ps, [out["bands"]["side_db"], src["bands"]["side_db"]]) if stereo else NAN,
            "fid_width": abs(out["width_db"] - targets["width_db"]) if stereo else NAN,
            "promised_mid_err": err(pm, mm, [src["bands"]["mid_db"], master["bands"]["mid_db"]]),
            "promised_side_err": err(ps, ms, [src["bands"]["side_db"], master["bands"]["side_db"]]) if stereo else NAN}


def dft_db(x, freq_hz: float, fs: float) -> float:
    """|X(f)| of a finite impulse response, dB."""
    w = 2 * math.pi * freq_hz / fs
    re = sum(v * math.cos(w * n) for n, v in enumerate(x))
    im = sum(v * math.sin(w * n) for n, v in enumerate(x))
    return 10 * math.log10(re * re + im * im)


# --------------------------------------------------------------------------------------------
# tools


def run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({res.returncode}): {res.stderr.strip()[-800:]}")
    return res


def sox(inp, out, effects, out_args=("-e", "floating-point", "-b", "32")):
    run(["sox", "-R", "-V1", str(inp), *out_args, str(out), *effects])


def read_f32(path: Path):
    """Samples of an audio file as interleaved float32 (via sox), with channel count."""
    ch = int(run(["soxi", "-c", str(path)]).stdout.strip())
    raw = subprocess.run(["sox", "-V1", str(path), "-t", "f32", "-"], capture_output=True, check=True).stdout
    x = array("f")
    x.frombytes(raw)
    return x, ch


def write_f32_wav(path: Path, interleaved, channels: int, fs: int):
    raw = path.with_suffix(".f32")
    with open(raw, "wb") as f:
        array("f", interleaved).tofile(f)
    run(["sox", "-V1", "-t", "f32", "-r", str(fs), "-c", str(channels), str(raw),
         "-e", "floating-point", "-b", "32", str(path)])
    raw.unlink()


class Lathe:
    def __init__(self, path: Path, model=None):
        self.path = path
        self.model_args = ["--model", str(model)] if model else []
        self.env = dict(os.environ, RAYON_NUM_THREADS="1")

    def analyze(self, files):
        out = run([str(self.path), "analyze", "--json", *map(str, files)], env=self.env).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(rows) != len(files):
            raise RuntimeError(f"lathe analyze returned {len(rows)} rows for {len(files)} files")
        return rows

    def master(self, mix: Path, out: Path, genre: str, lufs=None):
        extra = ["--lufs", f"{lufs:.2f}"] if lufs is not None else []
        res = run([str(self.path), "master", str(mix), "--genre", genre, "-o", str(out), "--force", "--json-full",
                   *self.model_args, *extra],
                  env=self.env)
        j = json.loads(res.stdout)
        return j[0] if isinstance(j, list) else j

    def version(self):
        return run([str(self.path), "--version"]).stdout.strip()


def ffmpeg_true_peak_dbtp(path: Path) -> float:
    """True peak by ffmpeg's ebur128 filter (4x oversampled), dBTP: the independent meter."""
    res = run(["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(path),
               "-af", "ebur128=peak=true", "-f", "null", "-"])
    peak = None
    for line in res.stderr.splitlines():
        line = line.strip()
        if line.startswith("Peak:") and "dBFS" in line:
            peak = float(line.split()[1])
    if peak is None:
        raise RuntimeError(f"no true peak from ffmpeg for {path}")
    return peak


def find_key(obj, key):
    """First value under `key` anywhere in a JSON tree (depth first)."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            r = find_key(v, key)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


# --------------------------------------------------------------------------------------------
# data


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def locate(row: dict, data: Path) -> Path:
    """The manifest row's file: under $LATHE_DATA/music, else extracted by this script from the
    package's .deb into $LATHE_DATA/eval-src (never touching the training's folders)."""
    name = Path(row["path"]).name
    for p in (data / "music" / row["source"] / name, data / "eval-src" / "music" / row["source"] / name):
        if p.exists() and sha256(p) == row["sha256"]:
            return p
    sys.path.insert(0, str(HERE))
    import fetch_data  # the training's own extraction rules (package layout, file names)

    pkg = row["source"]
    spec = fetch_data.PACKAGES[pkg][1]
    root = data / "eval-src" / "extract" / pkg
    fetch_data.extract_deb(fetch_data.deb_for(data / "debs", pkg), root)
    out_dir = data / "eval-src" / "music" / pkg
    out_dir.mkdir(parents=True, exist_ok=True)
    for logical, track, src in fetch_data.collect(pkg, root, spec):
        if track != row["track"] and not row["path"].endswith(fetch_data.safe_name(track) + Path(logical).suffix):
            continue
        dst = out_dir / name
        tmp = dst.with_name(dst.name + ".part")
        if isinstance(src, tuple):
            zf, member = src
            with zf.open(member) as fi, open(tmp, "wb") as fo:
                shutil.copyfileobj(fi, fo)
        elif Path(logical).suffix.lower() in (".opus", ".mod"):
            run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-c:a", "flac", "-f", "flac", str(tmp)])
        else:
            shutil.copyfile(src, tmp)
        tmp.rename(dst)
        if sha256(dst) == row["sha256"]:
            return dst
    raise SystemExit(f"cannot find {row['path']} ({pkg}/{row['track']}) with the manifest's sha256")


def select_tracks(manifest: Path, packages, per_genre: int, seed: int):
    """Up to `per_genre` tracks of each genre, taken in turn from the held-out packages that have
    it (seeded order within each package), so every genre and package is represented."""
    rows = [r for r in csv.DictReader(open(manifest, newline="")) if r["source"] in packages]
    missing = set(packages) - {r["source"] for r in rows}
    if missing:
        raise SystemExit(f"package(s) {', '.join(sorted(missing))} not in {manifest}")
    chosen = []
    for genre in sorted({r["genre"] for r in rows}):
        pools = []
        for pkg in sorted(packages):
            pool = sorted((r for r in rows if r["source"] == pkg and r["genre"] == genre), key=lambda r: r["sha256"])
            random.Random(f"{seed}:{pkg}:{genre}").shuffle(pool)
            if pool:
                pools.append(pool)
        picked = []
        while len(picked) < per_genre and any(pools):
            for pool in pools:
                if pool and len(picked) < per_genre:
                    picked.append(pool.pop(0))
        chosen += picked
    return chosen


# --------------------------------------------------------------------------------------------
# one track

NAN = float("nan")
# A run the model refused (a genre it does not know): every number n/a.
REFUSED = {"mid_err": NAN, "side_err": NAN, "width_err": NAN, "lufs": NAN, "lufs_err": NAN, "plr_err": NAN,
           "tp_dbtp": NAN, "ceiling_dbtp": NAN, "tp_ffmpeg_dbtp": NAN, "eq_max_db": NAN, "eq_mean_db": NAN,
           "target_genre": None, "target_lufs": None, "refused": True, "fid_mid": NAN, "fid_side": NAN,
           "fid_width": NAN, "promised_mid_err": NAN, "promised_side_err": NAN}


def in_band(master: dict):
    bw = master["bandwidth_hz"] or 0.0
    return [k for k, c in enumerate(master["bands"]["center_hz"])
            if BAND_LO_HZ <= c <= BAND_HI_HZ and c <= bw * 1.0001]


def norm_curve(a: dict, which: str):
    lufs = a["integrated_lufs"]
    return [v - lufs for v in a["bands"][which]]


def band_diffs(x: dict, ref: dict, which: str):
    """Signed per-band difference (x - ref) of loudness-normalised curves; None where not compared."""
    raw_x, raw_r = x["bands"][which], ref["bands"][which]
    cx, cr = norm_curve(x, which), norm_curve(ref, which)
    keep = set(in_band(ref))
    return [cx[k] - cr[k] if k in keep and raw_x[k] > FLOOR_DB and raw_r[k] > FLOOR_DB else None
            for k in range(len(cx))]


def mean_abs(d):
    v = [abs(e) for e in d if e is not None]
    return sum(v) / len(v) if v else float("nan")


def evaluate_track(row: dict, args, lathe: Lathe, data: Path) -> dict:
    src = locate(row, data)
    tid = f"{row['source']}__{Path(row['path']).stem}"
    wd = Path(args.work) / tid
    wd.mkdir(parents=True, exist_ok=True)
    dur = float(row["duration_s"])
    length = min(args.excerpt_s, dur)
    start = round(max(0.0, min(0.25 * dur, dur - length)), 2)
    master = wd / "master.wav"
    run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{start}", "-t", f"{length}", "-i", str(src),
         "-vn", "-c:a", "pcm_f32le", str(master)])
    stereo = int(row["channels"]) >= 2
    deg = draw_degradation(random.Random(f"{args.seed}:{row['sha256']}"), stereo)
    mix = wd / "mix.wav"
    sox(master, mix, sox_effects(deg))
    genre = row["genre"]
    outs = {"genre": wd / "out-genre.wav", "auto": wd / "out-auto.wav", "dnh": wd / "out-dnh.wav"}
    # --hold-loudness: every output at the real master's loudness (--lufs), so that the tables
    # show what the model's tone, width and dynamics targets do without the loudness change
    # (and the limiting it takes) of the genre's loudness.
    hold = lathe.analyze([master])[0]["integrated_lufs"] if args.hold_loudness else None
    logs = {"auto": lathe.master(mix, outs["auto"], "auto", hold)}
    for name, inp in (("genre", mix), ("dnh", master)):
        try:
            logs[name] = lathe.master(inp, outs[name], genre, hold)
        except RuntimeError as e:
            # A model that does not know the manifest's genre refuses it: reported, not hidden.
            if "unknown genre" not in str(e):
                raise
            logs[name] = None
    ran = [n for n in ("genre", "auto", "dnh") if logs[n] is not None]
    a_master, a_mix, *a_out = lathe.analyze([master, mix, *(outs[n] for n in ran)])
    analyses = dict(zip(ran, a_out))
    a_g, a_a, a_d = (analyses.get(n) for n in ("genre", "auto", "dnh"))
    res = {"track": tid, "source": row["source"], "true_genre": genre, "start_s": start, "length_s": length,
           "degradation": deg, "master_lufs": a_master["integrated_lufs"],
           "master_width_db": a_master["width_db"], "centers": a_master["bands"]["center_hz"]}
    n_bands = len(a_master["bands"]["center_hz"])
    for name, a in (("asis", a_mix), ("genre", a_g), ("auto", a_a), ("dnh", a_d)):
        if a is None:
            res[name] = dict(REFUSED, mid_diff=[None] * n_bands, side_diff=[None] * n_bands)
            continue
        mid, side = band_diffs(a, a_master, "mid_db"), band_diffs(a, a_master, "side_db")
        res[name] = {
            "mid_diff": mid, "side_diff": side, "mid_err": mean_abs(mid), "side_err": mean_abs(side),
            "width_err": abs(a["width_db"] - a_master["width_db"]) if stereo else float("nan"),
            "lufs": a["integrated_lufs"], "lufs_err": abs(a["integrated_lufs"] - a_master["integrated_lufs"]),
            "plr_err": abs(a["plr_db"] - a_master["plr_db"]),
            "tp_dbtp": a["true_peak_dbtp"], "refused": False,
        }
    for name in ran:
        log = logs[name]
        # `--json-full`: the short summary's "target", the full targets and render log under "full".
        tgt = log.get("target") or log.get("targets") or {}
        ceiling = find_key(tgt, "ceiling_dbtp")
        ceiling = -1.0 if ceiling is None else ceiling
        eq = find_key(log.get("full", log).get("log", log), "eq") or {}
        centers = eq.get("center_hz", [])
        core = [k for k, c in enumerate(centers) if BAND_LO_HZ <= c <= BAND_HI_HZ]
        gains = [abs(eq[key][k]) for key in ("mid_gain_db", "side_gain_db") if key in eq for k in core]
        src_t = find_key(tgt, "source") or {}
        full = log.get("full") or {}
        if "log" in full and "targets" in full:
            res[name].update(fidelity(a_master if name == "dnh" else a_mix, analyses[name], a_master,
                                      full["log"], full["targets"]))
        res[name].update({
            "ceiling_dbtp": ceiling,
            "tp_ffmpeg_dbtp": ffmpeg_true_peak_dbtp(outs[name]),
            "eq_max_db": max(gains) if gains else float("nan"),
            "eq_mean_db": sum(gains) / len(gains) if gains else float("nan"),
            "target_genre": find_key(src_t, "genre"),
            "target_lufs": find_key(tgt, "integrated_lufs"),
        })
    if not args.keep:
        for p in (mix, *outs.values()):
            p.unlink(missing_ok=True)
    return res


# --------------------------------------------------------------------------------------------
# tables


def med(values):
    v = [x for x in values if x is not None and not math.isnan(x)]
    return statistics.median(v) if v else float("nan")


def nanmax(values):
    v = [x for x in values if x is not None and not math.isnan(x)]
    return max(v) if v else NAN


def f2(x):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def tables(results, header: str) -> str:
    genres = sorted({r["true_genre"] for r in results})
    groups = [(g, [r for r in results if r["true_genre"] == g]) for g in genres] + [("**all**", results)]
    out = [header, ""]
    out += ["## Against the real master (median over tracks)", "",
            "Band error: mean |dB| over third-octave bands 40 Hz-16 kHz below the master's bandwidth, "
            "curves loudness-normalised. *as is* = the generated mix untouched; *genre* = "
            "`--genre <true genre>`; *auto* = `--genre auto`.", "",
            "| genre | tracks | mid: as is | genre | auto | side: as is | genre | auto "
            "| width: as is | genre | auto | LU: as is | genre | auto |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for g, rs in groups:
        cells = [g, str(len(rs))]
        for metric in ("mid_err", "side_err", "width_err", "lufs_err"):
            cells += [f2(med(r[k][metric] for r in rs)) for k in ("asis", "genre", "auto")]
        out.append("| " + " | ".join(cells) + " |")
    wins = sum(r["genre"]["mid_err"] < r["asis"]["mid_err"] for r in results)
    wins_a = sum(r["auto"]["mid_err"] < r["asis"]["mid_err"] for r in results)
    out += ["", f"Tracks where the output's mid band error is below the mix's: `--genre` {wins}/{len(results)}, "
            f"`auto` {wins_a}/{len(results)}."]
    refused = sorted({r["true_genre"] for r in results if r["genre"].get("refused")})
    if refused:
        out += [f"The model refused `--genre` for {', '.join(refused)} "
                f"({sum(r['genre'].get('refused', False) for r in results)} tracks): those cells are n/a."]
    auto_ok = sum((r["auto"]["target_genre"] or "") == r["true_genre"] for r in results)
    out += [f"`--genre auto` picked the manifest's genre on {auto_ok}/{len(results)} tracks."]
    out += ["", "## Renderer fidelity: the output against its render log's promise (`--genre`)", "",
            "Promised = the mix's curves + the logged EQ (on the side also the width stage's gain), "
            "renormalised by the K-weighted loudness change: the law `train.py` evaluates for REPORT.md. "
            "Out - promised = what the compressor, the limiter and the EQ's realisation add (mean |dB| over "
            "the compared bands); width = |output width - width target|. Then the mid and side errors against "
            "the real master of the promise, the output and the mix (medians over tracks).", "",
            "| genre | tracks | mid: out - promised | side: out - promised | width: out - target (median / max) "
            "| mid err: promised | output | as is | side err: promised | output | as is |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for g, rs in groups:
        x = [r["genre"] for r in rs]
        out.append("| " + " | ".join([g, str(len(rs)), f2(med(v.get("fid_mid", NAN) for v in x)),
                                      f2(med(v.get("fid_side", NAN) for v in x)),
                                      f"{f2(med(v.get('fid_width', NAN) for v in x))} / "
                                      f"{f2(nanmax(v.get('fid_width', NAN) for v in x))}",
                                      f2(med(v.get("promised_mid_err", NAN) for v in x)), f2(med(v["mid_err"] for v in x)),
                                      f2(med(r["asis"]["mid_err"] for r in rs)),
                                      f2(med(v.get("promised_side_err", NAN) for v in x)), f2(med(v["side_err"] for v in x)),
                                      f2(med(r["asis"]["side_err"] for r in rs))]) + " |")
    out += ["", "## Issue 9's goals, measured end to end", ""]
    for line in goals(results, groups):
        out.append(f"- {line}")
    out += ["", "## Do no harm: `lathe master --genre <true genre>` on the undegraded master", "",
            "Moved = output vs the master it was given (median over tracks); EQ = applied gain "
            "40 Hz-16 kHz from the render log, mid and side (per track max / mean |dB|).", "",
            "| genre | tracks | mid moved | side moved | width moved | LU moved | median of max EQ | max EQ | mean EQ |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for g, rs in groups:
        d = [r["dnh"] for r in rs]
        out.append("| " + " | ".join([g, str(len(rs)), f2(med(x["mid_err"] for x in d)),
                                      f2(med(x["side_err"] for x in d)), f2(med(x["width_err"] for x in d)),
                                      f2(med(x["lufs_err"] for x in d)), f2(med(x["eq_max_db"] for x in d)),
                                      f2(nanmax(x["eq_max_db"] for x in d)),
                                      f2(med(x["eq_mean_db"] for x in d))]) + " |")
    out += ["", "## Where the curve moves (mean signed output - master, dB, per band; mid)", "",
            "Positive: the output has more of that band than the real master. Shown for the "
            "`--genre` output of the mix and for do-no-harm, bands 40 Hz-16 kHz.", ""]
    centers = results[0]["centers"]
    core = [k for k, c in enumerate(centers) if BAND_LO_HZ <= c <= BAND_HI_HZ]
    out.append("| genre | run | " + " | ".join(f"{centers[k]:.0f}" if centers[k] < 1000 else f"{centers[k] / 1000:.1f}k"
                                              for k in core) + " |")
    out.append("|---|---|" + "---:|" * len(core))
    for g, rs in groups:
        for run_name, label in (("asis", "as is"), ("genre", "genre"), ("dnh", "no-harm")):
            cells = []
            for k in core:
                v = [r[run_name]["mid_diff"][k] for r in rs if r[run_name]["mid_diff"][k] is not None]
                cells.append(f"{sum(v) / len(v):+.1f}" if v else "")
            out.append(f"| {g} | {label} | " + " | ".join(cells) + " |")
    out += ["", "## Ceiling", ""]
    tp = [(r[k]["tp_dbtp"] - r[k]["ceiling_dbtp"], r[k]["tp_ffmpeg_dbtp"] - r[k]["ceiling_dbtp"])
          for r in results for k in ("genre", "auto", "dnh") if not r[k].get("refused")]
    over = sum(1 for a, b in tp if max(a, b) > 0.0)
    out += [f"{len(tp)} outputs: highest true peak minus ceiling {f2(nanmax(a for a, _ in tp))} dB (lathe), "
            f"{f2(nanmax(b for _, b in tp))} dB (ffmpeg ebur128); {over} above the ceiling by either meter."]
    out += ["", "## Per track", "",
            "| track | genre | auto picked | mid: as is | genre | auto | width: as is | genre | master LUFS | out LUFS | no-harm mid | no-harm width | no-harm max EQ |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        out.append("| " + " | ".join([r["track"], r["true_genre"], str(r["auto"]["target_genre"]),
                                      f2(r["asis"]["mid_err"]), f2(r["genre"]["mid_err"]), f2(r["auto"]["mid_err"]),
                                      f2(r["asis"]["width_err"]), f2(r["genre"]["width_err"]),
                                      f2(r["master_lufs"]), f2(r["genre"]["lufs"]), f2(r["dnh"]["mid_err"]),
                                      f2(r["dnh"]["width_err"]), f2(r["dnh"]["eq_max_db"])]) + " |")
    return "\n".join(out) + "\n"


def goals(results, groups):
    """Issue 9's goals on these numbers (the issue states them for REPORT.md; the same bars here)."""
    def verdict(ok):
        return "**met**" if ok else "**not met**"

    # Model and as-is compared on the same tracks (a refused genre has no model output).
    results = [r for r in results if not r["genre"].get("refused")]
    asis, model = med(r["asis"]["mid_err"] for r in results), med(r["genre"]["mid_err"] for r in results)
    change = 100 * (model / asis - 1)
    lines = [f"on the {len(results)} tracks `--genre` ran on: mid band error >= 25 % below leave-as-is: {f2(model)} vs {f2(asis)} dB ({change:+.0f} % vs as is): "
             f"{verdict(change <= -25)}"]
    worse = [f"{g} {f2(med(r['genre']['mid_err'] for r in rs))} vs {f2(med(r['asis']['mid_err'] for r in rs))}"
             for g, rs in groups[:-1]
             if med(r["genre"]["mid_err"] for r in rs) > med(r["asis"]["mid_err"] for r in rs)]
    lines.append(f"not worse than leave-as-is in any genre: {verdict(not worse)}"
                 + (f" (worse: {'; '.join(worse)})" if worse else ""))
    w_m, w_a = med(r["genre"]["width_err"] for r in results), med(r["asis"]["width_err"] for r in results)
    lines.append(f"width error not worse than leave-as-is: {f2(w_m)} vs {f2(w_a)} dB: {verdict(w_m <= w_a)}")
    d = med(r["dnh"]["mid_err"] for r in results)
    lines.append(f"do no harm, band error to the original <= 0.4 dB median: {f2(d)} dB: {verdict(d <= 0.4)}")
    over = [r for r in results if r["dnh"]["eq_max_db"] > 2.0]
    lines.append(f"do no harm, no applied EQ band beyond +-2 dB: max {f2(nanmax(r['dnh']['eq_max_db'] for r in results))} dB, "
                 f"{len(over)}/{len(results)} tracks beyond: {verdict(not over)}")
    tp = nanmax(max(r[k]["tp_dbtp"], r[k]["tp_ffmpeg_dbtp"]) - r[k]["ceiling_dbtp"]
                for r in results for k in ("genre", "auto", "dnh") if not r[k].get("refused"))
    lines.append(f"every output under its ceiling (lathe and ffmpeg meters): highest true peak minus ceiling {f2(tp)} dB: "
                 f"{verdict(tp <= 0)}")
    return lines


def key_numbers(results):
    """(label, value) pairs that summarise one run, for comparing two runs."""
    rows = []
    for metric, label in (("mid_err", "mid band error"), ("side_err", "side band error"),
                          ("width_err", "width error"), ("lufs_err", "loudness error (LU)")):
        for k, name in (("asis", "as is"), ("genre", "--genre"), ("auto", "auto")):
            rows.append((f"{label}, {name}", med(r[k][metric] for r in results)))
    for metric, label in (("mid_err", "mid band error"), ("side_err", "side band error"),
                          ("width_err", "width error"), ("lufs_err", "loudness error (LU)")):
        for g in sorted({r["true_genre"] for r in results}):
            rs = [r for r in results if r["true_genre"] == g]
            rows.append((f"{label} {g}, as is / --genre",
                         (med(r["asis"][metric] for r in rs), med(r["genre"][metric] for r in rs))))
    d = [r["dnh"] for r in results]
    tp = [max(r[k]["tp_dbtp"], r[k]["tp_ffmpeg_dbtp"]) - r[k]["ceiling_dbtp"]
          for r in results for k in ("genre", "auto", "dnh") if not r[k].get("refused")]
    rows += [("highest true peak minus ceiling (lathe, ffmpeg), dB", nanmax(tp))]
    rows += [("do no harm: mid moved", med(x["mid_err"] for x in d)),
             ("do no harm: side moved", med(x["side_err"] for x in d)),
             ("do no harm: width moved", med(x["width_err"] for x in d)),
             ("do no harm: max applied EQ", nanmax(x["eq_max_db"] for x in d)),
             ("do no harm: tracks with EQ beyond 2 dB", sum(x["eq_max_db"] > 2.0 for x in d))]
    return rows


def comparison(base: dict, results) -> str:
    before = dict(key_numbers(base["results"]))
    ids = {r["track"] for r in base["results"]}
    same = [r for r in results if r["track"] in ids]
    now_same = dict(key_numbers(same)) if same else {}
    out = [f"## Change since `{base['meta']['commit']}` ({base['meta']['date']}, {len(base['results'])} tracks "
           f"from {', '.join(base['meta']['packages'])})", "",
           f"*now, same tracks*: this run on the {len(same)} tracks both runs have (same excerpts and mixes).", "",
           "| median over tracks | then | now, same tracks | now, all tracks |", "|---|---:|---:|---:|"]

    def cell(v):
        if v is None:
            return ""
        return " / ".join(f2(x) for x in v) if isinstance(v, tuple) else (str(v) if isinstance(v, int) else f2(v))

    for label, now in key_numbers(results):
        out.append(f"| {label} | {cell(before.get(label))} | {cell(now_same.get(label))} | {cell(now)} |")
    return "\n".join(out) + "\n"


def summary_line(results) -> str:
    return (f"band err (mid, median) --genre {f2(med(r['genre']['mid_err'] for r in results))} / "
            f"auto {f2(med(r['auto']['mid_err'] for r in results))} / as-is {f2(med(r['asis']['mid_err'] for r in results))}; "
            f"width err {f2(med(r['genre']['width_err'] for r in results))} vs as-is "
            f"{f2(med(r['asis']['width_err'] for r in results))}; LU err {f2(med(r['genre']['lufs_err'] for r in results))}; "
            f"do-no-harm mid {f2(med(r['dnh']['mid_err'] for r in results))} width {f2(med(r['dnh']['width_err'] for r in results))} "
            f"max EQ {f2(nanmax(r['dnh']['eq_max_db'] for r in results))} dB ({len(results)} tracks)")


# --------------------------------------------------------------------------------------------
# self-test


def self_test(lathe) -> int:
    """The mix generator does what it says: sox's applied response equals the intended one."""
    fs = 44100
    failures = 0
    rng = random.Random("self-test")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = 16384  # the longest response (Q 2 at 100 Hz) has decayed far below 1e-6 by then
        for case in range(6):
            deg = draw_degradation(rng, stereo=True)
            # 1. Frequency response: an impulse on the left channel only, through the chain
            #    without normalisation. Mid = (L+R)/2 must get the EQ, side = (L-R)/2 the EQ plus
            #    side_db, both after the fixed headroom gain.
            imp = [0.0] * (2 * n)
            imp[0] = 1.0
            src, out = tmp / "imp.wav", tmp / "imp-out.wav"
            write_f32_wav(src, imp, 2, fs)
            sox(src, out, sox_effects(deg, normalise=False))
            y, ch = read_f32(out)
            left, right = y[0::2], y[1::2]
            mid = [(a + b) for a, b in zip(left, right)]  # x2: the impulse was on one channel
            side = [(a - b) for a, b in zip(left, right)]
            worst = 0.0
            for f in [31.5, 40, 63, 100, 160, 250, 400, 630, 1000, 1600, 2500, 4000, 6300, 10000, 16000]:
                want = HEADROOM_DB + intended_response_db(deg, f, fs)
                got_mid, got_side = dft_db(mid, f, fs), dft_db(side, f, fs)
                worst = max(worst, abs(got_mid - want), abs(got_side - want - deg["side_db"]))
            ok = worst <= 0.2  # the brief's tolerance; RBJ biquads in sox agree to ~0.01 dB
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} response case {case}: worst |measured - intended| "
                  f"{worst:.3f} dB (mid and side, 31.5 Hz-16 kHz) for {deg['filters']} side {deg['side_db']:+.2f} dB")
            # 2. Peak normalisation: white noise through the whole chain peaks at peak_dbfs.
            noise = [rng.gauss(0.0, 0.1) for _ in range(2 * fs)]
            write_f32_wav(src, noise, 2, fs)
            sox(src, out, sox_effects(deg))
            y, _ = read_f32(out)
            peak_db = 20 * math.log10(max(abs(v) for v in y))
            ok = abs(peak_db - deg["peak_dbfs"]) <= 0.01  # float32 output: exact up to rounding
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} peak case {case}: {peak_db:.3f} dBFS, intended {deg['peak_dbfs']:.2f}")
        # 3. On noise, as lathe's meter sees it: white stereo noise (independent channels)
        #    before and after the chain; the third-octave mid and side levels of `lathe analyze`
        #    move by the intended response averaged over each band (white noise: the mean of
        #    |H|^2 over the band's linear frequencies).
        if lathe is not None:
            noise = [rng.gauss(0.0, 0.05) for _ in range(2 * 20 * fs)]
            raw, out = tmp / "noise.wav", tmp / "noise-out.wav"
            write_f32_wav(raw, noise, 2, fs)
            for case in range(3):
                deg = draw_degradation(rng, stereo=True)
                sox(raw, out, sox_effects(deg, normalise=False))
                before, after = lathe.analyze([raw, out])
                worst, where = 0.0, None
                for k, c in enumerate(before["bands"]["center_hz"]):
                    if not BAND_LO_HZ <= c <= BAND_HI_HZ:
                        continue
                    lo, hi = c * 10 ** (-1 / 20), c * 10 ** (1 / 20)
                    grid = [lo + (hi - lo) * (i + 0.5) / 64 for i in range(64)]
                    want = HEADROOM_DB + 10 * math.log10(
                        sum(10 ** (intended_response_db(deg, f, fs) / 10) for f in grid) / len(grid))
                    for which, extra in (("mid_db", 0.0), ("side_db", deg["side_db"])):
                        got = after["bands"][which][k] - before["bands"][which][k]
                        if abs(got - want - extra) > worst:
                            worst, where = abs(got - want - extra), f"{which} {c:.0f} Hz"
                ok = worst <= 0.2
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} noise case {case}: worst |measured - intended| {worst:.3f} dB "
                      f"({where}; lathe analyze bands 40 Hz-16 kHz)")
        else:
            print("skip noise cases: no lathe binary (pass --lathe)")
        # 4. The draws stay in the documented ranges and are deterministic.
        a = [draw_degradation(random.Random(f"9:{i}"), True) for i in range(200)]
        b = [draw_degradation(random.Random(f"9:{i}"), True) for i in range(200)]
        in_range = all(
            len(d["filters"]) in (3, 4) and -8 <= d["peak_dbfs"] <= -3 and abs(d["side_db"]) <= 2
            and all(abs(g) <= 4 for k, _, g, _ in d["filters"][:2])
            and all(2 <= abs(g) <= 5 and 0.7 <= q <= 2 for _, _, g, q in d["filters"][2:])
            for d in a)
        ok = in_range and a == b
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} draws: within ranges {in_range}, deterministic {a == b}")
    print("self-test:", "passed" if failures == 0 else f"{failures} failure(s)")
    return 1 if failures else 0


# --------------------------------------------------------------------------------------------


def default_lathe() -> Path:
    """The release binary if built, else the dev one: Cargo.toml's dev profile optimises
    (opt-level 2, dependencies 3) and Rust never reorders float maths, so both give the same
    bits; the dev build saves a second full build of every dependency on a shared machine."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    release = target / "release" / "lathe"
    return release if release.exists() else target / "debug" / "lathe"


def git_commit() -> str:
    res = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=10"],
                         capture_output=True, text=True)
    return res.stdout.strip() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--self-test", action="store_true", help="check the mix generator and exit")
    ap.add_argument("--lathe", default=str(default_lathe()))
    ap.add_argument("--hold-loudness", action="store_true",
                    help="master every output to the real master's loudness (isolates tone/width/dynamics)")
    ap.add_argument("--model", default=None, help="pass --model PATH to `lathe master` (a candidate model)")
    ap.add_argument("--manifest", default=str(HERE / "manifest.csv"))
    ap.add_argument("--data", default=os.environ.get("LATHE_DATA", str(HERE / "data")))
    ap.add_argument("--packages", default=",".join(DEFAULT_PACKAGES))
    ap.add_argument("--per-genre", type=int, default=6)
    ap.add_argument("--excerpt-s", type=float, default=75.0)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "lathe-e2e"))
    ap.add_argument("--keep", action="store_true", help="keep the mixes and outputs in --work")
    ap.add_argument("--out", default=str(HERE / "E2E.md"))
    ap.add_argument("--json-out", default=None, help="also write every per-track number as JSON")
    ap.add_argument("--baseline", default=None, metavar="JSON",
                    help="add a then/now table against a --json-out file of an earlier run")
    ap.add_argument("--commit", default=None, help="the binary's commit, when --lathe was not built here")
    ap.add_argument("--tables-from", default=None, metavar="JSON",
                    help="only rewrite --out from a --json-out file of an earlier run")
    args = ap.parse_args()
    if args.tables_from:
        j = json.loads(Path(args.tables_from).read_text())
        write_tables(j["meta"], j["results"], Path(args.out), args.baseline)
        return
    lathe = Lathe(Path(args.lathe), args.model)
    if args.self_test:
        sys.exit(self_test(lathe if lathe.path.exists() else None))
    if not lathe.path.exists():
        raise SystemExit(f"no lathe binary at {lathe.path}: run `cargo build --release` or pass --lathe")
    data = Path(args.data)
    packages = [p for p in args.packages.split(",") if p]
    rows = select_tracks(Path(args.manifest), packages, args.per_genre, args.seed)
    # Locate (and if needed extract) serially: extraction is per package.
    for r in rows:
        locate(r, data)
    started = datetime.datetime.now(datetime.timezone.utc)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda r: evaluate_track(r, args, lathe, data), rows))
    meta = {"date": f"{started:%Y-%m-%d %H:%M}", "commit": args.commit or git_commit(), "version": lathe.version(),
            "per_genre": args.per_genre, "excerpt_s": args.excerpt_s, "seed": args.seed,
            "packages": packages, "jobs": args.jobs,
            "model": Path(args.model).name if args.model else "bundled",
            "hold_loudness": bool(args.hold_loudness),
            "wall_s": (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()}
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    write_tables(meta, results, Path(args.out), args.baseline)


def selection(meta: dict) -> str:
    if "per_genre" in meta:
        return f"{meta['per_genre']} per genre at most"
    return f"{meta['per_package']} per package at most"


def write_tables(meta: dict, results, out: Path, baseline=None):
    header = (f"# lathe end to end: `lathe master` on held-out masters\n\n"
              f"Generated by `training/eval_e2e.py` on {meta['date']} UTC from commit `{meta['commit']}` "
              f"({meta['version']}, model: {meta.get('model', 'bundled')}"
              f"{'; loudness held at the master' + chr(39) + 's (--hold-loudness)' if meta.get('hold_loudness') else ''}); do not edit by hand. {len(results)} tracks ({selection(meta)}, {meta['excerpt_s']:.0f} s excerpts, seed {meta['seed']}) from the held-out packages: "
              f"{', '.join(meta['packages'])}. Wall time {meta['wall_s']:.0f} s with {meta['jobs']} jobs.\n\n"
              f"Summary: {summary_line(results)}.")
    text = tables(results, header)
    if baseline:
        text += "\n" + comparison(json.loads(Path(baseline).read_text()), results)
    tmp = out.with_suffix(".md.part")
    tmp.write_text(text)
    tmp.rename(out)
    print(text)
    print(f"e2e: {summary_line(results)}", file=sys.stderr)


if __name__ == "__main__":
    main()
