//! The refined frame peaks of [`super::oversample::Interpolator`], computed for
//! [`LANES`] consecutive frames at once so that the compiler vectorises them.
//!
//! Frame `f`'s peak is the one [`super::oversample::Interpolator::frame_peaks`] defines: the
//! largest magnitude among the sample `x[f]` and the branch points at `f + p / factor`, and at
//! every local maximum among `[f - 1/factor, f, .., f + 1]` the vertex of the parabola through
//! it and its neighbours. The signal is silent before its first frame and after its last.
//!
//! Each branch point is a sum over the taps in tap order, lane by lane (multiply, then add; no
//! fused multiply-add), so the value of a frame does not depend on the vector width, on the
//! blocking or on the thread count: every machine gives the same bits. (The scalar
//! `Interpolator::point` sums in 8 partial lanes: the two differ by f32 rounding only.)

/// Frames computed together (one AVX-512 register of f32, two AVX2 registers).
pub const LANES: usize = 16;
/// Largest oversampling factor the scans take.
pub const MAX_FACTOR: usize = 8;

/// The branch coefficients of an interpolator, stored as `Interpolator` stores them:
/// `branches[p][j]` multiplies `padded[f + j]` for the point at `f + p / factor`, where
/// `padded[k] = x[k - half_span]`. Branch 0 is the sample itself (a pure delay).
#[derive(Clone, Copy)]
pub struct Branches<'a> {
    pub branches: &'a [Vec<f32>],
    pub taps: usize,
}

impl Branches<'_> {
    fn factor(&self) -> usize {
        assert!(
            (1..=MAX_FACTOR).contains(&self.branches.len()),
            "1..={MAX_FACTOR} branches"
        );
        self.branches.len()
    }

    fn half_span(&self) -> usize {
        (self.taps - 1) / 2
    }
}

/// The input around frames `start .. end` with one more frame in front for the point at
/// `f - 1/factor`: `local[k] = x[start - 1 - half_span + k]`, zero outside `x`, long enough for
/// whole blocks of [`LANES`] frames.
fn local_padded(b: Branches, x: &[f32], start: usize, end: usize) -> Vec<f32> {
    let hs = b.half_span() as isize;
    let frames = (end - start).div_ceil(LANES) * LANES;
    let mut local = vec![0.0f32; frames + b.taps + 2];
    let first = start as isize - 1 - hs;
    let lo = first.max(0) as usize;
    let hi = ((first + local.len() as isize).max(0) as usize).min(x.len());
    if lo < hi {
        let at = (lo as isize - first) as usize;
        local[at..at + hi - lo].copy_from_slice(&x[lo..hi]);
    }
    local
}

/// Refined peaks of the [`LANES`] frames whose point at `f - 1/factor` has its window at
/// `local[i ..]` (frame `f`'s window at `local[i + 1 ..]`). `w` is `local[i ..]`, at least
/// `LANES + taps + 1` long.
#[cfg(test)]
fn block(b: Branches, w: &[f32], peaks: &mut [f32; LANES]) {
    match b.factor() {
        1 => block_of::<1>(b, w, None, peaks),
        2 => block_of::<2>(b, w, None, peaks),
        3 => block_of::<3>(b, w, None, peaks),
        4 => block_of::<4>(b, w, None, peaks),
        5 => block_of::<5>(b, w, None, peaks),
        6 => block_of::<6>(b, w, None, peaks),
        7 => block_of::<7>(b, w, None, peaks),
        _ => block_of::<8>(b, w, None, peaks),
    };
}

