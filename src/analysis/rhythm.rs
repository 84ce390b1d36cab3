//! Features that carry genre rather than mastering: how often and how regularly the music
//! attacks, how much its spectrum moves, how peaky its spectrum is. They feed the genre
//! classifier and let the targets model tell a drum-driven mix from a pad.
//!
//! Everything is read from work the analysis already did, so this pass costs almost nothing:
//! the 46 ms octave-band frame powers of the mid signal ([`super::dynamics`], 23 ms hop) and
//! the long-term mid spectrum ([`super::spectrum`]).
//!
//! - **Onset envelope**: per frame, the mean over octave bands of the half-wave rectified
//!   increase of band level in dB (spectral flux on a log-power octave filterbank: S. Dixon,
//!   "Onset Detection Revisited", DAFx 2006; J. P. Bello et al., "A Tutorial on Onset
//!   Detection in Music Signals", IEEE TSAP 13(5), 2005). Levels are floored 40 dB under each
//!   band's mean so silence-to-sound jumps stay bounded.
//! - **Spectral flux**: the envelope's mean over the frames that pass the gate, dB per frame.
//! - **Onset rate**: peaks of the envelope above a moving median (+-0.25 s) plus half its
//!   standard deviation, at least 70 ms apart, per second of gated audio.
//! - **Tempo strength**: the highest normalised autocorrelation of the envelope between lags
//!   of 0.25 s and 2 s (240..30 BPM); `tempo_bpm` is that lag in beats per minute.
//! - **Octave level spread**: standard deviation over time of each octave's level, dB: how
//!   much each band comes and goes (band crest over time).
//! - **Spectral contrast** per octave: mean of the top fifth of the long-term spectrum's bins
//!   over the mean of the bottom fifth, dB (after D.-N. Jiang et al., "Music type
//!   classification by spectral contrast feature", ICME 2002, on the long-term spectrum):
//!   tonal, harmonic music reads high, noise-like music low.
//!
//! All of these are unchanged by a gain and (nearly) by a static EQ: level differences
//! cancel in the flux and the spreads, and a smooth EQ barely changes peak-to-valley ratios
//! inside one octave.

use super::dynamics::{octave_centres_hz, percentile, OctaveFrames};
use super::spectrum::{gate, LongTermSpectrum};
use super::Rhythm;
use crate::units::power_to_db;

/// Frames more than this far under the mean frame power are left out, dB.
const GATE_DB: f64 = -30.0;
/// Band levels are floored this far under the band's mean power, dB.
const LEVEL_FLOOR_DB: f64 = -40.0;
/// Tempo search range: lags in seconds (240..30 BPM).
const MIN_BEAT_S: f64 = 0.25;
const MAX_BEAT_S: f64 = 2.0;
/// Onsets closer than this are one onset, seconds.
const MIN_ONSET_GAP_S: f64 = 0.07;
/// Half-width of the onset threshold's moving median, seconds.
const MEDIAN_HALF_S: f64 = 0.25;
/// Fraction of bins at each end used by the spectral contrast.
const CONTRAST_FRACTION: f64 = 0.2;

/// Measures the genre features from the octave frames and the long-term spectrum.
pub(crate) fn measure(frames: &OctaveFrames, lts: &LongTermSpectrum) -> Rhythm {
    let spectral_contrast_db = spectral_contrast_db(lts);
    let kept = gate(&frames.total, GATE_DB);
    let bands = frames.per_band.len();
    let n = frames.total.len();
    if kept.len() < 8 || bands == 0 || frames.hop_s <= 0.0 {
        return Rhythm {
            spectral_contrast_db,
            octave_level_std_db: vec![0.0; bands],
            ..Rhythm::default()
        };
    }
    let mut is_kept = vec![false; n];
    for &t in &kept {
        is_kept[t] = true;
    }
    let levels = band_levels_db(frames, &kept);
    let octave_level_std_db = levels
        .iter()
        .map(|l| {
            let v: Vec<f64> = kept.iter().map(|&t| l[t]).collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
        })
        .collect();
    let envelope = onset_envelope(&levels, &is_kept, 0..bands);
    let kept_env: Vec<f64> = kept.iter().map(|&t| envelope[t]).collect();
    let spectral_flux_db = kept_env.iter().sum::<f64>() / kept_env.len() as f64;
    let kept_seconds = kept.len() as f64 * frames.hop_s;
    let onset_rate_hz = onsets(&envelope, &kept_env, frames.hop_s) as f64 / kept_seconds;
    let (tempo_strength, tempo_bpm) = tempo(&envelope, frames.hop_s);
    Rhythm {
        onset_rate_hz,
        spectral_flux_db,
        tempo_strength,
        tempo_bpm,
        octave_level_std_db,
        spectral_contrast_db,
    }
}

