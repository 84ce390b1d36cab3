//! Style profiles end to end: `lathe profile REF... -o style.json`, then `lathe match MIX
//! style.json`, `lathe master MIX --style style.json` and `lathe batch --reference
//! style.json`. A profile of one reference must master exactly as the reference does; several
//! references combine per band (median, 10th-90th percentile); a profile survives its JSON
//! bit for bit; bad profiles are clear errors naming the file.
//!
//! Signals are generated (`report_signals`); every expected value is recomputed here from
//! lathe's analysis of the same files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::report_signals::{bump, programme, shelf_up, write_wav};
use lathe::analysis::Features;
use lathe::targets::profile::{from_references, StyleProfile};
use lathe::targets::reference::from_reference;

/// 12 s: enough short-term windows for the dynamics statistics.
const FRAMES: usize = 12 * 44_100;

fn lathe() -> Command {
    Command::cargo_bin("lathe").unwrap()
}

/// Writes a generated programme and returns its path.
fn wav(dir: &Path, name: &str, seed: u64, lufs: f64, shape: impl Fn(f64) -> f64 + Copy) -> PathBuf {
    let path = dir.join(name);
    write_wav(&path, &programme(FRAMES, seed, lufs, shape));
    path
}

/// lathe's analysis of a file, as `lathe profile` and `lathe match` read it.
fn analysed(path: &Path) -> Features {
    lathe::analyze(&lathe::io::decode::decode_file(path).unwrap()).unwrap()
}

