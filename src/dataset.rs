//! Training examples for the targets model: "un-mastering" masters.
//!
//! No freely licensed corpus pairs a raw mix with its master, so lathe makes the pairs: each
//! master listed in a manifest is turned into several plausible unmastered mixes, and one CSV
//! row is written per (mix, master) pair: the mix's [`input_vector`] (`x_*`, the model input)
//! and the master's [`target_vector`] (`y_*`, what the model should predict), plus the genre.
//! The same Rust analysis runs here and at inference, so the model sees identical numbers.
//!
//! What separates a real mix from its master is modest (mastering engineers move a few dB):
//! level and peak level, density (PLR), a little tone and width. The degradations draw exactly
//! those, in two stages:
//!
//! 1. **Audio** ([`AudioChange`], rendered and analysed): dynamics expansion (undoing
//!    compression: an upward expander on the linked short-term RMS envelope, ratio 1.0..1.5
//!    above the envelope's 60th percentile, at most +8 dB, programme (300 ms) or transient
//!    (40 ms) release), a side gain of -3..+3 dB, and a gain that puts the sample peak at
//!    -8..-3 dBFS (where unmastered mixes peak). Audio variant 0 is the master itself.
//! 2. **Tone, in the feature domain** ([`TonalChange`], [`apply_tonal`]): a static EQ changes
//!    each band's level by the EQ's power response averaged over the band, and the integrated
//!    loudness by the K-weighted power change, so the EQ'd mix's features are computed from the
//!    audio variant's features without rendering (checked against real renders in the tests:
//!    bands within 0.2 dB). Each audio variant gets several tonal variants, one of them none:
//!    a low shelf (80..250 Hz) and a high shelf (2.5..10 kHz) of -4..+4 dB each, zero to two
//!    bells of +-2..5 dB (Q 0.7..2.5, 60 Hz..10 kHz), and a tilt of -1..+1 dB/decade.
//!    Biquads follow Robert Bristow-Johnson's "Cookbook formulae for audio EQ biquad filter
//!    coefficients" (W3C Audio EQ Cookbook).
//!
//! The tonal stage leaves alone what a static EQ barely moves (octave crest, rhythm, stereo
//! correlation) and moves the peak with the loudness (PLR kept): small approximations next
//! to the spread of the degradations.
//!
//! Long tracks are cropped to their central `max_seconds` ([`MAX_SECONDS`] by default) to
//! bound time. Everything is
//! deterministic from the seed (SplitMix64 per track and variant), whatever the thread count.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::analysis::{analyze, Features, SILENT_BAND_DB};
use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::io::decode::decode_file;
use crate::targets::model::{input_names, input_vector, output_names, target_vector};
use crate::units::db_to_gain;

/// Default longest stretch of a track that is analysed, seconds (the central part is kept).
pub const MAX_SECONDS: f64 = 120.0;
/// Shortest track used, seconds.
pub const MIN_SECONDS: f64 = 5.0;

/// One master listed in a manifest CSV (columns `path`, `genre`, `license`, `source`; others
/// are ignored). Relative paths are relative to the manifest's folder.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestEntry {
    pub path: PathBuf,
    pub genre: String,
    pub license: String,
    /// The collection it came from (e.g. a Debian package): the unit of the train/validation
    /// split, so no album leaks across.
    pub source: String,
    /// Track name (column `track`, else the file stem).
    pub track: String,
}

/// What [`build_dataset`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSummary {
    pub tracks: usize,
    pub rows: usize,
    /// Tracks that could not be used, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Splits one CSV line (RFC 4180 quoting: `"a, b"` and `""` inside quotes).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Reads a manifest CSV.
