//! Texture over time (schema 3): what the fine structure, the shape and the pulse of the
//! spectrum do from frame to frame. Genre lives here more than in the long-term balance: a pad
//! and an orchestra can share a band curve, not their frame-by-frame peakiness, noisiness,
//! pitch focus or pulse. These feed the genre classifier.
//!
//! Read from the octave-band analysis [`super::dynamics`] already does (46 ms Hann frames of
//! the mid signal, 23 ms hop): per frame it also keeps, from the same power spectrum, each
//! octave's contrast and flatness, a 12-bin chroma and the spectral centroid
//! ([`FrameTexture`], [`frame_texture`]). Over the frames that pass a -30 dB relative gate:
//!
//! - **Frame contrast** per octave: mean (and standard deviation) over frames of the top fifth
//!   of the octave's bins over the bottom fifth, dB (D.-N. Jiang et al., "Music type
//!   classification by spectral contrast feature", ICME 2002, per frame as there).
//! - **Flatness** per octave: mean over frames of geometric over arithmetic mean power of the
//!   octave's bins, dB (<= 0; 0 = noise-like; MPEG-7 AudioSpectrumFlatness, per octave).
//! - **Relative level spread** per octave: standard deviation over time of the octave's level
//!   minus the frame's total level, dB: the spectral shape coming and going, not the loudness.
//! - **Centroid**: standard deviation of log2 of the centroid, and its mean frame-to-frame
//!   change, octaves.
//! - **Shape change**: mean absolute change of the relative octave levels from frame to frame,
//!   and between consecutive 1 s means (how fast the texture evolves), dB; the 1 s loudness
//!   change, dB.
//! - **Pulse per register**: the onset envelope of [`super::rhythm`] (rectified octave level
//!   rise) of the low (31-125 Hz), middle (250 Hz-2 kHz) and high (4-16 kHz) octaves: its mean
//!   (flux) and tempo strength (peak normalised autocorrelation at 0.25-2 s) per register.
//! - **Modulation spectrum** of the envelopes (all octaves, low, middle, high): Welch
//!   periodogram (Hann, 512 frames = 11.9 s, 50 % overlap); power in octave bands around 0.5,
//!   1, 2, 4 and 8 Hz over the power in 0.25-16 Hz, dB (after the modulation-spectrum features
//!   of M. McKinney and J. Breebaart, "Features for audio and music classification", ISMIR
//!   2003).
//! - **Periodicity**: peak normalised autocorrelation of the all-octave envelope in lags of
//!   0.1-0.25, 0.25-0.5, 0.5-1, 1-2 and 2-4 s.
//! - **Chroma** (60 Hz-5 kHz, bins to the nearest equal-tempered pitch class): the peak of the
//!   mean chroma times 12 (1 = no pitch focus), the entropy of the mean chroma and the mean
//!   entropy per frame (nats), and the mean frame-to-frame change (L1).
//!
//! Gains and static EQs change none of these (or barely: an EQ's slope inside one octave):
//! they are ratios inside a band, level differences, or normalised.

use super::dynamics::{octave_centres_hz, OctaveFrames};
use super::rhythm::{autocorrelation, band_levels_db, onset_envelope};
use super::spectrum::gate;
use super::Texture;
use crate::units::power_to_db;

/// Frames more than this far under the mean frame power are left out, dB (as rhythm's).
const GATE_DB: f64 = -30.0;
/// Fraction of an octave's bins at each end used by the frame contrast.
const CONTRAST_FRACTION: f64 = 0.2;
/// An octave with fewer FFT bins than this has no contrast or flatness (reads 0).
const MIN_OCTAVE_BINS: usize = 6;
/// Chroma range, Hz.
const CHROMA_LOW_HZ: f64 = 60.0;
const CHROMA_HIGH_HZ: f64 = 5000.0;
/// Register groups of octave indices (of [`octave_centres_hz`]): low, middle, high.
const REGISTERS: [std::ops::Range<usize>; 3] = [0..3, 3..7, 7..10];
/// Modulation-spectrum centres (octave bands), Hz, and the reference range.
pub const MODULATION_HZ: [f64; 5] = [0.5, 1.0, 2.0, 4.0, 8.0];
const MODULATION_RANGE_HZ: (f64, f64) = (0.25, 16.0);
/// Welch window of the modulation spectrum, envelope frames.
const MODULATION_WINDOW: usize = 512;
/// Lag ranges of the periodicity features, seconds.
pub const PERIODICITY_LAGS_S: [(f64, f64); 5] =
    [(0.1, 0.25), (0.25, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0)];
