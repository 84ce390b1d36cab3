//! Dynamics over time: short-term loudness statistics (from [`super::loudness`]) and the
//! crest factor of each octave band of the mid signal.
//!
//! Octave crest: the mid signal is cut into 46 ms Hann frames (50 % overlap); each frame's
//! power in an octave band (IEC 61260 base-10 centres 31.6 Hz .. 15.8 kHz) is summed from the
//! FFT; the crest is the 99th percentile of those frame powers over their mean, in dB, over
//! the frames that pass a -20 dB relative gate. A heavily compressed or limited band reads a
//! few dB; an open, punchy one 10 dB or more. 46 ms frames see envelopes, not single
//! waveform peaks: this is the dynamics a compressor changes.

use rayon::prelude::*;

use super::spectrum::{fill_mid_side, frame_starts, gate, hann, FramePower, LongTermSpectrum};
use super::texture::{frame_texture, FrameTexture, TextureBins};
use super::{Dynamics, Loudness};
use crate::units::power_to_db;

/// Octave centres, base-10: `1000 * 10^(3k/10)`, k = -5..=4.
pub fn octave_centres_hz() -> Vec<f64> {
    (-5..=4)
        .map(|k| 1000.0 * 10f64.powf(0.3 * f64::from(k)))
        .collect()
}

/// Frames per parallel task.
const FRAMES_PER_TASK: usize = 256;
/// Frames whose sums run side by side (one vector lane each, every sum in its own order).
const GROUP: usize = 4;

/// Relative gate for octave crest frames, dB below the mean frame power.
const CREST_GATE_DB: f64 = -20.0;

/// Linear-interpolated percentile `p` (0..100) of `values` (need not be sorted).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NEG_INFINITY;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = p / 100.0 * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    if i + 1 < v.len() {
        v[i] + frac * (v[i + 1] - v[i])
    } else {
        v[i]
    }
}

/// Dynamics of planar `channels` at `sample_rate_hz`; the octave crest is measured on their
/// mid (the mean of the channels), made frame by frame.
pub fn measure(channels: &[&[f32]], sample_rate_hz: u32, loudness: &Loudness) -> Dynamics {
    measure_with_frames(channels, sample_rate_hz, loudness, false).0
}

/// [`measure`], also returning the octave-band frame powers it computed (read by
/// [`super::rhythm`], so the genre features need no transform of their own) and, with
/// `texture`, each frame's [`FrameTexture`] (for [`super::texture`]).
pub(crate) fn measure_with_frames(
    channels: &[&[f32]],
    sample_rate_hz: u32,
    loudness: &Loudness,
    texture: bool,
) -> (Dynamics, OctaveFrames) {
    // Short-term readings after the first 3 s, above the -70 LUFS absolute gate.
    let skip = (3.0 / loudness.curve_hop_s).round() as usize - 1;
    let st: Vec<f64> = loudness
        .short_term_curve_lufs
        .iter()
        .skip(skip.min(loudness.short_term_curve_lufs.len().saturating_sub(1)))
        .map(|&v| f64::from(v))
        .filter(|v| *v > -70.0)
        .collect();
    let octave_center_hz = octave_centres_hz();
    let frames = octave_frames(channels, sample_rate_hz, &octave_center_hz, texture);
    let octave_crest_db = octave_crest_db(&frames);
    let dynamics = Dynamics {
        short_term_p10_lufs: percentile(&st, 10.0),
        short_term_p50_lufs: percentile(&st, 50.0),
        short_term_p95_lufs: percentile(&st, 95.0),
        octave_center_hz,
        octave_crest_db,
    };
    (dynamics, frames)
}

/// Power of each 46 ms mid frame (50 % overlap), in total and per octave band.
#[derive(Clone, Debug, Default)]
pub(crate) struct OctaveFrames {
    /// Seconds between frame starts.
    pub hop_s: f64,
    /// Total power of each frame.
    pub total: Vec<f64>,
    /// `per_band[b][t]`: power of octave band `b` in frame `t`.
    pub per_band: Vec<Vec<f64>>,
    /// Each frame's spectral texture (contrast, flatness, chroma, centroid; read by
    /// [`super::texture`]); empty when it was not asked for.
    pub texture: Vec<FrameTexture>,
}

