//! Targets from a reference track: "make my mix sound like this one".
//!
//! The reference's loudness-normalised band curves become the tonal targets, its integrated
//! loudness, PLR and short-term spread the loudness and dynamics targets, its side/mid ratio the
//! width target. The reference may have any sample rate: bands are in hertz.
//!
//! A lossy reference ([`lossy_evidence`]: a low-passed top, or a side channel a codec's joint
//! stereo emptied above some frequency) is matched only where it is whole: its bands beyond
//! the real bandwidth (mid) or the side cut-off (side) are marked as without content
//! ([`SILENT_BAND_DB`]), which the renderer leaves unequalised, so the codec's damage is not
//! copied onto the master.

use super::{TargetRange, TargetSource, Targets};
use crate::analysis::quality::{lossy_evidence, LossyEvidence};
use crate::analysis::spectrum::third_octave_edges_hz;
use crate::analysis::{Features, SILENT_BAND_DB};
use crate::error::Result;

/// Default true-peak ceiling, dBTP (EBU R128 s1 and the streaming services' advice).
pub const DEFAULT_CEILING_DBTP: f64 = -1.0;
/// Low-end correlation above which the reference's bass counts as mono.
const MONO_BASS_CORRELATION: f64 = 0.95;
/// Crossover below which side content is removed when the reference's bass is mono.
pub const MONO_BASS_HZ: f64 = 120.0;

/// Builds targets that make a mix match `reference`.
pub fn from_reference(reference: &Features, name: &str) -> Result<Targets> {
    crate::analysis::check_loud_enough(reference, "use as a reference")?;
    let d = &reference.dynamics;
    let lossy = lossy_evidence(reference);
    let mut targets = Targets {
        source: TargetSource::Reference {
            name: name.to_string(),
            lossy: lossy.clone(),
        },
        center_hz: reference.spectrum.center_hz.clone(),
        mid_db: reference.spectrum.mid_norm_db.clone(),
        side_db: reference.spectrum.side_norm_db.clone(),
        integrated_lufs: reference.loudness.integrated_lufs,
        plr_db: reference.loudness.plr_db,
        short_term_spread_lu: spread(d.short_term_p95_lufs, d.short_term_p10_lufs),
        width_db: reference.stereo.width_db,
        mono_bass_below_hz: (reference.stereo.low_end_correlation > MONO_BASS_CORRELATION)
            .then_some(MONO_BASS_HZ),
        bandwidth_hz: reference.quality.bandwidth_hz,
        ceiling_dbtp: DEFAULT_CEILING_DBTP,
        loudness: None,
    };
    if let Some(evidence) = &lossy {
        limit_to_real_bandwidth(&mut targets, evidence);
    }
    Ok(targets)
}

/// Marks the bands that reach past the reference's real bandwidth (mid) or side cut-off
/// (side) as without content.
fn limit_to_real_bandwidth(targets: &mut Targets, evidence: &LossyEvidence) {
    let (mid_limit, side_limit) = (evidence.mid_limit_hz(), evidence.side_limit_hz());
    for (i, &c) in targets.center_hz.iter().enumerate() {
        let upper = third_octave_edges_hz(c).1;
        if upper > mid_limit {
            targets.mid_db[i] = SILENT_BAND_DB;
        }
        if upper > side_limit * (1.0 + 1e-9) {
            targets.side_db[i] = SILENT_BAND_DB;
        }
    }
}

/// The target range of a reference: a point (low = centre = high), so resolving it against
/// any mix gives exactly [`from_reference`]'s targets.
pub fn range_from_reference(reference: &Features, name: &str) -> Result<TargetRange> {
    Ok(TargetRange::point(&from_reference(reference, name)?))
}

/// p95 - p10 of short-term loudness; 0 when either is missing (audio shorter than 3 s).
pub fn spread(p95: f64, p10: f64) -> f64 {
    let s = p95 - p10;
    if s.is_finite() {
        s
    } else {
        0.0
    }
}
