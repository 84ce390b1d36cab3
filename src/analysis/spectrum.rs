//! Long-term average spectrum of mid and side, in third-octave bands, on the loud parts.
//!
//! Method: Welch's averaged periodogram (Hann window, 50 % overlap, frames of about 0.34 s,
//! i.e. ~2.9 Hz bins) of mid `M = mean of channels` and side `S = (ch0 - ch1) / 2`. Frames are
//! gated like BS.1770 (absolute -70 dB, then -10 dB relative to the mean of the frames that
//! pass) so fades and pauses don't tilt the balance. Each FFT bin's power is shared between
//! bands by the fraction of the bin's width that falls inside each band, which integrates
//! smooth spectra exactly even where a band is narrower than two bins (20 Hz: 4.6 Hz wide).
//!
//! Band centres follow IEC 61260-1 base-10: `f = 1000 * 10^(k/10)`, edges `f * 10^(+-1/20)`.
//! A band's level is its mean power in dB re full scale *RMS*: a sine of amplitude A inside a
//! band reads `20 log10(A / sqrt 2)`. Bands above Nyquist read [`SILENT_BAND_DB`].

use rayon::prelude::*;
use realfft::RealFftPlanner;

use super::{Spectrum, SILENT_BAND_DB};
use crate::audio::AudioBuffer;
use crate::units::power_to_db;

/// Third-octave centres from 20 Hz to 20 kHz (31 bands).
pub fn third_octave_centres_hz() -> Vec<f64> {
    (-17..=13)
        .map(|k| 1000.0 * 10f64.powf(f64::from(k) / 10.0))
        .collect()
}

/// Lower and upper edge of a third-octave band.
pub fn third_octave_edges_hz(center_hz: f64) -> (f64, f64) {
    let ratio = 10f64.powf(1.0 / 20.0);
    (center_hz / ratio, center_hz * ratio)
}

/// Gate thresholds, after BS.1770's: absolute in dB re full scale, relative in dB.
const ABSOLUTE_GATE_DB: f64 = -70.0;
const RELATIVE_GATE_DB: f64 = -10.0;
/// Frames per work unit. Fixed, so sums run in the same order whatever the thread count.
const FRAMES_PER_TASK: usize = 32;

/// Mid and side signals of a buffer (mono: side is silent).
pub fn mid_side(audio: &AudioBuffer) -> (Vec<f32>, Vec<f32>) {
    mid_side_of(&audio.channels)
}

/// Mid (the mean of the channels) and side (`(c0 - c1) / 2`; silent for one channel) of
/// planar channels of equal length, element by element in parallel blocks.
pub fn mid_side_of(channels: &[Vec<f32>]) -> (Vec<f32>, Vec<f32>) {
    let n = channels.len();
    let frames = channels.first().map_or(0, Vec::len);
    if n <= 1 {
        return (
            channels.first().cloned().unwrap_or_default(),
            vec![0.0; frames],
        );
    }
    let scale = 1.0 / n as f32;
    let mut mid = vec![0.0f32; frames];
    let mut side = vec![0.0f32; frames];
    mid.par_chunks_mut(MID_SIDE_BLOCK)
        .zip(side.par_chunks_mut(MID_SIDE_BLOCK))
        .enumerate()
        .for_each(|(b, (m, s))| {
            let start = b * MID_SIDE_BLOCK;
            for (k, (m, s)) in m.iter_mut().zip(s.iter_mut()).enumerate() {
                let f = start + k;
                *m = channels.iter().map(|c| c[f]).sum::<f32>() * scale;
                *s = 0.5 * (channels[0][f] - channels[1][f]);
            }
        });
    (mid, side)
}

/// Frames per parallel block of [`mid_side_of`].
const MID_SIDE_BLOCK: usize = 1 << 16;