fn octave_frames(
    channels: &[&[f32]],
    sample_rate_hz: u32,
    centres: &[f64],
    texture: bool,
) -> OctaveFrames {
    let frames = channels.first().map_or(0, |c| c.len());
    let rate = f64::from(sample_rate_hz);
    let n = ((rate * 0.046 / 256.0).round() as usize).max(1) * 256;
    let bin_hz = rate / n as f64;
    let window: Vec<f32> = hann(n).iter().map(|&w| w as f32).collect();
    let starts = frame_starts(frames, n);
    let edge = 10f64.powf(0.15);
    // Each band's share of each bin, once (as `band_power` shares them).
    let bins = n / 2 + 1;
    let shares: Vec<Vec<(usize, f64)>> = centres
        .iter()
        .map(|&c| LongTermSpectrum::band_shares(bins, bin_hz, c / edge, c * edge).collect())
        .collect();
    // Frames in parallel chunks, in order: (total power, power per band, texture) of each frame.
    let plan = FramePower::plan(n);
    let texture_bins = TextureBins::new(bins, bin_hz);
    let frames: Vec<(f64, Vec<f64>, Option<FrameTexture>)> = starts
        .par_chunks(FRAMES_PER_TASK)
        .flat_map_iter(|chunk| {
            let mut frame_power = FramePower::with_plan(&plan);
            // The power spectra of `GROUP` frames side by side: `group_power[k][g]` is bin `k`
            // of frame `g`, so each frame's sums below run in bin order, one lane each.
            let mut group_power = vec![[0.0f64; GROUP]; bins];
            let mut power = vec![0.0f64; if texture { bins } else { 0 }];
            let mut mid = Vec::with_capacity(n);
            let mut scratch = Vec::new();
            let mut out = Vec::with_capacity(chunk.len());
            for group in chunk.chunks(GROUP) {
                let mut textures = [const { None }; GROUP];
                for (g, &s) in group.iter().enumerate() {
                    let start = s.min(frames);
                    mid.resize((s + n).min(frames) - start, 0.0);
                    fill_mid_side(channels, start, &mut mid, &mut []);
                    for (row, q) in group_power.iter_mut().zip(frame_power.of(&mid, &window)) {
                        row[g] = q;
                    }
                    if texture {
                        for (p, row) in power.iter_mut().zip(&group_power) {
                            *p = row[g];
                        }
                        textures[g] = Some(frame_texture(&power, &texture_bins, &mut scratch));
                    }
                }
                // Lanes past the group's frames hold stale powers; their sums are dropped.
                let mut total = [0.0f64; GROUP];
                for row in &group_power {
                    for (t, &p) in total.iter_mut().zip(row) {
                        *t += p;
                    }
                }
                let mut bands = vec![[0.0f64; GROUP]; shares.len()];
                for (acc, band) in bands.iter_mut().zip(&shares) {
                    for &(k, w) in band {
                        for (a, &p) in acc.iter_mut().zip(&group_power[k]) {
                            *a += p * w;
                        }
                    }
                }
                for (g, texture) in textures.into_iter().enumerate().take(group.len()) {
                    out.push((total[g], bands.iter().map(|b| b[g]).collect(), texture));
                }
            }
            out
        })
        .collect();
    let total: Vec<f64> = frames.iter().map(|f| f.0).collect();
    let per_band: Vec<Vec<f64>> = (0..centres.len())
        .map(|b| frames.iter().map(|f| f.1[b]).collect())
        .collect();
    OctaveFrames {
        hop_s: (n / 2) as f64 / rate,
        total,
        per_band,
        texture: frames.into_iter().filter_map(|f| f.2).collect(),
    }
}

/// 99th percentile over mean of each band's frame powers, on the gated frames.
fn octave_crest_db(frames: &OctaveFrames) -> Vec<f64> {
    let kept = gate(&frames.total, CREST_GATE_DB);
    frames
        .per_band
        .iter()
        .map(|band| {
            let v: Vec<f64> = kept.iter().map(|&i| band[i]).collect();
            let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
            if mean > 0.0 {
                power_to_db(percentile(&v, 99.0) / mean).max(0.0)
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_known_values() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 100.0), 5.0);
        assert_eq!(percentile(&v, 10.0), 1.4);
    }

    fn tone_bursts(rate: u32, freq_hz: f64, on_level: f32, off_level: f32) -> Vec<f32> {
        // 250 ms on, 250 ms off, for 10 s.
        (0..rate as usize * 10)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let level = if (t * 2.0).fract() < 0.5 {
                    on_level
                } else {
                    off_level
                };
                level * (2.0 * std::f64::consts::PI * freq_hz * t).sin() as f32
            })
            .collect()
    }

    #[test]
    fn steady_tone_has_no_crest_and_bursts_do() {
        let rate = 44_100;
        let steady = tone_bursts(rate, 1_000.0, 0.5, 0.5);
        let bursts = tone_bursts(rate, 1_000.0, 0.5, 0.05);
        let octave = octave_centres_hz()
            .iter()
            .position(|&c| (c - 1000.0).abs() < 1.0)
            .unwrap();
        // A mono signal is its own mid.
        let c_steady = octave_crest_db(&octave_frames(
            &[&steady],
            rate,
            &octave_centres_hz(),
            false,
        ));
        let c_bursts = octave_crest_db(&octave_frames(
            &[&bursts],
            rate,
            &octave_centres_hz(),
            false,
        ));
        // A steady sine: every frame has the same power, crest 0 dB (to 0.1 dB of leakage).
        assert!(c_steady[octave] < 0.1, "steady {}", c_steady[octave]);
        // 20 dB bursts half the time: peak power 1, mean about (1 + 0.01) / 2, crest ~3 dB.
        assert!(
            (c_bursts[octave] - 2.97).abs() < 0.3,
            "bursts {}",
            c_bursts[octave]
        );
    }
}
