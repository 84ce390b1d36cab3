//! [`Targets`]: what the renderer should reach, and [`TargetRange`]: where a master plausibly
//! lies. Every source produces a range (a reference track ([`reference`]) or a saved style
//! profile as a point or per-band spread, the model (`model`) as percentiles); the one
//! correction law [`TargetRange::resolve`] turns a range and the mix's own features into
//! `Targets`, which the user's intensity and overrides ([`blend`]) then adjust. The renderer
//! reads nothing else:
//!
//! ```text
//! reference / profile / model -> TargetRange -> resolve(mix) -> Targets -> blend -> render
//! ```

pub mod blend;
pub mod genre;
pub mod model;
pub mod presets;
pub mod profile;
pub mod reference;

use serde::{Deserialize, Serialize};

use crate::analysis::Features;
use crate::error::{Error, Result};

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
        /// With `--genre auto` only: the classifier's probability for the genre it picked.
        /// A genre the user chose carries none (the classifier did not pick it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f64>,
    },
    /// A saved style profile (`lathe profile`), measured from these references.
    Profile {
        name: String,
        references: Vec<String>,
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
    /// Why `integrated_lufs` is what it is, when a range (not a point) chose it
    /// ([`TargetRange::resolve`]); reports show it. `None` for a reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<LoudnessChoice>,
}

/// How far the loudness target may always lower the mix's PLR by limiting, dB
/// ([`TargetRange::choose_loudness`]): a mastering limiter's usual work, about transparent.
/// Measured on three held-out electronic mixes (nexuiz-music) mastered at rising loudness:
/// lowering the PLR by 2-3.5 dB moved their mid curves 0.01-0.26 dB more than 1-1.5 dB did,
/// by 4-6 dB 0.15-0.69 dB more.
pub const LIMITING_BUDGET_DB: f64 = 3.0;

/// How [`TargetRange::choose_loudness`] chose the loudness target of a mix from a range
/// (the genre's, a profile's): the numbers behind it, for the report and the JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoudnessChoice {
    /// The range's loudness (10th / 50th / 90th percentile of its masters), LUFS.
    pub range_lufs: Range,
    /// The range's PLR, dB.
    pub range_plr_db: Range,
    /// The mix's peak-to-loudness ratio (true peak minus integrated loudness), dB.
    pub mix_plr_db: f64,
    /// [`LIMITING_BUDGET_DB`].
    pub limiting_budget_db: f64,
    /// The lowest PLR the master may have: `min(range PLR low, mix PLR - budget)`, dB.
    pub min_plr_db: f64,
    /// The loudest level that keeps it: `ceiling - min_plr_db`, LUFS (the limiter holds the
    /// peaks at the ceiling, so a master at loudness `L` has a PLR of `ceiling - L`).
    pub reachable_lufs: f64,
    /// The target, LUFS: `min(centre, reachable)`.
    pub target_lufs: f64,
    /// How much the target lowers the mix's PLR (the limiter's work), dB:
    /// `target + mix PLR - ceiling`, at least 0. The limiter's own peak reduction is at least
    /// this and more on dense material: limiting also lowers the loudness, which the loudness
    /// stage makes up with more gain (stationary noise limited by 3 dB of PLR read 10 dB).
    pub plr_reduction_db: f64,
    pub rule: LoudnessRule,
}

/// Which bound set the loudness target ([`LoudnessChoice`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoudnessRule {
    /// The range's centre: the mix reaches it within the limiting allowed.
    Centre,
    /// Below the centre, still inside the range: the loudest level the mix's dynamics allow.
    Dynamics,
    /// Below the range's low end: the mix is more dynamic than the range's masters are loud;
    /// it keeps its dynamics rather than being limited to a loudness number.
    BelowRange,
}

