//! Style profiles: the target range of one or several finished tracks, measured once and saved
//! as versioned JSON, so `lathe match MIX style.json` and `lathe master MIX --style style.json`
//! master toward it without decoding or analysing a reference again.
//!
//! Each reference gives the targets [`reference::from_reference`] gives; the profile's range
//! per quantity (every mid and side band, loudness, PLR, short-term spread, width) is the
//! 10th / 50th / 90th percentile of the references' values (linear interpolation between the
//! sorted values, as numpy's default): several references average into one target (the
//! median), and their spread becomes the range that [`TargetRange::resolve`] corrects toward.
//! One reference is a point range, so matching with its profile is exactly matching with it.
//! Mono bass is kept when most references have it; the bandwidth is the median.
//!
//! The spread is over the references only: the analysis keeps long-term band averages, not
//! their movement over time.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::reference;
use super::{Range, TargetRange, TargetSource, Targets};
use crate::analysis::{Features, FEATURES_SCHEMA_VERSION};
use crate::error::{Error, Result};

/// The `format` field of every profile file: what the file is.
pub const PROFILE_FORMAT: &str = "lathe-style-profile";
/// Bump when a field is added, removed or computed differently.
pub const PROFILE_VERSION: u32 = 1;
/// Percentiles of the references' values that make a range's low, centre and high.
pub const RANGE_PERCENTILES: [f64; 3] = [10.0, 50.0, 90.0];

/// One reference a profile was measured from, for the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileReference {
    pub name: String,
    pub duration_s: f64,
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
}

/// A saved style: where masters like these references lie.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StyleProfile {
    /// Always [`PROFILE_FORMAT`].
    pub format: String,
    /// [`PROFILE_VERSION`] of the lathe that wrote it.
    pub version: u32,
    /// The analysis schema the references were measured with.
    pub features_schema_version: u32,
    pub references: Vec<ProfileReference>,
    pub range: TargetRange,
}

/// The `p`-th percentile of `sorted` (ascending, not empty), linear between neighbours.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    if frac == 0.0 {
        sorted[lo]
    } else {
        sorted[lo] + frac * (sorted[hi] - sorted[lo])
    }
}

/// The range of `values` (one per reference): 10th / 50th / 90th percentile.
fn range_of(values: impl Iterator<Item = f64>) -> Range {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let [low, centre, high] = RANGE_PERCENTILES.map(|p| percentile(&v, p));
    Range { low, centre, high }
}

/// Measures a profile from analysed references `(name, features)`; `name` names the profile
/// in reports (usually its file name). Errors on no references, a silent one (naming it) or
/// references measured on different band grids.
pub fn from_references(name: &str, references: &[(String, Features)]) -> Result<StyleProfile> {
    let Some((_, first)) = references.first() else {
        return Err(Error::InvalidSetting(
            "a style profile needs at least one reference".into(),
        ));
    };
    let mut targets: Vec<Targets> = Vec::with_capacity(references.len());
    for (ref_name, f) in references {
        let t = reference::from_reference(f, ref_name)
            .map_err(|e| Error::InvalidSetting(format!("reference '{ref_name}': {e}")))?;
        if t.center_hz != first.spectrum.center_hz {
            return Err(Error::InvalidSetting(format!(
                "reference '{ref_name}' was measured on another band grid ({} bands)",
                t.center_hz.len()
            )));
        }
        targets.push(t);
    }
    let bands = |pick: fn(&Targets) -> &Vec<f64>| -> Vec<Range> {
        (0..first.spectrum.center_hz.len())
            .map(|i| range_of(targets.iter().map(|t| pick(t)[i])))
            .collect()
    };
    let scalar = |pick: fn(&Targets) -> f64| range_of(targets.iter().map(pick));
    let mono = targets
        .iter()
        .filter(|t| t.mono_bass_below_hz.is_some())
        .count();
    let range = TargetRange {
        source: TargetSource::Profile {
            name: name.to_string(),
            references: references.iter().map(|(n, _)| n.clone()).collect(),
        },
        center_hz: first.spectrum.center_hz.clone(),
        mid_db: bands(|t| &t.mid_db),
        side_db: bands(|t| &t.side_db),
        integrated_lufs: scalar(|t| t.integrated_lufs),
        plr_db: scalar(|t| t.plr_db),
        short_term_spread_lu: scalar(|t| t.short_term_spread_lu),
        width_db: scalar(|t| t.width_db),
        mono_bass_below_hz: (2 * mono > targets.len()).then_some(reference::MONO_BASS_HZ),
        bandwidth_hz: scalar(|t| t.bandwidth_hz).centre,
        ceiling_dbtp: reference::DEFAULT_CEILING_DBTP,
    };
    range.validate()?;
    Ok(StyleProfile {
        format: PROFILE_FORMAT.to_string(),
        version: PROFILE_VERSION,
        features_schema_version: FEATURES_SCHEMA_VERSION,
        references: references
            .iter()
            .map(|(n, f)| ProfileReference {
                name: n.clone(),
                duration_s: f.duration_s,
                integrated_lufs: f.loudness.integrated_lufs,
                true_peak_dbtp: f.loudness.true_peak_dbtp,
            })
            .collect(),
        range,
    })
}

