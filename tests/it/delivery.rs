//! Delivery: what a producer gets on disk and on the terminal. Tags carried from mix to master
//! (FLAC Vorbis comments, WAV LIST/INFO and ID3), the 32-bit float WAV header, shell
//! completions and `--quiet`.

use crate::report_signals;

use std::path::{Path, PathBuf};

use crate::report_signals::{programme, shelf_up, write_wav, FS};
use assert_cmd::Command;
use lathe::io::decode::decode_file;
use lathe::io::encode::{write_file, write_file_tagged, Container, OutputFormat, SampleFormat};
use lathe::io::tags::{read_tags, TagKey, Tags};

fn lathe() -> Command {
    Command::cargo_bin("lathe").unwrap()
}

/// 6 s: long enough for every statistic the renderer needs, short enough to be quick.
const FRAMES: usize = 6 * FS as usize;

fn fmt(container: Container, sample_format: SampleFormat) -> OutputFormat {
    OutputFormat {
        container,
        sample_format,
    }
}

/// A tag of every key, with text that exercises UTF-8 and separators.
fn every_tag() -> Tags {
    let mut t = Tags::default();
    for (k, v) in [
        (TagKey::Title, "Nächtlich / Night"),
        (TagKey::Artist, "The Lathes"),
        (TagKey::Album, "Cuts"),
        (TagKey::AlbumArtist, "Various"),
        (TagKey::TrackNumber, "3"),
        (TagKey::TrackTotal, "12"),
        (TagKey::DiscNumber, "1"),
        (TagKey::DiscTotal, "2"),
        (TagKey::Date, "2026-12-01"),
        (TagKey::Genre, "Electronic"),
        (TagKey::Composer, "A. Writer"),
        (TagKey::Isrc, "GBAYE2600123"),
        (TagKey::Comment, "mix 7, final"),
        (TagKey::Copyright, "2026 Lathe Records"),
        (TagKey::Label, "Lathe Records"),
    ] {
        t.insert(k, v);
    }
    t
}

fn sorted(t: &Tags) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = t
        .entries
        .iter()
        .map(|(k, v)| (k.vorbis_name().to_string(), v.clone()))
        .collect();
    v.sort();
    v
}

/// Chunks of a RIFF file as (id, body).
fn riff_chunks(bytes: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    let riff_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff_len + 8, bytes.len(), "RIFF length");
    let mut out = Vec::new();
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id: [u8; 4] = bytes[pos..pos + 4].try_into().unwrap();
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((id, bytes[pos + 8..pos + 8 + len].to_vec()));
        pos += 8 + len + (len & 1);
    }
    assert_eq!(pos, bytes.len(), "chunks end at the end of the file");
    out
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

#[test]
fn float_wav_has_an_ieee_float_fmt_chunk_and_a_fact_chunk() {
    let dir = tempfile::tempdir().unwrap();
    for channels in [1usize, 2, 6] {
        let audio = lathe::AudioBuffer::new(
            48_000,
            (0..channels)
                .map(|c| {
                    (0..1001)
                        .map(|i| ((i * (c + 1)) as f32 * 0.01).sin())
                        .collect()
                })
                .collect(),
        )
        .unwrap();
        let path = dir.path().join(format!("f{channels}.wav"));
        write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Float32), 0).unwrap();
        let chunks = riff_chunks(&std::fs::read(&path).unwrap());
        let ids: Vec<&[u8; 4]> = chunks.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [b"fmt ", b"fact", b"data"], "{channels} channels");
        let f = &chunks[0].1;
        // WAVEFORMATEX: tag, channels, rate, bytes/s, block align, bits, cbSize.
        assert_eq!(u16_at(f, 2) as usize, channels);
        assert_eq!(u32::from_le_bytes(f[4..8].try_into().unwrap()), 48_000);
        assert_eq!(
            u32::from_le_bytes(f[8..12].try_into().unwrap()),
            48_000 * 4 * channels as u32
        );
        assert_eq!(u16_at(f, 12) as usize, 4 * channels);
        assert_eq!(u16_at(f, 14), 32);
        if channels <= 2 {
            assert_eq!((u16_at(f, 0), f.len(), u16_at(f, 16)), (3, 18, 0));
        } else {
            // WAVE_FORMAT_EXTENSIBLE, cbSize 22, the IEEE float subformat GUID.
            assert_eq!((u16_at(f, 0), f.len(), u16_at(f, 16)), (0xfffe, 40, 22));
            assert_eq!(&f[24..26], &[3, 0]);
            assert_eq!(
                &f[26..40],
                &[0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]
            );
        }
        assert_eq!(chunks[1].1, 1001u32.to_le_bytes());
        assert_eq!(chunks[2].1.len(), 1001 * 4 * channels);
        assert_eq!(decode_file(&path).unwrap(), audio, "{channels} channels");
    }
}

