//! K-weighted energy per frame, kept to predict the integrated loudness of the same signal
//! after a gain and a slowly varying per-frame gain (the limiter's) without filtering again.
//!
//! The K-weighting is the two biquads of ITU-R BS.1770-4 (high shelf + RLB high-pass), with
//! the coefficients for any sample rate as libebur128 and the `ebur128` crate compute them;
//! the gating is BS.1770-4's: 400 ms blocks every 100 ms, absolute gate at -70 LUFS, relative
//! gate 10 LU under the mean of the blocks above it.
//!
//! The filter is linear and time-invariant, so `K(G x) = G K(x)` exactly. For a per-frame gain
//! `l[n]` (the limiter's), `K(l x) ~ l K(x)` when `l` changes slowly against the filter's
//! impulse response: the limiter's gain changes over milliseconds (5 ms attack, 100 ms
//! release), its effect on the weighted energy is close to `l^2`. That is an estimate; the
//! renderer measures the result with `ebur128` and corrects (see [`super::chain`]).

use rayon::prelude::*;

/// Energy of the -70 LUFS absolute gate: `10^((-70 + 0.691) / 10)`.
const ABSOLUTE_GATE_ENERGY: f64 = 1.174_897_554_939_529_5e-7;

/// K-weighted energy per frame: the sum over channels, weighted by lathe's one channel rule
/// ([`crate::analysis::meter::channel_weights`]: 1 for mono, L, R and C).
#[derive(Clone, Debug)]
pub struct KWeighted {
    energy: Vec<f32>,
    hop: usize,
}

/// The BS.1770-4 pre-filter and RLB filter for a rate: `(b, a)` of each biquad, `a[0] = 1`.
#[allow(non_snake_case)]
fn coefficients(sample_rate_hz: u32) -> [([f64; 3], [f64; 3]); 2] {
    let rate = f64::from(sample_rate_hz);
    let f0 = 1_681.974_450_955_533;
    let G = 3.999_843_853_973_347;
    let Q = 0.707_175_236_955_419_6;
    let K = (std::f64::consts::PI * f0 / rate).tan();
    let Vh = 10f64.powf(G / 20.0);
    let Vb = Vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + K / Q + K * K;
    let shelf = (
        [
            (Vh + Vb * K / Q + K * K) / a0,
            2.0 * (K * K - Vh) / a0,
            (Vh - Vb * K / Q + K * K) / a0,
        ],
        [1.0, 2.0 * (K * K - 1.0) / a0, (1.0 - K / Q + K * K) / a0],
    );
    let f0 = 38.135_470_876_024_44;
    let Q = 0.500_327_037_323_877_3;
    let K = (std::f64::consts::PI * f0 / rate).tan();
    let d = 1.0 + K / Q + K * K;
    let highpass = (
        [1.0, -2.0, 1.0],
        [1.0, 2.0 * (K * K - 1.0) / d, (1.0 - K / Q + K * K) / d],
    );
    [shelf, highpass]
}

/// Power response of the K-weighting at `freq_hz`, dB: both BS.1770-4 biquads of this rate
/// evaluated on the unit circle (used to predict how an EQ moves integrated loudness).
pub fn response_db(freq_hz: f64, sample_rate_hz: u32) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq_hz / f64::from(sample_rate_hz);
    coefficients(sample_rate_hz)
        .iter()
        .map(|(b, a)| {
            let z = |c: &[f64; 3]| {
                let re = c[0] + c[1] * w.cos() + c[2] * (2.0 * w).cos();
                let im = -(c[1] * w.sin() + c[2] * (2.0 * w).sin());
                re * re + im * im
            };
            10.0 * (z(b) / z(a)).log10()
        })
        .sum()
}

/// Transposed direct form II state of the two biquads, `LANES` channels side by side.
struct Cascade<const LANES: usize> {
    coeffs: [([f64; 3], [f64; 3]); 2],
    s1: [f64; LANES],
    s2: [f64; LANES],
    t1: [f64; LANES],
    t2: [f64; LANES],
}

