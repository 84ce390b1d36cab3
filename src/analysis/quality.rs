//! Technical condition of a file: bandwidth, DC offset, clipping, whether it looks already
//! brick-wall limited, and what a lossy codec left in it ([`lossy_evidence`]).

use serde::{Deserialize, Serialize};

use super::meter::Sweep;
use super::spectrum::{third_octave_edges_hz, LongTermSpectrum};
use super::{Features, Loudness, Quality, SILENT_BAND_DB};
use crate::audio::AudioBuffer;

/// The file's condition; DC and clipping come from the meter's sums ([`super::meter`]).
pub fn measure(
    audio: &AudioBuffer,
    sweep: &Sweep,
    lts: &LongTermSpectrum,
    loudness: &Loudness,
) -> Quality {
    let frames = audio.frames().max(1) as f64;
    let dc_offset = sweep.channels.iter().map(|c| c.sum / frames).collect();
    let clipped_samples = sweep.channels.iter().map(|c| c.clipped).sum();
    Quality {
        bandwidth_hz: lts.bandwidth_hz(),
        dc_offset,
        clipped_samples,
        looks_limited: looks_limited(audio, loudness),
    }
}

/// A limited master has a low peak-to-loudness ratio *and* many samples crowding its peak
/// level; a merely dense mix has the first without the second. Thresholds: PLR under 10 dB
/// (masters limited for streaming sit at 8-10 dB, open mixes at 12-20 dB), and more than 1 in
/// 5000 samples within 1 dB of the sample peak (an unlimited mix has a handful).
pub fn looks_limited(audio: &AudioBuffer, loudness: &Loudness) -> bool {
    if !loudness.integrated_lufs.is_finite() || loudness.plr_db >= 10.0 {
        return false;
    }
    let near = crate::units::db_to_gain(loudness.sample_peak_dbfs - 1.0) as f32;
    let total = audio.frames() * audio.num_channels();
    let crowded: usize = audio
        .channels
        .iter()
        .map(|c| {
            c.iter()
                .map(|s| usize::from(s.abs() >= near))
                .sum::<usize>()
        })
        .sum();
    crowded as f64 > total as f64 / 5000.0
}

/// Content that stops this far under the top of the band lathe measures (the rate's Nyquist
/// frequency, or the upper edge of the 20 kHz third-octave band if lower) has been low-passed:
/// lossy encoders cut at 15-20 kHz, a full-band file reaches within the 250 Hz step of
/// [`LongTermSpectrum::bandwidth_hz`].
pub const BAND_LIMIT_MARGIN_HZ: f64 = 1_000.0;
/// A side channel this far under its usual share of the mid (the median side/mid ratio over
/// [`SIDE_BASELINE_HZ`]), in every band from some frequency up to the bandwidth, was thrown
/// away by a codec's joint stereo: a 128 kb/s Vorbis encode loses 12-21 dB of side from 10 kHz
/// up, while a mix's side/mid ratio stays within a few dB across the top octaves.
pub const SIDE_LOSS_DB: f64 = 6.0;
/// Where the side/mid ratio is taken as the file's own: codecs keep the stereo image there.
pub const SIDE_BASELINE_HZ: (f64, f64) = (500.0, 4_000.0);
/// Side cut-offs are looked for from this band centre up.
const SIDE_SEARCH_FROM_HZ: f64 = 4_000.0;
/// A side cut-off needs this many bands under the baseline (one band could be the music).
const MIN_SIDE_LOSS_BANDS: usize = 2;
/// Bands this far under the integrated loudness have no content worth judging.
const CONTENT_DB: f64 = -60.0;

