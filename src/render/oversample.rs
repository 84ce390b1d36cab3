//! Polyphase FIR interpolation for true-peak detection.
//!
//! True peak is the maximum of the band-limited signal *between* samples (ITU-R BS.1770-4
//! Annex 2): upsample, low-pass at the original Nyquist frequency, take the largest magnitude.
//! BS.1770-4 asks for at least 4x at 48 kHz; at 88.2 kHz and above 2x reaches the same
//! time resolution (ebur128 does the same: 4x below 96 kHz, 2x up to 192 kHz), so
//! [`detector_factor`] picks 4x below 88.2 kHz and 2x from 88.2 kHz on.
//!
//! The prototype low-pass is a Kaiser-windowed sinc (J. F. Kaiser, "Nonrecursive digital filter
//! design using the I0-sinh window function", 1974; window and Bessel series as in
//! Oppenheim & Schafer, *Discrete-Time Signal Processing*, 3rd ed., sec. 7.5.3), split into
//! `factor` polyphase branches (Crochiere & Rabiner, *Multirate Digital Signal Processing*,
//! 1983, ch. 3). The sinc is centred on a tap whose index is a multiple of `factor`, so branch
//! 0 is a pure delay: the original samples pass through unchanged and the other branches fill
//! in the points between them.

use rayon::prelude::*;

/// Frames per block of the blockwise scans: small enough for the cache and for memory, large
/// enough that the per-block set-up does not count.
pub const BLOCK_FRAMES: usize = 16_384;

/// Headroom of the half-sample screen in [`Interpolator::frame_peaks`]: 3.5 dB.
pub const SCREEN_RATIO: f32 = 1.496_236;

/// Oversampling factor of the limiter's peak detector at a sample rate.
pub fn detector_factor(sample_rate_hz: u32) -> usize {
    if sample_rate_hz >= 88_200 {
        2
    } else {
        4
    }
}

/// Zeroth-order modified Bessel function of the first kind, by its power series
/// (Oppenheim & Schafer eq. 7.72 use it for the Kaiser window). Converges fast for the
/// arguments a window needs (< 20).
pub fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..200 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Kaiser window of `len` points: `I0(beta sqrt(1 - (2n/(len-1) - 1)^2)) / I0(beta)`.
pub fn kaiser_window(len: usize, beta: f64) -> Vec<f64> {
    if len == 1 {
        return vec![1.0];
    }
    let denom = bessel_i0(beta);
    (0..len)
        .map(|n| {
            let r = 2.0 * n as f64 / (len - 1) as f64 - 1.0;
            bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / denom
        })
        .collect()
}

/// A polyphase interpolator by an integer factor with a linear-phase prototype.
#[derive(Clone, Debug)]
pub struct Interpolator {
    factor: usize,
    /// Taps per branch (even); the prototype has `factor * half_span * 2 + 1` taps.
    taps_per_branch: usize,
    /// `branches[p][taps - 1 - j]`: coefficient applied to `x[n - j]` for output time
    /// `n - half_span + p / factor` (reversed, so it lines up with the input window).
    branches: Vec<Vec<f32>>,
    /// Largest sum of absolute coefficients over branches: `|y| <= bound * max |x|` over the
    /// branch's support, used to skip frames that cannot reach a threshold.
    abs_sum_bound: f64,
}

impl Interpolator {
    /// `half_span` input samples on each side of the interpolated point; Kaiser `beta`.
    pub fn new(factor: usize, half_span: usize, beta: f64) -> Self {
        let factor = factor.max(1);
        let half_span = half_span.max(1);
        let centre = factor * half_span;
        let len = 2 * centre + 1;
        let window = kaiser_window(len, beta);
        // Windowed sinc with cutoff at the input's Nyquist frequency, gain `factor` in the
        // pass band so that each branch has unity DC gain (Crochiere & Rabiner sec. 3.3).
        let proto: Vec<f64> = (0..len)
            .map(|m| {
                let t = (m as f64 - centre as f64) / factor as f64;
                let sinc = if t == 0.0 {
                    1.0
                } else if t.fract() == 0.0 {
                    // sin(pi t) rounds to ~1e-16 at integers; the zero is exact.
                    0.0
                } else {
                    (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
                };
                sinc * window[m]
            })
            .collect();
        let taps_per_branch = 2 * half_span + 1;
        let mut branches = vec![vec![0.0f32; taps_per_branch]; factor];
        let mut abs_sum_bound = 0.0f64;
        for (p, branch) in branches.iter_mut().enumerate() {
            // Coefficient j of branch p multiplies x[n - j] for the point at time
            // n - half_span + p/factor: the sinc argument is (j*factor + p - centre)/factor.
            // Branch 0 at j = half_span is the sinc's centre (1) and its other taps fall on
            // sinc zeros: a pure delay.
            let mut sum = 0.0f64;
            let mut abs_sum = 0.0f64;
            for (j, c) in branch.iter_mut().enumerate() {
                let m = j as i64 * factor as i64 + p as i64;
                let v = if (0..len as i64).contains(&m) {
                    proto[m as usize]
                } else {
                    0.0
                };
                *c = v as f32;
                sum += v;
                abs_sum += v.abs();
            }
            if p == 0 {
                // The samples themselves, exactly.
                branch.iter_mut().for_each(|c| *c = 0.0);
                branch[half_span] = 1.0;
                abs_sum_bound = abs_sum_bound.max(1.0);
                continue;
            }
            // Normalise each branch to exactly unity DC gain so a constant passes unchanged.
            if sum.abs() > 1e-12 {
                for c in branch.iter_mut() {
                    *c = (f64::from(*c) / sum) as f32;
                }
                abs_sum /= sum.abs();
            }
            abs_sum_bound = abs_sum_bound.max(abs_sum);
        }
        // Stored reversed so that a branch and its input window are read in the same direction
        // (see `point`).
        for branch in branches.iter_mut() {
            branch.reverse();
        }
        Self {
            factor,
            taps_per_branch,
            branches,
            abs_sum_bound,
        }
    }

    /// The detector's interpolator: 4x or 2x ([`detector_factor`]), 24 input samples each side,
    /// Kaiser beta 8. Flat to about 0.85 x Nyquist (see the unit tests). Content closer to
    /// Nyquist makes every finite interpolator read differently: on pink noise this one reads up
    /// to 0.22 dB under a 16x, 96-sample, beta 12 interpolator in some 2048-frame blocks
    /// (32 samples each side: 0.16 dB; 16: 0.35 dB). The limiter's margin and final check
    /// cover the rest.
    pub fn detector(sample_rate_hz: u32) -> Self {
        Self::new(detector_factor(sample_rate_hz), 24, 8.0)
    }

    /// The interpolator of lathe's final true-peak check: 8x, 64 samples each side, Kaiser
    /// beta 10 (about 100 dB stop band; flat to 0.95 x Nyquist), with the parabolic
    /// refinement of [`Interpolator::frame_peaks`]. The same filter specification as the
    /// independent 32x f64 reference of the tests (`tests/it/common`), so content near Nyquist
    /// reads the same in both (32 samples each side and beta 9 read band-limited squares up to
    /// 0.1 dB lower: their pass band ends at 0.91 x Nyquist).
    pub fn reference() -> Self {
        Self::new(8, 64, 10.0)
    }

    pub fn factor(&self) -> usize {
        self.factor
    }

    /// The branches, for the vectorised scans of [`super::polyphase`].
    pub fn branches(&self) -> super::polyphase::Branches<'_> {
        super::polyphase::Branches {
            branches: &self.branches,
            taps: self.taps_per_branch,
        }
    }