/// Tempo lag range (as rhythm's), seconds.
const BEAT_LAGS_S: (f64, f64) = (0.25, 2.0);

/// What one frame's power spectrum says about its texture.
#[derive(Clone, Debug, Default)]
pub(crate) struct FrameTexture {
    pub contrast_db: Vec<f32>,
    pub flatness_db: Vec<f32>,
    /// Power per pitch class (C = 0 .. B = 11 is not needed: any fixed order), sums to 1.
    pub chroma: [f32; 12],
    pub centroid_hz: f32,
}

/// Bin ranges for [`frame_texture`] at one frame size: the octaves' bins and each chroma
/// bin's pitch class.
pub(crate) struct TextureBins {
    octaves: Vec<std::ops::Range<usize>>,
    chroma: Vec<(usize, usize)>,
    bin_hz: f64,
}

impl TextureBins {
    pub(crate) fn new(bins: usize, bin_hz: f64) -> Self {
        let edge = 10f64.powf(0.15);
        let octaves = octave_centres_hz()
            .iter()
            .map(|&c| {
                let lo = ((c / edge) / bin_hz).ceil() as usize;
                let hi = (((c * edge) / bin_hz).floor() as usize + 1).min(bins);
                lo.min(hi)..hi
            })
            .collect();
        let chroma = (1..bins)
            .filter_map(|k| {
                let f = k as f64 * bin_hz;
                (CHROMA_LOW_HZ..CHROMA_HIGH_HZ).contains(&f).then(|| {
                    let pc = (12.0 * (f / 440.0).log2()).round().rem_euclid(12.0) as usize;
                    (k, pc.min(11))
                })
            })
            .collect();
        Self {
            octaves,
            chroma,
            bin_hz,
        }
    }
}