impl LoudnessChoice {
    /// One sentence for the report: what the target is and why.
    pub fn describe(&self) -> String {
        let r = &self.range_lufs;
        let head = format!(
            "Loudness target {:.1} LUFS (range {:.1} / {:.1} / {:.1} LUFS, mix PLR {:.1} dB, \
             PLR range from {:.1} dB)",
            self.target_lufs, r.low, r.centre, r.high, self.mix_plr_db, self.range_plr_db.low
        );
        let why = match self.rule {
            LoudnessRule::Centre => "the range's centre, reached".to_string(),
            LoudnessRule::Dynamics => "under the range's centre".to_string(),
            LoudnessRule::BelowRange => "under the range's low end".to_string(),
        };
        format!(
            "{head}: {why} with the PLR at or above {:.1} dB (the PLR range's low end, or the \
             mix's less {:.0} dB, whichever is lower); the PLR comes down {:.1} dB.",
            self.min_plr_db, self.limiting_budget_db, self.plr_reduction_db
        )
    }
}

/// Where a master plausibly lies: `low <= centre <= high` (e.g. the 10th, 50th and 90th
/// percentile of masters like this one). A reference track is a point: all three equal.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub low: f64,
    pub centre: f64,
    pub high: f64,
}

impl Range {
    /// A range of one value (a reference: "exactly this").
    pub fn point(value: f64) -> Self {
        Self {
            low: value,
            centre: value,
            high: value,
        }
    }

    /// A checked range: an [`Error::InvalidRange`] naming `what` unless every value is finite
    /// and `low <= centre <= high`.
    pub fn new(what: &str, low: f64, centre: f64, high: f64) -> Result<Self> {
        let r = Self { low, centre, high };
        r.validate(what)?;
        Ok(r)
    }

    /// Checks that the values are finite and ordered; `what` names the quantity in the error.
    pub fn validate(&self, what: &str) -> Result<()> {
        let finite = self.low.is_finite() && self.centre.is_finite() && self.high.is_finite();
        if finite && self.low <= self.centre && self.centre <= self.high {
            Ok(())
        } else {
            Err(Error::InvalidRange {
                what: what.to_string(),
                low: self.low,
                centre: self.centre,
                high: self.high,
            })
        }
    }

    /// Whether `value` lies within `low..=high`.
    pub fn contains(&self, value: f64) -> bool {
        (self.low..=self.high).contains(&value)
    }

    /// Where a quantity the mix has at `value` should end up: [`resolve_value`].
    pub fn resolve(&self, value: f64) -> f64 {
        resolve_value(value, self)
    }
}

/// The correction law, in one place: where a quantity the mix has at `x` should end up
/// (`training/` mirrors it; keep the two in step).
///
/// With `l`, `c`, `h` = low, centre, high:
///
/// ```text
/// l <= x <= h:   t = x                                  (inside: left as the mix has it)
/// x > h:         e = x - h,  w = h - c,  t = c + w * w^2 / (w^2 + e^2)
/// x < l:         e = l - x,  w = c - l,  t = c - w * w^2 / (w^2 + e^2)
/// ```
///
/// `e` is how far the value lies outside, `w` the half-width of the range on that side.
/// Outside, the target starts at the edge (`e -> 0`: `t -> h`, continuous with the inside)
/// and moves toward the centre as `e` grows, a quarter of the way at `e = w/sqrt 3`, half
/// way at `e = w`, 90 % at `e = 3w`: the correction `x - t` grows faster than the excess
/// itself, so a value far out is pulled to the centre and one just out barely past the
/// edge. With `w = 0` (a point range, a reference) every value goes exactly to the centre.
/// A value that is not a number (an unmeasurable mix) goes to the centre.
///
/// Example: range -1.5 / 0 / +1.5 dB, a +6 dB band: `e = 4.5`, `t = 1.5 * 2.25 / 22.5 =
/// 0.15`, an EQ of -5.85 dB; a band at +1.4 dB gets none.
///
/// [`TargetRange::resolve`] applies this to every mid and side band (`mid_norm_db`,
/// `side_norm_db`), the PLR, the short-term spread (p95 - p10) and the width; the integrated
/// loudness has its own rule ([`TargetRange::choose_loudness`]).
pub fn resolve_value(x: f64, range: &Range) -> f64 {
    let Range { low, centre, high } = *range;
    if x.is_nan() {
        centre
    } else if x > high {
        let (e, w) = (x - high, (high - centre).max(0.0));
        centre + w * kept_share(e, w)
    } else if x < low {
        let (e, w) = (low - x, (centre - low).max(0.0));
        centre - w * kept_share(e, w)
    } else {
        x
    }
}