    /// Input samples on each side of an interpolated point.
    pub fn half_span(&self) -> usize {
        (self.taps_per_branch - 1) / 2
    }

    /// Largest `|output| / max|input over the support|` any branch can produce.
    pub fn abs_sum_bound(&self) -> f64 {
        self.abs_sum_bound
    }

    /// Per frame `f`, the largest magnitude of the interpolated signal on `[f, f + 1)`: the
    /// sample itself, the `factor - 1` points after it, and at every local maximum among
    /// those points the vertex of the parabola through it and its two neighbours (parabolic
    /// peak interpolation, J. O. Smith, *Spectral Audio Signal Processing*, "Quadratic
    /// Interpolation of Spectral Peaks", applied here in time). The vertex recovers a crest
    /// that falls between the oversampled points, which a plain 4x reading misses by up to
    /// `1 - cos(pi f / (4 fs))` (0.45 dB at 0.8 x Nyquist).
    ///
    /// Samples outside the slice are zero (silence before and after it). Frames that cannot
    /// reach `skip_below` may get a bound under `skip_below` instead of the exact value:
    /// callers that only care about peaks above a threshold save the interpolation there. The
    /// bound is strict: blocks of [`super::polyphase::LANES`] frames whose inputs all stay
    /// under `skip_below /` [`abs_sum_bound`] read `max |x| *` [`abs_sum_bound`]. Every other
    /// frame is computed exactly, [`super::polyphase::LANES`] frames at a time (vectorised).
    ///
    /// [`abs_sum_bound`]: Interpolator::abs_sum_bound
    pub fn frame_peaks(&self, x: &[f32], skip_below: f32) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len()];
        // Blocks in parallel: every value depends on the input only, not on the blocking.
        out.par_chunks_mut(BLOCK_FRAMES)
            .enumerate()
            .for_each(|(b, chunk)| self.frame_peaks_range(x, b * BLOCK_FRAMES, chunk, skip_below));
        out
    }

    /// [`Interpolator::frame_peaks`] of the frames `start .. start + out.len()` of `x`, into
    /// `out`, with temporary buffers of the block's size only.
    pub fn frame_peaks_range(&self, x: &[f32], start: usize, out: &mut [f32], skip_below: f32) {
        super::polyphase::frame_peaks_range(
            self.branches(),
            self.abs_sum_bound as f32,
            x,
            start,
            out,
            skip_below,
        );
    }

    /// The scalar frame peaks, one frame at a time, with the half-sample screen
    /// ([`SCREEN_RATIO`]) that [`Interpolator::frame_peaks_range`] had before its vectorised
    /// scan: the tests' cross-check of [`super::polyphase`].
    #[cfg(test)]
    pub(crate) fn frame_peaks_range_scalar(
        &self,
        x: &[f32],
        start: usize,
        out: &mut [f32],
        skip_below: f32,
    ) {
        let t = self.taps_per_branch;
        let r = self.factor;
        let end = start + out.len();
        let local = self.local_padded(x, start, end);
        let base = start.saturating_sub(1);
        // Sliding maximum of |x| over the support of frame f's points: padded[f .. f + t].
        let abs_max = sliding_max_abs(&local, t);
        let bound = self.abs_sum_bound as f32;
        // Points around frame f: [f - 1/r, f, f + 1/r, ..., f + (r-1)/r, f + 1].
        let mut points = vec![0.0f32; r + 2];
        // The last point of frame f - 1, if it was computed: the first point of frame f. At the
        // start of a block it is recomputed, with the same value.
        let mut last_point: Option<f32> = None;
        for (f, o) in (start..end).zip(out.iter_mut()) {
            let s = x[f].abs();
            let i = f - base;
            let local_max = abs_max[i].max(if f > 0 { abs_max[i - 1] } else { 0.0 });
            if local_max * bound < skip_below {
                *o = (local_max * bound).max(s);
                last_point = None;
                continue;
            }
            let mut known = None;
            if r % 2 == 0 {
                let half_point = self.point(&local[i..i + t], r / 2);
                let coarse = s
                    .max(half_point.abs())
                    .max(x.get(f + 1).map_or(0.0, |v| v.abs()));
                if coarse * SCREEN_RATIO < skip_below {
                    *o = coarse * SCREEN_RATIO;
                    last_point = None;
                    continue;
                }
                // The refinement needs this point too: reuse it.
                known = Some((r / 2, half_point));
            }
            *o = self.refined_peak(x, &local, base, f, &mut points, last_point, known);
            last_point = Some(points[r]);
        }
    }

    /// The zero-padded input (`half_span` zeros in front, `half_span + 1` behind) from padded
    /// index `start - 1` (or 0) up to the end of the windows of the frames before `end`.
    #[cfg(test)]
    fn local_padded(&self, x: &[f32], start: usize, end: usize) -> Vec<f32> {
        let hs = self.half_span();
        let t = self.taps_per_branch;
        let base = start.saturating_sub(1);
        let len = end + t - base;
        let mut local = vec![0.0f32; len];
        // padded[k] = x[k - hs] for hs <= k < hs + n.
        let lo = base.max(hs);
        let hi = (end + t).min(hs + x.len());
        if hi > lo {
            local[lo - base..hi - base].copy_from_slice(&x[lo - hs..hi - hs]);
        }
        local
    }

    /// The refined peak of frame `f` (see [`Interpolator::frame_peaks`]); `local` is the
    /// zero-padded `x` (`half_span` zeros in front) from padded index `base` on, covering
    /// `f - 1 .. f + taps`; `points` has `factor + 2` slots. `previous`: the point at
    /// `f - 1/factor` if the caller has it; `known`: a branch and its point at this frame, if
    /// the caller computed it.
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    fn refined_peak(
        &self,
        x: &[f32],
        local: &[f32],
        base: usize,
        f: usize,
        points: &mut [f32],
        previous: Option<f32>,
        known: Option<(usize, f32)>,
    ) -> f32 {
        let t = self.taps_per_branch;
        let r = self.factor;
        points[0] = match previous {
            Some(p) => p,
            None if f > 0 && r > 1 => self.point(&local[f - 1 - base..f - 1 - base + t], r - 1),
            None if f > 0 => x[f - 1],
            None if r > 1 => {
                // The point at -1/factor: its window starts one zero before the padded input.
                let mut window = vec![0.0f32; t];
                window[1..].copy_from_slice(&local[..t - 1]);
                self.point(&window, r - 1)
            }
            None => 0.0,
        };
        points[1] = x[f];
        let window = &local[f - base..f - base + t];
        for p in 1..r {
            points[1 + p] = match known {
                Some((k, v)) if k == p => v,
                _ => self.point(window, p),
            };
        }
        points[r + 1] = x.get(f + 1).copied().unwrap_or(0.0);
        let mut peak = x[f].abs();
        for k in 1..=r {
            let (a, b, c) = (points[k - 1].abs(), points[k].abs(), points[k + 1].abs());
            peak = peak.max(b);
            let denom = a - 2.0 * b + c;
            if b >= a && b >= c && denom < 0.0 {
                peak = peak.max(b - (a - c) * (a - c) / (8.0 * denom));
            }
        }
        peak
    }

    /// The interpolated value of branch `p` for the window `padded[f .. f + t]`
    /// (coefficient j multiplies x[f + hs - j] = padded[f + 2 hs - j]; the branch is stored
    /// reversed, so the window and the branch are read forwards together).
    #[inline]
    fn point(&self, window: &[f32], p: usize) -> f32 {
        dot(&self.branches[p], window)
    }

    /// The largest interpolated magnitudes just outside `x`, taken as preceded and followed by
    /// silence (as a DAC plays a file): over `[-half_span - 1, 0)` and over
    /// `[len, len + half_span + 1)`; beyond those the interpolation is exactly zero. A file
    /// that starts or ends at full level overshoots there (a step's Gibbs ripple).
    pub fn edge_peaks(&self, x: &[f32]) -> (f32, f32) {
        edge_peaks_by(x, self.half_span() + 1, |buf, frames, out| {
            self.frame_peaks_range(buf, frames.start, out, 0.0)
        })
    }

    /// Largest interpolated magnitude over the frames `f` with `candidate[f]` (same length as
    /// `x`), each frame covering `[f, f + 1)` as in [`Interpolator::frame_peaks`]. Used to
    /// check only the frames a cheaper detector found near a threshold.
    pub fn max_peak_where(&self, x: &[f32], candidate: &[bool]) -> f32 {
        let n = x.len().min(candidate.len());
        self.max_peak_in(x, 0, n, |f| candidate[f])
    }

    /// Largest refined peak over the frames `f` in `start .. end` with `candidate(f)`.
    pub fn max_peak_in(
        &self,
        x: &[f32],
        start: usize,
        end: usize,
        candidate: impl Fn(usize) -> bool,
    ) -> f32 {
        super::polyphase::max_peak_in(self.branches(), x, start, end, candidate)
    }

    /// Upsampled signal (for tests and plots): `factor * x.len()` points, point `i` at time
    /// `i / factor` frames, zero outside the slice.
    pub fn upsample(&self, x: &[f32]) -> Vec<f32> {
        let n = x.len();
        let hs = self.half_span();
        let t = self.taps_per_branch;
        let mut padded = vec![0.0f32; n + 2 * hs + 1];
        padded[hs..hs + n].copy_from_slice(x);
        let mut out = vec![0.0f32; n * self.factor];
        for f in 0..n {
            out[f * self.factor] = x[f];
            let window = &padded[f..f + t];
            for p in 1..self.factor {
                out[f * self.factor + p] = self.point(window, p);
            }
        }
        out
    }
}

