//! A replayed corpus of malformed files (issue 11), generated here from the fixtures in
//! `tests/data/` and from files lathe writes: truncations, flipped bytes, zeroed runs, random
//! bytes and text, in WAV, AIFF, FLAC, MP3, Ogg Vorbis and MP4 (AAC, ALAC). Every one goes
//! through the decoder: no panic, and either audio or one clear line naming the file.
//! A file cut short is always an error that says so.

use crate::common;

use std::path::{Path, PathBuf};

use crate::common::Rng;
use lathe::io::decode::decode_file;
use lathe::io::encode::{write_file, OutputFormat, SampleFormat};
use lathe::{AudioBuffer, Error};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The seeds: every container lathe reads, as committed fixtures and as lathe writes them.
fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = [
        "tone_s16.wav",
        "tone_s24.wav",
        "tone_f32.wav",
        "tone_s16.aiff",
        "tone_s24.flac",
        "tone.mp3",
        "tone.ogg",
        "tone_aac.m4a",
        "tone_alac.m4a",
    ]
    .iter()
    .map(|n| (n.to_string(), std::fs::read(data(n)).unwrap()))
    .collect();
    let mut rng = Rng::new(3);
    let audio = AudioBuffer::new(
        44_100,
        (0..2)
            .map(|_| (0..44_100).map(|_| (0.3 * rng.bipolar()) as f32).collect())
            .collect(),
    )
    .unwrap();
    for (name, bits) in [
        ("lathe16.wav", SampleFormat::Int16),
        ("lathe24.flac", SampleFormat::Int24),
        ("lathe16.flac", SampleFormat::Int16),
    ] {
        let p = dir.join(name);
        write_file(
            &p,
            &audio,
            OutputFormat::from_path(&p, Some(bits)).unwrap(),
            1,
        )
        .unwrap();
        out.push((name.to_string(), std::fs::read(&p).unwrap()));
    }
    out
}

/// Decodes `bytes` written as `name`; returns the error's message, or `None` for audio.
/// Panics (fails the test) if the decoder panicked or the message does not name the file.
fn replay(dir: &Path, name: &str, bytes: &[u8]) -> Option<(String, Error)> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let result = std::panic::catch_unwind(|| decode_file(&path))
        .unwrap_or_else(|_| panic!("{name}: the decoder panicked"));
    match result {
        Ok(audio) => {
            assert_eq!(audio.first_non_finite(), None, "{name}: non-finite samples");
            None
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(name),
                "{name}: the message does not name it: {msg}"
            );
            assert_eq!(msg.lines().count(), 1, "{name}: {msg}");
            Some((msg, e))
        }
    }
}

#[test]
fn truncated_files_are_errors_that_say_so() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, bytes) in seeds(dir.path()) {
        // Cut at 20 %, 50 % and 85 % of the file: beyond the headers, inside the audio.
        for pct in [20usize, 50, 85] {
            let cut = bytes.len() * pct / 100;
            let name = format!("cut{pct}_{seed}");
            let Some((msg, e)) = replay(dir.path(), &name, &bytes[..cut]) else {
                panic!("{name}: {cut} of {} bytes decoded as if whole", bytes.len());
            };
            eprintln!("{name}: {msg}");
            assert!(
                matches!(
                    e,
                    Error::Truncated { .. } | Error::OggWithoutEnd { .. } | Error::Corrupt { .. }
                ),
                "{name}: {e:?}"
            );
            assert!(msg.contains("truncated"), "{name}: {msg}");
        }
    }
}

#[test]
fn truncation_messages_give_the_promise_and_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = std::fs::read(data("tone.mp3")).unwrap();
    let (msg, e) = replay(dir.path(), "half.mp3", &mp3[..mp3.len() / 2]).unwrap();
    // tone.mp3 is 0.80 s (its Xing frame count less the LAME delay and padding).
    assert!(
        matches!(e, Error::Truncated { promised_s, decodable_s, .. }
            if (promised_s - 0.8).abs() < 0.03 && decodable_s < 0.5),
        "{msg}"
    );
    assert!(
        msg.contains("truncated or corrupt: its Xing header promises 0.8"),
        "{msg}"
    );
    // Ogg: a file cut at a page boundary holds only whole pages, and its granule positions
    // promise only what is left; the missing end-of-stream flag is the one sign. tone.ogg is
    // one audio page, so a 3 s Vorbis file is made here (ffmpeg's libvorbis).
    if common::have_ffmpeg() {
        let long = dir.path().join("long.ogg");
        let status = std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "sine=f=440:d=3",
                "-c:a",
            ])
            .args(["libvorbis"])
            .arg(&long)
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg could not write Vorbis");
        let ogg = std::fs::read(&long).unwrap();
        let pages: Vec<usize> = (0..ogg.len() - 4)
            .filter(|&i| &ogg[i..i + 4] == b"OggS")
            .collect();
        assert!(pages.len() > 4, "{} Ogg pages", pages.len());
        let cut = pages[pages.len() / 2 + 1];
        let (msg, e) = replay(dir.path(), "half.ogg", &ogg[..cut]).unwrap();
        assert!(matches!(e, Error::OggWithoutEnd { .. }), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
    } else {
        eprintln!("ffmpeg is not installed: the Ogg end-of-stream case is skipped");
    }
    let wav = std::fs::read(data("tone_s16.wav")).unwrap();
    let (msg, e) = replay(dir.path(), "half.wav", &wav[..wav.len() / 2]).unwrap();
    assert!(
        matches!(e, Error::Truncated { promised_s, .. } if (promised_s - 0.8).abs() < 0.01),
        "{msg}"
    );
}

#[test]
fn mutated_files_never_panic_and_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(11);
    let mut errors = 0;
    let mut decoded = 0;
    for (seed, bytes) in seeds(dir.path()) {
        for k in 0..12 {
            let mut m = bytes.clone();
            // Flip 1..8 bytes, anywhere (headers included), or zero a run of up to 64 bytes.
            if k % 3 == 2 {
                let at = (rng.next_f64() * m.len() as f64) as usize;
                let len = 1 + (rng.next_f64() * 64.0) as usize;
                let end = (at + len).min(m.len());
                m[at..end].iter_mut().for_each(|b| *b = 0);
            } else {
                for _ in 0..1 + (rng.next_f64() * 8.0) as usize {
                    let at = (rng.next_f64() * m.len() as f64) as usize;
                    m[at] ^= 1 << (rng.next_f64() * 8.0) as u32;
                }
            }
            match replay(dir.path(), &format!("mut{k}_{seed}"), &m) {
                Some(_) => errors += 1,
                None => decoded += 1,
            }
        }
    }
    eprintln!("mutations: {decoded} decoded, {errors} refused");
    assert!(errors > 0 && decoded > 0);
}

#[test]
fn random_bytes_and_text_are_not_audio_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(5);
    for (k, len) in [100usize, 5_000, 200_000].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next_f64() * 256.0) as u8).collect();
        let name = format!("random{k}.wav");
        let (msg, e) = replay(dir.path(), &name, &bytes).unwrap();
        assert!(
            matches!(e, Error::UnrecognisedFormat { .. }),
            "{name}: {msg}"
        );
        assert!(msg.contains("not an audio file"), "{msg}");
    }
    let json = br#"{"schema_version": 3, "loudness": {"integrated_lufs": -14.0}}"#;
    for name in ["features.json", "features.mp3"] {
        let (msg, e) = replay(dir.path(), name, json).unwrap();
        assert!(
            matches!(e, Error::UnrecognisedFormat { .. }),
            "{name}: {msg}"
        );
    }
}
