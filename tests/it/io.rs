//! Audio I/O against real files: the fixtures in `tests/data/` (made by
//! `tests/data/make_fixtures.sh`, described in `tests/data/README.md`) and files written here.

use std::f64::consts::PI;
use std::fs;
use std::path::{Path, PathBuf};

use ebur128::{EbuR128, Mode};
use lathe::io::decode::decode_file;
use lathe::io::encode::{check_output, write_file, Container, OutputFormat, SampleFormat};
use lathe::io::resample::{resample, ALIGNMENT_OFFSET_INPUT_FRAMES};
use lathe::render::dither::{quantize_tpdf, DitherRng};
use lathe::{AudioBuffer, Error};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn integrated_lufs(audio: &AudioBuffer) -> f64 {
    let mut meter =
        EbuR128::new(audio.num_channels() as u32, audio.sample_rate_hz, Mode::I).unwrap();
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    meter.add_frames_planar_f32(&planes).unwrap();
    meter.loudness_global().unwrap()
}

fn peak(audio: &AudioBuffer) -> f32 {
    audio
        .channels
        .iter()
        .flatten()
        .fold(0.0f32, |m, &s| m.max(s.abs()))
}

/// Sign changes, counting a run of zeros as no change.
fn zero_crossings(x: &[f32]) -> usize {
    let mut last = 0.0f32;
    let mut n = 0;
    for &s in x {
        if s != 0.0 {
            if last != 0.0 && (s > 0.0) != (last > 0.0) {
                n += 1;
            }
            last = s;
        }
    }
    n
}