/// Dot product with 8 partial sums in a fixed order: vectorisable, and the same result on every
/// run and thread count.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut tail = 0.0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    for (x, y) in ca.zip(cb) {
        let x: &[f32; 8] = x.try_into().expect("chunks of 8");
        let y: &[f32; 8] = y.try_into().expect("chunks of 8");
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
        + tail
}

/// The true-peak interpolator of ITU-R BS.1770-4 Annex 2 as libebur128 and the `ebur128` crate
/// build it: 48 taps, a Hann-windowed sinc, 4x below 96 kHz and 2x up to 192 kHz (above, the
/// meter reads the sample peak). Short, so it reads bright material differently from
/// [`Interpolator::detector`] (up to 0.2 dB higher after limiting, on the bundled example):
/// the limiter's detector takes the larger of both, so that the meter most tools use agrees
/// with the ceiling the first time.
#[derive(Clone, Debug)]
pub struct Bs1770Interpolator {
    /// `coeffs[p][t]` multiplies `x[n - t]` for the point `n - delay + p / factor`.
    coeffs: Vec<Vec<f32>>,
    /// Each phase's coefficients oldest sample first.
    reversed: Vec<Vec<f32>>,
    delay: usize,
}

impl Bs1770Interpolator {
    /// `None` from 192 kHz on (no interpolation there).
    pub fn new(sample_rate_hz: u32) -> Option<Self> {
        const TAPS: usize = 48;
        let factor = if sample_rate_hz < 96_000 {
            4
        } else if sample_rate_hz < 192_000 {
            2
        } else {
            return None;
        };
        let per_phase = TAPS / factor;
        let mut coeffs = vec![vec![0.0f32; per_phase]; factor];
        // The crate's coefficient j = t * factor + p: a Hann window over 48 points times
        // sinc((j - 24) / factor).
        for t in 0..per_phase {
            for (p, phase) in coeffs.iter_mut().enumerate() {
                let j = (t * factor + p) as f64;
                let window = TAPS as f64;
                let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * j / window).cos());
                let m = j - window / 2.0;
                let arg = m * std::f64::consts::PI / factor as f64;
                phase[t] = if m.abs() > 1e-9 {
                    w * arg.sin() / arg
                } else {
                    w
                } as f32;
            }
        }
        let reversed = coeffs
            .iter()
            .map(|p| p.iter().rev().copied().collect())
            .collect();
        Some(Self {
            coeffs,
            reversed,
            delay: TAPS / 2 / factor,
        })
    }

    /// The largest magnitude of this interpolator's points on `[f, f + 1)`; samples outside `x`
    /// are zero.
    pub fn frame_peak(&self, x: &[f32], f: usize) -> f32 {
        let taps = self.coeffs[0].len();
        let newest = f + self.delay;
        let mut peak = x[f].abs();
        if newest < x.len() && newest + 1 >= taps {
            // Inside the signal: one slice, read oldest first against the reversed phase.
            let window = &x[newest + 1 - taps..=newest];
            for phase in &self.reversed[1..] {
                peak = peak.max(dot(phase, window).abs());
            }
            return peak;
        }
        for phase in &self.coeffs[1..] {
            let mut acc = 0.0f32;
            for (t, &c) in phase.iter().enumerate() {
                if let Some(&v) = newest.checked_sub(t).and_then(|k| x.get(k)) {
                    acc += c * v;
                }
            }
            peak = peak.max(acc.abs());
        }
        peak
    }
}

