//! Matched EQ: a linear-phase FIR that realises a gain curve given at the 31 third-octave
//! centres (IEC 61260 base-10, `1000 * 10^(k/10)`, k = -17..=13).
//!
//! 1. [`condition_band_gains`]: the raw curve (target minus mix, from the chain) is bounded,
//!    smoothed across neighbouring bands with the binomial kernel `[1, 2, 1] / 4`
//!    (about 1/2-octave smoothing on a 1/3-octave grid; fractional-octave smoothing as in
//!    P. D. Hatziantoniou & J. N. Mourjopoulos, "Generalized Fractional-Octave Smoothing of
//!    Audio and Acoustic Responses", JAES 48(4), 2000), then limited: +-`max_boost/cut_db`,
//!    no boost above the mix's or the target's bandwidth or in bands without content, at most
//!    [`LOW_MAX_BOOST_DB`] of boost below [`LOW_BOOST_LIMIT_HZ`].
//! 2. [`MatchedEq::new`]: the band gains are interpolated linearly in dB over log frequency
//!    ([`MatchedEq::intended_response_db`]), an optional mono-bass high-pass is multiplied in,
//!    and the FIR is designed by frequency sampling (sample the desired zero-phase magnitude
//!    on a dense FFT grid, inverse FFT, centre, Kaiser window: L. R. Rabiner & B. Gold,
//!    *Theory and Application of Digital Signal Processing*, 1975, sec. 3.15; window as in
//!    Oppenheim & Schafer, *Discrete-Time Signal Processing*, 3rd ed., sec. 7.5.3). The
//!    length (odd, symmetric: type I linear phase) gives about 5.4 Hz bin spacing: 8191 taps
//!    at 44.1 kHz.
//! 3. [`MatchedEq::process`]: FFT overlap-save convolution (Oppenheim & Schafer sec. 8.7.3)
//!    with `realfft`, blocks in parallel with fixed boundaries (deterministic), the
//!    `(taps - 1) / 2` frames of latency removed: output frame `n` is aligned with input frame
//!    `n`, and the output has the input's length. The filter's pre- and post-ringing beyond
//!    the ends of the input is dropped; the last frames are complete (the input is read past
//!    its end as zeros).
//!
//! A curve of exactly 0 dB everywhere without high-pass is the identity: `process` copies.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::oversample::kaiser_window;
use crate::error::{Error, Result};
use crate::units::db_to_gain;

/// Below this frequency boosts are held to [`LOW_MAX_BOOST_DB`]: sub-bass boosts cost headroom
/// and the FIR's resolution (about 20 Hz) is coarse there.
pub const LOW_BOOST_LIMIT_HZ: f64 = 40.0;
pub const LOW_MAX_BOOST_DB: f64 = 3.0;
/// A band more than this far under the integrated loudness has no content worth boosting.
pub const NO_CONTENT_BELOW_DB: f64 = -60.0;
/// Kaiser beta of the FIR window: side lobes about -50 dB, main lobe half-width about
/// 2.4 bins (Kaiser's formulas in Oppenheim & Schafer eq. 7.75-7.76).
const WINDOW_BETA: f64 = 5.0;
/// Floor of the mono-bass high-pass in the design, dB: deep enough to empty the side channel
/// below the crossover, shallow enough that the window's leakage does not dominate.
const HIGHPASS_FLOOR_DB: f64 = -80.0;

/// Bounds applied to a raw band-gain curve.
#[derive(Clone, Debug, PartialEq)]
pub struct EqLimits {
    pub max_boost_db: f64,
    pub max_cut_db: f64,
    /// No boost in bands centred above this (the lower of the mix's and the target's
    /// bandwidth).
    pub no_boost_above_hz: f64,
    /// Per band: the band has content in the mix (else no boost).
    pub mix_has_content: Vec<bool>,
    /// Per band: the band has content in the target (else the band is left at 0 dB: matching
    /// an absent band would only cut what the target lacks, e.g. a lossy reference's top).
    pub target_has_content: Vec<bool>,
}

/// Smooths with `[1, 2, 1] / 4` across neighbouring bands; the edge bands use the weights that
/// exist, renormalised.
pub fn smooth_bands(gain_db: &[f64]) -> Vec<f64> {
    let n = gain_db.len();
    (0..n)
        .map(|i| {
            let mut sum = 2.0 * gain_db[i];
            let mut weight = 2.0;
            if i > 0 {
                sum += gain_db[i - 1];
                weight += 1.0;
            }
            if i + 1 < n {
                sum += gain_db[i + 1];
                weight += 1.0;
            }
            sum / weight
        })
        .collect()
}

