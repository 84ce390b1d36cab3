#!/usr/bin/env python3
"""Fetches lathe's training music from Debian's archive and writes training/manifest.csv.

Only the packages listed in DATA-SOURCES.md are used (see datasets.md). Steps:

1. `fetch_debs.sh`: `apt-get download` each package into $LATHE_DATA/debs (skipped if present).
2. Extract only the music (and each package's copyright file) from every .deb; unzip the
   pk3/zip archives that hold music (0ad-data, nexuiz-music, ufoai-music).
3. Copy Vorbis files as they are; convert Opus (warzone2100; symphonia cannot decode Opus)
   and tracker modules (tecnoballz, rendered once by libopenmpt) to FLAC with ffmpeg.
   MIDI (openttd-openmsx) is skipped: a General-MIDI render is synthetic, not a master.
4. Write the manifest: one row per track with path, genre, license (per file, from the
   package's DEP-5 copyright file or blobwars' .tags files), source package and more.

Usage: training/fetch_data.py [--data DIR] [--manifest PATH]
DIR defaults to $LATHE_DATA or training/data. Deterministic: same packages -> same manifest.
"""

import argparse
import csv
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Genre taxonomy (see datasets.md for why these five): package default + per-track overrides.
# Genres are judged from the game, the tags and the titles; never from listening.
PACKAGES = {
    # package: (default genre, how to find the music inside the .deb)
    "0ad-data": ("orchestral", {"zip": "usr/share/games/0ad/mods/public/public.zip", "inner": "audio/music/*.ogg"}),
    "warzone2100-music": ("electronic", {"glob": "usr/share/games/warzone2100/music/**/*.opus"}),
    "ufoai-music": ("orchestral", {"zip": "usr/share/games/ufoai/base/0music.pk3", "inner": "music/*.ogg"}),
    "wesnoth-1.16-music": ("orchestral", {"glob": "usr/share/games/wesnoth/1.16/data/core/music/*.ogg"}),
    "naev-data": ("ambient", {"glob": "usr/share/naev/dat/snd/music/*.ogg"}),
    "widelands-data": ("orchestral", {"glob": "usr/share/games/widelands/data/music/*.ogg"}),
    "nexuiz-music": ("electronic", {"zip": "usr/share/games/nexuiz/data/music.pk3", "inner": "sound/cdtracks/*.ogg"}),
    "blobwars-data": ("electronic", {"glob": "usr/share/games/blobwars/music/*", "no_ext": True}),
    "singularity-music": ("ambient", {"glob": "usr/share/games/singularity/music/**/*.ogg"}),
    "marsshooter-data": ("rock-metal", {"glob": "usr/share/games/marsshooter/audio/music/*.ogg"}),
    "unknown-horizons": ("orchestral", {"glob": "usr/share/unknown-horizons/content/audio/music/**/*.ogg"}),
    "tecnoballz-data": ("chiptune", {"glob": "usr/share/games/tecnoballz/musics/*.mod"}),
    "fretsonfire-songs-muldjord": ("rock-metal", {"glob": "usr/share/games/fretsonfire/data/songs/**/song.ogg"}),
    "fretsonfire-songs-sectoid": ("rock-metal", {"glob": "usr/share/games/fretsonfire/data/songs/**/song.ogg"}),
}

# Per-track genre overrides: (package, regex on the track name) -> genre.
OVERRIDES = [
    ("0ad-data", r"8Bit", "chiptune"),  # "0_8Bit_Bonus_Track"
    # Stuart Marshall's three tracks (own copyright stanza) are metal, the rest orchestral/folk.
    ("widelands-data", r"ingame_2[456]", "rock-metal"),
    # naev: battle/combat cues are driving electronic; the rest is space ambient.
    ("naev-data", r"battle|combat|dvaered|upbeat|pirate|imminent|collective|automat|machina|heartofmachine", "electronic"),
]

MIN_DURATION_S = 20.0