/// Least-squares fit of `a sin(w t) + b cos(w t)` at `freq_hz`: returns (amplitude, phase_rad)
/// with the signal modelled as `amplitude * sin(w t + phase)`, t = frame / rate.
fn fit_sine(x: &[f32], rate_hz: f64, freq_hz: f64, frames: std::ops::Range<usize>) -> (f64, f64) {
    let w = 2.0 * PI * freq_hz / rate_hz;
    let (mut ss, mut cc, mut sc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for n in frames {
        let (s, c) = (w * n as f64).sin_cos();
        let v = f64::from(x[n]);
        ss += s * s;
        cc += c * c;
        sc += s * c;
        xs += v * s;
        xc += v * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    (a.hypot(b), b.atan2(a))
}

/// The tone fixture's content, as ffmpeg's aevalsrc computed it (see make_fixtures.sh).
fn tone_reference(frames: usize) -> Vec<Vec<f32>> {
    let t = |n: usize| n as f64 / 44_100.0;
    let left = (0..frames)
        .map(|n| {
            (0.30 * (2.0 * PI * 440.0 * t(n)).sin() + 0.15 * (2.0 * PI * 3000.0 * t(n)).sin())
                as f32
        })
        .collect();
    let right = (0..frames)
        .map(|n| {
            (0.20 * (2.0 * PI * 440.0 * t(n) + 1.0).sin()
                + 0.15 * (2.0 * PI * 3000.0 * t(n) + 2.0).sin()) as f32
        })
        .collect();
    vec![left, right]
}

/// Signal-to-error ratio of `x` against `reference`, in dB, over all channels.
fn snr_db(x: &AudioBuffer, reference: &[Vec<f32>]) -> f64 {
    let (mut sig, mut err) = (0.0, 0.0);
    for (a, b) in x.channels.iter().zip(reference) {
        for (&p, &q) in a.iter().zip(b) {
            sig += f64::from(q) * f64::from(q);
            err += (f64::from(p) - f64::from(q)).powi(2);
        }
    }
    10.0 * (sig / err).log10()
}

/// Asserts two buffers are identical, naming the first frame and channel that differ.
#[track_caller]
fn assert_same_audio(got: &AudioBuffer, want: &AudioBuffer, what: &str) {
    assert_eq!(
        got.sample_rate_hz, want.sample_rate_hz,
        "{what}: sample rate"
    );
    assert_eq!(got.num_channels(), want.num_channels(), "{what}: channels");
    assert_eq!(got.frames(), want.frames(), "{what}: frames");
    for (c, (g, w)) in got.channels.iter().zip(&want.channels).enumerate() {
        if let Some(f) = g
            .iter()
            .zip(w)
            .position(|(a, b)| a.to_bits() != b.to_bits())
        {
            panic!(
                "{what}: frame {f}, channel {c}: got {}, expected {}",
                g[f], w[f]
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Decoding the same content in every format

/// 0.8 s at 44.1 kHz.
const TONE_FRAMES: usize = 35_280;

const TONE_FILES: [&str; 9] = [
    "tone_s16.wav",
    "tone_s24.wav",
    "tone_f32.wav",
    "tone_s16.aiff",
    "tone_s24.flac",
    "tone_alac.m4a",
    "tone.mp3",
    "tone.ogg",
    "tone_aac.m4a",
];

#[test]
fn every_format_decodes_to_the_same_length_and_loudness() {
    let reference = decode_file(&data("tone_f32.wav")).unwrap();
    let reference_lufs = integrated_lufs(&reference);
    let expected = tone_reference(TONE_FRAMES);
    for name in TONE_FILES {
        let audio = decode_file(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(audio.sample_rate_hz, 44_100, "{name}");
        assert_eq!(audio.num_channels(), 2, "{name}");
        // Every format, lossy ones included, comes out exactly as long as the source: MP3 by
        // its LAME info frame (delay 1105 + padding), Vorbis by granule positions, AAC by the
        // MP4 edit list (1024 priming frames) and the media duration.
        assert_eq!(audio.frames(), TONE_FRAMES, "{name}: frames");
        let lufs = integrated_lufs(&audio);
        // The brief's tolerance: lossy coding at 192 kb/s (q6 Vorbis) changes the loudness of
        // two steady sines by far less than 0.1 LU.
        assert!(
            (lufs - reference_lufs).abs() < 0.1,
            "{name}: {lufs:.3} LUFS vs {reference_lufs:.3} LUFS"
        );
        // Alignment, not just length: a priming offset of even one frame at 3 kHz would cap
        // the SNR near 20*log10(1/(2 pi 3000/44100)) = 7 dB on that component.
        let snr = snr_db(&audio, &expected);
        let lossless = !matches!(name, "tone.mp3" | "tone.ogg" | "tone_aac.m4a");
        // 16-bit quantization of this content gives 87.6 dB. The lossy files measure 49.8 dB
        // (MP3 V0), 41.0 dB (Vorbis q6) and 27.7 dB (ffmpeg's AAC at 192 kb/s); 25 dB passes
        // them while a one-frame misalignment (<= 7 dB, above) fails.
        let min_snr = if lossless { 80.0 } else { 25.0 };
        assert!(snr > min_snr, "{name}: SNR {snr:.1} dB against the formula");
        println!("{name}: {lufs:.3} LUFS, SNR {snr:.1} dB");
    }
}

#[test]
fn lossless_fixtures_match_the_formula_sample_by_sample() {
    let expected = tone_reference(TONE_FRAMES);
    // (file, tolerance): the f32 WAV holds the formula rounded to f32 (the formula here is
    // also rounded to f32, but sin() may differ in the last bit: 1e-7); 16-bit files are within
    // half an LSB of rounding (0.5 / 32768) plus that; 24-bit within 0.5 / 2^23.
    let cases = [
        ("tone_f32.wav", 1e-7),
        ("tone_s24.wav", 0.5 / 8_388_608.0 + 1e-7),
        ("tone_s24.flac", 0.5 / 8_388_608.0 + 1e-7),
        ("tone_s16.wav", 0.5 / 32_768.0 + 1e-7),
        ("tone_s16.aiff", 0.5 / 32_768.0 + 1e-7),
        ("tone_alac.m4a", 0.5 / 32_768.0 + 1e-7),
    ];
    for (name, tol) in cases {
        let audio = decode_file(&data(name)).unwrap();
        for (c, (got, want)) in audio.channels.iter().zip(&expected).enumerate() {
            for (f, (&g, &w)) in got.iter().zip(want).enumerate() {
                assert!(
                    (f64::from(g) - f64::from(w)).abs() <= tol,
                    "{name}: frame {f}, channel {c}: got {g}, expected {w}"
                );
            }
        }
    }
}

#[test]
fn rf64_decodes_like_the_same_samples_in_riff() {
    let riff = decode_file(&data("edge_mono.wav")).unwrap();
    let rf64 = decode_file(&data("edge_rf64.wav")).unwrap();
    assert_eq!(riff.frames(), 22_050);
    assert_same_audio(&rf64, &riff, "RF64 vs RIFF");
}

#[test]
fn unusual_but_valid_files_decode() {
    let mono = decode_file(&data("edge_mono.wav")).unwrap();
    assert_eq!((mono.num_channels(), mono.sample_rate_hz), (1, 44_100));
    // ffmpeg's sine source at volume 0.5: amplitude 1/8 * 0.5... measured against the formula
    // would need its exact gain; the frequency is what matters: 1 kHz for 0.5 s.
    assert_eq!(zero_crossings(&mono.channels[0]), 999, "1 kHz for 0.5 s");

    let short = decode_file(&data("edge_short_0.2s.wav")).unwrap();
    assert_eq!(short.frames(), 8_820);

    let low = decode_file(&data("edge_8k.wav")).unwrap();
    assert_eq!((low.sample_rate_hz, low.frames()), (8_000, 4_000));

    let high = decode_file(&data("edge_384k_u8.wav")).unwrap();
    assert_eq!((high.sample_rate_hz, high.frames()), (384_000, 172_800));
    assert_eq!(zero_crossings(&high.channels[0]), 899, "1 kHz for 0.45 s");

    for (name, channels) in [("edge_3ch.wav", 3), ("edge_6ch_5.1.wav", 6)] {
        let audio = decode_file(&data(name)).unwrap();
        assert_eq!(audio.num_channels(), channels, "{name}");
        assert_eq!((audio.sample_rate_hz, audio.frames()), (16_000, 7_200));
        for (c, ch) in audio.channels.iter().enumerate() {
            // Channel c carries 200 (c + 1) Hz: 2 * f * 0.45 s crossings, minus the one at t=0
            // (sin starts at exactly 0), so 180 (c + 1) - 1, +-1 for rounding at the end.
            let expected = 180 * (c + 1) - 1;
            let got = zero_crossings(ch);
            assert!(
                got.abs_diff(expected) <= 1,
                "{name} channel {c}: {got} crossings"
            );
        }
    }

    let silence = decode_file(&data("edge_silence.wav")).unwrap();
    assert!(silence.is_silent());
    assert_eq!(silence.frames(), 4_000);
}

#[test]
fn lossy_overs_are_kept_above_full_scale() {
    // A 0.999 square wave through AAC: the decoded band-limited wave overshoots (Gibbs, about
    // 9% of the step), and decode_file must not clip it.
    let hot = decode_file(&data("edge_hot.m4a")).unwrap();
    let p = peak(&hot);
    assert!(p > 1.05, "AAC peak {p} should exceed full scale");
    assert_eq!(hot.frames(), 22_050);
}

#[test]
fn symphonia_0_5_clamps_mp3_overs_known_limitation() {
    // The same square wave as MP3. symphonia 0.5.5 clamps MP3 (synthesis.rs) and Vorbis
    // (dsp.rs) output to +-1.0; upstream removed that (Symphonia PR #434, not in a 0.5 release).
    // When lathe moves to a symphonia without the clamp, this peak exceeds 1.0: flip this test.
    let hot = decode_file(&data("edge_hot.mp3")).unwrap();
    assert_eq!(hot.frames(), 22_050);
    assert_eq!(peak(&hot), 1.0, "MP3 overs are clamped by symphonia 0.5");
}

#[test]
fn aiff_with_a_chunk_after_the_sound_data_keeps_its_length() {
    // symphonia 0.5 reads 8 bytes past an AIFF's SSND data (2 frames at 16-bit stereo); with a
    // chunk after SSND those would be garbage frames. decode_file trims to COMM's frame count.
    let mut bytes = fs::read(data("tone_s16.aiff")).unwrap();
    bytes.extend_from_slice(b"ANNO\x00\x00\x00\x08lathe!!!");
    let form_len = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&form_len.to_be_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trailing_chunk.aiff");
    fs::write(&path, &bytes).unwrap();
    let with_chunk = decode_file(&path).unwrap();
    assert_same_audio(
        &with_chunk,
        &decode_file(&data("tone_s16.aiff")).unwrap(),
        "AIFF with a trailing chunk",
    );
}

// ------------------------------------------------------------------------------------------
// Errors

#[test]
fn bad_files_give_the_right_error_naming_the_file() {
    let check = |name: &str, ok: &dyn Fn(&Error) -> bool| {
        let path = data(name);
        match decode_file(&path) {
            Ok(a) => panic!("{name}: decoded {} frames, expected an error", a.frames()),
            Err(e) => {
                assert!(ok(&e), "{name}: unexpected error {e:?}");
                assert!(e.to_string().contains(name), "{name}: message '{e}'");
            }
        }
    };
    check("no_such_file.wav", &|e| matches!(e, Error::Read { .. }));
    check("bad_empty.wav", &|e| matches!(e, Error::EmptyFile { .. }));
    check("bad_text.wav", &|e| {
        matches!(e, Error::UnrecognisedFormat { .. })
    });
    // 4000 frames promised at 8 kHz, 2000 present (symphonia returns 1983 of them).
    check("bad_truncated.wav", &|e| {
        matches!(e, Error::Truncated { promised_s, decodable_s, .. }
            if (promised_s - 0.5).abs() < 1e-9 && (decodable_s - 0.25).abs() < 0.005)
    });
    check("bad_truncated.flac", &|e| {
        matches!(e, Error::Corrupt { .. } | Error::Truncated { .. })
    });
    // One frame fails its CRC and is dropped: fewer frames than STREAMINFO promises.
    check("bad_garbage.flac", &|e| {
        matches!(e, Error::Corrupt { .. } | Error::Truncated { .. })
    });
    check(
        "bad_opus.opus",
        &|e| matches!(e, Error::UnsupportedCodec { codec, .. } if codec == "opus"),
    );
    check(
        "bad_alac_panic.m4a",
        &|e| matches!(e, Error::Corrupt { reason, .. } if reason.contains("decoder bug")),
    );
    check("bad_nan.wav", &|e| {
        matches!(
            e,
            Error::NonFiniteSample {
                frame: 1000,
                channel: 1,
                ..
            }
        )
    });
}

fn write_raw_wav(path: &Path, rate_hz: u32, channels: u16, frames: usize) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames * usize::from(channels) {
        w.write_sample((i % 100) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn shapes_lathe_cannot_handle_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no_frames.wav");
    write_raw_wav(&p, 44_100, 2, 0);
    assert!(matches!(decode_file(&p), Err(Error::NoAudio { .. })));

    for rate_hz in [4_000, 7_999, 384_001, 768_000] {
        let p = dir.path().join(format!("rate_{rate_hz}.wav"));
        write_raw_wav(&p, rate_hz, 1, 100);
        let err = decode_file(&p);
        assert!(
            matches!(err, Err(Error::UnsupportedSampleRate { sample_rate_hz }) if sample_rate_hz == rate_hz),
            "{rate_hz} Hz: {err:?}"
        );
    }

    let p = dir.path().join("nine_channels.wav");
    write_raw_wav(&p, 48_000, 9, 100);
    assert!(matches!(
        decode_file(&p),
        Err(Error::UnsupportedChannelCount { channels: 9 })
    ));

    // A folder is not a file.
    assert!(matches!(decode_file(dir.path()), Err(Error::Read { .. })));
}

#[test]
fn damaged_sizes_are_refused_before_any_big_allocation() {
    // symphonia 0.5 allocates what a header claims before reading it; these claims must be
    // refused up front (a 4-billion-entry sample table once aborted the test process).
    let dir = tempfile::tempdir().unwrap();
    let mp4 = fs::read(data("tone_aac.m4a")).unwrap();
    for table in [&b"stsc"[..], b"stco", b"stsz", b"stts"] {
        let at = mp4.windows(4).position(|w| w == table).unwrap();
        let mut bad = mp4.clone();
        // The count sits after version/flags (and, for stsz, the fixed sample size).
        let count_at = at + 4 + if table == b"stsz" { 8 } else { 4 };
        bad[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        let path = dir.path().join("huge_table.m4a");
        fs::write(&path, &bad).unwrap();
        let err = decode_file(&path);
        assert!(
            matches!(err, Err(Error::Corrupt { ref reason, .. }) if reason.contains("entries")),
            "{}: {err:?}",
            String::from_utf8_lossy(table)
        );
    }
    // A WAV whose LIST chunk claims 4 GB.
    let mut wav = b"RIFF\xff\xff\xff\xffWAVELIST\xf0\xff\xff\xffINFO".to_vec();
    wav.extend_from_slice(&[0u8; 64]);
    let path = dir.path().join("huge_chunk.wav");
    fs::write(&path, &wav).unwrap();
    assert!(matches!(
        decode_file(&path),
        Err(Error::Corrupt { reason, .. }) if reason.contains("past the end")
    ));
}

/// A tiny deterministic generator for the damage loops (xorshift64).
struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn damaged_fixtures_never_panic() {
    // Truncations at 48 points and 48 random corruptions (1 to 64 bytes overwritten) of every
    // format: decode_file must return Ok or Err, never panic.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let sources = [
        "tone_s16.wav",
        "tone_s16.aiff",
        "tone_s24.flac",
        "tone.mp3",
        "tone.ogg",
        "tone_aac.m4a",
        "tone_alac.m4a",
        "edge_rf64.wav",
        "bad_opus.opus",
    ];
    let mut outcomes = (0, 0);
    for name in sources {
        let bytes = fs::read(data(name)).unwrap();
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        let target = dir.path().join(format!("damaged.{ext}"));
        for i in 0..48 {
            let cut = bytes.len() * i / 48 + (rng.next() % 97) as usize;
            fs::write(&target, &bytes[..cut.min(bytes.len())]).unwrap();
            match decode_file(&target) {
                Ok(_) => outcomes.0 += 1,
                Err(_) => outcomes.1 += 1,
            }
            let mut damaged = bytes.clone();
            let at = (rng.next() % bytes.len() as u64) as usize;
            let len = 1 + (rng.next() % 64) as usize;
            for b in damaged.iter_mut().skip(at).take(len) {
                *b = rng.next() as u8;
            }
            fs::write(&target, &damaged).unwrap();
            match decode_file(&target) {
                Ok(_) => outcomes.0 += 1,
                Err(_) => outcomes.1 += 1,
            }
        }
    }
    println!(
        "damaged files: {} decoded, {} refused",
        outcomes.0, outcomes.1
    );
    assert_eq!(outcomes.0 + outcomes.1, 9 * 96);
}

mod random_bytes {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
            ext in prop::sample::select(vec!["wav", "flac", "mp3", "ogg", "m4a", "aiff", "bin"]),
            magic in prop::sample::select(vec![
                &b""[..], b"RIFF\x24\x00\x00\x00WAVEfmt ", b"RF64\xff\xff\xff\xffWAVEds64",
                b"fLaC", b"ID3\x03\x00", b"\xff\xfb\x90\x64", b"OggS\x00\x02",
                b"\x00\x00\x00\x18ftypM4A ", b"FORM\x00\x00\x10\x00AIFF",
            ]),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("random.{ext}"));
            let mut content = magic.to_vec();
            content.extend_from_slice(&bytes);
            fs::write(&path, &content).unwrap();
            let _ = decode_file(&path);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Round trips through write_file

fn grid_24bit_noise(channels: usize, frames: usize, seed: u64) -> AudioBuffer {
    let mut rng = Xorshift(seed);
    let planes = (0..channels)
        .map(|_| {
            (0..frames)
                .map(|_| {
                    // Integers in [-2^23, 2^23) scaled by 2^-23: exactly representable in f32.
                    let k = (rng.next() % (1 << 24)) as i64 - (1 << 23);
                    k as f32 / 8_388_608.0
                })
                .collect()
        })
        .collect();
    AudioBuffer::new(48_000, planes).unwrap()
}

fn sine_buffer(rate_hz: u32, channels: usize, frames: usize, amplitude: f64) -> AudioBuffer {
    let planes = (0..channels)
        .map(|c| {
            (0..frames)
                .map(|n| {
                    let t = n as f64 / f64::from(rate_hz);
                    (amplitude * (2.0 * PI * 997.0 * t + c as f64).sin()) as f32
                })
                .collect()
        })
        .collect();
    AudioBuffer::new(rate_hz, planes).unwrap()
}

fn fmt(container: Container, sample_format: SampleFormat) -> OutputFormat {
    OutputFormat {
        container,
        sample_format,
    }
}

#[test]
fn wav_24bit_round_trip_is_bit_exact_on_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let audio = grid_24bit_noise(2, 20_000, 1);
    let path = dir.path().join("grid.wav");
    write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Int24), 0).unwrap();
    assert_same_audio(&decode_file(&path).unwrap(), &audio, "24-bit WAV");
}

#[test]
fn wav_blocks_odd_sizes_and_dither_match_whole_buffer_encoding() {
    // lathe packs WAV samples itself, in blocks: an odd byte count gets the RIFF pad byte,
    // hound (an independent reader) and symphonia read the same samples, and the 16-bit dither
    // runs on across writes (2^18 frames each) exactly as one call over the whole channel.
    let dir = tempfile::tempdir().unwrap();
    let audio = grid_24bit_noise(3, 40_001, 7);
    let path = dir.path().join("odd.wav");
    write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Int24), 0).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(len % 2, 0, "RIFF pad byte");
    let mut reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.duration(), 40_001);
    let want: Vec<i32> = (0..40_001)
        .flat_map(|f| {
            audio
                .channels
                .iter()
                .map(move |c| (c[f] * 8_388_608.0) as i32)
        })
        .collect();
    let got: Vec<i32> = reader.samples::<i32>().map(Result::unwrap).collect();
    assert_eq!(got, want);
    assert_same_audio(&decode_file(&path).unwrap(), &audio, "odd 24-bit WAV");

    let frames = 600_000;
    let audio = sine_buffer(44_100, 2, frames, 0.5);
    let path = dir.path().join("dithered16.wav");
    write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Int16), 42).unwrap();
    let got: Vec<i32> = hound::WavReader::open(&path)
        .unwrap()
        .samples::<i16>()
        .map(|s| i32::from(s.unwrap()))
        .collect();
    let whole: Vec<Vec<i32>> = audio
        .channels
        .iter()
        .enumerate()
        .map(|(c, ch)| quantize_tpdf(ch, 16, &mut DitherRng::for_channel(42, c)))
        .collect();
    let want: Vec<i32> = (0..frames)
        .flat_map(|f| whole.iter().map(move |c| c[f]))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn float_wav_round_trip_is_exact_overs_included() {
    let dir = tempfile::tempdir().unwrap();
    let mut audio = sine_buffer(44_100, 2, 10_000, 0.7);
    audio.channels[0][100] = 1.75; // an over, kept in float
    audio.channels[1][200] = -3.0e-9; // tiny values survive too
    let path = dir.path().join("float.wav");
    write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Float32), 0).unwrap();
    assert_same_audio(&decode_file(&path).unwrap(), &audio, "float WAV");
}

