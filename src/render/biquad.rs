//! The crate's one second-order IIR section: the peaking, shelving and high-pass filters of
//! R. Bristow-Johnson's *Cookbook formulae for audio EQ biquad filter coefficients* (the
//! "Audio EQ Cookbook", W3C Audio WG note, <https://www.w3.org/TR/audio-eq-cookbook/>), their
//! magnitude response from the digital transfer function, and Direct Form I filtering in
//! `f64`.
//!
//! Used where a filter must be one that any parametric EQ reproduces: the report's
//! parametric approximation of the applied EQ (`report::fit`), the rebuild of a master from
//! the report's filters, and the dataset's random "un-mastering" (`dataset`).

use std::f64::consts::PI;

/// Normalised biquad coefficients (a0 = 1): `b` the feed-forward, `a` = `[a1, a2]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Biquad {
    pub b: [f64; 3],
    pub a: [f64; 2],
}

/// `(sin w0, cos w0)` with the frequency held under Nyquist (0.499 fs).
fn omega(freq_hz: f64, sample_rate_hz: f64) -> (f64, f64) {
    (2.0 * PI * freq_hz.min(0.499 * sample_rate_hz) / sample_rate_hz).sin_cos()
}

impl Biquad {
    fn normalised(b: [f64; 3], a: [f64; 3]) -> Self {
        let a0 = a[0];
        Self {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [a[1] / a0, a[2] / a0],
        }
    }

    /// Peaking EQ: `gain_db` at `freq_hz`, bandwidth by `q` (`A = 10^(gain/40)`,
    /// `alpha = sin(w0) / (2 Q)`).
    pub fn peaking(freq_hz: f64, gain_db: f64, q: f64, sample_rate_hz: f64) -> Self {
        let (sin, cos) = omega(freq_hz, sample_rate_hz);
        let alpha = sin / (2.0 * q);
        let a = 10f64.powf(gain_db / 40.0);
        Self::normalised(
            [1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a],
        )
    }

    /// Low shelf of total gain `gain_db`; `freq_hz` is the midpoint (half the gain in dB),
    /// `q` the cookbook's shelf Q (0.707: the steepest without overshoot).
    pub fn low_shelf(freq_hz: f64, gain_db: f64, q: f64, sample_rate_hz: f64) -> Self {
        let (sin, cos) = omega(freq_hz, sample_rate_hz);
        Self::shelf(false, gain_db, cos, sin / (2.0 * q))
    }

    /// High shelf, as [`Biquad::low_shelf`].
    pub fn high_shelf(freq_hz: f64, gain_db: f64, q: f64, sample_rate_hz: f64) -> Self {
        let (sin, cos) = omega(freq_hz, sample_rate_hz);
        Self::shelf(true, gain_db, cos, sin / (2.0 * q))
    }

    /// High shelf given the cookbook's shelf slope `s` instead of Q (1 = the steepest
    /// monotonic): `alpha = sin(w0)/2 * sqrt((A + 1/A)(1/S - 1) + 2)`.
    pub fn high_shelf_slope(freq_hz: f64, gain_db: f64, s: f64, sample_rate_hz: f64) -> Self {
        let (sin, cos) = omega(freq_hz, sample_rate_hz);
        let a = 10f64.powf(gain_db / 40.0);
        let alpha = sin / 2.0 * ((a + 1.0 / a) * (1.0 / s - 1.0) + 2.0).sqrt();
        Self::shelf(true, gain_db, cos, alpha)
    }

    fn shelf(high: bool, gain_db: f64, cos: f64, alpha: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let k = 2.0 * a.sqrt() * alpha;
        if high {
            Self::normalised(
                [
                    a * ((a + 1.0) + (a - 1.0) * cos + k),
                    -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                    a * ((a + 1.0) + (a - 1.0) * cos - k),
                ],
                [
                    (a + 1.0) - (a - 1.0) * cos + k,
                    2.0 * ((a - 1.0) - (a + 1.0) * cos),
                    (a + 1.0) - (a - 1.0) * cos - k,
                ],
            )
        } else {
            Self::normalised(
                [
                    a * ((a + 1.0) - (a - 1.0) * cos + k),
                    2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                    a * ((a + 1.0) - (a - 1.0) * cos - k),
                ],
                [
                    (a + 1.0) + (a - 1.0) * cos + k,
                    -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                    (a + 1.0) + (a - 1.0) * cos - k,
                ],
            )
        }
    }