pub fn read_manifest(manifest: &Path) -> Result<Vec<ManifestEntry>> {
    let text = std::fs::read_to_string(manifest).map_err(|source| Error::Read {
        path: manifest.to_path_buf(),
        source,
    })?;
    let base = manifest.parent().unwrap_or(Path::new("."));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = split_csv_line(lines.next().unwrap_or_default());
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(c_path), Some(c_genre)) = (col("path"), col("genre")) else {
        return Err(Error::InvalidSetting(format!(
            "manifest '{}' needs the columns path and genre (found: {})",
            manifest.display(),
            header.join(", ")
        )));
    };
    let (c_license, c_source, c_track) = (col("license"), col("source"), col("track"));
    let mut entries = Vec::new();
    for (k, line) in lines.enumerate() {
        let f = split_csv_line(line);
        let get = |c: Option<usize>| c.and_then(|c| f.get(c)).map_or("", |s| s.trim());
        let rel = get(Some(c_path));
        let genre = get(Some(c_genre));
        if rel.is_empty() || genre.is_empty() {
            return Err(Error::InvalidSetting(format!(
                "manifest '{}' row {}: empty path or genre",
                manifest.display(),
                k + 2
            )));
        }
        let path = if Path::new(rel).is_absolute() {
            PathBuf::from(rel)
        } else {
            base.join(rel)
        };
        let track = match get(c_track) {
            "" => path
                .file_stem()
                .map_or(String::new(), |s| s.to_string_lossy().into_owned()),
            t => t.to_string(),
        };
        entries.push(ManifestEntry {
            genre: genre.to_string(),
            license: get(c_license).to_string(),
            source: match get(c_source) {
                "" => "unknown".to_string(),
                s => s.to_string(),
            },
            track,
            path,
        });
    }
    Ok(entries)
}

// ----- deterministic randomness ----------------------------------------------------------------

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and plenty for drawing degradations.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
}

/// Seed of one (track, variant) pair: independent of processing order and thread count.
fn pair_seed(seed: u64, track: &str, variant: usize) -> u64 {
    // FNV-1a over the track name, mixed with the seed and the variant.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in track.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut r = Rng::new(h ^ seed.rotate_left(17) ^ (variant as u64).wrapping_mul(0x9e37_79b9));
    r.next_u64()
}

// ----- filters ---------------------------------------------------------------------------------

/// The crate's one RBJ-cookbook biquad (shared with the report's EQ fit).
pub use crate::render::biquad::Biquad;

/// The rendered part of one "un-mastering" (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct AudioChange {
    pub side_gain_db: f64,
    /// Upward expansion ratio above the threshold (1 = none).
    pub expansion_ratio: f64,
    pub expansion_release_ms: f64,
    /// Sample peak of the result, dBFS (`None`: keep the level).
    pub peak_dbfs: Option<f64>,
}

impl AudioChange {
    /// No change: the master itself.
    pub fn none() -> Self {
        Self {
            side_gain_db: 0.0,
            expansion_ratio: 1.0,
            expansion_release_ms: 300.0,
            peak_dbfs: None,
        }
    }

    pub fn random(rng: &mut Rng) -> Self {
        let side_gain_db = rng.uniform(-3.0, 3.0);
        let expansion_ratio = rng.uniform(1.0, 1.5);
        let expansion_release_ms = if rng.uniform(0.0, 1.0) < 0.5 {
            300.0
        } else {
            40.0
        };
        Self {
            side_gain_db,
            expansion_ratio,
            expansion_release_ms,
            peak_dbfs: Some(rng.uniform(-8.0, -3.0)),
        }
    }

    /// Applies the change to a stereo (or mono) buffer.
    pub fn apply(&self, audio: &AudioBuffer) -> Result<AudioBuffer> {
        let fs = f64::from(audio.sample_rate_hz);
        let mut channels = audio.channels.clone();
        if channels.len() == 2 && self.side_gain_db != 0.0 {
            let side_gain = db_to_gain(self.side_gain_db) as f32;
            let (l, r) = channels.split_at_mut(1);
            for (a, b) in l[0].iter_mut().zip(r[0].iter_mut()) {
                let m = 0.5 * (*a + *b);
                let s = 0.5 * (*a - *b) * side_gain;
                *a = m + s;
                *b = m - s;
            }
        }
        expand(
            &mut channels,
            fs,
            self.expansion_ratio,
            self.expansion_release_ms,
        );
        if let Some(peak_dbfs) = self.peak_dbfs {
            let peak = channels
                .iter()
                .flat_map(|c| c.iter())
                .fold(0.0f32, |m, v| m.max(v.abs()));
            if peak > 0.0 {
                let gain = (db_to_gain(peak_dbfs) / f64::from(peak)) as f32;
                for ch in &mut channels {
                    for s in ch.iter_mut() {
                        *s *= gain;
                    }
                }
            }
        }
        AudioBuffer::new(audio.sample_rate_hz, channels)
    }
}

