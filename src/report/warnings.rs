//! Warnings with stable codes, each with the evidence that raised it.
//!
//! One table ([`CODES`]) lists every code a report can carry: the report's own checks of the
//! mix and of what the render had to do, and the renderer's codes
//! ([`crate::render::chain`]'s `W_*` constants), which are passed through unchanged. Codes
//! never change meaning; new checks get new codes (Matchering keeps such a table too:
//! `matchering/log/codes.py`). `lathe analyze` prints the input checks under the same codes.
//!
//! | code | raised when |
//! |---|---|
//! | `W_CLIPPING` | the mix has samples at full scale in runs of 3 or more |
//! | `W_TRUE_PEAK_OVER` | the mix's true peak is above 0 dBTP |
//! | `W_ALREADY_LIMITED` | the mix looks brick-wall limited (low PLR, crowded peaks) |
//! | `W_LOSSY_BANDWIDTH` | the mix has no content above 17 kHz at 44.1 kHz or more |
//! | `W_LOW_END_PHASE` | the mix's low end (< 150 Hz) has L/R correlation under 0.5 |
//! | `W_SHORT_INPUT` | the mix is shorter than 10 s |
//! | `W_QUIET_INPUT` | the mix's integrated loudness is under -35 LUFS |
//! | `W_LOSSY_REFERENCE` | the reference was lossy (low-passed, or its side cut by joint stereo): matched only where whole |
//! | `W_EQ_EXTREME` | the applied EQ boosts or cuts more than 6 dB somewhere (20 Hz-20 kHz) |
//! | `W_LIMIT_HEAVY` | the limiter reduced the highest peak by more than 6 dB |
//! | `W_SILENCE` | (renderer) the input is silence |
//! | `W_LIMIT_EXTREME` | (renderer) the target needed more than 12 dB of limiting; held there |
//! | `W_LOUDNESS_NOT_REACHED` | (renderer) the output missed the loudness target |
//! | `W_CEILING_LIMITS_LOUDNESS` | (renderer) limiter off: the ceiling held the gain down |
//! | `W_SAFETY_TRIM` | (renderer) a final trim of 0.05 dB or more held the true-peak ceiling |
//! | `W_MONO_NO_WIDTH` | (renderer) width asked of a mono input |
//! | `W_TOO_SHORT_FOR_COMPRESSION` | (renderer) too short for the compressor's statistics |
//! | `W_DC_OFFSET` | (renderer) the input had a DC offset over -60 dBFS; removed |
//! | `W_RENDER` | (renderer) a message without a code of its own |

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::Features;
use crate::render::chain::{
    RenderLog, W_CEILING_LIMITS_LOUDNESS, W_DC_OFFSET, W_LIMIT_EXTREME, W_LOUDNESS_NOT_REACHED,
    W_MONO_NO_WIDTH, W_SAFETY_TRIM, W_SILENCE, W_TOO_SHORT_FOR_COMPRESSION,
};
use crate::targets::{TargetSource, Targets};

pub const W_CLIPPING: &str = "W_CLIPPING";
pub const W_TRUE_PEAK_OVER: &str = "W_TRUE_PEAK_OVER";
pub const W_ALREADY_LIMITED: &str = "W_ALREADY_LIMITED";
pub const W_LOSSY_BANDWIDTH: &str = "W_LOSSY_BANDWIDTH";
pub const W_LOW_END_PHASE: &str = "W_LOW_END_PHASE";
pub const W_SHORT_INPUT: &str = "W_SHORT_INPUT";
pub const W_QUIET_INPUT: &str = "W_QUIET_INPUT";
pub const W_LOSSY_REFERENCE: &str = "W_LOSSY_REFERENCE";
pub const W_EQ_EXTREME: &str = "W_EQ_EXTREME";
pub const W_LIMIT_HEAVY: &str = "W_LIMIT_HEAVY";
/// A renderer message that carries no code (should not happen; kept so nothing is lost).
pub const W_RENDER: &str = "W_RENDER";

