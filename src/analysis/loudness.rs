//! Loudness, loudness range and peaks after ITU-R BS.1770-4 / EBU R128. Loudness and range
//! come from lathe's meter ([`super::meter`], which follows libebur128 step by step and is
//! tested against the `ebur128` crate); the true peak from [`super::true_peak`] (ebur128's
//! interpolator to the bit, vectorised, with the silence before and after the file).
//!
//! The meter keeps the K-weighted energy of every 100 ms sub-block, so that momentary (400 ms)
//! and short-term (3 s) loudness are read after each one: their maxima and the short-term
//! curve come from those readings.
//!
//! **One meter, one channel rule.** Every loudness figure lathe gives (analysis, the renderer's
//! passes, reports, previews, batch and album mode) weighs channels by
//! [`super::meter::channel_weights`]: BS.1770-4 as libebur128 and ffmpeg's `ebur128` filter
//! apply it to a file, so a mono file is one channel of weight 1 (it reads 3.01 LU under the
//! stereo file with the same signal in both channels, as ffmpeg reads it).

use ebur128::{EbuR128, Mode};
use rayon::prelude::*;

use super::meter::SHORT_TERM_HOPS as SHORT_TERM_BLOCKS;
use super::meter::{energy_to_lufs, Sweep, MOMENTARY_HOPS as MOMENTARY_BLOCKS};
use super::Loudness;
use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::units::gain_to_db;

/// Hop between readings of momentary and short-term loudness.
pub const HOP_S: f64 = 0.1;
/// BS.1770 needs one full 400 ms gating block.
pub const MIN_DURATION_S: f64 = 0.4;

/// Integrated loudness (LUFS) of planar channels by lathe's meter and its channel rule;
/// `-inf` when no block passes the absolute gate.
pub fn integrated_lufs(channels: &[&[f32]], sample_rate_hz: u32) -> f64 {
    Sweep::new(channels, sample_rate_hz).integrated_lufs()
}

/// Measures integrated, momentary, short-term loudness, LRA, true and sample peak.
pub fn measure(audio: &AudioBuffer) -> Result<Loudness> {
    Ok(measure_with_sweep(audio)?.0)
}

/// [`measure`], and the meter's sweep it came from (its plain sums serve the other analyses).
pub(crate) fn measure_with_sweep(audio: &AudioBuffer) -> Result<(Loudness, Sweep)> {
    let duration_s = audio.duration_s();
    if duration_s < MIN_DURATION_S {
        return Err(Error::TooShort { duration_s });
    }
    let channels = audio.num_channels();
    // True peak in parallel segments (exact: a maximum), beside the loudness.
    let views: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    let (sweep, true_peak) = rayon::join(
        || Sweep::new(&views, audio.sample_rate_hz),
        || -> Vec<f64> {
            views
                .iter()
                .map(|c| f64::from(super::true_peak::channel_true_peak(c, audio.sample_rate_hz)))
                .collect()
        },
    );
    let mut loudness = loudness_of_sweep(&sweep);
    // Like ebur128's reading, at least the sample peak.
    let true_peak_per_channel_dbtp: Vec<f64> = true_peak
        .iter()
        .zip(&loudness.true_peak_per_channel_dbtp)
        .map(|(&tp, &sample_peak_db)| gain_to_db(tp).max(sample_peak_db))
        .collect();
    loudness.true_peak_dbtp = max_of(&true_peak_per_channel_dbtp);
    loudness.true_peak_per_channel_dbtp = true_peak_per_channel_dbtp;
    loudness.plr_db = finite_or_zero(loudness.true_peak_dbtp - loudness.integrated_lufs);
    debug_assert_eq!(channels, loudness.true_peak_per_channel_dbtp.len());
    Ok((loudness, sweep))
}

/// Frames per segment of [`true_peak_per_channel`].
const TRUE_PEAK_SEGMENT_FRAMES: usize = 1 << 18;
/// Frames fed before each segment: more than the longest ebur128 interpolator (24 taps at 2x,
/// 12 at 4x), so its state at the segment's start is the one a single pass would have.
const TRUE_PEAK_PREROLL_FRAMES: usize = 64;