#[test]
fn wav_16bit_round_trip_error_is_within_tpdf_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let audio = sine_buffer(44_100, 2, 100_000, 0.9);
    let path = dir.path().join("dithered.wav");
    write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Int16), 5).unwrap();
    let back = decode_file(&path).unwrap();
    assert_eq!(back.frames(), audio.frames());
    let (mut max_err, mut sum_sq, mut n) = (0.0f64, 0.0, 0.0);
    for (a, b) in audio.channels.iter().zip(&back.channels) {
        for (&x, &y) in a.iter().zip(b) {
            let err = (f64::from(y) - f64::from(x)) * 32_768.0;
            max_err = max_err.max(err.abs());
            sum_sq += err * err;
            n += 1.0;
        }
    }
    // Rounding contributes at most 0.5 LSB and the +-1 LSB triangular dither at most 1, so
    // 1.5 LSB bounds every sample (the sine peaks at 0.9, so no clamping).
    assert!(max_err <= 1.5, "max error {max_err} LSB");
    // Total error power of TPDF + rounding is 1/6 + 1/12 = 1/4 LSB^2 (RMS 0.5). With 200k
    // samples the estimate of the mean square has a standard error of
    // sqrt(Var(e^2) / n) <= sqrt(0.25 / 2e5) = 1.1e-3; 0.01 on the RMS is a wide margin.
    let rms = (sum_sq / n).sqrt();
    assert!((rms - 0.5).abs() < 0.01, "error RMS {rms} LSB");
}