/// The texture of one frame from its power spectrum `power` (bin `k` at `k * bin_hz`);
/// `scratch` is reused between frames.
pub(crate) fn frame_texture(
    power: &[f64],
    bins: &TextureBins,
    scratch: &mut Vec<f64>,
) -> FrameTexture {
    let mut contrast_db = Vec::with_capacity(bins.octaves.len());
    let mut flatness_db = Vec::with_capacity(bins.octaves.len());
    for r in &bins.octaves {
        let band = &power[r.clone()];
        let mean = band.iter().sum::<f64>() / band.len().max(1) as f64;
        if band.len() < MIN_OCTAVE_BINS || mean <= 0.0 {
            contrast_db.push(0.0);
            flatness_db.push(0.0);
            continue;
        }
        // Powers floored 100 dB under the band's mean: a zero bin cannot send the geometric
        // mean to -inf.
        let floor = mean * 1e-10;
        let log_mean = band.iter().map(|&p| p.max(floor).ln()).sum::<f64>() / band.len() as f64;
        flatness_db.push(power_to_db(log_mean.exp() / mean).clamp(-100.0, 0.0) as f32);
        scratch.clear();
        scratch.extend(band.iter().map(|&p| p.max(floor)));
        let k = ((band.len() as f64 * CONTRAST_FRACTION).round() as usize).max(1);
        scratch.select_nth_unstable_by(k - 1, f64::total_cmp);
        let valley = scratch[..k].iter().sum::<f64>() / k as f64;
        let n = scratch.len();
        scratch.select_nth_unstable_by(n - k, f64::total_cmp);
        let peak = scratch[n - k..].iter().sum::<f64>() / k as f64;
        contrast_db.push(power_to_db(peak / valley).clamp(0.0, 100.0) as f32);
    }
    let mut chroma = [0.0f64; 12];
    for &(k, pc) in &bins.chroma {
        chroma[pc] += power[k];
    }
    let total: f64 = chroma.iter().sum();
    let chroma = chroma.map(|c| if total > 0.0 { (c / total) as f32 } else { 0.0 });
    let (mut num, mut den) = (0.0, 0.0);
    for (k, &p) in power.iter().enumerate().skip(1) {
        num += p * k as f64 * bins.bin_hz;
        den += p;
    }
    FrameTexture {
        contrast_db,
        flatness_db,
        chroma,
        centroid_hz: if den > 0.0 { (num / den) as f32 } else { 0.0 },
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

fn std_dev(v: &[f64]) -> f64 {
    let m = mean(v.iter().copied());
    mean(v.iter().map(|x| (x - m) * (x - m))).sqrt()
}

fn entropy(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| x * x.ln())
        .sum::<f64>()
}

/// Measures the texture features from the octave frames (see the module docs).
pub(crate) fn measure(frames: &OctaveFrames) -> Texture {
    let bands = frames.per_band.len();
    let kept = gate(&frames.total, GATE_DB);
    if kept.len() < 8
        || bands == 0
        || frames.hop_s <= 0.0
        || frames.texture.len() != frames.total.len()
    {
        return Texture::zeros(bands);
    }
    let tex: Vec<&FrameTexture> = kept.iter().map(|&t| &frames.texture[t]).collect();
    let per_octave = |get: fn(&FrameTexture) -> &[f32], b: usize| -> Vec<f64> {
        tex.iter().map(|f| f64::from(get(f)[b])).collect()
    };
    let frame_contrast: Vec<Vec<f64>> = (0..bands)
        .map(|b| per_octave(|f| &f.contrast_db, b))
        .collect();
    let frame_contrast_db = frame_contrast
        .iter()
        .map(|v| mean(v.iter().copied()))
        .collect();
    let frame_contrast_std_db = frame_contrast.iter().map(|v| std_dev(v)).collect();
    let flatness_db = (0..bands)
        .map(|b| mean(per_octave(|f| &f.flatness_db, b).into_iter()))
        .collect();

    // Relative octave levels (level minus the frame's total level), dB, on the kept frames.
    let levels = band_levels_db(frames, &kept);
    let total_db: Vec<f64> = kept
        .iter()
        .map(|&t| power_to_db(frames.total[t].max(1e-30)))
        .collect();
    let rel: Vec<Vec<f64>> = levels
        .iter()
        .map(|l| {
            kept.iter()
                .zip(&total_db)
                .map(|(&t, tot)| l[t] - tot)
                .collect()
        })
        .collect();
    let relative_level_std_db = rel.iter().map(|v| std_dev(v)).collect();
    let m = kept.len();
    let shape_change_db = mean((1..m).map(|i| mean(rel.iter().map(|v| (v[i] - v[i - 1]).abs()))));
    let block = ((1.0 / frames.hop_s).round() as usize).max(1);
    let blocks = m / block;
    let block_mean = |v: &[f64], j: usize| mean(v[j * block..(j + 1) * block].iter().copied());
    let (shape_change_1s_db, level_change_1s_db) = if blocks >= 2 {
        (
            mean((1..blocks).map(|j| {
                mean(
                    rel.iter()
                        .map(|v| (block_mean(v, j) - block_mean(v, j - 1)).abs()),
                )
            })),
            mean(
                (1..blocks)
                    .map(|j| (block_mean(&total_db, j) - block_mean(&total_db, j - 1)).abs()),
            ),
        )
    } else {
        (0.0, 0.0)
    };

    let centroid: Vec<f64> = tex
        .iter()
        .map(|f| f64::from(f.centroid_hz).max(1.0).log2())
        .collect();
    let centroid_std_oct = std_dev(&centroid);
    let centroid_change_oct = mean(centroid.windows(2).map(|w| (w[1] - w[0]).abs()));

    // Envelopes of all octaves and of each register (0 where a frame is gated out).
    let mut is_kept = vec![false; frames.total.len()];
    for &t in &kept {
        is_kept[t] = true;
    }
    let groups: Vec<std::ops::Range<usize>> = std::iter::once(0..bands)
        .chain(
            REGISTERS
                .iter()
                .map(|r| r.start.min(bands)..r.end.min(bands)),
        )
        .collect();
    let envelopes: Vec<Vec<f64>> = groups
        .iter()
        .map(|r| onset_envelope(&levels, &is_kept, r.clone()))
        .collect();
    let lag = |s: f64| ((s / frames.hop_s).round() as usize).max(1);
    let mut tempo_strength_bands = Vec::new();
    let mut flux_bands_db = Vec::new();
    for env in &envelopes[1..] {
        flux_bands_db.push(mean(kept.iter().map(|&t| env[t])));
        let ac = autocorrelation(env, lag(BEAT_LAGS_S.1));
        let (lo, hi) = (
            lag(BEAT_LAGS_S.0),
            lag(BEAT_LAGS_S.1).min(ac.len().saturating_sub(1)),
        );
        tempo_strength_bands.push(peak(&ac, lo, hi));
    }
    let ac = autocorrelation(&envelopes[0], lag(PERIODICITY_LAGS_S[4].1));
    let periodicity = PERIODICITY_LAGS_S
        .iter()
        .map(|&(a, b)| peak(&ac, lag(a), lag(b).min(ac.len().saturating_sub(1))))
        .collect();
    let modulation_db = envelopes
        .iter()
        .flat_map(|env| modulation_spectrum_db(env, frames.hop_s))
        .collect();

    // Chroma.
    let mut mean_chroma = [0.0f64; 12];
    for f in &tex {
        for (m, &c) in mean_chroma.iter_mut().zip(&f.chroma) {
            *m += f64::from(c);
        }
    }
    let s: f64 = mean_chroma.iter().sum();
    if s > 0.0 {
        for m in &mut mean_chroma {
            *m /= s;
        }
    }
    let chroma_peak = mean_chroma.iter().copied().fold(0.0, f64::max) * 12.0;
    let chroma_entropy = entropy(&mean_chroma);
    let chroma_frame_entropy = mean(tex.iter().map(|f| entropy(&f.chroma.map(f64::from))));
    let chroma_change = mean(tex.windows(2).map(|w| {
        w[0].chroma
            .iter()
            .zip(&w[1].chroma)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum::<f64>()
    }));
    Texture {
        frame_contrast_db,
        frame_contrast_std_db,
        flatness_db,
        relative_level_std_db,
        centroid_std_oct,
        centroid_change_oct,
        shape_change_db,
        shape_change_1s_db,
        level_change_1s_db,
        tempo_strength_bands,
        flux_bands_db,
        modulation_db,
        periodicity,
        chroma_peak,
        chroma_entropy,
        chroma_frame_entropy,
        chroma_change,
    }
}

/// Highest value of `ac[lo..=hi]` (0 when the range is empty or all negative).
fn peak(ac: &[f64], lo: usize, hi: usize) -> f64 {
    if lo > hi || hi >= ac.len() {
        return 0.0;
    }
    ac[lo..=hi].iter().copied().fold(0.0, f64::max)
}

/// Power of the envelope around each of [`MODULATION_HZ`] over its power in
/// [`MODULATION_RANGE_HZ`], dB (floored at -90; see the module docs).
fn modulation_spectrum_db(envelope: &[f64], hop_s: f64) -> Vec<f64> {
    use realfft::RealFftPlanner;
    let n = MODULATION_WINDOW;
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let window: Vec<f64> = super::spectrum::hann(n);
    let mut input = fft.make_input_vec();
    let mut output = fft.make_output_vec();
    let mut power = vec![0.0f64; n / 2 + 1];
    let starts: Vec<usize> = if envelope.len() <= n {
        vec![0]
    } else {
        (0..=envelope.len() - n).step_by(n / 2).collect()
    };
    for &s in &starts {
        let seg = &envelope[s..(s + n).min(envelope.len())];
        let m = mean(seg.iter().copied());
        input.fill(0.0);
        for ((x, &v), &w) in input.iter_mut().zip(seg).zip(&window) {
            *x = (v - m) * w;
        }
        fft.process(&mut input, &mut output)
            .expect("buffer sizes come from the same plan");
        for (p, c) in power.iter_mut().zip(&output) {
            *p += c.norm_sqr();
        }
    }
    let bin_hz = 1.0 / (n as f64 * hop_s);
    let sum_in = |lo: f64, hi: f64| -> f64 {
        power
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                let f = *k as f64 * bin_hz;
                f >= lo && f < hi
            })
            .map(|(_, p)| p)
            .sum()
    };
    let reference = sum_in(MODULATION_RANGE_HZ.0, MODULATION_RANGE_HZ.1);
    MODULATION_HZ
        .iter()
        .map(|&c| {
            let e = sum_in(c / 2f64.sqrt(), c * 2f64.sqrt());
            if reference > 0.0 && e > 0.0 {
                power_to_db(e / reference).max(-90.0)
            } else {
                -90.0
            }
        })
        .collect()
}