/// ebur128's true peak (BS.1770-4 Annex 2) of each channel, linear, measured in segments in
/// parallel. Exact: the meter's interpolator is an FIR, so after the pre-roll its outputs over a
/// segment are the ones one pass over the whole file gives there (`prev_true_peak` reads only
/// the last call), and the maximum does not depend on the order. The segments are fixed by the
/// length, not by the thread count. Like ebur128's own reading, at least the sample peak
/// (`Mode::TRUE_PEAK` includes the sample peak's bit, and `prev_true_peak` reads the larger).
pub fn true_peak_per_channel(channels: &[&[f32]], sample_rate_hz: u32) -> Result<Vec<f64>> {
    let frames = channels.first().map_or(0, |c| c.len());
    if frames == 0 {
        return Ok(vec![0.0; channels.len()]);
    }
    let segments: Vec<Vec<f64>> = (0..frames.div_ceil(TRUE_PEAK_SEGMENT_FRAMES))
        .into_par_iter()
        .map(|s| -> Result<Vec<f64>> {
            let start = s * TRUE_PEAK_SEGMENT_FRAMES;
            let end = (start + TRUE_PEAK_SEGMENT_FRAMES).min(frames);
            let mut meter = EbuR128::new(channels.len() as u32, sample_rate_hz, Mode::TRUE_PEAK)?;
            let from = start.saturating_sub(TRUE_PEAK_PREROLL_FRAMES);
            if from < start {
                let preroll: Vec<&[f32]> = channels.iter().map(|c| &c[from..start]).collect();
                meter.add_frames_planar_f32(&preroll)?;
            }
            let segment: Vec<&[f32]> = channels.iter().map(|c| &c[start..end]).collect();
            meter.add_frames_planar_f32(&segment)?;
            (0..channels.len())
                .map(|c| Ok(meter.prev_true_peak(c as u32)?))
                .collect()
        })
        .collect::<Result<_>>()?;
    Ok((0..channels.len())
        .map(|c| segments.iter().map(|p| p[c]).fold(0.0, f64::max))
        .collect())
}

/// Everything but the true peak, from lathe's meter ([`super::meter`]); `true_peak_*` hold
/// the sample peak, `plr_db` is unset.
pub(crate) fn loudness_of_sweep(sweep: &Sweep) -> Loudness {
    let frames = sweep.frames;
    let mut windows = SlidingWindows::default();
    let mut curve = Vec::with_capacity(sweep.hop_energy.len() + 1);
    // Momentary and short-term come from running sums of the 100 ms sub-blocks (see
    // `SlidingWindows`), not from summing 400 ms and 3 s of samples again at every hop.
    for energy in sweep.sub_block_energies() {
        windows.push(energy);
        curve.push(windows.short_term_lufs() as f32);
    }
    let max_momentary = windows.max_momentary_lufs;
    let max_short_term = windows
        .max_short_term_lufs
        .max(if windows.count < SHORT_TERM_BLOCKS {
            windows.short_term_lufs()
        } else {
            f64::NEG_INFINITY
        });

    let integrated_lufs = sweep.integrated_lufs();
    let lra_lu = sweep.loudness_range_lu();
    let sample_peak_per_channel_dbfs: Vec<f64> = sweep
        .channels
        .iter()
        .map(|c| gain_to_db(f64::from(c.peak)))
        .collect();
    let sample_peak_dbfs = max_of(&sample_peak_per_channel_dbfs);
    let loudest_rms_db = sweep
        .channels
        .iter()
        .map(|c| 10.0 * (c.sum_squares / frames as f64).log10())
        .fold(f64::NEG_INFINITY, f64::max);

    Loudness {
        integrated_lufs,
        max_momentary_lufs: max_momentary,
        max_short_term_lufs: max_short_term,
        lra_lu,
        true_peak_dbtp: sample_peak_dbfs,
        true_peak_per_channel_dbtp: sample_peak_per_channel_dbfs,
        sample_peak_dbfs,
        plr_db: 0.0,
        crest_db: finite_or_zero(sample_peak_dbfs - loudest_rms_db),
        short_term_curve_lufs: curve,
        curve_hop_s: HOP_S,
    }
}

