//! User overrides on top of targets from any source: loudness, ceiling.
//!
//! How far the renderer moves towards the targets (intensity) is a render setting
//! (`RenderSettings::amount`), so the same targets can be rendered at several intensities.

use super::genre::GenreInfo;
use super::Targets;
use crate::error::{Error, Result};

/// Pulls the loudness and PLR targets toward the typical master of `genre` (the medians of
/// its training masters) by `weight` (0 = unchanged, 1 = the genre's medians).
///
/// Why: the model learns "restore this mix's own master", and a mix already carries its
/// genre, so the genre input barely moves its targets (`training/REPORT.md`). A user who asks
/// for `--genre rock` on a mix that does not sound like rock expects a rock master's loudness
/// and density; the genre's medians supply that where the model cannot.
pub fn toward_genre(mut targets: Targets, genre: &GenreInfo, weight: f64) -> Targets {
    let w = weight.clamp(0.0, 1.0);
    if let Some(lufs) = genre.master_lufs_median {
        targets.integrated_lufs = (1.0 - w) * targets.integrated_lufs + w * lufs;
    }
    if let Some(plr) = genre.master_plr_db_median {
        targets.plr_db = (1.0 - w) * targets.plr_db + w * plr;
    }
    targets
}

/// Settings a user may force, whatever the targets' source says.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Overrides {
    pub integrated_lufs: Option<f64>,
    pub ceiling_dbtp: Option<f64>,
}

/// Sensible bounds for user-given loudness and ceiling.
pub const LUFS_RANGE: std::ops::RangeInclusive<f64> = -40.0..=-3.0;
pub const CEILING_RANGE_DBTP: std::ops::RangeInclusive<f64> = -12.0..=0.0;

impl Overrides {
    pub fn validate(&self) -> Result<()> {
        if let Some(l) = self.integrated_lufs {
            if !LUFS_RANGE.contains(&l) {
                return Err(Error::InvalidSetting(format!(
                    "target loudness {l} LUFS is outside {}..={} LUFS",
                    LUFS_RANGE.start(),
                    LUFS_RANGE.end()
                )));
            }
        }
        if let Some(c) = self.ceiling_dbtp {
            if !CEILING_RANGE_DBTP.contains(&c) {
                return Err(Error::InvalidSetting(format!(
                    "ceiling {c} dBTP is outside {}..={} dBTP",
                    CEILING_RANGE_DBTP.start(),
                    CEILING_RANGE_DBTP.end()
                )));
            }
        }
        Ok(())
    }

    /// Returns `targets` with the overrides applied.
    pub fn apply(&self, mut targets: Targets) -> Result<Targets> {
        self.validate()?;
        if let Some(l) = self.integrated_lufs {
            targets.integrated_lufs = l;
            // The user's (or a preset's) loudness, not the range's choice.
            targets.loudness = None;
        }
        if let Some(c) = self.ceiling_dbtp {
            targets.ceiling_dbtp = c;
        }
        Ok(targets)
    }
}
