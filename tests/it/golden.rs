//! The CLI's outputs, byte for byte: `lathe match`, `master` and `batch` write exactly the
//! files (audio, report HTML/JSON, previews) and print exactly the text they did when the
//! golden hashes in `tests/data/golden_cli.txt` were recorded.
//!
//! Why: the per-file job moved from the CLI into the library (`lathe::job`); this test proves
//! the move changed no bit, and keeps guarding every later refactor of the job's callers.
//! A change that is MEANT to alter the output (a DSP fix) re-records the hashes:
//! `LATHE_BLESS_GOLDEN=1 cargo test --test it golden::`, and says so in its commit.
//!
//! Temporary folder names are replaced by `$DIR` and the binary's own path (the report's
//! command line) by `$LATHE` in every text output before hashing, and `SOURCE_DATE_EPOCH`
//! fixes the report's date, so the hashes do not depend on where or when the test runs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::report_signals::*;
use assert_cmd::Command;

/// 2^17 frames at 44.1 kHz: 3 s, enough for loudness, a render and a preview, quick to master.
const FRAMES: usize = 1 << 17;

const GOLDEN: &str = "tests/data/golden_cli.txt";

/// FNV-1a, 64 bit: enough to tell files apart, no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A file's bytes, with `dir` replaced by `$DIR` and the binary's path by `$LATHE` when the
/// file is text.
fn normalised(bytes: Vec<u8>, dir: &Path) -> Vec<u8> {
    let bin = assert_cmd::cargo::cargo_bin("lathe");
    match String::from_utf8(bytes) {
        Ok(text) => text
            .replace(&bin.display().to_string(), "$LATHE")
            .replace(&dir.display().to_string(), "$DIR")
            .into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

struct Case {
    dir: tempfile::TempDir,
    mix: PathBuf,
    reference: PathBuf,
}

impl Case {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mix = dir.path().join("mix.wav");
        let reference = dir.path().join("reference.wav");
        write_wav(
            &mix,
            &programme(FRAMES, 7, -24.0, |f| bump(f, 300.0, 4.0, 1.0)),
        );
        write_wav(
            &reference,
            &programme(FRAMES, 8, -12.0, |f| shelf_up(f, 4000.0, 3.0)),
        );
        fs::create_dir(dir.path().join("out")).unwrap();
        Self {
            dir,
            mix,
            reference,
        }
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }

    /// A second mix beside `mix`, for the batch cases: another programme, no tonal shape.
    fn second(&self) -> PathBuf {
        let second = self.dir.path().join("second.wav");
        write_wav(&second, &programme(FRAMES, 9, -20.0, |_| 0.0));
        second
    }

    /// Runs `lathe ARGS` (success expected) and hashes stdout, stderr and every file under
    /// `out/` (recursively, by relative path).
    fn run(&self, args: &[&std::ffi::OsStr]) -> BTreeMap<String, u64> {
        let output = Command::cargo_bin("lathe")
            .unwrap()
            .args(args)
            .env("RAYON_NUM_THREADS", "2")
            .env("SOURCE_DATE_EPOCH", "1764547200")
            .env_remove("NO_COLOR")
            .env_remove("LATHE_TIMINGS")
            .output()
            .unwrap();
        let dir = self.dir.path();
        assert!(
            output.status.success(),
            "lathe {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut hashes = BTreeMap::new();
        hashes.insert("stdout".into(), fnv1a(&normalised(output.stdout, dir)));
        // `batch` prints each file's warnings when that file is done: with -j 2 the order of
        // the lines is the order the files finished in, so their set is what is compared.
        let mut stderr = normalised(output.stderr, dir);
        if args.first().is_some_and(|a| *a == "batch") {
            let text = String::from_utf8_lossy(&stderr).into_owned();
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_unstable();
            stderr = lines.join("\n").into_bytes();
        }
        hashes.insert("stderr".into(), fnv1a(&stderr));
        let mut stack = vec![dir.join("out")];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).unwrap().display().to_string();
                    hashes.insert(rel, fnv1a(&normalised(fs::read(&p).unwrap(), dir)));
                }
            }
        }
        hashes
    }
}