/// Bounds, smooths and limits a raw band-gain curve (see the module docs). The result is
/// finite and within the limits.
pub fn condition_band_gains(center_hz: &[f64], raw_gain_db: &[f64], limits: &EqLimits) -> Vec<f64> {
    let n = center_hz.len().min(raw_gain_db.len());
    let has = |v: &[bool], i: usize| v.get(i).copied().unwrap_or(true);
    let bound = |i: usize, g: f64| -> f64 {
        let mut max_boost = limits.max_boost_db;
        if center_hz[i] > limits.no_boost_above_hz || !has(&limits.mix_has_content, i) {
            max_boost = 0.0;
        }
        if center_hz[i] < LOW_BOOST_LIMIT_HZ {
            max_boost = max_boost.min(LOW_MAX_BOOST_DB);
        }
        if g.is_nan() {
            0.0
        } else {
            g.clamp(-limits.max_cut_db, max_boost)
        }
    };
    let first: Vec<f64> = (0..n)
        .map(|i| {
            if has(&limits.target_has_content, i) {
                bound(i, raw_gain_db[i])
            } else {
                0.0
            }
        })
        .collect();
    smooth_bands(&first)
        .into_iter()
        .enumerate()
        .map(|(i, g)| bound(i, g))
        .collect()
}

/// FIR length for a sample rate: odd, about `fs / 5.38` (8191 at 44.1 kHz).
pub fn fir_length(sample_rate_hz: u32) -> usize {
    let n = (f64::from(sample_rate_hz) * 8191.0 / 44_100.0).round() as usize;
    (n / 2) * 2 + 1
}

/// A designed matched EQ for one channel (mid or side).
#[derive(Clone)]
pub struct MatchedEq {
    sample_rate_hz: u32,
    center_hz: Vec<f64>,
    band_gain_db: Vec<f64>,
    highpass_hz: Option<f64>,
    taps: Vec<f64>,
    fft_len: usize,
    /// Spectrum of the zero-padded taps, scaled by `1 / fft_len` for realfft's unnormalised
    /// inverse.
    kernel: Vec<Complex<f32>>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

impl std::fmt::Debug for MatchedEq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchedEq")
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("band_gain_db", &self.band_gain_db)
            .field("highpass_hz", &self.highpass_hz)
            .field("taps", &self.taps.len())
            .finish()
    }
}

impl MatchedEq {
    /// Designs the FIR for `band_gain_db` at `center_hz` (ascending, same length, finite) and an
    /// optional 4th-order Linkwitz-Riley-shaped high-pass at `highpass_hz` (magnitude
    /// `(f/fc)^4 / (1 + (f/fc)^4)`: -6 dB at `fc`, 24 dB/octave below; S. Linkwitz, "Active
    /// Crossover Networks for Noncoincident Drivers", JAES 24(1), 1976), realised here in
    /// linear phase.
    pub fn new(
        sample_rate_hz: u32,
        center_hz: &[f64],
        band_gain_db: &[f64],
        highpass_hz: Option<f64>,
    ) -> Result<Self> {
        if center_hz.is_empty()
            || center_hz.len() != band_gain_db.len()
            || center_hz.windows(2).any(|w| w[1] <= w[0])
            || center_hz.iter().any(|&f| !(f > 0.0 && f.is_finite()))
            || band_gain_db.iter().any(|g| !g.is_finite())
        {
            return Err(Error::InvalidSetting(format!(
                "EQ curve: {} band centres and {} gains; centres must ascend, values be finite",
                center_hz.len(),
                band_gain_db.len()
            )));
        }
        if let Some(f) = highpass_hz {
            if !(f > 0.0 && f < f64::from(sample_rate_hz) / 2.0) {
                return Err(Error::InvalidSetting(format!(
                    "mono bass frequency {f} Hz is outside 0..{} Hz",
                    sample_rate_hz / 2
                )));
            }
        }
        let n = fir_length(sample_rate_hz);
        let fft_len = (4 * n).next_power_of_two();
        // Designed in f64; filtered with f32 transforms (the samples are f32: the rounding of
        // the transforms sits near -130 dB, as deep as the samples' own).
        let mut planner = RealFftPlanner::<f64>::new();
        let mut planner32 = RealFftPlanner::<f32>::new();
        let forward = planner32.plan_fft_forward(fft_len);
        let inverse = planner32.plan_fft_inverse(fft_len);
        let mut eq = Self {
            sample_rate_hz,
            center_hz: center_hz.to_vec(),
            band_gain_db: band_gain_db.to_vec(),
            highpass_hz,
            taps: Vec::new(),
            fft_len,
            kernel: Vec::new(),
            forward,
            inverse,
        };
        if eq.is_identity() {
            eq.taps = vec![0.0; n];
            eq.taps[n / 2] = 1.0;
            return Ok(eq);
        }
        eq.taps = eq.design(n, &mut planner);
        let mut padded = vec![0.0f64; fft_len];
        padded[..n].copy_from_slice(&eq.taps);
        let forward64 = planner.plan_fft_forward(fft_len);
        let mut spectrum = forward64.make_output_vec();
        forward64
            .process(&mut padded, &mut spectrum)
            .map_err(|e| Error::InvalidSetting(format!("EQ FFT: {e}")))?;
        let scale = 1.0 / fft_len as f64;
        eq.kernel = spectrum
            .into_iter()
            .map(|c| Complex::new((c.re * scale) as f32, (c.im * scale) as f32))
            .collect();
        Ok(eq)
    }