/// The largest frame peaks just before and just after `x` for an interpolator that reads
/// `reach` frames on each side of a point: `scan(buffer, frames, out)` writes the frame peaks
/// of `frames` of `buffer` (zero outside it) into `out`. The buffers are `x`'s first (last)
/// `2 reach + 2` frames with `reach` frames of silence in front (behind), so the scanned
/// frames see exactly what they would see in the whole file.
pub(crate) fn edge_peaks_by(
    x: &[f32],
    reach: usize,
    scan: impl Fn(&[f32], std::ops::Range<usize>, &mut [f32]),
) -> (f32, f32) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let keep = x.len().min(2 * reach + 2);
    let mut head = vec![0.0f32; reach + keep];
    head[reach..].copy_from_slice(&x[..keep]);
    let mut out = vec![0.0f32; reach];
    scan(&head, 0..reach, &mut out);
    let before = out.iter().fold(0.0f32, |a, &b| a.max(b));
    let mut tail = vec![0.0f32; keep + reach];
    tail[..keep].copy_from_slice(&x[x.len() - keep..]);
    scan(&tail, keep..keep + reach, &mut out);
    let after = out.iter().fold(0.0f32, |a, &b| a.max(b));
    (before, after)
}

/// `out[i] = max |x[i .. i + w]|` for every `i` with a full window (`x.len() - w + 1` values),
/// by the van Herk / Gil-Werman algorithm (M. van Herk, "A fast algorithm for local minimum and
/// maximum filters on rectangular and octagonal kernels", Pattern Recognition Letters 13, 1992):
/// running maxima forwards and backwards inside blocks of `w`, so that every window is the
/// maximum of one block suffix and one block prefix. Branch-free, three comparisons a sample.
pub(crate) fn sliding_max_abs(x: &[f32], w: usize) -> Vec<f32> {
    let n = x.len();
    if n < w || w == 0 {
        return vec![];
    }
    // Running maxima of |x| forwards and backwards inside each block of `w`, read from `x`
    // directly.
    let mut prefix = vec![0.0f32; n];
    let mut suffix = vec![0.0f32; n];
    for (p, xs) in prefix.chunks_mut(w).zip(x.chunks(w)) {
        let mut m = 0.0f32;
        for (p, v) in p.iter_mut().zip(xs) {
            m = m.max(v.abs());
            *p = m;
        }
    }
    for (s, xs) in suffix.chunks_mut(w).zip(x.chunks(w)) {
        let mut m = 0.0f32;
        for (s, v) in s.iter_mut().rev().zip(xs.iter().rev()) {
            m = m.max(v.abs());
            *s = m;
        }
    }
    suffix[..=n - w]
        .iter()
        .zip(&prefix[w - 1..])
        .map(|(a, b)| a.max(*b))
        .collect()
}