fn os<'a>(items: &'a [&'a dyn AsRef<std::ffi::OsStr>]) -> Vec<&'a std::ffi::OsStr> {
    items.iter().map(|s| s.as_ref()).collect()
}

/// Every case: its name and its outputs' hashes.
fn record() -> BTreeMap<String, u64> {
    let mut all = BTreeMap::new();
    let mut add = |case: &str, hashes: BTreeMap<String, u64>| {
        for (k, v) in hashes {
            all.insert(format!("{case} {k}"), v);
        }
    };

    // match: two presets (tagged names), 16 bit (dither), report HTML + JSON beside it,
    // previews.
    let c = Case::new();
    let (out, report) = (c.out("master.wav"), c.out("report.html"));
    add(
        "match-presets",
        c.run(&os(&[
            &"match",
            &c.mix,
            &c.reference,
            &"-o",
            &out,
            &"--preset",
            &"spotify,apple",
            &"--bits",
            &"16",
            &"--report",
            &report,
            &"--preview",
        ])),
    );

    // match: --json, FLAC, loudness/ceiling/amount overrides, report JSON only.
    let c = Case::new();
    let (out, json) = (c.out("master.flac"), c.out("only.json"));
    add(
        "match-json",
        c.run(&os(&[
            &"match",
            &c.mix,
            &c.reference,
            &"-o",
            &out,
            &"--json",
            &"--lufs",
            &"-13",
            &"--ceiling",
            &"-1.5",
            &"--amount",
            &"60",
            &"--eq-amount",
            &"50",
            &"--report-json",
            &json,
        ])),
    );

    // master: detected genre (stderr says which), float output, report.
    let c = Case::new();
    let (out, report) = (c.out("auto.wav"), c.out("auto.html"));
    add(
        "master-auto",
        c.run(&os(&[
            &"master",
            &c.mix,
            &"-o",
            &out,
            &"--bits",
            &"32f",
            &"--report",
            &report,
        ])),
    );

    // master: a chosen genre, no limiter, --json with a preview.
    let c = Case::new();
    let out = c.out("rock.wav");
    add(
        "master-genre",
        c.run(&os(&[
            &"master",
            &c.mix,
            &"--genre",
            &"rock",
            &"-o",
            &out,
            &"--no-limiter",
            &"--json",
            &"--preview",
        ])),
    );

    // match: a new sample rate (resampled before the render), --json-full, no tags, the cd
    // preset's 16 bit, report HTML (with the EQ exports beside it) and a preview.
    let c = Case::new();
    let (out, report) = (c.out("cd.wav"), c.out("sub/cd.html"));
    fs::create_dir(c.dir.path().join("out/sub")).unwrap();
    add(
        "match-rate",
        c.run(&os(&[
            &"match",
            &c.mix,
            &c.reference,
            &"-o",
            &out,
            &"--preset",
            &"cd",
            &"--sample-rate",
            &"48000",
            &"--json-full",
            &"--no-tags",
            &"--report",
            &report,
            &"--preview",
        ])),
    );

    // A style profile: saved, then matched (report) and mastered toward with --style (--json).
    let c = Case::new();
    let style = c.out("style.json");
    add(
        "profile-save",
        c.run(&os(&[&"profile", &c.reference, &"-o", &style])),
    );
    let (out, report) = (c.out("styled.wav"), c.out("styled.html"));
    add(
        "profile-match",
        c.run(&os(&[
            &"match",
            &c.mix,
            &style,
            &"-o",
            &out,
            &"--report",
            &report,
        ])),
    );
    let out = c.out("styled-master.flac");
    add(
        "profile-master",
        c.run(&os(&[
            &"master", &c.mix, &"--style", &style, &"-o", &out, &"--json",
        ])),
    );

    // batch: reference, two files, report and preview per output.
    let c = Case::new();
    let second = c.second();
    let out_dir = c.dir.path().join("out");
    add(
        "batch-reference",
        c.run(&os(&[
            &"batch",
            &c.mix,
            &second,
            &"--out-dir",
            &out_dir,
            &"--reference",
            &c.reference,
            &"--report",
            &"--preview",
            &"-j",
            &"2",
        ])),
    );

    // batch: album mode by genre, FLAC, two presets.
    let c = Case::new();
    let second = c.second();
    let out_dir = c.dir.path().join("out");
    add(
        "batch-album",
        c.run(&os(&[
            &"batch",
            &c.mix,
            &second,
            &"--out-dir",
            &out_dir,
            &"--genre",
            &"auto",
            &"--album",
            &"--format",
            &"flac",
            &"--preset",
            &"cd,club",
        ])),
    );
    all
}

#[test]
fn cli_outputs_are_byte_identical_to_the_recorded_ones() {
    let got = record();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let text: String = got.iter().map(|(k, v)| format!("{k} {v:016x}\n")).collect();
    if std::env::var_os("LATHE_BLESS_GOLDEN").is_some() {
        fs::write(&path, text).unwrap();
        return;
    }
    let want = fs::read_to_string(&path).unwrap();
    let mismatches: Vec<String> = want
        .lines()
        .zip(text.lines())
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("recorded {w}\n     now {g}"))
        .collect();
    assert!(
        mismatches.is_empty() && want.lines().count() == text.lines().count(),
        "the CLI's outputs changed (if meant: LATHE_BLESS_GOLDEN=1 cargo test --test it golden::):\n{}\
         \nrecorded {} lines, now {}",
        mismatches.join("\n"),
        want.lines().count(),
        text.lines().count()
    );
}