impl Texture {
    /// Every feature at its "nothing measured" value, for `octaves` octaves.
    pub fn zeros(octaves: usize) -> Self {
        Self {
            frame_contrast_db: vec![0.0; octaves],
            frame_contrast_std_db: vec![0.0; octaves],
            flatness_db: vec![0.0; octaves],
            relative_level_std_db: vec![0.0; octaves],
            tempo_strength_bands: vec![0.0; REGISTERS.len()],
            flux_bands_db: vec![0.0; REGISTERS.len()],
            modulation_db: vec![-90.0; (REGISTERS.len() + 1) * MODULATION_HZ.len()],
            periodicity: vec![0.0; PERIODICITY_LAGS_S.len()],
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::{analyze, Texture};
    use crate::audio::AudioBuffer;

    fn noise_source(seed: u32) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            f64::from(state) / f64::from(u32::MAX) * 2.0 - 1.0
        }
    }

    fn texture(x: &[f32], rate: u32) -> Texture {
        analyze(&AudioBuffer::new(rate, vec![x.to_vec(), x.to_vec()]).unwrap())
            .unwrap()
            .texture
            .expect("measured")
    }

    fn white(rate: u32, seconds: f64, level: f64) -> Vec<f32> {
        let mut noise = noise_source(0x1234_5678);
        (0..(f64::from(rate) * seconds) as usize)
            .map(|_| (level * noise()) as f32)
            .collect()
    }

