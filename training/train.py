#!/usr/bin/env python3
"""Trains lathe's targets model and genre classifier, evaluates them, exports ONNX.

Input: the dataset CSV written by `lathe dataset` (src/dataset.rs): per row the degraded
mix's features (x_*), the master's features (y_*), genre, source package, variant.

1. Split train/validation BY SOURCE PACKAGE (no song or album in both).
2. Fit a small MLP regressor (x_* standardised + genre one-hot -> y_* standardised; the band
   curves are learnt as a correction of the mix's own curve) and an MLP genre classifier
   (x_* -> genre), both with genre-balanced sample weights.
3. Evaluate on the validation packages against (a) the genre's mean target and (b) leaving
   the mix as it is; write training/REPORT.md.
4. Refit on all packages and export one ONNX graph (IR 8, opset 17) with metadata, plus
   models/golden.json (input rows and onnxruntime's outputs) for the Rust test.

Usage: train.py DATASET.csv [--manifest M] [--model-out models/x.onnx] [--report R.md]
"""

import argparse
import warnings
import csv
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Validation packages for the Debian corpus: one per genre that has more than one package
# (chiptune has one package only, so it is trained on but not validated).
DEFAULT_VAL_SOURCES = [
    "wesnoth-1.16-music",  # orchestral
    "nexuiz-music",  # electronic
    "singularity-music",  # ambient
    "fretsonfire-songs-muldjord",  # rock-metal
    "fretsonfire-songs-sectoid",  # rock-metal
]

FEATURES_SCHEMA_VERSION = 1
# Strong L2 on the classifier: with one validation package per genre, weaker values learn
# package signatures (46.6 % validation accuracy at 1e-2 and 1, 56.8 % at 10).
CLASSIFIER_ALPHA = 10.0
BANDS = 31


def band_centers_hz():
    return [1000.0 * 10 ** (k / 10) for k in range(-17, 14)]


# --------------------------------------------------------------------------------------------
# data


class Data:
    def __init__(self, path):
        with open(path, newline="") as f:
            r = csv.reader(f)
            header = next(r)
            rows = list(r)
        if not rows:
            raise SystemExit(f"{path}: no rows")
        self.header = header
        col = {h: i for i, h in enumerate(header)}
        self.x_names = [h[2:] for h in header if h.startswith("x_")]
        self.y_names = [h[2:] for h in header if h.startswith("y_")]
        xi = [col["x_" + n] for n in self.x_names]
        yi = [col["y_" + n] for n in self.y_names]
        a = np.array(rows, dtype=object)
        self.X = a[:, xi].astype(np.float64)
        self.Y = a[:, yi].astype(np.float64)
        self.genre = np.array([str(v) for v in a[:, col["genre"]]])
        self.source = np.array([str(v) for v in a[:, col["source"]]])
        self.track = np.array([str(v) for v in a[:, col["track"]]])
        self.bandwidth_hz = a[:, col["master_bandwidth_hz"]].astype(np.float64)
        self.duration_s = a[:, col["duration_s"]].astype(np.float64)
        self.variant = a[:, col["variant"]].astype(int)
        # Which y columns are band curves, and the x column that measures the same band on
        # the mix (for the residual parameterisation and the "leave it" baseline).
        self.mid_y = [i for i, n in enumerate(self.y_names) if n.startswith("target_mid_db_")]
        self.side_y = [i for i, n in enumerate(self.y_names) if n.startswith("target_side_db_")]
        self.curve_y = self.mid_y + self.side_y
        self.curve_x = [self.x_names.index("mid_norm_db_" + self.y_names[i][-2:]) for i in self.mid_y] + [
            self.x_names.index("side_norm_db_" + self.y_names[i][-2:]) for i in self.side_y
        ]
        centers = np.array(band_centers_hz())
        # in_band[r, k]: band k of row r lies below the master's measured bandwidth.
        self.in_band = centers[None, :] <= self.bandwidth_hz[:, None] * 1.0001
        self.mask = np.ones_like(self.Y, dtype=bool)
        self.mask[:, self.mid_y] = self.in_band
        self.mask[:, self.side_y] = self.in_band
        # Above the bandwidth the target is "leave the mix as it is" (the renderer never
        # boosts there): fill those targets with the mix's own value.
        self.Yfill = self.Y.copy()
        for yk, xk in zip(self.curve_y, self.curve_x):
            m = ~self.mask[:, yk]
            self.Yfill[m, yk] = self.X[m, xk]