#[test]
fn integer_output_clamps_only_at_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let audio = AudioBuffer::new(48_000, vec![vec![1.5, -1.5, 0.25, 1.0]]).unwrap();
    let path = dir.path().join("clamped.wav");
    write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Int24), 0).unwrap();
    let back = decode_file(&path).unwrap();
    let max = 8_388_607.0 / 8_388_608.0;
    assert_eq!(back.channels[0], vec![max, -1.0, 0.25, max]);
}

#[test]
fn flac_matches_wav_of_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    for (rate_hz, channels) in [(44_100, 2), (48_000, 1), (96_000, 6), (8_000, 8)] {
        let audio = sine_buffer(rate_hz, channels, 30_000, 0.8);
        for (sample_format, seed) in [(SampleFormat::Int16, 9), (SampleFormat::Int24, 0)] {
            let wav = dir.path().join("x.wav");
            let flac = dir.path().join("x.flac");
            write_file(&wav, &audio, fmt(Container::Wav, sample_format), seed).unwrap();
            write_file(&flac, &audio, fmt(Container::Flac, sample_format), seed).unwrap();
            let from_wav = decode_file(&wav).unwrap();
            let from_flac = decode_file(&flac).unwrap();
            let what = format!("{rate_hz} Hz, {channels} ch, {sample_format:?}");
            assert_same_audio(&from_flac, &from_wav, &what);
        }
    }
    // Lengths around flacenc's 64-frame minimum and the 4096-frame block: the last frame holds
    // exactly the remaining samples (no zero padding).
    for frames in [1, 10, 63, 64, 65, 4095, 4096, 4097, 3 * 4096 + 10] {
        let audio = sine_buffer(48_000, 2, frames, 0.5);
        let wav = dir.path().join("odd.wav");
        let flac = dir.path().join("odd.flac");
        write_file(&wav, &audio, fmt(Container::Wav, SampleFormat::Int24), 0).unwrap();
        write_file(&flac, &audio, fmt(Container::Flac, SampleFormat::Int24), 0).unwrap();
        let what = format!("{frames} frames");
        assert_same_audio(
            &decode_file(&flac).unwrap(),
            &decode_file(&wav).unwrap(),
            &what,
        );
    }
    // Hard content for an encoder: silence, full-scale alternation (overs clamp), noise.
    let mut rng = Xorshift(5);
    let hard: [Vec<f32>; 3] = [
        vec![0.0; 9_000],
        (0..9_000)
            .map(|n| if n % 2 == 0 { 1.5 } else { -1.5 })
            .collect(),
        (0..9_000)
            .map(|_| (rng.next() % 65_536) as f32 / 32_768.0 - 1.0)
            .collect(),
    ];
    for (i, plane) in hard.into_iter().enumerate() {
        let audio = AudioBuffer::new(44_100, vec![plane.clone(), plane]).unwrap();
        for sample_format in [SampleFormat::Int16, SampleFormat::Int24] {
            let wav = dir.path().join("hard.wav");
            let flac = dir.path().join("hard.flac");
            write_file(&wav, &audio, fmt(Container::Wav, sample_format), 3).unwrap();
            write_file(&flac, &audio, fmt(Container::Flac, sample_format), 3).unwrap();
            let what = format!("hard signal {i}, {sample_format:?}");
            assert_same_audio(
                &decode_file(&flac).unwrap(),
                &decode_file(&wav).unwrap(),
                &what,
            );
        }
    }
    // 192 kHz FLAC (lathe's encoder; flacenc stopped at 96 kHz): lossless.
    let high = sine_buffer(192_000, 2, 1_000, 0.5);
    let wav = dir.path().join("high.wav");
    let flac = dir.path().join("high.flac");
    write_file(&wav, &high, fmt(Container::Wav, SampleFormat::Int24), 0).unwrap();
    write_file(&flac, &high, fmt(Container::Flac, SampleFormat::Int24), 0).unwrap();
    assert_same_audio(
        &decode_file(&flac).unwrap(),
        &decode_file(&wav).unwrap(),
        "192 kHz",
    );
    // 24-bit values already on the grid come back bit-exact from FLAC too.
    let grid = grid_24bit_noise(2, 10_000, 77);
    let flac = dir.path().join("grid.flac");
    write_file(&flac, &grid, fmt(Container::Flac, SampleFormat::Int24), 0).unwrap();
    assert_same_audio(&decode_file(&flac).unwrap(), &grid, "24-bit FLAC");
}