/// Power spectra of windowed frames with one f32 transform plan and its buffers (rounding near
/// -140 dB, far below any band of interest; callers sum the powers in f64).
pub(crate) struct FramePower {
    fft: FftPlan,
    input: Vec<f32>,
    output: Vec<realfft::num_complex::Complex<f32>>,
    scratch: Vec<realfft::num_complex::Complex<f32>>,
}

/// A forward transform plan, shared by the tasks of one pass (planning computes its twiddle
/// factors: once per pass, not once per task).
pub(crate) type FftPlan = std::sync::Arc<dyn realfft::RealToComplex<f32>>;

impl FramePower {
    /// The plan for frames of `n` samples.
    pub(crate) fn plan(n: usize) -> FftPlan {
        RealFftPlanner::<f32>::new().plan_fft_forward(n)
    }

    /// For frames of up to the plan's length (shorter ones are zero-padded), with its own
    /// buffers: no allocation per frame.
    pub(crate) fn with_plan(fft: &FftPlan) -> Self {
        Self {
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft: fft.clone(),
        }
    }

    /// `|X[k]|^2` of `frame` times `window`, bin by bin.
    pub(crate) fn of(&mut self, frame: &[f32], window: &[f32]) -> impl Iterator<Item = f64> + '_ {
        let used = frame.len().min(window.len()).min(self.input.len());
        for ((x, &v), &w) in self.input.iter_mut().zip(frame).zip(window) {
            *x = v * w;
        }
        // Only the padding of a short frame needs zeros (the rest was just written).
        self.input[used..].fill(0.0);
        self.fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .expect("buffer sizes come from the same plan");
        self.output.iter().map(|c| f64::from(c.norm_sqr()))
    }
}

/// Mean power per FFT bin of mid and side over the gated frames.
#[derive(Clone, Debug)]
pub struct LongTermSpectrum {
    pub bin_hz: f64,
    pub sample_rate_hz: u32,
    pub mid_power: Vec<f64>,
    pub side_power: Vec<f64>,
    pub frames_used: usize,
}

/// Frame length in samples for a rate: about 0.34 s, a multiple of 1024 (fast FFT sizes).
pub fn frame_len(sample_rate_hz: u32) -> usize {
    ((f64::from(sample_rate_hz) * 0.34 / 1024.0).round() as usize).max(2) * 1024
}

/// Hann window, periodic form (the one that sums to a constant at 50 % overlap).
pub fn hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect()
}

/// Starts of analysis frames of length `n` with hop `n/2` covering `frames` samples; a
/// signal shorter than one frame gets one zero-padded frame.
pub fn frame_starts(frames: usize, n: usize) -> Vec<usize> {
    if frames <= n {
        return vec![0];
    }
    (0..=(frames - n)).step_by(n / 2).collect()
}

/// Indices of frames that pass the absolute and relative gates, given each frame's power.
pub fn gate(frame_power: &[f64], relative_db: f64) -> Vec<usize> {
    let abs = 10f64.powf(ABSOLUTE_GATE_DB / 10.0);
    let loud: Vec<usize> = (0..frame_power.len())
        .filter(|&i| frame_power[i] > abs)
        .collect();
    if loud.is_empty() {
        return loud;
    }
    let mean = loud.iter().map(|&i| frame_power[i]).sum::<f64>() / loud.len() as f64;
    let rel = mean * 10f64.powf(relative_db / 10.0);
    loud.into_iter().filter(|&i| frame_power[i] > rel).collect()
}

fn mean_square(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len() as f64
}

/// Welch spectrum of mid and side over the loud frames.
pub fn long_term(audio: &AudioBuffer) -> LongTermSpectrum {
    long_term_of_channels(&audio.channels, audio.sample_rate_hz)
}

/// [`long_term`] of mid and side signals already made by [`mid_side`].
pub fn long_term_of(mid: &[f32], side: &[f32], sample_rate_hz: u32) -> LongTermSpectrum {
    long_term_from(mid.len(), sample_rate_hz, None, |start, m, s| {
        m.copy_from_slice(&mid[start..start + m.len()]);
        s.copy_from_slice(&side[start..start + s.len()]);
    })
}

