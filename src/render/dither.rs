//! TPDF dither and quantization to integer PCM, deterministic from a seed.
//!
//! Quantizing to `bits` maps full scale 1.0 to `2^(bits-1)` LSB, the same convention symphonia
//! uses when it decodes integer PCM (`i16 / 32768`), so a value already on the grid survives a
//! write/read round trip exactly.
//!
//! [`quantize_tpdf`] adds triangular (TPDF) noise of +-1 LSB peak before rounding: the sum of two
//! independent uniform variables on [-0.5, 0.5) LSB, variance 2 x 1/12 = 1/6 LSB^2 (RMS
//! 1/sqrt(6) = 0.408 LSB). Rounding adds 1/12 LSB^2 more, so the total error has variance
//! 1/4 LSB^2 (RMS 0.5 LSB), 4.8 dB above the 1/12 LSB^2 of plain rounding.
//! What TPDF buys: the mean *and* the variance of the total error are independent of the
//! signal, so quantization distortion becomes a constant, signal-independent white noise floor
//! (Lipshitz, Wannamaker & Vanderkooy, "Quantization and dither: a theoretical survey",
//! J. Audio Eng. Soc. 40(5), 1992). The error of one sample is bounded by 1.5 LSB (0.5 from
//! rounding + 1 from the dither), before clamping at full scale.
//!
//! The noise comes from [`DitherRng`], xorshift64* (Vigna, "An experimental exploration of
//! Marsaglia's xorshift generators, scrambled", ACM TOMS 42(4), 2016), seeded through SplitMix64
//! (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014) so any
//! `u64` seed, including 0, gives a good non-zero state. Same seed, same bits, on every platform.

/// xorshift64* pseudorandom generator: tiny, fast, and good enough for dither noise. Its lowest
/// bits are its weakest, so [`DitherRng::next_unit`] uses the top 53.
#[derive(Clone, Debug)]
pub struct DitherRng {
    state: u64,
}

/// One SplitMix64 step: a bijective mix of `x`, used to turn seeds into generator states.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl DitherRng {
    /// A generator for `seed`; every seed (also 0) is valid.
    pub fn new(seed: u64) -> Self {
        let state = splitmix64(seed);
        // xorshift must not start from 0; splitmix64 is a bijection, so exactly one seed maps
        // there, and it gets another fixed state.
        Self {
            state: if state == 0 {
                0x2545_F491_4F6C_DD1D
            } else {
                state
            },
        }
    }

    /// An independent stream for one channel of a multichannel signal, so channels get
    /// uncorrelated noise (correlated dither would add coherently in a mono fold-down).
    pub fn for_channel(seed: u64, channel: usize) -> Self {
        Self::new(splitmix64(seed ^ splitmix64(channel as u64)))
    }

    /// Next 64 random bits (xorshift64*, shifts 12/25/27, multiplier from Vigna 2016).
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1) with 53 random bits (the high bits, the best ones of xorshift64*).
    #[inline]
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Triangular noise in (-1, 1) LSB: the difference of two uniforms on [0, 1), which has the
    /// same distribution as the sum of two uniforms on [-0.5, 0.5). Mean 0, variance 1/6.
    #[inline]
    pub fn tpdf_lsb(&mut self) -> f64 {
        self.next_unit() - self.next_unit()
    }
}

/// `v.round()` (half away from zero), without the libm call that `f64::round` is on baseline
/// x86-64 (no SSE4.1): 21 M calls for a 4-minute stereo file. Exact: below 2^52 the
/// truncation through `i64` and the fraction `v - t` are exact; above, `v` is an integer.
#[inline]
fn round_half_away(v: f64) -> f64 {
    if v.is_nan() || v.abs() >= 4_503_599_627_370_496.0 {
        return v; // |v| >= 2^52 (an integer), infinite or NaN
    }
    let t = v as i64 as f64;
    let frac = v - t;
    // Branch-free: the fraction's side of +-0.5 is a coin toss for dithered audio.
    t + f64::from(u8::from(frac >= 0.5)) - f64::from(u8::from(frac <= -0.5))
}