/// The refined peaks of one block (see `block`) for `R` branches; returns the block's last
/// point (its last lane's last branch point), which is the next block's point before its
/// first frame: `before`, if given, is that point of the previous block.
///
/// The branch points are summed tap by tap for all branches at once: `R - 1` independent
/// sums, so that the vector unit is not waiting on one addition after the other. Each lane of
/// each branch still adds its products in tap order, so the values are those of one branch
/// after the other, to the bit; and the previous block's last point is the same sum over the
/// same samples in the same order as the one this block would compute.
#[inline(always)]
fn block_of<const R: usize>(
    b: Branches,
    w: &[f32],
    before: Option<f32>,
    peaks: &mut [f32; LANES],
) -> f32 {
    let t = b.taps;
    let hs = b.half_span();
    let w = &w[..LANES + t + 1];
    let branches = b.branches;
    let coeffs: [&[f32]; R] = std::array::from_fn(move |p| &branches[p][..t]);
    // points[0]: f - 1/r; points[1]: x[f]; points[1 + p]: branch p; points[r + 1]: x[f + 1].
    let mut points = [[0.0f32; LANES]; MAX_FACTOR + 2];
    points[1].copy_from_slice(&w[1 + hs..1 + hs + LANES]);
    points[R + 1].copy_from_slice(&w[2 + hs..2 + hs + LANES]);
    let mut acc = [[0.0f32; LANES]; R];
    for j in 0..t {
        let xs = <&[f32; LANES]>::try_from(&w[1 + j..1 + j + LANES]).expect("LANES samples");
        for p in 1..R {
            let cj = coeffs[p][j];
            for (a, &v) in acc[p].iter_mut().zip(xs) {
                *a += cj * v;
            }
        }
    }
    points[2..R + 1].copy_from_slice(&acc[1..]);
    // The point before each frame is the previous frame's last branch point; for the first
    // lane it is computed here, with the same sum in the same order.
    if R > 1 {
        points[0][0] = before.unwrap_or_else(|| {
            let mut first = 0.0f32;
            for (j, &cj) in coeffs[R - 1].iter().enumerate() {
                first += cj * w[j];
            }
            first
        });
        let last = points[R];
        points[0][1..].copy_from_slice(&last[..LANES - 1]);
    } else {
        points[0].copy_from_slice(&w[hs..hs + LANES]);
    }
    let mut peak = [0.0f32; LANES];
    for l in 0..LANES {
        peak[l] = points[1][l].abs();
    }
    for k in 1..=R {
        for l in 0..LANES {
            let a = points[k - 1][l].abs();
            let bb = points[k][l].abs();
            let c = points[k + 1][l].abs();
            let mut p = peak[l].max(bb);
            let denom = a - 2.0 * bb + c;
            let vertex = bb - (a - c) * (a - c) / (8.0 * denom);
            if bb >= a && bb >= c && denom < 0.0 {
                p = p.max(vertex);
            }
            peak[l] = p;
        }
    }
    *peaks = peak;
    points[R][LANES - 1]
}

/// [`block`] for every block of `local` that `wanted(first_frame_offset)` accepts, each result
/// passed to `put(first_frame_offset, &peaks)`.
#[inline(always)]
fn scan(
    b: Branches,
    local: &[f32],
    frames: usize,
    wanted: &mut dyn FnMut(usize) -> bool,
    put: &mut dyn FnMut(usize, &[f32; LANES]),
) {
    match b.factor() {
        1 => scan_of::<1>(b, local, frames, wanted, put),
        2 => scan_of::<2>(b, local, frames, wanted, put),
        3 => scan_of::<3>(b, local, frames, wanted, put),
        4 => scan_of::<4>(b, local, frames, wanted, put),
        5 => scan_of::<5>(b, local, frames, wanted, put),
        6 => scan_of::<6>(b, local, frames, wanted, put),
        7 => scan_of::<7>(b, local, frames, wanted, put),
        _ => scan_of::<8>(b, local, frames, wanted, put),
    }
}

/// [`scan`] for `R` branches: a block right after a computed one takes its point before the
/// first frame from it.
#[inline(always)]
fn scan_of<const R: usize>(
    b: Branches,
    local: &[f32],
    frames: usize,
    wanted: &mut dyn FnMut(usize) -> bool,
    put: &mut dyn FnMut(usize, &[f32; LANES]),
) {
    let mut peaks = [0.0f32; LANES];
    let mut before = None;
    let mut i = 0;
    while i < frames {
        before = if wanted(i) {
            let last = block_of::<R>(b, &local[i..i + LANES + b.taps + 1], before, &mut peaks);
            put(i, &peaks);
            Some(last)
        } else {
            None
        };
        i += LANES;
    }
}

