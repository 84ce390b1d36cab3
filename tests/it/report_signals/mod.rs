//! Test signals for the report, batch and render tests: noise with a known spectrum, stereo from
//! two noises, loudness scaling and measurement by `ebur128` (the meter the tests trust), WAV
//! writing.

#![allow(dead_code)]

use std::path::Path;

use lathe::io::encode::{write_file, OutputFormat, SampleFormat};
use lathe::AudioBuffer;
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

pub const FS: u32 = 44_100;

/// xorshift64* in 0..1.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Periodic noise of `frames` (even) samples whose magnitude spectrum is exactly
/// `gain_db(f)` relative to pink (-3 dB/octave), with random phases; 0 below 20 Hz. RMS 0.1.
pub fn shaped_noise(frames: usize, fs: u32, seed: u64, gain_db: impl Fn(f64) -> f64) -> Vec<f32> {
    assert!(frames % 2 == 0);
    let mut rng = Rng::new(seed);
    let mut planner = RealFftPlanner::<f64>::new();
    let inverse = planner.plan_fft_inverse(frames);
    let mut spectrum = inverse.make_input_vec();
    let bin_hz = f64::from(fs) / frames as f64;
    for (k, bin) in spectrum.iter_mut().enumerate() {
        let f = k as f64 * bin_hz;
        if k == 0 || k == frames / 2 || f < 20.0 {
            *bin = Complex::new(0.0, 0.0);
            continue;
        }
        let mag = 10f64.powf(gain_db(f) / 20.0) / f.sqrt();
        let phase = 2.0 * std::f64::consts::PI * rng.next();
        *bin = Complex::from_polar(mag, phase);
    }
    let mut out = inverse.make_output_vec();
    inverse.process(&mut spectrum, &mut out).unwrap();
    let rms = (out.iter().map(|x| x * x).sum::<f64>() / frames as f64).sqrt();
    out.iter().map(|x| (x / rms * 0.1) as f32).collect()
}

/// Pink noise (flat relative gain).
pub fn pink(frames: usize, seed: u64) -> Vec<f32> {
    shaped_noise(frames, FS, seed, |_| 0.0)
}

/// RBJ-cookbook-free smooth shapes for spectra, dB at `f`:
/// a bell of `gain_db` at `f0` with a width of `octaves` (Gaussian on log frequency).
pub fn bump(f: f64, f0: f64, gain_db: f64, octaves: f64) -> f64 {
    let x = (f / f0).log2() / octaves;
    gain_db * (-0.5 * x * x).exp()
}

/// A shelf of `gain_db` above `f0` (logistic on log frequency, one octave wide).
pub fn shelf_up(f: f64, f0: f64, gain_db: f64) -> f64 {
    gain_db / (1.0 + (-(f / f0).log2() * 3.0).exp())
}

/// Stereo `L = a + w b`, `R = a - w b`: side/mid energy ratio `w^2`.
pub fn stereo(a: &[f32], b: &[f32], w: f64) -> Vec<Vec<f32>> {
    let l = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) + w * f64::from(y)) as f32)
        .collect();
    let r = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - w * f64::from(y)) as f32)
        .collect();
    vec![l, r]
}

/// (integrated LUFS, true peak dBTP) by ebur128.
pub fn measure(channels: &[Vec<f32>], fs: u32) -> (f64, f64) {
    let views: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    let mut m = ebur128::EbuR128::new(
        channels.len() as u32,
        fs,
        ebur128::Mode::I | ebur128::Mode::TRUE_PEAK,
    )
    .unwrap();
    m.add_frames_planar_f32(&views).unwrap();
    let tp = (0..channels.len())
        .map(|c| m.true_peak(c as u32).unwrap())
        .fold(0.0f64, f64::max);
    (m.loudness_global().unwrap(), 20.0 * tp.log10())
}

/// Scales to `lufs` integrated loudness.
pub fn at_lufs(channels: Vec<Vec<f32>>, fs: u32, lufs: f64) -> Vec<Vec<f32>> {
    let (l, _) = measure(&channels, fs);
    let g = 10f64.powf((lufs - l) / 20.0);
    channels
        .into_iter()
        .map(|c| c.into_iter().map(|s| (f64::from(s) * g) as f32).collect())
        .collect()
}

pub fn buffer(channels: Vec<Vec<f32>>) -> AudioBuffer {
    AudioBuffer::new(FS, channels).unwrap()
}

/// Writes a 24-bit WAV.
pub fn write_wav(path: &Path, audio: &AudioBuffer) {
    let format = OutputFormat::from_path(path, Some(SampleFormat::Int24)).unwrap();
    write_file(path, audio, format, 1).unwrap();
}

/// A stereo pink-noise programme with a spectral shape, at a loudness.
pub fn programme(
    frames: usize,
    seed: u64,
    lufs: f64,
    shape: impl Fn(f64) -> f64 + Copy,
) -> AudioBuffer {
    let a = shaped_noise(frames, FS, seed, shape);
    let b = shaped_noise(frames, FS, seed + 1000, shape);
    buffer(at_lufs(stereo(&a, &b, 0.35), FS, lufs))
}