#[test]
fn dither_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let audio = sine_buffer(44_100, 2, 5_000, 0.5);
    let write = |name: &str, seed: u64| {
        let p = dir.path().join(name);
        write_file(&p, &audio, fmt(Container::Wav, SampleFormat::Int16), seed).unwrap();
        fs::read(p).unwrap()
    };
    assert_eq!(write("a.wav", 1), write("b.wav", 1));
    assert_ne!(write("c.wav", 1), write("d.wav", 2));
}

#[test]
fn non_finite_audio_is_refused_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let audio = AudioBuffer::new(48_000, vec![vec![0.0, f32::INFINITY]]).unwrap();
    let path = dir.path().join("inf.wav");
    let err = write_file(&path, &audio, fmt(Container::Wav, SampleFormat::Float32), 0);
    assert!(matches!(
        err,
        Err(Error::NonFiniteSample {
            frame: 1,
            channel: 0,
            ..
        })
    ));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

// ------------------------------------------------------------------------------------------
// Atomic writes and output checks

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn write_leaves_only_the_output_and_replaces_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    let quiet = sine_buffer(44_100, 2, 1_000, 0.1);
    let loud = sine_buffer(44_100, 2, 2_000, 0.5);
    write_file(&path, &quiet, fmt(Container::Wav, SampleFormat::Float32), 0).unwrap();
    assert_eq!(names_in(dir.path()), vec!["out.wav"]);
    write_file(&path, &loud, fmt(Container::Wav, SampleFormat::Float32), 0).unwrap();
    assert_eq!(names_in(dir.path()), vec!["out.wav"]);
    assert_same_audio(&decode_file(&path).unwrap(), &loud, "replaced output");
}

