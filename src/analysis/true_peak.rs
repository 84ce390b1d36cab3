//! True peak after ITU-R BS.1770-4 Annex 2, fast: the interpolator the `ebur128` crate (and
//! libebur128) uses, a 48-tap Hann-windowed sinc split into 4 phases of 12 taps below 96 kHz
//! and 2 phases of 24 below 192 kHz (none above: the sample peak is the true peak there), run
//! on blocks of frames at once so the compiler vectorises it.
//!
//! Each interpolated point is the same f32 sum as ebur128's, term by term in the same order
//! (multiply, then add; no fused multiply-add), so the readings are the meter's to the bit on
//! every machine, whatever the vector width; the tests compare them. One difference, on
//! purpose: the signal is taken as silence before its first and after its last frame, as a
//! DAC plays a file, so the overshoot after a hard end is read too (ebur128 stops at the last
//! sample). Points after the last frame count for the last frame.

use rayon::prelude::*;

/// Taps of ebur128's interpolating filter (all phases).
const TAPS: usize = 48;
/// Frames per work unit: fixed, so the result does not depend on the thread count.
pub const SEGMENT_FRAMES: usize = 1 << 16;
/// Outputs computed together (one vector register of f32 at AVX-512, two at AVX2).
const LANES: usize = 16;

/// The interpolator's coefficients, `h[tap][phase]`, as ebur128 computes them.
fn coefficients<const F: usize, const T: usize>() -> [[f32; F]; T] {
    let mut h = [[0f32; F]; T];
    for (j, c) in h.iter_mut().flat_map(|x| x.iter_mut()).enumerate() {
        let j = j as f64;
        let window = TAPS as f64;
        let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * j / window).cos());
        let m = j - window / 2.0;
        let arg = m * std::f64::consts::PI / F as f64;
        *c = if m.abs() > 1e-6 {
            w * arg.sin() / arg
        } else {
            w
        } as f32;
    }
    h
}

/// Oversampling factor ebur128 uses at a rate (1: none).
pub fn factor(sample_rate_hz: u32) -> usize {
    if sample_rate_hz < 96_000 {
        4
    } else if sample_rate_hz < 192_000 {
        2
    } else {
        1
    }
}

/// Per-frame true peak of one channel into `out` (`out.len() == x.len()`): the largest `|y|`
/// of the interpolated points at times `n <= t < n + 1` (the sample itself is phase 0). The
/// points before the first frame and after the last (the filter ringing into the silence
/// around the file) count for the first and the last frame.
pub fn frame_peaks(x: &[f32], sample_rate_hz: u32, out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "one peak per frame");
    let f = factor(sample_rate_hz);
    out.par_chunks_mut(SEGMENT_FRAMES)
        .enumerate()
        .for_each(|(s, o)| {
            let start = s * SEGMENT_FRAMES;
            segment_peaks(x, start, start + o.len(), f, o);
        });
}

/// [`frame_peaks`] of the frames `start .. start + out.len()` only (the same values: each
/// frame's points do not depend on the range).
pub fn frame_peaks_range(x: &[f32], sample_rate_hz: u32, start: usize, out: &mut [f32]) {
    segment_peaks(x, start, start + out.len(), factor(sample_rate_hz), out);
}

