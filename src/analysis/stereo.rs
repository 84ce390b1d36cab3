//! Stereo image: side/mid energy, correlation, and low-end mono compatibility.
//!
//! Energies come from the gated long-term spectrum ([`super::spectrum`]), so width is measured
//! on the same loud frames as the tonal balance. With `M = (L+R)/2`, `S = (L-R)/2`:
//! `|M|^2 - |S|^2 = Re(L R*)` and `|M|^2 + |S|^2 = (|L|^2 + |R|^2) / 2`, so the low-end
//! correlation `(P_M - P_S) / (P_M + P_S)` is the Pearson correlation for balanced channels.

use super::meter::Sweep;
use super::spectrum::LongTermSpectrum;
use super::{Spectrum, Stereo, SILENT_BAND_DB};
use crate::units::power_to_db;

/// Upper edge of "the low end" for mono-compatibility measures.
pub const LOW_END_HZ: f64 = 150.0;
/// Floor for the mono-loss measure, dB.
const MONO_LOSS_FLOOR_DB: f64 = -60.0;

/// The stereo image from the gated spectrum and the meter's sums (for the correlation).
pub fn measure(sweep: &Sweep, lts: &LongTermSpectrum, spectrum: &Spectrum) -> Stereo {
    let nyquist = f64::from(lts.sample_rate_hz) / 2.0;
    let (mid, side) = lts.range_power(20.0, nyquist.min(20_000.0));
    let width_db = ratio_db(side, mid);
    let band_width_db = spectrum
        .mid_db
        .iter()
        .zip(&spectrum.side_db)
        .map(|(&m, &s)| {
            if m <= SILENT_BAND_DB {
                0.0
            } else {
                (s - m).max(SILENT_BAND_DB)
            }
        })
        .collect();
    let (low_mid, low_side) = lts.range_power(20.0, LOW_END_HZ);
    let (low_end_correlation, low_end_mono_loss_db) = if low_mid + low_side > 0.0 {
        (
            (low_mid - low_side) / (low_mid + low_side),
            power_to_db(low_mid / (low_mid + low_side)).max(MONO_LOSS_FLOOR_DB),
        )
    } else {
        (1.0, 0.0)
    };
    Stereo {
        width_db,
        correlation: correlation(sweep),
        band_width_db,
        low_end_correlation,
        low_end_mono_loss_db,
    }
}

/// `10 log10(a / b)` floored at [`SILENT_BAND_DB`]; 0 dB when both are silent.
fn ratio_db(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        power_to_db(a / b).max(SILENT_BAND_DB)
    } else if a > 0.0 {
        0.0
    } else {
        SILENT_BAND_DB
    }
}

/// Pearson correlation of the first two channels (about zero mean, so no mean removal), from
/// the sums of the meter's sweep; 1 for mono or identical channels, 0 when one channel is
/// silent and the other not.
pub fn correlation(sweep: &Sweep) -> f64 {
    let [l, r, ..] = sweep.channels.as_slice() else {
        return 1.0;
    };
    let (lr, ll, rr) = (sweep.cross, l.sum_squares, r.sum_squares);
    if ll == 0.0 && rr == 0.0 {
        1.0
    } else if ll == 0.0 || rr == 0.0 {
        0.0
    } else {
        (lr / (ll * rr).sqrt()).clamp(-1.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::spectrum::long_term;
    use crate::audio::AudioBuffer;

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                ((s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
                    * 0.2
            })
            .collect()
    }

    fn stereo_of(l: Vec<f32>, r: Vec<f32>) -> Stereo {
        let a = AudioBuffer::new(44_100, vec![l, r]).unwrap();
        let lts = long_term(&a);
        let spec = lts.bands(-20.0);
        let views: Vec<&[f32]> = a.channels.iter().map(Vec::as_slice).collect();
        measure(&Sweep::new(&views, 44_100), &lts, &spec)
    }

    #[test]
    fn mono_has_no_width_and_full_correlation() {
        let x = noise(44_100 * 3, 1);
        let s = stereo_of(x.clone(), x);
        assert_eq!(s.width_db, SILENT_BAND_DB);
        assert!((s.correlation - 1.0).abs() < 1e-12);
        assert!((s.low_end_correlation - 1.0).abs() < 1e-12);
        assert!(s.low_end_mono_loss_db.abs() < 1e-9);
    }

    #[test]
    fn independent_channels_have_zero_width_db_and_no_correlation() {
        // Uncorrelated L and R of equal power: P_S = P_M, width 0 dB; correlation ~0
        // (3 s of noise: |r| < 0.02, three standard deviations of an estimate from 132k samples).
        let s = stereo_of(noise(44_100 * 3, 1), noise(44_100 * 3, 99));
        assert!(s.width_db.abs() < 0.2, "width {}", s.width_db);
        assert!(s.correlation.abs() < 0.02, "correlation {}", s.correlation);
    }

    #[test]
    fn polarity_flip_cancels_in_mono() {
        let x = noise(44_100 * 3, 5);
        let y: Vec<f32> = x.iter().map(|v| -v).collect();
        let s = stereo_of(x, y);
        assert!((s.correlation + 1.0).abs() < 1e-9);
        assert!(s.low_end_correlation < -0.999);
        assert_eq!(s.low_end_mono_loss_db, MONO_LOSS_FLOOR_DB);
    }
}