#[test]
fn tags_round_trip_through_flac_and_wav() {
    let dir = tempfile::tempdir().unwrap();
    let audio = programme(FS as usize, 1, -20.0, |_| 0.0);
    let want = every_tag();
    for (name, container, sample_format) in [
        ("t.flac", Container::Flac, SampleFormat::Int24),
        ("t.wav", Container::Wav, SampleFormat::Int24),
        ("t16.wav", Container::Wav, SampleFormat::Int16),
        ("tf.wav", Container::Wav, SampleFormat::Float32),
    ] {
        let path = dir.path().join(name);
        let format = fmt(container, sample_format);
        write_file_tagged(&path, &audio, format, 7, &want).unwrap();
        assert_eq!(sorted(&read_tags(&path).unwrap()), sorted(&want), "{name}");
        // The tags change nothing in the audio.
        let plain = dir.path().join(format!("plain-{name}"));
        write_file(&plain, &audio, format, 7).unwrap();
        assert_eq!(
            decode_file(&path).unwrap(),
            decode_file(&plain).unwrap(),
            "{name}"
        );
        assert!(read_tags(&plain).unwrap().is_empty(), "{name}");
    }
    // The WAV carries the RIFF INFO strings players read, and the ISRC only in ID3 (INFO's
    // ISRC means "source").
    let chunks = riff_chunks(&std::fs::read(dir.path().join("t.wav")).unwrap());
    let list = chunks.iter().find(|(id, _)| id == b"LIST").unwrap();
    assert_eq!(&list.1[..4], b"INFO");
    let inam = list.1.windows(4).position(|w| w == b"INAM").unwrap();
    let len = u32::from_le_bytes(list.1[inam + 4..inam + 8].try_into().unwrap()) as usize;
    assert_eq!(
        &list.1[inam + 8..inam + 8 + len],
        "Nächtlich / Night\0".as_bytes()
    );
    assert!(!list.1.windows(4).any(|w| w == b"ISRC"));
    let id3 = chunks.iter().find(|(id, _)| id == b"id3 ").unwrap();
    assert_eq!(&id3.1[..4], b"ID3\x04");
    assert!(id3.1.windows(4).any(|w| w == b"TSRC"));
    assert_eq!(chunks.last().unwrap().0, *b"data");
}

fn tagged_mix(dir: &Path) -> (PathBuf, PathBuf) {
    let mix = dir.join("mix.flac");
    let audio = programme(FRAMES, 5, -22.0, |f| shelf_up(f, 3000.0, -3.0));
    write_file_tagged(
        &mix,
        &audio,
        fmt(Container::Flac, SampleFormat::Int24),
        1,
        &every_tag(),
    )
    .unwrap();
    let reference = dir.join("reference.wav");
    write_wav(
        &reference,
        &programme(FRAMES, 9, -12.0, |f| shelf_up(f, 3000.0, 2.0)),
    );
    (mix, reference)
}

