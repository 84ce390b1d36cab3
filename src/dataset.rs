//! Training examples for the targets model: "un-mastering" masters.
//!
//! No freely licensed corpus pairs a raw mix with its master, so lathe makes the pairs: each
//! master listed in a manifest is degraded several times with seeded random processing that
//! undoes what mastering does, and one CSV row is written per (degraded mix, master) pair:
//! the degraded mix's [`input_vector`] (`x_*`, the model input) and the master's
//! [`target_vector`] (`y_*`, what the model should predict), plus the genre. The same Rust
//! analysis runs here and at inference, so the model sees identical numbers.
//!
//! Degradations ([`Degradation::random`]), each drawn per variant:
//! - tonal tilt of -3..+3 dB/decade (a cascade of RBJ high shelves every half decade) and two
//!   or three peaking bells of -6..+6 dB, Q 0.5..2, at 40 Hz..12 kHz. Biquads follow Robert
//!   Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients"
//!   (W3C Audio EQ Cookbook);
//! - stereo width: side gain of -4..+4 dB;
//! - dynamics expansion (undoing compression): an upward expander on the linked short-term
//!   RMS envelope, ratio 1.0..1.5 above a threshold at the envelope's 60th percentile,
//!   gain capped at +8 dB, with either programme (release 300 ms) or transient (release
//!   40 ms) timing;
//! - gain: finally the result is scaled by -6..-14 dB (so a "mix" sits well below the
//!   master's loudness, as unmastered mixes do).
//!
//! Long tracks are cropped to their central [`MAX_SECONDS`] to bound time. Everything is
//! deterministic from the seed (SplitMix64 per track and variant), whatever the thread count.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::analysis::analyze;
use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::io::decode::decode_file;
use crate::targets::model::{input_names, input_vector, output_names, target_vector};
use crate::units::db_to_gain;

/// Longest stretch of a track that is analysed, seconds (the central part is kept).
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

/// One random "un-mastering".
#[derive(Clone, Debug, PartialEq)]
pub struct Degradation {
    pub tilt_db_per_decade: f64,
    /// Peaking bells: (centre Hz, gain dB, Q).
    pub bells: Vec<(f64, f64, f64)>,
    pub side_gain_db: f64,
    /// Upward expansion ratio above the threshold (1 = none).
    pub expansion_ratio: f64,
    pub expansion_release_ms: f64,
    /// Level of the result relative to the master's, dB (negative).
    pub gain_db: f64,
}

/// Shelf corner frequencies of the tilt cascade: every half decade, 31.6 Hz .. 10 kHz.
const TILT_SHELVES_HZ: [f64; 6] = [31.62, 100.0, 316.2, 1000.0, 3162.0, 10000.0];

impl Degradation {
    pub fn random(rng: &mut Rng) -> Self {
        let tilt_db_per_decade = rng.uniform(-3.0, 3.0);
        let n_bells = if rng.uniform(0.0, 1.0) < 0.5 { 2 } else { 3 };
        let bells = (0..n_bells)
            .map(|_| {
                let f = 40.0 * (12000.0f64 / 40.0).powf(rng.uniform(0.0, 1.0));
                (f, rng.uniform(-6.0, 6.0), rng.uniform(0.5, 2.0))
            })
            .collect();
        let side_gain_db = rng.uniform(-4.0, 4.0);
        let expansion_ratio = rng.uniform(1.0, 1.5);
        let expansion_release_ms = if rng.uniform(0.0, 1.0) < 0.5 {
            300.0
        } else {
            40.0
        };
        let gain_db = rng.uniform(-14.0, -6.0);
        Self {
            tilt_db_per_decade,
            bells,
            side_gain_db,
            expansion_ratio,
            expansion_release_ms,
            gain_db,
        }
    }

    /// The EQ part as biquads for one sample rate: the tilt cascade, then the bells. Filters
    /// whose corner is above 0.45 fs are left out.
    pub fn filters(&self, sample_rate_hz: f64) -> Vec<Biquad> {
        let mut f = Vec::new();
        // Each high shelf adds tilt/2 dB above its corner: half-decade spacing gives
        // `tilt` dB per decade with about +-0.3 dB ripple (shelf slope 0.5 is broad).
        for &fc in &TILT_SHELVES_HZ {
            if fc < 0.45 * sample_rate_hz {
                f.push(Biquad::high_shelf_slope(
                    fc,
                    self.tilt_db_per_decade / 2.0,
                    0.5,
                    sample_rate_hz,
                ));
            }
        }
        for &(fc, g, q) in &self.bells {
            if fc < 0.45 * sample_rate_hz {
                f.push(Biquad::peaking(fc, g, q, sample_rate_hz));
            }
        }
        f
    }

