//! `lathe batch` end to end (assert_cmd on the binary): a failing file does not stop the
//! others, the exit code says something failed, and album mode keeps the tracks' loudness
//! differences. Loudness is measured by `ebur128`.

use std::fs;
use std::path::Path;

use crate::report_signals::*;
use assert_cmd::Command;

/// 2^17 frames at 44.1 kHz: 3 s, enough for loudness and a render, quick to master.
const FRAMES: usize = 1 << 17;

fn lathe() -> Command {
    Command::cargo_bin("lathe").unwrap()
}

fn loudness_of(path: &Path) -> (f64, f64) {
    let audio = lathe::io::decode::decode_file(path).unwrap();
    measure(&audio.channels, audio.sample_rate_hz)
}

fn write_reference(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("reference.wav");
    write_wav(
        &path,
        &programme(FRAMES, 99, -14.0, |f| shelf_up(f, 5000.0, 2.0)),
    );
    path
}

#[test]
fn one_corrupt_file_fails_alone_and_the_exit_code_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mixes = dir.path().join("mixes");
    fs::create_dir(&mixes).unwrap();
    for i in 0..4 {
        write_wav(
            &mixes.join(format!("song{i}.wav")),
            &programme(FRAMES, i, -22.0 + i as f64, |_| 0.0),
        );
    }
    // Not audio at all, with an audio extension: taken from the folder, refused by the decoder.
    fs::write(mixes.join("broken.wav"), b"this is not a RIFF file").unwrap();
    let reference = write_reference(dir.path());
    let out = dir.path().join("out");
    let assert = lathe()
        .arg("batch")
        .arg(&mixes)
        .arg("--out-dir")
        .arg(&out)
        .arg("--reference")
        .arg(&reference)
        .args(["-j", "2"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    // The four good files are mastered, each to the reference's loudness, under -1 dBTP.
    for i in 0..4 {
        let path = out.join(format!("song{i}.wav"));
        let (lufs, tp) = loudness_of(&path);
        // The renderer's tolerance is 0.1 LU; 0.2 LU leaves room for the 3 s programmes.
        assert!((lufs - -14.0).abs() < 0.2, "song{i}: {lufs}");
        assert!(tp <= -1.0, "song{i}: {tp}");
    }
    assert!(!out.join("broken.wav").exists());
    assert_eq!(fs::read_dir(&out).unwrap().count(), 4);
    // One clear error naming the file, on stderr and in the summary table.
    assert_eq!(stderr.matches("Error:").count(), 1, "{stderr}");
    // The decoder's own words: no audio container signature matches a 23-byte text file.
    assert!(
        stderr.contains("broken.wav") && stderr.contains("not an audio file"),
        "{stderr}"
    );
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(
        stdout.contains("4 of 5 outputs written, 1 failed."),
        "{stdout}"
    );
}

#[test]
fn album_mode_keeps_the_loudness_differences() {
    let dir = tempfile::tempdir().unwrap();
    let levels = [-18.0, -21.0, -26.0];
    let mut files = Vec::new();
    for (i, l) in levels.iter().enumerate() {
        let path = dir.path().join(format!("track{i}.wav"));
        // Slightly different tone per track, as on a real album.
        let tilt = i as f64 * 0.5;
        write_wav(
            &path,
            &programme(FRAMES, 10 + i as u64, *l, move |f| {
                tilt * (f / 1000.0).log2()
            }),
        );
        files.push(path);
    }
    let reference = write_reference(dir.path());
    let out = dir.path().join("album");
    lathe()
        .arg("batch")
        .args(&files)
        .arg("--out-dir")
        .arg(&out)
        .arg("--reference")
        .arg(&reference)
        .args(["--album", "--lufs", "-16"])
        .assert()
        .success();
    let got: Vec<f64> = (0..3)
        .map(|i| loudness_of(&out.join(format!("track{i}.wav"))).0)
        .collect();
    // The loudest track reaches the target (renderer tolerance 0.1 LU; 0.2 LU here).
    assert!((got[0] - -16.0).abs() < 0.2, "{got:?}");
    // The differences between tracks survive within 0.5 LU (the tolerance).
    for i in 1..3 {
        let wanted = levels[i] - levels[0];
        let have = got[i] - got[0];
        assert!(
            (have - wanted).abs() < 0.5,
            "track{i}: {have:.2} LU from the loudest, wanted {wanted:.2}"
        );
    }
}

#[test]
fn per_track_mode_normalises_every_track() {
    // The contrast to album mode: without --album every track reaches the target.
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = [-18.0, -26.0]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let p = dir.path().join(format!("t{i}.wav"));
            write_wav(&p, &programme(FRAMES, 20 + i as u64, *l, |_| 0.0));
            p
        })
        .collect();
    let reference = write_reference(dir.path());
    let out = dir.path().join("out");
    lathe()
        .arg("batch")
        .args(&files)
        .arg("--out-dir")
        .arg(&out)
        .arg("--reference")
        .arg(&reference)
        .args([
            "--preset",
            "spotify,ebu-r128",
            "--report",
            "--format",
            "flac",
        ])
        .assert()
        .success();
    for i in 0..2 {
        for (preset, lufs) in [("spotify", -14.0), ("ebu-r128", -23.0)] {
            let (l, _) = loudness_of(&out.join(format!("t{i}.{preset}.flac")));
            assert!((l - lufs).abs() < 0.2, "t{i} {preset}: {l}");
            assert!(out.join(format!("t{i}.{preset}.report.html")).exists());
            assert!(out.join(format!("t{i}.{preset}.report.json")).exists());
        }
    }
}