/// Momentary and short-term loudness from the K-weighted energies of consecutive 100 ms
/// sub-blocks, as the meter defines them: the mean energy of the last 4 (30) sub-blocks,
/// counting the time before the start as silence. Sums are recomputed from the ring, never
/// updated by subtraction, so no rounding error accumulates over long files.
#[derive(Default)]
struct SlidingWindows {
    ring: Vec<f64>,
    count: usize,
    max_momentary_lufs: f64,
    max_short_term_lufs: f64,
}

impl SlidingWindows {
    fn push(&mut self, energy: f64) {
        if self.ring.is_empty() {
            self.ring = vec![0.0; SHORT_TERM_BLOCKS];
            self.max_momentary_lufs = f64::NEG_INFINITY;
            self.max_short_term_lufs = f64::NEG_INFINITY;
        }
        self.ring[self.count % SHORT_TERM_BLOCKS] = energy;
        self.count += 1;
        if self.count >= MOMENTARY_BLOCKS {
            self.max_momentary_lufs = self.max_momentary_lufs.max(self.momentary_lufs());
        }
        if self.count >= SHORT_TERM_BLOCKS {
            self.max_short_term_lufs = self.max_short_term_lufs.max(self.short_term_lufs());
        }
    }

    fn mean_of_last(&self, n: usize) -> f64 {
        (1..=n.min(self.count))
            .map(|back| self.ring[(self.count - back) % SHORT_TERM_BLOCKS])
            .sum::<f64>()
            / n as f64
    }

    fn momentary_lufs(&self) -> f64 {
        energy_to_lufs(self.mean_of_last(MOMENTARY_BLOCKS))
    }

    fn short_term_lufs(&self) -> f64 {
        energy_to_lufs(self.mean_of_last(SHORT_TERM_BLOCKS))
    }
}

