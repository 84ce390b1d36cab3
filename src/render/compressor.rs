//! A transparent, linked feed-forward compressor for macro-dynamics.
//!
//! Structure from D. Giannoulis, M. Massberg and J. D. Reiss, "Digital Dynamic Range Compressor
//! Design — A Tutorial and Analysis", JAES 60(6), 2012 (below: GMR 2012):
//!
//! - level detection: a mean-square (RMS) detector on the mean of the channels' squares (one
//!   detector for all channels: linked, so the stereo image does not move), one-pole
//!   smoothing `ms += (1 - exp(-1 / (tau fs))) (x^2 - ms)` (GMR 2012 sec. 3.1, eq. 7 applied to
//!   the square), in dB;
//! - gain computer with a quadratic soft knee (GMR 2012 eq. 4);
//! - gain smoothing in the log domain after the gain computer (GMR 2012 fig. 7 "log domain,
//!   decoupled") with the smooth branching peak detector (GMR 2012 eq. 17), run twice:
//!   a fast one (attack, `release_ms`) and a slow one (10 x attack, `release_slow_ms`). The
//!   applied reduction is the larger of the two: after a short transient the fast detector
//!   releases quickly down to the slow one, while sustained reduction releases slowly. This is
//!   the dual-time-constant, programme-dependent release of GMR 2012 sec. 3.3 ("the release
//!   time becomes program dependent").
//!
//! The mean-square detector runs at the sample rate; the gain computer and the gain smoothing
//! run once per [`CONTROL_FRAMES`] frames (0.18 ms at 44.1 kHz; the chain's attack is 30 ms;
//! shorter blocks for time constants under 20 blocks, see [`control_frames`])
//! with the smoothing poles raised to that step, and the applied gain is interpolated linearly
//! between control values. One logarithm and one exponential per control value instead of per
//! sample; a steady level gets exactly the same gain, and on 5 ms attacks the gain stays within
//! 0.1 dB of the per-sample design (tested).
//!
//! No makeup gain: the loudness stage of the chain sets the level afterwards.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::units::{db_to_gain, power_to_db};

/// Frames per control value: the gain computer and the gain smoothing run once per block
/// (fewer when a time constant is shorter than 20 blocks, see [`control_frames`]).
pub const CONTROL_FRAMES: usize = 8;

/// Frames per control block for `settings` at a rate: [`CONTROL_FRAMES`], or fewer so that a
/// block stays within 1/20 of the attack and of the detector's time constant (1 frame, the
/// per-sample design, for the shortest settings).
pub fn control_frames(settings: &CompressorSettings, sample_rate_hz: u32) -> usize {
    let shortest = settings.attack_ms.min(settings.rms_ms) / 1000.0 * f64::from(sample_rate_hz);
    ((shortest / 20.0).floor() as usize).clamp(1, CONTROL_FRAMES)
}

/// Compressor parameters. Levels are mean-square levels of the linked channels in dBFS
/// (a full-scale sine reads -3.01 dB).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompressorSettings {
    pub threshold_db: f64,
    pub ratio: f64,
    pub knee_db: f64,
    pub attack_ms: f64,
    /// Release of the fast detector.
    pub release_ms: f64,
    /// Release of the slow detector (its attack is 10 x `attack_ms`).
    pub release_slow_ms: f64,
    /// Time constant of the mean-square detector.
    pub rms_ms: f64,
    /// 0..=1, scales the gain reduction in dB; 0 bypasses (the output is the input, bit for
    /// bit).
    pub amount: f64,
    /// Hop of the gain-reduction curve in the report.
    pub curve_hop_s: f64,
}

impl Default for CompressorSettings {
    fn default() -> Self {
        Self {
            threshold_db: -20.0,
            ratio: 2.0,
            knee_db: 6.0,
            attack_ms: 20.0,
            release_ms: 150.0,
            release_slow_ms: 800.0,
            rms_ms: 20.0,
            amount: 1.0,
            curve_hop_s: 0.1,
        }
    }
}

impl CompressorSettings {
    /// The settings do nothing (ratio 1 or amount 0): the compressor is bypassed.
    pub fn is_bypass(&self) -> bool {
        self.amount == 0.0 || self.ratio == 1.0
    }

