//! Look-ahead true-peak limiter, linked across channels, on whole buffers.
//!
//! Detector: the inter-sample peak of every frame from the polyphase interpolator in
//! [`super::oversample`] (4x below 88.2 kHz, 2x from 88.2 kHz; ITU-R BS.1770-4 Annex 2, with
//! parabolic refinement between the oversampled points) or, where it reads higher, from the
//! short interpolator that BS.1770 meters such as ebur128 use
//! ([`Bs1770Interpolator`], vectorised in [`crate::analysis::true_peak`]), spread
//! over a few frames on each side so that the gain is flat across the samples an inter-sample
//! peak is made of.
//!
//! Gain: the required gain `g_req = min(1, threshold / peak)` goes through a peak hold (running
//! minimum) over the look-ahead window of `L` frames, an exponential release, and two cascaded
//! moving averages of lengths `L1 + L2 = L + 1`. Every value inside the averages' window is a
//! minimum over a window that contains the frame `L - 1` ahead, so the smoothed gain is at most
//! the gain that frame needs: the attack is finished when the peak arrives, with a smooth
//! (piecewise quadratic) shape. This is the running-minimum + box-filter construction of
//! S. Sanfilippo's and G. Cabot's look-ahead limiters (see also U. Zoelzer, *DAFX*, 2nd ed.,
//! sec. 4.2.4 for look-ahead limiting); the release is the one-pole of Giannoulis, Massberg &
//! Reiss, "Digital Dynamic Range Compressor Design", JAES 60(6), 2012, eq. 7.
//!
//! The whole buffer is processed offline, so the look-ahead costs no latency: frame `n` of the
//! output is frame `n` of the input times its gain. The output's true peak is then checked by
//! two independent meters (ebur128's BS.1770 meter and the 8x [`Interpolator::reference`]).
//! If either reads above the ceiling, the limiter runs again with the margin grown by the
//! overshoot (up to 2 more times, 1 dB more margin); if that still is not enough, a constant
//! corrective trim is applied. Both are reported ([`LimiterReport::relimit_passes`],
//! [`LimiterReport::safety_trim_db`]).

use rayon::prelude::*;
use serde::Serialize;

use super::oversample::{
    detector_factor, edge_peaks_by, sliding_max_abs, Bs1770Interpolator, Interpolator,
    SwrInterpolator, BLOCK_FRAMES,
};
use crate::analysis::loudness::true_peak_per_channel;
use crate::error::{Error, Result};
use crate::units::{db_to_gain, gain_to_db};

/// How the limiter behaves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LimiterSettings {
    /// Highest true peak the output may have.
    pub ceiling_dbtp: f64,
    /// The detector aims this far under the ceiling, to absorb differences between meters.
    pub margin_db: f64,
    /// Look-ahead (= attack) time.
    pub lookahead_ms: f64,
    /// Release time constant.
    pub release_ms: f64,
    /// Hop of the gain-reduction curve in the report.
    pub curve_hop_s: f64,
}

impl Default for LimiterSettings {
    fn default() -> Self {
        Self {
            ceiling_dbtp: -1.0,
            margin_db: 0.1,
            lookahead_ms: 5.0,
            release_ms: 100.0,
            curve_hop_s: 0.1,
        }
    }
}

/// What the limiter did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LimiterReport {
    pub ceiling_dbtp: f64,
    /// Level the detector limits to: ceiling minus margin (and any margin added by
    /// re-limiting).
    pub threshold_dbtp: f64,
    pub lookahead_ms: f64,
    pub release_ms: f64,
    /// Detector oversampling factor.
    pub oversampling: usize,
    /// Largest gain reduction, dB (positive).
    pub peak_gain_reduction_db: f64,
    /// Gain reduction averaged over all frames, dB (positive).
    pub avg_gain_reduction_db: f64,
    /// Largest gain reduction in each hop of `curve_hop_s`, dB (positive).
    pub gain_reduction_curve_db: Vec<f32>,
    pub curve_hop_s: f64,
    /// Highest true peak of the output after the limiter and any trim (max of both meters).
    pub output_true_peak_dbtp: f64,
    /// Corrective gain applied after the final check (0 when none was needed), dB (<= 0).
    pub safety_trim_db: f64,
    /// Times the limiter ran again with a larger margin because the final check read over
    /// the ceiling (`threshold_dbtp` is the last threshold used).
    pub relimit_passes: usize,
}

/// Room left under the ceiling by the final check, dB: 16-bit TPDF dither adds at most 2 LSB
/// (6.1e-5), which at a -1 dBTP peak (0.89) moves it by 0.0006 dB.
const DITHER_ROOM_DB: f64 = 0.01;
/// A release within this much of unity gain ends there: half an f32 step under 1.0, where the
/// stored gain rounds to 1.0 anyway. The state then settles (see `smooth_gain_of`) about 17
/// release time constants after the last reduction, instead of the 37 that f64 needs to
/// round to 1.
const RELEASE_SNAP: f64 = 2.98e-8;
/// Most extra limiting passes after an overshoot.
const MAX_RELIMITS: usize = 2;
/// Most margin the extra passes may add, dB.
const MAX_EXTRA_MARGIN_DB: f64 = 1.0;

/// Peak-hold length `L` in frames for a look-ahead time.
pub fn lookahead_frames(sample_rate_hz: u32, lookahead_ms: f64) -> usize {
    ((lookahead_ms * f64::from(sample_rate_hz) / 1000.0).round() as usize).max(2)
}

/// Limits `channels` in place so that their true peak stays at or under the ceiling.
pub fn limit(
    channels: &mut [Vec<f32>],
    sample_rate_hz: u32,
    settings: &LimiterSettings,
) -> Result<LimiterReport> {
    check_settings(settings)?;
    let peaks = detector_peaks(channels, sample_rate_hz, skip_threshold(settings) as f32);
    // The input moves out (no copy); the output moves back in.
    let input: Vec<Vec<f32>> = channels.iter_mut().map(std::mem::take).collect();
    let result = limit_scaled(&input, 1.0, &peaks, None, sample_rate_hz, settings);
    match result {
        Ok((out, report)) => {
            for (c, o) in channels.iter_mut().zip(out) {
                *c = o;
            }
            Ok(report)
        }
        Err(e) => {
            for (c, i) in channels.iter_mut().zip(input) {
                *c = i;
            }
            Err(e)
        }
    }
}

/// Level under which the detector may skip a frame's interpolation (linear): frames more than
/// `MAX_EXTRA_MARGIN_DB + 1 dB` under the first threshold cannot need limiting in any attempt.
pub fn skip_threshold(settings: &LimiterSettings) -> f64 {
    db_to_gain(settings.ceiling_dbtp - settings.margin_db - MAX_EXTRA_MARGIN_DB - 1.0)
}