    #[test]
    fn white_noise_reads_the_flatness_of_a_periodogram_and_a_tone_reads_peaky() {
        let rate = 44_100;
        let noise = texture(&white(rate, 10.0, 0.3), rate);
        // A periodogram bin of white noise is exponentially distributed (chi-square, 2
        // degrees of freedom), so E[ln p] = ln E[p] - Euler's gamma: flatness
        // 10 log10(e^-0.5772) = -2.51 dB in every octave with enough bins. Normalising by each
        // frame's own mean biases it up by about var/2 of that mean (0.1 dB with the 33
        // correlated bins of the 1 kHz octave); the estimate over ~430 frames scatters far
        // less than the 0.3 dB allowed.
        for b in 5..9 {
            assert!(
                (noise.flatness_db[b] + 2.507).abs() < 0.3,
                "octave {b}: {:?}",
                noise.flatness_db
            );
        }
        let tone: Vec<f32> = (0..rate as usize * 10)
            .map(|i| {
                (0.3 * (std::f64::consts::TAU * 1760.0 * i as f64 / f64::from(rate)).sin()) as f32
            })
            .collect();
        let t = texture(&tone, rate);
        // Exponential bins again: the top fifth averages 1 + ln 5 = 2.609 times the mean, the
        // bottom fifth (1 - 0.8 (1 + ln 1.25)) / 0.2 = 0.1074 times: 13.85 dB of contrast
        // (+-1 dB: 13 bins at each end of the 2 kHz octave per frame, dB averaged).
        assert!(
            (noise.frame_contrast_db[6] - 13.85).abs() < 1.0,
            "{noise:?}"
        );
        // The 2 kHz octave (1413..2818 Hz) holds the 1760 Hz tone: its Hann main lobe (4
        // bins) over 60-odd bins of sidelobes is tens of dB of contrast and far from flat.
        assert!(t.frame_contrast_db[6] > 40.0, "{t:?}");
        assert!(t.flatness_db[6] < -20.0, "{t:?}");
        // All of the tone's power lands in one pitch class (its main lobe spans +-0.4
        // semitone at 1760 Hz): the chroma peak is near 12. White noise spreads over all 12;
        // its top octave weighs each semitone by its width, up to 12 * 1.89 / 16.8 = 1.35.
        assert!(t.chroma_peak > 11.0, "{t:?}");
        assert!(
            noise.chroma_peak < 1.6 && noise.chroma_peak > 0.9,
            "{noise:?}"
        );
        assert!(
            noise.chroma_entropy > t.chroma_entropy + 1.5,
            "{noise:?} {t:?}"
        );
    }