    /// Frequency sampling: zero-phase magnitude on a grid `design_len` points, inverse FFT,
    /// rotate to centre, window.
    fn design(&self, n: usize, planner: &mut RealFftPlanner<f64>) -> Vec<f64> {
        let design_len = (4 * n).next_power_of_two();
        let inverse = planner.plan_fft_inverse(design_len);
        let fs = f64::from(self.sample_rate_hz);
        let mut spectrum: Vec<Complex<f64>> = (0..=design_len / 2)
            .map(|k| {
                let f = k as f64 * fs / design_len as f64;
                Complex::new(db_to_gain(self.intended_response_db(f)), 0.0)
            })
            .collect();
        let mut impulse = vec![0.0f64; design_len];
        // The input is real and even: the inverse is real and even; realfft only asks that the
        // DC and Nyquist bins have no imaginary part, which holds.
        inverse
            .process(&mut spectrum, &mut impulse)
            .expect("buffer lengths come from the plan");
        let window = kaiser_window(n, WINDOW_BETA);
        let centre = (n - 1) / 2;
        (0..n)
            .map(|i| {
                let k = (i + design_len - centre) % design_len;
                impulse[k] / design_len as f64 * window[i]
            })
            .collect()
    }

    /// The response the FIR is designed to have, in dB at `freq_hz`: band gains interpolated
    /// linearly in dB over log frequency, held flat below the lowest and above the highest
    /// centre, times the mono-bass high-pass if any.
    pub fn intended_response_db(&self, freq_hz: f64) -> f64 {
        let c = &self.center_hz;
        let g = &self.band_gain_db;
        let last = c.len() - 1;
        let mut db = if freq_hz <= c[0] {
            g[0]
        } else if freq_hz >= c[last] {
            g[last]
        } else {
            let i = c.partition_point(|&x| x <= freq_hz) - 1;
            let t = (freq_hz / c[i]).ln() / (c[i + 1] / c[i]).ln();
            g[i] + t * (g[i + 1] - g[i])
        };
        if let Some(fc) = self.highpass_hz {
            let r4 = (freq_hz / fc).powi(4);
            let hp_db = if r4 == 0.0 {
                HIGHPASS_FLOOR_DB
            } else {
                (20.0 * (r4 / (1.0 + r4)).log10()).max(HIGHPASS_FLOOR_DB)
            };
            db += hp_db;
        }
        db
    }

    /// The designed impulse response (odd length, symmetric), centred on `(len - 1) / 2`.
    pub fn taps(&self) -> &[f64] {
        &self.taps
    }

    /// The filter's delay in frames; [`MatchedEq::process`] removes it.
    pub fn delay_frames(&self) -> usize {
        (self.taps.len() - 1) / 2
    }

    /// The band gains this EQ applies, dB at the centres.
    pub fn band_gain_db(&self) -> &[f64] {
        &self.band_gain_db
    }

    pub fn highpass_hz(&self) -> Option<f64> {
        self.highpass_hz
    }