/// Runs lathe with `args`, expecting success; returns stdout as JSON when it is JSON.
fn run_ok(args: &[&str]) -> serde_json::Value {
    let out = lathe().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "lathe {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// Runs lathe with `args`, expecting failure; returns stderr.
fn run_err(args: &[&str]) -> String {
    let out = lathe().args(args).output().unwrap();
    assert!(!out.status.success(), "lathe {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `--json-full`'s targets without their source (which names where they came from).
fn targets_without_source(json: &serde_json::Value) -> serde_json::Value {
    let mut t = json["full"]["targets"].clone();
    t.as_object_mut().unwrap().remove("source");
    t
}

#[test]
fn a_profile_of_one_reference_masters_exactly_as_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reference = wav(d, "ref.wav", 1, -11.0, |f| shelf_up(f, 4000.0, 3.0));
    let mix = wav(d, "mix.wav", 2, -20.0, |f| bump(f, 250.0, 4.0, 1.0));
    let style = d.join("style.json");
    run_ok(&["profile", s(&reference), "-o", s(&style)]);

    let out = |name: &str| d.join(name);
    let by_ref = run_ok(&[
        "match",
        s(&mix),
        s(&reference),
        "-o",
        s(&out("a.wav")),
        "--json-full",
    ]);
    let by_profile = run_ok(&[
        "match",
        s(&mix),
        s(&style),
        "-o",
        s(&out("b.wav")),
        "--json-full",
    ]);
    let by_style = run_ok(&[
        "master",
        s(&mix),
        "--style",
        s(&style),
        "-o",
        s(&out("c.wav")),
        "--json-full",
        "--report-json",
        s(&out("c.json")),
    ]);
    // The report lists the profile among its inputs as what it is: no sample rate or
    // channels (it is not audio), the duration of its reference.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out("c.json")).unwrap()).unwrap();
    let inputs = report["provenance"]["inputs"].as_array().unwrap();
    let profile = inputs
        .iter()
        .find(|i| i["role"] == "style profile")
        .unwrap();
    assert_eq!(profile["name"], "style.json");
    assert!(profile.get("sample_rate_hz").is_none() && profile.get("channels").is_none());
    let mix_input = inputs.iter().find(|i| i["role"] == "mix").unwrap();
    assert_eq!(mix_input["sample_rate_hz"], 44_100);
    assert_eq!(mix_input["channels"], 2);
    // The same targets, every value (the JSON prints f64 exactly: shortest round trip).
    assert_eq!(
        targets_without_source(&by_profile),
        targets_without_source(&by_ref)
    );
    assert_eq!(
        targets_without_source(&by_style),
        targets_without_source(&by_ref)
    );
    assert_eq!(
        by_profile["target"]["source"],
        serde_json::json!({"kind": "profile", "name": "style.json", "references": ["ref.wav"]})
    );
    // And the same audio, bit for bit.
    let a = std::fs::read(out("a.wav")).unwrap();
    assert_eq!(
        a,
        std::fs::read(out("b.wav")).unwrap(),
        "match REF vs match PROFILE"
    );
    assert_eq!(
        a,
        std::fs::read(out("c.wav")).unwrap(),
        "match REF vs master --style"
    );
}

#[test]
fn batch_accepts_a_profile_where_it_accepts_a_reference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reference = wav(d, "ref.wav", 3, -12.0, |f| bump(f, 3000.0, 2.0, 1.0));
    let inputs = d.join("in");
    std::fs::create_dir(&inputs).unwrap();
    wav(&inputs, "one.wav", 4, -19.0, |_| 0.0);
    wav(&inputs, "two.wav", 5, -22.0, |f| shelf_up(f, 200.0, -3.0));
    let style = d.join("style.json");
    run_ok(&["profile", s(&reference), "-o", s(&style)]);
    for (target, out) in [(&reference, "by-ref"), (&style, "by-profile")] {
        run_ok(&[
            "batch",
            s(&inputs),
            "--reference",
            s(target),
            "-d",
            s(&d.join(out)),
            "-q",
        ]);
    }
    for name in ["one.wav", "two.wav"] {
        assert_eq!(
            std::fs::read(d.join("by-ref").join(name)).unwrap(),
            std::fs::read(d.join("by-profile").join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn several_references_combine_per_band() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let refs = [
        wav(d, "dark.wav", 6, -10.0, |f| shelf_up(f, 3000.0, -4.0)),
        wav(d, "flat.wav", 7, -13.0, |_| 0.0),
        wav(d, "bright.wav", 8, -16.0, |f| shelf_up(f, 3000.0, 4.0)),
    ];
    let targets: Vec<_> = refs
        .iter()
        .map(|r| from_reference(&analysed(r), "r").unwrap())
        .collect();
    let style = d.join("style.json");
    // Two references: the centre is their mean, the range their 10th..90th percentile.
    run_ok(&["profile", s(&refs[0]), s(&refs[2]), "-o", s(&style)]);
    let two = StyleProfile::read(&style).unwrap();
    assert_eq!(two.references.len(), 2);
    let (a, b) = (&targets[0], &targets[2]);
    let close = |x: f64, y: f64, what: &str| assert!((x - y).abs() < 1e-9, "{what}: {x} vs {y}");
    for (k, r) in two.range.mid_db.iter().enumerate() {
        let (lo, hi) = (a.mid_db[k].min(b.mid_db[k]), a.mid_db[k].max(b.mid_db[k]));
        close(r.centre, (lo + hi) / 2.0, &format!("mid band {k} centre"));
        close(r.low, lo + 0.1 * (hi - lo), &format!("mid band {k} low"));
        close(r.high, lo + 0.9 * (hi - lo), &format!("mid band {k} high"));
    }
    close(
        two.range.integrated_lufs.centre,
        (a.integrated_lufs + b.integrated_lufs) / 2.0,
        "loudness",
    );
    close(
        two.range.width_db.centre,
        (a.width_db + b.width_db) / 2.0,
        "width",
    );
    // Dark and bright differ by 8 dB above 3 kHz (less relative to their loudness: the
    // bright one is louder): the 10 kHz band's range is wide (measured 3.1 dB), its centre
    // near the flat reference's (the shelves are symmetric in dB).
    let k = two
        .range
        .center_hz
        .iter()
        .position(|&f| (f - 10_000.0).abs() < 100.0)
        .unwrap();
    let r = two.range.mid_db[k];
    assert!(r.high - r.low > 2.0, "{r:?}");
    assert!(
        (r.centre - targets[1].mid_db[k]).abs() < 1.0,
        "{r:?} vs {}",
        targets[1].mid_db[k]
    );

    // Three references: the centre is the median, exactly the middle one's value.
    run_ok(&[
        "profile",
        s(&refs[0]),
        s(&refs[1]),
        s(&refs[2]),
        "-o",
        s(&style),
        "--force",
    ]);
    let three = StyleProfile::read(&style).unwrap();
    for (k, r) in three.range.mid_db.iter().enumerate() {
        let mut v = [
            targets[0].mid_db[k],
            targets[1].mid_db[k],
            targets[2].mid_db[k],
        ];
        v.sort_by(f64::total_cmp);
        assert_eq!(r.centre, v[1], "mid band {k}");
    }
    let mut l: Vec<f64> = targets.iter().map(|t| t.integrated_lufs).collect();
    l.sort_by(f64::total_cmp);
    assert_eq!(three.range.integrated_lufs.centre, l[1]);
    assert_eq!(
        three
            .references
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["dark.wav", "flat.wav", "bright.wav"]
    );
}

#[test]
fn a_profile_survives_its_json_bit_for_bit() {
    let refs: Vec<(String, Features)> = [(1u64, 2.0), (2, -3.0), (3, 0.5)]
        .iter()
        .map(|&(seed, g)| {
            let audio = programme(FRAMES, seed, -14.0, move |f| bump(f, 800.0, g, 1.5));
            (format!("r{seed}.wav"), lathe::analyze(&audio).unwrap())
        })
        .collect();
    let p = from_references("style.json", &refs).unwrap();
    let back = StyleProfile::from_json(Path::new("style.json"), &p.to_json().unwrap()).unwrap();
    // PartialEq on f64: every value bit for bit (serde_json's float_roundtrip).
    assert_eq!(back, p);
}

#[test]
fn bad_profiles_and_outputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mix = wav(d, "mix.wav", 9, -18.0, |_| 0.0);
    let out = d.join("out.wav");
    let junk = d.join("junk.json");
    std::fs::write(&junk, "{\"format\": \"something-else\"}").unwrap();
    let e = run_err(&["match", s(&mix), s(&junk), "-o", s(&out)]);
    assert!(
        e.contains("junk.json") && e.contains("not a lathe style profile"),
        "{e}"
    );
    let e = run_err(&["master", s(&mix), "--style", s(&mix), "-o", s(&out)]);
    assert!(
        e.contains("mix.wav") && e.contains("not a lathe style profile"),
        "{e}"
    );
    assert!(!out.exists(), "nothing written on a bad profile");
    // --style and --genre are either-or.
    let e = run_err(&[
        "master",
        s(&mix),
        "--style",
        s(&junk),
        "--genre",
        "rock",
        "-o",
        s(&out),
    ]);
    assert!(e.contains("--style") && e.contains("--genre"), "{e}");

    // `lathe profile` refuses to clobber, to overwrite a reference, and a silent reference.
    let style = d.join("style.json");
    run_ok(&["profile", s(&mix), "-o", s(&style)]);
    let e = run_err(&["profile", s(&mix), "-o", s(&style)]);
    assert!(e.contains("style.json") && e.contains("--force"), "{e}");
    let e = run_err(&["profile", s(&mix), "-o", s(&mix), "--force"]);
    assert!(e.contains("mix.wav"), "{e}");
    let silent = d.join("silent.wav");
    write_wav(
        &silent,
        &lathe::AudioBuffer::new(44_100, vec![vec![0.0; FRAMES]; 2]).unwrap(),
    );
    let e = run_err(&["profile", s(&mix), s(&silent), "-o", s(&style), "--force"]);
    assert!(e.contains("silent.wav"), "{e}");
}