/// The limiter's detector: per frame, the largest inter-sample peak over the channels
/// (linked), spread over a few frames on each side (see the module docs). Frames that cannot
/// reach `skip_below` get an estimate under it (see [`Interpolator::frame_peaks`]).
///
/// The detector of `g * x` is `g` times the detector of `x` (up to f32 rounding): computed once
/// at unity gain with `skip_below` divided by the largest gain to be tried, it serves every
/// gain (see [`limit_scaled`]).
pub fn detector_peaks(channels: &[Vec<f32>], sample_rate_hz: u32, skip_below: f32) -> Vec<f32> {
    let interp = Interpolator::detector(sample_rate_hz);
    // BS.1770's own interpolator (ebur128's, see `Bs1770Interpolator`), vectorised for the
    // frames and scalar for the edges; none from 192 kHz on.
    let bs1770 = Bs1770Interpolator::new(sample_rate_hz);
    // Channel by channel, each in parallel blocks, into one maximum: one full-length buffer.
    let mut frame_peak = vec![0.0f32; channels.first().map_or(0, Vec::len)];
    for c in channels {
        frame_peak
            .par_chunks_mut(BLOCK_FRAMES)
            .enumerate()
            .for_each(|(b, chunk)| {
                let start = b * BLOCK_FRAMES;
                let mut own = vec![0.0f32; chunk.len()];
                interp.frame_peaks_range(c, start, &mut own, skip_below);
                // Where the detector reads the skip level or more, BS.1770's interpolator
                // too (in runs of BS1770_RUN_FRAMES frames: its value of a frame does not
                // depend on the run); the other frames stay under the skip level.
                let mut bs = Vec::new();
                if bs1770.is_some() && own.iter().any(|&p| p >= skip_below) {
                    bs = vec![0.0f32; chunk.len()];
                    for (r, run) in bs.chunks_mut(BS1770_RUN_FRAMES).enumerate() {
                        let at = r * BS1770_RUN_FRAMES;
                        if own[at..at + run.len()].iter().any(|&p| p >= skip_below) {
                            crate::analysis::true_peak::frame_peaks_range(
                                c,
                                sample_rate_hz,
                                start + at,
                                run,
                            );
                        }
                    }
                }
                for (k, (a, p)) in chunk.iter_mut().zip(own).enumerate() {
                    let p = match bs.get(k) {
                        Some(&q) if p >= skip_below => p.max(q),
                        _ => p,
                    };
                    *a = a.max(p);
                }
            });
    }
    // The file plays with silence before and after it: overshoots there (a hard start or
    // end) count for the first and last frames, whose gains scale them.
    if let Some(&first) = frame_peak.first() {
        let last = frame_peak.len() - 1;
        let (mut before, mut after) = (first, frame_peak[last]);
        for c in channels {
            let (b, a) = interp.edge_peaks(c);
            before = before.max(b);
            after = after.max(a);
            if let Some(bs) = &bs1770 {
                let (b, a) = edge_peaks_by(c, interp.half_span() + 1, |buf, frames, out| {
                    for (o, f) in out.iter_mut().zip(frames) {
                        *o = bs.frame_peak(buf, f);
                    }
                });
                before = before.max(b);
                after = after.max(a);
            }
        }
        frame_peak[0] = before;
        frame_peak[last] = frame_peak[last].max(after);
    }
    // ffmpeg's reading mirrors the samples before the first (`x[-j] = x[j]`, see
    // `SwrInterpolator`): a hard start reads up to 0.5 dB higher there than with silence
    // before it. Its first frames count here, so the limiter holds them locally instead of
    // the final check trimming the whole file.
    if let Some(swr) = SwrInterpolator::new(sample_rate_hz) {
        for c in channels {
            let head = swr.mirrored_frames().min(frame_peak.len());
            for (f, p) in frame_peak[..head].iter_mut().enumerate() {
                *p = p.max(swr.frame_peak(c, f));
            }
        }
    }
    // An inter-sample peak is a weighted sum of the samples around it: if their gains differed
    // (inside an attack ramp), the peak after the gain would not scale by the gain at its
    // frame. Spreading each frame's peak over a few frames keeps the gain flat across the
    // interpolator's main lobes; the sinc's farther tails weigh little.
    sliding_max_in_place(&mut frame_peak, spread_frames(sample_rate_hz));
    frame_peak
}

/// Frames per run of the detector's BS.1770 reading (see [`detector_peaks`]).
const BS1770_RUN_FRAMES: usize = 512;

/// The limiter's gain per frame for the input times `gain` (linear), limiting to
/// `threshold_dbtp`; `peaks` are the [`detector_peaks`] of the input at unity gain.
pub fn gain_curve(
    peaks: &[f32],
    gain: f64,
    threshold_dbtp: f64,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
) -> Vec<f32> {
    smooth_gain_of(
        peaks.len(),
        required_gain(peaks, gain, threshold_dbtp),
        sample_rate_hz,
        settings,
    )
}

/// The required gain of each frame for [`gain_curve`]: `threshold / (peak * gain)` where the
/// peak times `gain` exceeds the threshold, else 1.
fn required_gain(
    peaks: &[f32],
    gain: f64,
    threshold_dbtp: f64,
) -> impl Fn(usize) -> f32 + Sync + '_ {
    required_gain_by(|i| peaks[i], gain, threshold_dbtp)
}

/// [`required_gain`] of the peaks given by `peak(frame)`.
fn required_gain_by(
    peak: impl Fn(usize) -> f32 + Sync,
    gain: f64,
    threshold_dbtp: f64,
) -> impl Fn(usize) -> f32 + Sync {
    let threshold = db_to_gain(threshold_dbtp) as f32;
    let g = gain as f32;
    move |i| {
        let p = peak(i) * g;
        if p > threshold {
            threshold / p
        } else {
            1.0
        }
    }
}

/// [`gain_curve`] in the smoothing's own segments (the same segments, so the same values),
/// in parallel, without the whole curve: `visit(start, gains)` receives the gains of the
/// frames from `start`, every frame once. Memory: a segment's gains per thread instead of a
/// full-length curve (the chain's loudness search only sums them into its blocks).
pub fn gain_curve_segments(
    peaks: &[f32],
    gain: f64,
    threshold_dbtp: f64,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
    visit: impl Fn(usize, &[f32]) + Sync,
) {
    let required = required_gain(peaks, gain, threshold_dbtp);
    smooth_segments(peaks.len(), &required, sample_rate_hz, settings, visit);
}

/// The smoothed gains of `frames` required gains in [`smooth_gain_segmented`]'s segments, in
/// parallel, each given to `visit(start, gains)`.
fn smooth_segments(
    frames: usize,
    required: &(impl Fn(usize) -> f32 + Sync),
    sample_rate_hz: u32,
    settings: &LimiterSettings,
    visit: impl Fn(usize, &[f32]) + Sync,
) {
    let segment = segment_frames(frames, sample_rate_hz, settings, SMOOTH_SEGMENT_FRAMES);
    (0..frames.div_ceil(segment)).into_par_iter().for_each(|k| {
        let start = k * segment;
        let mut gains = vec![1.0f32; segment.min(frames - start)];
        smooth_span(
            frames,
            start,
            &mut gains,
            required,
            sample_rate_hz,
            settings,
        );
        visit(start, &gains);
    });
}

/// [`gain_curve`] made over `buffer` (as long as `peaks`), in the smoothing's segments as
/// [`gain_curve_segments`]: `visit(start, old, gains)` sees what `buffer` holds from frame
/// `start` and those frames' gains, just before the gains replace it. Memory: the curve takes
/// the place of a full-length buffer that was needed up to it (the chain's K-weighted energy,
/// which the loudness estimate reads beside the gains).
#[allow(clippy::too_many_arguments)]
pub fn gain_curve_over(
    buffer: &mut [f32],
    peaks: &[f32],
    gain: f64,
    threshold_dbtp: f64,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
    visit: impl Fn(usize, &[f32], &[f32]) + Sync,
) {
    let frames = peaks.len();
    debug_assert_eq!(buffer.len(), frames);
    let required = required_gain(peaks, gain, threshold_dbtp);
    let segment = segment_frames(frames, sample_rate_hz, settings, SMOOTH_SEGMENT_FRAMES);
    buffer
        .par_chunks_mut(segment)
        .enumerate()
        .for_each(|(k, old)| {
            let start = k * segment;
            let mut gains = vec![1.0f32; old.len()];
            smooth_span(
                frames,
                start,
                &mut gains,
                &required,
                sample_rate_hz,
                settings,
            );
            visit(start, old, &gains);
            old.copy_from_slice(&gains);
        });
}