# Copyright files that are not machine-readable (DEP-5): the license stated in their prose.
LICENSE_FALLBACK = {
    "fretsonfire-songs-muldjord": "CC-BY-SA-3.0",
    "fretsonfire-songs-sectoid": "Expat (MIT-style)",
    "nexuiz-music": "GPL-2+",
    "singularity-music": "CC-BY-SA-3.0",
    "wesnoth-1.16-music": "GPL-2+",
}

# Not music: sound effects that sit among the music files.
EXCLUDE = [("nexuiz-music", r"^thunder$")]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def deb_for(debs: Path, pkg: str) -> Path:
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        raise SystemExit(f"missing {pkg} in {debs}: run fetch_debs.sh")
    return found[-1]


def extract_deb(deb: Path, dest: Path):
    """Extracts music folders, music archives and the copyright file of one .deb."""
    if dest.exists():
        return
    tmp = dest.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    # tar exits 2 when one of the patterns matches nothing in this package: that is fine.
    subprocess.run(
        ["tar", "-x", "-C", str(tmp), "--wildcards", "*music*", "*/copyright", "*songs*", "*.pk3", "*.zip"],
        stdin=tar.stdout,
        stderr=subprocess.DEVNULL,
    )
    tar.wait()
    tmp.rename(dest)


def parse_dep5(path: Path):
    """Returns [(patterns, license)] stanzas from a DEP-5 copyright file (in order)."""
    stanzas = []
    if not path.exists():
        return stanzas
    text = path.read_text(errors="replace")
    for para in re.split(r"\n\s*\n", text):
        files, lic, in_files = [], None, False
        for line in para.splitlines():
            if line.startswith("Files:"):
                files += line[len("Files:"):].split()
                in_files = True
            elif line.startswith((" ", "\t")) and in_files:
                files += line.split()
            else:
                in_files = False
                if line.startswith("License:") and lic is None:
                    lic = line[len("License:"):].strip()
        if files and lic:
            stanzas.append((files, lic))
    return stanzas


def license_for(stanzas, logical_path: str, default: str) -> str:
    """DEP-5: the last stanza whose pattern matches wins. Upstream paths differ from installed
    paths, so a pattern matches when it matches a suffix of the installed/archive path."""
    lic = default
    for patterns, l in stanzas:
        for p in patterns:
            p = p.lstrip("./")
            parts = p.split("/")
            # "data/audio/music/*" also matches ".../audio/music/x.ogg" (installed layout), but
            # a pattern is never shortened to a lone "*".
            candidates = ["/".join(parts[k:]) for k in range(len(parts) - 1)] if len(parts) > 1 else [p]
            if p == "*" or any(
                fnmatch.fnmatch(logical_path, "*/" + c) or fnmatch.fnmatch(logical_path, c)
                for c in candidates
            ):
                lic = l
    return lic


def blobwars_tags(path: Path) -> dict:
    tags = {}
    t = path.with_name(path.name + ".tags")
    if t.exists():
        for line in t.read_text(errors="replace").splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                tags[k.strip()] = v.strip()
    return tags


def probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=sample_rate,channels,codec_name",
         "-of", "json", str(path)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        return {}
    j = json.loads(out.stdout)
    s = (j.get("streams") or [{}])[0]
    return {
        "duration_s": float(j.get("format", {}).get("duration", 0) or 0),
        "sample_rate_hz": int(s.get("sample_rate", 0) or 0),
        "channels": int(s.get("channels", 0) or 0),
        "codec": s.get("codec_name", ""),
    }