fn max_of(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Ratios of two `-inf` levels (silence) are undefined: report 0 dB rather than NaN.
fn finite_or_zero(db: f64) -> f64 {
    if db.is_finite() {
        db
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    //! EBU Tech 3341 (2016) and Tech 3342 (2016) cases, generated from sines.
    use super::*;
    use crate::units::db_to_gain;
    use std::f64::consts::PI;

    /// BS.1770's `L = -0.691 + 10 log10(E)`, inverted: the weighted mean square of a window.
    fn lufs_to_energy(lufs: f64) -> f64 {
        if lufs.is_finite() {
            10f64.powf((lufs + 0.691) / 10.0)
        } else {
            0.0
        }
    }

    /// Appends `seconds` of a sine at `dbfs` (peak level, as the EBU documents define it).
    fn sine(out: &mut Vec<f32>, rate: u32, freq_hz: f64, dbfs: f64, seconds: f64, phase: f64) {
        let amp = db_to_gain(dbfs);
        let n = (seconds * f64::from(rate)).round() as usize;
        let start = out.len();
        out.extend((0..n).map(|i| {
            let t = (start + i) as f64 / f64::from(rate);
            (amp * (2.0 * PI * freq_hz * t + phase).sin()) as f32
        }));
    }

    fn stereo_sequence(segments: &[(f64, f64)]) -> AudioBuffer {
        let mut ch = Vec::new();
        for &(dbfs, seconds) in segments {
            sine(&mut ch, 48_000, 1_000.0, dbfs, seconds, 0.0);
        }
        AudioBuffer::new(48_000, vec![ch.clone(), ch]).unwrap()
    }

    // Tech 3341 tolerance for integrated, momentary and short-term loudness: +-0.1 LU.
    const TOL_LU: f64 = 0.1;

    fn assert_close(actual: f64, expected: f64, tol: f64, what: &str) {
        assert!(
            (actual - expected).abs() <= tol,
            "{what}: expected {expected} +-{tol}, got {actual}"
        );
    }

    #[test]
    fn tech3341_case1_minus23() {
        let l = measure(&stereo_sequence(&[(-23.0, 20.0)])).unwrap();
        assert_close(l.integrated_lufs, -23.0, TOL_LU, "integrated");
        assert_close(l.max_momentary_lufs, -23.0, TOL_LU, "max momentary");
        assert_close(l.max_short_term_lufs, -23.0, TOL_LU, "max short-term");
    }

    #[test]
    fn tech3341_case2_minus33() {
        let l = measure(&stereo_sequence(&[(-33.0, 20.0)])).unwrap();
        assert_close(l.integrated_lufs, -33.0, TOL_LU, "integrated");
    }

    #[test]
    fn tech3341_case3_relative_gate() {
        let l = measure(&stereo_sequence(&[
            (-36.0, 10.0),
            (-23.0, 60.0),
            (-36.0, 10.0),
        ]))
        .unwrap();
        assert_close(l.integrated_lufs, -23.0, TOL_LU, "integrated");
    }

    #[test]
    fn tech3341_case4_absolute_and_relative_gate() {
        let segments = [
            (-72.0, 10.0),
            (-36.0, 10.0),
            (-23.0, 60.0),
            (-36.0, 10.0),
            (-72.0, 10.0),
        ];
        let l = measure(&stereo_sequence(&segments)).unwrap();
        assert_close(l.integrated_lufs, -23.0, TOL_LU, "integrated");
    }

    #[test]
    fn tech3341_case5_level_changes() {
        let l = measure(&stereo_sequence(&[
            (-26.0, 20.0),
            (-20.0, 20.1),
            (-26.0, 20.0),
        ]))
        .unwrap();
        assert_close(l.integrated_lufs, -23.0, TOL_LU, "integrated");
    }

    #[test]
    fn tech3341_case6_five_channels() {
        let rate = 48_000;
        let mut front = Vec::new();
        sine(&mut front, rate, 1_000.0, -28.0, 20.0, 0.0);
        let mut centre = Vec::new();
        sine(&mut centre, rate, 1_000.0, -24.0, 20.0, 0.0);
        let mut surround = Vec::new();
        sine(&mut surround, rate, 1_000.0, -30.0, 20.0, 0.0);
        // Tech 3341 case 6: L, R -28 dBFS; C -24 dBFS; Ls, Rs -30 dBFS. ebur128's default
        // layout for 5 channels is L, R, C, Ls, Rs (surrounds weighted +1.5 dB).
        let audio = AudioBuffer::new(
            rate,
            vec![front.clone(), front, centre, surround.clone(), surround],
        )
        .unwrap();
        let l = measure(&audio).unwrap();
        assert_close(l.integrated_lufs, -23.0, TOL_LU, "integrated");
    }

    /// Tech 3341 true-peak cases: 48 kHz, tolerance +0.2 / -0.4 dB.
    fn true_peak_case(freq_hz: f64, amp: f64, phase_deg: f64, expected_dbtp: f64) {
        let mut ch = Vec::new();
        sine(
            &mut ch,
            48_000,
            freq_hz,
            gain_to_db(amp),
            1.0,
            phase_deg.to_radians(),
        );
        // A sine switched on or off mid-cycle is a step, and a step really does overshoot
        // between samples (the true peak reads the silence around the file). 20 ms raised-
        // cosine fades at both ends remove the steps; the steady part is the test.
        let fade = 960;
        let n = ch.len();
        for i in 0..fade {
            let w = (0.5 - 0.5 * (std::f64::consts::PI * i as f64 / fade as f64).cos()) as f32;
            ch[i] *= w;
            ch[n - 1 - i] *= w;
        }
        let l = measure(&AudioBuffer::new(48_000, vec![ch.clone(), ch]).unwrap()).unwrap();
        let err = l.true_peak_dbtp - expected_dbtp;
        assert!(
            (-0.4..=0.2).contains(&err),
            "{freq_hz} Hz, amplitude {amp}, phase {phase_deg} deg: expected {expected_dbtp} dBTP +0.2/-0.4, got {}",
            l.true_peak_dbtp
        );
    }

    /// ebur128's true peak in one pass, per channel.
    fn true_peak_one_pass(channels: &[&[f32]], rate: u32) -> Vec<f64> {
        let mut meter = EbuR128::new(channels.len() as u32, rate, Mode::TRUE_PEAK).unwrap();
        meter.add_frames_planar_f32(channels).unwrap();
        (0..channels.len())
            .map(|c| meter.true_peak(c as u32).unwrap())
            .collect()
    }

    #[test]
    fn segmented_true_peak_is_exactly_the_one_pass_reading() {
        // Noise with isolated near-full-scale clicks, one placed right at each segment boundary
        // (the interpolator's state there comes from the pre-roll), at 4x and 2x rates, for
        // 1, 2 and 3 channels.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for (rate, channels) in [(44_100u32, 1usize), (48_000, 2), (96_000, 3)] {
            let frames = 2 * TRUE_PEAK_SEGMENT_FRAMES + 1_000;
            let mut audio: Vec<Vec<f32>> = (0..channels)
                .map(|_| (0..frames).map(|_| 0.05 * noise()).collect())
                .collect();
            for (c, ch) in audio.iter_mut().enumerate() {
                for k in 1..=2 {
                    let at = k * TRUE_PEAK_SEGMENT_FRAMES - 2 + c;
                    ch[at] = 0.9;
                    ch[at + 1] = -0.95;
                }
            }
            let views: Vec<&[f32]> = audio.iter().map(Vec::as_slice).collect();
            let segmented = true_peak_per_channel(&views, rate).unwrap();
            let whole = true_peak_one_pass(&views, rate);
            assert_eq!(segmented, whole, "{rate} Hz, {channels} channels");
            assert!(
                whole.iter().all(|&p| p >= 0.9499),
                "the clicks are the peaks: {whole:?}"
            );
        }
    }

    #[test]
    fn tech3341_case15_fs4_phase0() {
        true_peak_case(12_000.0, 0.5, 0.0, -6.0);
    }

    #[test]
    fn tech3341_case16_fs4_phase45() {
        true_peak_case(12_000.0, 0.5, 45.0, -6.0);
    }

    #[test]
    fn tech3341_case17_fs6_phase60() {
        true_peak_case(8_000.0, 0.5, 60.0, -6.0);
    }

    #[test]
    fn tech3341_case18_fs8_phase67_5() {
        true_peak_case(6_000.0, 0.5, 67.5, -6.0);
    }

    #[test]
    fn tech3341_case19_fs4_phase45_overs() {
        true_peak_case(12_000.0, 1.41, 45.0, 3.0);
    }

    // Tech 3342 tolerance for LRA: +-1 LU.
    #[test]
    fn tech3342_case1_lra10() {
        let l = measure(&stereo_sequence(&[(-20.0, 20.0), (-30.0, 20.0)])).unwrap();
        assert_close(l.lra_lu, 10.0, 1.0, "LRA");
    }

    #[test]
    fn tech3342_case2_lra5() {
        let l = measure(&stereo_sequence(&[(-20.0, 20.0), (-15.0, 20.0)])).unwrap();
        assert_close(l.lra_lu, 5.0, 1.0, "LRA");
    }

    #[test]
    fn tech3342_case3_lra20() {
        let l = measure(&stereo_sequence(&[(-40.0, 20.0), (-20.0, 20.0)])).unwrap();
        assert_close(l.lra_lu, 20.0, 1.0, "LRA");
    }

    #[test]
    fn tech3342_case4_lra15() {
        let segments = [
            (-50.0, 20.0),
            (-35.0, 20.0),
            (-20.0, 20.0),
            (-35.0, 20.0),
            (-50.0, 20.0),
        ];
        let l = measure(&stereo_sequence(&segments)).unwrap();
        assert_close(l.lra_lu, 15.0, 1.0, "LRA");
    }

    /// The running sub-block windows agree with the meter's own momentary and short-term
    /// readings, polled every 100 ms, on programme-like material with level changes.
    #[test]
    fn windows_match_the_meters_own_readings() {
        let rate = 44_100;
        let mut ch = Vec::new();
        for (i, dbfs) in [-30.0, -18.0, -24.0, -12.0, -40.0, -20.0]
            .iter()
            .enumerate()
        {
            sine(&mut ch, rate, 200.0 + 300.0 * i as f64, *dbfs, 1.7, 0.0);
        }
        let audio = AudioBuffer::new(rate, vec![ch.clone(), ch]).unwrap();
        let mut meter = EbuR128::new(2, rate, Mode::M | Mode::S).unwrap();
        let mut windows = SlidingWindows::default();
        for (k, block) in audio.channels[0].chunks(4_410).enumerate() {
            meter.add_frames_planar_f32(&[block, block]).unwrap();
            windows.push(lufs_to_energy(meter.loudness_window(100).unwrap()));
            for (ours, theirs, what) in [
                (
                    windows.momentary_lufs(),
                    meter.loudness_momentary().unwrap(),
                    "momentary",
                ),
                (
                    windows.short_term_lufs(),
                    meter.loudness_shortterm().unwrap(),
                    "short-term",
                ),
            ] {
                // Same energies summed in another order: equal to 1e-9 LU.
                assert!(
                    (ours - theirs).abs() < 1e-9 || (ours.is_infinite() && theirs.is_infinite()),
                    "hop {k}, {what}: ours {ours}, meter {theirs}"
                );
            }
        }
    }

    #[test]
    fn mono_is_one_channel_of_weight_one() {
        let mut ch = Vec::new();
        sine(&mut ch, 44_100, 1_000.0, -23.0, 5.0, 0.0);
        let mono = measure(&AudioBuffer::new(44_100, vec![ch.clone()]).unwrap()).unwrap();
        let stereo = measure(&AudioBuffer::new(44_100, vec![ch.clone(), ch]).unwrap()).unwrap();
        // Half the summed energy of the stereo file: 10 log10(2) = 3.0103 LU under it, to
        // float rounding (ffmpeg's ebur128 reads a mono file so; tests/it/hostile.rs checks that).
        assert_close(
            stereo.integrated_lufs - mono.integrated_lufs,
            10.0 * 2f64.log10(),
            1e-9,
            "stereo minus mono",
        );
        // A -23 dBFS-peak 1 kHz sine in one channel: -23 - 3.01 (its mean square) + 0.0
        // (K-weighting at 1 kHz, ~0 dB) = -26.0 LUFS by BS.1770; Tech 3341 tolerance.
        assert_close(mono.integrated_lufs, -26.0, TOL_LU, "mono integrated");
        // The `ebur128` crate, whose default map gives one channel weight 1: same reading.
        let mut m = EbuR128::new(1, 44_100, Mode::I).unwrap();
        let mut ch = Vec::new();
        sine(&mut ch, 44_100, 1_000.0, -23.0, 5.0, 0.0);
        m.add_frames_planar_f32(&[&ch]).unwrap();
        assert_close(
            mono.integrated_lufs,
            m.loudness_global().unwrap(),
            1e-9,
            "mono vs ebur128",
        );
    }

    #[test]
    fn silence_is_minus_infinity_not_nan() {
        let audio = AudioBuffer::new(44_100, vec![vec![0.0; 44_100]; 2]).unwrap();
        let l = measure(&audio).unwrap();
        assert_eq!(l.integrated_lufs, f64::NEG_INFINITY);
        assert_eq!(l.true_peak_dbtp, f64::NEG_INFINITY);
        assert_eq!(l.plr_db, 0.0);
        assert!(!l.lra_lu.is_nan());
    }

    #[test]
    fn too_short_is_refused() {
        let audio = AudioBuffer::new(44_100, vec![vec![0.1; 10_000]; 2]).unwrap();
        assert!(matches!(measure(&audio), Err(Error::TooShort { .. })));
    }

    #[test]
    fn plr_and_crest_of_a_sine() {
        let mut ch = Vec::new();
        sine(&mut ch, 48_000, 1_000.0, -20.0, 5.0, 0.0);
        let l = measure(&AudioBuffer::new(48_000, vec![ch.clone(), ch]).unwrap()).unwrap();
        // A sine's crest factor is sqrt(2) = 3.01 dB; its PLR is -20 - (-20) = 0 dB within the
        // true-peak tolerance.
        assert_close(l.crest_db, 3.01, 0.01, "crest");
        assert_close(l.plr_db, 0.0, 0.2, "PLR");
    }
}