def leave_as_is(d, X):
    """Baseline (b): the mix's own measurements as the target."""
    n = len(X)
    P = np.zeros((n, len(d.y_names)))
    for yk, xk in zip(d.curve_y, d.curve_x):
        P[:, yk] = X[:, xk]
    xi = {name: i for i, name in enumerate(d.x_names)}
    for k, name in enumerate(d.y_names):
        if name == "target_integrated_lufs":
            P[:, k] = X[:, xi["integrated_lufs"]]
        elif name == "target_plr_db":
            P[:, k] = X[:, xi["plr_db"]]
        elif name == "target_short_term_spread_lu":
            P[:, k] = X[:, xi["short_term_p95_rel_lu"]] - X[:, xi["short_term_p10_rel_lu"]]
        elif name == "target_width_db":
            P[:, k] = X[:, xi["width_db"]]
    return P


def genre_weights(genres, names):
    """Sample weights that give every genre the same total weight (mean weight 1)."""
    counts = {g: np.sum(genres == g) for g in names}
    w = np.array([1.0 / counts[g] for g in genres])
    return w * len(w) / w.sum()


# --------------------------------------------------------------------------------------------
# model


class TargetsModel:
    """Standardise x; append genre one-hot; MLP -> standardised y; curves as residuals."""

    def __init__(self, genres, hidden, alpha, seed, residual=True, max_iter=600, genre_scale=1.0):
        self.genres = list(genres)
        # The one-hot enters the network multiplied by this: its weights can be that much
        # smaller, so L2 penalises using the genre genre_scale^2 times less than using a
        # feature. Without it the strongly regularised net ignores the genre entirely.
        self.genre_scale = genre_scale
        self.hidden = hidden
        self.alpha = alpha
        self.seed = seed
        self.residual = residual
        self.max_iter = max_iter

    def _one_hot(self, g):
        return self.genre_scale * np.array([[1.0 if gi == name else 0.0 for name in self.genres] for gi in g])

    def base_matrix(self, d):
        """S (inputs x outputs): the network's output is added to `features @ S`, the mix's
        own measurement of each target ("leave it as it is"), so regularisation shrinks the
        model toward leaving the mix alone. Integrated loudness has no base (a mix's level
        says nothing about its master's)."""
        S = np.zeros((len(d.x_names), len(d.y_names)))
        if not self.residual:
            return S
        for yk, xk in zip(d.curve_y, d.curve_x):
            S[xk, yk] = 1.0
        xi = {n: i for i, n in enumerate(d.x_names)}
        for k, name in enumerate(d.y_names):
            if name == "target_plr_db":
                S[xi["plr_db"], k] = 1.0
            elif name == "target_width_db":
                S[xi["width_db"], k] = 1.0
            elif name == "target_short_term_spread_lu":
                S[xi["short_term_p95_rel_lu"], k] = 1.0
                S[xi["short_term_p10_rel_lu"], k] = -1.0
        return S

    def _base(self, d, X):
        return X @ self.base_matrix(d)

    scalar_head = None

    def with_scalar_head(self, hidden, alpha, genre_scale):
        """Predict the scalar targets (loudness, PLR, spread, width) with a second network
        of its own size, L2 and genre scale; the band curves come from this one."""
        self.scalar_cfg = (hidden, alpha, genre_scale)
        return self

    def fit(self, d, idx, classifier=True):
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        cfg = getattr(self, "scalar_cfg", None)
        if cfg is not None:
            self.scalar_head = TargetsModel(self.genres, cfg[0], cfg[1], self.seed, self.residual, self.max_iter,
                                            cfg[2]).fit(d, idx, classifier=False)
            self.scalar_cols = [k for k in range(len(d.y_names)) if k not in set(d.curve_y)]

        X, Y, G = d.X[idx], d.Yfill[idx], d.genre[idx]
        self.x_mean = X.mean(0)
        self.x_std = X.std(0) + 1e-3
        Xs = (X - self.x_mean) / self.x_std
        R = Y - self._base(d, X)
        self.y_mean = R.mean(0)
        self.y_std = R.std(0) + 1e-3
        Rs = (R - self.y_mean) / self.y_std
        w = genre_weights(G, self.genres)
        self.reg = MLPRegressor(
            hidden_layer_sizes=self.hidden, alpha=self.alpha, random_state=self.seed,
            max_iter=self.max_iter, early_stopping=False, learning_rate_init=1e-3,
            batch_size=min(128, len(X)), tol=1e-5, n_iter_no_change=30,
        )
        self.reg.fit(np.hstack([Xs, self._one_hot(G)]), Rs, sample_weight=w)
        if not classifier:
            return self
        present = [g for g in self.genres if np.any(G == g)]
        if len(present) != len(self.genres):
            raise SystemExit(f"genres without training rows: {set(self.genres) - set(present)}")
        self.clf = MLPClassifier(
            hidden_layer_sizes=(32,), alpha=CLASSIFIER_ALPHA, random_state=self.seed, max_iter=800,
            batch_size=min(128, len(X)), tol=1e-5, n_iter_no_change=30,
        )
        self.clf.fit(Xs, G, sample_weight=w)
        if list(self.clf.classes_) != self.genres:
            raise SystemExit(f"classifier classes {self.clf.classes_} != genres {self.genres}")
        return self

    def predict(self, d, X, G):
        Xs = (X - self.x_mean) / self.x_std
        Rs = self.reg.predict(np.hstack([Xs, self._one_hot(G)]))
        if Rs.ndim == 1:
            Rs = Rs[:, None]
        P = Rs * self.y_std + self.y_mean + self._base(d, X)
        if self.scalar_head is not None:
            P[:, self.scalar_cols] = self.scalar_head.predict(d, X, G)[:, self.scalar_cols]
        return P

    def proba(self, X):
        return self.clf.predict_proba((X - self.x_mean) / self.x_std)


