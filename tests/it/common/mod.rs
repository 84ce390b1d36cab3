//! Helpers shared by the integration tests: an independent true-peak reference, the `ebur128`
//! meter as the tests read it, ffmpeg's readings, a small deterministic noise source, and tiny
//! hand-written ONNX models ([`onnx`]).
//!
//! The test files reach them as `crate::common` (tests/it/main.rs declares the module once).

#![allow(dead_code)]

pub mod onnx;

use rayon::prelude::*;

/// Oversampling factor of [`reference_true_peak`].
pub const REFERENCE_FACTOR: usize = 32;
/// Input samples on each side of an interpolated point.
pub const REFERENCE_HALF_SPAN: usize = 64;
/// Kaiser window parameter: about 100 dB stop band (Kaiser's formula
/// `A = beta / 0.1102 + 8.7`), so with 128 input samples of support the transition band is
/// about +-5 % of Nyquist around it: flat to 0.95 x Nyquist.
pub const REFERENCE_BETA: f64 = 10.0;

/// Zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0f64, 1.0f64);
    for k in 1..300 {
        let r = x / (2.0 * k as f64);
        term *= r * r;
        sum += term;
        if term < sum * 1e-18 {
            break;
        }
    }
    sum
}

/// The 32x windowed-sinc prototype: `h[m] = sinc(m / 32) w(m / (32 half_span))` for
/// `m` in `-32 half_span ..= 32 half_span`, Kaiser window `w`.
fn reference_prototype() -> Vec<f64> {
    let centre = (REFERENCE_FACTOR * REFERENCE_HALF_SPAN) as i64;
    let i0_beta = bessel_i0(REFERENCE_BETA);
    (-centre..=centre)
        .map(|m| {
            let t = m as f64 / REFERENCE_FACTOR as f64;
            let r = m as f64 / centre as f64;
            let sinc = if m == 0 {
                1.0
            } else if m % REFERENCE_FACTOR as i64 == 0 {
                0.0
            } else {
                (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
            };
            sinc * bessel_i0(REFERENCE_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0_beta
        })
        .collect()
}

/// The true peak of one channel, linear, by a 32x windowed-sinc interpolator in f64 written
/// from the textbook definition (`y(t) = sum_k x[k] sinc(t - k) w(t - k)`, Kaiser window of
/// half-width [`REFERENCE_HALF_SPAN`] samples), sharing no code with lathe's interpolators.
/// The signal is taken as preceded and followed by silence (as a DAC plays a file): the
/// points cover `-half_span .. len + half_span`. A parabola through each local maximum of
/// the 32x points finds the crest between them (at most 0.01 dB more at 0.5 fs).
///
/// Computed as one linear convolution of the zero-stuffed signal with the prototype, by FFT.
pub fn reference_peak(x: &[f32]) -> f64 {
    use realfft::RealFftPlanner;
    let r = REFERENCE_FACTOR;
    let hs = REFERENCE_HALF_SPAN;
    let h = reference_prototype();
    // Zero-stuffed input with half_span frames of silence on each side.
    let stuffed_len = r * (x.len() + 2 * hs);
    let size = (stuffed_len + h.len() - 1).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let mut u = vec![0.0f64; size];
    for (k, &v) in x.iter().enumerate() {
        u[r * (k + hs)] = f64::from(v);
    }
    let mut hp = vec![0.0f64; size];
    hp[..h.len()].copy_from_slice(&h);
    let mut us = forward.make_output_vec();
    let mut hs_spec = forward.make_output_vec();
    forward.process(&mut u, &mut us).unwrap();
    forward.process(&mut hp, &mut hs_spec).unwrap();
    for (a, b) in us.iter_mut().zip(&hs_spec) {
        *a *= b / size as f64;
    }
    let mut y = inverse.make_output_vec();
    inverse.process(&mut us, &mut y).unwrap();
    // y[i + centre] is the point at stuffed index i; the tails of the full convolution
    // (beyond the silence's half_span) are under the window's reach and add nothing new, but
    // reading them is harmless.
    let points = &y[..stuffed_len + h.len() - 1];
    let mut best = 0.0f64;
    for w in points.windows(3) {
        let (a, b, c) = (w[0].abs(), w[1].abs(), w[2].abs());
        best = best.max(b);
        let denom = a - 2.0 * b + c;
        if b >= a && b >= c && denom < 0.0 {
            best = best.max(b - (a - c) * (a - c) / (8.0 * denom));
        }
    }
    best
}

/// [`reference_peak`] over channels, dBTP.
pub fn reference_true_peak_dbtp(channels: &[Vec<f32>]) -> f64 {
    let peak = channels
        .par_iter()
        .map(|c| reference_peak(c))
        .reduce(|| 0.0, f64::max);
    20.0 * peak.log10()
}

/// `ebur128`'s integrated loudness (LUFS) and true peak (dBTP) of planar channels. A single
/// channel is measured as one channel of weight 1 (as ffmpeg and libebur128 read a mono file).
pub fn ebur128_lufs_dbtp(channels: &[Vec<f32>], fs: u32) -> (f64, f64) {
    let mut m = ebur128::EbuR128::new(
        channels.len() as u32,
        fs,
        ebur128::Mode::I | ebur128::Mode::TRUE_PEAK,
    )
    .unwrap();
    let views: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    m.add_frames_planar_f32(&views).unwrap();
    let tp = (0..channels.len())
        .map(|c| m.true_peak(c as u32).unwrap())
        .fold(0.0, f64::max);
    (m.loudness_global().unwrap(), 20.0 * tp.log10())
}

/// xorshift64* in [0, 1).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [-1, 1).
    pub fn bipolar(&mut self) -> f64 {
        2.0 * self.next_f64() - 1.0
    }
}

/// Is `ffmpeg` on the PATH?
pub fn have_ffmpeg() -> bool {
    std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// ffmpeg's `ebur128=peak=true` reading of a file: (integrated LUFS, true peak dBTP), parsed
/// from the filter's summary.
pub fn ffmpeg_lufs_dbtp(path: &std::path::Path) -> (f64, f64) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text
        .rsplit_once("Summary:")
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| panic!("no ebur128 summary from ffmpeg: {text}"));
    let value_after = |label: &str| -> f64 {
        let rest = &summary[summary.find(label).expect(label) + label.len()..];
        rest.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NEG_INFINITY)
    };
    (value_after("I:"), value_after("Peak:"))
}

/// ffmpeg's `ebur128=peak=true` true peak of a file, dBTP, to 0.003 dB near -1 dBTP: the
/// largest of the filter's per-channel metadata (`lavfi.r128.true_peaks_chN`, linear, three
/// decimals; the summary prints only one). `None` when ffmpeg prints no reading.
pub fn ffmpeg_true_peak_dbtp(path: &std::path::Path) -> Option<f64> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args([
            "-af",
            "ebur128=peak=true:metadata=1,ametadata=print:file=-",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.split_once("lavfi.r128.true_peaks_ch"))
        .filter_map(|(_, rest)| rest.split_once('=')?.1.trim().parse::<f64>().ok())
        .reduce(f64::max)
        .map(|linear| 20.0 * linear.log10())
}

/// Writes a 32-bit float WAV with hound (not lathe's own writer), channel-major input.
pub fn write_float_wav(path: &std::path::Path, rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for f in 0..channels[0].len() {
        for c in channels {
            w.write_sample(c[f]).unwrap();
        }
    }
    w.finalize().unwrap();
}