/// `w^2 / (w^2 + e^2)`: the share of the half-width `w` the target keeps at excess `e > 0`
/// (1 at the edge, 0 far out, exactly 0 when `w` is 0 or `e` infinite).
fn kept_share(e: f64, w: f64) -> f64 {
    let (e2, w2) = (e * e, w * w);
    if w2 == 0.0 || e2.is_infinite() {
        0.0
    } else {
        w2 / (w2 + e2)
    }
}

/// Side/mid energy ratio under which a mix counts as near-mono, dB: [`TargetRange::resolve`]
/// then keeps its width and side curve (a range, not a point, only). At -25 dB the side
/// carries 1/316 of the mid's power: the image is practically mono, and a range built from
/// stereo masters would widen it by several dB (a held-out chiptune master at -43 dB was
/// pulled 6 dB wider by the model's range before this rule).
pub const NEAR_MONO_WIDTH_DB: f64 = -25.0;

/// Where a master plausibly lies, for every quantity of [`Targets`]: the target of a genre
/// (from the model), of a style profile (several references) or of one reference (a point).
/// [`TargetRange::resolve`] turns it into `Targets` for one mix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetRange {
    pub source: TargetSource,
    /// Band centres, the same band definition as [`Targets::center_hz`].
    pub center_hz: Vec<f64>,
    /// Band level minus integrated loudness, as [`Targets::mid_db`], dB.
    pub mid_db: Vec<Range>,
    pub side_db: Vec<Range>,
    pub integrated_lufs: Range,
    /// True peak minus integrated loudness, dB.
    pub plr_db: Range,
    /// Short-term loudness p95 - p10, LU.
    pub short_term_spread_lu: Range,
    /// Side/mid energy ratio, dB.
    pub width_db: Range,
    pub mono_bass_below_hz: Option<f64>,
    pub bandwidth_hz: f64,
    pub ceiling_dbtp: f64,
}

impl TargetRange {
    /// The range of exactly these targets (low = centre = high everywhere): what a reference
    /// gives. `point(t).resolve(mix) == t` for every mix.
    pub fn point(targets: &Targets) -> Self {
        let points = |v: &[f64]| v.iter().copied().map(Range::point).collect();
        Self {
            source: targets.source.clone(),
            center_hz: targets.center_hz.clone(),
            mid_db: points(&targets.mid_db),
            side_db: points(&targets.side_db),
            integrated_lufs: Range::point(targets.integrated_lufs),
            plr_db: Range::point(targets.plr_db),
            short_term_spread_lu: Range::point(targets.short_term_spread_lu),
            width_db: Range::point(targets.width_db),
            mono_bass_below_hz: targets.mono_bass_below_hz,
            bandwidth_hz: targets.bandwidth_hz,
            ceiling_dbtp: targets.ceiling_dbtp,
        }
    }

    /// The centres as targets: the typical master, whatever the mix.
    pub fn centre(&self) -> Targets {
        let centres = |v: &[Range]| v.iter().map(|r| r.centre).collect();
        Targets {
            source: self.source.clone(),
            center_hz: self.center_hz.clone(),
            mid_db: centres(&self.mid_db),
            side_db: centres(&self.side_db),
            integrated_lufs: self.integrated_lufs.centre,
            plr_db: self.plr_db.centre,
            short_term_spread_lu: self.short_term_spread_lu.centre,
            width_db: self.width_db.centre,
            mono_bass_below_hz: self.mono_bass_below_hz,
            bandwidth_hz: self.bandwidth_hz,
            ceiling_dbtp: self.ceiling_dbtp,
            loudness: None,
        }
    }

    /// Whether every range is a single value (low = high): a reference, or a profile of one.
    pub fn is_point(&self) -> bool {
        let point = |r: &Range| r.low == r.high;
        self.mid_db.iter().chain(&self.side_db).all(point)
            && [
                &self.integrated_lufs,
                &self.plr_db,
                &self.short_term_spread_lu,
                &self.width_db,
            ]
            .into_iter()
            .all(point)
    }