/// Highest true peak of one channel, linear: the largest [`frame_peaks`] value, and at least
/// the sample peak (as ebur128 reports it). Exact (a maximum), with the interpolation skipped
/// where it cannot reach it: every point is a sum of 12 (24) samples around its frame times
/// the coefficients, so it is at most [`abs_sum_bound`] times the largest of those samples.
/// The block holding the sample peak is read first; its reading `p` then rules out every
/// block whose samples (and its neighbours' next to it) stay under `p /` [`abs_sum_bound`].
/// Blocks run in parallel; which ones are skipped does not depend on the thread count.
pub fn channel_true_peak(x: &[f32], sample_rate_hz: u32) -> f32 {
    let f = factor(sample_rate_hz);
    let n = x.len();
    let blocks = n.div_ceil(SKIP_BLOCK_FRAMES);
    let block_max: Vec<f32> = x
        .par_chunks(SKIP_BLOCK_FRAMES)
        .map(|b| b.iter().fold(0f32, |a, &v| a.max(v.abs())))
        .collect();
    let Some(top) =
        (0..blocks).max_by(|&a, &b| block_max[a].total_cmp(&block_max[b]).then(b.cmp(&a)))
    else {
        return 0.0;
    };
    // The largest point of a block's frames (no per-frame peaks kept), and its sample peak.
    let read = |b: usize, buf: &mut Vec<f32>| {
        let start = b * SKIP_BLOCK_FRAMES;
        let end = (start + SKIP_BLOCK_FRAMES).min(n);
        segment_max(x, start, end, f, buf).max(block_max[b])
    };
    let first = read(top, &mut Vec::new());
    if f == 1 {
        return block_max.iter().fold(first, |a, &b| a.max(b));
    }
    // A point of a frame reads at most `TAPS / f` samples around it (fewer than a block): the
    // block's own and its neighbours'. The bound is rounded up for the f32 sums (31 terms at
    // most, each within 2^-24).
    let bound = abs_sum_bound(f) * (1.0 + 64.0 * f32::EPSILON);
    (0..blocks)
        .into_par_iter()
        .map_init(Vec::new, |buf, b| {
            let reach = block_max[b]
                .max(if b > 0 { block_max[b - 1] } else { 0.0 })
                .max(block_max.get(b + 1).copied().unwrap_or(0.0));
            if b == top || reach * bound < first {
                block_max[b]
            } else {
                read(b, buf)
            }
        })
        .reduce(|| first, f32::max)
}

/// Frames per block of the skip in [`channel_true_peak`].
const SKIP_BLOCK_FRAMES: usize = 4_096;

/// Largest sum of absolute coefficients over the phases of factor `f`: no point exceeds it
/// times the largest sample it reads.
fn abs_sum_bound(f: usize) -> f32 {
    fn of<const F: usize, const T: usize>() -> f32 {
        let h = coefficients::<F, T>();
        (0..F)
            .map(|p| h.iter().map(|taps| f64::from(taps[p].abs())).sum::<f64>())
            .fold(0.0, f64::max) as f32
    }
    match f {
        4 => of::<4, 12>(),
        2 => of::<2, 24>(),
        _ => 1.0,
    }
}

/// What a run of the interpolator keeps.
enum Keep<'a> {
    /// Each frame's largest point, into `out[..end - start]`.
    PerFrame(&'a mut [f32]),
    /// Only the largest point of all (returned).
    Max,
}

/// [`frame_peaks`] of frames `start..end` into `out[..end - start]`.
fn segment_peaks(x: &[f32], start: usize, end: usize, f: usize, out: &mut [f32]) {
    let mut buf = Vec::new();
    match f {
        4 => {
            run::<4, 12>(x, start, end, Keep::PerFrame(out), &mut buf);
        }
        2 => {
            run::<2, 24>(x, start, end, Keep::PerFrame(out), &mut buf);
        }
        _ => {
            for (o, &v) in out.iter_mut().zip(&x[start..end]) {
                *o = v.abs();
            }
        }
    }
}

/// The largest of [`segment_peaks`]' values (the same points), without keeping them; `buf`
/// is reused between calls.
fn segment_max(x: &[f32], start: usize, end: usize, f: usize, buf: &mut Vec<f32>) -> f32 {
    match f {
        4 => run::<4, 12>(x, start, end, Keep::Max, buf),
        2 => run::<2, 24>(x, start, end, Keep::Max, buf),
        _ => x[start..end].iter().fold(0f32, |a, &v| a.max(v.abs())),
    }
}