/// Output rate of ffmpeg's true-peak reading: its `ebur128` filter resamples to 192 kHz.
pub const SWR_RATE_HZ: u32 = 192_000;
/// libswresample's default filter: 32 taps (`filter_size`), Kaiser window, beta 9.
const SWR_TAPS: usize = 32;
const SWR_BETA: f64 = 9.0;
/// Tap of the filter that sits on the output point's own frame, `(taps - 1) / 2`.
const SWR_CENTER: usize = (SWR_TAPS - 1) / 2;
/// Phases above this are computed per point instead of tabled (odd rates only).
const SWR_MAX_TABLED_PHASES: u64 = 4_096;

/// The interpolation behind ffmpeg's true-peak reading (`ebur128=peak=true`): libswresample's
/// default resampler to 192 kHz, which the filter's peak is the largest magnitude of. A
/// Kaiser-windowed (beta 9) sinc of 32 taps with its cut-off at the input's Nyquist
/// frequency (upsampling: libswresample's 0.97 cut-off only applies below the output's), each
/// phase normalised to a sum of 1, in `f64`; output point `k` at input time `k fs / 192000`
/// (the phases of the reduced fraction, libswresample's `exact_rational`); the frames before
/// the first mirrored (`x[-j] = x[j]`, as libswresample starts); no points whose window
/// reaches past the last frame (ffmpeg's filter never flushes the resampler).
///
/// Why lathe reads it: the filter is short, so its transition band straddles Nyquist.
/// Content near Nyquist comes out of it slightly too strong and with some of its image, and
/// ffmpeg reads such outputs up to about 0.5 dB over the band-limited true peak (limited
/// masters with energy up to 20 kHz at 44.1 kHz). lathe's final check reads this too, so an
/// output is under the ceiling by ffmpeg as well. Matches ffmpeg 5.1's `aresample=192000`
/// output to 2e-5 (measured on noise; the script in `benches/true_peak_vs_ffmpeg.sh` compares
/// the readings).
pub struct SwrInterpolator {
    /// Input frames per output point: `step / phases` (reduced).
    step: u64,
    phases: u64,
    /// `phases x SWR_TAPS` coefficients (empty when there are too many phases to table).
    bank: Vec<f64>,
    /// `bank` rounded to f32, for the screen of [`SwrInterpolator::max_peak_in_above`].
    bank32: Vec<f32>,
    /// Largest sum of absolute coefficients over the phases.
    abs_sum: f64,
}

impl SwrInterpolator {
    /// The interpolator at `sample_rate_hz`; `None` from 192 kHz up, where ffmpeg's reading
    /// is a copy (or a low-passed downsampling) of the samples: never over the sample peak.
    pub fn new(sample_rate_hz: u32) -> Option<Self> {
        if sample_rate_hz >= SWR_RATE_HZ || sample_rate_hz == 0 {
            return None;
        }
        let (fs, out) = (u64::from(sample_rate_hz), u64::from(SWR_RATE_HZ));
        let g = gcd(fs, out);
        let (step, phases) = (fs / g, out / g);
        let bank = if phases <= SWR_MAX_TABLED_PHASES {
            (0..phases)
                .flat_map(|ph| Self::coefficients(ph as f64 / phases as f64))
                .collect()
        } else {
            Vec::new()
        };
        let bank32 = bank.iter().map(|&c| c as f32).collect();
        let abs_sum = if bank.is_empty() {
            0.0
        } else {
            bank.chunks_exact(SWR_TAPS)
                .map(|c| c.iter().map(|v| v.abs()).sum::<f64>())
                .fold(0.0, f64::max)
        };
        Some(Self {
            step,
            phases,
            bank,
            bank32,
            abs_sum,
        })
    }

    /// The 32 coefficients of the phase at fraction `frac` of a frame, normalised to sum 1.
    fn coefficients(frac: f64) -> [f64; SWR_TAPS] {
        let mut c = [0.0f64; SWR_TAPS];
        for (i, v) in c.iter_mut().enumerate() {
            let x = std::f64::consts::PI * ((i as f64 - SWR_CENTER as f64) - frac);
            let sinc = if x == 0.0 { 1.0 } else { x.sin() / x };
            let w = 2.0 * x / (SWR_TAPS as f64 * std::f64::consts::PI);
            *v = sinc * bessel_i0(SWR_BETA * (1.0 - w * w).max(0.0).sqrt());
        }
        let norm: f64 = c.iter().sum();
        c.iter_mut().for_each(|v| *v /= norm);
        c
    }

    /// Output points whose time falls in frame `f`, `[f, f + 1)`: `k` from
    /// `ceil(f phases / step)` to `ceil((f + 1) phases / step) - 1`.
    fn points_of(&self, f: usize) -> std::ops::Range<u64> {
        let f = f as u64;
        (f * self.phases).div_ceil(self.step)..((f + 1) * self.phases).div_ceil(self.step)
    }

    /// Frames whose points read mirrored samples before the first: `0..mirrored_frames()`.
    pub fn mirrored_frames(&self) -> usize {
        SWR_CENTER
    }