/// [`gain_curve_coarse`] of `peaks`' blocks of `factor` frames in segments, as
/// [`gain_curve_segments`]: `visit(start, gains)` receives the gains of the blocks from block
/// `start`. Each block's largest peak is read where the smoothing needs it (as [`block_max`]
/// makes it: the same values), not kept.
pub fn gain_curve_coarse_segments(
    peaks: &[f32],
    factor: usize,
    gain: f64,
    threshold_dbtp: f64,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
    visit: impl Fn(usize, &[f32]) + Sync,
) {
    let factor = factor.max(1);
    let block_peak = |b: usize| {
        peaks[b * factor..((b + 1) * factor).min(peaks.len())]
            .iter()
            .fold(0.0f32, |a, &p| a.max(p))
    };
    let required = required_gain_by(block_peak, gain, threshold_dbtp);
    let blocks = peaks.len().div_ceil(factor);
    let block_rate = coarse_rate(factor, sample_rate_hz);
    smooth_segments(blocks, &required, block_rate, settings, visit);
}

/// The rate of [`gain_curve_coarse`]'s blocks of `factor` frames.
fn coarse_rate(factor: usize, sample_rate_hz: u32) -> u32 {
    (f64::from(sample_rate_hz) / factor.max(1) as f64)
        .round()
        .max(1.0) as u32
}

/// Frames per block of [`gain_curve_coarse`].
pub const COARSE_FRAMES: usize = 4;

/// The largest of `peaks` in each block of `factor` frames.
pub fn block_max(peaks: &[f32], factor: usize) -> Vec<f32> {
    peaks
        .chunks(factor.max(1))
        .map(|b| b.iter().fold(0.0f32, |a, &p| a.max(p)))
        .collect()
}

/// [`gain_curve`] on blocks of `factor` frames: the smoothing runs once per block on each
/// block's largest peak (`block_peaks`, from [`block_max`]), with the look-ahead and release
/// converted to blocks; one gain per block, to be held over its frames. A quarter of the work
/// at [`COARSE_FRAMES`]; for the loudness search, not for rendering.
pub fn gain_curve_coarse(
    block_peaks: &[f32],
    factor: usize,
    gain: f64,
    threshold_dbtp: f64,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
) -> Vec<f32> {
    // The block sequence is a signal at the block rate: the same smoothing, in blocks.
    let block_rate = coarse_rate(factor, sample_rate_hz);
    gain_curve(block_peaks, gain, threshold_dbtp, block_rate, settings)
}

/// Limits `input` times `gain` (linear) into a new buffer: the same as scaling a copy by
/// `gain` (`(x as f64 * gain) as f32`) and calling [`limit`], with the detector's work
/// done once: `peaks` are the [`detector_peaks`] of `input` at unity gain with a skip
/// threshold of at most [`skip_threshold`]` / gain`. `first_curve`, if given, is
/// [`gain_curve`]`(peaks, gain, ceiling - margin, ..)`, already computed by the caller.
pub fn limit_scaled(
    input: &[Vec<f32>],
    gain: f64,
    peaks: &[f32],
    first_curve: Option<Vec<f32>>,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
) -> Result<(Vec<Vec<f32>>, LimiterReport)> {
    let (out, report, ()) = limit_scaled_measuring(
        input,
        gain,
        DetectorPeaks::Borrowed(peaks),
        first_curve,
        sample_rate_hz,
        settings,
        |_| Ok(()),
    )?;
    Ok((out, report))
}