    /// Bursts of `freq_hz` (10 ms attack, 80 ms decay) every `period_s`, over quiet noise.
    fn pulses(rate: u32, seconds: f64, period_s: f64, freq_hz: f64) -> Vec<f32> {
        let mut noise = noise_source(0x9e37_79b9);
        let period = (period_s * f64::from(rate)) as usize;
        (0..(f64::from(rate) * seconds) as usize)
            .map(|i| {
                let t = (i % period) as f64 / f64::from(rate);
                let env = if t < 0.01 {
                    t / 0.01
                } else {
                    (-(t - 0.01) / 0.08).exp()
                };
                let tone = (std::f64::consts::TAU * freq_hz * i as f64 / f64::from(rate)).sin();
                (0.02 * noise() + 0.5 * env * tone) as f32
            })
            .collect()
    }

    #[test]
    fn a_pulse_shows_in_its_register_its_modulation_rate_and_its_lag() {
        let rate = 44_100;
        // A 60 Hz "kick" every 0.5 s over steady noise: the low register pulses, the high one
        // (noise only) does not.
        let kick = texture(&pulses(rate, 30.0, 0.5, 60.0), rate);
        assert!(kick.tempo_strength_bands[0] > 0.5, "{kick:?}");
        assert!(kick.tempo_strength_bands[2] < 0.2, "{kick:?}");
        // 2 Hz pulses put their modulation power at 2 Hz and its harmonics, none in the 0.5
        // and 1 Hz octaves (0.35..1.41 Hz): the low register's 2 Hz band is well above them.
        let low = &kick.modulation_db[5..10];
        assert!(low[2] > low[0] + 10.0 && low[2] > low[1] + 10.0, "{low:?}");
        // The all-octave envelope repeats every 0.5 s: the 0.25-0.5 s and 0.5-1 s lag ranges
        // hold it (both include 0.5 s), 0.1-0.25 s does not.
        assert!(
            kick.periodicity[1] > 0.5 && kick.periodicity[2] > 0.5,
            "{kick:?}"
        );
        assert!(kick.periodicity[0] < 0.3, "{kick:?}");
    }

    #[test]
    fn gain_changes_no_texture_feature() {
        let rate = 44_100;
        let x = pulses(rate, 12.0, 0.4, 300.0);
        let quiet: Vec<f32> = x.iter().map(|v| v * 0.1).collect();
        let (a, b) = (texture(&x, rate), texture(&quiet, rate));
        let flat = |t: &Texture| -> Vec<f64> {
            let mut v = [
                &t.frame_contrast_db,
                &t.frame_contrast_std_db,
                &t.flatness_db,
                &t.relative_level_std_db,
                &t.tempo_strength_bands,
                &t.flux_bands_db,
                &t.modulation_db,
                &t.periodicity,
            ]
            .iter()
            .flat_map(|v| v.iter().copied())
            .collect::<Vec<_>>();
            v.extend([
                t.centroid_std_oct,
                t.centroid_change_oct,
                t.shape_change_db,
                t.shape_change_1s_db,
                t.level_change_1s_db,
                t.chroma_peak,
                t.chroma_entropy,
                t.chroma_frame_entropy,
                t.chroma_change,
            ]);
            v
        };
        let (va, vb) = (flat(&a), flat(&b));
        assert_eq!(va.len(), 10 * 4 + 3 + 3 + 20 + 5 + 9);
        // -20 dB: every feature is a ratio or a level difference; f32 spectra round at
        // about 1e-7 relative, well under 1e-3 dB.
        for (i, (x, y)) in va.iter().zip(&vb).enumerate() {
            assert!((x - y).abs() < 1e-3, "feature {i}: {x} vs {y}");
        }
        // Something was measured (not the all-zero fallback).
        assert!(
            a.frame_contrast_db[5] > 1.0 && a.periodicity[2] > 0.3,
            "{a:?}"
        );
    }
}