/// [`scan`] compiled for the widest vector unit the CPU has; every variant does the same
/// operations in the same order.
fn dispatch(
    b: Branches,
    local: &[f32],
    frames: usize,
    wanted: &mut dyn FnMut(usize) -> bool,
    put: &mut dyn FnMut(usize, &[f32; LANES]),
) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked on the line above.
            return unsafe { scan_avx512(b, local, frames, wanted, put) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked on the line above.
            return unsafe { scan_avx2(b, local, frames, wanted, put) };
        }
    }
    scan(b, local, frames, wanted, put)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn scan_avx512(
    b: Branches,
    local: &[f32],
    frames: usize,
    wanted: &mut dyn FnMut(usize) -> bool,
    put: &mut dyn FnMut(usize, &[f32; LANES]),
) {
    scan(b, local, frames, wanted, put)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(
    b: Branches,
    local: &[f32],
    frames: usize,
    wanted: &mut dyn FnMut(usize) -> bool,
    put: &mut dyn FnMut(usize, &[f32; LANES]),
) {
    scan(b, local, frames, wanted, put)
}

/// Frame peaks of frames `start .. start + out.len()` of `x` into `out`. A block of
/// [`LANES`] frames whose inputs (every sample any of its points reads) stay under
/// `skip_below / bound` cannot reach `skip_below` (`bound`: the largest absolute sum of a
/// branch's coefficients, at least 1): its frames get that bound, `max |x| * bound`, which is
/// under `skip_below`, instead of their exact value.
pub fn frame_peaks_range(
    b: Branches,
    bound: f32,
    x: &[f32],
    start: usize,
    out: &mut [f32],
    skip_below: f32,
) {
    let n = out.len();
    if n == 0 {
        return;
    }
    let local = local_padded(b, x, start, start + n);
    let span = LANES + b.taps + 1;
    let mut estimate = vec![0.0f32; n.div_ceil(LANES)];
    let mut wanted = |i: usize| {
        let m = local[i..i + span]
            .iter()
            .fold(0.0f32, |a, &v| a.max(v.abs()))
            * bound;
        estimate[i / LANES] = m;
        m >= skip_below
    };
    let mut computed = vec![false; n.div_ceil(LANES)];
    let mut put = |i: usize, peaks: &[f32; LANES]| {
        let len = LANES.min(n - i);
        out[i..i + len].copy_from_slice(&peaks[..len]);
        computed[i / LANES] = true;
    };
    dispatch(b, &local, n, &mut wanted, &mut put);
    for (k, chunk) in out.chunks_mut(LANES).enumerate() {
        if !computed[k] {
            chunk.fill(estimate[k]);
        }
    }
}

/// Largest frame peak over the frames `f` in `start .. end` of `x` with `candidate(f)`.
pub fn max_peak_in(
    b: Branches,
    x: &[f32],
    start: usize,
    end: usize,
    candidate: impl Fn(usize) -> bool,
) -> f32 {
    let Some(first) = (start..end).find(|&f| candidate(f)) else {
        return 0.0;
    };
    // Up to the last candidate only: the input copied and scanned is the candidates' span.
    let end = (first..end)
        .rev()
        .find(|&f| candidate(f))
        .map_or(end, |f| f + 1);
    let n = end - first;
    let local = local_padded(b, x, first, end);
    let mut best = 0.0f32;
    let mut wanted = |i: usize| (first + i..(first + i + LANES).min(end)).any(&candidate);
    let mut put = |i: usize, peaks: &[f32; LANES]| {
        for (l, &p) in peaks.iter().enumerate().take(n - i) {
            if candidate(first + i + l) {
                best = best.max(p);
            }
        }
    };
    dispatch(b, &local, n, &mut wanted, &mut put);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::oversample::tests::frame_peaks_scalar;
    use crate::render::oversample::Interpolator;

    fn noise(n: usize, seed: u64, level: f32) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * level
            })
            .collect()
    }

    /// Loud noise with a quiet stretch, a hard start and a hard end: every frame against the
    /// scalar interpolator, which sums the same products in another order (f32 rounding).
    #[test]
    fn frame_peaks_are_the_interpolators_to_rounding() {
        let mut x = noise(20_011, 7, 0.9);
        for v in &mut x[5_000..9_000] {
            *v *= 1e-3;
        }
        for interp in [
            Interpolator::detector(44_100),
            Interpolator::detector(96_000),
            Interpolator::reference(),
        ] {
            let scalar = frame_peaks_scalar(&interp, &x, 0.0);
            for start in [0, 1, 17, 4_096] {
                let mut fast = vec![0.0f32; x.len() - start - 3];
                frame_peaks_range(interp.branches(), 1.0, &x, start, &mut fast, 0.0);
                for (k, (&a, &b)) in fast.iter().zip(&scalar[start..]).enumerate() {
                    // Frame 0's point before the file: silence there (the scalar code reads 0).
                    if start + k == 0 {
                        continue;
                    }
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs() + 1e-9,
                        "factor {}, frame {}: {a} vs {b}",
                        interp.factor(),
                        start + k
                    );
                }
            }
        }
    }

    /// The branch points one branch after the other, as `block` summed them before its
    /// branches were interleaved.
    fn block_branch_by_branch(b: Branches, w: &[f32]) -> [f32; LANES] {
        let r = b.factor();
        let t = b.taps;
        let hs = b.half_span();
        let mut points = [[0.0f32; LANES]; MAX_FACTOR + 2];
        points[1].copy_from_slice(&w[1 + hs..1 + hs + LANES]);
        points[r + 1].copy_from_slice(&w[2 + hs..2 + hs + LANES]);
        for p in 1..r {
            let mut acc = [0.0f32; LANES];
            for (j, &cj) in b.branches[p][..t].iter().enumerate() {
                for (a, &v) in acc.iter_mut().zip(&w[1 + j..1 + j + LANES]) {
                    *a += cj * v;
                }
            }
            points[1 + p] = acc;
        }
        if r > 1 {
            let mut first = 0.0f32;
            for (j, &cj) in b.branches[r - 1][..t].iter().enumerate() {
                first += cj * w[j];
            }
            points[0][0] = first;
            let last = points[r];
            points[0][1..].copy_from_slice(&last[..LANES - 1]);
        } else {
            points[0].copy_from_slice(&w[hs..hs + LANES]);
        }
        let mut peak = [0.0f32; LANES];
        for (l, p) in peak.iter_mut().enumerate() {
            *p = points[1][l].abs();
            for k in 1..=r {
                let (a, bb, c) = (
                    points[k - 1][l].abs(),
                    points[k][l].abs(),
                    points[k + 1][l].abs(),
                );
                let mut q = p.max(bb);
                let denom = a - 2.0 * bb + c;
                let vertex = bb - (a - c) * (a - c) / (8.0 * denom);
                if bb >= a && bb >= c && denom < 0.0 {
                    q = q.max(vertex);
                }
                *p = q;
            }
        }
        peak
    }

    #[test]
    fn interleaved_branches_give_the_bits_of_one_branch_at_a_time() {
        let x = noise(4_096, 5, 0.9);
        for interp in [
            Interpolator::detector(44_100),
            Interpolator::detector(96_000),
            Interpolator::reference(),
            Interpolator::new(3, 8, 6.0),
            Interpolator::new(1, 4, 6.0),
        ] {
            let b = interp.branches();
            let span = LANES + b.taps + 1;
            for i in (0..x.len() - span).step_by(37) {
                let mut got = [0.0f32; LANES];
                block(b, &x[i..i + span], &mut got);
                let want = block_branch_by_branch(b, &x[i..i + span]);
                for l in 0..LANES {
                    assert_eq!(
                        got[l].to_bits(),
                        want[l].to_bits(),
                        "factor {}, offset {i}, lane {l}: {} vs {}",
                        interp.factor(),
                        got[l],
                        want[l]
                    );
                }
            }
        }
    }

    /// Skipped blocks read a bound that is under the skip level and over their true peaks.
    #[test]
    fn skipped_blocks_read_a_bound_under_the_skip_level() {
        let mut x = noise(10_000, 3, 0.9);
        for v in &mut x[2_000..6_000] {
            *v *= 0.01;
        }
        let interp = Interpolator::detector(48_000);
        let exact = frame_peaks_scalar(&interp, &x, 0.0);
        let bound = interp.abs_sum_bound() as f32;
        let skip = 0.1;
        let mut fast = vec![0.0f32; x.len()];
        frame_peaks_range(interp.branches(), bound, &x, 0, &mut fast, skip);
        let mut skipped = 0;
        for (f, (&a, &e)) in fast.iter().zip(&exact).enumerate() {
            if e >= skip {
                assert!((a - e).abs() <= 1e-5 * e, "frame {f}: {a} vs {e}");
            } else {
                assert!(a >= e * (1.0 - 1e-6), "frame {f}: bound {a} under {e}");
            }
            if (2_100..5_900).contains(&f) {
                assert!(a < skip, "frame {f}: {a}");
                skipped += usize::from(a != e);
            }
        }
        assert!(skipped > 3_000, "{skipped} frames skipped");
    }

    #[test]
    fn max_peak_in_reads_only_the_candidates() {
        let x = noise(5_000, 11, 0.5);
        let interp = Interpolator::reference();
        let exact = frame_peaks_scalar(&interp, &x, 0.0);
        let candidate = |f: usize| f % 97 == 5 || f == 4_999;
        let want = (0..x.len())
            .filter(|&f| candidate(f))
            .map(|f| exact[f])
            .fold(0.0f32, f32::max);
        let got = max_peak_in(interp.branches(), &x, 0, x.len(), candidate);
        assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
        assert_eq!(max_peak_in(interp.branches(), &x, 10, 20, |_| false), 0.0);
    }
}