/// The [`detector_peaks`] a limiting reads.
pub enum DetectorPeaks<'a> {
    /// Kept by the caller: the output gets buffers of its own.
    Borrowed(&'a [f32]),
    /// Given up, with their packed copy: once the first gain curve is made, their buffer
    /// holds an output channel (memory: one full-length buffer fewer), and a relimit unpacks
    /// them.
    Owned(Vec<f32>, &'a PackedPeaks),
}

/// Detector peaks run-length coded, exactly: the detector's spreading ([`sliding_max`])
/// makes them runs of equal values, a few frames each. Where that would not save at least
/// half, a plain copy.
#[derive(Clone, Debug)]
pub struct PackedPeaks {
    frames: usize,
    /// Each run's value and length (at most 255 frames; longer runs are split).
    values: Vec<f32>,
    lengths: Vec<u8>,
    /// Or the peaks as they are.
    plain: Vec<f32>,
}

impl PackedPeaks {
    pub fn pack(peaks: &[f32]) -> Self {
        // Bit equality: the same f32 back (a -0.0 peak stays what it was).
        let same = |a: f32, b: f32| a.to_bits() == b.to_bits();
        // Counted first, so that the runs are allocated once, at their size.
        let mut runs = 0usize;
        let mut run = 0usize;
        for (i, &p) in peaks.iter().enumerate() {
            if i == 0 || !same(p, peaks[i - 1]) || run == usize::from(u8::MAX) {
                runs += 1;
                run = 0;
            }
            run += 1;
        }
        // A plain copy costs 4 bytes a frame; runs 5 a run.
        if runs * 5 > peaks.len() * 2 {
            return Self {
                frames: peaks.len(),
                values: Vec::new(),
                lengths: Vec::new(),
                plain: peaks.to_vec(),
            };
        }
        let mut values = Vec::with_capacity(runs);
        let mut lengths: Vec<u8> = Vec::with_capacity(runs);
        for &p in peaks {
            match (values.last(), lengths.last_mut()) {
                (Some(&v), Some(n)) if same(v, p) && *n < u8::MAX => *n += 1,
                _ => {
                    values.push(p);
                    lengths.push(1);
                }
            }
        }
        Self {
            frames: peaks.len(),
            values,
            lengths,
            plain: Vec::new(),
        }
    }

    /// The peaks again, bit for bit.
    pub fn unpack(&self) -> Vec<f32> {
        if self.plain.len() == self.frames {
            return self.plain.clone();
        }
        let mut peaks = Vec::with_capacity(self.frames);
        for (&v, &n) in self.values.iter().zip(&self.lengths) {
            peaks.extend(std::iter::repeat_n(v, usize::from(n)));
        }
        peaks
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.values.len() * 4 + self.lengths.len() + self.plain.len() * 4
    }
}

/// [`limit_scaled`], also returning `measure` of the output, run beside the final true-peak
/// check (the chain measures the output's loudness there while ebur128 reads its peak).
///
/// Memory: the gain curve's buffer becomes output channel 0 (each frame's gain is read once,
/// then overwritten by that frame's sample), and owned peaks ([`DetectorPeaks::Owned`]) become
/// channel 1: beside the input, a stereo limiting holds two full-length channels instead of
/// four. The same bits as separate buffers.
pub fn limit_scaled_measuring<T: Send>(
    input: &[Vec<f32>],
    gain: f64,
    peaks: DetectorPeaks<'_>,
    first_curve: Option<Vec<f32>>,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
    measure: impl Fn(&[Vec<f32>]) -> Result<T> + Sync,
) -> Result<(Vec<Vec<f32>>, LimiterReport, T)> {
    check_settings(settings)?;
    let frames = input.first().map_or(0, Vec::len);
    let (mut owned, borrowed, packed) = match peaks {
        DetectorPeaks::Borrowed(p) => (None, Some(p), None),
        DetectorPeaks::Owned(p, packed) => (Some(p), None, Some(packed)),
    };
    let peaks_len = borrowed.or(owned.as_deref()).map_or(0, <[f32]>::len);
    if peaks_len != frames {
        return Err(Error::InvalidSetting(format!(
            "limiter: {peaks_len} detector peaks for {frames} frames"
        )));
    }
    // The check aims DITHER_ROOM_DB under the ceiling so that 16-bit TPDF dither added when
    // encoding cannot carry a peak over it.
    let ceiling = db_to_gain(settings.ceiling_dbtp - DITHER_ROOM_DB);

    // Meters disagree on content near Nyquist (the "true" inter-sample peak there depends on
    // the interpolation filter: +-0.2 dB between 4x and 16x filters on pink noise). If the
    // final check reads over the ceiling, limit again with the margin grown by the overshoot:
    // that lowers only the peaks. A constant trim is the last resort.
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut margin_db = settings.margin_db;
    let mut attempt = 0;
    let mut first_curve = first_curve.filter(|c| c.len() == frames);
    let hop = ((settings.curve_hop_s * f64::from(sample_rate_hz)).round() as usize).max(1);
    let (stats, measured, measurement) = loop {
        // A relimit rewrites every output sample: the last attempt's buffers go first.
        channels.clear();
        let curve = match first_curve.take() {
            Some(c) if attempt == 0 => c,
            _ => {
                if owned.is_none() {
                    owned = packed.map(PackedPeaks::unpack);
                }
                let peaks = borrowed.or(owned.as_deref()).unwrap_or_default();
                gain_curve(
                    peaks,
                    gain,
                    settings.ceiling_dbtp - margin_db,
                    sample_rate_hz,
                    settings,
                )
            }
        };
        // The report's figures first: the curve's buffer becomes channel 0 below.
        let stats = reduction_stats(&curve, hop);
        let scale = |s: &mut f32, v: f32, g: f32| *s = ((f64::from(v) * gain) as f32) * g;
        // Channels 1.. in the owned peaks' buffer (no longer needed: a relimit unpacks
        // them), then new ones; each frame's gain is read before channel 0 overwrites it.
        let mut rest: Vec<Vec<f32>> = input
            .iter()
            .skip(1)
            .map(|x| match owned.take() {
                Some(p) if p.len() == x.len() => p,
                _ => vec![0.0f32; x.len()],
            })
            .collect();
        for (c, x) in rest.iter_mut().zip(&input[1..]) {
            c.par_chunks_mut(BLOCK_FRAMES)
                .zip(x.par_chunks(BLOCK_FRAMES))
                .zip(curve.par_chunks(BLOCK_FRAMES))
                .for_each(|((c, x), g)| {
                    for ((s, &v), &g) in c.iter_mut().zip(x).zip(g) {
                        scale(s, v, g);
                    }
                });
        }
        if let Some(x) = input.first() {
            let mut first = curve;
            first
                .par_chunks_mut(BLOCK_FRAMES)
                .zip(x.par_chunks(BLOCK_FRAMES))
                .for_each(|(c, x)| {
                    for (s, &v) in c.iter_mut().zip(x) {
                        let g = *s;
                        scale(s, v, g);
                    }
                });
            channels.push(first);
        }
        channels.append(&mut rest);
        // Mono: the owned peaks are not needed during the check either (memory).
        owned = None;
        let (measured, measurement) = if rayon::current_num_threads() > 1 {
            let (measured, measurement) = rayon::join(
                || output_true_peak(&channels, sample_rate_hz, settings.ceiling_dbtp),
                || measure(&channels),
            );
            (measured?, Some(measurement))
        } else {
            // One thread: nothing would run beside the check, so the output is measured after
            // it, and only if it is final (below): an attempt that is limited again, or
            // trimmed, is not measured for nothing. The same values either way.
            (
                output_true_peak(&channels, sample_rate_hz, settings.ceiling_dbtp)?,
                None,
            )
        };
        attempt += 1;
        let extra = margin_db - settings.margin_db;
        if measured <= ceiling || attempt > MAX_RELIMITS || extra >= MAX_EXTRA_MARGIN_DB {
            break (stats, measured, measurement);
        }
        // 0.01 dB beyond the overshoot: the next reading moves by about the margin change.
        margin_db = (margin_db + gain_to_db(measured / ceiling) + 0.01)
            .min(settings.margin_db + MAX_EXTRA_MARGIN_DB);
    };
    let threshold_dbtp = settings.ceiling_dbtp - margin_db;

    let mut safety_trim_db = 0.0;
    let mut output_peak = measured;
    let mut measurement = measurement;
    if measured > ceiling {
        // 0.001 dB more than the overshoot covers the f32 rounding of the multiplication.
        safety_trim_db = gain_to_db(ceiling / measured) - 0.001;
        let trim = db_to_gain(safety_trim_db) as f32;
        channels
            .par_iter_mut()
            .for_each(|c| c.iter_mut().for_each(|s| *s *= trim));
        output_peak = measured * f64::from(trim);
        measurement = Some(measure(&channels));
    }
    let measurement = measurement.unwrap_or_else(|| measure(&channels))?;
    let ReductionStats {
        max_per_hop_db,
        sum_db: sum_gr_db,
        peak_db: peak_gr_db,
    } = stats;
    let curve: Vec<f32> = max_per_hop_db
        .iter()
        .map(|&db| (db - safety_trim_db) as f32)
        .collect();
    let report = LimiterReport {
        ceiling_dbtp: settings.ceiling_dbtp,
        threshold_dbtp,
        lookahead_ms: settings.lookahead_ms,
        release_ms: settings.release_ms,
        oversampling: detector_factor(sample_rate_hz),
        peak_gain_reduction_db: peak_gr_db - safety_trim_db,
        avg_gain_reduction_db: if frames > 0 {
            sum_gr_db / frames as f64 - safety_trim_db
        } else {
            0.0
        },
        gain_reduction_curve_db: curve,
        curve_hop_s: hop as f64 / f64::from(sample_rate_hz),
        output_true_peak_dbtp: gain_to_db(output_peak),
        safety_trim_db,
        relimit_passes: attempt - 1,
    };
    Ok((channels, report, measurement))
}

/// The gain reduction figures of a limiter curve for the report.
struct ReductionStats {
    /// Largest reduction in each hop, dB (positive).
    max_per_hop_db: Vec<f64>,
    /// Sum over frames of the reduction, dB.
    sum_db: f64,
    /// Largest reduction, dB.
    peak_db: f64,
}

fn reduction_stats(gain: &[f32], hop: usize) -> ReductionStats {
    let mut sum_db = 0.0f64;
    let mut peak_db = 0.0f64;
    let mut max_per_hop_db = Vec::with_capacity(gain.len() / hop + 1);
    // The last gain and its reduction: a held gain repeats over many frames, one logarithm
    // serves them all (the same values as one logarithm per frame).
    let mut last = (1.0f32, 0.0f64);
    for block in gain.chunks(hop) {
        let min_gain = block.iter().fold(1.0f32, |a, &b| a.min(b));
        let db = -gain_to_db(f64::from(min_gain));
        max_per_hop_db.push(db);
        peak_db = peak_db.max(db);
        // Block sums in a fixed order: deterministic. Frames at unity gain add exactly 0: no
        // logarithm for them.
        sum_db += block
            .iter()
            .filter(|&&g| g != 1.0)
            .map(|&g| {
                if g.to_bits() != last.0.to_bits() {
                    last = (g, -gain_to_db(f64::from(g)));
                }
                last.1
            })
            .sum::<f64>();
    }
    ReductionStats {
        max_per_hop_db,
        sum_db,
        peak_db,
    }
}

/// Frames on each side of a peak over which the gain is held flat: 8 at 44.1/48 kHz, scaled
/// with the rate (the interpolator's support is fixed in frames, but content near a given
/// frequency spans more frames at higher rates).
fn spread_frames(sample_rate_hz: u32) -> usize {
    ((f64::from(sample_rate_hz) / 48_000.0 * 8.0).round() as usize).max(1)
}

/// [`sliding_max`] in place (memory: the detector's second full-length buffer): the same
/// blocks in parallel, each over its neighbourhood as it was, the `w` frames on each side of
/// every block boundary saved before any block is overwritten. The same values.
fn sliding_max_in_place(x: &mut [f32], w: usize) {
    let n = x.len();
    if 2 * w > BLOCK_FRAMES {
        // Neighbourhoods beyond the next block (not at audio rates): a copy.
        let out = sliding_max(x, w);
        x.copy_from_slice(&out);
        return;
    }
    // Before and after each boundary between blocks b - 1 and b, b >= 1.
    let edges: Vec<(Vec<f32>, Vec<f32>)> = (1..n.div_ceil(BLOCK_FRAMES))
        .map(|b| {
            let at = b * BLOCK_FRAMES;
            (x[at - w..at].to_vec(), x[at..(at + w).min(n)].to_vec())
        })
        .collect();
    x.par_chunks_mut(BLOCK_FRAMES)
        .enumerate()
        .for_each(|(b, chunk)| {
            let len = chunk.len();
            // padded[k] = x[k - w] as in `sliding_max`: zeros beyond the signal.
            let mut local = vec![0.0f32; len + 2 * w];
            if b > 0 {
                local[..w].copy_from_slice(&edges[b - 1].0);
            }
            local[w..w + len].copy_from_slice(chunk);
            if let Some((_, after)) = edges.get(b) {
                local[w + len..w + len + after.len()].copy_from_slice(after);
            }
            chunk.copy_from_slice(&sliding_max_abs(&local, 2 * w + 1));
        });
}

/// `out[i] = max x[i - w ..= i + w]` (clamped at the ends) of non-negative `x`: blocks in
/// parallel, each by [`sliding_max_abs`] over its zero-padded neighbourhood (zeros do not
/// change a maximum of non-negative values). Every value depends on the input only.
fn sliding_max(x: &[f32], w: usize) -> Vec<f32> {
    let n = x.len();
    let mut out = vec![0.0f32; n];
    out.par_chunks_mut(BLOCK_FRAMES)
        .enumerate()
        .for_each(|(b, chunk)| {
            let start = b * BLOCK_FRAMES;
            let end = start + chunk.len();
            // padded[k] = x[k - w]; the windows of start..end cover padded[start .. end + 2w].
            let mut local = vec![0.0f32; chunk.len() + 2 * w];
            let lo = start.saturating_sub(w);
            let hi = (end + w).min(n);
            let offset = lo + w - start;
            local[offset..offset + hi - lo].copy_from_slice(&x[lo..hi]);
            chunk.copy_from_slice(&sliding_max_abs(&local, 2 * w + 1));
        });
    out
}

fn check_settings(s: &LimiterSettings) -> Result<()> {
    let ok = s.ceiling_dbtp.is_finite()
        && s.ceiling_dbtp <= 0.0
        && s.ceiling_dbtp > -60.0
        && (0.0..=3.0).contains(&s.margin_db)
        && (0.5..=20.0).contains(&s.lookahead_ms)
        && (1.0..=5_000.0).contains(&s.release_ms)
        && s.curve_hop_s > 0.0
        && s.curve_hop_s.is_finite();
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSetting(format!(
            "limiter: ceiling {} dBTP (-60..=0), margin {} dB (0..=3), look-ahead {} ms \
             (0.5..=20), release {} ms (1..=5000), curve hop {} s",
            s.ceiling_dbtp, s.margin_db, s.lookahead_ms, s.release_ms, s.curve_hop_s
        )))
    }
}