# --------------------------------------------------------------------------------------------
# evaluation


def mae(P, Y, M, cols):
    m = M[:, cols]
    e = np.abs(P[:, cols] - Y[:, cols])
    return float(e[m].mean()) if m.any() else float("nan")


def evaluate(d, tr, va, model):
    Yv, Mv, Gv = d.Y[va], d.mask[va], d.genre[va]
    P_model = model.predict(d, d.X[va], Gv)
    # (a) genre mean of the training masters (masked bands excluded from the mean).
    P_mean = np.zeros_like(Yv)
    for g in np.unique(Gv):
        tg = tr[d.genre[tr] == g]
        Yt = np.where(d.mask[tg], d.Y[tg], np.nan)
        mu = np.nanmean(Yt, axis=0)
        mu = np.where(np.isnan(mu), np.nanmean(d.Y[tg], axis=0), mu)
        P_mean[Gv == g] = mu
    P_leave = leave_as_is(d, d.X[va])
    name_idx = {n: i for i, n in enumerate(d.y_names)}
    centers = np.array(band_centers_hz())
    core = [k for k, c in enumerate(centers) if 40 <= c <= 16500]
    mid_core = [d.mid_y[k] for k in core]
    outputs = [
        ("mid band curve (dB, in-band)", d.mid_y),
        ("side band curve (dB, in-band)", d.side_y),
        ("mid band curve 40 Hz-16 kHz (dB)", mid_core),
        ("integrated loudness (LU)", [name_idx["target_integrated_lufs"]]),
        ("PLR (dB)", [name_idx["target_plr_db"]]),
        ("short-term spread p95-p10 (LU)", [name_idx["target_short_term_spread_lu"]]),
        ("width side/mid (dB)", [name_idx["target_width_db"]]),
    ]
    table = []
    for label, cols in outputs:
        table.append((label, mae(P_model, Yv, Mv, cols), mae(P_mean, Yv, Mv, cols), mae(P_leave, Yv, Mv, cols)))
    per_genre = []
    for g in sorted(np.unique(Gv)):
        s = Gv == g
        per_genre.append((g, int(s.sum()), mae(P_model[s], Yv[s], Mv[s], d.mid_y),
                          mae(P_mean[s], Yv[s], Mv[s], d.mid_y), mae(P_leave[s], Yv[s], Mv[s], d.mid_y)))
    # How much the genre input matters: the same validation mixes predicted as each genre.
    li = name_idx["target_integrated_lufs"]
    forced = {g: model.predict(d, d.X[va], np.array([g] * len(va))) for g in model.genres}
    sensitivity = {
        "lufs": {g: float(forced[g][:, li].mean()) for g in model.genres},
        "curve_diff_db": float(np.mean([np.abs(forced[a][:, d.mid_y] - forced[b][:, d.mid_y]).mean()
                                         for a in model.genres for b in model.genres if a < b])),
    }
    proba = model.proba(d.X[va])
    pred = np.array(model.genres)[proba.argmax(1)]
    acc = float((pred == Gv).mean())
    conf = {(a, b): int(np.sum((Gv == a) & (pred == b))) for a in model.genres for b in model.genres}
    return {"table": table, "per_genre": per_genre, "accuracy": acc, "confusion": conf, "n": len(va),
            "sensitivity": sensitivity}