#[test]
fn failed_write_removes_its_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // The output path is an existing folder: the temporary file is written, the rename fails.
    let target = dir.path().join("taken.wav");
    fs::create_dir(&target).unwrap();
    let audio = sine_buffer(44_100, 1, 1_000, 0.1);
    let err = write_file(&target, &audio, fmt(Container::Wav, SampleFormat::Int24), 0);
    assert!(matches!(err, Err(Error::Write { .. })), "{err:?}");
    assert_eq!(names_in(dir.path()), vec!["taken.wav"]);
    // A missing folder: nothing is created.
    let missing = dir.path().join("no/such/folder/out.flac");
    let err = write_file(
        &missing,
        &audio,
        fmt(Container::Flac, SampleFormat::Int16),
        0,
    );
    assert!(matches!(err, Err(Error::Write { ref path, .. }) if path == &missing));
}

#[test]
fn check_output_refuses_inputs_and_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let input = sub.join("in.wav");
    write_raw_wav(&input, 44_100, 1, 10);
    let other = dir.path().join("out.wav");

    // A new output is fine.
    check_output(&other, &[&input], false).unwrap();
    // The input, spelt another way, is refused even with force.
    let detour = sub.join("..").join("sub").join(".").join("in.wav");
    for force in [false, true] {
        assert!(matches!(
            check_output(&detour, &[&input], force),
            Err(Error::OutputIsInput { .. })
        ));
    }
    // ... also through a path relative to the working directory, when there is one.
    if let Ok(rel) = input.strip_prefix(std::env::current_dir().unwrap()) {
        let rel = Path::new(".").join(rel);
        assert!(matches!(
            check_output(&rel, &[&input], true),
            Err(Error::OutputIsInput { .. })
        ));
    }
    #[cfg(unix)]
    {
        let link = dir.path().join("link.wav");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        assert!(matches!(
            check_output(&link, &[&input], true),
            Err(Error::OutputIsInput { .. })
        ));
        let hard = dir.path().join("hard.wav");
        fs::hard_link(&input, &hard).unwrap();
        assert!(matches!(
            check_output(&hard, &[&input], true),
            Err(Error::OutputIsInput { .. })
        ));
    }
    // An existing output needs force.
    fs::write(&other, b"old").unwrap();
    assert!(matches!(
        check_output(&other, &[&input], false),
        Err(Error::OutputExists { .. })
    ));
    check_output(&other, &[&input], true).unwrap();
}