/// Gain per frame from the required gain per frame: hold, release, two moving averages, then
/// aligned so that `gain[n] <= required[n]` for every `n` (see the module docs).
#[cfg(test)]
fn smooth_gain(required: &[f32], sample_rate_hz: u32, settings: &LimiterSettings) -> Vec<f32> {
    smooth_gain_of(required.len(), |i| required[i], sample_rate_hz, settings)
}

/// [`smooth_gain`] of `frames` required gains given by `required(frame)`.
fn smooth_gain_of(
    frames: usize,
    required: impl Fn(usize) -> f32 + Sync,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
) -> Vec<f32> {
    smooth_gain_segmented(
        frames,
        &required,
        sample_rate_hz,
        settings,
        SMOOTH_SEGMENT_FRAMES,
    )
}

/// Frames per segment of the parallel gain smoothing.
const SMOOTH_SEGMENT_FRAMES: usize = 1 << 20;
/// Release time constants run before a segment, from the rest state: the release forgets
/// where it started by `e^-20` (2e-9, under f32's resolution of a gain near 1).
const SMOOTH_WARMUP_TIME_CONSTANTS: f64 = 20.0;

/// [`smooth_gain_of`] in segments of `segment` frames, in parallel. Each segment starts
/// from the rest state `warm-up` frames early: the hold and the averages only see the last
/// look-ahead of input, and the release forgets its start by `e^-20` over
/// [`SMOOTH_WARMUP_TIME_CONSTANTS`]; so each segment matches the single pass to within f32
/// rounding, and the segments are fixed by the length, not by the thread count. Short inputs,
/// and long releases (warm-up over a quarter segment), run as one segment.
fn smooth_gain_segmented(
    frames: usize,
    required: &(impl Fn(usize) -> f32 + Sync),
    sample_rate_hz: u32,
    settings: &LimiterSettings,
    segment: usize,
) -> Vec<f32> {
    let mut gain = vec![1.0f32; frames];
    if segment_frames(frames, sample_rate_hz, settings, segment) >= frames {
        smooth_span(frames, 0, &mut gain, required, sample_rate_hz, settings);
    } else {
        gain.par_chunks_mut(segment)
            .enumerate()
            .for_each(|(k, out)| {
                smooth_span(frames, k * segment, out, required, sample_rate_hz, settings);
            });
    }
    gain
}

/// The segment length [`smooth_gain_segmented`] uses for `frames` frames: `segment`, or
/// all the frames (at least 1) in one span for short inputs and long releases (warm-up over
/// a quarter segment).
fn segment_frames(
    frames: usize,
    sample_rate_hz: u32,
    settings: &LimiterSettings,
    segment: usize,
) -> usize {
    let l = lookahead_frames(sample_rate_hz, settings.lookahead_ms);
    let release_frames = settings.release_ms / 1000.0 * f64::from(sample_rate_hz);
    let warm = (SMOOTH_WARMUP_TIME_CONSTANTS * release_frames).ceil() as usize + 2 * l + 2;
    if frames <= 2 * segment || 4 * warm > segment {
        frames.max(1)
    } else {
        segment
    }
}