/// What a lossy codec left in a file: a low-passed top, and a side channel that stops short
/// of the mid (joint-stereo coding drops the side's high frequencies first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossyEvidence {
    /// Highest frequency with content (mid and side), Hz.
    pub bandwidth_hz: f64,
    /// The content stops [`BAND_LIMIT_MARGIN_HZ`] or more under the top of the measured band.
    pub band_limited: bool,
    /// Lower edge of the first third-octave band from which every band up to the bandwidth has
    /// lost more than [`SIDE_LOSS_DB`] of side; `None` when the side is whole.
    pub side_cutoff_hz: Option<f64>,
    /// Mean side loss over those bands, dB (positive; 0 without a cut-off).
    pub side_loss_db: f64,
}

impl LossyEvidence {
    /// Highest frequency the mid spectrum can be trusted to, Hz (infinite if not low-passed).
    pub fn mid_limit_hz(&self) -> f64 {
        if self.band_limited {
            self.bandwidth_hz
        } else {
            f64::INFINITY
        }
    }

    /// Highest frequency the side spectrum can be trusted to, Hz.
    pub fn side_limit_hz(&self) -> f64 {
        self.mid_limit_hz()
            .min(self.side_cutoff_hz.unwrap_or(f64::INFINITY))
    }
}

/// Signs of lossy coding in `f`'s spectrum (see [`LossyEvidence`]); `None` when there are
/// none (or the file is silent).
pub fn lossy_evidence(f: &Features) -> Option<LossyEvidence> {
    let sp = &f.spectrum;
    let bandwidth_hz = f.quality.bandwidth_hz;
    if !f.loudness.integrated_lufs.is_finite() || bandwidth_hz.is_nan() || bandwidth_hz <= 0.0 {
        return None;
    }
    let centres = &sp.center_hz;
    let top = (f64::from(f.sample_rate_hz) / 2.0).min(
        centres
            .last()
            .map_or(f64::INFINITY, |&c| third_octave_edges_hz(c).1),
    );
    let band_limited = bandwidth_hz < top - BAND_LIMIT_MARGIN_HZ;
    let mid_limit = if band_limited {
        bandwidth_hz
    } else {
        f64::INFINITY
    };
    // Side/mid ratio per band with content, inside the trusted bandwidth.
    let ratio: Vec<Option<f64>> = (0..centres.len())
        .map(|i| {
            let (m, s) = (sp.mid_norm_db[i], sp.side_norm_db[i]);
            let inside = third_octave_edges_hz(centres[i]).1 <= mid_limit;
            (inside && m > CONTENT_DB && s > SILENT_BAND_DB && f.channels >= 2).then_some(s - m)
        })
        .collect();
    let mut baseline: Vec<f64> = (0..centres.len())
        .filter(|&i| (SIDE_BASELINE_HZ.0..=SIDE_BASELINE_HZ.1).contains(&centres[i]))
        .filter_map(|i| ratio[i])
        .collect();
    baseline.sort_by(f64::total_cmp);
    let side = (!baseline.is_empty())
        .then(|| baseline[baseline.len() / 2])
        .and_then(|base| {
            let judged: Vec<usize> = (0..centres.len())
                .filter(|&i| centres[i] >= SIDE_SEARCH_FROM_HZ && ratio[i].is_some())
                .collect();
            let loss = |i: usize| base - ratio[i].unwrap_or(base);
            // The lowest band from which every judged band up is under the baseline.
            let mut first = judged.len();
            while first > 0 && loss(judged[first - 1]) > SIDE_LOSS_DB {
                first -= 1;
            }
            let lost = &judged[first..];
            (lost.len() >= MIN_SIDE_LOSS_BANDS).then(|| {
                let mean = lost.iter().map(|&i| loss(i)).sum::<f64>() / lost.len() as f64;
                (third_octave_edges_hz(centres[lost[0]]).0, mean)
            })
        });
    if !band_limited && side.is_none() {
        return None;
    }
    Some(LossyEvidence {
        bandwidth_hz,
        band_limited,
        side_cutoff_hz: side.map(|s| s.0),
        side_loss_db: side.map_or(0.0, |s| s.1),
    })
}