#[test]
fn output_format_from_path_and_flac_float_refusal() {
    let f = OutputFormat::from_path(Path::new("master.flac"), None).unwrap();
    assert_eq!(
        (f.container, f.sample_format),
        (Container::Flac, SampleFormat::Int24)
    );
    let err = OutputFormat::from_path(Path::new("master.flac"), Some(SampleFormat::Float32));
    assert!(
        matches!(err, Err(Error::UnsupportedOutput { reason, .. }) if reason.contains("integers"))
    );
    assert!(matches!(
        OutputFormat::from_path(Path::new("master.ogg"), None),
        Err(Error::UnsupportedOutput { .. })
    ));
}

// ------------------------------------------------------------------------------------------
// Resampling

#[test]
fn resampled_sine_keeps_amplitude_frequency_phase_and_length() {
    let amplitude = 0.5;
    let rates = [
        (44_100u32, 48_000u32),
        (48_000, 44_100),
        (44_100, 96_000),
        (96_000, 44_100),
    ];
    for (from_hz, to_hz) in rates {
        for freq_hz in [1_000.0, 15_000.0] {
            let case = format!("{freq_hz} Hz, {from_hz} -> {to_hz}");
            let frames = from_hz as usize * 2; // 2 s
            let w_in = 2.0 * PI * freq_hz / f64::from(from_hz);
            let input = AudioBuffer::new(
                from_hz,
                vec![(0..frames)
                    .map(|n| (amplitude * (w_in * n as f64).sin()) as f32)
                    .collect()],
            )
            .unwrap();
            let out = resample(&input, to_hz).unwrap();
            let expected_frames =
                (frames as f64 * f64::from(to_hz) / f64::from(from_hz)).round() as usize;
            assert_eq!(out.frames(), expected_frames, "{case}");
            assert_eq!(out.sample_rate_hz, to_hz);
            let x = &out.channels[0];
            // Skip 50 ms at each end, where the sine starts and stops abruptly (sinc ringing).
            let edge = to_hz as usize / 20;
            let (a, phase) = fit_sine(x, f64::from(to_hz), freq_hz, edge..x.len() - edge);
            let gain_db = 20.0 * (a / amplitude).log10();
            // The brief's 0.01 dB; the sinc's passband (cutoff 0.92 x the lower Nyquist, here
            // >= 20.3 kHz) is flat far beyond that at these frequencies.
            assert!(gain_db.abs() < 0.01, "{case}: gain {gain_db} dB");
            // The input has phase 0. resample() aligns output frames to input time up to
            // ALIGNMENT_OFFSET_INPUT_FRAMES (1/2048 of an input frame, rubato's sinc table
            // convention, see resample.rs): a phase lead of 2 pi f offset / from_hz, 0.00007 rad
            // for 1 kHz at 44.1 kHz. A delay of one output frame would be 2 pi f / to_hz
            // (0.13 rad at 1 kHz). 1e-4 rad allows for the fit's own error.
            let predicted = 2.0 * PI * freq_hz * ALIGNMENT_OFFSET_INPUT_FRAMES / f64::from(from_hz);
            assert!(
                (phase - predicted).abs() < 1e-4,
                "{case}: phase {phase} rad, predicted {predicted}"
            );
            // What is left after removing the fitted sine: aliasing, imaging, interpolation.
            let w = 2.0 * PI * freq_hz / f64::from(to_hz);
            let (mut err, mut n) = (0.0, 0.0);
            for (i, &v) in x.iter().enumerate().take(x.len() - edge).skip(edge) {
                err += (f64::from(v) - a * (w * i as f64 + phase).sin()).powi(2);
                n += 1.0;
            }
            let residual_db = 10.0 * (err / n).log10() - 20.0 * (a / 2f64.sqrt()).log10();
            println!("{case}: gain {gain_db:+.6} dB, phase {phase:+.6} rad, residual {residual_db:.1} dB");
            // f32 arithmetic alone leaves about -135 dB (measured -133 to -140 dB).
            // 16-bit TPDF dither (RMS 0.5 LSB) would be -87 dB relative to this sine; -110 dB
            // keeps the resampler far below anything a master carries.
            assert!(residual_db < -110.0, "{case}: residual {residual_db:.1} dB");
            // 2 f sign changes per second for 2 s, minus the one at t = 0 (sin starts at 0).
            let expected_crossings = (4.0 * freq_hz) as usize - 1;
            let crossings = zero_crossings(x);
            assert!(
                crossings.abs_diff(expected_crossings) <= 1,
                "{case}: {crossings} crossings, expected {expected_crossings}"
            );
        }
    }
}

