//! A/B preview: the loudest [`PREVIEW_LENGTH_S`] seconds of the mix and of the master, cut at
//! the same place and loudness-matched to each other, so a listener compares tone and
//! dynamics, not level (louder sounds better: the comparison would be unfair otherwise).
//!
//! - **Where**: the window whose short-term loudness readings (EBU R128, 3 s, taken every
//!   `curve_hop_s` by the analysis of the mix) hold the most energy.
//! - **Level**: both excerpts are measured (ITU-R BS.1770-4 integrated loudness) and the louder
//!   one is turned down to the quieter one: no gain above 0 dB, so nothing new can clip.
//! - **Edges**: 20 ms raised-cosine fades, so the cuts do not click.

use crate::analysis::Features;
use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::units::db_to_gain;

/// Length of a preview.
pub const PREVIEW_LENGTH_S: f64 = 30.0;
/// Fade at each end of an excerpt.
pub const FADE_MS: f64 = 20.0;
/// Short-term loudness window (EBU R128): a reading at time `t` covers `t - 3 s .. t`.
const SHORT_TERM_S: f64 = 3.0;

/// Two excerpts at the same place and loudness.
#[derive(Clone, Debug)]
pub struct Preview {
    pub mix: AudioBuffer,
    pub master: AudioBuffer,
    pub start_s: f64,
    pub length_s: f64,
    /// Gains applied to each excerpt (<= 0 dB).
    pub mix_gain_db: f64,
    pub master_gain_db: f64,
    /// Integrated loudness of both excerpts after matching (`-inf` for silence).
    pub matched_lufs: f64,
}

/// Cuts the loudest `length_s` of `mix` and `master` (same length and rate) and matches their
/// loudness; `mix_features` is the analysis of `mix`. Shorter audio is taken whole.
pub fn excerpts(
    mix: &AudioBuffer,
    master: &AudioBuffer,
    mix_features: &Features,
    length_s: f64,
) -> Result<Preview> {
    if mix.sample_rate_hz != master.sample_rate_hz
        || mix.frames() != master.frames()
        || mix.num_channels() != master.num_channels()
    {
        return Err(Error::InvalidSetting(format!(
            "preview: mix ({} frames, {} channels, {} Hz) and master ({} frames, {} channels, {} \
             Hz) differ",
            mix.frames(),
            mix.num_channels(),
            mix.sample_rate_hz,
            master.frames(),
            master.num_channels(),
            master.sample_rate_hz
        )));
    }
    if !(length_s.is_finite() && length_s > 0.0) {
        return Err(Error::InvalidSetting(format!(
            "preview length {length_s} s must be positive"
        )));
    }
    let fs = f64::from(mix.sample_rate_hz);
    let total = mix.frames();
    let len = ((length_s * fs).round() as usize).min(total);
    let start_s = loudest_start_s(
        &mix_features.loudness.short_term_curve_lufs,
        mix_features.loudness.curve_hop_s,
        length_s,
        mix.duration_s(),
    );
    let start = ((start_s * fs).round() as usize).min(total - len);
    let cut = |a: &AudioBuffer| -> Result<AudioBuffer> {
        let channels = a
            .channels
            .iter()
            .map(|c| c[start..start + len].to_vec())
            .collect();
        AudioBuffer::new(a.sample_rate_hz, channels)
    };
    let (mut a, mut b) = (cut(mix)?, cut(master)?);
    let (la, lb) = (integrated_lufs(&a)?, integrated_lufs(&b)?);
    let (mix_gain_db, master_gain_db, matched_lufs) = if la.is_finite() && lb.is_finite() {
        let level = la.min(lb);
        (level - la, level - lb, level)
    } else {
        (0.0, 0.0, la.min(lb))
    };
    let fade = ((FADE_MS / 1000.0 * fs).round() as usize).min(len / 2);
    apply_gain_and_fades(&mut a, mix_gain_db, fade);
    apply_gain_and_fades(&mut b, master_gain_db, fade);
    Ok(Preview {
        mix: a,
        master: b,
        start_s: start as f64 / fs,
        length_s: len as f64 / fs,
        mix_gain_db,
        master_gain_db,
        matched_lufs,
    })
}

/// Start (s) of the `length_s` window holding the most short-term energy; 0 when the audio is
/// not longer than the window or there are no readings.
pub fn loudest_start_s(curve_lufs: &[f32], hop_s: f64, length_s: f64, duration_s: f64) -> f64 {
    if duration_s <= length_s || curve_lufs.is_empty() || hop_s.is_nan() || hop_s <= 0.0 {
        return 0.0;
    }
    // Readings that fall wholly inside a window starting at `s` end in
    // `s + 3 s ..= s + length`: reading `i` ends at `(i + 1) hop`.
    let power: Vec<f64> = curve_lufs
        .iter()
        .map(|&l| {
            let l = f64::from(l);
            if l.is_finite() {
                10f64.powf(l / 10.0)
            } else {
                0.0
            }
        })
        .collect();
    let per_window = ((length_s - SHORT_TERM_S) / hop_s).round().max(1.0) as usize;
    let first = ((SHORT_TERM_S / hop_s).round() as usize).saturating_sub(1);
    let last_start_s = duration_s - length_s;
    let mut best = (f64::NEG_INFINITY, 0.0);
    let mut i = first;
    while i + per_window <= power.len() {
        let start_s = (i + 1) as f64 * hop_s - SHORT_TERM_S;
        if start_s > last_start_s + 1e-9 {
            break;
        }
        // Fixed order: deterministic, and n is small (a few thousand readings).
        let sum: f64 = power[i..i + per_window].iter().sum();
        if sum > best.0 {
            best = (sum, start_s.max(0.0));
        }
        i += 1;
    }
    best.1
}

/// By the one meter and its channel rule ([`crate::analysis::loudness::integrated_lufs`]).
fn integrated_lufs(a: &AudioBuffer) -> Result<f64> {
    let views: Vec<&[f32]> = a.channels.iter().map(Vec::as_slice).collect();
    Ok(crate::analysis::loudness::integrated_lufs(
        &views,
        a.sample_rate_hz,
    ))
}

fn apply_gain_and_fades(a: &mut AudioBuffer, gain_db: f64, fade: usize) {
    let g = db_to_gain(gain_db);
    for c in &mut a.channels {
        let n = c.len();
        for (i, s) in c.iter_mut().enumerate() {
            let edge = i.min(n - 1 - i);
            let w = if edge < fade {
                0.5 - 0.5 * (std::f64::consts::PI * (edge as f64 + 0.5) / fade as f64).cos()
            } else {
                1.0
            };
            *s = (f64::from(*s) * g * w) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_loud_section() {
        // 100 s at 0.1 s hops: quiet (-30) except 40..75 s (-10).
        let curve: Vec<f32> = (0..1000)
            .map(|i| {
                let t = (i + 1) as f64 * 0.1;
                if (43.0..=75.0).contains(&t) {
                    -10.0
                } else {
                    -30.0
                }
            })
            .collect();
        let s = loudest_start_s(&curve, 0.1, 30.0, 100.0);
        // Any window inside 40..75 s holds only loud readings; the first such start is 40 s.
        assert!((40.0..=45.0).contains(&s), "{s}");
    }

    #[test]
    fn short_audio_starts_at_zero() {
        assert_eq!(loudest_start_s(&[-10.0; 100], 0.1, 30.0, 10.0), 0.0);
    }
}