impl<const LANES: usize> Cascade<LANES> {
    fn new(sample_rate_hz: u32) -> Self {
        Self {
            coeffs: coefficients(sample_rate_hz),
            s1: [0.0; LANES],
            s2: [0.0; LANES],
            t1: [0.0; LANES],
            t2: [0.0; LANES],
        }
    }

    /// The squares of the K-weighted samples `v` (one per lane), rounded to f32. Each lane does
    /// the operations of a one-channel filter in the same order (f64, no fused multiply-add):
    /// the lanes run in one vector register with the bits of separate passes.
    #[inline(always)]
    fn step(&mut self, v: [f32; LANES]) -> [f32; LANES] {
        let [(b1, a1), (b2, a2)] = self.coeffs;
        let mut out = [0.0f32; LANES];
        for l in 0..LANES {
            let v = f64::from(v[l]);
            let y = b1[0] * v + self.s1[l];
            self.s1[l] = b1[1] * v - a1[1] * y + self.s2[l];
            self.s2[l] = b1[2] * v - a1[2] * y;
            let z = b2[0] * y + self.t1[l];
            self.t1[l] = b2[1] * y - a2[1] * z + self.t2[l];
            self.t2[l] = b2[2] * y - a2[2] * z;
            out[l] = (z * z) as f32;
        }
        out
    }
}

/// Adds channel `c`'s weighted squares (`sq`, already `* w` when `w != 1`) into `e`: the first
/// channel sets it, the others add in channel order.
#[inline(always)]
fn accumulate(e: &mut f32, c: usize, sq: f32, w: f32) {
    let sq = if w != 1.0 { sq * w } else { sq };
    *e = if c == 0 { sq } else { *e + sq };
}

impl KWeighted {
    /// Filters every channel into the per-frame energy: channels two at a time in one loop
    /// (two independent recursions keep the core busy while each waits on its previous
    /// output), the sum over channels in channel order. The values are those of filtering each
    /// channel alone and summing, to the bit.
    pub fn new(channels: &[Vec<f32>], sample_rate_hz: u32) -> Self {
        let weights: Vec<f32> = crate::analysis::meter::channel_weights(channels.len())
            .into_iter()
            .map(|w| w as f32)
            .collect();
        let mut energy: Vec<f32> = Vec::new();
        let mut c = 0;
        while c < channels.len() {
            if c + 1 < channels.len() {
                let (p, q) = (&channels[c], &channels[c + 1]);
                let (wp, wq) = (weights[c], weights[c + 1]);
                let mut k = Cascade::<2>::new(sample_rate_hz);
                if c == 0 {
                    energy = p
                        .iter()
                        .zip(q)
                        .map(|(&s, &t)| {
                            let [a, b] = k.step([s, t]);
                            let mut e = 0.0;
                            accumulate(&mut e, 0, a, wp);
                            accumulate(&mut e, 1, b, wq);
                            e
                        })
                        .collect();
                } else {
                    for ((e, &s), &t) in energy.iter_mut().zip(p).zip(q) {
                        let [a, b] = k.step([s, t]);
                        accumulate(e, c, a, wp);
                        accumulate(e, c + 1, b, wq);
                    }
                }
                c += 2;
            } else {
                let p = &channels[c];
                let w = weights[c];
                let mut k = Cascade::<1>::new(sample_rate_hz);
                if c == 0 {
                    energy = p
                        .iter()
                        .map(|&s| {
                            let mut e = 0.0;
                            accumulate(&mut e, 0, k.step([s])[0], w);
                            e
                        })
                        .collect();
                } else {
                    for (e, &s) in energy.iter_mut().zip(p) {
                        accumulate(e, c, k.step([s])[0], w);
                    }
                }
                c += 1;
            }
        }
        Self {
            energy,
            hop: (sample_rate_hz as usize + 5) / 10,
        }
    }