/// [`long_term`] of planar channels, making mid and side frame by frame (the same values as
/// [`mid_side_of`]) instead of as two full-length signals.
pub fn long_term_of_channels(channels: &[Vec<f32>], sample_rate_hz: u32) -> LongTermSpectrum {
    let views: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    long_term_of_views(&views, sample_rate_hz)
}

/// [`long_term_of_channels`] of borrowed channels.
pub fn long_term_of_views(channels: &[&[f32]], sample_rate_hz: u32) -> LongTermSpectrum {
    let frames = channels.first().map_or(0, |c| c.len());
    let powers = frame_powers_of(channels, frames, frame_len(sample_rate_hz));
    long_term_from(frames, sample_rate_hz, powers, |start, m, s| {
        fill_mid_side(channels, start, m, s);
    })
}

/// `mean(mid^2) + mean(side^2)` of every analysis frame of one or two channels, from sums of
/// squares over half frames (`None` for other layouts). For two channels `M^2 + S^2 =
/// (L^2 + R^2) / 2`, so no mid or side is made; the sums are f64, in frame order.
fn frame_powers_of(channels: &[&[f32]], frames: usize, n: usize) -> Option<Vec<f64>> {
    if channels.is_empty() || channels.len() > 2 || frames <= n {
        return None;
    }
    let half = n / 2;
    let scale = 1.0 / (channels.len() * n) as f64;
    let count = frames / half;
    let per_channel: Vec<Vec<f64>> = channels
        .iter()
        .map(|c| half_block_sums(c, half, count))
        .collect();
    let blocks: Vec<f64> = (0..count)
        .map(|b| per_channel.iter().map(|s| s[b]).sum())
        .collect();
    Some(
        frame_starts(frames, n)
            .iter()
            .map(|&start| (blocks[start / half] + blocks[start / half + 1]) * scale)
            .collect(),
    )
}

/// Blocks summed side by side in [`half_block_sums`].
const SIDE_BY_SIDE: usize = 8;

/// `sum x^2` (f64) of each of the first `count` blocks of `half` samples of `x`. Each block's
/// sum runs in sample order, as one serial sum would (the same bits); [`SIDE_BY_SIDE`] blocks
/// run together so the core is not idle waiting on each addition in turn.
fn half_block_sums(x: &[f32], half: usize, count: usize) -> Vec<f64> {
    let mut sums = vec![0.0f64; count];
    sums.par_chunks_mut(SIDE_BY_SIDE)
        .enumerate()
        .for_each(|(g, out)| {
            let first = g * SIDE_BY_SIDE * half;
            let mut acc = [0.0f64; SIDE_BY_SIDE];
            if out.len() == SIDE_BY_SIDE {
                let rows: [&[f32]; SIDE_BY_SIDE] =
                    std::array::from_fn(|j| &x[first + j * half..first + (j + 1) * half]);
                for i in 0..half {
                    for (a, row) in acc.iter_mut().zip(&rows) {
                        let v = f64::from(row[i]);
                        *a += v * v;
                    }
                }
            } else {
                for (j, a) in acc.iter_mut().enumerate().take(out.len()) {
                    let block = &x[first + j * half..first + (j + 1) * half];
                    *a = block.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                }
            }
            out.copy_from_slice(&acc[..out.len()]);
        });
    sums
}