/// The tonal part of one "un-mastering": a static EQ, applied in the feature domain.
#[derive(Clone, Debug, PartialEq)]
pub struct TonalChange {
    pub tilt_db_per_decade: f64,
    /// Low shelf: (corner Hz, gain dB).
    pub low_shelf: (f64, f64),
    /// High shelf: (corner Hz, gain dB).
    pub high_shelf: (f64, f64),
    /// Peaking bells: (centre Hz, gain dB, Q).
    pub bells: Vec<(f64, f64, f64)>,
}

/// Shelf corner frequencies of the tilt cascade: every half decade, 31.6 Hz .. 10 kHz.
const TILT_SHELVES_HZ: [f64; 6] = [31.62, 100.0, 316.2, 1000.0, 3162.0, 10000.0];

impl TonalChange {
    /// No change.
    pub fn none() -> Self {
        Self {
            tilt_db_per_decade: 0.0,
            low_shelf: (100.0, 0.0),
            high_shelf: (5000.0, 0.0),
            bells: Vec::new(),
        }
    }

    pub fn random(rng: &mut Rng) -> Self {
        let tilt_db_per_decade = rng.uniform(-1.0, 1.0);
        let low_shelf = (
            80.0 * (250.0f64 / 80.0).powf(rng.uniform(0.0, 1.0)),
            rng.uniform(-4.0, 4.0),
        );
        let high_shelf = (
            2500.0 * (10000.0f64 / 2500.0).powf(rng.uniform(0.0, 1.0)),
            rng.uniform(-4.0, 4.0),
        );
        let n_bells = (rng.uniform(0.0, 3.0) as usize).min(2);
        let bells = (0..n_bells)
            .map(|_| {
                let f = 60.0 * (10000.0f64 / 60.0).powf(rng.uniform(0.0, 1.0));
                let sign = if rng.uniform(0.0, 1.0) < 0.5 {
                    -1.0
                } else {
                    1.0
                };
                (f, sign * rng.uniform(2.0, 5.0), rng.uniform(0.7, 2.5))
            })
            .collect();
        Self {
            tilt_db_per_decade,
            low_shelf,
            high_shelf,
            bells,
        }
    }

    /// The EQ as biquads for one sample rate: tilt cascade, shelves, bells. Filters whose
    /// corner is above 0.45 fs are left out.
    pub fn filters(&self, sample_rate_hz: f64) -> Vec<Biquad> {
        let mut f = Vec::new();
        let ok = |fc: f64| fc < 0.45 * sample_rate_hz;
        // Each high shelf adds tilt/2 dB above its corner: half-decade spacing gives
        // `tilt` dB per decade with about +-0.3 dB ripple (shelf slope 0.5 is broad).
        if self.tilt_db_per_decade != 0.0 {
            for &fc in TILT_SHELVES_HZ.iter().filter(|&&fc| ok(fc)) {
                f.push(Biquad::high_shelf_slope(
                    fc,
                    self.tilt_db_per_decade / 2.0,
                    0.5,
                    sample_rate_hz,
                ));
            }
        }
        let (fl, gl) = self.low_shelf;
        if gl != 0.0 && ok(fl) {
            // Q = 1/sqrt 2: the steepest monotonic shelf (RBJ slope 1).
            f.push(Biquad::low_shelf(
                fl,
                gl,
                std::f64::consts::FRAC_1_SQRT_2,
                sample_rate_hz,
            ));
        }
        let (fh, gh) = self.high_shelf;
        if gh != 0.0 && ok(fh) {
            f.push(Biquad::high_shelf(
                fh,
                gh,
                std::f64::consts::FRAC_1_SQRT_2,
                sample_rate_hz,
            ));
        }
        for &(fc, g, q) in &self.bells {
            if ok(fc) {
                f.push(Biquad::peaking(fc, g, q, sample_rate_hz));
            }
        }
        f
    }