impl StyleProfile {
    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .map_err(|e| Error::InvalidSetting(format!("cannot serialise the profile: {e}")))
    }

    /// Parses and checks a profile read from `path` (named in every error): the format tag,
    /// the version, the band grid (this lathe's third-octave centres) and every range.
    pub fn from_json(path: &Path, text: &str) -> Result<Self> {
        let bad = |reason: String| Error::Profile {
            path: path.to_path_buf(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
        let format = value.get("format").and_then(serde_json::Value::as_str);
        if format != Some(PROFILE_FORMAT) {
            return Err(bad(format!(
                "not a lathe style profile (its \"format\" is {}, not \"{PROFILE_FORMAT}\"); \
                 make one with `lathe profile REF... -o style.json`",
                format.map_or("missing".to_string(), |f| format!("\"{f}\""))
            )));
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(PROFILE_VERSION)) {
            return Err(bad(format!(
                "profile version {} is not this lathe's {PROFILE_VERSION}; measure the \
                 references again with this lathe's `lathe profile`",
                version.map_or("missing".to_string(), |v| v.to_string())
            )));
        }
        let profile: StyleProfile =
            serde_json::from_value(value).map_err(|e| bad(format!("malformed ({e})")))?;
        let grid = super::model::band_centers_hz();
        let c = &profile.range.center_hz;
        let same_grid =
            c.len() == grid.len() && c.iter().zip(&grid).all(|(a, b)| (a - b).abs() <= 1e-9 * b);
        if !same_grid {
            return Err(bad(format!(
                "its {} band centres are not lathe's {} third-octave bands",
                c.len(),
                grid.len()
            )));
        }
        profile.range.validate().map_err(|e| bad(e.to_string()))?;
        for (what, v) in [
            ("bandwidth", profile.range.bandwidth_hz),
            ("ceiling", profile.range.ceiling_dbtp),
        ] {
            if !v.is_finite() {
                return Err(bad(format!("its {what} is not a number")));
            }
        }
        Ok(profile)
    }

    /// Reads and checks a profile file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Profile {
            path: path.to_path_buf(),
            reason: "not a lathe style profile (not text: an audio file?); make one with \
                     `lathe profile REF... -o style.json`"
                .into(),
        })?;
        Self::from_json(path, &text)
    }
}

/// Whether `path` looks like a profile rather than audio: a `.json` name, or text starting
/// with `{` (audio containers never do).
pub fn looks_like_profile(path: &Path) -> bool {
    let json_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    json_name
        || std::fs::read(path).is_ok_and(|b| {
            b.iter()
                .find(|c| !c.is_ascii_whitespace())
                .is_some_and(|&c| c == b'{')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 4, 8], [10, 50, 90]) = [1.3, 3.0, 6.8].
        let v = [1.0, 2.0, 4.0, 8.0];
        assert!((percentile(&v, 10.0) - 1.3).abs() < 1e-12);
        assert!((percentile(&v, 50.0) - 3.0).abs() < 1e-12);
        assert!((percentile(&v, 90.0) - 6.8).abs() < 1e-12);
        assert_eq!(percentile(&[-7.25], 90.0), -7.25);
        let r = range_of([3.0, -1.0].into_iter());
        assert!((r.low + 0.6).abs() < 1e-12 && r.centre == 1.0 && (r.high - 2.6).abs() < 1e-12);
    }
}