    /// Second-order high-pass (Q 0.707: Butterworth, -3 dB at `freq_hz`, 12 dB/octave).
    pub fn high_pass(freq_hz: f64, q: f64, sample_rate_hz: f64) -> Self {
        let (sin, cos) = omega(freq_hz, sample_rate_hz);
        let alpha = sin / (2.0 * q);
        Self::normalised(
            [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    /// Magnitude response in dB at `freq_hz` (floored at -200 dB):
    /// `|H(e^jw)|^2 = (b0^2 + b1^2 + b2^2 + 2(b0 b1 + b1 b2) cos w + 2 b0 b2 cos 2w) / (same in a)`.
    pub fn response_db(&self, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        let w = 2.0 * PI * freq_hz / sample_rate_hz;
        self.response_db_at(w.cos(), (2.0 * w).cos())
    }

    /// [`Biquad::response_db`] at the frequency whose `cos w` and `cos 2w` are given (for
    /// callers that evaluate many filters on one grid).
    pub fn response_db_at(&self, c1: f64, c2: f64) -> f64 {
        let [b0, b1, b2] = self.b;
        let [a1, a2] = self.a;
        let num = b0 * b0 + b1 * b1 + b2 * b2 + 2.0 * (b0 * b1 + b1 * b2) * c1 + 2.0 * b0 * b2 * c2;
        let den = 1.0 + a1 * a1 + a2 * a2 + 2.0 * (a1 + a1 * a2) * c1 + 2.0 * a2 * c2;
        if num <= 0.0 || den <= 0.0 {
            return -200.0;
        }
        (10.0 * (num / den).log10()).max(-200.0)
    }

    /// Filters one channel in place (Direct Form I, `f64` state, from rest).
    pub fn process(&self, x: &mut [f32]) {
        let [b0, b1, b2] = self.b;
        let [a1, a2] = self.a;
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for s in x.iter_mut() {
            let x0 = f64::from(*s);
            let y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
            x2 = x1;
            x1 = x0;
            y2 = y1;
            y1 = y0;
            *s = y0 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaking_has_its_gain_at_its_frequency() {
        let f = Biquad::peaking(1000.0, 6.0, 1.0, 48_000.0);
        // Exact by construction of the cookbook peaking filter (|H(w0)| = A^2).
        assert!((f.response_db(1000.0, 48_000.0) - 6.0).abs() < 1e-9);
        // Far from the centre the bell is flat (within 0.05 dB two decades away at Q 1).
        assert!(f.response_db(10.0, 48_000.0).abs() < 0.05);
    }

    #[test]
    fn shelves_reach_half_gain_at_their_frequency() {
        let fs = 96_000.0;
        let q = std::f64::consts::FRAC_1_SQRT_2;
        // The cookbook shelf's midpoint: |H(w0)| = A, i.e. half the gain in dB (exact).
        let hs = Biquad::high_shelf(4000.0, 4.0, q, fs);
        assert!((hs.response_db(4000.0, fs) - 2.0).abs() < 1e-9);
        assert!((hs.response_db(40_000.0, fs) - 4.0).abs() < 0.1);
        assert!(hs.response_db(40.0, fs).abs() < 0.01);
        let ls = Biquad::low_shelf(200.0, -3.0, q, fs);
        // 1e-6, not 1e-9: at w0 = 0.013 rad the power-form response (cos w, cos 2w) loses
        // about 4e-8 dB to cancellation (measured), a rounding effect, not the filter's.
        assert!((ls.response_db(200.0, fs) + 1.5).abs() < 1e-6);
        assert!((ls.response_db(10.0, fs) + 3.0).abs() < 0.05);
        // Shelf slope S = 1 is Q = 1/sqrt 2 (cookbook: 1/Q = sqrt((A + 1/A)(1/S - 1) + 2)).
        let s1 = Biquad::high_shelf_slope(4000.0, 4.0, 1.0, fs);
        for f in [100.0, 4000.0, 20_000.0] {
            assert!((s1.response_db(f, fs) - hs.response_db(f, fs)).abs() < 1e-9);
        }
    }

    #[test]
    fn butterworth_high_pass_is_3_db_down_at_cutoff() {
        let f = Biquad::high_pass(120.0, std::f64::consts::FRAC_1_SQRT_2, 44_100.0);
        // -3.01 dB at the cutoff (exact for the bilinear design at w0).
        assert!((f.response_db(120.0, 44_100.0) + 3.0103).abs() < 1e-3);
    }

    #[test]
    fn filtering_a_sine_matches_the_response() {
        let fs = 48_000.0;
        let f = Biquad::peaking(2000.0, -5.0, 2.0, fs);
        for freq in [500.0, 2000.0, 3000.0] {
            let mut x: Vec<f32> = (0..48_000)
                .map(|n| (2.0 * PI * freq * n as f64 / fs).sin() as f32)
                .collect();
            f.process(&mut x);
            // RMS of the second half (past the transient) against a unit sine's 1/sqrt 2.
            let tail = &x[24_000..];
            let rms = (tail.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / tail.len() as f64)
                .sqrt();
            let measured = 20.0 * (rms * std::f64::consts::SQRT_2).log10();
            // 0.01 dB: the f32 output's rounding and a whole number of cycles in 0.5 s.
            assert!(
                (measured - f.response_db(freq, fs)).abs() < 0.01,
                "{freq} Hz: {measured} vs {}",
                f.response_db(freq, fs)
            );
        }
    }
}