    /// Renders the EQ on audio (for checking [`apply_tonal`], and for listening).
    pub fn render(&self, audio: &AudioBuffer) -> Result<AudioBuffer> {
        let filters = self.filters(f64::from(audio.sample_rate_hz));
        let mut channels = audio.channels.clone();
        for ch in &mut channels {
            for f in &filters {
                f.process(ch);
            }
        }
        AudioBuffer::new(audio.sample_rate_hz, channels)
    }

    /// Power response averaged over each third-octave band (edges `c * 10^(+-1/20)`), dB:
    /// the change of the band's level for content spread evenly over the band's bins.
    pub fn band_response_db(&self, center_hz: &[f64], sample_rate_hz: f64) -> Vec<f64> {
        let filters = self.filters(sample_rate_hz);
        const POINTS: usize = 16;
        center_hz
            .iter()
            .map(|&c| {
                let (lo, hi) = crate::analysis::spectrum::third_octave_edges_hz(c);
                let hi = hi.min(0.499 * sample_rate_hz);
                if filters.is_empty() || hi <= lo {
                    return 0.0;
                }
                let mean = (0..POINTS)
                    .map(|i| {
                        let f = lo + (hi - lo) * (i as f64 + 0.5) / POINTS as f64;
                        let db: f64 = filters
                            .iter()
                            .map(|b| b.response_db(f, sample_rate_hz))
                            .sum();
                        10f64.powf(db / 10.0)
                    })
                    .sum::<f64>()
                    / POINTS as f64;
                10.0 * mean.log10()
            })
            .collect()
    }
}

/// The features of `features`' audio after the static EQ `tonal` (see the module docs): band
/// levels move by the band response, integrated loudness (and every absolute loudness and
/// peak with it) by the K-weighted power change of the mid and side bands, the normalised
/// curves by the difference, the width by the side/mid power change.
pub fn apply_tonal(features: &Features, tonal: &TonalChange) -> Features {
    let mut f = features.clone();
    let fs = f64::from(f.sample_rate_hz);
    let centres = f.spectrum.center_hz.clone();
    let h = tonal.band_response_db(&centres, fs);
    let power = |db: f64| {
        if db <= SILENT_BAND_DB {
            0.0
        } else {
            10f64.powf(db / 10.0)
        }
    };
    // K-weighted power before and after; mid and side bands (L^2 + R^2 = 2 (M^2 + S^2)).
    let (mut before, mut after) = (0.0, 0.0);
    let (mut mid0, mut mid1, mut side0, mut side1) = (0.0, 0.0, 0.0, 0.0);
    for (k, &c) in centres.iter().enumerate() {
        let w = 10f64.powf(crate::render::kweight::response_db(c, f.sample_rate_hz) / 10.0);
        let g = 10f64.powf(h[k] / 10.0);
        let (pm, ps) = (power(f.spectrum.mid_db[k]), power(f.spectrum.side_db[k]));
        before += w * (pm + ps);
        after += w * (pm + ps) * g;
        mid0 += pm;
        mid1 += pm * g;
        side0 += ps;
        side1 += ps * g;
    }
    let dl = if before > 0.0 && after > 0.0 {
        10.0 * (after / before).log10()
    } else {
        0.0
    };
    for (k, hk) in h.iter().enumerate() {
        for band in [&mut f.spectrum.mid_db[k], &mut f.spectrum.side_db[k]] {
            if *band > SILENT_BAND_DB {
                *band += hk;
            }
        }
        for (norm, abs) in [
            (&mut f.spectrum.mid_norm_db[k], f.spectrum.mid_db[k]),
            (&mut f.spectrum.side_norm_db[k], f.spectrum.side_db[k]),
        ] {
            if abs > SILENT_BAND_DB {
                *norm -= dl;
                *norm += hk;
            }
        }
    }
    let l = &mut f.loudness;
    for v in [
        &mut l.integrated_lufs,
        &mut l.max_momentary_lufs,
        &mut l.max_short_term_lufs,
        &mut l.true_peak_dbtp,
        &mut l.sample_peak_dbfs,
    ] {
        *v += dl;
    }
    for v in &mut l.true_peak_per_channel_dbtp {
        *v += dl;
    }
    for v in &mut l.short_term_curve_lufs {
        *v += dl as f32;
    }
    let d = &mut f.dynamics;
    for v in [
        &mut d.short_term_p10_lufs,
        &mut d.short_term_p50_lufs,
        &mut d.short_term_p95_lufs,
    ] {
        *v += dl;
    }
    if mid0 > 0.0 && side0 > 0.0 && f.stereo.width_db > SILENT_BAND_DB {
        f.stereo.width_db += 10.0 * (side1 / side0).log10() - 10.0 * (mid1 / mid0).log10();
    }
    f
}