#[test]
fn match_carries_the_mix_tags_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, reference) = tagged_mix(dir.path());
    for out in ["master.flac", "master.wav"] {
        let out = dir.path().join(out);
        lathe()
            .arg("match")
            .args([&mix, &reference])
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        assert_eq!(
            sorted(&read_tags(&out).unwrap()),
            sorted(&every_tag()),
            "{}",
            out.display()
        );
    }
    let out = dir.path().join("untagged.flac");
    lathe()
        .arg("match")
        .args([&mix, &reference])
        .arg("-o")
        .arg(&out)
        .arg("--no-tags")
        .assert()
        .success();
    assert!(read_tags(&out).unwrap().is_empty());
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_lathe()"),
        ("zsh", "#compdef lathe"),
        ("fish", "complete -c lathe"),
    ] {
        let out = lathe().args(["completions", shell]).assert().success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        assert!(text.contains(marker), "{shell}: no '{marker}'");
        // The subcommands and their options are in the script.
        for word in ["match", "master", "batch", "sample-rate", "no-tags"] {
            assert!(text.contains(word), "{shell}: no '{word}'");
        }
    }
    lathe()
        .args(["completions", "tcsh"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("invalid value 'tcsh'"));
}

#[test]
fn quiet_prints_nothing_but_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, reference) = tagged_mix(dir.path());
    let out = dir.path().join("master.wav");
    let run = lathe()
        .args(["--quiet", "match"])
        .args([&mix, &reference])
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert!(run.get_output().stdout.is_empty());
    assert!(run.get_output().stderr.is_empty());
    assert!(out.exists());
    // Errors still print.
    lathe()
        .args(["match", "-q"])
        .args([&mix, &reference])
        .arg("-o")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicates::str::contains("already exists"));
}

/// A 48 kHz stereo programme (pink noise shaped brighter, with some width) at `lufs`.
fn programme_48k(seed: u64, lufs: f64) -> lathe::AudioBuffer {
    use report_signals::{at_lufs, shaped_noise, stereo};
    let fs = 48_000;
    let frames = 6 * fs as usize;
    let a = shaped_noise(frames, fs, seed, |f| shelf_up(f, 4000.0, 3.0));
    let b = shaped_noise(frames, fs, seed + 1000, |f| shelf_up(f, 4000.0, 3.0));
    lathe::AudioBuffer::new(fs, at_lufs(stereo(&a, &b, 0.35), fs, lufs)).unwrap()
}

#[test]
fn sample_rate_44100_from_48000_keeps_the_ceiling_and_the_loudness() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("mix48.wav");
    write_wav(&mix, &programme_48k(3, -24.0));
    let reference = dir.path().join("reference.wav");
    write_wav(
        &reference,
        &programme(FRAMES, 9, -12.0, |f| shelf_up(f, 3000.0, 2.0)),
    );
    let out = dir.path().join("master.wav");
    lathe()
        .arg("match")
        .args([&mix, &reference])
        .arg("-o")
        .arg(&out)
        .args(["--sample-rate", "44100", "--lufs", "-14", "--ceiling", "-1"])
        .assert()
        .success();
    let master = decode_file(&out).unwrap();
    assert_eq!(master.sample_rate_hz, 44_100);
    // 6 s at 48 kHz is 264 600 frames at 44.1 kHz (rubato's length, rounded).
    assert_eq!(master.frames(), 264_600);
    let (lufs, tp) = report_signals::measure(&master.channels, 44_100);
    // ebur128 is the independent meter; 0.1 LU is the tolerance.
    assert!((lufs + 14.0).abs() <= 0.1, "integrated {lufs:.3} LUFS");
    assert!(
        tp <= -1.0,
        "true peak {tp:.3} dBTP over the -1 dBTP ceiling"
    );

    // The `cd` preset: 44.1 kHz, 16 bit, its -0.3 dBTP ceiling.
    let cd = dir.path().join("cd.wav");
    lathe()
        .arg("match")
        .args([&mix, &reference])
        .arg("-o")
        .arg(&cd)
        .args(["--preset", "cd"])
        .assert()
        .success();
    let spec = hound::WavReader::open(&cd).unwrap().spec();
    assert_eq!((spec.sample_rate, spec.bits_per_sample), (44_100, 16));
    let cd = decode_file(&cd).unwrap();
    let (_, tp) = report_signals::measure(&cd.channels, 44_100);
    assert!(tp <= -0.3, "cd true peak {tp:.3} dBTP over -0.3");
}

