#!/usr/bin/env python3
"""Fetches lathe's training music from Debian's archive and writes training/manifest.csv.

Only the packages listed in DATA-SOURCES.md are used (see datasets.md). Steps:

1. `fetch_debs.sh`: `apt-get download` each package into $LATHE_DATA/debs (skipped if present).
2. Extract only the music (and each package's copyright file) from every .deb; unzip the
   pk3/zip archives that hold music (0ad-data, nexuiz-music, ufoai-music).
3. Copy Vorbis and MP3 files as they are; convert Opus (warzone2100; symphonia cannot decode
   Opus) and tracker modules (.mod/.xm/.it/.s3m/.stm, rendered once by libopenmpt) to FLAC
   with ffmpeg; cut files that repeat one loop for many minutes (planetblupi) to one pass.
   MIDI (openttd-openmsx) is skipped: a General-MIDI render is synthetic, not a master.
4. Write the manifest: one row per track with path, genre (package default or a per-track
   rule on the title, OVERRIDES), license (per file, from the package's DEP-5 copyright file,
   blobwars' .tags files or the prose of the copyright file), source package and more.

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

# Genre taxonomy (see datasets.md): package default + per-track overrides. Genres are judged
# from the game, the tags and the titles; never from listening. Each spec says where the music
# sits inside the .deb: "glob" (one or a list, relative to the extracted root) or "zip"+"inner".
G_ORCH, G_ELEC, G_AMB, G_ROCK, G_CHIP, G_FOLK = (
    "orchestral", "electronic", "ambient", "rock-metal", "chiptune", "folk-world")
PACKAGES = {
    # package: (default genre, how to find the music inside the .deb)
    "0ad-data": (G_ORCH, {"zip": "usr/share/games/0ad/mods/public/public.zip", "inner": "audio/music/*.ogg"}),
    "warzone2100-music": (G_ELEC, {"glob": "usr/share/games/warzone2100/music/**/*.opus"}),
    "ufoai-music": (G_ORCH, {"zip": "usr/share/games/ufoai/base/0music.pk3", "inner": "music/*.ogg"}),
    "wesnoth-1.16-music": (G_ORCH, {"glob": "usr/share/games/wesnoth/1.16/data/core/music/*.ogg"}),
    "naev-data": (G_AMB, {"glob": "usr/share/naev/dat/snd/music/*.ogg"}),
    "widelands-data": (G_ORCH, {"glob": "usr/share/games/widelands/data/music/*.ogg"}),
    "nexuiz-music": (G_ELEC, {"zip": "usr/share/games/nexuiz/data/music.pk3", "inner": "sound/cdtracks/*.ogg"}),
    "blobwars-data": (G_ELEC, {"glob": "usr/share/games/blobwars/music/*", "no_ext": True}),
    "singularity-music": (G_AMB, {"glob": "usr/share/games/singularity/music/**/*.ogg"}),
    "marsshooter-data": (G_ROCK, {"glob": "usr/share/games/marsshooter/audio/music/*.ogg"}),
    "unknown-horizons": (G_ORCH, {"glob": "usr/share/unknown-horizons/content/audio/music/**/*.ogg"}),
    "tecnoballz-data": (G_CHIP, {"glob": "usr/share/games/tecnoballz/musics/*.mod"}),
    "fretsonfire-songs-muldjord": (G_ROCK, {"glob": "usr/share/games/fretsonfire/data/songs/**/song.ogg"}),
    "fretsonfire-songs-sectoid": (G_ROCK, {"glob": "usr/share/games/fretsonfire/data/songs/**/song.ogg"}),
    # Added for the genre work (DATA-SOURCES.md, "More packages").
    "planetblupi-music-ogg": (G_ELEC, {"glob": "usr/share/planetblupi/music/*.ogg", "loops": True}),
    "supertux-data": (G_ORCH, {"glob": "usr/share/games/supertux2/music/**/*.ogg"}),
    "hedgewars-data": (G_ORCH, {"glob": "usr/share/games/hedgewars/Data/Music/*.ogg"}),
    "berusky2-data": (G_AMB, {"glob": "usr/share/games/berusky2/music/*.ogg"}),
    "colobot-common-sounds": (G_ELEC, {"glob": "usr/share/games/colobot/music/*.ogg"}),
    "freedroidrpg-data": (G_ELEC, {"glob": "usr/share/freedroidrpg/data/sound/music/*.ogg"}),
    "drascula-music": (G_ORCH, {"glob": "usr/share/scummvm/drascula/audio/*.ogg"}),
    "flare-game": (G_ORCH, {"glob": "usr/share/games/flare/mods/fantasycore/music/*.ogg"}),
    "trackballs-data": (G_ELEC, {"glob": "usr/share/games/trackballs/music/*.ogg"}),
    "pushover-data": (G_ORCH, {"glob": "usr/share/pushover/themes/*.ogg"}),
    "warmux-data": (G_ELEC, {"glob": "usr/share/games/warmux/music/**/*.ogg"}),
    "wizznic-data": (G_ELEC, {"glob": ["usr/share/games/wizznic/data/menu-music.ogg",
                                       "usr/share/games/wizznic/packs/*/music/*.ogg"]}),
    "fillets-ng-data": (G_AMB, {"glob": "usr/share/games/fillets-ng/music/*.ogg"}),
    "davegnukem-data": (G_ELEC, {"glob": "usr/share/games/davegnukem/music/**/*.ogg"}),
    "enigma-data": (G_AMB, {"glob": "usr/share/games/enigma/music/**/*.ogg"}),
    "zaz-data": (G_ELEC, {"glob": "usr/share/games/zaz/mus*.ogg"}),
    "asc-music": (G_ELEC, {"glob": "usr/share/games/asc/music/*.mp3"}),
    "freecol": (G_ORCH, {"glob": "usr/share/games/freecol/default/resources/music/**/*.ogg"}),
    "ardentryst": (G_ORCH, {"glob": "usr/share/games/ardentryst/Music/*.ogg"}),
    "freedink-data": (G_ORCH, {"glob": "usr/share/games/dink/dink/Sound/*.ogg"}),
    "wordwarvi-sound": (G_ROCK, {"glob": "usr/share/wordwarvi/sounds/*.ogg"}),
    # Tracker modules, rendered once by ffmpeg's libopenmpt.
    "pekka-kana-2-data": (G_CHIP, {"glob": "usr/share/games/pekka-kana-2/data/music/*.xm"}),
    "heroes-sound-tracks": (G_CHIP, {"glob": "usr/share/games/heroes/mod/*.xm"}),
    "pingus-data": (G_CHIP, {"glob": ["usr/share/games/pingus/data/music/*.it",
                                      "usr/share/games/pingus/data/music/*.s3m"]}),
    "freedroid-data": (G_CHIP, {"glob": "usr/share/games/freedroid/sound/*.mod"}),
    "biniax2-data": (G_CHIP, {"glob": "usr/share/games/biniax2/music/*.it"}),
    "rafkill-data": (G_CHIP, {"glob": "usr/share/games/rafkill/music/*.xm"}),
    "pachi-data": (G_CHIP, {"glob": ["usr/share/pachi/music/*.s3m", "usr/share/pachi/music/*.stm"]}),
}
TRACKER_EXT = (".mod", ".xm", ".it", ".s3m", ".stm")
# Formats copied bit for bit (symphonia decodes them); everything else becomes FLAC.
COPY_EXT = (".ogg", ".mp3", "")

# Per-track genre overrides: (package, regex on the track name) -> genre (first match wins).
OVERRIDES = [
    ("0ad-data", r"8Bit", G_CHIP),  # "0_8Bit_Bonus_Track"
    # Stuart Marshall's three tracks (own copyright stanza) are metal, the rest orchestral/folk.
    ("widelands-data", r"ingame_2[456]", G_ROCK),
    # naev: battle/combat cues are driving electronic; the rest is space ambient.
    ("naev-data", r"battle|combat|dvaered|upbeat|pirate|imminent|collective|automat|machina|heartofmachine", G_ELEC),
    # 0ad's tracks are themed on the civilisations: titles naming a people, a region, a folk
    # instrument or a folk setting (Celtic, Gaul, Nile, Indus, taiko, whistle, tavern,
    # festival...) are folk/world; battles, cities and heroes stay orchestral.
    ("0ad-data", r"Celt|Gaul|Highland|Tavern|Festival|Whistler|Taiko|Nile|Ammon|Indus|Karmic|Eastern|Mirage"
                 r"|Sands_of|Atlas|Rivers|two_Seas|Mediterranean|Harvest|Mountain_Idyll|Midwinter|Hill_of_Sorrows",
     G_FOLK),
    # supertux: the "retro" folder and chipdisko are chiptune, the "tropical" folder world.
    ("supertux-data", r"^(cave_old|classic|fortress_old|ice_music|chipdisko)$", G_CHIP),
    ("supertux-data", r"^(saharan_penguin|tropicalbreeze)$", G_FOLK),
    ("hedgewars-data", r"^Rock$", G_ROCK),
    ("hedgewars-data", r"^(oriental|Desert|Jungle|pirate)$", G_FOLK),
    ("hedgewars-data", r"^EarthRise$", G_AMB),
    ("berusky2-data", r"Relax|Space|Emotion", G_AMB),
    ("berusky2-data", r"Piano", G_ORCH),
    ("pushover-data", r"^(japanese|aztec|greek)$", G_FOLK),
    ("pushover-data", r"^(electro|mechanic|toxcity|space)$", G_ELEC),
    ("warmux-data", r"Like_a_rock|diabolicux", G_ROCK),
    ("warmux-data", r"exoticux|woodlux|circux", G_FOLK),
    ("warmux-data", r"Divertissement", G_ORCH),
    ("freecol", r"fearless-sailors|settlers", G_FOLK),
    ("enigma-data", r"rag|esprit", "jazz"),
    ("colobot-common-sounds", r"^Intro|Humanitarian|Infinite", G_ORCH),
    ("trackballs-data", r"c64", G_CHIP),
    ("davegnukem-data", r"8-Bit|Retro", G_CHIP),
    ("freedroidrpg-data", r"Ambien|temple|underground", G_AMB),
]

# Shorter files are stingers, jingles or sound effects, not tracks.
MIN_DURATION_S = 45.0

# Copyright files that are not machine-readable (DEP-5): the license stated in their prose.
LICENSE_FALLBACK = {
    "fretsonfire-songs-muldjord": "CC-BY-SA-3.0",
    "fretsonfire-songs-sectoid": "Expat (MIT-style)",
    "nexuiz-music": "GPL-2+",
    "singularity-music": "CC-BY-SA-3.0",
    "wesnoth-1.16-music": "GPL-2+",
    # Prose copyright files of the added packages (GPL notices; freedink lists its music's
    # licenses per file in README-REPLACEMENTS.txt, summarised in DATA-SOURCES.md).
    "warmux-data": "GPL-2+",
    "fillets-ng-data": "GPL-2+",
    "enigma-data": "GPL-2+",
    "pingus-data": "GPL-2+",
    "pachi-data": "GPL-2+",
    "freedink-data": "CC-BY-SA-3.0 / EFF-OAL / public-domain / CC-BY-3.0 / GPL-3+ (per file, README-REPLACEMENTS.txt)",
}

# Not music: sound effects that sit among the music files.
EXCLUDE = [
    ("nexuiz-music", r"^thunder$"),
    # supertux's voc-* files are not clearly music (no title, "voc" suggests voice).
    ("supertux-data", r"^voc-"),
    # warmux ships Apnee twice (Apnee2 is a variant of the same piece); theme1_raw is
    # ardentryst's unmixed version of theme1.
    ("warmux-data", r"Apnee2"),
    ("ardentryst", r"_raw$"),
]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def deb_for(debs: Path, pkg: str) -> Path:
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        raise SystemExit(f"missing {pkg} in {debs}: run fetch_debs.sh")
    return found[-1]


def tar_patterns(spec: dict):
    """Tar member patterns for a spec: each glob's folder up to its first wildcard, plus
    everything below it (GNU tar's '*' matches '/' in member names)."""
    if "zip" in spec:
        return ["./" + spec["zip"]]
    out = []
    for g in globs(spec):
        head = re.split(r"[*?\[]", g, maxsplit=1)[0]
        out.append("./" + head + "*")
    return out


def globs(spec: dict):
    g = spec.get("glob", [])
    return [g] if isinstance(g, str) else list(g)


def extract_deb(deb: Path, dest: Path, spec: dict, pkg: str):
    """Extracts the music (and the copyright file) of one .deb."""
    if dest.exists():
        return
    tmp = dest.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    # tar exits 2 when one of the patterns matches nothing in this package: that is fine.
    subprocess.run(
        ["tar", "-x", "-C", str(tmp), "--wildcards", f"./usr/share/doc/{pkg}/copyright", *tar_patterns(spec)],
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


def to_flac(src: Path, dst: Path, seconds=None):
    tmp = dst.with_name(dst.stem + ".part.flac")
    cut = ["-t", f"{seconds:.3f}"] if seconds else []
    run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), *cut, "-c:a", "flac", str(tmp)])
    tmp.rename(dst)