    /// Does ffmpeg output the points of frame `f` of a signal of `len` frames? Only those
    /// whose window ends inside the signal: its `ebur128` filter never flushes the resampler.
    fn emitted(f: usize, len: usize) -> bool {
        f + (SWR_TAPS - 1 - SWR_CENTER) < len
    }

    /// Largest output magnitude in frame `f` of `x` (0 where ffmpeg outputs nothing).
    pub fn frame_peak(&self, x: &[f32], f: usize) -> f32 {
        if !Self::emitted(f, x.len()) {
            return 0.0;
        }
        self.points_of(f)
            .fold(0.0f64, |a, k| a.max(self.point(x, k).abs())) as f32
    }

    /// The output point `k` of `x`.
    fn point(&self, x: &[f32], k: u64) -> f64 {
        let pos = k * self.step;
        let (frame, ph) = ((pos / self.phases) as i64, pos % self.phases);
        let tabled;
        let c: &[f64] = if self.bank.is_empty() {
            tabled = Self::coefficients(ph as f64 / self.phases as f64);
            &tabled
        } else {
            let at = ph as usize * SWR_TAPS;
            &self.bank[at..at + SWR_TAPS]
        };
        let n = x.len() as i64;
        let first = frame - SWR_CENTER as i64;
        c.iter()
            .enumerate()
            .map(|(i, &w)| {
                let j = first + i as i64;
                let j = if j < 0 { -j } else { j };
                if j < n {
                    w * f64::from(x[j as usize])
                } else {
                    0.0
                }
            })
            .sum()
    }

    /// Largest output magnitude over the frames `f` in `start..end` with `candidate(f)`.
    pub fn max_peak_in(
        &self,
        x: &[f32],
        start: usize,
        end: usize,
        candidate: impl Fn(usize) -> bool,
    ) -> f32 {
        (start..end.min(x.len()))
            .filter(|&f| candidate(f))
            .fold(0.0f32, |a, f| a.max(self.frame_peak(x, f)))
    }

    /// [`SwrInterpolator::max_peak_in`] where it reaches `floor`: a value `v` with
    /// `v.max(floor) == max_peak_in(x, start, end, candidate).max(floor)`, to the bit.
    ///
    /// Every output point is first computed in f32 (vectorised): a point whose f32 value is
    /// more than the f32 rounding bound under `floor` cannot reach it and is left out; every
    /// other point is computed exactly as [`SwrInterpolator::max_peak_in`] computes it (f64,
    /// in tap order). The bound: rounding the coefficients to f32, the 32 products and the
    /// 31 additions each err by at most 2^-24 of `sum |c| |x|` (Higham, *Accuracy and
    /// Stability of Numerical Algorithms*, 2nd ed., sec. 3.1), so the f32 value is within
    /// `34 * 2^-24 * abs_sum * max |x|` of the f64 one; the screen allows 64 times 2^-24, and
    /// 4 more units of `floor` for the f32 rounding of the comparison and of the result.
    /// Frames that read mirrored samples (the first [`SWR_CENTER`]) are computed exactly.
    pub fn max_peak_in_above(
        &self,
        x: &[f32],
        start: usize,
        end: usize,
        candidate: impl Fn(usize) -> bool,
        floor: f32,
    ) -> f32 {
        let n = x.len();
        let end = end.min(n);
        if self.bank32.is_empty() || start >= end {
            return self.max_peak_in(x, start, end, candidate);
        }
        // Exactly, as `max_peak_in`: the frames that read mirrored samples.
        let fast_start = start.max(SWR_CENTER).min(end);
        let mut peak = self.max_peak_in(x, start, fast_start, &candidate);
        // The points of the other emitted frames read x[f - SWR_CENTER .. f + SWR_TAPS -
        // SWR_CENTER], all inside `x`.
        let fast_end = end.min(n.saturating_sub(SWR_TAPS - 1 - SWR_CENTER));
        if fast_start >= fast_end {
            return peak;
        }
        let window_max = x[fast_start - SWR_CENTER..fast_end - SWR_CENTER + SWR_TAPS - 1]
            .iter()
            .fold(0.0f32, |a, &v| a.max(v.abs()));
        let u = f64::from(f32::EPSILON) / 2.0;
        let slack =
            (64.0 * u * self.abs_sum * f64::from(window_max) + 4.0 * u * f64::from(floor)) as f32;
        // Points within `slack` of the floor, or above, are computed exactly.
        let screen = floor - slack;
        let mut scan = Scan {
            swr: self,
            x,
            screen,
            peak: &mut peak,
        };
        swr_dispatch(&mut scan, fast_start, fast_end, &candidate);
        peak
    }

    /// Largest output magnitude of the whole of `x` (the tests' reading).
    pub fn peak(&self, x: &[f32]) -> f32 {
        self.max_peak_in(x, 0, x.len(), |_| true)
    }
}

/// The state of one [`SwrInterpolator::max_peak_in_above`] scan.
struct Scan<'a> {
    swr: &'a SwrInterpolator,
    x: &'a [f32],
    /// Points whose f32 magnitude reaches this are computed exactly.
    screen: f32,
    peak: &'a mut f32,
}

/// The f32 value of a point: 32 taps in two 16-lane halves (one AVX-512 register, two AVX2).
#[inline(always)]
fn swr_dot32(c: &[f32], w: &[f32]) -> f32 {
    let (c, w) = (&c[..SWR_TAPS], &w[..SWR_TAPS]);
    let mut acc = [0.0f32; 16];
    for i in 0..16 {
        acc[i] = c[i] * w[i] + c[i + 16] * w[i + 16];
    }
    for half in [8, 4, 2, 1] {
        for i in 0..half {
            acc[i] += acc[i + half];
        }
    }
    acc[0]
}