# --------------------------------------------------------------------------------------------
# ONNX export


def export_onnx(model, d, meta, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    F, G, O = len(d.x_names), len(model.genres), len(d.y_names)
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
        return name

    nodes.append(helper.make_node("Sub", ["features", const("x_mean", model.x_mean)], ["xc"]))
    nodes.append(helper.make_node("Mul", ["xc", const("x_inv_std", 1.0 / model.x_std)], ["xs"]))

    def mlp(prefix, inp, net):
        h = inp
        for i, (W, b) in enumerate(zip(net.coefs_, net.intercepts_)):
            mm = f"{prefix}_mm{i}"
            nodes.append(helper.make_node("MatMul", [h, const(f"{prefix}_W{i}", W)], [mm]))
            ad = f"{prefix}_add{i}"
            nodes.append(helper.make_node("Add", [mm, const(f"{prefix}_b{i}", b)], [ad]))
            if i < len(net.coefs_) - 1:
                if net.activation != "relu":
                    raise SystemExit("export supports relu MLPs only")
                r = f"{prefix}_relu{i}"
                nodes.append(helper.make_node("Relu", [ad], [r]))
                h = r
            else:
                h = ad
        return h

    def regressor(p, m):
        """One regressor branch: its own standardisation, genre scale, MLP and base."""
        nodes.append(helper.make_node("Sub", ["features", const(f"{p}_x_mean", m.x_mean)], [f"{p}_xc"]))
        nodes.append(helper.make_node("Mul", [f"{p}_xc", const(f"{p}_x_inv_std", 1.0 / m.x_std)], [f"{p}_xs"]))
        nodes.append(helper.make_node("Mul", ["genre", const(f"{p}_genre_scale", [m.genre_scale])], [f"{p}_g"]))
        nodes.append(helper.make_node("Concat", [f"{p}_xs", f"{p}_g"], [f"{p}_in"], axis=1))
        r_out = mlp(p, f"{p}_in", m.reg)
        nodes.append(helper.make_node("Mul", [r_out, const(f"{p}_y_std", m.y_std)], [f"{p}_scaled"]))
        nodes.append(helper.make_node("Add", [f"{p}_scaled", const(f"{p}_y_mean", m.y_mean)], [f"{p}_abs"]))
        if m.residual:
            S = m.base_matrix(d)
            nodes.append(helper.make_node("MatMul", ["features", const(f"{p}_base_select", S)], [f"{p}_base"]))
            nodes.append(helper.make_node("Add", [f"{p}_abs", f"{p}_base"], [f"{p}_out"]))
            return f"{p}_out"
        return f"{p}_abs"

    main = regressor("reg", model)
    if model.scalar_head is None:
        nodes.append(helper.make_node("Identity", [main], ["targets"]))
    else:
        sc = regressor("sreg", model.scalar_head)
        w = np.zeros(O)
        w[model.scalar_cols] = 1.0
        nodes.append(helper.make_node("Mul", [main, const("curve_mask", 1.0 - w)], ["t_curves"]))
        nodes.append(helper.make_node("Mul", [sc, const("scalar_mask", w)], ["t_scalars"]))
        nodes.append(helper.make_node("Add", ["t_curves", "t_scalars"], ["targets"]))
    c_out = mlp("clf", "xs", model.clf)
    if len(model.genres) == 2:
        nodes.append(helper.make_node("Sigmoid", [c_out], ["p1"]))
        nodes.append(helper.make_node("Sub", [const("one", [1.0]), "p1"], ["p0"]))
        nodes.append(helper.make_node("Concat", ["p0", "p1"], ["genre_probabilities"], axis=1))
    else:
        nodes.append(helper.make_node("Softmax", [c_out], ["genre_probabilities"], axis=1))

    graph = helper.make_graph(
        nodes, "lathe_targets",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", F]),
         helper.make_tensor_value_info("genre", TensorProto.FLOAT, ["N", G])],
        [helper.make_tensor_value_info("targets", TensorProto.FLOAT, ["N", O]),
         helper.make_tensor_value_info("genre_probabilities", TensorProto.FLOAT, ["N", G])],
        inits,
    )
    m = helper.make_model(graph, producer_name="lathe-training", opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    m.doc_string = "lathe genre-aware mastering targets (see training/REPORT.md)"
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(path))
    return m