    /// Checks every range (finite, `low <= centre <= high`) and that the band lists agree in
    /// length; the error names the first bad quantity ("mid band 12 (400 Hz)").
    pub fn validate(&self) -> Result<()> {
        let n = self.center_hz.len();
        if self.mid_db.len() != n || self.side_db.len() != n {
            return Err(Error::InvalidSetting(format!(
                "target range has {n} band centres but {} mid and {} side bands",
                self.mid_db.len(),
                self.side_db.len()
            )));
        }
        for (name, bands) in [("mid", &self.mid_db), ("side", &self.side_db)] {
            for (i, (r, f)) in bands.iter().zip(&self.center_hz).enumerate() {
                r.validate(&format!("{name} band {i} ({f:.0} Hz)"))?;
            }
        }
        self.integrated_lufs.validate("integrated loudness")?;
        self.plr_db.validate("PLR")?;
        self.short_term_spread_lu
            .validate("short-term loudness spread")?;
        self.width_db.validate("width")?;
        Ok(())
    }

    /// The targets for `mix`: every band, the PLR, the short-term spread and the width by
    /// [`Range::resolve`] (inside its range a value stays where the mix has it; outside it is
    /// pulled toward the centre, harder the further out); the loudness by
    /// [`TargetRange::choose_loudness`] (a master must land at a loudness: the range's centre
    /// unless the mix's dynamics say otherwise). The renderer's EQ is then `target - mix` per
    /// band, as for any `Targets`.
    ///
    /// A near-mono mix (width under [`NEAR_MONO_WIDTH_DB`]) keeps its side curve and width
    /// when the range is not a point, and its side is not high-passed (no mono bass): the
    /// high-pass would take most of what little side it has (often bass), and the width stage,
    /// holding the kept width, would then put that energy back as a broadband side boost
    /// (a held-out chiptune master came back with +6 dB of side above 120 Hz).
    ///
    /// Call [`TargetRange::validate`] first: on an unordered range the law still returns
    /// finite targets, but they mean nothing. A band the mix lacks (another band grid) takes
    /// the centre; the renderer refuses mismatched grids anyway.
    pub fn resolve(&self, mix: &Features) -> Targets {
        let bands = |ranges: &[Range], mix_db: &[f64]| -> Vec<f64> {
            ranges
                .iter()
                .enumerate()
                .map(|(i, r)| mix_db.get(i).map_or(r.centre, |&x| r.resolve(x)))
                .collect()
        };
        let d = &mix.dynamics;
        // A near-mono mix keeps its image: its side channel is a deliberate choice (or a
        // mono source), not a departure from the style, and widening it EQs what is
        // little more than noise. A point range (a reference) still asks for exactly its
        // own width and side curve.
        let keep_image = !self.is_point() && mix.stereo.width_db < NEAR_MONO_WIDTH_DB;
        let (side_db, width_db) = if keep_image {
            (mix.spectrum.side_norm_db.clone(), mix.stereo.width_db)
        } else {
            (
                bands(&self.side_db, &mix.spectrum.side_norm_db),
                self.width_db.resolve(mix.stereo.width_db),
            )
        };
        let loudness = self.choose_loudness(mix);
        Targets {
            source: self.source.clone(),
            center_hz: self.center_hz.clone(),
            mid_db: bands(&self.mid_db, &mix.spectrum.mid_norm_db),
            side_db,
            integrated_lufs: loudness
                .as_ref()
                .map_or(self.integrated_lufs.centre, |c| c.target_lufs),
            plr_db: self.plr_db.resolve(mix.loudness.plr_db),
            short_term_spread_lu: self.short_term_spread_lu.resolve(reference::spread(
                d.short_term_p95_lufs,
                d.short_term_p10_lufs,
            )),
            width_db,
            mono_bass_below_hz: if keep_image {
                None
            } else {
                self.mono_bass_for(mix)
            },
            bandwidth_hz: self.bandwidth_hz,
            ceiling_dbtp: self.ceiling_dbtp,
            loudness,
        }
    }