/// Band levels (dB) of every frame, floored [`LEVEL_FLOOR_DB`] under each band's mean power
/// over the `kept` frames.
pub(crate) fn band_levels_db(frames: &OctaveFrames, kept: &[usize]) -> Vec<Vec<f64>> {
    frames
        .per_band
        .iter()
        .map(|p| {
            let mean = kept.iter().map(|&t| p[t]).sum::<f64>() / kept.len().max(1) as f64;
            let floor = (mean * 10f64.powf(LEVEL_FLOOR_DB / 10.0)).max(1e-30);
            p.iter().map(|&v| power_to_db(v.max(floor))).collect()
        })
        .collect()
}

/// Onset envelope of the bands `bands` of `levels`: per frame, their mean rectified level
/// rise, dB; 0 where a frame or its predecessor is gated out.
pub(crate) fn onset_envelope(
    levels: &[Vec<f64>],
    is_kept: &[bool],
    bands: std::ops::Range<usize>,
) -> Vec<f64> {
    let count = bands.len();
    (0..is_kept.len())
        .map(|t| {
            if t == 0 || !is_kept[t] || !is_kept[t - 1] || count == 0 {
                return 0.0;
            }
            levels[bands.clone()]
                .iter()
                .map(|l| (l[t] - l[t - 1]).max(0.0))
                .sum::<f64>()
                / count as f64
        })
        .collect()
}