/// Upward expander on the linked RMS envelope (attack 10 ms, given release): above the
/// envelope's 60th percentile, gain rises by `(ratio - 1)` dB per dB, at most +8 dB. This
/// restores level contrast a compressor took away.
fn expand(channels: &mut [Vec<f32>], fs: f64, ratio: f64, release_ms: f64) {
    if ratio <= 1.0 + 1e-9 || channels.is_empty() {
        return;
    }
    let n = channels[0].len();
    let coef = |ms: f64| (-1.0 / (ms * 1e-3 * fs)).exp();
    let (att, rel) = (coef(10.0), coef(release_ms));
    let mut env = vec![0.0f64; n];
    let mut e = 0.0f64;
    for (i, slot) in env.iter_mut().enumerate() {
        let p = channels
            .iter()
            .map(|c| f64::from(c[i]) * f64::from(c[i]))
            .sum::<f64>()
            / channels.len() as f64;
        let k = if p > e { att } else { rel };
        e = k * e + (1.0 - k) * p;
        *slot = e;
    }
    let mut sorted: Vec<f64> = env
        .iter()
        .step_by(64)
        .copied()
        .filter(|v| *v > 1e-12)
        .collect();
    if sorted.is_empty() {
        return;
    }
    sorted.sort_by(f64::total_cmp);
    let threshold_db = 10.0 * sorted[sorted.len() * 6 / 10].log10();
    for (i, &p) in env.iter().enumerate() {
        if p <= 1e-12 {
            continue;
        }
        let over_db = 10.0 * p.log10() - threshold_db;
        if over_db > 0.0 {
            let g = db_to_gain((over_db * (ratio - 1.0)).min(8.0)) as f32;
            for c in channels.iter_mut() {
                c[i] *= g;
            }
        }
    }
}

/// The central `max_seconds` of a buffer.
fn crop(audio: AudioBuffer, max_seconds: f64) -> Result<AudioBuffer> {
    let max_frames = (max_seconds * f64::from(audio.sample_rate_hz)) as usize;
    let n = audio.frames();
    if n <= max_frames {
        return Ok(audio);
    }
    let start = (n - max_frames) / 2;
    let channels = audio
        .channels
        .iter()
        .map(|c| c[start..start + max_frames].to_vec())
        .collect();
    AudioBuffer::new(audio.sample_rate_hz, channels)
}

/// Mono becomes dual mono; more than two channels keep the first two (front left/right).
fn to_stereo(audio: AudioBuffer) -> Result<AudioBuffer> {
    match audio.num_channels() {
        2 => Ok(audio),
        1 => {
            let c = audio.channels[0].clone();
            AudioBuffer::new(audio.sample_rate_hz, vec![c.clone(), c])
        }
        _ => AudioBuffer::new(audio.sample_rate_hz, audio.channels[..2].to_vec()),
    }
}

/// CSV header of the dataset: identification columns, `x_*` inputs, `y_*` targets.
///
/// `audio_variant` 0 is the master itself; `tonal_variant` 0 has no tonal change, so the row
/// with both 0 is an undegraded master (the do-no-harm rows of the evaluation).
pub fn dataset_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "source",
        "track",
        "genre",
        "audio_variant",
        "tonal_variant",
        "seed",
        "sample_rate_hz",
        "duration_s",
        "master_bandwidth_hz",
        "side_gain_db",
        "expansion_ratio",
        "peak_dbfs",
        "tilt_db_per_decade",
        "eq_max_abs_db",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    h.extend(input_names().into_iter().map(|n| format!("x_{n}")));
    h.extend(output_names().into_iter().map(|n| format!("y_{n}")));
    h
}

/// How many mixes each master becomes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variants {
    /// Rendered and analysed variants per track, the master itself included (>= 1).
    pub audio: usize,
    /// Feature-domain tonal variants per audio variant, "no change" included (>= 1).
    pub tonal: usize,
    /// Longest stretch of each track analysed (the central part), seconds.
    pub max_seconds: f64,
}

