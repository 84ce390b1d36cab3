//! FLAC output size (issue 11): on music-like signals lathe's FLAC is smaller than the WAV of
//! the same samples and within 1.2x of the reference encoder (`flac` 1.4, default level 5),
//! at 16 and 24 bits, and decodes to exactly the samples the WAV holds.
//!
//! Needs the `flac` command (Debian package `flac`, installed by `.ci/run`).

use std::f64::consts::PI;
use std::path::Path;
use std::process::Command;

use crate::common::Rng;
use lathe::io::decode::decode_file;
use lathe::io::encode::{write_file, OutputFormat, SampleFormat};
use lathe::AudioBuffer;

/// Stereo "music": pink-ish noise under a 2 Hz envelope, a bass line and a few partials,
/// channels partly correlated, peaking near `peak`.
fn music(fs: u32, seconds: f64, seed: u64, peak: f64) -> AudioBuffer {
    let n = (seconds * f64::from(fs)) as usize;
    let mut rng = Rng::new(seed);
    let (mut b0, mut b1, mut b2) = (0.0f64, 0.0f64, 0.0f64);
    let mut common_noise = Vec::with_capacity(n);
    let mut side_noise = Vec::with_capacity(n);
    for _ in 0..n {
        let w = rng.bipolar();
        // Paul Kellet's economy pink filter (three poles).
        b0 = 0.99765 * b0 + w * 0.099_046;
        b1 = 0.96300 * b1 + w * 0.296_516_4;
        b2 = 0.57000 * b2 + w * 1.052_691_3;
        common_noise.push((b0 + b1 + b2 + w * 0.1848) * 0.05);
        side_noise.push(rng.bipolar() * 0.01);
    }
    let mut l = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / f64::from(fs);
        let env = 0.5 + 0.5 * (2.0 * PI * 2.0 * t).sin().abs();
        let bass = 0.3 * (2.0 * PI * 55.0 * t).sin() * env;
        let chord: f64 = [220.0, 277.2, 329.6, 440.0]
            .iter()
            .enumerate()
            .map(|(k, f)| 0.05 / (k + 1) as f64 * (2.0 * PI * f * t + k as f64).sin())
            .sum();
        let c = common_noise[i] * env + bass + chord;
        l.push(c + side_noise[i]);
        r.push(c - side_noise[i] + 0.02 * (2.0 * PI * 3_000.0 * t).sin());
    }
    let max = l.iter().chain(&r).fold(0.0f64, |a, &b| a.max(b.abs()));
    let g = peak / max;
    AudioBuffer::new(
        fs,
        vec![
            l.iter().map(|&v| (v * g) as f32).collect(),
            r.iter().map(|&v| (v * g) as f32).collect(),
        ],
    )
    .unwrap()
}

fn have_flac() -> bool {
    Command::new("flac")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn flac_is_smaller_than_wav_and_close_to_the_reference_encoder() {
    if !have_flac() {
        eprintln!("`flac` is not installed: skipped (Debian package `flac`; .ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (fs, bits, peak, seed) in [
        (44_100u32, SampleFormat::Int24, 0.98, 1u64),
        (44_100, SampleFormat::Int24, 0.3, 2),
        (48_000, SampleFormat::Int16, 0.98, 3),
        (96_000, SampleFormat::Int24, 0.9, 4),
    ] {
        let audio = music(fs, 6.0, seed, peak);
        let name = format!("{}k_{}bit_peak{peak}", fs / 1000, bits.bits());
        let wav = dir.path().join(format!("{name}.wav"));
        let ours = dir.path().join(format!("{name}.flac"));
        let theirs = dir.path().join(format!("{name}_ref.flac"));
        let format = |p: &Path| OutputFormat::from_path(p, Some(bits)).unwrap();
        // Same dither seed: the same samples in both files.
        write_file(&wav, &audio, format(&wav), 9).unwrap();
        write_file(&ours, &audio, format(&ours), 9).unwrap();
        let status = Command::new("flac")
            .args(["-s", "-f", "-o"])
            .arg(&theirs)
            .arg(&wav)
            .status()
            .unwrap();
        assert!(status.success(), "flac failed on {}", wav.display());
        let (w, o, t) = (size(&wav), size(&ours), size(&theirs));
        let ratio = o as f64 / t as f64;
        eprintln!(
            "{name}: wav {w} B, lathe flac {o} B ({:.3} of wav), flac -5 {t} B: lathe/flac {ratio:.3}",
            o as f64 / w as f64
        );
        // Lossless: the FLAC decodes to the WAV's samples exactly.
        assert_eq!(
            decode_file(&ours).unwrap().channels,
            decode_file(&wav).unwrap().channels,
            "{name}: FLAC and WAV samples differ"
        );
        // The reference decoder accepts the stream: frame CRCs and STREAMINFO's MD5.
        let test = Command::new("flac")
            .args(["-t", "-s"])
            .arg(&ours)
            .output()
            .unwrap();
        if !test.status.success() {
            failures.push(format!(
                "{name}: `flac -t` rejects lathe's FLAC: {}",
                String::from_utf8_lossy(&test.stderr).trim()
            ));
        }
        if o >= w {
            failures.push(format!(
                "{name}: FLAC {o} B is not smaller than the WAV {w} B"
            ));
        }
        // The bound: within 1.2x of the reference encoder.
        if ratio > 1.2 {
            failures.push(format!("{name}: {ratio:.3}x the reference encoder's size"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Odd shapes through lathe's FLAC encoder: mono and stereo, 16 and 24 bit, lengths from one
/// frame to just over a block, silence, full-scale squares and noise. The reference decoder
/// accepts each (`flac -t`: CRCs, MD5) and the samples come back exactly.
#[test]
fn flac_of_odd_shapes_is_valid_and_lossless() {
    if !have_flac() {
        eprintln!("`flac` is not installed: skipped (Debian package `flac`; .ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(5);
    for (k, frames) in [1usize, 15, 63, 64, 4095, 4097, 10_013]
        .into_iter()
        .enumerate()
    {
        for channels in [1usize, 2] {
            for bits in [SampleFormat::Int16, SampleFormat::Int24] {
                let chans: Vec<Vec<f32>> = (0..channels)
                    .map(|c| {
                        (0..frames)
                            .map(|i| match (k + c) % 3 {
                                0 => (rng.bipolar() * 0.99) as f32,
                                1 => {
                                    if (i / 7) % 2 == 0 {
                                        1.0
                                    } else {
                                        -1.0
                                    }
                                }
                                _ => 0.0,
                            })
                            .collect()
                    })
                    .collect();
                let audio = AudioBuffer::new(48_000, chans).unwrap();
                let name = format!("{frames}f_{channels}ch_{}bit", bits.bits());
                let flac = dir.path().join(format!("{name}.flac"));
                let wav = dir.path().join(format!("{name}.wav"));
                for p in [&flac, &wav] {
                    let format = OutputFormat::from_path(p, Some(bits)).unwrap();
                    write_file(p, &audio, format, 3).unwrap();
                }
                let test = Command::new("flac")
                    .args(["-t", "-s"])
                    .arg(&flac)
                    .output()
                    .unwrap();
                assert!(
                    test.status.success(),
                    "{name}: `flac -t`: {}",
                    String::from_utf8_lossy(&test.stderr)
                );
                assert_eq!(
                    decode_file(&flac).unwrap().channels,
                    decode_file(&wav).unwrap().channels,
                    "{name}"
                );
            }
        }
    }
}
