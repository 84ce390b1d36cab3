//! The render chain: matched EQ (mid/side) -> compressor -> width -> loudness gain -> limiter.
//!
//! [`render`] reads the mix's [`Features`] and the [`Targets`] and decides every setting:
//!
//! - **EQ**: per band, target minus mix (`mid_db - mid_norm_db`, the same for side),
//!   conditioned by [`eq::condition_band_gains`] and scaled by `amount * eq_amount`. The side
//!   curve keeps its shape but takes the mid curve's mean level (over 100 Hz..8 kHz): the
//!   side/mid balance is the width stage's job, bounded there. Mono bass: the side EQ also
//!   high-passes below `targets.mono_bass_below_hz`.
//! - **Compressor**: only when the mix's short-term loudness spread (p95 - p10) exceeds the
//!   target's. Threshold and ratio come from the short-term level distribution of the EQ'd
//!   signal: compressing the part above a threshold `T` by a ratio `R` turns a spread
//!   `S = p95 - p10` into `(T - p10) + (p95 - T) / R`; `T` is tried at p50, halfway to p10,
//!   and at p10, and `R` is solved for and bounded to 1..=4.
//! - **Width**: side gain `target width - measured width` (side over mid energy, dB, measured
//!   after the EQ and compressor), bounded to +-6 dB, scaled by `amount`.
//! - **Loudness**: gain to the target integrated loudness (ITU-R BS.1770-4 via `ebur128`), then
//!   the limiter, then measure and correct (secant steps) until within
//!   `loudness_tolerance_lu` or `max_passes`; never more than 12 dB of limiting.
//!   Without the limiter, the gain stops where the true peak meets the ceiling.
//!   The limiter's gain, the same on both channels, weighs moments of different width
//!   differently and so moves the width (by up to 0.3 dB at 2.5-4.5 dB of limiting): a pass
//!   whose output misses the width stage's result by more than [`WIDTH_HOLD_TOLERANCE_DB`]
//!   corrects the side of its input and is run again.
//!
//! Determinism: the EQ's blocks and the channels run in parallel with fixed boundaries, every
//! sum runs in a fixed order: the output does not depend on the thread count.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use rayon::prelude::*;
use serde::Serialize;

use super::compressor::{compress, CompressorReport, CompressorSettings};
use super::eq::{self, EqLimits, MatchedEq, NO_CONTENT_BELOW_DB};
use super::kweight::KWeighted;
use super::limiter::{
    detector_peaks, gain_curve_coarse_segments, gain_curve_over, limit_scaled_measuring,
    output_true_peak, skip_threshold, DetectorPeaks, LimiterReport, LimiterSettings, PackedPeaks,
    COARSE_FRAMES,
};
use super::oversample::BLOCK_FRAMES;
use crate::analysis::{spectrum, Features};
use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::targets::Targets;
use crate::units::{db_to_gain, gain_to_db, power_to_db};

/// Input is digital silence: output is silence, nothing else was done.
pub const W_SILENCE: &str = "W_SILENCE";
/// The target loudness needs more than [`MAX_LIMITING_DB`] of limiting: the gain was held
/// there and the output is quieter than the target.
pub const W_LIMIT_EXTREME: &str = "W_LIMIT_EXTREME";
/// The loudness passes ended without reaching the target within the tolerance.
pub const W_LOUDNESS_NOT_REACHED: &str = "W_LOUDNESS_NOT_REACHED";
/// Limiter off: the true-peak ceiling kept the gain below the loudness target.
pub const W_CEILING_LIMITS_LOUDNESS: &str = "W_CEILING_LIMITS_LOUDNESS";
/// The final true-peak check found an overshoot and trimmed the output.
pub const W_SAFETY_TRIM: &str = "W_SAFETY_TRIM";
/// A width change was asked for a mono input: nothing to widen.
pub const W_MONO_NO_WIDTH: &str = "W_MONO_NO_WIDTH";
/// The audio is too short for the short-term statistics the compressor needs: not compressed.
pub const W_TOO_SHORT_FOR_COMPRESSION: &str = "W_TOO_SHORT_FOR_COMPRESSION";

/// The compressor stays off when the mix's short-term loudness spread (95th - 10th percentile)
/// is at most this much above the target's, LU: less is inaudible as a change of dynamics.
pub const COMPRESSION_TOLERANCE_LU: f64 = 0.5;
/// Safety trims smaller than this, dB, are not worth a warning: they are the f32 rounding of
/// the gain and the detector's last hundredth of a dB, inaudible.
pub const SAFETY_TRIM_WARN_DB: f64 = 0.05;
/// The input had a DC offset that matters (over [`DC_OFFSET_LIMIT`] in a channel): removed.
pub const W_DC_OFFSET: &str = "W_DC_OFFSET";

/// A steady channel mean over this (-60 dBFS) is a DC offset worth removing: it costs headroom
/// and makes clicks at edits. Under it, the input passes unchanged (see `dc_offsets`).
pub const DC_OFFSET_LIMIT: f64 = 1e-3;
/// Corner of the DC-removing high-pass: a 2nd-order Butterworth run forwards and backwards
/// (zero phase, 4th-order slope): -0.53 dB at 10 Hz, -0.03 dB at 20 Hz.
pub const DC_HIGHPASS_HZ: f64 = 5.0;

/// Most limiting the loudness stage will ask for, dB of gain reduction at the highest peak.
pub const MAX_LIMITING_DB: f64 = 12.0;
/// Bounds of the width stage's side gain.
pub const MAX_WIDTH_CHANGE_DB: f64 = 6.0;
/// Highest compressor ratio the chain picks.
pub const MAX_RATIO: f64 = 4.0;
/// Points of the dense EQ curve in the log.
pub const DENSE_CURVE_POINTS: usize = 200;

/// How hard the renderer works toward the targets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RenderSettings {
    /// 0..=1: scales EQ, compression and width together (0 = loudness and limiting only).
    pub amount: f64,
    /// 0..=1: scales the EQ on top of `amount`.
    pub eq_amount: f64,
    /// Use the true-peak limiter; without it the ceiling is met by lowering the gain.
    pub limiter: bool,
    pub max_boost_db: f64,
    pub max_cut_db: f64,
    /// The loudness passes stop within this distance of the target.
    pub loudness_tolerance_lu: f64,
    /// Most loudness/limiter passes.
    pub max_passes: usize,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            amount: 1.0,
            eq_amount: 1.0,
            limiter: true,
            max_boost_db: 12.0,
            max_cut_db: 12.0,
            loudness_tolerance_lu: 0.1,
            max_passes: 4,
        }
    }
}