    /// Integrated loudness (LUFS) of the signal times `gain` (linear) and, if given, times
    /// `frame_gain[n]` at frame `n`. `-inf` when no block passes the absolute gate.
    pub fn integrated_lufs(&self, gain: f64, frame_gain: Option<&[f32]>) -> f64 {
        match frame_gain {
            None => self.integrated_lufs_with(gain, None::<fn(usize) -> f32>),
            Some(g) => self.integrated_lufs_with(gain, Some(|f: usize| g[f])),
        }
    }

    /// [`KWeighted::integrated_lufs`] with the per-frame gain given by `frame_gain(frame)`.
    pub fn integrated_lufs_with(
        &self,
        gain: f64,
        frame_gain: Option<impl Fn(usize) -> f32 + Sync>,
    ) -> f64 {
        let hop = self.hop.max(1);
        // Per-hop sums, each in frame order: deterministic whatever the thread count.
        let hop_energy: Vec<f64> = match frame_gain {
            None => self
                .energy
                .par_chunks(hop)
                .map(|c| c.iter().map(|&e| f64::from(e)).sum::<f64>())
                .collect(),
            Some(g) => self
                .energy
                .par_chunks(hop)
                .enumerate()
                .map(|(h, c)| {
                    c.iter()
                        .enumerate()
                        .map(|(k, &e)| {
                            let g = f64::from(g(h * hop + k));
                            f64::from(e) * g * g
                        })
                        .sum::<f64>()
                })
                .collect(),
        };
        gated_lufs(&hop_energy, self.energy.len(), hop, gain)
    }

    /// The energy per frame (summed over the channels).
    pub fn energy(&self) -> &[f32] {
        &self.energy
    }

    /// The energy's buffer, for a gain curve to be made over it ([`HopSums`] keeps what an
    /// estimate needs of it).
    pub fn into_energy(self) -> Vec<f32> {
        self.energy
    }

    /// An empty [`HopSums`] for this energy's frames.
    pub fn hop_sums(&self) -> HopSums {
        HopSums {
            hop: self.hop.max(1),
            frames: self.energy.len(),
            whole: std::sync::Mutex::new(Vec::new()),
            parts: std::sync::Mutex::new(Vec::new()),
        }
    }
}

/// The per-hop sums of [`KWeighted::integrated_lufs_with`] gathered from stretches of frames
/// that arrive in any order, from any thread (a gain curve made in segments, see
/// [`super::limiter::gain_curve_segments`]): each hop is still summed in frame order, the
/// parts of a hop that two stretches share joined first, so the loudness is the same to the
/// bit as [`KWeighted::integrated_lufs_with`]'s with the same gains.
pub struct HopSums {
    hop: usize,
    frames: usize,
    /// Hops inside one stretch: (hop, sum).
    whole: std::sync::Mutex<Vec<(usize, f64)>>,
    /// Parts of hops that straddle stretches: (hop, first frame, each frame's term).
    parts: std::sync::Mutex<Vec<(usize, usize, Vec<f64>)>>,
}

impl HopSums {
    /// Adds frames `start .. start + energy.len()`, whose energies are `energy`, at the gain
    /// `frame_gain(frame)` (frames given once each).
    pub fn add(&self, start: usize, energy: &[f32], frame_gain: impl Fn(usize) -> f32 + Sync) {
        let end = (start + energy.len()).min(self.frames);
        if start >= end {
            return;
        }
        let hop = self.hop;
        let term = |f: usize| {
            let g = f64::from(frame_gain(f));
            f64::from(energy[f - start]) * g * g
        };
        let range = |h: usize| (h * hop, ((h + 1) * hop).min(self.frames));
        let (first, last) = (start / hop, (end - 1) / hop);
        let whole: Vec<(usize, f64)> = (first..=last)
            .into_par_iter()
            .filter_map(|h| {
                let (a, b) = range(h);
                (a >= start && b <= end).then(|| (h, (a..b).map(term).sum::<f64>()))
            })
            .collect();
        let mut parts = Vec::new();
        for h in [first, last] {
            let (a, b) = range(h);
            let partial = a < start || b > end;
            if partial && parts.last().is_none_or(|&(k, _, _)| k != h) {
                let (a, b) = (a.max(start), b.min(end));
                parts.push((h, a, (a..b).map(term).collect::<Vec<f64>>()));
            }
        }
        self.whole.lock().expect("no panic holds it").extend(whole);
        self.parts.lock().expect("no panic holds it").extend(parts);
    }