/// The smoothed gain of the frames `start .. start + gain.len()` (of `frames`) into `gain`,
/// run from the rest state at stream index `start - warm-up` (or 0).
fn smooth_span(
    frames: usize,
    start: usize,
    gain: &mut [f32],
    // Generic, not `dyn`: the required gain is computed inline, twice a frame.
    required: &(impl Fn(usize) -> f32 + Sync),
    sample_rate_hz: u32,
    settings: &LimiterSettings,
) {
    let l = lookahead_frames(sample_rate_hz, settings.lookahead_ms);
    let l1 = l.div_ceil(2);
    let l2 = l - l1 + 1;
    // One-pole release on the gain reduction (Giannoulis et al. 2012 eq. 7).
    let release_coeff = (-1.0 / (settings.release_ms / 1000.0 * f64::from(sample_rate_hz))).exp();
    let req = |i: usize| -> f64 {
        if i < frames {
            f64::from(required(i))
        } else {
            1.0
        }
    };

    let release_frames = settings.release_ms / 1000.0 * f64::from(sample_rate_hz);
    let warm = (SMOOTH_WARMUP_TIME_CONSTANTS * release_frames).ceil() as usize + 2 * l + 2;
    let span = start..start + gain.len();
    // Frame f's value goes to gain[f - start] when f is in the span.
    let mut put = |f: usize, v: f32| {
        if span.contains(&f) {
            gain[f - start] = v;
        }
    };
    // Running minimum over the last `l` required gains (monotonic deque, Lemire 2006), in a
    // ring of a power of two slots (at most `l` entries are live): entries `head .. tail`,
    // entry `k` in slot `k & mask`. No wrap-around branches of `VecDeque`.
    let cap = (l + 1).next_power_of_two();
    let mask = cap - 1;
    let mut deque_frame = vec![0usize; cap];
    let mut deque_gain = vec![0.0f64; cap];
    let (mut head, mut tail) = (0usize, 0usize);
    let mut released = 1.0f64;
    let mut ring1 = vec![1.0f64; l1];
    let mut sum1 = l1 as f64;
    let mut ring2 = vec![1.0f64; l2];
    let mut sum2 = l2 as f64;
    // Ring positions `m % l1` and `m % l2`, kept as counters (no division per frame).
    let (mut i1, mut i2) = (0usize, 0usize);
    // Steps in a row with required, held and released gain all exactly 1: after `l1 + l2`
    // of them both rings hold one value each and the running sums stop changing (each step
    // adds `x - x = 0`), so the state is a fixed point while the required gain stays 1.
    let mut settled = 0usize;
    let settled_after = l1 + l2;
    // Stream index m runs over the hold's input; the smoothed value at m belongs to frame
    // m - (l - 1).
    let end = span.end + l - 1;
    let mut m = span.start.saturating_sub(warm);
    // The last `l` required gains, `reqs[i3]` for stream index m: the output of frame
    // m + 1 - l reads its required gain back from here instead of computing it again (a
    // division per frame). Frames before the stream's start are outside the span.
    let mut reqs = vec![1.0f64; l];
    let mut i3 = 0usize;
    while m < end {
        let v = req(m);
        if settled >= settled_after && v == 1.0 {
            // Fixed point: the same output as the steps below would give, without them. The
            // deque holds only the newest frame; the rings are uniform, so their positions do
            // not matter.
            let constant = ((sum2 / l2 as f64).min(1.0).clamp(0.0, 1.0)) as f32;
            let mut last = m;
            while last < end && req(last) == 1.0 {
                if last + 1 >= l {
                    put(last + 1 - l, constant);
                }
                reqs[i3] = 1.0;
                i3 = if i3 + 1 == l { 0 } else { i3 + 1 };
                last += 1;
            }
            head = 0;
            tail = 1;
            deque_frame[0] = last - 1;
            deque_gain[0] = 1.0;
            m = last;
            continue;
        }
        while tail > head && deque_gain[(tail - 1) & mask] >= v {
            tail -= 1;
        }
        deque_frame[tail & mask] = m;
        deque_gain[tail & mask] = v;
        tail += 1;
        // The newest entry (m) never expires here: the loop stops at it.
        while deque_frame[head & mask] + l <= m {
            head += 1;
        }
        let held = deque_gain[head & mask];
        released = held.min(1.0 - (1.0 - released) * release_coeff);
        if 1.0 - released < RELEASE_SNAP {
            released = 1.0;
        }
        sum1 += released - ring1[i1];
        ring1[i1] = released;
        i1 = if i1 + 1 == l1 { 0 } else { i1 + 1 };
        let avg1 = sum1 / l1 as f64;
        sum2 += avg1 - ring2[i2];
        ring2[i2] = avg1;
        i2 = if i2 + 1 == l2 { 0 } else { i2 + 1 };
        let avg2 = sum2 / l2 as f64;
        reqs[i3] = v;
        i3 = if i3 + 1 == l { 0 } else { i3 + 1 };
        if m + 1 >= l {
            let f = m + 1 - l;
            // The construction guarantees avg2 <= required[f] up to rounding of the running
            // sums; the min makes it exact. required[f] is in the slot after m's.
            put(f, (avg2.min(reqs[i3]).clamp(0.0, 1.0)) as f32);
        }
        settled = if v == 1.0 && held == 1.0 && released == 1.0 {
            settled + 1
        } else {
            0
        };
        m += 1;
    }
}

/// Highest true peak of `channels`, linear, by three readings: ebur128's meter; the 8x
/// reference interpolator (with silence before and after the file) on the frames where the 4x
/// detector reads within 1 dB of `near_dbtp` (or higher); and ffmpeg's (`ebur128=peak=true`,
/// [`SwrInterpolator`]) on those frames and their neighbours. Exact near and above
/// `near_dbtp`; well under it, ebur128's reading.
pub fn output_true_peak(channels: &[Vec<f32>], sample_rate_hz: u32, near_dbtp: f64) -> Result<f64> {
    let views: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    let detector = Interpolator::detector(sample_rate_hz);
    let reference = Interpolator::reference();
    let swr = SwrInterpolator::new(sample_rate_hz);
    // The refined 4x detector and the 8x reference differ by up to about 0.25 dB on pink noise
    // (more on full-band white noise): checking the frames within 1 dB covers it.
    let near = db_to_gain(near_dbtp - 1.0) as f32;
    let own = || {
        views
            .iter()
            .map(|c| {
                let n = c.len();
                // Blocks in parallel; the maximum does not depend on the blocking.
                (0..n.div_ceil(BLOCK_FRAMES))
                    .into_par_iter()
                    .map(|b| {
                        let (start, end) = (b * BLOCK_FRAMES, ((b + 1) * BLOCK_FRAMES).min(n));
                        // The detector two frames beyond the block on each side: a candidate
                        // frame is within one frame of a local maximum, which needs its
                        // neighbours.
                        let lo = start.saturating_sub(2);
                        let hi = (end + 2).min(n);
                        let mut coarse = vec![0.0f32; hi - lo];
                        detector.frame_peaks_range(c, lo, &mut coarse, near);
                        // The frames the detector reads near: none in most blocks of a
                        // master (under 1 % of its frames).
                        let near_frames: Vec<usize> =
                            (lo..hi).filter(|&g| coarse[g - lo] >= near).collect();
                        if near_frames.is_empty() {
                            return 0.0;
                        }
                        let at = |f: usize| coarse[f - lo];
                        let is_max = |f: usize| {
                            let p = at(f);
                            let left = if f > 0 { at(f - 1) } else { 0.0 };
                            let right = if f + 1 < n { at(f + 1) } else { 0.0 };
                            p >= near && p >= left && p >= right
                        };
                        // As masks over the block, from the near frames: `candidate[f]`, a
                        // frame within one of a local maximum of the detector (the
                        // reference's crests sit within a frame of the detector's, so it
                        // checks around them only); `near_frame[f]`, a frame within two of
                        // a near one (ffmpeg's reading: its crests need not sit at the
                        // band-limited signal's, its short filter passes some of the image).
                        let mut candidate = vec![false; end - start];
                        let mut near_frame = vec![false; end - start];
                        let mark = |mask: &mut [bool], g: usize, reach: usize| {
                            let from = g.saturating_sub(reach).max(start);
                            let to = (g + reach + 1).min(end);
                            if from < to {
                                mask[from - start..to - start].fill(true);
                            }
                        };
                        for &g in &near_frames {
                            mark(&mut near_frame, g, 2);
                            // Local maxima from one frame before the block to one after.
                            if g + 1 >= start && g <= end && is_max(g) {
                                mark(&mut candidate, g, 1);
                            }
                        }
                        let own = reference.max_peak_in(c, start, end, |f| candidate[f - start]);
                        // Only where it could reach the reference's reading of the block
                        // (the block's maximum is the same either way, to the bit).
                        let ffmpeg = swr.as_ref().map_or(0.0, |s| {
                            s.max_peak_in_above(c, start, end, |f| near_frame[f - start], own)
                        });
                        own.max(ffmpeg)
                    })
                    .reduce(|| 0.0f32, f32::max)
                    // Before the first frame and after the last: silence, as a DAC plays it.
                    .max({
                        let (before, after) = reference.edge_peaks(c);
                        before.max(after)
                    })
            })
            .fold(0.0f64, |a, b| a.max(f64::from(b)))
    };
    // ebur128's reading: its interpolator to the bit, vectorised, with the silence before and
    // after the file ([`crate::analysis::true_peak`]). Both at once; the maximum does not
    // depend on which finishes first.
    let ebu = || {
        views
            .iter()
            .map(|c| crate::analysis::true_peak::channel_true_peak(c, sample_rate_hz))
            .fold(0.0f64, |a, b| a.max(f64::from(b)))
    };
    let (ebu, own) = rayon::join(ebu, own);
    Ok(ebu.max(own))
}