impl RenderSettings {
    fn check(&self) -> Result<()> {
        let ok = (0.0..=1.0).contains(&self.amount)
            && (0.0..=1.0).contains(&self.eq_amount)
            && (0.0..=24.0).contains(&self.max_boost_db)
            && (0.0..=48.0).contains(&self.max_cut_db)
            && (0.01..=3.0).contains(&self.loudness_tolerance_lu)
            && (1..=20).contains(&self.max_passes);
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidSetting(format!(
                "render: amount {} (0..=1), eq_amount {} (0..=1), max boost {} dB (0..=24), \
                 max cut {} dB (0..=48), loudness tolerance {} LU (0.01..=3), passes {} (1..=20)",
                self.amount,
                self.eq_amount,
                self.max_boost_db,
                self.max_cut_db,
                self.loudness_tolerance_lu,
                self.max_passes
            )))
        }
    }
}

/// The mastered audio and what was done to it.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub audio: AudioBuffer,
    pub log: RenderLog,
}

/// Everything a report needs to say what the renderer did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RenderLog {
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub frames: usize,
    pub settings: RenderSettings,
    pub eq: EqLog,
    pub compressor: CompressorReport,
    pub width: WidthLog,
    pub loudness: LoudnessLog,
    /// `None` when the limiter is off or nothing was rendered (silence).
    pub limiter: Option<LimiterReport>,
    /// Stable codes (`W_*` constants of this module), each followed by `": "` and details.
    pub warnings: Vec<String>,
}

/// The applied EQ curves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EqLog {
    pub center_hz: Vec<f64>,
    /// Gain applied to mid at each centre, dB.
    pub mid_gain_db: Vec<f64>,
    /// Gain applied to side at each centre, dB (without the mono-bass high-pass).
    pub side_gain_db: Vec<f64>,
    /// Log-spaced 20 Hz..20 kHz.
    pub dense_freq_hz: Vec<f64>,
    pub dense_mid_db: Vec<f64>,
    /// Includes the mono-bass high-pass.
    pub dense_side_db: Vec<f64>,
    /// FIR length (linear phase; its delay is compensated).
    pub fir_taps: usize,
}

/// The width stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WidthLog {
    /// Side over mid energy before the width stage (after EQ and compressor), dB.
    pub measured_width_db: f64,
    pub target_width_db: f64,
    pub side_gain_db: f64,
    /// Side over mid energy of the output, dB (measured beside the limiter's final check).
    pub output_width_db: f64,
    pub mono_bass_below_hz: Option<f64>,
}

/// The loudness stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoudnessLog {
    pub target_integrated_lufs: f64,
    /// Before the loudness gain (after EQ, compressor, width).
    pub input_integrated_lufs: f64,
    pub gain_db: f64,
    pub passes: usize,
    pub achieved_integrated_lufs: f64,
    pub achieved_true_peak_dbtp: f64,
    pub ceiling_dbtp: f64,
}

/// Renders without progress reports; see [`render_with_progress`].
pub fn render(
    audio: &AudioBuffer,
    mix: &Features,
    targets: &Targets,
    settings: &RenderSettings,
) -> Result<Rendered> {
    render_with_progress(audio, mix, targets, settings, &|_| {})
}