#[test]
fn resampled_impulse_lands_at_the_scaled_time() {
    // An impulse at input frame 4410 (0.1 s at 44.1 kHz) peaks at output frame 4800.
    let mut x = vec![0.0f32; 44_100];
    x[4_410] = 1.0;
    let out = resample(&AudioBuffer::new(44_100, vec![x]).unwrap(), 48_000).unwrap();
    let (peak_frame, _) =
        out.channels[0]
            .iter()
            .enumerate()
            .fold(
                (0, 0.0f32),
                |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
            );
    assert_eq!(peak_frame, 4_800);
}

#[test]
fn resample_edge_cases() {
    let one = AudioBuffer::new(44_100, vec![vec![0.5], vec![-0.5]]).unwrap();
    let out = resample(&one, 88_200).unwrap();
    assert_eq!((out.num_channels(), out.frames()), (2, 2));
    let same = resample(&one, 44_100).unwrap();
    assert_eq!(same, one);
    assert!(matches!(
        resample(&one, 1_000),
        Err(Error::UnsupportedSampleRate {
            sample_rate_hz: 1_000
        })
    ));
    let empty = AudioBuffer::new(44_100, vec![vec![]]).unwrap();
    assert_eq!(resample(&empty, 48_000).unwrap().frames(), 0);
}