    /// Static curve: gain reduction in dB (>= 0) at a detector level (GMR 2012 eq. 4),
    /// scaled by `amount`.
    pub fn static_gain_reduction_db(&self, level_db: f64) -> f64 {
        let t = self.threshold_db;
        let r = self.ratio;
        let w = self.knee_db;
        let over = level_db - t;
        let out = if 2.0 * over < -w {
            level_db
        } else if 2.0 * over.abs() <= w && w > 0.0 {
            level_db + (1.0 / r - 1.0) * (over + w / 2.0).powi(2) / (2.0 * w)
        } else {
            t + over / r
        };
        (level_db - out).max(0.0) * self.amount
    }

    fn check(&self) -> Result<()> {
        let ok = self.threshold_db.is_finite()
            && (1.0..=20.0).contains(&self.ratio)
            && (0.0..=24.0).contains(&self.knee_db)
            && (0.1..=500.0).contains(&self.attack_ms)
            && (1.0..=5_000.0).contains(&self.release_ms)
            && (1.0..=20_000.0).contains(&self.release_slow_ms)
            && (0.1..=1_000.0).contains(&self.rms_ms)
            && (0.0..=1.0).contains(&self.amount)
            && self.curve_hop_s > 0.0
            && self.curve_hop_s.is_finite();
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidSetting(format!(
                "compressor: threshold {} dB, ratio {} (1..=20), knee {} dB (0..=24), attack {} ms, \
                 release {} ms, slow release {} ms, rms {} ms, amount {} (0..=1)",
                self.threshold_db,
                self.ratio,
                self.knee_db,
                self.attack_ms,
                self.release_ms,
                self.release_slow_ms,
                self.rms_ms,
                self.amount
            )))
        }
    }
}

/// What the compressor did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompressorReport {
    pub applied: bool,
    pub settings: CompressorSettings,
    /// Gain reduction averaged over all frames, dB (>= 0).
    pub avg_gain_reduction_db: f64,
    pub max_gain_reduction_db: f64,
    /// Mean gain reduction in each hop of `curve_hop_s`, dB.
    pub gain_reduction_curve_db: Vec<f32>,
    pub curve_hop_s: f64,
}

/// One-pole coefficient `exp(-1 / (tau fs))` (GMR 2012 eq. 7).
fn pole(time_ms: f64, sample_rate_hz: u32) -> f64 {
    (-1.0 / (time_ms / 1000.0 * f64::from(sample_rate_hz))).exp()
}