def run_onnx(path, X, G1):
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    t, p = s.run(["targets", "genre_probabilities"], {"features": X.astype(np.float32), "genre": G1.astype(np.float32)})
    return t, p


# --------------------------------------------------------------------------------------------


def fingerprint(paths):
    h = hashlib.sha256()
    for p in paths:
        if p and Path(p).exists():
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def genre_minutes(manifest, d, genres):
    """Minutes and tracks per genre: from the manifest (whole tracks) when given, else from
    the dataset (cropped durations)."""
    out = {g: [0.0, 0] for g in genres}
    seen = set()
    used = set(zip(d.source, d.track))
    if manifest and Path(manifest).exists():
        with open(manifest, newline="") as f:
            for r in csv.DictReader(f):
                key = (r.get("source", ""), r.get("track", ""))
                if key in used and r["genre"] in out and key not in seen:
                    seen.add(key)
                    out[r["genre"]][0] += float(r.get("duration_s") or 0) / 60
                    out[r["genre"]][1] += 1
    if not seen:
        for s, t, g, dur in zip(d.source, d.track, d.genre, d.duration_s):
            if (s, t) not in seen:
                seen.add((s, t))
                out[g][0] += dur / 60
                out[g][1] += 1
    return out


def master_stats(d, genre):
    """Medians over the genre's masters (one row per track): what its masters measure."""
    rows = (d.genre == genre) & (d.variant == 0)
    idx = {n: i for i, n in enumerate(d.y_names)}
    if not rows.any():
        return {}
    med = lambda name: round(float(np.median(d.Y[rows, idx[name]])), 2)
    return {"master_lufs_median": med("target_integrated_lufs"), "master_plr_db_median": med("target_plr_db")}