/// All rows of one track.
fn track_rows(entry: &ManifestEntry, variants: Variants, seed: u64) -> Result<Vec<String>> {
    let audio = to_stereo(crop(decode_file(&entry.path)?, variants.max_seconds)?)?;
    if audio.duration_s() < MIN_SECONDS {
        return Err(Error::TooShort {
            duration_s: audio.duration_s(),
        });
    }
    let master = analyze(&audio)?;
    if !master.loudness.integrated_lufs.is_finite() {
        return Err(Error::Silence { what: "learn from" });
    }
    let y: Vec<String> = target_vector(&master)
        .iter()
        .map(|v| format!("{v:.4}"))
        .collect();
    let mut rows = Vec::with_capacity(variants.audio * variants.tonal);
    let key = format!("{}/{}", entry.source, entry.track);
    for a in 0..variants.audio {
        let s = pair_seed(seed, &key, a);
        let mut rng = Rng::new(s);
        let change = if a == 0 {
            AudioChange::none()
        } else {
            AudioChange::random(&mut rng)
        };
        let mix = if a == 0 {
            master.clone()
        } else {
            analyze(&change.apply(&audio)?)?
        };
        for t in 0..variants.tonal {
            let tonal = if t == 0 {
                TonalChange::none()
            } else {
                TonalChange::random(&mut rng)
            };
            let fs = f64::from(audio.sample_rate_hz);
            let eq_max_abs_db = tonal
                .band_response_db(&mix.spectrum.center_hz, fs)
                .iter()
                .fold(0.0f64, |m, v| m.max(v.abs()));
            let degraded = if t == 0 {
                mix.clone()
            } else {
                apply_tonal(&mix, &tonal)
            };
            let x = input_vector(&degraded);
            let mut f: Vec<String> = vec![
                csv_field(&entry.source),
                csv_field(&entry.track),
                csv_field(&entry.genre),
                a.to_string(),
                t.to_string(),
                s.to_string(),
                audio.sample_rate_hz.to_string(),
                format!("{:.2}", audio.duration_s()),
                format!("{:.1}", master.quality.bandwidth_hz),
                format!("{:.3}", change.side_gain_db),
                format!("{:.3}", change.expansion_ratio),
                format!("{:.3}", degraded.loudness.sample_peak_dbfs),
                format!("{:.3}", tonal.tilt_db_per_decade),
                format!("{eq_max_abs_db:.3}"),
            ];
            f.extend(x.iter().map(|v| format!("{v:.4}")));
            f.extend(y.iter().cloned());
            rows.push(f.join(","));
        }
    }
    Ok(rows)
}