/// Frames `start..end` of the scan (every one emitted and unmirrored), those with
/// `candidate(f)`.
#[inline(always)]
fn swr_scan(s: &mut Scan, start: usize, end: usize, candidate: &dyn Fn(usize) -> bool) {
    let swr = s.swr;
    let (step, phases) = (swr.step, swr.phases);
    let mut peak = *s.peak;
    for f in (start..end).filter(|&f| candidate(f)) {
        // The first point at or after frame `f`, and its phase: its time is `f + ph / phases`
        // frames.
        let mut k = (f as u64 * phases).div_ceil(step);
        let mut ph = k * step - f as u64 * phases;
        let window = &s.x[f - SWR_CENTER..f - SWR_CENTER + SWR_TAPS];
        while ph < phases {
            let at = ph as usize * SWR_TAPS;
            let v = swr_dot32(&swr.bank32[at..at + SWR_TAPS], window).abs();
            if v >= s.screen {
                peak = peak.max(swr.point(s.x, k).abs() as f32);
            }
            ph += step;
            k += 1;
        }
    }
    *s.peak = peak;
}

/// [`swr_scan`] compiled for the widest vector unit the CPU has (the screen's rounding may
/// differ between them; the result does not, see [`SwrInterpolator::max_peak_in_above`]).
fn swr_dispatch(s: &mut Scan, start: usize, end: usize, candidate: &dyn Fn(usize) -> bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked on the line above.
            return unsafe { swr_scan_avx512(s, start, end, candidate) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked on the line above.
            return unsafe { swr_scan_avx2(s, start, end, candidate) };
        }
    }
    swr_scan(s, start, end, candidate)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn swr_scan_avx512(
    s: &mut Scan,
    start: usize,
    end: usize,
    candidate: &dyn Fn(usize) -> bool,
) {
    swr_scan(s, start, end, candidate)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn swr_scan_avx2(s: &mut Scan, start: usize, end: usize, candidate: &dyn Fn(usize) -> bool) {
    swr_scan(s, start, end, candidate)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// True peak (linear, largest over channels) by the [`Interpolator::reference`] 8x
/// interpolator, with silence before and after the signal ([`Interpolator::edge_peaks`]): a
/// check of the limiter's 4x/2x detector and of ebur128's meter. Channels are measured in
/// parallel; the maximum does not depend on the thread count.
pub fn true_peak_reference(channels: &[&[f32]]) -> f64 {
    let interp = Interpolator::reference();
    channels
        .par_iter()
        .map(|c| {
            let (before, after) = interp.edge_peaks(c);
            interp
                .frame_peaks(c, 0.0)
                .iter()
                .fold(before.max(after), |a, &b| a.max(b))
        })
        .collect::<Vec<f32>>()
        .into_iter()
        .fold(0.0f64, |a, b| a.max(f64::from(b)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn sine(freq_hz: f64, fs: f64, amp: f64, phase: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / fs + phase).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn sliding_max_matches_brute_force() {
        let x: Vec<f32> = (0..50)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.1)
            .collect();
        for w in [1, 2, 5, 7, 49, 50] {
            let fast = sliding_max_abs(&x, w);
            let slow: Vec<f32> = x
                .windows(w)
                .map(|win| win.iter().fold(0.0f32, |a, &b| a.max(b.abs())))
                .collect();
            assert_eq!(fast, slow, "window {w}");
        }
    }

    #[test]
    fn bs1770_interpolator_reads_what_ebur128_reads() {
        // Bright noise with clicks: the largest frame peak is ebur128's true peak.
        for (rate, n) in [(44_100u32, 20_000usize), (96_000, 20_000)] {
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            let x: Vec<f32> = (0..n)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                    if i % 997 == 0 {
                        0.9
                    } else {
                        0.3 * noise
                    }
                })
                .collect();
            let bs = Bs1770Interpolator::new(rate).unwrap();
            let ours = (0..n).map(|f| bs.frame_peak(&x, f)).fold(0.0f32, f32::max);
            let mut meter = ebur128::EbuR128::new(1, rate, ebur128::Mode::TRUE_PEAK).unwrap();
            meter.add_frames_f32(&x).unwrap();
            let theirs = meter.true_peak(0).unwrap();
            // The meter never flushes its last `delay` frames' points; ours reads them as
            // zero-padded, so ours can only be higher, and here the clicks dominate.
            assert!(
                (f64::from(ours) - theirs).abs() < 1e-6,
                "{rate} Hz: ours {ours}, ebur128 {theirs}"
            );
        }
        assert!(Bs1770Interpolator::new(192_000).is_none());
    }

    #[test]
    fn bessel_known_values() {
        // I0(0) = 1, I0(1) = 1.2660658777520082 (Abramowitz & Stegun table 9.8).
        assert_eq!(bessel_i0(0.0), 1.0);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_2).abs() < 1e-14);
    }

    #[test]
    fn branch_zero_is_a_pure_delay() {
        let it = Interpolator::detector(48_000);
        let x = sine(997.0, 48_000.0, 0.8, 0.3, 500);
        let up = it.upsample(&x);
        for (f, &s) in x.iter().enumerate() {
            // The original samples are copied, so equality is exact.
            assert_eq!(up[f * it.factor()], s, "frame {f}");
        }
    }

    #[test]
    fn fs_over_4_sine_at_45_degrees_reads_its_amplitude() {
        // EBU Tech 3341 case 15-style: fs/4 at 45 deg phase, samples at +-0.707 A; true peak A.
        let x = sine(12_000.0, 48_000.0, 0.5, std::f64::consts::FRAC_PI_4, 4_800);
        let it = Interpolator::detector(48_000);
        let peaks = it.frame_peaks(&x, 0.0);
        let p = peaks[100..4_700].iter().fold(0.0f32, |a, &b| a.max(b));
        // 4x lands exactly on the crest (the crest sits at a quarter sample); the pass band
        // ripple of the Kaiser filter at 0.5 x Nyquist is below 0.01 dB.
        assert!((gain_db(p) - gain_db(0.5)).abs() < 0.01, "peak {p}");
        // Away from the abrupt ends (whose Gibbs overshoot is real in the band-limited signal).
        let r = Interpolator::reference().frame_peaks(&x, 0.0)[100..4_700]
            .iter()
            .fold(0.0f32, |a, &b| a.max(b));
        assert!((gain_db(r) - gain_db(0.5)).abs() < 0.01, "reference {r}");
    }

    fn gain_db(x: f32) -> f64 {
        20.0 * f64::from(x).log10()
    }

    #[test]
    fn passband_is_flat_and_images_are_rejected() {
        let it = Interpolator::detector(44_100);
        for &f in &[100.0, 1_000.0, 5_001.0, 10_007.0, 15_013.0, 17_011.0] {
            let x = sine(f, 44_100.0, 1.0, 0.1, 8_000);
            let up = it.upsample(&x);
            // Peak of the interpolated sine over the middle part: the amplitude (1.0) if the
            // branches are flat; a sine at 0.8 x Nyquist needs 4x points within cos(pi*f/(4 fs))
            // of the crest: at most 0.15 dB low at 17.6 kHz, less elsewhere.
            let p = up[4 * 1_000..4 * 7_000]
                .iter()
                .fold(0.0f32, |a, &b| a.max(b.abs()));
            let err_db = gain_db(p);
            assert!(err_db < 0.05 && err_db > -0.2, "{f} Hz: {err_db} dB");
        }
    }

    /// Every frame of [`Interpolator::frame_peaks_range_scalar`].
    pub(crate) fn frame_peaks_scalar(it: &Interpolator, x: &[f32], skip_below: f32) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len()];
        it.frame_peaks_range_scalar(x, 0, &mut out, skip_below);
        out
    }

    #[test]
    fn skipping_never_hides_a_peak_above_the_threshold() {
        let mut x = sine(3_000.0, 44_100.0, 0.01, 0.0, 4_000);
        x[2_000] = 0.9;
        x[2_001] = -0.9;
        let it = Interpolator::detector(44_100);
        let exact = it.frame_peaks(&x, 0.0);
        let fast = it.frame_peaks(&x, 0.5);
        for (f, (&e, &q)) in exact.iter().zip(&fast).enumerate() {
            if e >= 0.5 {
                assert_eq!(e, q, "frame {f}");
            } else {
                assert!(q < 0.5, "frame {f}: {q}");
            }
        }
    }

    #[test]
    fn swr_interpolator_grid_and_normalisation() {
        for fs in [22_050u32, 44_100, 48_000, 88_200, 96_000, 44_101] {
            let swr = SwrInterpolator::new(fs).unwrap();
            // 192 000 points a second, each in exactly one frame.
            let points: u64 = (0..fs as usize)
                .map(|f| swr.points_of(f).count() as u64)
                .sum();
            assert_eq!(points, u64::from(SWR_RATE_HZ), "{fs} Hz");
            // Every phase sums to 1: a constant stays constant away from the end (to f64
            // rounding), mirrored at the start.
            let x = vec![0.5f32; 200];
            for k in 0..(100 * u64::from(SWR_RATE_HZ) / u64::from(fs)) {
                let y = swr.point(&x, k);
                assert!((y - 0.5).abs() < 1e-12, "{fs} Hz, point {k}: {y}");
            }
        }
        // At 48 kHz every fourth point is a sample: phase 0 is a pure delay.
        let swr = SwrInterpolator::new(48_000).unwrap();
        let x = sine(5_000.0, 48_000.0, 0.7, 0.3, 256);
        for f in 0..256 {
            // sin(pi m) of the other taps is 1e-16, not 0.
            let y = swr.point(&x, 4 * f as u64);
            assert!((y - f64::from(x[f])).abs() < 1e-12, "frame {f}: {y}");
        }
        assert!(SwrInterpolator::new(192_000).is_none());
    }

    #[test]
    fn swr_screen_gives_the_exact_maximum_over_its_floor() {
        // Bright noise at full scale with a click near each end (the mirrored start and the
        // unflushed end are read exactly), and a frame selection with gaps.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut x: Vec<f32> = (0..5_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect();
        x[3] = 1.0;
        x[4_990] = -1.0;
        let candidate = |f: usize| f % 7 != 3;
        for fs in [22_050u32, 44_100, 48_000, 96_000] {
            let swr = SwrInterpolator::new(fs).unwrap();
            for (start, end) in [(0, 5_000), (10, 4_000), (20, 21), (4_980, 6_000)] {
                let exact = swr.max_peak_in(&x, start, end, candidate);
                let below = f32::from_bits(exact.to_bits() - 1);
                let above = f32::from_bits(exact.to_bits() + 1);
                for floor in [0.0, 0.5 * exact, below, exact, above, 2.0 * exact] {
                    let screened = swr.max_peak_in_above(&x, start, end, candidate, floor);
                    assert_eq!(
                        screened.max(floor).to_bits(),
                        exact.max(floor).to_bits(),
                        "{fs} Hz, frames {start}..{end}, floor {floor}: {screened} vs {exact}"
                    );
                }
                // Under its floor the screen reads the exact maximum itself.
                assert_eq!(
                    swr.max_peak_in_above(&x, start, end, candidate, 0.0)
                        .to_bits(),
                    exact.to_bits()
                );
            }
        }
    }
}