/// Compresses `channels` in place with one gain for all channels.
pub fn compress(
    channels: &mut [Vec<f32>],
    sample_rate_hz: u32,
    settings: &CompressorSettings,
) -> Result<CompressorReport> {
    settings.check()?;
    let frames = channels.first().map_or(0, Vec::len);
    let hop = ((settings.curve_hop_s * f64::from(sample_rate_hz)).round() as usize).max(1);
    let curve_hop_s = hop as f64 / f64::from(sample_rate_hz);
    if settings.is_bypass() || frames == 0 {
        return Ok(CompressorReport {
            applied: false,
            settings: settings.clone(),
            avg_gain_reduction_db: 0.0,
            max_gain_reduction_db: 0.0,
            gain_reduction_curve_db: vec![0.0; frames.div_ceil(hop)],
            curve_hop_s,
        });
    }
    let n_ch = channels.len() as f64;
    let ms_coeff = 1.0 - pole(settings.rms_ms, sample_rate_hz);
    // The smoothing runs once per control block: its poles are the per-frame poles to the
    // power of the block length.
    let control = control_frames(settings, sample_rate_hz);
    let control_pole = |ms: f64| pole(ms, sample_rate_hz).powi(control as i32);
    let fast_attack = control_pole(settings.attack_ms);
    let fast_release = control_pole(settings.release_ms);
    let slow_attack = control_pole(10.0 * settings.attack_ms);
    let slow_release = control_pole(settings.release_slow_ms);
    // GMR 2012 eq. 17: smooth branching peak detector.
    let branch = |y: f64, x: f64, attack: f64, release: f64| -> f64 {
        if x > y {
            attack * y + (1.0 - attack) * x
        } else {
            release * y + (1.0 - release) * x
        }
    };

    // Mean-square detector per frame; gain computer and smoothing per control block.
    let blocks = frames.div_ceil(control);
    let mut ms = 0.0f64;
    let mut fast = 0.0f64;
    let mut slow = 0.0f64;
    let mut block_reduction_db = Vec::with_capacity(blocks);
    for b in 0..blocks {
        let end = ((b + 1) * control).min(frames);
        for f in b * control..end {
            let mut sq = 0.0f64;
            for c in channels.iter() {
                let x = f64::from(c[f]);
                sq += x * x;
            }
            ms += ms_coeff * (sq / n_ch - ms);
        }
        let level_db = power_to_db(ms + 1e-20);
        let target = settings.static_gain_reduction_db(level_db);
        fast = branch(fast, target, fast_attack, fast_release);
        slow = branch(slow, target, slow_attack, slow_release);
        block_reduction_db.push(fast.max(slow) as f32);
    }
    // Gain at the end of each block; linear in between, from 1 (no reduction) before the first.
    let block_gain: Vec<f64> = block_reduction_db
        .iter()
        .map(|&gr| db_to_gain(-f64::from(gr)))
        .collect();
    channels.par_iter_mut().for_each(|c| {
        let mut previous = 1.0f64;
        for (block, &g) in c.chunks_mut(control).zip(&block_gain) {
            // (The last block may be shorter: its ramp still ends on its value.)
            let step = (g - previous) / block.len() as f64;
            for (i, s) in block.iter_mut().enumerate() {
                let gain = previous + step * (i + 1) as f64;
                *s = (f64::from(*s) * gain) as f32;
            }
            previous = g;
        }
    });

    // The report's curve: mean reduction per hop, each frame counted with its block's value
    // (a block's frames in one hop: its value times their number).
    let mut curve = Vec::with_capacity(frames.div_ceil(hop));
    let mut total = 0.0f64;
    for start in (0..frames).step_by(hop) {
        let end = (start + hop).min(frames);
        let mut sum = 0.0f64;
        let mut f = start;
        while f < end {
            let b = f / control;
            let next = ((b + 1) * control).min(end);
            sum += f64::from(block_reduction_db[b]) * (next - f) as f64;
            f = next;
        }
        total += sum;
        curve.push((sum / (end - start) as f64) as f32);
    }
    let max_gr = block_reduction_db
        .iter()
        .fold(0.0f64, |a, &b| a.max(f64::from(b)));
    Ok(CompressorReport {
        applied: true,
        settings: settings.clone(),
        avg_gain_reduction_db: total / frames as f64,
        max_gain_reduction_db: max_gr,
        gain_reduction_curve_db: curve,
        curve_hop_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::gain_to_db;

    #[test]
    fn static_curve_known_points() {
        let s = CompressorSettings {
            threshold_db: -20.0,
            ratio: 4.0,
            knee_db: 6.0,
            ..CompressorSettings::default()
        };
        // Below the knee: nothing. Above: (x - T)(1 - 1/R). At the threshold, inside the knee:
        // (1/R - 1)(W/2)^2 / (2W) = 0.75 * 9 / 12 = 0.5625 dB.
        assert_eq!(s.static_gain_reduction_db(-30.0), 0.0);
        assert!((s.static_gain_reduction_db(-10.0) - 7.5).abs() < 1e-12);
        assert!((s.static_gain_reduction_db(-20.0) - 0.5625).abs() < 1e-12);
        // Continuous at the knee's edges (GMR 2012: the knee joins both lines).
        let top = s.static_gain_reduction_db(-17.0);
        assert!((top - 3.0 * 0.75).abs() < 1e-12);
    }

    #[test]
    fn short_time_constants_get_short_control_blocks() {
        let fs = 44_100;
        let chain = CompressorSettings {
            attack_ms: 30.0,
            rms_ms: 50.0,
            ..CompressorSettings::default()
        };
        assert_eq!(control_frames(&chain, fs), CONTROL_FRAMES);
        let fast = CompressorSettings {
            attack_ms: 1.0,
            ..chain.clone()
        };
        assert_eq!(control_frames(&fast, fs), 2);
        let fastest = CompressorSettings {
            attack_ms: 0.1,
            rms_ms: 0.1,
            ..chain
        };
        assert_eq!(control_frames(&fastest, fs), 1);
        // At one frame per block the compressor is the per-sample design.
        let x: Vec<f32> = (0..4_410)
            .map(|i| {
                if (1_000..2_000).contains(&i) {
                    0.9
                } else {
                    0.01
                }
            })
            .collect();
        let s = CompressorSettings {
            threshold_db: -20.0,
            ratio: 4.0,
            ..fastest
        };
        let reference = per_sample_gain_db(&x, fs, &s);
        let mut ch = vec![x.clone()];
        compress(&mut ch, fs, &s).unwrap();
        for (i, (&y, &v)) in ch[0].iter().zip(&x).enumerate() {
            let applied = gain_to_db(f64::from(y) / f64::from(v));
            assert!(
                (applied - reference[i]).abs() < 1e-4,
                "frame {i}: {applied} vs {}",
                reference[i]
            );
        }
    }

    #[test]
    fn silence_stays_silent() {
        let mut ch = vec![vec![0.0f32; 4_410]; 2];
        let r = compress(&mut ch, 44_100, &CompressorSettings::default()).unwrap();
        assert!(ch.iter().all(|c| c.iter().all(|&s| s == 0.0)));
        assert_eq!(r.max_gain_reduction_db, 0.0);
    }

    /// The per-sample form of the same design (gain computer and smoothing every frame).
    fn per_sample_gain_db(x: &[f32], fs: u32, s: &CompressorSettings) -> Vec<f64> {
        let ms_coeff = 1.0 - pole(s.rms_ms, fs);
        let p = |t: f64| pole(t, fs);
        let (fa, fr, sa, sr) = (
            p(s.attack_ms),
            p(s.release_ms),
            p(10.0 * s.attack_ms),
            p(s.release_slow_ms),
        );
        let branch = |y: f64, x: f64, a: f64, r: f64| {
            let c = if x > y { a } else { r };
            c * y + (1.0 - c) * x
        };
        let (mut ms, mut fast, mut slow) = (0.0f64, 0.0f64, 0.0f64);
        x.iter()
            .map(|&v| {
                ms += ms_coeff * (f64::from(v) * f64::from(v) - ms);
                let target = s.static_gain_reduction_db(power_to_db(ms + 1e-20));
                fast = branch(fast, target, fa, fr);
                slow = branch(slow, target, sa, sr);
                -fast.max(slow)
            })
            .collect()
    }

    #[test]
    fn control_rate_gain_follows_the_per_sample_design() {
        // Tone bursts stepping 0 -> -30 -> -6 -> -20 dBFS, 0.5 s each: attack and release.
        let fs = 44_100u32;
        let levels = [-30.0, -6.0, -20.0, -3.0, -30.0];
        let x: Vec<f32> = (0..levels.len() * fs as usize / 2)
            .map(|i| {
                let a = db_to_gain(levels[i / (fs as usize / 2)]);
                (a * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(fs)).sin()) as f32
            })
            .collect();
        let s = CompressorSettings {
            threshold_db: -24.0,
            ratio: 4.0,
            attack_ms: 5.0,
            release_ms: 80.0,
            rms_ms: 10.0,
            ..CompressorSettings::default()
        };
        let reference = per_sample_gain_db(&x, fs, &s);
        let mut ch = vec![x.clone()];
        compress(&mut ch, fs, &s).unwrap();
        let mut worst = 0.0f64;
        let mut most = 0.0f64;
        for (i, (&y, &v)) in ch[0].iter().zip(&x).enumerate() {
            if v.abs() > 1e-3 {
                let applied = gain_to_db(f64::from(y) / f64::from(v));
                worst = worst.max((applied - reference[i]).abs());
                most = most.max(-reference[i]);
            }
        }
        eprintln!("control-rate vs per-sample gain: worst {worst:.4} dB (up to {most:.1} dB of reduction)");
        assert!(
            most > 10.0,
            "the test signal must be compressed hard: {most}"
        );
        assert!(
            worst < 0.1,
            "control-rate gain is {worst} dB off the per-sample design"
        );
    }
}
