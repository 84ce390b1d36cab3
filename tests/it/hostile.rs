//! Promises under hostile input (issue 11), end to end on the binary: huge float values, mono
//! loudness against ffmpeg, option values out of range, silence and near-silence, DC.

use std::f64::consts::PI;
use std::path::Path;

use crate::common::{
    ebur128_lufs_dbtp, ffmpeg_lufs_dbtp, have_ffmpeg, reference_true_peak_dbtp, write_float_wav,
    Rng,
};
use assert_cmd::Command;

fn lathe() -> Command {
    Command::cargo_bin("lathe").expect("binary builds")
}

fn read(path: &Path) -> lathe::AudioBuffer {
    lathe::io::decode::decode_file(path).unwrap()
}

/// Music-like material: filtered noise under an envelope plus a bass tone.
fn music(rate: u32, seconds: f64, channels: usize, seed: u64, level: f64) -> Vec<Vec<f32>> {
    let n = (seconds * f64::from(rate)) as usize;
    (0..channels)
        .map(|c| {
            let mut rng = Rng::new(seed + c as u64);
            let mut lp = 0.0f64;
            (0..n)
                .map(|i| {
                    let t = i as f64 / f64::from(rate);
                    lp = 0.8 * lp + 0.2 * rng.bipolar();
                    let env = 0.6 + 0.4 * (2.0 * PI * 0.5 * t).sin();
                    (level * (env * lp + 0.3 * (2.0 * PI * 110.0 * t).sin())) as f32
                })
                .collect()
        })
        .collect()
}

fn write_reference(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("reference.wav");
    write_float_wav(&path, 44_100, &music(44_100, 4.0, 2, 77, 0.5));
    path
}

#[test]
fn huge_float_samples_are_refused_with_the_frame() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write_reference(dir.path());
    for value in [1e20f32, 1e30, -3e38] {
        let mut x = music(44_100, 2.0, 2, 1, 0.3);
        for k in 0..10 {
            x[1][20_000 + k] = value;
        }
        let mix = dir.path().join("huge.wav");
        write_float_wav(&mix, 44_100, &x);
        let out = dir.path().join("huge_out.wav");
        for args in [vec!["analyze"], vec!["match"]] {
            let mut cmd = lathe();
            cmd.args(&args).arg(&mix);
            if args[0] == "match" {
                cmd.arg(&reference).arg("-o").arg(&out);
            }
            let o = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{value}: {stderr}");
            assert!(
                stderr.contains("huge.wav")
                    && stderr.contains("frame 20000, channel 1")
                    && stderr.contains("cannot be measured"),
                "{value}: {stderr}"
            );
            assert!(!out.exists(), "{value}: an output was written");
        }
    }
}

/// A mono file reads as ffmpeg and libebur128 read it (one channel of weight 1) in
/// `analyze`, and `match` brings a mono mix to the target as ffmpeg measures the output,
/// with and without the limiter, under the ceiling by the 32x reference.
#[test]
fn mono_loudness_agrees_with_ffmpeg_end_to_end() {
    if !have_ffmpeg() {
        eprintln!(
            "ffmpeg is not installed: skipped (Debian package `ffmpeg`; .ci/run installs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reference = write_reference(dir.path());
    let mix = dir.path().join("mono.wav");
    let x = music(44_100, 5.0, 1, 3, 0.2);
    write_float_wav(&mix, 44_100, &x);
    let (ffmpeg_in, _) = ffmpeg_lufs_dbtp(&mix);
    let o = lathe()
        .args(["analyze", "--json"])
        .arg(&mix)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let analyzed = v["integrated_lufs"]
        .as_f64()
        .or_else(|| v[0]["integrated_lufs"].as_f64())
        .unwrap_or_else(|| panic!("no integrated loudness in {v}"));
    // ffmpeg prints the integrated loudness to 0.1 LU: agreement within 0.1 LU.
    assert!(
        (analyzed - ffmpeg_in).abs() <= 0.1,
        "analyze {analyzed:.2} LUFS, ffmpeg {ffmpeg_in:.1} LUFS"
    );
    for (limiter, lufs) in [(true, -12.0), (false, -16.0)] {
        let out = dir.path().join(format!("mono_out_{limiter}.wav"));
        let mut cmd = lathe();
        cmd.arg("match")
            .arg(&mix)
            .arg(&reference)
            .arg("-o")
            .arg(&out)
            .args(["--lufs", &lufs.to_string(), "--bits", "32f"]);
        if !limiter {
            cmd.arg("--no-limiter");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (ffmpeg_out, _) = ffmpeg_lufs_dbtp(&out);
        let audio = read(&out);
        assert_eq!(audio.num_channels(), 1);
        let (ebu, _) = ebur128_lufs_dbtp(&audio.channels, 44_100);
        let tp = reference_true_peak_dbtp(&audio.channels);
        eprintln!(
            "mono, limiter {limiter}: target {lufs}, ffmpeg {ffmpeg_out:.1}, ebur128 {ebu:.2} LUFS, \
             true peak {tp:.3} dBTP"
        );
        assert!(
            (ffmpeg_out - lufs).abs() <= 0.1,
            "ffmpeg reads {ffmpeg_out}"
        );
        assert!(tp <= -1.0, "true peak {tp}");
    }
}

#[test]
fn out_of_range_amounts_name_the_valid_range() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write_reference(dir.path());
    for (flag, value) in [
        ("--amount", "-1"),
        ("--eq-amount", "-50"),
        ("--amount", "101"),
    ] {
        let o = lathe()
            .arg("match")
            .arg(&reference)
            .arg(&reference)
            .arg("-o")
            .arg(dir.path().join("x.wav"))
            .args([flag, value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(0), "{flag} {value}");
        assert!(
            stderr.contains(&format!("{flag} {value}")) && stderr.contains("0 to 100"),
            "{flag} {value}: {stderr}"
        );
    }
}

#[test]
fn silence_and_near_silence_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let silent = dir.path().join("silent.wav");
    write_float_wav(&silent, 44_100, &vec![vec![0.0f32; 88_200]; 2]);
    // Noise at -90 dBFS peak: not silence, but under the -70 LUFS gate.
    let mut rng = Rng::new(9);
    let quiet = dir.path().join("quiet.wav");
    let noise: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            (0..88_200)
                .map(|_| (3.16e-5 * rng.bipolar()) as f32)
                .collect()
        })
        .collect();
    write_float_wav(&quiet, 44_100, &noise);
    for (file, words) in [
        (&silent, "digital silence"),
        (&quiet, "too quiet to master"),
    ] {
        let out = dir.path().join("out.wav");
        let o = lathe()
            .arg("master")
            .arg(file)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(words), "{stderr}");
        // No genre is detected in audio that has none.
        assert!(!stderr.contains("genre: detected"), "{stderr}");
        assert!(!out.exists());
    }
    let o = lathe()
        .arg("master")
        .arg(&quiet)
        .arg("-o")
        .arg(dir.path().join("q.wav"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("-90.0 dBFS"),
        "the level is given: {stderr}"
    );
}