/// Lossy encoders (MP3, AAC at common bit rates) low-pass at 16-17 kHz; a full-band master
/// at 44.1 kHz or more has content above 17 kHz.
pub const LOSSY_BANDWIDTH_HZ: f64 = 17_000.0;
/// Low-end correlation under this loses more than 1.2 dB of bass in mono
/// (`10 log10((1 + c) / 2)`), audible on club systems and phones.
pub const LOW_END_CORRELATION_MIN: f64 = 0.5;
/// A low end quieter than this (band level re the integrated loudness, dB) is not judged.
const LOW_END_CONTENT_DB: f64 = -45.0;
/// Loudness range and the short-term statistics (3 s windows) say little about less audio.
pub const SHORT_INPUT_S: f64 = 10.0;
/// Under this, reaching a streaming loudness takes 20 dB or more of gain: noise and hiss rise
/// by as much.
pub const QUIET_INPUT_LUFS: f64 = -35.0;
/// EQ moves beyond this (either way) are more than a mastering touch: the mix may need work.
pub const EXTREME_EQ_DB: f64 = 6.0;
/// Limiting deeper than this is audible on most material (pumping, dulled transients).
pub const HEAVY_LIMITING_DB: f64 = 6.0;
/// The range judged for extreme EQ: every band the renderer sets (its curve is held flat
/// outside 20 Hz..20 kHz).
const EQ_CHECK_LOW_HZ: f64 = 19.0;
const EQ_CHECK_HIGH_HZ: f64 = 21_000.0;

/// One row of the table of codes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CodeInfo {
    pub code: &'static str,
    /// What raised it, in a few words.
    pub meaning: &'static str,
}

/// Every code a report can carry (see the module docs).
pub const CODES: &[CodeInfo] = &[
    CodeInfo {
        code: W_CLIPPING,
        meaning: "the mix has samples at full scale in runs of 3 or more",
    },
    CodeInfo {
        code: W_TRUE_PEAK_OVER,
        meaning: "the mix's true peak is above 0 dBTP",
    },
    CodeInfo {
        code: W_ALREADY_LIMITED,
        meaning: "the mix looks brick-wall limited",
    },
    CodeInfo {
        code: W_LOSSY_BANDWIDTH,
        meaning: "the mix has no content above 17 kHz (lossy source?)",
    },
    CodeInfo {
        code: W_LOW_END_PHASE,
        meaning: "the mix's low end loses level in mono (L/R correlation under 0.5)",
    },
    CodeInfo {
        code: W_SHORT_INPUT,
        meaning: "the mix is shorter than 10 s",
    },
    CodeInfo {
        code: W_QUIET_INPUT,
        meaning: "the mix is quieter than -35 LUFS",
    },
    CodeInfo {
        code: W_LOSSY_REFERENCE,
        meaning: "the reference is lossy (low-passed or side cut): matched only where whole",
    },
    CodeInfo {
        code: W_EQ_EXTREME,
        meaning: "the applied EQ moves more than 6 dB somewhere (20 Hz-20 kHz)",
    },
    CodeInfo {
        code: W_LIMIT_HEAVY,
        meaning: "the limiter reduced the highest peak by more than 6 dB",
    },
    CodeInfo {
        code: W_SILENCE,
        meaning: "the input is silence (renderer)",
    },
    CodeInfo {
        code: W_LIMIT_EXTREME,
        meaning: "the target needs more than 12 dB of limiting; held there (renderer)",
    },
    CodeInfo {
        code: W_LOUDNESS_NOT_REACHED,
        meaning: "the output missed the loudness target (renderer)",
    },
    CodeInfo {
        code: W_CEILING_LIMITS_LOUDNESS,
        meaning: "limiter off: the ceiling held the gain under the target (renderer)",
    },
    CodeInfo {
        code: W_SAFETY_TRIM,
        meaning: "a final trim of 0.05 dB or more held the true-peak ceiling (renderer)",
    },
    CodeInfo {
        code: W_MONO_NO_WIDTH,
        meaning: "a width change was asked of a mono input (renderer)",
    },
    CodeInfo {
        code: W_TOO_SHORT_FOR_COMPRESSION,
        meaning: "too short for the compressor's statistics: not compressed (renderer)",
    },
    CodeInfo {
        code: W_DC_OFFSET,
        meaning: "the input had a DC offset over -60 dBFS; removed (renderer)",
    },
    CodeInfo {
        code: W_RENDER,
        meaning: "a renderer message without a code of its own (renderer)",
    },
];