    /// The range's mono bass for `mix`: under a range that is not a point, only when the
    /// mix's own low end (side/mid energy of the bands at or below
    /// [`model::MONO_BASS_HZ`]) is wider than [`model::MONO_BASS_WIDTH_DB`]: a low end that
    /// is practically mono already is inside what the range asks and is left alone, as any
    /// value inside its range. Folding it gains nothing audible, but the high-pass takes
    /// 20-30 dB off the side's lowest bands, and the width stage, measuring the side that is
    /// left, widens everything above to make up for it (held-out masters with low ends at
    /// -21 to -37 dB came back with their side curves moved 3.1-3.7 dB). A point range (a
    /// reference) keeps its mono bass whatever the mix.
    pub fn mono_bass_for(&self, mix: &Features) -> Option<f64> {
        let hz = self.mono_bass_below_hz?;
        if self.is_point() {
            return Some(hz);
        }
        let s = &mix.spectrum;
        let low_end = model::low_end_width_db(&s.center_hz, &s.mid_norm_db, &s.side_norm_db);
        (low_end > model::MONO_BASS_WIDTH_DB).then_some(hz)
    }

    /// The loudness target of `mix` under a range that is not a point (a point, a reference,
    /// gives its loudness exactly: `None`, the centre).
    ///
    /// The loudest value up to the range's centre that the mix reaches without its PLR going
    /// under `min_plr = min(plr.low, mix PLR - LIMITING_BUDGET_DB)`:
    ///
    /// ```text
    /// target = min(centre, ceiling - min_plr)
    /// ```
    ///
    /// Once the limiter holds the peaks at the ceiling, a master at loudness `L` has a PLR of
    /// `ceiling - L`; the limiter takes `L + mix PLR - ceiling` dB off the mix's highest peak.
    /// So the mix's PLR may come down by [`LIMITING_BUDGET_DB`], or further, to the low end of
    /// the range's PLR when masters like it are that dense. A mix that reaches the centre so
    /// gets the centre ([`LoudnessRule::Centre`]); a more dynamic one stays as loud as that
    /// allows, inside the range ([`LoudnessRule::Dynamics`]) or, when even the range's low
    /// end would take more, under it ([`LoudnessRule::BelowRange`]): a dynamic mix keeps its
    /// dynamics rather than being crushed to a genre's number.
    ///
    /// Why: the genre's loudness range alone ignores the mix. Held-out electronic masters
    /// sit 7-8 LU under the genre's median (PLR 17-22 dB; the model's PLR range said so) and
    /// the centre asked 6-12 dB of peak reduction, which moved their band curves by about
    /// 1 dB. A mix's own level is not used: before mastering it is wherever the mix engineer
    /// left the peaks, not a loudness decision; its PLR is.
    pub fn choose_loudness(&self, mix: &Features) -> Option<LoudnessChoice> {
        if self.is_point() {
            return None;
        }
        let range = self.integrated_lufs;
        let mix_plr_db = mix.loudness.plr_db;
        let min_plr_db = if mix_plr_db.is_finite() {
            self.plr_db.low.min(mix_plr_db - LIMITING_BUDGET_DB)
        } else {
            self.plr_db.low
        };
        let reachable_lufs = self.ceiling_dbtp - min_plr_db;
        let (target_lufs, rule) = if !reachable_lufs.is_finite() || reachable_lufs >= range.centre {
            (range.centre, LoudnessRule::Centre)
        } else if reachable_lufs >= range.low {
            (reachable_lufs, LoudnessRule::Dynamics)
        } else {
            (reachable_lufs, LoudnessRule::BelowRange)
        };
        let planned = target_lufs + mix_plr_db - self.ceiling_dbtp;
        Some(LoudnessChoice {
            range_lufs: range,
            range_plr_db: self.plr_db,
            mix_plr_db,
            limiting_budget_db: LIMITING_BUDGET_DB,
            min_plr_db,
            reachable_lufs,
            target_lufs,
            plr_reduction_db: if planned.is_finite() {
                planned.max(0.0)
            } else {
                0.0
            },
            rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_the_range_the_value_stays() {
        let r = Range::new("test", -1.5, 0.0, 1.5).unwrap();
        for x in [-1.5, -0.7, 0.0, 0.3, 1.4, 1.5] {
            assert_eq!(r.resolve(x), x, "x = {x}");
        }
    }

    #[test]
    fn outside_the_law_matches_its_formula() {
        // Hand-computed from the doc formula: w = 1.5.
        let r = Range::new("test", -1.5, 0.0, 1.5).unwrap();
        // e = 4.5: t = 1.5 * 2.25 / (2.25 + 20.25) = 0.15.
        assert!((r.resolve(6.0) - 0.15).abs() < 1e-12, "{}", r.resolve(6.0));
        assert!((r.resolve(-6.0) + 0.15).abs() < 1e-12);
        // e = w: half way from the edge to the centre.
        assert!((r.resolve(3.0) - 0.75).abs() < 1e-12);
        // Just outside: continuous with the inside (t -> edge).
        assert!((r.resolve(1.5 + 1e-9) - 1.5).abs() < 1e-8);
        // Far out: the centre.
        assert!(r.resolve(1e6).abs() < 1e-6);
        assert_eq!(r.resolve(f64::INFINITY), 0.0);
        assert_eq!(r.resolve(f64::NEG_INFINITY), 0.0);
        assert_eq!(r.resolve(f64::NAN), 0.0);
    }

    #[test]
    fn correction_grows_faster_than_the_excess() {
        // Asymmetric range: each side uses its own half-width.
        let r = Range::new("test", -4.0, -1.0, 0.0).unwrap();
        let mut last = 0.0;
        for k in 1..200 {
            let x = f64::from(k) * 0.05;
            let correction = x - r.resolve(x);
            assert!(correction >= x - r.high - 1e-12, "x = {x}: {correction}");
            assert!(correction > last, "x = {x}: {correction} <= {last}");
            last = correction;
        }
        // Below: w = 3, e = 3 -> half way from -4 to -1.
        assert!((r.resolve(-7.0) + 2.5).abs() < 1e-12);
    }

    #[test]
    fn a_point_range_gives_exactly_the_centre() {
        let r = Range::point(-13.7);
        for x in [-100.0, -13.700000001, -13.7, -13.0, 5.0, f64::NAN] {
            assert_eq!(r.resolve(x).to_bits(), (-13.7f64).to_bits(), "x = {x}");
        }
    }

    #[test]
    fn unordered_or_non_finite_ranges_are_errors() {
        assert!(Range::new("a", 1.0, 0.0, 2.0).is_err());
        assert!(Range::new("a", 0.0, 3.0, 2.0).is_err());
        assert!(Range::new("a", f64::NAN, 0.0, 2.0).is_err());
        assert!(Range::new("a", 0.0, 0.0, f64::INFINITY).is_err());
        let e = Range::new("mid band 3", 1.0, 0.0, 2.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mid band 3") && e.contains("1 / 0 / 2"), "{e}");
        assert!(Range::new("a", 0.0, 0.0, 0.0).is_ok());
    }

    fn targets() -> Targets {
        Targets {
            source: TargetSource::Manual,
            center_hz: vec![100.0, 1000.0],
            mid_db: vec![-20.0, -25.0],
            side_db: vec![-40.0, -45.0],
            integrated_lufs: -11.0,
            plr_db: 9.0,
            short_term_spread_lu: 5.0,
            width_db: -12.0,
            mono_bass_below_hz: Some(120.0),
            bandwidth_hz: 18_000.0,
            ceiling_dbtp: -1.0,
            loudness: None,
        }
    }

    #[test]
    fn target_range_validation_names_the_band() {
        let mut r = TargetRange::point(&targets());
        assert!(r.validate().is_ok());
        r.side_db[1] = Range {
            low: 0.0,
            centre: -1.0,
            high: 1.0,
        };
        let e = r.validate().unwrap_err().to_string();
        assert!(e.contains("side band 1 (1000 Hz)"), "{e}");
        let mut r = TargetRange::point(&targets());
        r.mid_db.pop();
        assert!(r.validate().is_err());
        let mut r = TargetRange::point(&targets());
        r.width_db.low = f64::NAN;
        assert!(r.validate().unwrap_err().to_string().contains("width"));
    }

    #[test]
    fn centre_of_a_point_range_is_the_targets() {
        assert_eq!(TargetRange::point(&targets()).centre(), targets());
    }
}