# Files this long are checked for repeats of one loop (planetblupi: 20-29 min files that
# repeat a 2-3 min loop).
LOOP_CHECK_S = 400.0


def loop_seconds(src: Path):
    """Length of one pass if the file repeats one loop, else None.

    The 50 Hz envelope of the mono downmix is correlated with itself at lags of 40 s to 1/2
    of the file; a repeat gives a correlation near 1 (a real piece stays well under 0.9).
    """
    import numpy as np
    if probe(src).get("duration_s", 0) < LOOP_CHECK_S:
        return None
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-ac", "1", "-ar", "2000",
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    x = np.frombuffer(raw, dtype=np.float32).astype(np.float64)
    hop = 40  # 2000 Hz / 40 = 50 envelope frames per second
    n = len(x) // hop
    env = np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(1) + 1e-12)
    env = np.log(env)
    rate = 50.0
    env = env - env.mean()
    m = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(env, m)
    acf = np.fft.irfft(f * np.conj(f), m)[:n]
    overlap = np.arange(n, 0, -1)
    r = acf / overlap / (acf[0] / n)
    lo, hi = int(40 * rate), n // 2
    if hi <= lo:
        return None
    best = float(r[lo:hi].max())
    if best < 0.9:
        return None
    # The shortest lag that repeats about as well as the best one: one pass of the loop
    # (multiples of the loop length correlate as well).
    best_lag = lo + int(np.argmax(r[lo:hi] >= best - 0.02))
    return best_lag / rate


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
        for p in sorted({q for g in globs(spec) for q in root.glob(g)}):
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
    # absolute() rather than resolve(): a symlinked training/data keeps relative manifest paths.
    data = Path(args.data).absolute()
    manifest = Path(args.manifest).absolute()
    env = dict(os.environ, LATHE_DATA=str(data))
    if not args.skip_download:
        run([str(HERE / "fetch_debs.sh")], env=env)
    rows = []
    for pkg, (default_genre, spec) in PACKAGES.items():
        deb = deb_for(data / "debs", pkg)
        root = data / "extract" / pkg
        extract_deb(deb, root, spec, pkg)
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
            seconds = loop_seconds(src) if spec.get("loops") and not isinstance(src, tuple) else None
            if ext in COPY_EXT and not seconds:
                dst = out_dir / (base + (ext or ".ogg"))
                if not dst.exists():
                    if isinstance(src, tuple):
                        zf, name = src
                        with zf.open(name) as fi, open(dst, "wb") as fo:
                            shutil.copyfileobj(fi, fo)
                    else:
                        shutil.copyfile(src, dst)
                original_format = "mp3" if ext == ".mp3" else "vorbis"
            else:
                dst = out_dir / (base + ".flac")
                if ext in TRACKER_EXT:
                    original_format = f"tracker module {ext} (rendered once by libopenmpt)"
                elif ext == ".opus":
                    original_format = "opus"
                else:
                    original_format = "vorbis"
                if not dst.exists():
                    to_flac(src, dst, seconds)
                if seconds:
                    full = probe(src).get("duration_s", 0)
                    original_format += f" (one pass of its loop: {seconds:.0f} of {full:.0f} s)"
            info = probe(dst)
            if info.get("duration_s", 0) < MIN_DURATION_S:
                print(f"skip {pkg}/{track}: {info.get('duration_s', 0):.1f} s is too short", file=sys.stderr)
                continue
            genre = default_genre
            for opkg, rx, g in OVERRIDES:
                if opkg == pkg and re.search(rx, track, re.IGNORECASE):
                    genre = g
                    break
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