    /// Applies the degradation to a stereo (or mono) buffer.
    pub fn apply(&self, audio: &AudioBuffer) -> Result<AudioBuffer> {
        let fs = f64::from(audio.sample_rate_hz);
        let filters = self.filters(fs);
        let mut channels = audio.channels.clone();
        for ch in &mut channels {
            for f in &filters {
                f.process(ch);
            }
        }
        if channels.len() == 2 {
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
        let gain = db_to_gain(self.gain_db) as f32;
        for ch in &mut channels {
            for s in ch.iter_mut() {
                *s *= gain;
            }
        }
        AudioBuffer::new(audio.sample_rate_hz, channels)
    }
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

/// The central `MAX_SECONDS` of a buffer.
fn crop(audio: AudioBuffer) -> Result<AudioBuffer> {
    let max_frames = (MAX_SECONDS * f64::from(audio.sample_rate_hz)) as usize;
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
pub fn dataset_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "source",
        "track",
        "genre",
        "variant",
        "seed",
        "sample_rate_hz",
        "duration_s",
        "master_bandwidth_hz",
        "tilt_db_per_decade",
        "side_gain_db",
        "expansion_ratio",
        "gain_db",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    h.extend(input_names().into_iter().map(|n| format!("x_{n}")));
    h.extend(output_names().into_iter().map(|n| format!("y_{n}")));
    h
}

/// All rows of one track.
fn track_rows(entry: &ManifestEntry, variants: usize, seed: u64) -> Result<Vec<String>> {
    let audio = to_stereo(crop(decode_file(&entry.path)?)?)?;
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
    let mut rows = Vec::with_capacity(variants);
    let key = format!("{}/{}", entry.source, entry.track);
    for variant in 0..variants {
        let s = pair_seed(seed, &key, variant);
        let d = Degradation::random(&mut Rng::new(s));
        let mix = analyze(&d.apply(&audio)?)?;
        let mut f: Vec<String> = vec![
            csv_field(&entry.source),
            csv_field(&entry.track),
            csv_field(&entry.genre),
            variant.to_string(),
            s.to_string(),
            audio.sample_rate_hz.to_string(),
            format!("{:.2}", audio.duration_s()),
            format!("{:.1}", master.quality.bandwidth_hz),
            format!("{:.3}", d.tilt_db_per_decade),
            format!("{:.3}", d.side_gain_db),
            format!("{:.3}", d.expansion_ratio),
            format!("{:.3}", d.gain_db),
        ];
        f.extend(input_vector(&mix).iter().map(|v| format!("{v:.4}")));
        f.extend(y.iter().cloned());
        rows.push(f.join(","));
    }
    Ok(rows)
}

/// Reads `manifest`, un-masters every track `variants` times and writes the dataset CSV.
/// Rows come out in manifest order. Unreadable tracks are skipped and listed in the summary;
/// `progress(done, total)` is called after each track.
pub fn build_dataset(
    manifest: &Path,
    out_csv: &Path,
    variants: usize,
    seed: u64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<DatasetSummary> {
    if variants == 0 {
        return Err(Error::InvalidSetting("variants must be at least 1".into()));
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
        let d = Degradation {
            tilt_db_per_decade: 3.0,
            bells: vec![],
            side_gain_db: 0.0,
            expansion_ratio: 1.0,
            expansion_release_ms: 300.0,
            gain_db: 0.0,
        };
        let resp = |f: f64| -> f64 { d.filters(fs).iter().map(|b| b.response_db(f, fs)).sum() };
        // One decade, 200 Hz -> 2 kHz, inside the cascade: 3 dB +-0.5 dB (half-decade ripple).
        let slope = resp(2000.0) - resp(200.0);
        assert!((slope - 3.0).abs() < 0.5, "{slope}");
    }

    #[test]
    fn degradation_changes_gain_and_width() {
        let fs = 48_000u32;
        let n = fs as usize * 2;
        let l: Vec<f32> = (0..n)
            .map(|i| (0.3 * (i as f64 * 0.0571).sin()) as f32)
            .collect();
        let r: Vec<f32> = (0..n)
            .map(|i| (0.3 * (i as f64 * 0.0433).sin()) as f32)
            .collect();
        let a = AudioBuffer::new(fs, vec![l, r]).unwrap();
        let d = Degradation {
            tilt_db_per_decade: 0.0,
            bells: vec![],
            side_gain_db: 0.0,
            expansion_ratio: 1.0,
            expansion_release_ms: 300.0,
            gain_db: -6.0206,
        };
        let out = d.apply(&a).unwrap();
        // Pure gain of -6.0206 dB halves every sample (f32 precision).
        assert!((out.channels[0][100] - 0.5 * a.channels[0][100]).abs() < 1e-6);
    }
}
