//! [`Targets`]: what the renderer should reach. Built from a reference track
//! ([`reference`]) or predicted by the model (`model`), then scaled by the user's intensity
//! and overrides ([`blend`]). The renderer reads nothing else.

pub mod blend;
pub mod genre;
pub mod model;
pub mod presets;
pub mod reference;

use serde::{Deserialize, Serialize};

/// Where a set of targets came from, for reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetSource {
    Reference {
        name: String,
        /// What a lossy codec left in the reference, when it did; the match then stops at
        /// the reference's real bandwidth (mid and side: see [`reference::from_reference`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lossy: Option<crate::analysis::quality::LossyEvidence>,
    },
    Model {
        genre: String,
        confidence: f64,
    },
    Manual,
}

/// Tonal, loudness, dynamics and stereo goals for one master.
///
/// Band curves use the same definition as [`crate::analysis::Spectrum::mid_norm_db`]:
/// third-octave band level minus integrated loudness, so the renderer's EQ is
/// `target - mix` band by band.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    pub source: TargetSource,
    pub center_hz: Vec<f64>,
    pub mid_db: Vec<f64>,
    pub side_db: Vec<f64>,
    pub integrated_lufs: f64,
    /// Peak-to-loudness ratio the master should have (true peak minus integrated).
    pub plr_db: f64,
    /// Spread of short-term loudness, p95 - p10, in LU.
    pub short_term_spread_lu: f64,
    /// Side/mid energy ratio, dB.
    pub width_db: f64,
    /// Keep the side channel empty below this frequency (mono bass), if set.
    pub mono_bass_below_hz: Option<f64>,
    /// Highest frequency with content in the target: no EQ boosts above it.
    pub bandwidth_hz: f64,
    /// True-peak ceiling of the output.
    pub ceiling_dbtp: f64,
}
