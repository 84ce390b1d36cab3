#!/usr/bin/env python3
"""Cuts the central SECONDS of every track of a manifest without lossy re-encoding (ffmpeg stream
copy: the Vorbis, Opus or MP3 packets are copied, so the decoded audio is the source's; FLAC is
re-encoded as FLAC, which is lossless, because a stream copy keeps the source's STREAMINFO and
its promise of the whole track's length, which lathe rightly reads as a truncated file),
and writes a manifest of the cuts with the same columns. `lathe dataset` then decodes 40 s per
track instead of whole tracks (decoding was most of the dataset's time).

Usage: crop_centre.py MANIFEST OUT_DIR OUT_MANIFEST [--seconds 40]
"""

import argparse
import csv
import subprocess
import sys
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("out_dir")
    ap.add_argument("out_manifest")
    ap.add_argument("--seconds", type=float, default=40.0)
    a = ap.parse_args()
    manifest = Path(a.manifest)
    out_dir = Path(a.out_dir).absolute()
    rows = list(csv.DictReader(open(manifest, newline="")))
    out = []
    for r in rows:
        src = Path(r["path"])
        if not src.is_absolute():
            src = manifest.parent / src
        dur = float(r["duration_s"])
        start = max(0.0, (dur - a.seconds) / 2)
        dst = out_dir / r["source"] / (Path(r["path"]).stem + src.suffix)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            codec = "flac" if src.suffix.lower() == ".flac" else "copy"
            tmp = dst.with_name(dst.stem + ".part" + dst.suffix)
            res = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{start:.3f}", "-t",
                                  f"{a.seconds:.3f}", "-i", str(src), "-map", "0:a", "-c:a", codec, str(tmp)])
            if res.returncode != 0:
                print(f"cannot cut {src}", file=sys.stderr)
                continue
            tmp.rename(dst)
        out.append(dict(r, path=str(dst)))
    with open(a.out_manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(out)
    print(f"wrote {a.out_manifest}: {len(out)} of {len(rows)} tracks cut to {a.seconds:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