/// Normalised autocorrelation of `x` (mean removed) at lags `0..=max_lag` (fewer when `x` is
/// shorter than two lags): the same estimate as the tempo search's.
pub(crate) fn autocorrelation(x: &[f64], max_lag: usize) -> Vec<f64> {
    let n = x.len();
    if n < 2 {
        return Vec::new();
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let x: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let energy = x.iter().map(|v| v * v).sum::<f64>() / n as f64;
    if energy <= 0.0 {
        return vec![0.0; max_lag.min(n - 1) + 1];
    }
    (0..=max_lag.min(n - 1))
        .map(|lag| {
            x[..n - lag]
                .iter()
                .zip(&x[lag..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / (n - lag) as f64
                / energy
        })
        .collect()
}

/// Counts the peaks of the onset envelope (see the module docs).
fn onsets(envelope: &[f64], kept_env: &[f64], hop_s: f64) -> usize {
    let n = envelope.len();
    let mean = kept_env.iter().sum::<f64>() / kept_env.len() as f64;
    let std = (kept_env
        .iter()
        .map(|x| (x - mean) * (x - mean))
        .sum::<f64>()
        / kept_env.len() as f64)
        .sqrt();
    let half = ((MEDIAN_HALF_S / hop_s).round() as usize).max(1);
    let gap = ((MIN_ONSET_GAP_S / hop_s).ceil() as usize).max(1);
    let mut count = 0;
    let mut last: Option<usize> = None;
    for t in 1..n.saturating_sub(1) {
        let e = envelope[t];
        if e <= 0.0 || e < envelope[t - 1] || e < envelope[t + 1] {
            continue;
        }
        let window = &envelope[t.saturating_sub(half)..(t + half + 1).min(n)];
        if e <= percentile(window, 50.0) + 0.5 * std {
            continue;
        }
        if last.is_some_and(|l| t - l < gap) {
            continue;
        }
        last = Some(t);
        count += 1;
    }
    count
}

/// `(strength, bpm)`: the peak of the normalised autocorrelation of the envelope.
fn tempo(envelope: &[f64], hop_s: f64) -> (f64, f64) {
    let n = envelope.len();
    let lo = (MIN_BEAT_S / hop_s).round() as usize;
    let hi = ((MAX_BEAT_S / hop_s).round() as usize).min(n / 2);
    if lo == 0 || hi <= lo {
        return (0.0, 0.0);
    }
    let mean = envelope.iter().sum::<f64>() / n as f64;
    let x: Vec<f64> = envelope.iter().map(|v| v - mean).collect();
    let energy = x.iter().map(|v| v * v).sum::<f64>() / n as f64;
    if energy <= 0.0 {
        return (0.0, 0.0);
    }
    let mut best = (0.0, 0.0);
    for lag in lo..=hi {
        let r = x[..n - lag]
            .iter()
            .zip(&x[lag..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / (n - lag) as f64
            / energy;
        if r > best.0 {
            best = (r, 60.0 / (lag as f64 * hop_s));
        }
    }
    best
}

/// Peak-to-valley ratio of the long-term mid spectrum in each octave (see the module docs).
fn spectral_contrast_db(lts: &LongTermSpectrum) -> Vec<f64> {
    let edge = 2f64.sqrt();
    octave_centres_hz()
        .iter()
        .map(|&c| {
            let lo = ((c / edge) / lts.bin_hz).ceil() as usize;
            let hi = (((c * edge) / lts.bin_hz).floor() as usize).min(lts.mid_power.len());
            if hi <= lo + 5 {
                return 0.0;
            }
            let mut v = lts.mid_power[lo..hi].to_vec();
            v.sort_by(f64::total_cmp);
            let k = ((v.len() as f64 * CONTRAST_FRACTION).round() as usize).max(1);
            let valley = v[..k].iter().sum::<f64>() / k as f64;
            let peak = v[v.len() - k..].iter().sum::<f64>() / k as f64;
            if valley <= 0.0 || peak <= 0.0 {
                return 0.0;
            }
            power_to_db(peak / valley).clamp(0.0, 60.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::analysis::analyze;
    use crate::audio::AudioBuffer;

    /// Noise bursts (a 10 ms attack, 80 ms decay) every `period_s`, over quiet noise.
    fn clicks(rate: u32, seconds: f64, period_s: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        let mut state = 0x1234_5678_u32;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            f64::from(state) / f64::from(u32::MAX) * 2.0 - 1.0
        };
        let period = (period_s * f64::from(rate)) as usize;
        (0..n)
            .map(|i| {
                let t = (i % period) as f64 / f64::from(rate);
                let env = if t < 0.01 {
                    t / 0.01
                } else {
                    (-(t - 0.01) / 0.08).exp()
                };
                (noise() * (0.02 + 0.5 * env)) as f32
            })
            .collect()
    }

    fn features(x: Vec<f32>, rate: u32) -> crate::analysis::Features {
        analyze(&AudioBuffer::new(rate, vec![x.clone(), x]).unwrap()).unwrap()
    }

    #[test]
    fn clicks_at_120_bpm_read_120_bpm_and_two_onsets_per_second() {
        let r = features(clicks(44_100, 20.0, 0.5), 44_100)
            .rhythm
            .expect("measured");
        // One burst per 0.5 s: the autocorrelation peaks at 0.5 s (120 BPM) or, within the
        // search range, at its multiple 1 s (60 BPM); the lag grid is one 23 ms hop, so the
        // reading is within 120 * 0.023 / 0.5 = 5.5 BPM.
        let bpm_ok = (r.tempo_bpm - 120.0).abs() < 6.0 || (r.tempo_bpm - 60.0).abs() < 3.0;
        assert!(bpm_ok, "{r:?}");
        assert!(r.tempo_strength > 0.5, "{r:?}");
        // 2 onsets per second, +-10 % (the first and last burst may fall outside the gate).
        assert!((r.onset_rate_hz - 2.0).abs() < 0.2, "{r:?}");
    }

    #[test]
    fn steady_noise_has_no_pulse_and_little_flux() {
        let steady = features(clicks(44_100, 20.0, 1e9), 44_100)
            .rhythm
            .expect("measured");
        let pulsed = features(clicks(44_100, 20.0, 0.25), 44_100)
            .rhythm
            .expect("measured");
        assert!(steady.tempo_strength < 0.2, "{steady:?}");
        assert!(pulsed.tempo_strength > 0.5, "{pulsed:?}");
        // Steady noise has flux too: its 46 ms band powers scatter from frame to frame (about
        // 0.9 dB of mean rise measured); bursts every 0.25 s more than double it (2.0 dB).
        assert!(
            pulsed.spectral_flux_db > 1.5 * steady.spectral_flux_db,
            "{steady:?} {pulsed:?}"
        );
        // Bursts make every octave come and go (about 6 dB of level spread); steady noise
        // varies only by its frame-to-frame estimation scatter (about 2 dB in the 500 Hz
        // octave: some 16 degrees of freedom per frame, fewer after the Hann window).
        assert!(pulsed.octave_level_std_db[5] > 4.0, "{pulsed:?}");
        assert!(steady.octave_level_std_db[5] < 3.0, "{steady:?}");
        // 4 bursts per second, +-10 %.
        assert!((pulsed.onset_rate_hz - 4.0).abs() < 0.4, "{pulsed:?}");
    }

    #[test]
    fn tones_have_more_contrast_than_noise_and_gain_changes_nothing() {
        let rate = 44_100;
        let n = rate as usize * 10;
        let tone: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (0.2 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                    + 0.1 * (2.0 * std::f64::consts::PI * 880.0 * t).sin()) as f32
            })
            .collect();
        let noise = clicks(rate, 10.0, 1e9);
        let c_tone = features(tone, rate)
            .rhythm
            .expect("measured")
            .spectral_contrast_db;
        let c_noise = features(noise.clone(), rate)
            .rhythm
            .expect("measured")
            .spectral_contrast_db;
        // The 500 Hz octave (354..707 Hz) holds the 440 Hz tone: tens of dB of peak over
        // valley; white noise's bins scatter by a few dB only (chi-square with many frames).
        assert!(
            c_tone[4] > 30.0 && c_noise[4] < 6.0,
            "{c_tone:?} {c_noise:?}"
        );
        let quiet: Vec<f32> = noise.iter().map(|v| v * 0.1).collect();
        let a = features(noise, rate).rhythm.expect("measured");
        let b = features(quiet, rate).rhythm.expect("measured");
        // -20 dB of gain: every feature is a level difference or a ratio (f32 rounding).
        assert!(
            (a.spectral_flux_db - b.spectral_flux_db).abs() < 1e-3,
            "{a:?} {b:?}"
        );
        assert!((a.spectral_contrast_db[4] - b.spectral_contrast_db[4]).abs() < 1e-3);
    }
}