/// Renders `audio` toward `targets`. `progress` receives 0..=1 as the stages finish.
pub fn render_with_progress(
    audio: &AudioBuffer,
    mix: &Features,
    targets: &Targets,
    settings: &RenderSettings,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Rendered> {
    render_input(Cow::Borrowed(audio), mix, targets, settings, progress)
}

/// [`render_with_progress`] of a mix that the caller no longer needs: its buffers become the
/// mid and side signals in place and are freed once the EQ has made its own, so the input does
/// not stay in memory through the loudness stage (a 4-minute stereo mix is 85 MB). The same
/// output bits as [`render_with_progress`].
pub fn render_owned_with_progress(
    audio: AudioBuffer,
    mix: &Features,
    targets: &Targets,
    settings: &RenderSettings,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Rendered> {
    render_input(Cow::Owned(audio), mix, targets, settings, progress)
}

fn render_input(
    audio: Cow<'_, AudioBuffer>,
    mix: &Features,
    targets: &Targets,
    settings: &RenderSettings,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<Rendered> {
    settings.check()?;
    check_inputs(mix, targets)?;
    crate::analysis::check_measurable(&audio)?;
    // Per frame (the channels are in the figure).
    crate::audio::check_memory(
        audio.frames() as u64,
        1,
        audio.sample_rate_hz,
        crate::audio::render_bytes_per_frame(
            audio.num_channels(),
            matches!(audio, Cow::Borrowed(_)),
        ),
        "mastering",
    )?;
    let mut warnings = Vec::new();
    let offsets = dc_offsets(&audio);
    let audio = if offsets.iter().any(|d| d.abs() > DC_OFFSET_LIMIT) {
        let listed: Vec<String> = offsets.iter().map(|d| format!("{d:+.4}")).collect();
        warnings.push(format!(
            "{W_DC_OFFSET}: the input had a DC offset ({} of full scale, by channel); removed \
             (mean subtracted, {DC_HIGHPASS_HZ} Hz zero-phase high-pass)",
            listed.join(", ")
        ));
        Cow::Owned(remove_dc(&audio, &offsets))
    } else {
        audio
    };
    audio.stereo_pair()?;
    let fs = audio.sample_rate_hz;
    let mono = audio.num_channels() == 1;
    let (num_channels, frames) = (audio.num_channels(), audio.frames());
    if audio.duration_s() < 0.4 {
        return Err(Error::TooShort {
            duration_s: audio.duration_s(),
        });
    }
    let mono_bass_below_hz = if mono {
        None
    } else {
        targets
            .mono_bass_below_hz
            .filter(|&f| f > 0.0 && f < f64::from(fs) / 2.0)
    };
    if audio.is_silent() {
        warnings.push(format!("{W_SILENCE}: the input is digital silence"));
        progress(1.0);
        let log = silent_log(&audio, targets, settings, warnings, mono_bass_below_hz);
        return Ok(Rendered {
            audio: audio.into_owned(),
            log,
        });
    }

    // EQ, mid/side.
    let (mid_eq, side_eq) = design_eqs(mix, targets, settings, fs, mono, mono_bass_below_hz)?;
    let (mid_in, side_in) = mid_side(audio);
    // One signal after the other (each filter runs its blocks in parallel), each input freed
    // once filtered: three full-length buffers at a time, not four.
    let mid = mid_eq.process(&mid_in);
    drop(mid_in);
    let side = if mono {
        Vec::new()
    } else {
        side_eq.process(&side_in)
    };
    drop(side_in);
    progress(0.25);
    crate::timing::mark("render: eq");

    // Compressor on left/right (linked). Every full-length buffer is dropped as soon as the
    // next stage has its own: a 4-minute stereo f32 buffer is 85 MB.
    let mut channels = if mono {
        vec![mid]
    } else {
        // In place: the mid buffer becomes left, the side buffer right.
        let (mut l, mut r) = (mid, side);
        ms_to_lr_in_place(&mut l, &mut r, 1.0);
        vec![l, r]
    };
    let comp = plan_compressor(&channels, fs, mix, targets, settings, &mut warnings);
    let compressor = compress(&mut channels, fs, &comp)?;
    progress(0.4);
    crate::timing::mark("render: compressor");

    // Width.
    let width = if mono {
        if targets.width_db > -60.0 && settings.amount > 0.0 {
            warnings.push(format!(
                "{W_MONO_NO_WIDTH}: the target width is {:.1} dB but the input is mono",
                targets.width_db
            ));
        }
        WidthLog {
            measured_width_db: f64::NEG_INFINITY,
            target_width_db: targets.width_db,
            side_gain_db: 0.0,
            output_width_db: f64::NEG_INFINITY,
            mono_bass_below_hz,
        }
    } else {
        // Measured after the compressor: one gain on both channels keeps each moment's
        // side/mid ratio, but it weighs loud and quiet passages differently, and their widths
        // differ.
        let measured = width_db(&channels, fs);
        let side_gain_db = if measured.is_finite() {
            (targets.width_db - measured).clamp(-MAX_WIDTH_CHANGE_DB, MAX_WIDTH_CHANGE_DB)
                * settings.amount
        } else {
            0.0
        };
        if side_gain_db != 0.0 {
            let (l, r) = channels.split_at_mut(1);
            width_in_place(&mut l[0], &mut r[0], db_to_gain(side_gain_db));
        }
        WidthLog {
            measured_width_db: measured,
            target_width_db: targets.width_db,
            side_gain_db,
            output_width_db: f64::NEG_INFINITY,
            mono_bass_below_hz,
        }
    };
    progress(0.5);
    crate::timing::mark("render: width");

    // The width the width stage set: the limiter's gain, the same on both channels, still
    // weighs moments of different width differently, and the loudness stage holds this width.
    let width_goal_db = (!mono && width.measured_width_db.is_finite() && settings.amount > 0.0)
        .then_some(width.measured_width_db + width.side_gain_db);
    let (channels, loudness, limiter, output_width_db, width_correction_db) = loudness_stage(
        channels,
        fs,
        targets,
        settings,
        width_goal_db,
        &mut warnings,
        progress,
    )?;
    let mut width = width;
    if !mono {
        width.output_width_db = output_width_db;
        width.side_gain_db += width_correction_db;
    }
    crate::timing::mark("render: loudness stage");

    let (dense_freq_hz, dense_mid_db) = mid_eq.dense_curve(DENSE_CURVE_POINTS);
    let (_, dense_side_db) = side_eq.dense_curve(DENSE_CURVE_POINTS);
    let log = RenderLog {
        sample_rate_hz: fs,
        channels: num_channels,
        frames,
        settings: settings.clone(),
        eq: EqLog {
            center_hz: mix.spectrum.center_hz.clone(),
            mid_gain_db: mid_eq.band_gain_db().to_vec(),
            side_gain_db: side_eq.band_gain_db().to_vec(),
            dense_freq_hz,
            dense_mid_db,
            dense_side_db,
            fir_taps: mid_eq.taps().len(),
        },
        compressor,
        width,
        loudness,
        limiter,
        warnings,
    };
    let audio = AudioBuffer::new(fs, channels)?;
    crate::timing::mark("render: done");
    progress(1.0);
    Ok(Rendered { audio, log })
}

/// The mid and side signals of a mono or stereo `audio` (side empty for mono): made in place
/// in the channels of an owned buffer, which is used up; the same values either way.
fn mid_side(audio: Cow<'_, AudioBuffer>) -> (Vec<f32>, Vec<f32>) {
    let mid = |l: f32, r: f32| (0.5 * (f64::from(l) + f64::from(r))) as f32;
    let side = |l: f32, r: f32| (0.5 * (f64::from(l) - f64::from(r))) as f32;
    match audio {
        Cow::Owned(audio) => {
            let mut channels = audio.channels;
            if channels.len() == 1 {
                // mid(l, l) == l exactly (doubling and halving in f64 are exact).
                return (channels.pop().unwrap_or_default(), Vec::new());
            }
            let mut right = channels.pop().unwrap_or_default();
            let mut left = channels.pop().unwrap_or_default();
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                (*l, *r) = (mid(*l, *r), side(*l, *r));
            }
            (left, right)
        }
        Cow::Borrowed(audio) => match audio.channels.as_slice() {
            [m] => (m.clone(), Vec::new()),
            [l, r] => (
                l.iter().zip(r).map(|(&l, &r)| mid(l, r)).collect(),
                l.iter().zip(r).map(|(&l, &r)| side(l, r)).collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        },
    }
}

/// The DC offset of each channel: its mean when every second of it has a mean of that sign
/// beyond half [`DC_OFFSET_LIMIT`] (a constant offset does; the slow swings of bass and noise
/// do not hold one sign for a whole file), else 0. Files under 2 s: their mean.
fn dc_offsets(audio: &AudioBuffer) -> Vec<f64> {
    let frames = audio.frames().max(1);
    let second = audio.sample_rate_hz as usize;
    audio
        .channels
        .par_iter()
        .map(|c| {
            let mean = c.iter().map(|&s| f64::from(s)).sum::<f64>() / frames as f64;
            if c.len() < 2 * second {
                return mean;
            }
            let steady = c.chunks(second).filter(|b| b.len() == second).all(|b| {
                let m = b.iter().map(|&s| f64::from(s)).sum::<f64>() / b.len() as f64;
                m * mean.signum() > 0.5 * DC_OFFSET_LIMIT
            });
            if steady {
                mean
            } else {
                0.0
            }
        })
        .collect()
}

/// `audio` without its DC: each channel's mean subtracted (a constant offset goes exactly),
/// then a [`DC_HIGHPASS_HZ`] Butterworth high-pass forwards and backwards (zero phase) for
/// the slowly drifting rest. Channels in parallel; each pass is sequential: deterministic.
fn remove_dc(audio: &AudioBuffer, offsets: &[f64]) -> AudioBuffer {
    let hp = crate::render::biquad::Biquad::high_pass(
        DC_HIGHPASS_HZ,
        std::f64::consts::FRAC_1_SQRT_2,
        f64::from(audio.sample_rate_hz),
    );
    let channels = audio
        .channels
        .par_iter()
        .zip(offsets)
        .map(|(c, &dc)| {
            let mut x: Vec<f32> = c.iter().map(|&s| (f64::from(s) - dc) as f32).collect();
            hp.process(&mut x);
            x.reverse();
            hp.process(&mut x);
            x.reverse();
            x
        })
        .collect();
    AudioBuffer {
        sample_rate_hz: audio.sample_rate_hz,
        channels,
    }
}

fn check_inputs(mix: &Features, targets: &Targets) -> Result<()> {
    let n = mix.spectrum.center_hz.len();
    let lengths_ok = n > 1
        && mix.spectrum.mid_norm_db.len() == n
        && mix.spectrum.side_norm_db.len() == n
        && targets.center_hz.len() == n
        && targets.mid_db.len() == n
        && targets.side_db.len() == n
        && mix
            .spectrum
            .center_hz
            .iter()
            .zip(&targets.center_hz)
            .all(|(a, b)| (a - b).abs() <= 1e-6 * a.abs());
    if !lengths_ok {
        return Err(Error::InvalidSetting(format!(
            "band curves differ: the mix has {} bands ({} mid, {} side), the targets {} ({} mid, \
             {} side), or their centres differ",
            n,
            mix.spectrum.mid_norm_db.len(),
            mix.spectrum.side_norm_db.len(),
            targets.center_hz.len(),
            targets.mid_db.len(),
            targets.side_db.len()
        )));
    }
    let finite_targets = targets.integrated_lufs.is_finite()
        && targets.ceiling_dbtp.is_finite()
        && targets.ceiling_dbtp <= 0.0
        && targets.ceiling_dbtp > -60.0
        && !targets.width_db.is_nan()
        && !targets.short_term_spread_lu.is_nan();
    if !finite_targets {
        return Err(Error::InvalidSetting(format!(
            "targets: integrated {} LUFS, ceiling {} dBTP (-60..=0), width {} dB, spread {} LU",
            targets.integrated_lufs,
            targets.ceiling_dbtp,
            targets.width_db,
            targets.short_term_spread_lu
        )));
    }
    Ok(())
}

fn silent_log(
    audio: &AudioBuffer,
    targets: &Targets,
    settings: &RenderSettings,
    warnings: Vec<String>,
    mono_bass_below_hz: Option<f64>,
) -> RenderLog {
    let n = targets.center_hz.len();
    RenderLog {
        sample_rate_hz: audio.sample_rate_hz,
        channels: audio.num_channels(),
        frames: audio.frames(),
        settings: settings.clone(),
        eq: EqLog {
            center_hz: targets.center_hz.clone(),
            mid_gain_db: vec![0.0; n],
            side_gain_db: vec![0.0; n],
            dense_freq_hz: Vec::new(),
            dense_mid_db: Vec::new(),
            dense_side_db: Vec::new(),
            fir_taps: 0,
        },
        compressor: CompressorReport {
            applied: false,
            settings: CompressorSettings {
                amount: 0.0,
                ..CompressorSettings::default()
            },
            avg_gain_reduction_db: 0.0,
            max_gain_reduction_db: 0.0,
            gain_reduction_curve_db: Vec::new(),
            curve_hop_s: 0.1,
        },
        width: WidthLog {
            measured_width_db: f64::NEG_INFINITY,
            target_width_db: targets.width_db,
            side_gain_db: 0.0,
            output_width_db: f64::NEG_INFINITY,
            mono_bass_below_hz,
        },
        loudness: LoudnessLog {
            target_integrated_lufs: targets.integrated_lufs,
            input_integrated_lufs: f64::NEG_INFINITY,
            gain_db: 0.0,
            passes: 0,
            achieved_integrated_lufs: f64::NEG_INFINITY,
            achieved_true_peak_dbtp: f64::NEG_INFINITY,
            ceiling_dbtp: targets.ceiling_dbtp,
        },
        limiter: None,
        warnings,
    }
}

/// Designs the mid and side EQs (see the module docs).
fn design_eqs(
    mix: &Features,
    targets: &Targets,
    settings: &RenderSettings,
    fs: u32,
    mono: bool,
    mono_bass_below_hz: Option<f64>,
) -> Result<(MatchedEq, MatchedEq)> {
    let centers = &mix.spectrum.center_hz;
    let scale = settings.amount * settings.eq_amount;
    let mut no_boost_above_hz = f64::from(fs) / 2.0;
    for b in [mix.quality.bandwidth_hz, targets.bandwidth_hz] {
        if b.is_finite() && b > 0.0 {
            no_boost_above_hz = no_boost_above_hz.min(b);
        }
    }
    let content = |v: &[f64]| -> Vec<bool> { v.iter().map(|&x| x > NO_CONTENT_BELOW_DB).collect() };
    let limits = |mix_curve: &[f64], target_curve: &[f64]| EqLimits {
        max_boost_db: settings.max_boost_db,
        max_cut_db: settings.max_cut_db,
        no_boost_above_hz,
        mix_has_content: content(mix_curve),
        target_has_content: content(target_curve),
    };
    let raw = |t: &[f64], m: &[f64]| -> Vec<f64> { t.iter().zip(m).map(|(t, m)| t - m).collect() };

    let mid_raw = raw(&targets.mid_db, &mix.spectrum.mid_norm_db);
    let mid_limits = limits(&mix.spectrum.mid_norm_db, &targets.mid_db);
    let mid_gain: Vec<f64> = eq::condition_band_gains(centers, &mid_raw, &mid_limits)
        .into_iter()
        .map(|g| g * scale)
        .collect();

    let side_limits = limits(&mix.spectrum.side_norm_db, &targets.side_db);
    let side_has_content = side_limits.mix_has_content.iter().any(|&c| c);
    let side_gain: Vec<f64> = if mono || !side_has_content {
        vec![0.0; centers.len()]
    } else {
        let side_raw = raw(&targets.side_db, &mix.spectrum.side_norm_db);
        // Keep the side curve's shape, give it the mid curve's level (100 Hz..8 kHz, bands
        // with content in both): the width stage owns the side/mid balance.
        let band = |i: usize| {
            (100.0..=8_000.0).contains(&centers[i])
                && side_limits.mix_has_content[i]
                && side_limits.target_has_content[i]
                && mid_limits.mix_has_content[i]
                && mid_limits.target_has_content[i]
        };
        let idx: Vec<usize> = (0..centers.len()).filter(|&i| band(i)).collect();
        let offset = if idx.is_empty() {
            0.0
        } else {
            idx.iter().map(|&i| side_raw[i] - mid_raw[i]).sum::<f64>() / idx.len() as f64
        };
        let shaped: Vec<f64> = side_raw.iter().map(|g| g - offset).collect();
        eq::condition_band_gains(centers, &shaped, &side_limits)
            .into_iter()
            .map(|g| g * scale)
            .collect()
    };
    let mid_eq = MatchedEq::new(fs, centers, &mid_gain, None)?;
    let side_eq = MatchedEq::new(fs, centers, &side_gain, mono_bass_below_hz)?;
    Ok((mid_eq, side_eq))
}

/// Left/right from mid/side with a side gain, `L = M + gS`, `R = M - gS`, in place: `mid`
/// becomes left and `side` right (no new full-length buffers).
fn ms_to_lr_in_place(mid: &mut [f32], side: &mut [f32], side_gain: f64) {
    mid.par_chunks_mut(BLOCK_FRAMES)
        .zip(side.par_chunks_mut(BLOCK_FRAMES))
        .for_each(|(m, s)| {
            for (m, s) in m.iter_mut().zip(s.iter_mut()) {
                let mid = f64::from(*m);
                let side = f64::from(*s) * side_gain;
                *m = (mid + side) as f32;
                *s = (mid - side) as f32;
            }
        });
}

/// Mid `(L + R) / 2` and side `(L - R) / 2` (rounded to f32), then [`ms_to_lr_in_place`] with a side
/// gain, in place, with the same roundings as building the mid/side buffers.
fn width_in_place(left: &mut [f32], right: &mut [f32], side_gain: f64) {
    for (l, r) in left.iter_mut().zip(right.iter_mut()) {
        let (a, b) = (f64::from(*l), f64::from(*r));
        let m = f64::from((0.5 * (a + b)) as f32);
        let s = f64::from((0.5 * (a - b)) as f32) * side_gain;
        *l = (m + s) as f32;
        *r = (m - s) as f32;
    }
}

/// Side over mid energy of stereo `channels`, dB, measured as the analysis measures
/// [`crate::analysis::Stereo::width_db`] (gated long-term spectrum, 20 Hz..20 kHz), so that the
/// width stage and the targets speak the same unit. `-inf` without side or without loud frames.
pub fn width_db(channels: &[Vec<f32>], sample_rate_hz: u32) -> f64 {
    if channels.len() < 2 || channels.iter().any(|c| c.len() != channels[0].len()) {
        return f64::NEG_INFINITY;
    }
    let lts = spectrum::long_term_of_channels(channels, sample_rate_hz);
    let nyquist = f64::from(sample_rate_hz) / 2.0;
    let (mid, side) = lts.range_power(20.0, nyquist.min(20_000.0));
    if mid > 0.0 && side > 0.0 {
        power_to_db(side / mid)
    } else {
        f64::NEG_INFINITY
    }
}

/// Mean-square levels (dB, linked channels) of 3 s windows every 0.1 s, absolute-gated at
/// -70 dB: the detector-domain counterpart of the short-term loudness statistics
/// (EBU Tech 3341: short-term = 3 s).
fn short_term_levels_db(channels: &[Vec<f32>], fs: u32) -> Vec<f64> {
    let frames = channels.first().map_or(0, Vec::len);
    let window = 3 * fs as usize;
    let hop = (fs / 10) as usize;
    if frames < window {
        return Vec::new();
    }
    // Per-hop sums of squares, then windows as sums of 30 hops: fixed order, deterministic.
    let hops = frames / hop;
    let hop_energy: Vec<f64> = (0..hops)
        .into_par_iter()
        .map(|h| {
            channels
                .iter()
                .map(|c| {
                    c[h * hop..(h + 1) * hop]
                        .iter()
                        .map(|&v| f64::from(v) * f64::from(v))
                        .sum::<f64>()
                })
                .sum::<f64>()
        })
        .collect();
    let per_window = window / hop;
    let denom = (per_window * hop * channels.len()) as f64;
    hop_energy
        .windows(per_window)
        .map(|w| power_to_db(w.iter().sum::<f64>() / denom + 1e-20))
        .filter(|&db| db > -70.0)
        .collect()
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Chooses compressor settings (see the module docs); `amount` 0 when nothing is needed.
fn plan_compressor(
    channels: &[Vec<f32>],
    fs: u32,
    mix: &Features,
    targets: &Targets,
    settings: &RenderSettings,
    warnings: &mut Vec<String>,
) -> CompressorSettings {
    let mut comp = CompressorSettings {
        attack_ms: 30.0,
        release_ms: 200.0,
        release_slow_ms: 1_000.0,
        rms_ms: 50.0,
        knee_db: 6.0,
        ratio: 1.0,
        amount: 0.0,
        ..CompressorSettings::default()
    };
    let d = &mix.dynamics;
    let mix_spread = d.short_term_p95_lufs - d.short_term_p10_lufs;
    let needed_lu = mix_spread - targets.short_term_spread_lu;
    // Already as compressed as the target (or more), or no valid statistics: leave it.
    if !needed_lu.is_finite() || needed_lu <= COMPRESSION_TOLERANCE_LU || settings.amount == 0.0 {
        return comp;
    }
    let mut levels = short_term_levels_db(channels, fs);
    if levels.len() < 10 {
        warnings.push(format!(
            "{W_TOO_SHORT_FOR_COMPRESSION}: {} short-term windows (3 s) above -70 dB; at least \
             10 are needed to set a compressor",
            levels.len()
        ));
        return comp;
    }
    levels.sort_by(f64::total_cmp);
    let (p10, p50, p95) = (
        percentile(&levels, 10.0),
        percentile(&levels, 50.0),
        percentile(&levels, 95.0),
    );
    let own_spread = p95 - p10;
    let wanted = (own_spread - needed_lu).max(0.0);
    let mut chosen = None;
    for threshold in [p50, 0.5 * (p10 + p50), p10] {
        let below = threshold - p10;
        let above = p95 - threshold;
        if above <= 0.0 {
            continue;
        }
        let remaining = wanted - below;
        if remaining > 0.0 {
            let ratio = above / remaining;
            if ratio <= MAX_RATIO {
                chosen = Some((threshold, ratio.max(1.0)));
                break;
            }
        }
    }
    let (threshold_db, ratio) = chosen.unwrap_or((p10, MAX_RATIO));
    comp.threshold_db = threshold_db;
    comp.ratio = ratio;
    comp.amount = if ratio > 1.0 { settings.amount } else { 0.0 };
    comp
}

/// Integrated loudness (LUFS) of planar channels by the one meter
/// ([`crate::analysis::loudness::integrated_lufs`]).
pub fn integrated_lufs(channels: &[Vec<f32>], fs: u32) -> Result<f64> {
    let views: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    Ok(crate::analysis::loudness::integrated_lufs(&views, fs))
}

/// `channels` times `gain_db`, in place (`(x as f64 * gain) as f32`): no second full-length
/// buffer.
fn scale_in_place(channels: &mut [Vec<f32>], gain_db: f64) {
    let g = db_to_gain(gain_db);
    channels
        .par_iter_mut()
        .for_each(|c| c.iter_mut().for_each(|s| *s = (f64::from(*s) * g) as f32));
}

/// Loudness after `gain_db` and limiting, estimated from the K-weighted energy and the
/// limiter's gain curve (see [`super::kweight`]) without rendering, with that curve (`None`
/// when nothing is limited). The curve is made over the energy's buffer
/// ([`gain_curve_over`]), which it uses up (memory: no full-length buffer beside the energy,
/// the peaks and the input); a later estimate makes the energy again (`make_energy`: the same
/// values), but most searches end at their first full-rate estimate.
#[allow(clippy::too_many_arguments)]
fn estimate_lufs(
    kweighted: &RefCell<Option<KWeighted>>,
    make_energy: &dyn Fn() -> KWeighted,
    peaks: &[f32],
    peak_max: f32,
    gain_db: f64,
    threshold_db: f64,
    fs: u32,
    limiter_settings: &LimiterSettings,
) -> (f64, Option<Vec<f32>>) {
    let g = db_to_gain(gain_db);
    let mut slot = kweighted.borrow_mut();
    let kw = slot.take().unwrap_or_else(make_energy);
    if f64::from(peak_max) * g <= db_to_gain(threshold_db) {
        let lufs = kw.integrated_lufs(g, None);
        *slot = Some(kw);
        return (lufs, None);
    }
    let sums = kw.hop_sums();
    let mut curve = kw.into_energy();
    gain_curve_over(
        &mut curve,
        peaks,
        g,
        threshold_db,
        fs,
        limiter_settings,
        |start, energy, gains| sums.add(start, energy, |f| gains[f - start]),
    );
    (sums.integrated_lufs(g), Some(curve))
}

/// [`solve_gain`] with the coarse limiter curve ([`gain_curve_coarse`]) for the search, then
/// with the full-rate curve from there: usually one full-rate estimate, whose curve renders.
/// `kweighted` holds the K-weighted energy (made by `make_energy` when it does not); a
/// full-rate estimate uses it up ([`estimate_lufs`]).
#[allow(clippy::too_many_arguments)]
fn solve_two_stage(
    kweighted: &RefCell<Option<KWeighted>>,
    make_energy: &dyn Fn() -> KWeighted,
    peaks: &[f32],
    goal_lufs: f64,
    start_db: f64,
    max_gain_db: f64,
    threshold_db: f64,
    fs: u32,
    limiter_settings: &LimiterSettings,
) -> Solved {
    let peak_max = peaks.iter().fold(0.0f32, |a, &b| a.max(b));
    let coarse = {
        let mut slot = kweighted.borrow_mut();
        let kw: &KWeighted = slot.get_or_insert_with(make_energy);
        let frames = kw.energy().len();
        solve_gain(
            &|gain_db| {
                let g = db_to_gain(gain_db);
                // The coarse curve in segments, each summed into the loudness blocks as it is
                // made (memory: no curve); each block's gain held over its frames.
                let sums = kw.hop_sums();
                gain_curve_coarse_segments(
                    peaks,
                    COARSE_FRAMES,
                    g,
                    threshold_db,
                    fs,
                    limiter_settings,
                    |first, gains| {
                        let start = first * COARSE_FRAMES;
                        let end = ((first + gains.len()) * COARSE_FRAMES).min(frames);
                        sums.add(start, &kw.energy()[start..end], |f| {
                            gains[f / COARSE_FRAMES - first]
                        });
                    },
                );
                (sums.integrated_lufs(g), None)
            },
            goal_lufs,
            start_db,
            max_gain_db,
        )
    };
    let mut fine = solve_gain(
        &|g| {
            estimate_lufs(
                kweighted,
                make_energy,
                peaks,
                peak_max,
                g,
                threshold_db,
                fs,
                limiter_settings,
            )
        },
        goal_lufs,
        coarse.gain_db,
        max_gain_db,
    );
    if fine.capped && coarse.capped {
        // The coarse search saw how far beyond the cap the target lies.
        fine.wanted_db = fine.wanted_db.max(coarse.wanted_db);
    }
    fine
}

/// The limiter's detector first covers gains up to the loudness gap plus this much (limiting
/// takes loudness away, so the gain that reaches the target is above the gap).
const DETECTOR_PLAN_HEADROOM_DB: f64 = 4.0;

/// What [`solve_gain`] found.
struct Solved {
    gain_db: f64,
    /// The estimate at `gain_db`.
    estimated_lufs: f64,
    /// The target needs more than `max_gain_db`: `gain_db` is held there.
    capped: bool,
    /// The gain the search last asked for (above `max_gain_db` when capped).
    wanted_db: f64,
    /// The limiter's gain curve at `gain_db` (`None` when it does not limit).
    curve: Option<Vec<f32>>,
}

/// Most evaluations of the loudness estimate per search.
const MAX_ESTIMATES: usize = 10;
/// The search stops this close to its goal, LU: well inside any loudness tolerance.
const ESTIMATE_TOLERANCE_LU: f64 = 0.02;

/// Gain (dB, at most `max_gain_db`) at which `estimate(gain)` reaches `goal_lufs`, by secant
/// steps from `start_db`: limiting makes the slope < 1; bounded to 0.2..=1 so that a flat
/// stretch cannot throw the gain far off.
fn solve_gain(
    estimate: &dyn Fn(f64) -> (f64, Option<Vec<f32>>),
    goal_lufs: f64,
    start_db: f64,
    max_gain_db: f64,
) -> Solved {
    let mut gain_db = start_db.min(max_gain_db);
    let mut wanted_db = start_db;
    let (mut lufs, mut curve) = estimate(gain_db);
    let mut previous: Option<(f64, f64)> = None;
    for _ in 1..MAX_ESTIMATES {
        let error = goal_lufs - lufs;
        if error.abs() <= ESTIMATE_TOLERANCE_LU || !lufs.is_finite() {
            break;
        }
        let slope = match previous {
            Some((g0, a0)) if (gain_db - g0).abs() > 1e-6 => {
                ((lufs - a0) / (gain_db - g0)).clamp(0.2, 1.0)
            }
            _ => 1.0,
        };
        let next = gain_db + error / slope;
        wanted_db = next;
        if next > max_gain_db && gain_db >= max_gain_db {
            // Already at the cap and still short.
            return Solved {
                gain_db,
                estimated_lufs: lufs,
                capped: true,
                wanted_db,
                curve,
            };
        }
        previous = Some((gain_db, lufs));
        gain_db = next.min(max_gain_db);
        // The previous curve goes before the next one is made.
        drop(curve.take());
        (lufs, curve) = estimate(gain_db);
    }
    let capped = gain_db >= max_gain_db && goal_lufs - lufs > ESTIMATE_TOLERANCE_LU;
    Solved {
        gain_db,
        estimated_lufs: lufs,
        capped,
        wanted_db,
        curve,
    }
}

/// One loudness pass: its gain, the detector peaks it limited with, output, limiter report,
/// loudness (LUFS) and width (dB).
struct Pass {
    gain_db: f64,
    packed: Rc<PackedPeaks>,
    out: Vec<Vec<f32>>,
    report: LimiterReport,
    achieved: f64,
    width: f64,
}

/// The output, the log, the limiter's report, the output's width (dB, `-inf` for mono) and the
/// side gain the loudness stage added to hold the width (dB).
type LoudnessResult = (Vec<Vec<f32>>, LoudnessLog, Option<LimiterReport>, f64, f64);

/// The loudness stage holds the width stage's result within this much, dB: when the limited
/// output's width (side over mid energy) departs from it by more, the side of the limiter's
/// input is corrected by the difference and the pass is run again. Limiting by 2.5-4.5 dB moved
/// held-out masters' widths by 0.13-0.28 dB (training/E2E.md, 8 of 36 tracks over 0.1 dB),
/// enough to leave a mix's width further from its master's than the mix itself was.
pub const WIDTH_HOLD_TOLERANCE_DB: f64 = 0.05;

/// Loudness gain and limiter passes (see the module docs). With `width_goal_db` (stereo, the
/// width stage's result), a pass whose output width misses it by more than
/// [`WIDTH_HOLD_TOLERANCE_DB`] corrects the side and is repeated.
fn loudness_stage(
    mut channels: Vec<Vec<f32>>,
    fs: u32,
    targets: &Targets,
    settings: &RenderSettings,
    width_goal_db: Option<f64>,
    warnings: &mut Vec<String>,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<LoudnessResult> {
    let target = targets.integrated_lufs;
    let ceiling = targets.ceiling_dbtp;
    let limiter_settings = LimiterSettings {
        ceiling_dbtp: ceiling,
        ..LimiterSettings::default()
    };
    let threshold_db = ceiling - limiter_settings.margin_db;
    // With the limiter, the input's loudness comes from the K-weighted energy kept for the
    // estimates below, and its true peak from the limiter's detector, run at unity gain (every
    // pass scales its peaks). The detector's skip threshold must cover the highest gain a pass
    // may use, at most `threshold + MAX_LIMITING_DB - input peak`: it first covers a plan from
    // the loudness gap, and is run again for the whole range if a solve needs more.
    let mut kweighted = None;
    let mut peaks = Vec::new();
    let mut sample_peak = 0.0f32;
    let mut detector_bound_db = f64::INFINITY;
    // The detector at unity gain, exact for every gain up to `bound_db` (the frames it skips
    // stay under the threshold there); the skip level never exceeds the sample peak, so the
    // highest frame is always computed.
    let detect = |channels: &[Vec<f32>], bound_db: f64, sample_peak: f32| -> Vec<f32> {
        let skip_below =
            (skip_threshold(&limiter_settings) / db_to_gain(bound_db)).min(f64::from(sample_peak));
        let peaks = detector_peaks(channels, fs, skip_below as f32);
        crate::timing::mark("render: limiter detector");
        peaks
    };
    let (input_lufs, input_peak) = if settings.limiter {
        sample_peak = channels
            .iter()
            .flat_map(|c| c.iter())
            .fold(0.0f32, |a, &b| a.max(b.abs()));
        let kw = KWeighted::new(&channels, fs);
        crate::timing::mark("render: k-weighted energy");
        let lufs = kw.integrated_lufs(1.0, None);
        kweighted = Some(kw);
        let peak = if sample_peak > 0.0 && lufs.is_finite() {
            // The gains tried are planned from the loudness gap: most of the detector's work
            // goes to frames that the planned gains can bring near the threshold. A plan that
            // turns out short is widened below.
            // Never beyond the limiting cap: the sample peak bounds the input peak from below,
            // so this bound is at or above the cap `max_gain_db` computed below.
            let cap_bound_db = threshold_db + MAX_LIMITING_DB - gain_to_db(f64::from(sample_peak));
            detector_bound_db = (target - lufs + DETECTOR_PLAN_HEADROOM_DB).min(cap_bound_db);
            peaks = detect(&channels, detector_bound_db, sample_peak);
            f64::from(peaks.iter().fold(0.0f32, |a, &b| a.max(b)))
        } else {
            f64::from(sample_peak)
        };
        (lufs, peak)
    } else {
        (
            integrated_lufs(&channels, fs)?,
            output_true_peak(&channels, fs, ceiling)?,
        )
    };
    let input_peak_db = gain_to_db(input_peak);
    let mut log = LoudnessLog {
        target_integrated_lufs: target,
        input_integrated_lufs: input_lufs,
        gain_db: 0.0,
        passes: 0,
        achieved_integrated_lufs: input_lufs,
        achieved_true_peak_dbtp: input_peak_db,
        ceiling_dbtp: ceiling,
    };
    if input_lufs.is_nan() || input_lufs == f64::INFINITY || !input_peak.is_finite() {
        // Not reachable from measurable input (see `check_measurable`); never pass it through.
        return Err(Error::Meter(format!(
            "the processed audio measures {input_lufs} LUFS, peak {input_peak}: not measurable"
        )));
    }
    if input_lufs == f64::NEG_INFINITY || input_peak == 0.0 {
        // Everything is under the -70 LUFS gate: no level to match.
        warnings.push(format!(
            "{W_SILENCE}: the processed audio is below the -70 LUFS absolute gate; no gain applied"
        ));
        let width = width_db(&channels, fs);
        return Ok((channels, log, None, width, 0.0));
    }
    let tolerance = settings.loudness_tolerance_lu;

    if !settings.limiter {
        // 0.01 dB under the ceiling absorbs the f32 rounding of the gain.
        let max_gain_db = ceiling - input_peak_db - 0.01;
        let wanted = target - input_lufs;
        let gain_db = wanted.min(max_gain_db);
        // The input is not read again: the output is made in its buffers.
        let mut out = channels;
        scale_in_place(&mut out, gain_db);
        let achieved = integrated_lufs(&out, fs)?;
        let mut peak = output_true_peak(&out, fs, ceiling)?;
        // The input's peak was exact only near the ceiling (ebur128's further down), and
        // ffmpeg's reading may be the highest: the output's exact reading sets the last trim,
        // which is part of the logged gain.
        let mut trim_db = 0.0;
        if peak > db_to_gain(ceiling - 0.01) {
            trim_db = gain_to_db(db_to_gain(ceiling - 0.01) / peak) - 0.001;
            scale_in_place(&mut out, trim_db);
            peak *= db_to_gain(trim_db);
            if trim_db.abs() >= SAFETY_TRIM_WARN_DB {
                warnings.push(format!(
                    "{W_SAFETY_TRIM}: true peak overshoot corrected by {trim_db:.3} dB"
                ));
            }
        }
        if target - achieved > tolerance {
            warnings.push(format!(
                "{W_CEILING_LIMITS_LOUDNESS}: without the limiter the {ceiling:.1} dBTP ceiling \
                 allows {achieved:.2} LUFS, {:.2} LU under the {target:.1} LUFS target",
                target - achieved
            ));
        }
        log.gain_db = gain_db + trim_db;
        log.passes = 1;
        log.achieved_integrated_lufs = integrated_lufs(&out, fs)?;
        log.achieved_true_peak_dbtp = gain_to_db(peak);
        progress(0.95);
        let width = width_db(&out, fs);
        return Ok((out, log, None, width, 0.0));
    }

    // Limits at `gain_db`, measuring the output's loudness and width beside the limiter's
    // final true-peak check. The peaks' buffer becomes an output channel; a relimit, a
    // later pass or a pass made again unpack them (`packed`, their exact copy; the peaks
    // given are `packed.unpack()` when empty).
    let limit_at = |channels: &[Vec<f32>],
                    gain_db: f64,
                    peaks: Vec<f32>,
                    packed: &PackedPeaks,
                    curve: Option<Vec<f32>>| {
        let peaks = if peaks.is_empty() {
            packed.unpack()
        } else {
            peaks
        };
        limit_scaled_measuring(
            channels,
            db_to_gain(gain_db),
            DetectorPeaks::Owned(peaks, packed),
            curve,
            fs,
            &limiter_settings,
            |out| {
                let (lufs, width) = rayon::join(|| integrated_lufs(out, fs), || width_db(out, fs));
                Ok((lufs?, width))
            },
        )
    };
    // Highest gain whose limiting stays within MAX_LIMITING_DB at the highest peak.
    let max_gain_db = threshold_db + MAX_LIMITING_DB - input_peak_db;
    let mut gain_db = target - input_lufs;
    let mut bias = 0.0;
    let mut capped = false;
    let mut best: Option<Pass> = None;
    // The exact copy of `peaks` that outlives their buffer (see `limit_at`).
    let mut packed: Option<Rc<PackedPeaks>> = None;
    let mut width_correction_db = 0.0;
    for pass in 1..=settings.max_passes {
        // The K-weighted energy is made again for a second pass: it is dropped before each
        // limiting (memory: a full-length buffer beside the input, the peaks and the output);
        // most renders take one pass. The same values: the same filter on the same input.
        // An earlier pass's output is not kept beside this one (memory): if it stays the
        // best, it is made again below (the same bits: the same limiting of the same input).
        if let Some(b) = best.as_mut() {
            b.out = Vec::new();
        }
        if let (true, Some(p)) = (peaks.is_empty(), &packed) {
            // The last limiting used their buffer for its output.
            peaks = p.unpack();
        }
        let make_energy = || KWeighted::new(&channels, fs);
        let kw = RefCell::new(kweighted.take());
        let mut solved = solve_two_stage(
            &kw,
            &make_energy,
            &peaks,
            target - bias,
            gain_db,
            max_gain_db.min(detector_bound_db),
            threshold_db,
            fs,
            &limiter_settings,
        );
        if solved.capped && detector_bound_db < max_gain_db {
            // The plan was short: the detector for every gain the limiting cap allows.
            drop(solved.curve.take());
            detector_bound_db = max_gain_db;
            peaks = detect(&channels, detector_bound_db, sample_peak);
            packed = None;
            solved = solve_two_stage(
                &kw,
                &make_energy,
                &peaks,
                target - bias,
                solved.gain_db,
                max_gain_db,
                threshold_db,
                fs,
                &limiter_settings,
            );
        }
        crate::timing::mark("render: gain solved");
        drop(kw);
        gain_db = solved.gain_db;
        if solved.capped && !capped {
            capped = true;
            warnings.push(format!(
                "{W_LIMIT_EXTREME}: reaching {target:.1} LUFS needs about {:.1} dB of limiting; \
                 held at {MAX_LIMITING_DB:.0} dB",
                solved.wanted_db + input_peak_db - threshold_db
            ));
        }
        let pass_packed = packed
            .get_or_insert_with(|| Rc::new(PackedPeaks::pack(&peaks)))
            .clone();
        crate::timing::mark(&format!(
            "render: peaks packed ({} MB)",
            pass_packed.bytes() >> 20
        ));
        let (out, report, (achieved, width)) = limit_at(
            &channels,
            gain_db,
            std::mem::take(&mut peaks),
            &pass_packed,
            solved.curve,
        )?;
        log.passes = pass;
        crate::timing::mark("render: output loudness measured");
        progress(0.5 + 0.45 * pass as f64 / settings.max_passes as f64);
        let error = target - achieved;
        let better = best
            .as_ref()
            .is_none_or(|b| (target - b.achieved).abs() > error.abs());
        if better {
            best = Some(Pass {
                gain_db,
                packed: pass_packed,
                out,
                report,
                achieved,
                width,
            });
        }
        bias = achieved - solved.estimated_lufs;
        let width_miss_db = width_goal_db
            .map(|goal| goal - width)
            .filter(|miss| miss.is_finite() && miss.abs() > WIDTH_HOLD_TOLERANCE_DB);
        let loudness_done =
            error.abs() <= tolerance || (capped && error > 0.0) || !achieved.is_finite();
        match width_miss_db {
            Some(miss) if pass < settings.max_passes && achieved.is_finite() => {
                // The side of the limiter's input moves by the miss; its peaks and K-weighted
                // energy are measured again, and the next pass supersedes this one.
                {
                    let (l, r) = channels.split_at_mut(1);
                    width_in_place(&mut l[0], &mut r[0], db_to_gain(miss));
                }
                width_correction_db += miss;
                sample_peak = channels
                    .iter()
                    .flat_map(|c| c.iter())
                    .fold(0.0f32, |a, &b| a.max(b.abs()));
                peaks = detect(&channels, detector_bound_db, sample_peak);
                packed = None;
                kweighted = None;
                best = None;
            }
            _ if loudness_done => break,
            _ => {}
        }
    }
    let Pass {
        gain_db,
        out,
        report,
        achieved,
        width,
        ..
    } = match best.expect("max_passes >= 1") {
        // A later pass came out worse: the best one again.
        Pass {
            gain_db,
            packed,
            out,
            ..
        } if out.is_empty() => {
            let (out, report, (achieved, width)) =
                limit_at(&channels, gain_db, Vec::new(), &packed, None)?;
            Pass {
                gain_db,
                packed,
                out,
                report,
                achieved,
                width,
            }
        }
        pass => pass,
    };
    if (target - achieved).abs() > tolerance && !capped {
        warnings.push(format!(
            "{W_LOUDNESS_NOT_REACHED}: {achieved:.2} LUFS after {} passes, target {target:.1} \
             LUFS +-{tolerance} LU",
            log.passes
        ));
    } else if capped && target - achieved > tolerance {
        warnings.push(format!(
            "{W_LOUDNESS_NOT_REACHED}: {achieved:.2} LUFS, {:.2} LU under the target because of \
             the limiting cap",
            target - achieved
        ));
    }
    if report.safety_trim_db.abs() >= SAFETY_TRIM_WARN_DB {
        warnings.push(format!(
            "{W_SAFETY_TRIM}: the limiter's output was trimmed by {:.3} dB to hold the ceiling",
            report.safety_trim_db
        ));
    }
    log.gain_db = gain_db;
    log.achieved_integrated_lufs = achieved;
    log.achieved_true_peak_dbtp = report.output_true_peak_dbtp;
    Ok((out, log, Some(report), width, width_correction_db))
}