/// Mid and side of `channels` from frame `start`, as many frames as `mid` holds (`side` as
/// many, or empty to skip it): the same values as [`mid_side_of`].
pub(crate) fn fill_mid_side(channels: &[&[f32]], start: usize, mid: &mut [f32], side: &mut [f32]) {
    let len = mid.len();
    match channels {
        [] => mid.fill(0.0),
        [c] => mid.copy_from_slice(&c[start..start + len]),
        [l, r] => {
            for ((m, &a), &b) in mid.iter_mut().zip(&l[start..start + len]).zip(&r[start..]) {
                *m = (a + b) * 0.5;
            }
        }
        _ => {
            let scale = 1.0 / channels.len() as f32;
            for (k, m) in mid.iter_mut().enumerate() {
                *m = channels.iter().map(|c| c[start + k]).sum::<f32>() * scale;
            }
        }
    }
    if side.is_empty() {
        return;
    }
    match channels {
        [l, r, ..] => {
            for ((s, &a), &b) in side.iter_mut().zip(&l[start..start + len]).zip(&r[start..]) {
                *s = 0.5 * (a - b);
            }
        }
        _ => side.fill(0.0),
    }
}

/// The long-term spectrum of `frames` frames whose mid and side samples `fill(start, mid,
/// side)` writes (from frame `start`, as many as the slices hold).
fn long_term_from(
    frames: usize,
    sample_rate_hz: u32,
    powers: Option<Vec<f64>>,
    fill: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) -> LongTermSpectrum {
    let n = frame_len(sample_rate_hz);
    let starts = frame_starts(frames, n);
    // One frame's mid and side (unpadded: `end - start` samples).
    let frame_of = |start: usize, m: &mut Vec<f32>, s: &mut Vec<f32>| {
        let len = (start + n).min(frames).saturating_sub(start);
        m.resize(len, 0.0);
        s.resize(len, 0.0);
        fill(start, m, s);
    };
    let frame_power: Vec<f64> = powers.unwrap_or_else(|| {
        starts
            .par_chunks(FRAMES_PER_TASK)
            .flat_map_iter(|chunk| {
                let (mut m, mut s) = (Vec::new(), Vec::new());
                chunk
                    .iter()
                    .map(|&start| {
                        frame_of(start, &mut m, &mut s);
                        mean_square(&m) + mean_square(&s)
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    });
    let kept = gate(&frame_power, RELATIVE_GATE_DB);
    let bins = n / 2 + 1;
    let window = hann(n);
    let norm = 2.0 / (n as f64 * window.iter().map(|w| w * w).sum::<f64>());
    let window32: Vec<f32> = window.iter().map(|&w| w as f32).collect();

    let plan = FramePower::plan(n);
    let partials: Vec<(Vec<f64>, Vec<f64>)> = kept
        .par_chunks(FRAMES_PER_TASK)
        .map(|chunk| {
            let mut power = FramePower::with_plan(&plan);
            let mut acc_mid = vec![0.0; bins];
            let mut acc_side = vec![0.0; bins];
            let (mut m, mut s) = (Vec::new(), Vec::new());
            for &i in chunk {
                frame_of(starts[i], &mut m, &mut s);
                for (frame, acc) in [(&m, &mut acc_mid), (&s, &mut acc_side)] {
                    for (a, p) in acc.iter_mut().zip(power.of(frame, &window32)) {
                        *a += p;
                    }
                }
            }
            (acc_mid, acc_side)
        })
        .collect();

    let mut mid_power = vec![0.0; bins];
    let mut side_power = vec![0.0; bins];
    for (m, s) in &partials {
        for k in 0..bins {
            mid_power[k] += m[k];
            side_power[k] += s[k];
        }
    }
    let frames_used = kept.len();
    let scale = if frames_used > 0 {
        norm / frames_used as f64
    } else {
        0.0
    };
    for k in 0..bins {
        // DC and Nyquist bins are not doubled in a one-sided spectrum.
        let edge = if k == 0 || k == bins - 1 { 0.5 } else { 1.0 };
        mid_power[k] *= scale * edge;
        side_power[k] *= scale * edge;
    }
    LongTermSpectrum {
        bin_hz: f64::from(sample_rate_hz) / n as f64,
        sample_rate_hz,
        mid_power,
        side_power,
        frames_used,
    }
}

impl LongTermSpectrum {
    /// Power between `lo_hz` and `hi_hz`, sharing each bin by its overlap with the range.
    pub fn band_power(power: &[f64], bin_hz: f64, lo_hz: f64, hi_hz: f64) -> f64 {
        Self::band_shares(power.len(), bin_hz, lo_hz, hi_hz)
            .map(|(k, share)| power[k] * share)
            .sum()
    }

    /// The bins (of `bins`) that [`LongTermSpectrum::band_power`] sums, each with its share:
    /// its overlap with `lo_hz..hi_hz`, in bins.
    pub fn band_shares(
        bins: usize,
        bin_hz: f64,
        lo_hz: f64,
        hi_hz: f64,
    ) -> impl Iterator<Item = (usize, f64)> {
        let first = ((lo_hz / bin_hz) - 0.5).floor().max(0.0) as usize;
        let last = (((hi_hz / bin_hz) + 0.5).ceil() as usize).min(bins.saturating_sub(1));
        (first..=last).map(move |k| {
            let b_lo = (k as f64 - 0.5) * bin_hz;
            let b_hi = (k as f64 + 0.5) * bin_hz;
            (k, (b_hi.min(hi_hz) - b_lo.max(lo_hz)).max(0.0) / bin_hz)
        })
    }

    fn bands_db(&self, power: &[f64], centres: &[f64]) -> Vec<f64> {
        let nyquist = f64::from(self.sample_rate_hz) / 2.0;
        centres
            .iter()
            .map(|&c| {
                let (lo, hi) = third_octave_edges_hz(c);
                if lo >= nyquist {
                    return SILENT_BAND_DB;
                }
                let p = Self::band_power(power, self.bin_hz, lo, hi.min(nyquist));
                power_to_db(p).max(SILENT_BAND_DB)
            })
            .collect()
    }

    /// Third-octave band levels, absolute and relative to `integrated_lufs`.
    pub fn bands(&self, integrated_lufs: f64) -> Spectrum {
        let center_hz = third_octave_centres_hz();
        let mid_db = self.bands_db(&self.mid_power, &center_hz);
        let side_db = self.bands_db(&self.side_power, &center_hz);
        let norm = |v: &[f64]| -> Vec<f64> {
            v.iter()
                .map(|&d| {
                    if d <= SILENT_BAND_DB || !integrated_lufs.is_finite() {
                        SILENT_BAND_DB
                    } else {
                        d - integrated_lufs
                    }
                })
                .collect()
        };
        Spectrum {
            mid_norm_db: norm(&mid_db),
            side_norm_db: norm(&side_db),
            center_hz,
            mid_db,
            side_db,
        }
    }

    /// Highest frequency with real content: the top of the last 250 Hz stretch whose mean
    /// power per bin (mid + side) is within 70 dB of the mean per-bin power between 1 and
    /// 4 kHz. Lossy encoders low-pass at 15-19 kHz and leave ~100 dB less above it.
    pub fn bandwidth_hz(&self) -> f64 {
        let total: Vec<f64> = self
            .mid_power
            .iter()
            .zip(&self.side_power)
            .map(|(m, s)| m + s)
            .collect();
        let nyquist = f64::from(self.sample_rate_hz) / 2.0;
        let reference = Self::band_power(&total, self.bin_hz, 1_000.0, 4_000f64.min(nyquist))
            / ((4_000.0f64.min(nyquist) - 1_000.0) / self.bin_hz);
        if reference.is_nan() || reference <= 0.0 {
            return 0.0;
        }
        let threshold = reference * 1e-7;
        let step_hz = 250.0;
        let mut top = nyquist.min(24_000.0);
        while top > step_hz {
            let p =
                Self::band_power(&total, self.bin_hz, top - step_hz, top) / (step_hz / self.bin_hz);
            if p > threshold {
                return top;
            }
            top -= step_hz;
        }
        top
    }

    /// Mid and side power summed between two frequencies.
    pub fn range_power(&self, lo_hz: f64, hi_hz: f64) -> (f64, f64) {
        (
            Self::band_power(&self.mid_power, self.bin_hz, lo_hz, hi_hz),
            Self::band_power(&self.side_power, self.bin_hz, lo_hz, hi_hz),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{db_to_gain, gain_to_db};

    /// Noise with power density proportional to `f^slope` (0: white, -1: pink), made by
    /// shaping a random spectrum in one large FFT, so its true spectrum is known exactly.
    pub(crate) fn shaped_noise(rate: u32, seconds: f64, slope: f64, seed: u64) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        let mut planner = RealFftPlanner::<f64>::new();
        let inverse = planner.plan_fft_inverse(n);
        let mut spec = inverse.make_input_vec();
        let mut state = seed | 1;
        let mut rand = move || {
            // xorshift64*, Vigna 2016
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        };
        let bin_hz = f64::from(rate) / n as f64;
        for (k, c) in spec.iter_mut().enumerate().skip(1) {
            let f = k as f64 * bin_hz;
            let amp = if f < 10.0 { 0.0 } else { f.powf(slope / 2.0) };
            let phase = 2.0 * std::f64::consts::PI * rand();
            *c = realfft::num_complex::Complex::from_polar(amp, phase);
        }
        if let Some(last) = spec.last_mut() {
            last.im = 0.0;
        }
        let mut out = inverse.make_output_vec();
        inverse.process(&mut spec, &mut out).unwrap();
        let rms = (out.iter().map(|x| x * x).sum::<f64>() / n as f64).sqrt();
        let gain = db_to_gain(-20.0) / rms;
        out.iter().map(|&x| (x * gain) as f32).collect()
    }

    #[test]
    fn pink_noise_reads_flat() {
        let x = shaped_noise(48_000, 60.0, -1.0, 7);
        let audio = AudioBuffer::new(48_000, vec![x.clone(), x]).unwrap();
        let s = long_term(&audio).bands(-20.0);
        let mean = s.mid_db.iter().sum::<f64>() / s.mid_db.len() as f64;
        for (c, d) in s.center_hz.iter().zip(&s.mid_db) {
            // Issue 2: pink noise reads flat within +-0.5 dB per band.
            assert!(
                (d - mean).abs() <= 0.5,
                "band {c:.0} Hz: {d:.2} dB, mean {mean:.2} dB"
            );
        }
    }

    #[test]
    fn white_noise_rises_one_db_per_third_octave() {
        let x = shaped_noise(48_000, 30.0, 0.0, 11);
        let audio = AudioBuffer::new(48_000, vec![x.clone(), x]).unwrap();
        let s = long_term(&audio).bands(-20.0);
        // Equal power per Hz: each band is 10^(1/10) times wider than the last, +1 dB.
        // From 100 Hz up the estimate averages enough bins to hold +-0.3 dB.
        for i in 10..30 {
            let step = s.mid_db[i + 1] - s.mid_db[i];
            assert!(
                (step - 1.0).abs() < 0.3,
                "{:.0} -> {:.0} Hz: step {step:.2} dB",
                s.center_hz[i],
                s.center_hz[i + 1]
            );
        }
    }

    #[test]
    fn sine_lands_in_its_band_at_its_rms_level() {
        let rate = 44_100;
        let amp = 0.5;
        let x: Vec<f32> = (0..rate * 5)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * 1_000.0 * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect();
        let audio = AudioBuffer::new(rate, vec![x.clone(), x]).unwrap();
        let s = long_term(&audio).bands(-9.0);
        let band = s
            .center_hz
            .iter()
            .position(|&c| (c - 1000.0).abs() < 1.0)
            .unwrap();
        let loudest = (0..31)
            .max_by(|&a, &b| s.mid_db[a].total_cmp(&s.mid_db[b]))
            .unwrap();
        assert_eq!(loudest, band);
        // RMS of a 0.5 sine: -9.03 dB; all of it lands in the 1 kHz band (+-0.05 dB: leakage of
        // the Hann window stays inside a band 230 Hz wide).
        assert!((s.mid_db[band] - gain_to_db(amp / 2f64.sqrt())).abs() < 0.05);
        // Two bands away the level is more than 60 dB down.
        assert!(s.mid_db[band + 2] < s.mid_db[band] - 60.0);
    }

    #[test]
    fn side_of_mono_is_silent() {
        let x = shaped_noise(44_100, 5.0, -1.0, 3);
        let audio = AudioBuffer::new(44_100, vec![x.clone(), x]).unwrap();
        let s = long_term(&audio).bands(-20.0);
        assert!(s.side_db.iter().all(|&d| d == SILENT_BAND_DB));
        let mono = AudioBuffer::new(44_100, vec![audio.channels[0].clone()]).unwrap();
        let m = long_term(&mono).bands(-20.0);
        assert_eq!(m.mid_db, s.mid_db);
        assert!(m.side_db.iter().all(|&d| d == SILENT_BAND_DB));
    }

    #[test]
    fn bandwidth_finds_a_lowpass() {
        let rate = 44_100;
        let x = shaped_noise(rate, 10.0, -1.0, 5);
        // Brick-wall low-pass at 16 kHz in the frequency domain, as a lossy encoder would.
        let n = x.len();
        let mut planner = RealFftPlanner::<f64>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let mut buf: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let mut spec = fwd.make_output_vec();
        fwd.process(&mut buf, &mut spec).unwrap();
        for (k, c) in spec.iter_mut().enumerate() {
            if k as f64 * f64::from(rate) / n as f64 > 16_000.0 {
                *c = realfft::num_complex::Complex::new(0.0, 0.0);
            }
        }
        inv.process(&mut spec, &mut buf).unwrap();
        let y: Vec<f32> = buf.iter().map(|&v| (v / n as f64) as f32).collect();
        let lowpassed = AudioBuffer::new(rate, vec![y.clone(), y]).unwrap();
        let full = AudioBuffer::new(rate, vec![x.clone(), x]).unwrap();
        let bw = long_term(&lowpassed).bandwidth_hz();
        // Within one 250 Hz step (plus window leakage of a few bins) of the cut.
        assert!((16_000.0..=16_500.0).contains(&bw), "bandwidth {bw}");
        assert!(long_term(&full).bandwidth_hz() > 21_000.0);
    }
}

#[cfg(test)]
mod frame_power_tests {
    use super::*;

    #[test]
    fn half_frame_sums_give_the_mid_side_frame_powers() {
        // M^2 + S^2 = (L^2 + R^2) / 2: the powers from sums over half frames equal those of
        // the mid and side frames to rounding (f32 mid/side against f64 sums: 1e-6 relative).
        let rate = 44_100;
        let n = frame_len(rate);
        let frames = 7 * n + 123;
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let l: Vec<f32> = (0..frames)
            .map(|i| noise() * (1.0 + (i / n) as f32))
            .collect();
        let r: Vec<f32> = (0..frames).map(|_| 0.3 * noise()).collect();
        for channels in [vec![&l[..], &r[..]], vec![&l[..]]] {
            let fast = frame_powers_of(&channels, frames, n).unwrap();
            let starts = frame_starts(frames, n);
            assert_eq!(fast.len(), starts.len());
            for (k, &start) in starts.iter().enumerate() {
                let (mut m, mut s) = (vec![0.0; n], vec![0.0; n]);
                fill_mid_side(&channels, start, &mut m, &mut s);
                let slow = mean_square(&m) + mean_square(&s);
                assert!(
                    (fast[k] - slow).abs() <= 1e-6 * slow,
                    "{} channels, frame {k}: {} vs {slow}",
                    channels.len(),
                    fast[k]
                );
            }
        }
    }
}
