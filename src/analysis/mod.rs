//! Measurements of a piece of audio, gathered into one [`Features`] struct: the only thing the
//! model, the target builders and the reports read.
//!
//! - [`loudness`]: ITU-R BS.1770-4 / EBU R128 loudness, loudness range (EBU Tech 3342) and true
//!   peak; [`meter`] is lathe's BS.1770 meter (one sweep per file, tested against `ebur128`).
//! - [`spectrum`]: long-term average spectrum of mid and side in third-octave bands
//!   (IEC 61260 base-10 centres), gated to the loud parts.
//! - [`dynamics`]: short-term loudness statistics and per-octave crest factors.
//! - [`stereo`]: side/mid energy, inter-channel correlation, low-end mono compatibility.
//! - [`rhythm`]: genre features (onset rate, tempo strength, spectral flux, octave level
//!   spread, spectral contrast), read from the dynamics' frames and the long-term spectrum.
//! - [`texture`]: more genre features over time (frame contrast and flatness per octave,
//!   spectral shape change, pulse per register, modulation spectrum, chroma), from the same
//!   frames.
//!
//! `Features` is versioned ([`FEATURES_SCHEMA_VERSION`]): the model's input vector is built
//! from it, and a model trained on another schema is refused.

pub mod dynamics;
pub mod loudness;
pub mod meter;
pub mod quality;
pub mod rhythm;
pub mod spectrum;
pub mod stereo;
pub mod texture;
pub mod true_peak;

use serde::{Deserialize, Serialize};

use crate::audio::AudioBuffer;
use crate::error::Result;

/// Bump when a field is added, removed or computed differently (3: [`Texture`]).
pub const FEATURES_SCHEMA_VERSION: u32 = 3;

/// Everything lathe measures about one piece of audio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub schema_version: u32,
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub frames: usize,
    pub duration_s: f64,
    pub loudness: Loudness,
    pub spectrum: Spectrum,
    pub dynamics: Dynamics,
    pub stereo: Stereo,
    pub quality: Quality,
    /// Genre features (schema 2), measured only by [`Detail::Genre`] (`null` otherwise, and
    /// in files written before schema 2): only the genre model reads them.
    #[serde(default)]
    pub rhythm: Option<Rhythm>,
    /// More genre features (schema 3), measured only by [`Detail::Genre`] (`null` otherwise,
    /// and in files written before schema 3).
    #[serde(default)]
    pub texture: Option<Texture>,
}

/// What an analysis measures. The genre features ([`Rhythm`], [`Texture`]) are read by the
/// genre model alone (targets, reports, references and profiles never read them) and cost
/// about half of the analysis, so only the consumers that need them ask for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Everything but the genre features: [`Features::rhythm`] and [`Features::texture`] are
    /// `None`. Every other field is the one [`Detail::Genre`] gives, to the bit.
    Mastering,
    /// Everything, the genre features included (the genre model, the training dataset).
    Genre,
}

/// BS.1770 / R128 measurements. Silence gives `-inf` loudness (serialised as `null`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    pub integrated_lufs: f64,
    pub max_momentary_lufs: f64,
    pub max_short_term_lufs: f64,
    /// Loudness range, EBU Tech 3342.
    pub lra_lu: f64,
    /// Highest true peak over all channels (4x oversampled for 44.1/48 kHz, BS.1770-4 Annex 2).
    pub true_peak_dbtp: f64,
    pub true_peak_per_channel_dbtp: Vec<f64>,
    pub sample_peak_dbfs: f64,
    /// Peak-to-loudness ratio: true peak minus integrated loudness.
    pub plr_db: f64,
    /// Sample peak over RMS of the loudest channel, in dB.
    pub crest_db: f64,
    /// Short-term loudness curve, one value every [`Loudness::curve_hop_s`] seconds.
    pub short_term_curve_lufs: Vec<f32>,
    pub curve_hop_s: f64,
}

/// Long-term average spectrum in third-octave bands, on the loud (gated) parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    /// Band centres, IEC 61260 base-10: `1000 * 10^(k/10)` for k = -17..=13 (20 Hz..20 kHz).
    pub center_hz: Vec<f64>,
    /// Mean power per band of mid (mean of the channels), dB re full-scale RMS: a sine of
    /// amplitude A in a band reads `20 log10(A / sqrt 2)`.
    pub mid_db: Vec<f64>,
    /// Same for side `(L-R)/2`. A mono signal reads [`SILENT_BAND_DB`].
    pub side_db: Vec<f64>,
    /// `mid_db` minus the integrated loudness: the tonal shape, comparable between tracks.
    pub mid_norm_db: Vec<f64>,
    /// `side_db` minus the integrated loudness (so width stays visible in the side curve).
    pub side_norm_db: Vec<f64>,
}

/// Floor for band levels: quieter bands (and digital silence) read this, never `-inf`.
pub const SILENT_BAND_DB: f64 = -150.0;