def write_report(path, d, ev, tr_sources, va_sources, minutes, args, timings, model_path, size_bytes, final_note):
    L = []
    L.append("# lathe targets model: training report")
    L.append("")
    L.append(f"Generated by `training/train.py` on {datetime.date.today().isoformat()} from `{Path(args.dataset).name}` "
             f"({len(d.X)} rows, {len(set(zip(d.source, d.track)))} tracks). Do not edit by hand.")
    L.append("")
    L.append("## Data")
    L.append("")
    L.append("| genre | minutes | tracks | train rows | validation rows |")
    L.append("|---|---:|---:|---:|---:|")
    for g, (mins, tracks) in minutes.items():
        ntr = int(np.sum((d.genre == g) & np.isin(d.source, tr_sources)))
        nva = int(np.sum((d.genre == g) & np.isin(d.source, va_sources)))
        L.append(f"| {g} | {mins:.0f} | {tracks} | {ntr} | {nva} |")
    L.append("")
    L.append(f"Validation packages (held out entirely, split by source package): {', '.join(va_sources)}.")
    L.append(f"Training packages: {', '.join(tr_sources)}.")
    L.append("")
    L.append("## Targets: mean absolute error on the validation packages")
    L.append("")
    L.append("Band curves are third-octave level minus integrated loudness; errors are averaged over bands "
             "below each master's measured bandwidth. Baselines: (a) the genre's mean target over the "
             "training masters (no ML); (b) leave the mix as it is.")
    L.append("")
    L.append("| output | model | (a) genre mean | (b) leave as is | model vs (a) |")
    L.append("|---|---:|---:|---:|---:|")
    for label, m, a, b in ev["table"]:
        rel = f"{100 * (m - a) / a:+.0f} %" if a > 1e-9 else "n/a"
        L.append(f"| {label} | {m:.2f} | {a:.2f} | {b:.2f} | {rel} |")
    L.append("")
    mid = ev["table"][0]
    goal = (mid[2] - mid[1]) / mid[2]
    verdict = "met" if goal >= 0.25 else "NOT met"
    L.append(f"Goal (mid band-curve error at least 25 % below the genre-mean baseline): **{verdict}** "
             f"({100 * goal:.0f} % lower).")
    L.append("")
    L.append("Mid band-curve MAE per validation genre (dB):")
    L.append("")
    L.append("| genre | rows | model | (a) genre mean | (b) leave as is |")
    L.append("|---|---:|---:|---:|---:|")
    for g, n, m, a, b in ev["per_genre"]:
        L.append(f"| {g} | {n} | {m:.2f} | {a:.2f} | {b:.2f} |")
    L.append("")
    sens = ev["sensitivity"]
    L.append("How much the genre choice changes the targets (all validation mixes predicted as each genre): "
             "mean target loudness " + ", ".join(f"{g} {v:.1f} LUFS" for g, v in sens["lufs"].items())
             + f"; mean absolute difference of the mid curve between two genres: {sens['curve_diff_db']:.2f} dB. "
             "The mix's own measurements dominate: un-mastered pairs teach 'restore this mix's master', and a "
             "mix already carries its genre.")
    L.append("")
    L.append("## Genre classifier")
    L.append("")
    L.append(f"Accuracy on the validation packages: **{100 * ev['accuracy']:.1f} %** ({ev['n']} rows). "
             "Rows: true genre; columns: predicted.")
    L.append("")
    gs = [g for g in minutes]
    L.append("| true \\ predicted | " + " | ".join(gs) + " |")
    L.append("|---|" + "---:|" * len(gs))
    val_genres = sorted(set(d.genre[np.isin(d.source, va_sources)]))
    for a in gs:
        if a in val_genres:
            L.append(f"| {a} | " + " | ".join(str(ev["confusion"][(a, b)]) for b in gs) + " |")
    L.append("")
    L.append("## Model")
    L.append("")
    L.append(f"- Regressor: MLP {args.hidden} (ReLU, L2 alpha {args.alpha}), inputs = {len(d.x_names)} mix features "
             f"(standardised) + genre one-hot (x{args.genre_scale:g}); outputs = {len(d.y_names)} targets (standardised); band curves "
             + ("predicted as a correction of the mix's own measurement (band curves, PLR, spread, width)" if args.residual else "predicted directly")
             + ". Genre-balanced sample weights.")
    if args.cv_scores:
        L.append("- Chosen by 3-fold cross-validation grouped by source package over the training packages "
                 "only (mid band-curve MAE, dB): "
                 + "; ".join(f"{h} alpha {a} {'residual' if r else 'direct'} genre x{gs:g}: {sc[0]:.3f}"
                             for (h, a, r, gs), sc in args.cv_scores) + ".")
    if args.scalar_cfg is not None:
        h, a, r, gs = args.scalar_cfg
        L.append(f"- Scalar targets (loudness, PLR, spread, width) come from a second MLP {h}, alpha {a}, "
                 f"genre one-hot x{gs:g}, chosen by the same cross-validation on the mean scalar MAE: "
                 + "; ".join(f"{hh} alpha {aa} {'residual' if rr else 'direct'} genre x{gg:g}: {sc[1]:.3f}"
                             for (hh, aa, rr, gg), sc in args.cv_scores) + ".")
    L.append(f"- Classifier: MLP (32) on the standardised mix features, L2 alpha {CLASSIFIER_ALPHA}, "
             "genre-balanced sample weights.")
    L.append(f"- {final_note}")
    L.append(f"- Exported: `{model_path}` ({size_bytes / 1024:.0f} KiB), ONNX IR 8, opset 17.")
    L.append(f"- Fit time: evaluation model {timings['eval']:.0f} s, final model {timings['final']:.0f} s (this machine).")
    L.append("")
    Path(path).write_text("\n".join(L) + "\n")