/// True peak by the `ebur128` crate (BS.1770-4 Annex 2), linear, largest over channels (in
/// parallel segments, exactly as one pass: [`crate::analysis::loudness::true_peak_per_channel`]).
pub fn ebur128_true_peak(channels: &[&[f32]], sample_rate_hz: u32) -> Result<f64> {
    Ok(true_peak_per_channel(channels, sample_rate_hz)?
        .into_iter()
        .fold(0.0, f64::max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::oversample::true_peak_reference;

    #[test]
    fn smoothed_gain_never_exceeds_the_required_gain() {
        let mut required = vec![1.0f32; 2_000];
        required[500] = 0.5;
        required[501] = 0.7;
        required[1_200] = 0.9;
        let s = LimiterSettings::default();
        let g = smooth_gain(&required, 44_100, &s);
        for (f, (&a, &b)) in g.iter().zip(&required).enumerate() {
            assert!(a <= b, "frame {f}: gain {a} > required {b}");
        }
        // The attack starts a look-ahead (132 frames) before the peak and is smooth: the gain
        // 60 frames before the peak is already below 1 but above the target.
        assert!(g[440] < 1.0 && g[440] > 0.5, "{}", g[440]);
        assert_eq!(g[0], 1.0);
        // Release: one pole of 100 ms (4410 frames); 600 frames after the peak's hold ends the
        // reduction has decayed by exp(-600/4410) only: the gain is still near 0.56.
        assert!(g[1_100] < 0.6 && g[1_100] > 0.5, "{}", g[1_100]);
    }

    /// The hold, release and averages step by step, without the fixed-point shortcut.
    fn smooth_gain_step_by_step(required: &[f32], fs: u32, s: &LimiterSettings) -> Vec<f32> {
        let frames = required.len();
        let l = lookahead_frames(fs, s.lookahead_ms);
        let (l1, l2) = (l.div_ceil(2), l - l.div_ceil(2) + 1);
        let c = (-1.0 / (s.release_ms / 1000.0 * f64::from(fs))).exp();
        let req = |i: usize| {
            if i < frames {
                f64::from(required[i])
            } else {
                1.0
            }
        };
        let mut gain = vec![1.0f32; frames];
        let mut released = 1.0f64;
        let (mut ring1, mut sum1) = (vec![1.0f64; l1], l1 as f64);
        let (mut ring2, mut sum2) = (vec![1.0f64; l2], l2 as f64);
        for m in 0..frames + l - 1 {
            let held = (m.saturating_sub(l - 1)..=m)
                .map(req)
                .fold(1.0f64, f64::min);
            released = held.min(1.0 - (1.0 - released) * c);
            if 1.0 - released < RELEASE_SNAP {
                released = 1.0;
            }
            sum1 += released - ring1[m % l1];
            ring1[m % l1] = released;
            let avg1 = sum1 / l1 as f64;
            sum2 += avg1 - ring2[m % l2];
            ring2[m % l2] = avg1;
            if m + 1 >= l {
                let f = m + 1 - l;
                gain[f] = ((sum2 / l2 as f64).min(req(f)).clamp(0.0, 1.0)) as f32;
            }
        }
        gain
    }

    #[test]
    fn settled_shortcut_gives_the_step_by_step_gain() {
        // A dip, 200 000 frames of 1 (45 release time constants at 44.1 kHz: the release
        // reaches 1.0, so the shortcut engages), another dip near the end.
        let mut required = vec![1.0f32; 240_000];
        required[1_000] = 0.5;
        required[230_000] = 0.7;
        required[239_990] = 0.9;
        let s = LimiterSettings::default();
        let fast = smooth_gain(&required, 44_100, &s);
        let slow = smooth_gain_step_by_step(&required, 44_100, &s);
        for (f, (a, b)) in fast.iter().zip(&slow).enumerate() {
            // Same operations in the same order: bit-identical.
            assert_eq!(a, b, "frame {f}");
        }
    }

    #[test]
    fn segmented_smoothing_matches_one_pass() {
        // Dense limiting (a reduction every few hundred frames) over 9 segments of 2^16 frames,
        // a quiet stretch, and a reduction right at a segment boundary.
        let seg = 1 << 16;
        let n = 9 * seg + 777;
        let mut required = vec![1.0f32; n];
        for (i, r) in required.iter_mut().enumerate().take(5 * seg) {
            if i % 337 == 0 {
                *r = 0.4 + 0.5 * ((i * 7919 % 1013) as f32 / 1013.0);
            }
        }
        required[7 * seg] = 0.3;
        required[7 * seg - 1] = 0.5;
        // A 10 ms release keeps the warm-up (20 time constants) under a quarter segment here.
        let s = LimiterSettings {
            release_ms: 10.0,
            ..LimiterSettings::default()
        };
        let req = |i: usize| required[i];
        let one = smooth_gain_segmented(n, &req, 44_100, &s, usize::MAX / 4);
        let parts = smooth_gain_segmented(n, &req, 44_100, &s, seg);
        assert_eq!(one.len(), n);
        assert_eq!(parts.len(), n);
        let worst = one
            .iter()
            .zip(&parts)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // f32 rounding of the gain (an ulp near 1 is 6e-8) and of the running sums.
        eprintln!("segmented smoothing vs one pass: worst {worst:e}");
        assert!(worst <= 2.4e-7, "segments vs one pass: {worst}");
        assert!(parts.iter().zip(&required).all(|(g, r)| g <= r));
    }

    /// Detector-like peaks over `n` frames: runs of a few equal values (the spreading's
    /// sliding maximum), loud stretches and a quiet one.
    fn peaks_like(n: usize) -> Vec<f32> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut p = Vec::with_capacity(n);
        while p.len() < n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let run = 1 + (state % 9) as usize;
            let quiet = (p.len() / 400_000) % 3 == 2;
            let v = if quiet {
                0.01
            } else {
                0.2 + (state >> 40) as f32 / (1u64 << 24) as f32
            };
            p.extend(std::iter::repeat_n(v, run.min(n - p.len())));
        }
        p
    }

    #[test]
    fn curves_in_segments_and_over_a_buffer_equal_the_whole_curve() {
        // Over two smoothing segments (2^20 frames each) at 44.1 kHz, so that the segmented
        // smoothing runs: every value must be the whole curve's, to the bit.
        let n = 2 * SMOOTH_SEGMENT_FRAMES + 12_345;
        let peaks = peaks_like(n);
        let s = LimiterSettings::default();
        let (gain, threshold_db) = (db_to_gain(12.0), -1.3);
        let whole = gain_curve(&peaks, gain, threshold_db, 44_100, &s);
        assert!(whole.iter().any(|&g| g < 0.5), "the test must limit");
        let seen = std::sync::Mutex::new(vec![f32::NAN; n]);
        gain_curve_segments(&peaks, gain, threshold_db, 44_100, &s, |start, gains| {
            seen.lock().unwrap()[start..start + gains.len()].copy_from_slice(gains);
        });
        let seen = seen.into_inner().unwrap();
        assert!(whole
            .iter()
            .zip(&seen)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        // Over a buffer: the visitor sees the old contents, then the buffer holds the curve.
        let mut buffer: Vec<f32> = (0..n).map(|i| i as f32).collect();
        gain_curve_over(
            &mut buffer,
            &peaks,
            gain,
            threshold_db,
            44_100,
            &s,
            |start, old, gains| {
                assert_eq!(old.len(), gains.len());
                assert!(old
                    .iter()
                    .enumerate()
                    .all(|(k, &v)| v == (start + k) as f32));
            },
        );
        assert!(whole
            .iter()
            .zip(&buffer)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        // The coarse curve likewise.
        let blocks = block_max(&peaks, COARSE_FRAMES);
        let coarse = gain_curve_coarse(&blocks, COARSE_FRAMES, gain, threshold_db, 44_100, &s);
        let seen = std::sync::Mutex::new(vec![f32::NAN; blocks.len()]);
        gain_curve_coarse_segments(
            &peaks,
            COARSE_FRAMES,
            gain,
            threshold_db,
            44_100,
            &s,
            |b, g| {
                seen.lock().unwrap()[b..b + g.len()].copy_from_slice(g);
            },
        );
        let seen = seen.into_inner().unwrap();
        assert!(coarse
            .iter()
            .zip(&seen)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn packed_peaks_unpack_to_the_same_bits() {
        let mut peaks = peaks_like(100_000);
        // A run longer than a length byte holds, and signed zeros.
        peaks[10_000..10_700].fill(0.75);
        peaks[20_000] = -0.0;
        peaks[20_001] = 0.0;
        let packed = PackedPeaks::pack(&peaks);
        assert!(packed.bytes() < peaks.len() * 2, "{} bytes", packed.bytes());
        let back = packed.unpack();
        assert_eq!(back.len(), peaks.len());
        assert!(peaks
            .iter()
            .zip(&back)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        // Peaks without runs: a plain copy, as exact.
        let varied: Vec<f32> = (0..5_000).map(|i| i as f32 * 1e-4).collect();
        let packed = PackedPeaks::pack(&varied);
        assert_eq!(packed.bytes(), varied.len() * 4);
        assert_eq!(packed.unpack(), varied);
        assert!(PackedPeaks::pack(&[]).unpack().is_empty());
    }

    #[test]
    fn owned_peaks_limit_to_the_same_bits_as_borrowed_ones() {
        // Loud stereo noise near full band (the final check may relimit): the output in the
        // curve's and the peaks' buffers must be the output in buffers of its own.
        let fs = 44_100;
        let n = fs as usize * 3;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let input: Vec<Vec<f32>> = (0..2).map(|_| (0..n).map(|_| next()).collect()).collect();
        let s = LimiterSettings::default();
        let skip = skip_threshold(&s) / db_to_gain(9.0);
        let peaks = detector_peaks(&input, fs, skip as f32);
        let gain = db_to_gain(9.0);
        let (a, ra) = limit_scaled(&input, gain, &peaks, None, fs, &s).unwrap();
        let packed = PackedPeaks::pack(&peaks);
        let (b, rb, ()) = limit_scaled_measuring(
            &input,
            gain,
            DetectorPeaks::Owned(peaks.clone(), &packed),
            None,
            fs,
            &s,
            |_| Ok(()),
        )
        .unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
        assert_eq!(ra.relimit_passes, rb.relimit_passes);
        assert_eq!(ra.safety_trim_db, rb.safety_trim_db);
    }

    #[test]
    fn final_check_finds_the_reference_peak_near_the_ceiling() {
        // The check runs the 8x reference only around the local maxima the 4x detector finds
        // within 1 dB of the ceiling; there it must read what a full 8x scan reads, also for a
        // tone at 0.43 fs, where BS.1770's short interpolator reads over 1 dB low (selecting
        // with that one missed this peak).
        for fs in [44_100u32, 96_000, 192_000] {
            for (k, freq) in [(0usize, 997.0f64), (1, 0.43 * f64::from(fs)), (2, 0.0)] {
                let mut state = 0x5851_f42d_4c95_7f2du64 + k as u64;
                let x: Vec<f32> = (0..fs as usize / 2)
                    .map(|i| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let noise = (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
                        let t = i as f64 / f64::from(fs);
                        let tone = (2.0 * std::f64::consts::PI * freq * t + 0.3).sin();
                        (0.6 * tone
                            + if freq == 0.0 {
                                1.6 * noise
                            } else {
                                0.2 * noise
                            }) as f32
                    })
                    .collect();
                let peak = true_peak_reference(&[&x]);
                // Scale so the reference peak sits at -1.05 dBTP, just under a -1 ceiling.
                let g = (db_to_gain(-1.05) / peak) as f32;
                let y: Vec<f32> = x.iter().map(|&v| v * g).collect();
                let checked = output_true_peak(std::slice::from_ref(&y), fs, -1.0).unwrap();
                let full = ebur128_true_peak(&[&y], fs)
                    .unwrap()
                    .max(true_peak_reference(&[&y]));
                assert_eq!(checked, full, "{fs} Hz, signal {k}");
            }
        }
    }

    #[test]
    fn sliding_max_known_values() {
        let x = [0.0, 3.0, 1.0, 0.0, 0.0, 2.0, 0.0];
        assert_eq!(sliding_max(&x, 1), vec![3.0, 3.0, 3.0, 1.0, 2.0, 2.0, 2.0]);
        assert_eq!(sliding_max(&x, 0), x.to_vec());
        // Across block boundaries: against the definition.
        let y: Vec<f32> = (0..3 * BLOCK_FRAMES + 77)
            .map(|i| ((i * 7919) % 1013) as f32)
            .collect();
        for w in [1, 8, 20] {
            let brute: Vec<f32> = (0..y.len())
                .map(|i| {
                    y[i.saturating_sub(w)..(i + w + 1).min(y.len())]
                        .iter()
                        .fold(0.0f32, |a, &b| a.max(b))
                })
                .collect();
            assert_eq!(sliding_max(&y, w), brute, "w = {w}");
            let mut z = y.clone();
            sliding_max_in_place(&mut z, w);
            assert_eq!(z, brute, "in place, w = {w}");
        }
        let mut long = y.clone();
        sliding_max_in_place(&mut long, BLOCK_FRAMES);
        assert_eq!(long, sliding_max(&y, BLOCK_FRAMES));
    }

    #[test]
    fn rejects_bad_settings() {
        let s = LimiterSettings {
            ceiling_dbtp: f64::NAN,
            ..LimiterSettings::default()
        };
        assert!(limit(&mut [vec![0.0; 10]], 44_100, &s).is_err());
    }
}