/// Reads `manifest`, un-masters every track `variants.audio * variants.tonal` times and
/// writes the dataset CSV.
/// Rows come out in manifest order. Unreadable tracks are skipped and listed in the summary;
/// `progress(done, total)` is called after each track.
pub fn build_dataset(
    manifest: &Path,
    out_csv: &Path,
    variants: Variants,
    seed: u64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<DatasetSummary> {
    if variants.audio == 0
        || variants.tonal == 0
        || variants.max_seconds.is_nan()
        || variants.max_seconds < MIN_SECONDS
    {
        return Err(Error::InvalidSetting(
            "audio and tonal variants must be at least 1, max_seconds at least 5".into(),
        ));
    }
    let entries = read_manifest(manifest)?;
    let done = AtomicUsize::new(0);
    let results: Vec<Result<Vec<String>>> = entries
        .par_iter()
        .map(|e| {
            let r = track_rows(e, variants, seed);
            progress(done.fetch_add(1, Ordering::SeqCst) + 1, entries.len());
            r
        })
        .collect();
    let write_err = |source| Error::Write {
        path: out_csv.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(out_csv).map_err(write_err)?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "{}", dataset_header().join(",")).map_err(write_err)?;
    let mut summary = DatasetSummary {
        tracks: 0,
        rows: 0,
        skipped: Vec::new(),
    };
    for (e, r) in entries.iter().zip(results) {
        match r {
            Ok(rows) => {
                summary.tracks += 1;
                summary.rows += rows.len();
                for row in rows {
                    writeln!(w, "{row}").map_err(write_err)?;
                }
            }
            Err(err) => summary.skipped.push((e.path.clone(), err.to_string())),
        }
    }
    w.flush().map_err(write_err)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_round_trips() {
        let f = split_csv_line(r#"a,"b, c","d ""e""",,"#);
        assert_eq!(f, vec!["a", "b, c", r#"d "e""#, "", ""]);
        assert_eq!(csv_field("b, c"), r#""b, c""#);
    }

    #[test]
    fn rng_is_deterministic_and_uniform() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mean: f64 = (0..10_000).map(|_| a.uniform(0.0, 1.0)).sum::<f64>() / 10_000.0;
        // Standard error of the mean of U(0,1) over 1e4 draws is 0.0029: 5 sigma.
        assert!((mean - 0.5).abs() < 0.015, "{mean}");
    }

    #[test]
    fn pair_seeds_differ_by_variant_and_track() {
        assert_ne!(pair_seed(1, "a", 0), pair_seed(1, "a", 1));
        assert_ne!(pair_seed(1, "a", 0), pair_seed(1, "b", 0));
        assert_eq!(pair_seed(1, "a", 0), pair_seed(1, "a", 0));
    }

    #[test]
    fn peaking_bell_hits_its_gain_at_centre() {
        let fs = 48_000.0;
        let b = Biquad::peaking(1000.0, 6.0, 1.0, fs);
        // RBJ peaking EQ has exactly `gain` at f0 (to float precision).
        assert!((b.response_db(1000.0, fs) - 6.0).abs() < 1e-9);
        assert!(b.response_db(20.0, fs).abs() < 0.05);
    }

    #[test]
    fn tilt_cascade_gives_its_slope() {
        let fs = 48_000.0;
        let d = TonalChange {
            tilt_db_per_decade: 3.0,
            ..TonalChange::none()
        };
        let resp = |f: f64| -> f64 { d.filters(fs).iter().map(|b| b.response_db(f, fs)).sum() };
        // One decade, 200 Hz -> 2 kHz, inside the cascade: 3 dB +-0.5 dB (half-decade ripple).
        let slope = resp(2000.0) - resp(200.0);
        assert!((slope - 3.0).abs() < 0.5, "{slope}");
    }

    #[test]
    fn shelves_reach_their_gain_far_from_the_corner() {
        let fs = 48_000.0;
        let q = std::f64::consts::FRAC_1_SQRT_2;
        let low = Biquad::low_shelf(100.0, 4.0, q, fs);
        let high = Biquad::high_shelf(5000.0, -3.0, q, fs);
        // RBJ shelves: full gain two decades past the corner, half the gain at the corner.
        assert!((low.response_db(1.0, fs) - 4.0).abs() < 0.01);
        assert!(low.response_db(10_000.0, fs).abs() < 0.01);
        assert!((low.response_db(100.0, fs) - 2.0).abs() < 0.01);
        assert!((high.response_db(20_000.0, fs) + 3.0).abs() < 0.1);
        assert!((high.response_db(5000.0, fs) + 1.5).abs() < 0.01);
    }

    #[test]
    fn peak_level_change_lands_the_sample_peak() {
        let fs = 48_000u32;
        let n = fs as usize * 2;
        let l: Vec<f32> = (0..n)
            .map(|i| (0.3 * (i as f64 * 0.0571).sin()) as f32)
            .collect();
        let r: Vec<f32> = (0..n)
            .map(|i| (0.3 * (i as f64 * 0.0433).sin()) as f32)
            .collect();
        let a = AudioBuffer::new(fs, vec![l, r]).unwrap();
        let change = AudioChange {
            peak_dbfs: Some(-6.0),
            ..AudioChange::none()
        };
        let out = change.apply(&a).unwrap();
        let peak = out
            .channels
            .iter()
            .flat_map(|c| c.iter())
            .fold(0.0f32, |m, v| m.max(v.abs()));
        // -6 dBFS = 0.501 (f32 precision).
        assert!((f64::from(peak) - db_to_gain(-6.0)).abs() < 1e-6, "{peak}");
        assert_eq!(AudioChange::none().apply(&a).unwrap().channels, a.channels);
    }
}