/// A warning: its code, a sentence, and the numbers behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
    /// Named measurements that raised the warning (units in the names).
    pub evidence: BTreeMap<String, f64>,
}

impl Warning {
    fn new(code: &str, message: String, evidence: &[(&str, f64)]) -> Self {
        Self {
            code: code.to_string(),
            message,
            evidence: evidence
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
        }
    }
}

/// Checks of the mix alone (what `lathe analyze` can say before any render).
pub fn input_warnings(mix: &Features) -> Vec<Warning> {
    let mut w = Vec::new();
    let l = &mix.loudness;
    let q = &mix.quality;
    if q.clipped_samples > 0 {
        w.push(Warning::new(
            W_CLIPPING,
            format!(
                "{} samples sit at full scale in runs of 3 or more: the mix clips",
                q.clipped_samples
            ),
            &[("clipped_samples", q.clipped_samples as f64)],
        ));
    }
    if l.true_peak_dbtp > 0.0 && l.true_peak_dbtp.is_finite() {
        w.push(Warning::new(
            W_TRUE_PEAK_OVER,
            format!(
                "the mix's true peak is {:+.2} dBTP, above full scale",
                l.true_peak_dbtp
            ),
            &[("true_peak_dbtp", l.true_peak_dbtp)],
        ));
    }
    if q.looks_limited {
        w.push(Warning::new(
            W_ALREADY_LIMITED,
            format!(
                "the mix looks brick-wall limited (PLR {:.1} dB): a master of a limited mix has \
                 little room left",
                l.plr_db
            ),
            &[("plr_db", l.plr_db), ("crest_db", l.crest_db)],
        ));
    }
    if q.bandwidth_hz > 0.0 && q.bandwidth_hz < LOSSY_BANDWIDTH_HZ && mix.sample_rate_hz > 36_000 {
        w.push(Warning::new(
            W_LOSSY_BANDWIDTH,
            format!(
                "no content above {:.0} Hz at {} Hz sample rate: the mix may come from a lossy \
                 file",
                q.bandwidth_hz, mix.sample_rate_hz
            ),
            &[
                ("bandwidth_hz", q.bandwidth_hz),
                ("sample_rate_hz", f64::from(mix.sample_rate_hz)),
            ],
        ));
    }
    let s = &mix.stereo;
    let low_level = low_end_level_db(mix);
    if mix.channels >= 2
        && s.low_end_correlation < LOW_END_CORRELATION_MIN
        && low_level > LOW_END_CONTENT_DB
    {
        w.push(Warning::new(
            W_LOW_END_PHASE,
            format!(
                "the low end (< 150 Hz) has L/R correlation {:.2}: it loses {:.1} dB when summed \
                 to mono",
                s.low_end_correlation, -s.low_end_mono_loss_db
            ),
            &[
                ("low_end_correlation", s.low_end_correlation),
                ("low_end_mono_loss_db", s.low_end_mono_loss_db),
            ],
        ));
    }
    if mix.duration_s < SHORT_INPUT_S {
        w.push(Warning::new(
            W_SHORT_INPUT,
            format!(
                "the mix is {:.1} s long: loudness range and short-term statistics need at least \
                 {SHORT_INPUT_S:.0} s to mean much",
                mix.duration_s
            ),
            &[("duration_s", mix.duration_s)],
        ));
    }
    if l.integrated_lufs.is_finite() && l.integrated_lufs < QUIET_INPUT_LUFS {
        w.push(Warning::new(
            W_QUIET_INPUT,
            format!(
                "the mix is very quiet ({:.1} LUFS): the gain to a release loudness raises its \
                 noise by as much",
                l.integrated_lufs
            ),
            &[("integrated_lufs", l.integrated_lufs)],
        ));
    }
    w
}