#[test]
fn dc_is_removed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write_reference(dir.path());
    // Music with +0.2 of DC in the left channel, and pure DC at 0.88.
    let mut offset = music(44_100, 4.0, 2, 5, 0.2);
    offset[0].iter_mut().for_each(|s| *s += 0.2);
    let dc_only = vec![vec![0.88f32; 4 * 44_100]; 2];
    for (name, x) in [("offset", offset), ("dc_only", dc_only)] {
        let mix = dir.path().join(format!("{name}.wav"));
        write_float_wav(&mix, 44_100, &x);
        let out = dir.path().join(format!("{name}_out.wav"));
        let json = dir.path().join(format!("{name}.json"));
        let o = lathe()
            .arg("match")
            .arg(&mix)
            .arg(&reference)
            .arg("-o")
            .arg(&out)
            .arg("--report-json")
            .arg(&json)
            .args(["--bits", "32f"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        if !o.status.success() {
            // DC alone has no loudness to master: refused, never passed through.
            assert_eq!(name, "dc_only", "{stderr}");
            assert!(
                stderr.contains("silence") || stderr.contains("quiet"),
                "{stderr}"
            );
            continue;
        }
        let audio = read(&out);
        for (c, ch) in audio.channels.iter().enumerate() {
            let mean = ch.iter().map(|&s| f64::from(s)).sum::<f64>() / ch.len() as f64;
            // -60 dBFS: the limit under which lathe calls an offset negligible.
            assert!(mean.abs() < 1e-3, "{name}, channel {c}: DC {mean} left");
        }
        let report = std::fs::read_to_string(&json).unwrap();
        assert!(
            report.contains("W_DC_OFFSET"),
            "{name}: no W_DC_OFFSET in the report"
        );
    }
}

#[test]
fn sigterm_exits_cleanly_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write_reference(dir.path());
    let mix = dir.path().join("long.wav");
    write_float_wav(&mix, 44_100, &music(44_100, 60.0, 2, 8, 0.2));
    // A stale temporary file of a killed run (PID 0 is never a user process): swept.
    let stale = dir.path().join(".out.wav.lathe-tmp-0-3");
    std::fs::write(&stale, b"partial").unwrap();
    let out = dir.path().join("out.wav");
    let bin = assert_cmd::cargo::cargo_bin("lathe");
    let child = std::process::Command::new(bin)
        .arg("match")
        .arg(&mix)
        .arg(&reference)
        .arg("-o")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-run (decoding or rendering 60 s takes longer than this).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert!(
        output.status.code() == Some(143) || output.status.signal().is_some(),
        "{:?}: {stderr}",
        output.status
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("lathe-tmp") && n != ".out.wav.lathe-tmp-0-3")
        .collect();
    assert!(left.is_empty(), "partial files left: {left:?}");
    // The same output written again: the stale temporary file of the killed run is swept.
    lathe()
        .arg("match")
        .arg(dir.path().join("reference.wav"))
        .arg(&reference)
        .arg("-o")
        .arg(&out)
        .arg("--force")
        .assert()
        .success();
    assert!(!stale.exists(), "the stale temporary file is still there");
}

/// A job's outputs commit together: when the report cannot be written (its folder does not
/// exist), the mastered audio is not left behind under its final name, nor any temporary file.
#[test]
fn outputs_commit_together_when_the_report_fails() {
    let dir = tempfile::tempdir().unwrap();
    let reference = write_reference(dir.path());
    let mix = dir.path().join("mix.wav");
    write_float_wav(&mix, 44_100, &music(44_100, 3.0, 2, 4, 0.2));
    let out = dir.path().join("out.wav");
    let report = dir.path().join("no-such-folder").join("r.html");
    let o = lathe()
        .arg("match")
        .arg(&mix)
        .arg(&reference)
        .arg("-o")
        .arg(&out)
        .arg("--preview")
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    // The first of the report's files to fail (its EQ exports come before the page).
    assert!(
        stderr.contains("no-such-folder"),
        "the error names the report's folder: {stderr}"
    );
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("out") || n.contains("lathe-tmp"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?} ({stderr})");
}