    /// True when the curve is exactly flat and there is no high-pass: processing copies.
    pub fn is_identity(&self) -> bool {
        self.highpass_hz.is_none() && self.band_gain_db.iter().all(|&g| g == 0.0)
    }

    /// Filters `input`; the output has the same length and is aligned with the input.
    pub fn process(&self, input: &[f32]) -> Vec<f32> {
        if self.is_identity() {
            return input.to_vec();
        }
        let len = input.len();
        let taps = self.taps.len();
        let delay = self.delay_frames();
        let fft_len = self.fft_len;
        let hop = fft_len - (taps - 1);
        let mut output = vec![0.0f32; len];
        output.par_chunks_mut(hop).enumerate().for_each_init(
            || {
                (
                    self.forward.make_input_vec(),
                    self.forward.make_output_vec(),
                    self.forward.make_scratch_vec(),
                    self.inverse.make_scratch_vec(),
                )
            },
            |(buf, spec, fscratch, iscratch), (b, out)| {
                // Output frame n = b*hop + i - (taps - 1) needs input from n - delay on;
                // segment start s = b*hop - delay.
                let start = (b * hop) as i64 - delay as i64;
                for (i, v) in buf.iter_mut().enumerate() {
                    let j = start + i as i64;
                    *v = if j >= 0 && (j as usize) < len {
                        input[j as usize]
                    } else {
                        0.0
                    };
                }
                self.forward
                    .process_with_scratch(buf, spec, fscratch)
                    .expect("buffer lengths come from the plan");
                for (s, k) in spec.iter_mut().zip(&self.kernel) {
                    *s *= k;
                }
                // The product of two real signals' spectra has real DC and Nyquist bins up to
                // rounding; realfft rejects any imaginary part there, so clear it.
                spec[0].im = 0.0;
                if let Some(last) = spec.last_mut() {
                    last.im = 0.0;
                }
                self.inverse
                    .process_with_scratch(spec, buf, iscratch)
                    .expect("buffer lengths come from the plan");
                out.copy_from_slice(&buf[taps - 1..taps - 1 + out.len()]);
            },
        );
        output
    }

    /// The intended curve at `points` log-spaced frequencies from 20 Hz to 20 kHz (for the
    /// report): `(freq_hz, gain_db)`.
    pub fn dense_curve(&self, points: usize) -> (Vec<f64>, Vec<f64>) {
        let points = points.max(2);
        let freq: Vec<f64> = (0..points)
            .map(|i| 20.0 * 1000f64.powf(i as f64 / (points - 1) as f64))
            .collect();
        let gain = freq.iter().map(|&f| self.intended_response_db(f)).collect();
        (freq, gain)
    }
}

/// The 31 third-octave centres `1000 * 10^(k/10)`, k = -17..=13 (IEC 61260 base-10).
pub fn third_octave_centers_hz() -> Vec<f64> {
    (-17..=13)
        .map(|k| 1000.0 * 10f64.powf(f64::from(k) / 10.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_keeps_a_constant_and_spreads_a_spike() {
        assert_eq!(smooth_bands(&[3.0; 5]), vec![3.0; 5]);
        assert_eq!(
            smooth_bands(&[0.0, 4.0, 0.0]),
            vec![4.0 / 3.0, 2.0, 4.0 / 3.0]
        );
    }

    #[test]
    fn conditioning_limits_boosts() {
        let c = third_octave_centers_hz();
        let limits = EqLimits {
            max_boost_db: 12.0,
            max_cut_db: 12.0,
            no_boost_above_hz: 16_000.0,
            mix_has_content: vec![true; 31],
            target_has_content: vec![true; 31],
        };
        let g = condition_band_gains(&c, &[30.0; 31], &limits);
        assert_eq!(g[0], LOW_MAX_BOOST_DB); // 20 Hz
        assert_eq!(g[15], 12.0); // 631 Hz
        assert_eq!(g[30], 0.0); // 20 kHz, above the bandwidth
        let g = condition_band_gains(&c, &[-30.0; 31], &limits);
        assert!(g.iter().all(|&x| x == -12.0));
    }

    #[test]
    fn centres_are_iec_base10() {
        let c = third_octave_centers_hz();
        assert_eq!(c.len(), 31);
        assert!((c[17] - 1000.0).abs() < 1e-9);
        assert!((c[0] - 19.952_623_149_688_8).abs() < 1e-9);
    }
}