/// [`run_portable`] compiled for the widest vector unit the CPU has. Every variant does the
/// same multiplies and adds in the same order (no fused multiply-add), so all give the same
/// bits.
fn run<const F: usize, const T: usize>(
    x: &[f32],
    start: usize,
    end: usize,
    keep: Keep,
    buf: &mut Vec<f32>,
) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked on the line above.
            return unsafe { run_avx512::<F, T>(x, start, end, keep, buf) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked on the line above.
            return unsafe { run_avx2::<F, T>(x, start, end, keep, buf) };
        }
    }
    run_portable::<F, T>(x, start, end, keep, buf)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn run_avx512<const F: usize, const T: usize>(
    x: &[f32],
    start: usize,
    end: usize,
    keep: Keep,
    buf: &mut Vec<f32>,
) -> f32 {
    run_portable::<F, T>(x, start, end, keep, buf)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<const F: usize, const T: usize>(
    x: &[f32],
    start: usize,
    end: usize,
    keep: Keep,
    buf: &mut Vec<f32>,
) -> f32 {
    run_portable::<F, T>(x, start, end, keep, buf)
}

/// Frames `start..end` of `x` for a filter of `T` taps per phase and `F` phases, with silence
/// outside `x`. The output whose newest input is frame `m` holds the points at times
/// `m - T/2 + p/F` (the filter's centre tap is phase 0's tap `T/2`, weight 1). Returns the
/// largest point (0 with [`Keep::PerFrame`], which keeps them all); `buf` holds the input.
#[inline(always)]
fn run_portable<const F: usize, const T: usize>(
    x: &[f32],
    start: usize,
    end: usize,
    mut keep: Keep,
    buf: &mut Vec<f32>,
) -> f32 {
    let delay = T / 2;
    let n = x.len();
    if let Keep::PerFrame(out) = &mut keep {
        out[..end - start].fill(0.0);
    }
    if start >= end {
        return 0.0;
    }
    // Newest inputs: the segment's frames shifted by the delay, plus the ringing before the
    // file (first segment) and after it (last segment).
    let m_lo = if start == 0 { 0 } else { start + delay };
    let m_hi = if end == n { n + T - 1 } else { end + delay };
    // buf[k] = x[m_lo + 1 - T + k], zeros outside the file, and LANES zeros of padding.
    let first = m_lo as isize + 1 - T as isize;
    let len = m_hi - m_lo + T - 1 + LANES;
    let lo = first.max(0) as usize;
    let hi = ((first + len as isize) as usize).min(n);
    // Zeros outside the file, the samples inside (every element written: `buf` is reused).
    buf.clear();
    if lo < hi {
        let at = (lo as isize - first) as usize;
        buf.resize(at, 0.0);
        buf.extend_from_slice(&x[lo..hi]);
    }
    buf.resize(len, 0.0);
    let h = coefficients::<F, T>();
    let mut peaks = [0f32; LANES];
    // Lane by lane maximum of the points (of whole blocks of lanes; the last block's extra
    // lanes, past `m_hi`, are left out below).
    let mut most = [0f32; LANES];
    let mut i = 0;
    while i < m_hi - m_lo {
        block::<F, T>(&buf[i..i + LANES + T - 1], &h, &mut peaks);
        let lanes = (m_hi - m_lo - i).min(LANES);
        match &mut keep {
            Keep::PerFrame(out) => {
                for (l, &p) in peaks.iter().enumerate().take(lanes) {
                    let m = m_lo + i + l;
                    let frame = m.saturating_sub(delay).clamp(start, end - 1);
                    let o = &mut out[frame - start];
                    *o = o.max(p);
                }
            }
            Keep::Max if lanes == LANES => {
                for (a, &p) in most.iter_mut().zip(&peaks) {
                    *a = a.max(p);
                }
            }
            Keep::Max => {
                for &p in &peaks[..lanes] {
                    most[0] = most[0].max(p);
                }
            }
        }
        i += LANES;
    }
    most.iter().fold(0f32, |a, &b| a.max(b))
}

/// `LANES` outputs: output `l` is the filter with newest sample `w[l + T - 1]`.
#[inline(always)]
fn block<const F: usize, const T: usize>(w: &[f32], h: &[[f32; F]; T], peaks: &mut [f32; LANES]) {
    let mut acc = [[0f32; LANES]; F];
    for (t, taps) in h.iter().enumerate() {
        // Tap t multiplies the sample t frames before the newest; ebur128's order of terms.
        let xs = &w[T - 1 - t..T - 1 - t + LANES];
        for (a, &c) in acc.iter_mut().zip(taps) {
            for (a, &v) in a.iter_mut().zip(xs) {
                *a += c * v;
            }
        }
    }
    for (l, peak) in peaks.iter_mut().enumerate() {
        let mut m = 0f32;
        for a in &acc {
            m = m.max(a[l].abs());
        }
        *peak = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    fn ebur128_true_peak(x: &[f32], rate: u32) -> f64 {
        let mut m = EbuR128::new(1, rate, Mode::TRUE_PEAK).unwrap();
        m.add_frames_planar_f32(&[x]).unwrap();
        m.true_peak(0).unwrap()
    }

    #[test]
    fn reads_ebur128s_true_peak_to_the_bit() {
        // Noise with clicks (their overshoot is the peak) at the segment boundaries, ending in
        // a fade so the silence after the end adds nothing ebur128 does not see.
        for rate in [44_100u32, 48_000, 96_000, 192_000] {
            let n = 3 * SEGMENT_FRAMES + 777;
            let mut x: Vec<f32> = noise(n, u64::from(rate)).iter().map(|v| 0.3 * v).collect();
            for k in 1..=3 {
                let at = k * SEGMENT_FRAMES - 1;
                x[at] = 0.95;
                x[at + 1] = -0.9;
            }
            for (i, v) in x.iter_mut().rev().take(100).enumerate() {
                *v *= i as f32 / 100.0;
            }
            let ours = f64::from(channel_true_peak(&x, rate));
            let theirs = ebur128_true_peak(&x, rate);
            assert_eq!(ours, theirs, "{rate} Hz");
            assert!(ours >= 0.949, "{rate} Hz: the clicks are the peak ({ours})");
        }
    }

    #[test]
    fn skipping_quiet_blocks_keeps_the_exact_peak() {
        // Loud and quiet stretches (the quiet ones are skipped), clicks at block edges and a
        // hard end: the same reading as every frame's points, to the bit.
        for rate in [44_100u32, 96_000, 192_000] {
            let n = 20 * SKIP_BLOCK_FRAMES + 123;
            let mut x: Vec<f32> = noise(n, 5 + u64::from(rate));
            for (i, v) in x.iter_mut().enumerate() {
                let level = if (i / (3 * SKIP_BLOCK_FRAMES)) % 2 == 0 {
                    0.05
                } else {
                    1.6
                };
                *v *= level;
            }
            x[7 * SKIP_BLOCK_FRAMES - 1] = 0.8;
            x[7 * SKIP_BLOCK_FRAMES] = -0.8;
            x[n - 1] = 0.7;
            let mut out = vec![0f32; n];
            frame_peaks(&x, rate, &mut out);
            let sample_peak = x.iter().fold(0f32, |a, &b| a.max(b.abs()));
            let every = out.iter().fold(sample_peak, |a, &b| a.max(b));
            assert_eq!(
                channel_true_peak(&x, rate).to_bits(),
                every.to_bits(),
                "{rate} Hz"
            );
        }
        assert_eq!(channel_true_peak(&[], 44_100), 0.0);
    }

    #[test]
    fn frame_peaks_are_the_points_of_each_frame() {
        // The per-frame peaks' maximum is the channel's interpolated peak, at any block split.
        let rate = 44_100;
        let x: Vec<f32> = noise(SEGMENT_FRAMES + 1_001, 9);
        let mut out = vec![0f32; x.len()];
        frame_peaks(&x, rate, &mut out);
        let max = out.iter().fold(0f32, |a, &b| a.max(b));
        let sample_peak = x.iter().fold(0f32, |a, &b| a.max(b.abs()));
        assert_eq!(max.max(sample_peak), channel_true_peak(&x, rate));
        // Each frame's points lie between its neighbouring samples' reach: never below the
        // 4x phase nearest the sample, which for this filter is within 1% of it.
        for (n, (&p, &v)) in out.iter().zip(&x).enumerate().skip(12) {
            assert!(
                p >= 0.98 * v.abs() - 1e-6,
                "frame {n}: peak {p}, sample {v}"
            );
        }
    }

    #[test]
    fn a_hard_end_overshoots_into_the_silence_after_it() {
        // A full-scale square wave stopped at its peak: after it, the reconstruction rings
        // above the last sample; ebur128 does not read past the end, this kernel does.
        let rate = 48_000;
        let x: Vec<f32> = (0..4_800)
            .map(|i| if (i / 12) % 2 == 0 { 0.9 } else { -0.9 })
            .collect();
        let mut y = x.clone();
        y.extend(std::iter::repeat_n(0.0, 48));
        let ours = channel_true_peak(&x, rate);
        let padded = ebur128_true_peak(&y, rate) as f32;
        assert_eq!(
            ours, padded,
            "the end read as silence: ebur128 on the padded signal"
        );
    }
}