/// How the loudness and the level in each octave move over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dynamics {
    /// 10th, 50th and 95th percentiles of the (absolute-gated) short-term loudness.
    pub short_term_p10_lufs: f64,
    pub short_term_p50_lufs: f64,
    pub short_term_p95_lufs: f64,
    /// Octave band centres for `octave_crest_db` (31.5 Hz .. 16 kHz).
    pub octave_center_hz: Vec<f64>,
    /// Peak over RMS of each octave band of the mid signal, dB: low = compressed.
    pub octave_crest_db: Vec<f64>,
}

/// Stereo image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stereo {
    /// Side energy over mid energy, dB, floored at [`SILENT_BAND_DB`] (mono).
    pub width_db: f64,
    /// Pearson correlation of left and right, -1..1 (1 for mono).
    pub correlation: f64,
    /// Side minus mid per third-octave band, dB.
    pub band_width_db: Vec<f64>,
    /// Correlation of left and right below 150 Hz.
    pub low_end_correlation: f64,
    /// Level of (L+R) below 150 Hz relative to the mean of L and R levels there, dB:
    /// 0 for mono bass, strongly negative when the bass cancels in mono.
    pub low_end_mono_loss_db: f64,
}

/// Rhythm and texture: what tells genres apart (see [`rhythm`] for the definitions).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rhythm {
    /// Detected onsets per second of (gated) audio.
    pub onset_rate_hz: f64,
    /// Mean rectified increase of octave-band level per 23 ms frame, dB.
    pub spectral_flux_db: f64,
    /// Peak normalised autocorrelation of the onset envelope at 30..240 BPM (0..1).
    pub tempo_strength: f64,
    /// Tempo of that peak, beats per minute (0 when nothing was found).
    pub tempo_bpm: f64,
    /// Standard deviation over time of each octave band's level (octaves of
    /// [`Dynamics::octave_center_hz`]), dB.
    pub octave_level_std_db: Vec<f64>,
    /// Peak-to-valley ratio of the long-term mid spectrum in each octave, dB.
    pub spectral_contrast_db: Vec<f64>,
}

/// Texture over time: frame by frame peakiness, noisiness, shape change, pulse per register,
/// modulation and pitch focus (see [`texture`] for the definitions). Per-octave vectors use
/// the octaves of [`Dynamics::octave_center_hz`]; registers are low, middle, high.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Texture {
    /// Mean over frames of each octave's peak-to-valley ratio, dB.
    pub frame_contrast_db: Vec<f64>,
    /// Standard deviation over frames of the same, dB.
    pub frame_contrast_std_db: Vec<f64>,
    /// Mean over frames of each octave's spectral flatness, dB (<= 0).
    pub flatness_db: Vec<f64>,
    /// Standard deviation over time of each octave's level relative to the frame's, dB.
    pub relative_level_std_db: Vec<f64>,
    /// Standard deviation of log2 of the spectral centroid, octaves.
    pub centroid_std_oct: f64,
    /// Mean frame-to-frame change of log2 of the centroid, octaves.
    pub centroid_change_oct: f64,
    /// Mean change of the relative octave levels from frame to frame, dB.
    pub shape_change_db: f64,
    /// Mean change of the relative octave levels between consecutive 1 s means, dB.
    pub shape_change_1s_db: f64,
    /// Mean change of the level between consecutive 1 s means, dB.
    pub level_change_1s_db: f64,
    /// Tempo strength of the low, middle and high registers' onset envelopes (0..1).
    pub tempo_strength_bands: Vec<f64>,
    /// Mean onset envelope (spectral flux) of the low, middle and high registers, dB.
    pub flux_bands_db: Vec<f64>,
    /// Modulation spectrum, dB re 0.25-16 Hz: all octaves, then low, middle, high; each at
    /// [`texture::MODULATION_HZ`].
    pub modulation_db: Vec<f64>,
    /// Peak autocorrelation of the onset envelope in each of [`texture::PERIODICITY_LAGS_S`].
    pub periodicity: Vec<f64>,
    /// Peak of the mean chroma times 12 (1 = every pitch class alike).
    pub chroma_peak: f64,
    /// Entropy of the mean chroma, nats (ln 12 = 2.48 at most).
    pub chroma_entropy: f64,
    /// Mean entropy of each frame's chroma, nats.
    pub chroma_frame_entropy: f64,
    /// Mean frame-to-frame L1 change of the chroma (0..2).
    pub chroma_change: f64,
}

/// Technical condition of the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Highest third-octave band edge with real content (lossy sources stop near 16 kHz).
    pub bandwidth_hz: f64,
    pub dc_offset: Vec<f64>,
    /// Samples at or above full scale in runs of 3 or more (clipping, not a single peak).
    pub clipped_samples: u64,
    /// Heuristic: high peak density near the top, low crest and PLR: looks brick-wall limited.
    pub looks_limited: bool,
}

/// Measures everything, the genre features included ([`Detail::Genre`]). Errors on audio
/// shorter than 0.4 s; silence is measured (as `-inf`).
pub fn analyze(audio: &AudioBuffer) -> Result<Features> {
    analyze_with(audio, Detail::Genre)
}