#[test]
fn genre_model_targets_each_file() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("mix.wav");
    write_wav(&mix, &programme(FRAMES, 1, -20.0, |_| 0.0));
    let out = dir.path().join("out");
    lathe()
        .arg("batch")
        .arg(&mix)
        .arg("--out-dir")
        .arg(&out)
        .args(["--genre", "electronic", "--report"])
        .assert()
        .success();
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("mix.report.json")).unwrap()).unwrap();
    assert_eq!(report["source"]["kind"], "model");
    assert_eq!(report["source"]["genre"], "electronic");
    // The report names the model that made its targets, as `master`'s does: the bundled
    // model's description and creation date.
    let model = lathe::targets::model::Model::bundled().unwrap();
    let version = report["provenance"]["model_version"].as_str().unwrap();
    assert!(
        version.starts_with(&model.metadata().description)
            && version.contains(&model.metadata().created),
        "{version}"
    );
    let (lufs, tp) = loudness_of(&out.join("mix.wav"));
    // The model's loudness target, reached within the renderer's tolerance; under -1 dBTP.
    let target = report["render"]["loudness"]["target_integrated_lufs"]
        .as_f64()
        .unwrap();
    assert!((lufs - target).abs() < 0.2, "{lufs} vs {target}");
    assert!(tp <= -1.0, "{tp}");
}

#[test]
fn unknown_genres_and_missing_targets_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("mix.wav");
    write_wav(&mix, &programme(FRAMES, 1, -20.0, |_| 0.0));
    lathe()
        .arg("batch")
        .arg(&mix)
        .arg("--out-dir")
        .arg(dir.path().join("out2"))
        .args(["--genre", "polka-step"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("polka-step"));
    assert!(!dir.path().join("out2").join("mix.wav").exists());
    lathe()
        .arg("batch")
        .arg(&mix)
        .arg("--out-dir")
        .arg(dir.path().join("out3"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--reference"));
}

#[test]
fn existing_outputs_and_name_clashes_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    write_wav(&a.join("song.wav"), &programme(FRAMES, 1, -20.0, |_| 0.0));
    write_wav(&b.join("song.wav"), &programme(FRAMES, 2, -20.0, |_| 0.0));
    let reference = write_reference(dir.path());
    let out = dir.path().join("out");
    lathe()
        .arg("batch")
        .arg(&a)
        .arg(&b)
        .arg("--out-dir")
        .arg(&out)
        .arg("--reference")
        .arg(&reference)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("would both write"));
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("song.wav"), b"keep me").unwrap();
    lathe()
        .arg("batch")
        .arg(&a)
        .arg("--out-dir")
        .arg(&out)
        .arg("--reference")
        .arg(&reference)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("already exists"));
    assert_eq!(fs::read(out.join("song.wav")).unwrap(), b"keep me");
}

#[test]
fn absurd_job_counts_are_capped_at_the_outputs() {
    // `-j 100000` on one file once started 100000 threads (and hung); the workers are now capped
    // at the number of outputs, and batch says so.
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    write_wav(&mix, &programme(FRAMES, 5, -20.0, |_| 0.0));
    let reference = write_reference(dir.path());
    let out = dir.path().join("out");
    let assert = lathe()
        .arg("batch")
        .arg(&mix)
        .arg("--out-dir")
        .arg(&out)
        .arg("--reference")
        .arg(&reference)
        .args(["-j", "100000"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("batch: 1 worker (-j 100000 capped at the 1 output"),
        "{stderr}"
    );
    assert!(out.join("song.wav").exists());
}