    /// The integrated loudness (LUFS) of the frames added, times `gain` (linear); as
    /// [`KWeighted::integrated_lufs_with`].
    pub fn integrated_lufs(self, gain: f64) -> f64 {
        let hops = self.frames.div_ceil(self.hop);
        let mut hop_energy = vec![0.0f64; hops];
        for (h, sum) in self.whole.into_inner().expect("no panic holds it") {
            hop_energy[h] = sum;
        }
        let mut parts = self.parts.into_inner().expect("no panic holds it");
        parts.sort_by_key(|&(h, start, _)| (h, start));
        for group in parts.chunk_by(|a, b| a.0 == b.0) {
            hop_energy[group[0].0] = group
                .iter()
                .flat_map(|(_, _, terms)| terms.iter().copied())
                .sum::<f64>();
        }
        gated_lufs(&hop_energy, self.frames, self.hop, gain)
    }
}

/// BS.1770's gated loudness (LUFS) of per-hop energies (the first `frames / hop` hops, in
/// 4-hop blocks) times `gain^2`. `-inf` when no block passes the absolute gate.
fn gated_lufs(hop_energy: &[f64], frames: usize, hop: usize, gain: f64) -> f64 {
    let full_hops = frames / hop;
    if full_hops < 4 {
        return f64::NEG_INFINITY;
    }
    let scale = gain * gain / (4 * hop) as f64;
    let blocks: Vec<f64> = hop_energy[..full_hops]
        .windows(4)
        .map(|w| (w[0] + w[1] + w[2] + w[3]) * scale)
        .filter(|&e| e >= ABSOLUTE_GATE_ENERGY)
        .collect();
    if blocks.is_empty() {
        return f64::NEG_INFINITY;
    }
    let relative = blocks.iter().sum::<f64>() / blocks.len() as f64 * 0.1;
    let (sum, count) = blocks
        .iter()
        .filter(|&&e| e >= relative)
        .fold((0.0, 0usize), |(s, n), &e| (s + e, n + 1));
    if count == 0 {
        return f64::NEG_INFINITY;
    }
    10.0 * (sum / count as f64).log10() - 0.691
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ebur128_lufs(channels: &[Vec<f32>], fs: u32) -> f64 {
        let views: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
        let mut m = ebur128::EbuR128::new(channels.len() as u32, fs, ebur128::Mode::I).unwrap();
        m.add_frames_planar_f32(&views).unwrap();
        m.loudness_global().unwrap()
    }

    /// Deterministic noise-like programme with a level change.
    fn programme(frames: usize, fs: u32) -> Vec<Vec<f32>> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let mut l = Vec::with_capacity(frames);
        let mut r = Vec::with_capacity(frames);
        for n in 0..frames {
            let env = if n < frames / 2 { 0.3 } else { 0.05 };
            let tone = (2.0 * std::f64::consts::PI * 220.0 * n as f64 / f64::from(fs)).sin();
            l.push(env * (next() + 0.5 * tone as f32));
            r.push(env * (next() - 0.3 * tone as f32));
        }
        vec![l, r]
    }

    #[test]
    fn matches_ebur128_at_unity_and_with_a_gain() {
        for fs in [44_100, 48_000, 96_000] {
            let ch = programme(fs as usize * 6, fs);
            let kw = KWeighted::new(&ch, fs);
            let ours = kw.integrated_lufs(1.0, None);
            let theirs = ebur128_lufs(&ch, fs);
            // Same filter and gating; f32 storage of the per-frame energy and a relative gate
            // without libebur128's histogram rounding: well under 0.001 LU.
            assert!((ours - theirs).abs() < 1e-3, "{fs} Hz: {ours} vs {theirs}");
            let half = kw.integrated_lufs(0.5, None);
            // A gain of 0.5 is -6.0206 dB exactly (up to f64 rounding).
            assert!((half - (ours - 6.020_599_913)).abs() < 1e-6, "{half}");
        }
    }

    /// The per-frame energy of the old layout: each channel filtered alone (one-lane, the
    /// same transposed direct form II), squared to f32, weighted, summed in channel order.
    fn energy_one_channel_at_a_time(channels: &[Vec<f32>], fs: u32) -> Vec<f32> {
        let weights = crate::analysis::meter::channel_weights(channels.len());
        let [(b1, a1), (b2, a2)] = coefficients(fs);
        let mut energy = vec![0.0f32; channels[0].len()];
        for (c, (x, w)) in channels.iter().zip(weights).enumerate() {
            let (mut s1, mut s2, mut t1, mut t2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
            for (e, &v) in energy.iter_mut().zip(x) {
                let v = f64::from(v);
                let y = b1[0] * v + s1;
                s1 = b1[1] * v - a1[1] * y + s2;
                s2 = b1[2] * v - a1[2] * y;
                let z = b2[0] * y + t1;
                t1 = b2[1] * y - a2[1] * z + t2;
                t2 = b2[2] * y - a2[2] * z;
                let mut sq = (z * z) as f32;
                if w != 1.0 {
                    sq *= w as f32;
                }
                *e = if c == 0 { sq } else { *e + sq };
            }
        }
        energy
    }

    #[test]
    fn channels_in_lanes_give_the_bits_of_one_at_a_time() {
        let fs = 44_100;
        let two = programme(fs as usize, fs);
        for n in 1..=6 {
            let ch: Vec<Vec<f32>> = (0..n)
                .map(|c| {
                    two[c % 2]
                        .iter()
                        .map(|&v| v * (1.0 + c as f32 * 0.1))
                        .collect()
                })
                .collect();
            let kw = KWeighted::new(&ch, fs);
            let want = energy_one_channel_at_a_time(&ch, fs);
            assert_eq!(kw.energy.len(), want.len(), "{n} channels");
            for (f, (a, b)) in kw.energy.iter().zip(&want).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "{n} channels, frame {f}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn frame_gain_scales_the_energy() {
        let fs = 48_000;
        let ch = programme(fs as usize * 4, fs);
        let kw = KWeighted::new(&ch, fs);
        let g = vec![0.5f32; ch[0].len()];
        let a = kw.integrated_lufs(1.0, Some(&g));
        let b = kw.integrated_lufs(0.5, None);
        // The same product in a different order of operations.
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }

    #[test]
    fn hop_sums_from_stretches_give_the_same_loudness_to_the_bit() {
        // Stretches that straddle hops, in any order: each hop is summed in frame order.
        let fs = 48_000;
        let ch = programme(fs as usize * 5 + 333, fs);
        let kw = KWeighted::new(&ch, fs);
        let n = kw.energy().len();
        let curve: Vec<f32> = (0..n)
            .map(|f| 0.5 + 0.5 * ((f as f64 / 977.0).sin() as f32).abs())
            .collect();
        let expected = kw.integrated_lufs(0.8, Some(&curve));
        let sums = kw.hop_sums();
        let cuts = [0, 1, 4_799, 4_800, 17_000, 100_003, 100_004, 200_000, n];
        let mut stretches: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        stretches.reverse();
        stretches.swap(1, 4);
        stretches
            .par_iter()
            .for_each(|&(a, b)| sums.add(a, &kw.energy()[a..b], |f| curve[f]));
        let got = sums.integrated_lufs(0.8);
        assert_eq!(got.to_bits(), expected.to_bits(), "{got} vs {expected}");
        assert!(got.is_finite());
    }

    #[test]
    fn silence_is_minus_infinity() {
        let kw = KWeighted::new(&[vec![0.0; 48_000]], 48_000);
        assert_eq!(kw.integrated_lufs(1.0, None), f64::NEG_INFINITY);
    }
}