/// Checks of the targets: a lossy reference.
pub fn target_warnings(targets: &Targets) -> Vec<Warning> {
    let mut w = Vec::new();
    if let TargetSource::Reference {
        name,
        lossy: Some(e),
    } = &targets.source
    {
        let mut what = Vec::new();
        let mut evidence = vec![("bandwidth_hz", e.bandwidth_hz)];
        if e.band_limited {
            what.push(format!(
                "its content stops at {}",
                format_hz(e.bandwidth_hz)
            ));
        }
        if let Some(c) = e.side_cutoff_hz {
            what.push(format!(
                "its side channel is {:.0} dB short above {} (a codec's joint stereo)",
                e.side_loss_db,
                format_hz(c)
            ));
            evidence.push(("side_cutoff_hz", c));
            evidence.push(("side_loss_db", e.side_loss_db));
        }
        w.push(Warning::new(
            W_LOSSY_REFERENCE,
            format!(
                "the reference '{name}' looks lossy: {}; the match stops there, so the codec's \
                 damage is not copied (use a lossless reference for the top end)",
                what.join(", ")
            ),
            &evidence,
        ));
    }
    w
}

/// Loudest band below 150 Hz of mid or side, relative to the integrated loudness, dB.
fn low_end_level_db(mix: &Features) -> f64 {
    let sp = &mix.spectrum;
    sp.center_hz
        .iter()
        .enumerate()
        .filter(|(_, &c)| c <= 150.0)
        .flat_map(|(i, _)| [sp.mid_norm_db.get(i), sp.side_norm_db.get(i)])
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Every warning of one render, as the report holds them: the mix's, the targets', the
/// render's.
pub fn all_warnings(mix: &Features, targets: &Targets, log: &RenderLog) -> Vec<Warning> {
    let mut w = input_warnings(mix);
    w.extend(target_warnings(targets));
    w.extend(render_warnings(log));
    w
}

/// Checks of what the render did, then the renderer's own warnings.
pub fn render_warnings(log: &RenderLog) -> Vec<Warning> {
    let mut w = Vec::new();
    let eq = &log.eq;
    let mut worst: Option<(f64, f64, &str)> = None;
    for (name, gains) in [("mid", &eq.mid_gain_db), ("side", &eq.side_gain_db)] {
        for (&c, &g) in eq.center_hz.iter().zip(gains.iter()) {
            if (EQ_CHECK_LOW_HZ..=EQ_CHECK_HIGH_HZ).contains(&c)
                && g.is_finite()
                && worst.is_none_or(|(wg, _, _)| g.abs() > wg.abs())
            {
                worst = Some((g, c, name));
            }
        }
    }
    if let Some((g, c, name)) = worst {
        if g.abs() > EXTREME_EQ_DB {
            w.push(Warning::new(
                W_EQ_EXTREME,
                format!(
                    "the {name} EQ {} {:.1} dB at {}: the mix is far from the target there",
                    if g > 0.0 { "boosts" } else { "cuts" },
                    g.abs(),
                    format_hz(c)
                ),
                &[("gain_db", g), ("freq_hz", c)],
            ));
        }
    }
    if let Some(lim) = &log.limiter {
        if lim.peak_gain_reduction_db > HEAVY_LIMITING_DB {
            w.push(Warning::new(
                W_LIMIT_HEAVY,
                format!(
                    "the limiter reduced the highest peak by {:.1} dB ({:.1} dB on average): \
                     expect audible limiting",
                    lim.peak_gain_reduction_db, lim.avg_gain_reduction_db
                ),
                &[
                    ("peak_gain_reduction_db", lim.peak_gain_reduction_db),
                    ("avg_gain_reduction_db", lim.avg_gain_reduction_db),
                ],
            ));
        }
    }
    for text in &log.warnings {
        let (code, message) = match text.split_once(": ") {
            Some((c, m)) if c.starts_with("W_") => (c, m),
            _ => (W_RENDER, text.as_str()),
        };
        w.push(Warning::new(code, message.to_string(), &[]));
    }
    w
}

/// `250 Hz`, `8.0 kHz`.
pub fn format_hz(hz: f64) -> String {
    if hz >= 1000.0 {
        format!("{:.1} kHz", hz / 1000.0)
    } else {
        format!("{hz:.0} Hz")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once() {
        let mut codes: Vec<&str> = CODES.iter().map(|c| c.code).collect();
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n);
        assert!(codes.iter().all(|c| c.starts_with("W_")));
    }

    #[test]
    fn formats_frequencies() {
        assert_eq!(format_hz(250.0), "250 Hz");
        assert_eq!(format_hz(8000.0), "8.0 kHz");
    }
}
