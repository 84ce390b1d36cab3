#!/usr/bin/env python3
"""Prints the per-package and per-genre tables of datasets.md from training/manifest.csv
(minutes are whole extracted files; planetblupi's loops count one pass)."""

import collections
import csv
import sys
from pathlib import Path

VALIDATION = {"wesnoth-1.16-music", "nexuiz-music", "singularity-music", "fretsonfire-songs-muldjord",
              "fretsonfire-songs-sectoid", "heroes-sound-tracks", "hedgewars-data", "pushover-data"}


def main():
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("manifest.csv"))
    rows = list(csv.DictReader(open(path, newline="")))
    by_pkg = collections.defaultdict(list)
    for r in rows:
        by_pkg[r["source"]].append(r)
    print("| package (version) | tracks | minutes | genres (tracks) | license(s) | format | role |")
    print("|---|---:|---:|---|---|---|---|")
    for pkg, rs in by_pkg.items():
        genres = collections.Counter(r["genre"] for r in rs)
        lic = sorted({r["license"] for r in rs})
        fmt = sorted({r["original_format"].split(" (")[0] for r in rs})
        minutes = sum(float(r["duration_s"]) for r in rs) / 60
        role = "**validation**" if pkg in VALIDATION else "train"
        print(f"| {pkg} ({rs[0]['source_version']}) | {len(rs)} | {minutes:.0f} | "
              + ", ".join(f"{g} ({n})" for g, n in genres.most_common()) + f" | {', '.join(lic)} | "
              f"{', '.join(fmt)} | {role} |")
    print()
    print("| genre | minutes | tracks | packages | validation packages (tracks) |")
    print("|---|---:|---:|---:|---|")
    by_genre = collections.defaultdict(list)
    for r in rows:
        by_genre[r["genre"]].append(r)
    for g, rs in sorted(by_genre.items(), key=lambda kv: -sum(float(r["duration_s"]) for r in kv[1])):
        minutes = sum(float(r["duration_s"]) for r in rs) / 60
        pk = collections.Counter(r["source"] for r in rs)
        val = ", ".join(f"{p} ({n})" for p, n in pk.items() if p in VALIDATION) or "none"
        print(f"| {g} | {minutes:.0f} | {len(rs)} | {len(pk)} | {val} |")


if __name__ == "__main__":
    main()
