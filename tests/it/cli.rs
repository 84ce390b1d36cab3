//! End-to-end tests of the `lathe` binary: exit codes, error text for bad files, what lands
//! on disk, true peak of outputs measured by an independent meter (the `ebur128` crate),
//! determinism across runs and thread counts.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

use crate::common::write_float_wav as write_wav;

fn lathe() -> Command {
    Command::cargo_bin("lathe").expect("binary builds")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Programme-like stereo test material: a kick-like pulse, a bass note, a bright noise band
/// and a slow level envelope, so every stage of the renderer has something to do.
fn programme(rate: u32, seconds: f64, seed: u64, brightness: f32) -> Vec<Vec<f32>> {
    let n = (seconds * f64::from(rate)) as usize;
    let mut s = seed | 1;
    let mut noise = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let mut l = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    let (mut hp_prev, mut hp) = (0.0f32, 0.0f32);
    for i in 0..n {
        let t = i as f32 / rate as f32;
        let beat = (t * 2.0).fract();
        let kick = (-beat * 25.0).exp() * (std::f32::consts::TAU * 55.0 * t).sin() * 0.5;
        let bass = (std::f32::consts::TAU * 82.4 * t).sin() * 0.15;
        let x = noise();
        hp = 0.7 * (hp + x - hp_prev); // one-pole high-pass: a bright "hat" band
        hp_prev = x;
        let env = 0.6 + 0.4 * (t * 0.7).sin();
        let hat = hp * brightness * 0.1 * env;
        let pad = 0.05 * noise();
        l.push(0.4 * (kick + bass + hat + pad));
        r.push(0.4 * (kick + bass + 0.8 * hat + 0.05 * noise()));
    }
    vec![l, r]
}

/// Interleaved samples of a WAV file as floats, with its channel count and rate.
fn read_wav(path: &Path) -> (Vec<f32>, u32, u32) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.unwrap() as f32 * scale)
                .collect()
        }
    };
    (samples, u32::from(spec.channels), spec.sample_rate)
}

/// An independent meter's reading of a WAV file (the `ebur128` crate, not lathe's code).
fn meter(path: &Path, mode: ebur128::Mode) -> (ebur128::EbuR128, u32) {
    let (samples, channels, rate) = read_wav(path);
    let mut meter = ebur128::EbuR128::new(channels, rate, mode).unwrap();
    meter.add_frames_f32(&samples).unwrap();
    (meter, channels)
}

fn true_peak_dbtp(path: &Path) -> f64 {
    let (m, channels) = meter(path, ebur128::Mode::TRUE_PEAK);
    (0..channels)
        .map(|c| 20.0 * m.true_peak(c).unwrap().log10())
        .fold(f64::NEG_INFINITY, f64::max)
}

fn integrated_lufs(path: &Path) -> f64 {
    meter(path, ebur128::Mode::I).0.loudness_global().unwrap()
}

// ---- lathe analyze: bad input -------------------------------------------------------------