/// Scales to `bits`-bit integer codes, adds `offset_lsb()` per sample, rounds to nearest and
/// clamps to the code range. NaN (never expected: lathe keeps outputs finite) becomes 0.
fn quantize(samples: &[f32], bits: u32, mut offset_lsb: impl FnMut() -> f64) -> Vec<i32> {
    // Callers inside lathe pass 16 or 24; anything else is a programming error, not user input.
    assert!((2..=32).contains(&bits), "quantize to {bits} bits");
    let scale = (1u64 << (bits - 1)) as f64;
    let (lo, hi) = (-scale, scale - 1.0);
    samples
        .iter()
        .map(|&s| {
            let v = round_half_away(f64::from(s) * scale + offset_lsb());
            if v.is_nan() {
                0
            } else {
                v.clamp(lo, hi) as i32
            }
        })
        .collect()
}

/// Quantizes to `bits`-bit integers with +-1 LSB TPDF dither from `rng`, then clamps to the
/// integer range. NaN (never expected: lathe keeps outputs finite) becomes 0.
pub fn quantize_tpdf(samples: &[f32], bits: u32, rng: &mut DitherRng) -> Vec<i32> {
    quantize(samples, bits, || rng.tpdf_lsb())
}

/// Quantizes to `bits`-bit integers by rounding to nearest (no dither), then clamps. Used at
/// 24 bit, where the rounding error (RMS 2^-23 / sqrt(12) of full scale, -149 dBFS) sits far
/// below any converter's noise floor, so dither would only add noise.
pub fn quantize_round(samples: &[f32], bits: u32) -> Vec<i32> {
    quantize(samples, bits, || 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 1_000_000;

    fn mean_and_mean_square(x: impl Iterator<Item = f64>) -> (f64, f64) {
        let (mut s, mut s2, mut n) = (0.0, 0.0, 0.0);
        for v in x {
            s += v;
            s2 += v * v;
            n += 1.0;
        }
        (s / n, s2 / n)
    }

    #[test]
    fn xorshift64star_reference_values() {
        // Hand-checked first outputs of xorshift64* from state 1 (x ^= x>>12; x ^= x<<25;
        // x ^= x>>27; x * 0x2545F4914F6CDD1D): state becomes 0x2000001 ^ (0x2000001 >> 27) =
        // 0x2000001, times the multiplier (mod 2^64).
        let mut r = DitherRng { state: 1 };
        assert_eq!(
            r.next_u64(),
            0x2000001u64.wrapping_mul(0x2545_F491_4F6C_DD1D)
        );
        // Seed 0 is valid and not stuck.
        let mut z = DitherRng::new(0);
        assert_ne!(z.next_u64(), z.next_u64());
    }

    #[test]
    fn tpdf_noise_has_mean_zero_and_variance_one_sixth() {
        let mut rng = DitherRng::new(42);
        let samples: Vec<f64> = (0..N).map(|_| rng.tpdf_lsb()).collect();
        assert!(samples.iter().all(|d| d.abs() < 1.0), "peak within +-1 LSB");
        let (mean, ms) = mean_and_mean_square(samples.iter().copied());
        // Standard error of the mean: sqrt(1/6 / N) = 4.1e-4; 0.002 is ~5 sigma.
        assert!(mean.abs() < 0.002, "mean {mean}");
        // Var(d^2) = E[d^4] - E[d^2]^2 = 1/15 - 1/36 = 7/180 for the triangle on (-1, 1), so the
        // standard error of the mean square is sqrt(7/180 / N) = 2.0e-4; 0.001 is ~5 sigma.
        assert!(
            (ms - 1.0 / 6.0).abs() < 0.001,
            "mean square {ms}, expected 1/6"
        );
        let rms = ms.sqrt();
        assert!((rms - 1.0 / 6f64.sqrt()).abs() < 0.0013, "rms {rms} LSB");
    }

    #[test]
    fn dithered_silence_has_rms_half_lsb() {
        // Quantized silence: round(d) is -1, 0, +1 with probabilities 1/8, 3/4, 1/8, so the
        // total error power is 1/6 (dither) + 1/12 (rounding) = 1/4 LSB^2, RMS 0.5 LSB.
        let silence = vec![0.0f32; N];
        let q = quantize_tpdf(&silence, 16, &mut DitherRng::new(7));
        assert!(q.iter().all(|&v| (-1..=1).contains(&v)));
        let (mean, ms) = mean_and_mean_square(q.iter().map(|&v| f64::from(v)));
        // Standard error of the mean: sqrt(1/4 / N) = 5e-4; 0.0025 is 5 sigma.
        assert!(mean.abs() < 0.0025, "mean {mean} LSB");
        // Var(q^2) = E[q^4] - 1/16 = 1/4 - 1/16 = 3/16: standard error 4.3e-4; 0.0025 ~6 sigma.
        assert!(
            (ms - 0.25).abs() < 0.0025,
            "mean square {ms} LSB^2, expected 1/4"
        );
    }

    #[test]
    fn tpdf_error_mean_is_independent_of_the_signal() {
        // The point of TPDF: a constant 0.3 LSB, which plain rounding turns into 0, is kept on
        // average, and the error power stays 1/4 LSB^2 whatever the input.
        let lsb = 1.0 / 32768.0;
        let input = vec![(0.3 * lsb) as f32; N];
        let q = quantize_tpdf(&input, 16, &mut DitherRng::new(3));
        let err = q.iter().map(|&v| f64::from(v) - 0.3);
        let (mean, ms) = mean_and_mean_square(err);
        // Same 5-sigma bounds as for silence (error variance is 1/4 here too).
        assert!(mean.abs() < 0.0025, "mean error {mean} LSB");
        assert!((ms - 0.25).abs() < 0.0025, "error power {ms} LSB^2");
        assert!(quantize_round(&input, 16).iter().all(|&v| v == 0));
    }

    #[test]
    fn error_is_bounded_by_one_and_a_half_lsb() {
        let mut rng = DitherRng::new(11);
        let input: Vec<f32> = (0..100_000)
            .map(|i| 0.9 * (i as f32 * 0.001).sin())
            .collect();
        let q = quantize_tpdf(&input, 16, &mut rng);
        for (i, (&x, &v)) in input.iter().zip(&q).enumerate() {
            let err = f64::from(v) - f64::from(x) * 32768.0;
            assert!(err.abs() < 1.5, "frame {i}: error {err} LSB");
        }
    }

    #[test]
    fn same_seed_same_bits_and_channels_differ() {
        let input: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
        let a = quantize_tpdf(&input, 16, &mut DitherRng::new(99));
        let b = quantize_tpdf(&input, 16, &mut DitherRng::new(99));
        let c = quantize_tpdf(&input, 16, &mut DitherRng::new(100));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let l = quantize_tpdf(&input, 16, &mut DitherRng::for_channel(99, 0));
        let r = quantize_tpdf(&input, 16, &mut DitherRng::for_channel(99, 1));
        assert_ne!(l, r);
    }

    #[test]
    fn clamps_at_full_scale_and_maps_nan_to_zero() {
        let input = [1.5f32, -1.5, 1.0, -1.0, f32::NAN];
        assert_eq!(
            quantize_round(&input, 16),
            vec![32767, -32768, 32767, -32768, 0]
        );
        assert_eq!(
            quantize_round(&input, 24),
            vec![8_388_607, -8_388_608, 8_388_607, -8_388_608, 0]
        );
        let q = quantize_tpdf(&input, 16, &mut DitherRng::new(1));
        assert_eq!((q[0], q[1], q[4]), (32767, -32768, 0));
    }

    #[test]
    fn rounding_is_f64_round_to_the_bit() {
        let mut rng = DitherRng::new(5);
        let mut values: Vec<f64> = (0..200_000)
            .map(|_| (rng.next_unit() - 0.5) * 2.0 * 8_388_608.0 * 1.01)
            .collect();
        for k in -40..40 {
            let h = f64::from(k) + 0.5;
            values.extend([h, -h, f64::from(k), h - 1e-9, h + 1e-9]);
        }
        values.extend([
            0.0,
            -0.0,
            0.499_999_999_999_999_94,
            -0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            9.1e18,
            -9.3e18,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]);
        for v in values {
            let (a, b) = (round_half_away(v), v.round());
            assert!(
                a == b && a.is_sign_negative() == b.is_sign_negative() || a == 0.0 && b == 0.0,
                "{v}: {a} vs {b}"
            );
        }
        assert!(round_half_away(f64::NAN).is_nan());
    }
}