def cv_select(d, tr, genres, candidates, seed, max_iter, folds=3):
    """Grouped K-fold over the training sources (never the validation packages): mean in-band
    mid band-curve MAE of each candidate (hidden, alpha, residual)."""
    srcs = sorted(set(d.source[tr]), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    fold_of = {s: i % folds for i, s in enumerate(srcs)}
    f = np.array([fold_of[s] for s in d.source[tr]])
    scores = []
    for hidden, alpha, residual, gscale in candidates:
        errs = []
        for k in range(folds):
            fit_idx, ho = tr[f != k], tr[f == k]
            if len(ho) == 0 or len(set(d.genre[fit_idx])) < len(genres):
                # keep every genre in the fit; a fold that removes one is not scored
                fit_genres = set(d.genre[fit_idx])
                ho = ho[np.isin(d.genre[ho], list(fit_genres))]
                if len(ho) == 0:
                    continue
            m = TargetsModel(genres, hidden, alpha, seed, residual, max_iter, gscale).fit(d, fit_idx, classifier=False)
            P = m.predict(d, d.X[ho], d.genre[ho])
            scalar = [k for k in range(len(d.y_names)) if k not in set(d.curve_y)]
            errs.append((mae(P, d.Y[ho], d.mask[ho], d.mid_y),
                         float(np.mean([mae(P, d.Y[ho], d.mask[ho], [k]) for k in scalar]))))
        score = tuple(float(v) for v in np.mean(errs, axis=0))
        print(f"  cv hidden={hidden} alpha={alpha} residual={residual} genre_scale={gscale}: "
              f"mid MAE {score[0]:.3f}, scalar MAE {score[1]:.3f}", file=sys.stderr)
        scores.append(((hidden, alpha, residual, gscale), score))
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("--manifest", default=str(HERE / "manifest.csv"))
    ap.add_argument("--model-out", default=str(ROOT / "models" / "lathe-genre-targets.onnx"))
    ap.add_argument("--golden-out", default=str(ROOT / "models" / "golden.json"))
    ap.add_argument("--report", default=str(HERE / "REPORT.md"))
    ap.add_argument("--val-sources", default=",".join(DEFAULT_VAL_SOURCES),
                    help="comma-separated source packages to validate on, or 'auto'")
    ap.add_argument("--hidden", default="32")
    ap.add_argument("--alpha", type=float, default=30.0)
    ap.add_argument("--max-iter", type=int, default=600)
    ap.add_argument("--no-residual", action="store_true")
    ap.add_argument("--genre-scale", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--select", action="store_true",
                    help="choose hidden/alpha/residual by grouped CV over the training packages")
    ap.add_argument("--no-final-refit", action="store_true",
                    help="ship the evaluated model instead of refitting on all packages")
    args = ap.parse_args()
    # sklearn warns when max_iter ends the fit; the iteration budget is a deliberate choice.
    warnings.filterwarnings("ignore", message=".*Maximum iterations.*")
    hidden = tuple(int(h) for h in args.hidden.split(","))

    d = Data(args.dataset)
    genres = sorted(str(g) for g in set(d.genre))
    sources = sorted(str(s) for s in set(d.source))
    va_sources = [s for s in args.val_sources.split(",") if s in sources] if args.val_sources != "auto" else []
    if not va_sources:
        # auto: per genre with >1 source, hold out the source closest to a quarter of its rows
        for g in genres:
            gs = sorted(set(d.source[d.genre == g]))
            if len(gs) < 2:
                continue
            n = {s: np.sum((d.source == s) & (d.genre == g)) for s in gs}
            total = sum(n.values())
            va_sources.append(min(gs, key=lambda s: (abs(n[s] - total / 4), s)))
        va_sources = sorted(set(va_sources))
    tr_sources = [s for s in sources if s not in va_sources]
    tr = np.where(np.isin(d.source, tr_sources))[0]
    va = np.where(np.isin(d.source, va_sources))[0]
    print(f"{len(d.X)} rows, genres {genres}; train {len(tr)} rows, validation {len(va)} rows ({va_sources})",
          file=sys.stderr)

    residual = not args.no_residual
    cv_scores = []
    if args.select:
        candidates = [((32,), 100.0, True, 1.0), ((32,), 30.0, True, 1.0), ((32,), 100.0, True, 30.0),
                      ((32,), 100.0, True, 60.0), ((16,), 100.0, True, 30.0), ((64, 64), 100.0, True, 30.0),
                      ((32,), 100.0, False, 30.0)]
        cv_scores = cv_select(d, tr, genres, candidates, args.seed, args.max_iter)
        (hidden, args.alpha, residual, args.genre_scale), _ = min(cv_scores, key=lambda c: c[1][0])
        scalar_cfg, _ = min(cv_scores, key=lambda c: c[1][1])
        args.scalar_cfg = scalar_cfg
        print(f"  scalar head: hidden={scalar_cfg[0]} alpha={scalar_cfg[1]} genre_scale={scalar_cfg[3]}",
              file=sys.stderr)
        args.hidden = ",".join(str(h) for h in hidden)
        print(f"  selected hidden={hidden} alpha={args.alpha} residual={residual} genre_scale={args.genre_scale}",
              file=sys.stderr)
    args.residual = residual
    args.cv_scores = cv_scores
    args.scalar_cfg = getattr(args, "scalar_cfg", None)
    t0 = time.time()
    def make():
        m = TargetsModel(genres, hidden, args.alpha, args.seed, residual, args.max_iter, args.genre_scale)
        if args.scalar_cfg is not None and args.scalar_cfg[2]:
            m.with_scalar_head(args.scalar_cfg[0], args.scalar_cfg[1], args.scalar_cfg[3])
        return m

    m_eval = make().fit(d, tr)
    t_eval = time.time() - t0
    ev = evaluate(d, tr, va, m_eval)
    for label, m, a, b in ev["table"]:
        print(f"  {label:36s} model {m:6.2f}  genre-mean {a:6.2f}  leave {b:6.2f}", file=sys.stderr)
    print(f"  genre accuracy {100 * ev['accuracy']:.1f} %", file=sys.stderr)

    t0 = time.time()
    if args.no_final_refit:
        final, note = m_eval, "Shipped model = the evaluated model (trained on the training packages only)."
    else:
        final = make().fit(d, np.arange(len(d.X)))
        note = ("Shipped model: the same recipe refitted on all packages (training + validation) after the "
                "evaluation above; the numbers above are for the model fitted on the training packages only.")
    t_final = time.time() - t0

    minutes = genre_minutes(args.manifest, d, genres)
    meta = {
        "lathe.features_schema_version": str(FEATURES_SCHEMA_VERSION),
        "lathe.input_names": ",".join(d.x_names),
        "lathe.input_count": str(len(d.x_names)),
        "lathe.input_names_sha256": hashlib.sha256(",".join(d.x_names).encode()).hexdigest()[:16],
        "lathe.output_names": ",".join(d.y_names),
        "lathe.genres": json.dumps([{"name": g, "minutes": round(minutes[g][0], 1), "tracks": minutes[g][1],
                                     **master_stats(d, g)} for g in genres]),
        "lathe.band_centers_hz": ",".join(f"{c:.4f}" for c in band_centers_hz()),
        "lathe.data_fingerprint": fingerprint([args.manifest, args.dataset]),
        "lathe.created": datetime.date.today().isoformat(),
        "lathe.description": f"MLP {args.hidden} targets + MLP (32) genre classifier; "
                             f"validation packages: {', '.join(va_sources)}",
    }
    out = Path(args.model_out)
    export_onnx(final, d, meta, out)

    # Check the graph against sklearn, then write the golden file.
    pick = np.linspace(0, len(d.X) - 1, num=min(6, len(d.X))).astype(int)
    Xg = d.X[pick]
    Gg = np.array([[1.0 if g == name else 0.0 for name in genres] for g in d.genre[pick]])
    Gg[-1] = 0.0  # one row with no genre (classifier-only use)
    t, p = run_onnx(out, Xg, Gg)
    ref_t = final.predict(d, Xg[:-1], d.genre[pick][:-1])
    ref_p = final.proba(Xg)
    err_t = float(np.abs(t[:-1] - ref_t).max())
    err_p = float(np.abs(p - ref_p).max())
    print(f"  onnxruntime vs sklearn: targets {err_t:.2e}, probabilities {err_p:.2e}", file=sys.stderr)
    if err_t > 1e-2 or err_p > 1e-4:
        raise SystemExit("exported graph disagrees with sklearn")
    golden = {
        "model": out.name,
        "onnxruntime_version": __import__("onnxruntime").__version__,
        "genres": genres,
        "rows": [{"features": [float(v) for v in np.float32(Xg[i])], "genre": [float(v) for v in Gg[i]],
                  "targets": [float(v) for v in t[i]], "genre_probabilities": [float(v) for v in p[i]]}
                 for i in range(len(pick))],
    }
    Path(args.golden_out).write_text(json.dumps(golden, indent=1) + "\n")
    size = out.stat().st_size
    write_report(args.report, d, ev, tr_sources, va_sources, minutes, args,
                 {"eval": t_eval, "final": t_final}, os.path.relpath(out, ROOT), size, note)
    print(f"wrote {out} ({size / 1024:.0f} KiB), {args.golden_out}, {args.report}", file=sys.stderr)


if __name__ == "__main__":
    main()