/// Measures what `detail` asks for (see [`analyze`]).
///
/// The samples are read in a few sweeps: the meter's (K-weighting and every plain sum), the
/// true peak, the long-term spectrum and the octave crest; mid and side are made frame by
/// frame, never as full-length signals.
pub fn analyze_with(audio: &AudioBuffer, detail: Detail) -> Result<Features> {
    check_measurable(audio)?;
    // The decoded buffer (4 B a sample) exists already; the rest is the analysis' own.
    crate::audio::check_memory(
        audio.frames() as u64,
        audio.num_channels(),
        audio.sample_rate_hz,
        crate::audio::ANALYSIS_BYTES_PER_SAMPLE - 4,
        "analysing",
    )?;
    let rate = audio.sample_rate_hz;
    let views: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    let (measured, lts) = rayon::join(
        || -> Result<_> {
            let (loudness, sweep) = loudness::measure_with_sweep(audio)?;
            let texture = detail == Detail::Genre;
            let (dynamics, frames) =
                dynamics::measure_with_frames(&views, rate, &loudness, texture);
            Ok((loudness, sweep, dynamics, frames))
        },
        || spectrum::long_term_of_views(&views, rate),
    );
    let (loudness, sweep, dynamics, frames) = measured?;
    let (rhythm, texture) = match detail {
        Detail::Genre => (
            Some(rhythm::measure(&frames, &lts)),
            Some(texture::measure(&frames)),
        ),
        Detail::Mastering => (None, None),
    };
    let spectrum = lts.bands(loudness.integrated_lufs);
    let stereo = stereo::measure(&sweep, &lts, &spectrum);
    let quality = quality::measure(audio, &sweep, &lts, &loudness);
    Ok(Features {
        schema_version: FEATURES_SCHEMA_VERSION,
        sample_rate_hz: audio.sample_rate_hz,
        channels: audio.num_channels(),
        frames: audio.frames(),
        duration_s: audio.duration_s(),
        loudness,
        spectrum,
        dynamics,
        stereo,
        quality,
        rhythm,
        texture,
    })
}

/// Refuses audio whose level cannot be measured (a NaN, an infinity, or a sample beyond
/// [`crate::audio::MAX_MEASURABLE_SAMPLE`]), naming the frame: never measured as silence or as
/// infinitely loud. [`crate::io::decode`] refuses such files with their path first.
pub fn check_measurable(audio: &AudioBuffer) -> Result<()> {
    match audio.first_unmeasurable() {
        Some((frame, channel, value)) => Err(crate::error::Error::Meter(format!(
            "sample {value:e} at frame {frame}, channel {channel} is beyond +120 dBFS (or not \
             a number): its level cannot be measured"
        ))),
        None => Ok(()),
    }
}

/// Refuses audio with no measurable loudness (all of it under BS.1770's -70 LUFS gate):
/// [`crate::Error::Silence`] when every sample is zero, else [`crate::Error::TooQuiet`] with
/// its peak level (-90 dBFS noise is not silence).
pub fn check_loud_enough(features: &Features, what: &'static str) -> Result<()> {
    if features.loudness.integrated_lufs.is_finite() {
        return Ok(());
    }
    let peak_dbfs = features.loudness.sample_peak_dbfs;
    Err(if peak_dbfs == f64::NEG_INFINITY {
        crate::error::Error::Silence { what }
    } else {
        crate::error::Error::TooQuiet { what, peak_dbfs }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Programme-like stereo: noise bursts over a steady bed, the channels partly correlated.
    fn programme(rate: u32, seconds: f64) -> AudioBuffer {
        let n = (f64::from(rate) * seconds) as usize;
        let mut state = 0x2545_f491_u32;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            f64::from(state) / f64::from(u32::MAX) * 2.0 - 1.0
        };
        let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let t = i as f64 / f64::from(rate);
            let burst = (-(t % 0.5) / 0.08).exp();
            let common = noise() * (0.05 + 0.4 * burst);
            l.push((common + 0.05 * noise()) as f32);
            r.push((0.8 * common + 0.05 * noise()) as f32);
        }
        AudioBuffer::new(rate, vec![l, r]).unwrap()
    }

    #[test]
    fn mastering_detail_is_the_full_analysis_without_the_genre_features() {
        for (rate, seconds) in [(44_100, 12.3), (48_000, 5.0)] {
            let audio = programme(rate, seconds);
            let full = analyze(&audio).unwrap();
            let fast = analyze_with(&audio, Detail::Mastering).unwrap();
            assert!(full.rhythm.is_some() && full.texture.is_some());
            assert!(fast.rhythm.is_none() && fast.texture.is_none());
            // Every other field is the same computation: equal to the bit.
            let stripped = Features {
                rhythm: None,
                texture: None,
                ..full
            };
            assert_eq!(fast, stripped, "{rate} Hz");
        }
    }

    #[test]
    fn features_without_genre_features_serialise_them_as_null() {
        let f = analyze_with(&programme(44_100, 3.0), Detail::Mastering).unwrap();
        let json = serde_json::to_value(&f).unwrap();
        assert!(
            json["rhythm"].is_null() && json["texture"].is_null(),
            "{json}"
        );
        assert_eq!(json["schema_version"], FEATURES_SCHEMA_VERSION);
    }
}