def to_flac(src: Path, dst: Path):
    tmp = dst.with_name(dst.stem + ".part.flac")
    run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-c:a", "flac", str(tmp)])
    tmp.rename(dst)


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def collect(pkg: str, root: Path, spec: dict):
    """Yields (logical_path_for_license, track_name, source_file_or_zip_member)."""
    if "zip" in spec:
        zf = zipfile.ZipFile(root / spec["zip"])
        for name in sorted(zf.namelist()):
            if fnmatch.fnmatch(name, spec["inner"]):
                yield f"{spec['zip']}/{name}", Path(name).stem, (zf, name)
    else:
        for p in sorted(root.glob(spec["glob"])):
            if not p.is_file():
                continue
            if spec.get("no_ext") and p.suffix:
                continue
            rel = p.relative_to(root).as_posix()
            track = p.parent.name if p.name == "song.ogg" else p.stem
            yield rel, track, p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("LATHE_DATA", str(HERE / "data")))
    ap.add_argument("--manifest", default=str(HERE / "manifest.csv"))
    ap.add_argument("--skip-download", action="store_true")
    args = ap.parse_args()
    data = Path(args.data).resolve()
    manifest = Path(args.manifest).resolve()
    env = dict(os.environ, LATHE_DATA=str(data))
    if not args.skip_download:
        run([str(HERE / "fetch_debs.sh")], env=env)
    rows = []
    for pkg, (default_genre, spec) in PACKAGES.items():
        deb = deb_for(data / "debs", pkg)
        root = data / "extract" / pkg
        extract_deb(deb, root)
        copyright_file = root / "usr/share/doc" / pkg / "copyright"
        stanzas = parse_dep5(copyright_file)
        default_license = license_for(stanzas, "x", LICENSE_FALLBACK.get(pkg, "unknown"))
        out_dir = data / "music" / pkg
        out_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        for logical, track, src in collect(pkg, root, spec):
            if any(e_pkg == pkg and re.search(rx, track) for e_pkg, rx in EXCLUDE):
                continue
            lic = license_for(stanzas, logical, default_license)
            artist = ""
            if pkg == "blobwars-data":
                tags = blobwars_tags(src)
                lic = tags.get("license", lic).replace("CC-BY-SA 3.0", "CC-BY-SA-3.0").replace("CC-BY 3.0", "CC-BY-3.0")
                artist = tags.get("artist", "")
                track = f"{track} ({tags['title']})" if "title" in tags else track
            base = safe_name(Path(logical).parent.name + "_" + track if Path(logical).name == "song.ogg" else track)
            ext = Path(logical).suffix.lower()
            if ext in (".opus", ".mod"):
                dst = out_dir / (base + ".flac")
                if not dst.exists():
                    to_flac(src, dst)
                original_format = "opus" if ext == ".opus" else "tracker module (rendered by libopenmpt)"
            else:
                dst = out_dir / (base + ".ogg")
                if not dst.exists():
                    if isinstance(src, tuple):
                        zf, name = src
                        with zf.open(name) as fi, open(dst, "wb") as fo:
                            shutil.copyfileobj(fi, fo)
                    else:
                        shutil.copyfile(src, dst)
                original_format = "vorbis"
            info = probe(dst)
            if info.get("duration_s", 0) < MIN_DURATION_S:
                print(f"skip {pkg}/{track}: {info.get('duration_s', 0):.1f} s is too short", file=sys.stderr)
                continue
            genre = default_genre
            for opkg, rx, g in OVERRIDES:
                if opkg == pkg and re.search(rx, track, re.IGNORECASE):
                    genre = g
            try:
                path_str = os.path.relpath(dst, manifest.parent)
                if path_str.startswith(".."):
                    path_str = str(dst)
            except ValueError:
                path_str = str(dst)
            rows.append({
                "path": path_str,
                "genre": genre,
                "license": lic,
                "source": pkg,
                "source_version": deb.name.split("_")[1].replace("%3a", ":"),
                "track": track,
                "artist": artist,
                "original_path": logical,
                "original_format": original_format,
                "duration_s": f"{info['duration_s']:.2f}",
                "sample_rate_hz": info["sample_rate_hz"],
                "channels": info["channels"],
                "sha256": sha256(dst),
            })
            n += 1
        print(f"{pkg}: {n} tracks", file=sys.stderr)
    fields = list(rows[0].keys())
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    minutes = {}
    for r in rows:
        minutes[r["genre"]] = minutes.get(r["genre"], 0) + float(r["duration_s"]) / 60
    print(f"wrote {manifest}: {len(rows)} tracks; minutes per genre: "
          + ", ".join(f"{g} {m:.0f}" for g, m in sorted(minutes.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