/// Every bad input exits 1 with one line naming the file and the problem.
#[test]
fn analyze_bad_inputs_fail_clearly() {
    let cases = [
        ("bad_empty.wav", "empty"),
        ("bad_text.wav", "not an audio file"),
        ("bad_truncated.wav", "truncated"),
        ("bad_truncated.flac", "truncated"),
        ("bad_garbage.flac", "corrupt"),
        ("bad_opus.opus", "codec lathe cannot decode: opus"),
        ("bad_nan.wav", "non-finite sample"),
        ("edge_short_0.2s.wav", "needs at least 0.4 s"),
    ];
    for (file, problem) in cases {
        let out = lathe()
            .args(["analyze", "--json"])
            .arg(data(file))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: stderr {stderr}");
        assert!(
            stderr.contains(file),
            "{file}: stderr does not name it: {stderr}"
        );
        assert!(
            stderr.contains(problem),
            "{file}: expected '{problem}' in: {stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(out.stdout.is_empty(), "{file}: printed a result");
    }
}

#[test]
fn analyze_missing_file() {
    lathe()
        .args(["analyze", "no/such/file.wav"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("cannot read 'no/such/file.wav'")
                .and(predicate::str::contains("No such file")),
        );
}

#[test]
fn analyze_silence_is_minus_infinity_with_a_warning() {
    let out = lathe()
        .args(["analyze", "--json"])
        .arg(data("edge_silence.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // JSON has no -inf: silence reads null, and the warning says why.
    assert!(v["integrated_lufs"].is_null());
    assert!(v["warnings"][0].as_str().unwrap().starts_with("W_SILENCE"));
}

#[test]
fn analyze_one_bad_file_does_not_stop_the_others() {
    let out = lathe()
        .args(["analyze", "--json"])
        .arg(data("tone_s16.wav"))
        .arg(data("bad_empty.wav"))
        .arg(data("tone.ogg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    // The same content as 16-bit WAV and as Vorbis: the same loudness within 0.1 LU.
    let a = lines[0]["integrated_lufs"].as_f64().unwrap();
    let b = lines[1]["integrated_lufs"].as_f64().unwrap();
    assert!((a - b).abs() < 0.1, "{a} vs {b}");
}

#[test]
fn analyze_json_contract() {
    let out = lathe()
        .args(["analyze", "--json"])
        .arg(data("tone_s24.wav"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "integrated_lufs",
        "true_peak_dbtp",
        "sample_peak_dbfs",
        "lra_lu",
        "plr_db",
        "max_short_term_lufs",
        "width_db",
        "correlation",
        "bandwidth_hz",
        "duration_s",
    ] {
        assert!(
            v[key].is_number(),
            "{key} missing or not a number: {}",
            v[key]
        );
    }
    assert_eq!(v["sample_rate_hz"], 44_100);
    assert_eq!(v["channels"], 2);
    // 35 280 frames at 44.1 kHz.
    assert!((v["duration_s"].as_f64().unwrap() - 0.8).abs() < 1e-9);
    assert_eq!(v["bands"]["center_hz"].as_array().unwrap().len(), 31);
    assert_eq!(v["bands"]["mid_db"].as_array().unwrap().len(), 31);
    assert_eq!(v["bands"]["side_db"].as_array().unwrap().len(), 31);
    // The tone's peaks stay below 0.45 (-6.9 dBFS).
    assert!(v["sample_peak_dbfs"].as_f64().unwrap() < -6.9);
}

#[test]
fn analyze_odd_but_valid_files() {
    for (file, channels, rate) in [
        ("edge_mono.wav", 1, 44_100),
        ("edge_8k.wav", 1, 8_000),
        ("edge_384k_u8.wav", 1, 384_000),
        ("edge_3ch.wav", 3, 16_000),
        ("edge_6ch_5.1.wav", 6, 16_000),
        ("edge_rf64.wav", 1, 44_100),
    ] {
        let out = lathe()
            .args(["analyze", "--json"])
            .arg(data(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["channels"], channels, "{file}");
        assert_eq!(v["sample_rate_hz"], rate, "{file}");
        assert!(v["integrated_lufs"].as_f64().unwrap().is_finite(), "{file}");
    }
}

// ---- lathe match ---------------------------------------------------------------------------

struct Fixture {
    dir: tempfile::TempDir,
    mix: PathBuf,
    reference: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("mix.wav");
    let reference = dir.path().join("reference.wav");
    let mut m = programme(44_100, 8.0, 1, 0.3);
    for c in &mut m {
        for s in c.iter_mut() {
            *s *= 0.4; // a quiet mix
        }
    }
    write_wav(&mix, 44_100, &m);
    // The reference at another rate: analysed at its own rate.
    write_wav(&reference, 48_000, &programme(48_000, 8.0, 2, 1.0));
    Fixture {
        dir,
        mix,
        reference,
    }
}

#[test]
fn match_reaches_loudness_under_the_ceiling() {
    let f = fixture();
    let out = f.dir.path().join("out.wav");
    lathe()
        .arg("match")
        .args([&f.mix, &f.reference])
        .arg("-o")
        .arg(&out)
        .args(["--lufs", "-12", "--ceiling", "-1.0"])
        .assert()
        .success();
    let tp = true_peak_dbtp(&out);
    // The rule: never above the ceiling, measured by an independent meter.
    assert!(tp <= -1.0, "true peak {tp} dBTP above the -1 dBTP ceiling");
    let lufs = integrated_lufs(&out);
    // Within 0.1 LU of the target, plus 0.02 LU for 24-bit quantisation of the file.
    assert!(
        (lufs + 12.0).abs() <= 0.12,
        "integrated {lufs} LUFS, target -12"
    );
    // Output at the mix's own rate.
    assert_eq!(
        hound::WavReader::open(&out).unwrap().spec().sample_rate,
        44_100
    );
}

#[test]
fn match_refuses_to_clobber_and_never_overwrites_an_input() {
    let f = fixture();
    let out = f.dir.path().join("out.wav");
    std::fs::write(&out, b"keep me").unwrap();
    lathe()
        .arg("match")
        .args([&f.mix, &f.reference])
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("already exists").and(predicate::str::contains("--force")),
        );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");

    let before = std::fs::read(&f.mix).unwrap();
    for target in [&f.mix, &f.reference] {
        lathe()
            .arg("match")
            .args([&f.mix, &f.reference])
            .arg("-o")
            .arg(target)
            .arg("--force")
            .assert()
            .code(1)
            .stderr(predicate::str::contains("is also an input"));
    }
    assert_eq!(std::fs::read(&f.mix).unwrap(), before);

    // With --force an existing (non-input) output is replaced, atomically: no temp left over.
    lathe()
        .arg("match")
        .args([&f.mix, &f.reference])
        .arg("-o")
        .arg(&out)
        .arg("--force")
        .assert()
        .success();
    assert!(hound::WavReader::open(&out).is_ok());
    let leftovers: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("lathe-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn match_is_deterministic_across_runs_and_thread_counts() {
    let f = fixture();
    let mut outputs = Vec::new();
    for (i, threads) in ["1", "2", "2"].iter().enumerate() {
        let out = f.dir.path().join(format!("out{i}.wav"));
        lathe()
            .env("RAYON_NUM_THREADS", threads)
            .arg("match")
            .args([&f.mix, &f.reference])
            .arg("-o")
            .arg(&out)
            .args(["--bits", "16"])
            .assert()
            .success();
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert!(outputs[0] == outputs[1], "1 thread and 2 threads differ");
    assert!(outputs[1] == outputs[2], "two runs differ");
}

#[test]
fn match_bad_inputs() {
    let f = fixture();
    let out = f.dir.path().join("out.wav");
    let silent = f.dir.path().join("silent.wav");
    write_wav(&silent, 44_100, &[vec![0.0; 88_200], vec![0.0; 88_200]]);
    let three = f.dir.path().join("three.wav");
    write_wav(
        &three,
        44_100,
        &programme(44_100, 2.0, 3, 0.5)
            .into_iter()
            .cycle()
            .take(3)
            .collect::<Vec<_>>(),
    );
    let cases: [(&Path, &Path, &str); 5] = [
        (&silent, &f.reference, "digital silence"),
        (&f.mix, &silent, "digital silence"),
        (&three, &f.reference, "3 channels"),
        (
            &data("edge_short_0.2s.wav"),
            &f.reference,
            "needs at least 0.4 s",
        ),
        (&f.mix, &data("bad_truncated.flac"), "truncated"),
    ];
    for (mix, reference, problem) in cases {
        let o = lathe()
            .arg("match")
            .args([mix, reference])
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{}: {stderr}", mix.display());
        assert!(
            stderr.contains(problem),
            "expected '{problem}' in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists(), "an output was written for a bad input");
    }
}

#[test]
fn match_mono_mix_stays_mono_and_under_the_ceiling() {
    let f = fixture();
    let mono = f.dir.path().join("mono.wav");
    write_wav(&mono, 44_100, &programme(44_100, 4.0, 5, 0.5)[..1]);
    let out = f.dir.path().join("mono_out.wav");
    lathe()
        .arg("match")
        .args([&mono, &f.reference])
        .arg("-o")
        .arg(&out)
        .args(["--ceiling", "-0.5"])
        .assert()
        .success();
    assert_eq!(hound::WavReader::open(&out).unwrap().spec().channels, 1);
    assert!(true_peak_dbtp(&out) <= -0.5);
}

// ---- lathe master ----------------------------------------------------------------------------

/// Every genre the bundled model knows masters a generated mix under the ceiling, with finite
/// loudness at the loudness its range chose for the mix (`TargetRange::choose_loudness`: the
/// genre's centre, or less when the mix would need more limiting); a chosen genre's typical
/// loudness shows (rock-metal masters are far louder than ambient ones in the training data:
/// medians -8.5 vs -16.9 LUFS).
#[test]
fn master_every_genre_under_the_ceiling() {
    let f = fixture();
    let model = lathe::targets::model::Model::bundled().unwrap();
    let mix = lathe::analyze(&lathe::io::decode::decode_file(&f.mix).unwrap()).unwrap();
    let mut loudness = std::collections::HashMap::new();
    for g in model.genres() {
        let out = f.dir.path().join(format!("master-{}.wav", g.name));
        let o = lathe()
            .arg("master")
            .arg(&f.mix)
            .args(["--genre", &g.name, "--ceiling", "-1.0", "--json", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            g.name,
            String::from_utf8_lossy(&o.stderr)
        );
        let tp = true_peak_dbtp(&out);
        assert!(tp <= -1.0, "{}: true peak {tp} dBTP", g.name);
        let lufs = integrated_lufs(&out);
        assert!((-30.0..=-5.0).contains(&lufs), "{}: {lufs} LUFS", g.name);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["target"]["source"]["genre"], g.name.as_str());
        let choice = model
            .predict_range(&mix, &g.name)
            .unwrap()
            .choose_loudness(&mix)
            .unwrap();
        eprintln!("{}: {lufs:.2} LUFS; {}", g.name, choice.describe());
        // The loudness stage's tolerance (0.1 LU) and ebur128 against lathe's meter.
        assert!(
            (lufs - choice.target_lufs).abs() < 0.2,
            "{}: {lufs} LUFS, the range chose {}",
            g.name,
            choice.target_lufs
        );
        loudness.insert(g.name.clone(), lufs);
    }
    // This quiet, dynamic mix reaches rock-metal's centre (-9.5 LUFS) only with more than the
    // 3 dB of limiting the rule allows (measured -11.1 LUFS) and ambient's (-13.8) within it.
    let (rock, ambient) = (loudness["rock-metal"], loudness["ambient"]);
    assert!(
        rock > ambient + 2.0,
        "rock-metal {rock} LUFS vs ambient {ambient} LUFS"
    );
}

#[test]
fn master_auto_detects_a_known_genre() {
    let f = fixture();
    let out = f.dir.path().join("auto.wav");
    let o = lathe()
        .arg("master")
        .arg(&f.mix)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let model = lathe::targets::model::Model::bundled().unwrap();
    assert!(
        model
            .genres()
            .iter()
            .any(|g| stderr.contains(&format!("detected {} (", g.name))),
        "{stderr}"
    );
    assert!(true_peak_dbtp(&out) <= -1.0);
}

#[test]
fn master_refuses_unknown_genres_and_bad_models() {
    let f = fixture();
    let out = f.dir.path().join("x.wav");
    lathe()
        .arg("master")
        .arg(&f.mix)
        .args(["--genre", "polka", "-o"])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("unknown genre 'polka'")
                .and(predicate::str::contains("rock-metal")),
        );
    lathe()
        .arg("master")
        .arg(&f.mix)
        .arg("--model")
        .arg(data("bad_text.wav"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad_text.wav"));
    assert!(!out.exists());
}
