//! Audio I/O speed on "4 min stereo 44.1k": decode (FLAC, MP3), encode (WAV 16/24-bit,
//! FLAC 24-bit) and resample to 48 kHz.
//!
//! The signal is pink-ish noise plus slow tremolo tones, made here; the MP3 needs ffmpeg with
//! libmp3lame on the PATH and is skipped without it. Files go to the system temp folder.
//! `cargo bench --bench io`

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use lathe::io::decode::decode_file;
use lathe::io::encode::{write_file, Container, OutputFormat, SampleFormat};
use lathe::io::resample::resample;
use lathe::AudioBuffer;

const RATE_HZ: u32 = 44_100;
const FRAMES: usize = 240 * RATE_HZ as usize;

/// Deterministic music-like test signal: filtered noise (one-pole, so energy falls with
/// frequency) plus two slowly modulated tones, about -18 dBFS RMS.
fn signal() -> AudioBuffer {
    let mut state = 0x1234_5678_9ABC_DEF0u64;
    let mut lp = [0.0f64; 2];
    let mut channels = vec![Vec::with_capacity(FRAMES), Vec::with_capacity(FRAMES)];
    for n in 0..FRAMES {
        let t = n as f64 / f64::from(RATE_HZ);
        for (c, ch) in channels.iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let white = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            lp[c] += 0.05 * (white - lp[c]);
            let tone = 0.15
                * (2.0 * std::f64::consts::PI * (220.0 + 110.0 * c as f64) * t).sin()
                * (0.5 + 0.5 * (2.0 * std::f64::consts::PI * 0.3 * t).sin());
            ch.push((1.5 * lp[c] + 0.1 * white + tone) as f32);
        }
    }
    AudioBuffer::new(RATE_HZ, channels).unwrap()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lathe_bench_{name}"))
}

fn fmt(container: Container, sample_format: SampleFormat) -> OutputFormat {
    OutputFormat {
        container,
        sample_format,
    }
}

/// An MP3 of `wav` via ffmpeg, if ffmpeg is there.
fn mp3_of(wav: &Path) -> Option<PathBuf> {
    let mp3 = temp("4min.mp3");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(wav)
        .args(["-c:a", "libmp3lame", "-b:a", "320k"])
        .arg(&mp3)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(mp3)
}

fn bench_io(c: &mut Criterion) {
    let audio = signal();
    let wav16 = temp("4min_s16.wav");
    let flac16 = temp("4min_s16.flac");
    write_file(&wav16, &audio, fmt(Container::Wav, SampleFormat::Int16), 1).unwrap();
    write_file(
        &flac16,
        &audio,
        fmt(Container::Flac, SampleFormat::Int16),
        1,
    )
    .unwrap();
    let mp3 = mp3_of(&wav16);

    let mut group = c.benchmark_group("4 min stereo 44.1k");
    group.sample_size(10);
    group.bench_function("decode FLAC 16-bit", |b| {
        b.iter(|| decode_file(&flac16).unwrap())
    });
    group.bench_function("decode WAV 16-bit", |b| {
        b.iter(|| decode_file(&wav16).unwrap())
    });
    if let Some(mp3) = &mp3 {
        group.bench_function("decode MP3 320k", |b| b.iter(|| decode_file(mp3).unwrap()));
    }
    let out_wav = temp("out.wav");
    let out_flac = temp("out.flac");
    group.bench_function("encode WAV 16-bit (TPDF)", |b| {
        b.iter(|| {
            write_file(
                &out_wav,
                &audio,
                fmt(Container::Wav, SampleFormat::Int16),
                7,
            )
            .unwrap()
        })
    });
    group.bench_function("encode WAV 24-bit", |b| {
        b.iter(|| {
            write_file(
                &out_wav,
                &audio,
                fmt(Container::Wav, SampleFormat::Int24),
                7,
            )
            .unwrap()
        })
    });
    group.bench_function("encode FLAC 24-bit", |b| {
        b.iter(|| {
            write_file(
                &out_flac,
                &audio,
                fmt(Container::Flac, SampleFormat::Int24),
                7,
            )
            .unwrap()
        })
    });
    group.bench_function("resample to 48 kHz", |b| {
        b.iter(|| resample(&audio, 48_000).unwrap())
    });
    group.finish();

    for p in [wav16, flac16, out_wav, out_flac] {
        let _ = std::fs::remove_file(p);
    }
    if let Some(p) = mp3 {
        let _ = std::fs::remove_file(p);
    }
}

criterion_group!(benches, bench_io);
criterion_main!(benches);