/// A 6 s mix that clips (runs of full-scale samples) and so raises W_CLIPPING and
/// W_SHORT_INPUT, written as a float WAV so the overs stay overs.
fn clipping_mix(dir: &Path) -> PathBuf {
    let mut audio = programme(FRAMES, 21, -16.0, |_| 0.0);
    for c in &mut audio.channels {
        for s in &mut c[50_000..50_040] {
            *s = 1.0;
        }
    }
    let path = dir.join("clipping.wav");
    write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Float32), 0).unwrap();
    path
}

#[test]
fn match_prints_every_report_warning_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let mix = clipping_mix(dir.path());
    let (_, reference) = tagged_mix(dir.path());
    let out = dir.path().join("master.wav");
    let report = dir.path().join("report.json");
    let run = lathe()
        .arg("match")
        .args([&mix, &reference])
        .arg("-o")
        .arg(&out)
        .arg("--report-json")
        .arg(&report)
        .assert()
        .success();
    let stderr = String::from_utf8(run.get_output().stderr.clone()).unwrap();
    let stdout = String::from_utf8(run.get_output().stdout.clone()).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let codes: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"W_CLIPPING") && codes.contains(&"W_SHORT_INPUT"),
        "{codes:?}"
    );
    for code in &codes {
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with(&format!("warning: {code}: ")))
            .collect();
        assert_eq!(lines.len(), 1, "{code} in:\n{stderr}");
    }
    assert_eq!(
        stderr.lines().count(),
        codes.len(),
        "one line per warning:\n{stderr}"
    );
    // Not a terminal: no colour codes. Results on stdout, warnings not.
    assert!(!stderr.contains('\x1b'));
    assert!(!stdout.contains("W_"), "{stdout}");
    assert!(stdout.contains("LUFS"), "{stdout}");
}

#[test]
fn json_is_a_short_stable_summary_and_json_full_has_the_curves() {
    let dir = tempfile::tempdir().unwrap();
    let mix = clipping_mix(dir.path());
    let (_, reference) = tagged_mix(dir.path());
    let out = dir.path().join("master.wav");
    let run = lathe()
        .arg("match")
        .args([&mix, &reference])
        .arg("-o")
        .arg(&out)
        .args(["--json", "--bits", "16"])
        .assert()
        .success();
    let text = String::from_utf8(run.get_output().stdout.clone()).unwrap();
    assert!(
        !text.contains("OutputFormat") && !text.contains("{ "),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(
        v["format"],
        serde_json::json!({"container": "wav", "sample_format": "int16", "bits": 16,
            "dither": "tpdf", "sample_rate_hz": 44100, "channels": 2})
    );
    assert_eq!(v["target"]["source"]["kind"], "reference");
    // The summary's loudness is the written file's, by the independent meter.
    let master = decode_file(&out).unwrap();
    let (lufs, tp) = report_signals::measure(&master.channels, master.sample_rate_hz);
    let after = &v["after"];
    // 0.05 LU / 0.1 dB: lathe's meter against ebur128 (README: within 0.05 LU, 0.06 dB).
    assert!((after["integrated_lufs"].as_f64().unwrap() - lufs).abs() < 0.05);
    assert!((after["true_peak_dbtp"].as_f64().unwrap() - tp).abs() < 0.1);
    let codes: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"W_CLIPPING"), "{codes:?}");
    // Short: no curves.
    assert!(v.get("full").is_none());
    assert!(text.len() < 4000, "{} bytes", text.len());

    let run = lathe()
        .arg("match")
        .args([&mix, &reference])
        .arg("-o")
        .arg(&out)
        .args(["--json-full", "--force"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let full = &v["full"];
    assert_eq!(
        full["log"]["eq"]["dense_mid_db"].as_array().unwrap().len(),
        full["log"]["eq"]["dense_freq_hz"].as_array().unwrap().len()
    );
    assert_eq!(full["targets"]["mid_db"].as_array().unwrap().len(), 31);
    assert!(full["after"]["bands"]["mid_db"].is_array());
}

#[test]
fn analyze_speaks_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mix = clipping_mix(dir.path());
    let run = lathe().arg("analyze").arg(&mix).assert().success();
    let stdout = String::from_utf8(run.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("W_CLIPPING") && stdout.contains("the file"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("the mix") && !stdout.contains("The mix"),
        "{stdout}"
    );
}
