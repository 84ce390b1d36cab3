//! The engineer's report: what lathe did to a mix, for a person (one self-contained HTML file
//! with SVG plots, [`html`]) and for scripts (JSON, [`json`]).
//!
//! [`build`] takes plain structs (the mix's and the master's [`Features`], the [`Targets`] as
//! rendered, the [`RenderLog`], names and the aim) and returns a [`Report`]; nothing here reads
//! or writes files. The report holds:
//!
//! - **numbers** before -> after -> target: integrated loudness, true peak, loudness range,
//!   PLR, short-term spread, width, correlation, bandwidth;
//! - **notes** ([`notes`]): the chain's settings in words, with the applied EQ curves
//!   approximated by a few RBJ-cookbook bells and shelves ([`fit`]) and the fit's error;
//! - **warnings** ([`warnings`]) with stable codes and evidence;
//! - **the target range** when the targets came from one (the genre model's percentiles, a
//!   style profile of several references): where masters lie, per band and for loudness,
//!   PLR, spread and width, drawn as a shaded band behind the tonal-balance curves;
//! - **curves** for the plots: tonal balance (mid and side) of mix, target and result; the
//!   applied EQ and its fit; short-term loudness over time; compressor and limiter gain
//!   reduction over time.
//!
//! [`preview`] cuts the loudest part of mix and master, loudness-matched, for an A/B listen.

pub mod export;
pub mod fit;
pub mod html;
pub mod json;
pub mod notes;
pub mod preview;
pub mod provenance;
pub mod signal;
pub mod warnings;

use std::path::Path;

use serde::Serialize;

use crate::analysis::{Features, SILENT_BAND_DB};
use crate::audio::AudioBuffer;
use crate::render::chain::{LoudnessLog, RenderLog, RenderSettings, WidthLog};
use crate::render::compressor::CompressorSettings;
use crate::targets::{LoudnessChoice, TargetRange, TargetSource, Targets};
pub use notes::Notes;
pub use provenance::Provenance;
pub use warnings::Warning;

/// Bump when a field of [`Report`] is added, removed or changes meaning. 2: how the report
/// was made (`provenance`), the preview players (`preview`), the peak envelopes and fine
/// spectra, fits over the whole EQ'd band, lossy-reference evidence in `source`. 3: the
/// target range (`target_range`, the `range_*` band curves); a chosen genre's `source` has no
/// `confidence`.
pub const REPORT_SCHEMA_VERSION: u32 = 3;

/// The A/B preview excerpts as the report links them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PreviewLinks {
    /// URLs of the excerpts relative to the report's folder ([`relative_url`]).
    pub mix_url: String,
    pub master_url: String,
    pub start_s: f64,
    pub length_s: f64,
    /// Loudness of both excerpts after matching.
    pub matched_lufs: f64,
}

/// The exported EQ files ([`export`]) as the report links them (URLs relative to the
/// report's folder).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EqExportLinks {
    /// Mid/side impulse responses (2 channels).
    pub mid_side_ir_url: String,
    /// True-stereo impulse responses (4 channels: L->L, L->R, R->L, R->R).
    pub left_right_ir_url: String,
    /// Equalizer APO preset of the fitted filters.
    pub apo_preset_url: String,
    /// The impulse responses' linear-phase delay, frames.
    pub delay_frames: usize,
}

/// The URL of `target` relative to the folder `from_dir` (both made absolute first): the
/// shortest `../`-path, each segment percent-encoded (RFC 3986 unreserved characters kept).
pub fn relative_url(from_dir: &Path, target: &Path) -> String {
    use std::path::Component;
    let abs = |p: &Path| -> Vec<String> {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut parts: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    parts.pop();
                }
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => {
                    parts.clear();
                    parts.push(c.as_os_str().to_string_lossy().into_owned());
                }
            }
        }
        parts
    };
    let (from, to) = (abs(from_dir), abs(target));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut segments: Vec<String> = vec!["..".to_string(); from.len() - common];
    segments.extend(to[common..].iter().map(|s| percent_encode(s)));
    segments.join("/")
}

fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What the master was aimed at, beyond the targets' source.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Aim {
    /// The loudness preset, if one was chosen.
    pub preset: Option<PresetAim>,
    /// Album mode: this track's target relative to the album's loudest track, LU (<= 0).
    pub album_offset_lu: Option<f64>,
}

/// A preset as the report names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PresetAim {
    pub name: String,
    pub label: String,
    pub integrated_lufs: f64,
    pub ceiling_dbtp: f64,
}

/// Everything [`build`] reads.
#[derive(Clone, Copy, Debug)]
pub struct ReportInput<'a> {
    /// How to name the mix and the output in the report (file names, not paths, keep a report
    /// shareable).
    pub mix_name: &'a str,
    pub output_name: &'a str,
    pub before: &'a Features,
    pub after: &'a Features,
    /// The targets as rendered (after presets and overrides).
    pub targets: &'a Targets,
    pub log: &'a RenderLog,
    pub aim: &'a Aim,
    /// How the report was made (command line, settings, inputs, date).
    pub provenance: Option<&'a Provenance>,
    /// The preview excerpts, when written: the report embeds players for them.
    pub preview: Option<&'a PreviewLinks>,
    /// The exported EQ files, when written.
    pub eq_exports: Option<&'a EqExportLinks>,
    /// The mix and the master as rendered (same rate), for the waveform and the fine
    /// spectrum; without them those plots are left out.
    pub audio: Option<(&'a AudioBuffer, &'a AudioBuffer)>,
}

/// The whole report; [`json::to_json`] and [`html::to_html`] present it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub lathe_version: String,
    pub mix: String,
    pub output: String,
    pub source: TargetSource,
    pub aim: Aim,
    /// Where masters lie (the model's 10th/50th/90th percentiles, or a profile's references),
    /// when the targets came from a range; absent for a reference (a point).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_range: Option<TargetRange>,
    /// How the range's loudness target was chosen for this mix
    /// ([`TargetRange::choose_loudness`]); absent for a reference or a loudness the user set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loudness_choice: Option<LoudnessChoice>,
    pub provenance: Option<Provenance>,
    pub preview: Option<PreviewLinks>,
    pub eq_exports: Option<EqExportLinks>,
    pub numbers: Vec<NumberRow>,
    pub notes: Notes,
    pub warnings: Vec<Warning>,
    pub render: RenderSummary,
    pub curves: Curves,
}

/// One row of the numbers table. `None` where there is no target for it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NumberRow {
    /// Stable key for scripts, e.g. `integrated_lufs`.
    pub key: String,
    pub label: String,
    pub unit: String,
    pub before: f64,
    pub after: f64,
    pub target: Option<f64>,
    /// The target is an upper bound (the true-peak ceiling), not a value to reach.
    pub target_is_max: bool,
}

/// The render's settings and results without the long curves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RenderSummary {
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub duration_s: f64,
    pub settings: RenderSettings,
    pub eq_fir_taps: usize,
    pub eq_center_hz: Vec<f64>,
    pub eq_mid_gain_db: Vec<f64>,
    pub eq_side_gain_db: Vec<f64>,
    pub compressor_applied: bool,
    pub compressor: CompressorSettings,
    pub compressor_avg_gain_reduction_db: f64,
    pub compressor_max_gain_reduction_db: f64,
    pub width: WidthLog,
    pub loudness: LoudnessLog,
    pub limiter: Option<LimiterSummary>,
}

/// The limiter's settings and results without its curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LimiterSummary {
    pub ceiling_dbtp: f64,
    pub threshold_dbtp: f64,
    pub lookahead_ms: f64,
    pub release_ms: f64,
    pub oversampling: usize,
    pub peak_gain_reduction_db: f64,
    pub avg_gain_reduction_db: f64,
    pub output_true_peak_dbtp: f64,
    pub safety_trim_db: f64,
}

/// Data of the plots. Band levels are relative to the integrated loudness (the tonal shape);
/// silent bands are `None`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Curves {
    pub band_center_hz: Vec<f64>,
    pub mix_mid_db: Vec<Option<f64>>,
    pub target_mid_db: Vec<Option<f64>>,
    pub result_mid_db: Vec<Option<f64>>,
    pub mix_side_db: Vec<Option<f64>>,
    pub target_side_db: Vec<Option<f64>>,
    pub result_side_db: Vec<Option<f64>>,
    /// The target range's low and high band levels (the shaded band), empty without a range.
    pub range_mid_low_db: Vec<Option<f64>>,
    pub range_mid_high_db: Vec<Option<f64>>,
    pub range_side_low_db: Vec<Option<f64>>,
    pub range_side_high_db: Vec<Option<f64>>,
    /// The applied EQ (dense, log-spaced) and the fitted filters' response on the same grid.
    pub eq_freq_hz: Vec<f64>,
    pub eq_mid_db: Vec<f64>,
    pub eq_side_db: Vec<f64>,
    pub fit_mid_db: Vec<f64>,
    pub fit_side_db: Vec<f64>,
    /// Short-term loudness (3 s window) every `loudness_hop_s`; `None` under the -70 LUFS gate.
    pub loudness_hop_s: f64,
    pub short_term_before_lufs: Vec<Option<f64>>,
    pub short_term_after_lufs: Vec<Option<f64>>,
    /// Gain reduction (dB, positive) every `*_hop_s`.
    pub compressor_hop_s: f64,
    pub compressor_gain_reduction_db: Vec<f64>,
    pub limiter_hop_s: f64,
    pub limiter_gain_reduction_db: Vec<f64>,
    /// Peak envelopes (largest |sample| per hop, linear), empty without the audio.
    pub envelope_hop_s: f64,
    pub mix_peak: Vec<f64>,
    pub master_peak: Vec<f64>,
    /// Fine long-term spectra of the mids (1/24 octave, as third-octave band levels re the
    /// integrated loudness; see [`signal::fine_spectrum`]), empty without the audio.
    pub spectrum_freq_hz: Vec<f64>,
    pub mix_spectrum_db: Vec<Option<f64>>,
    pub master_spectrum_db: Vec<Option<f64>>,
}

/// Builds the report (see the module docs). Never fails: missing data shows as empty curves,
/// non-finite numbers as `null` in JSON and "-" in HTML.
pub fn build(input: &ReportInput) -> Report {
    build_with_range(input, None)
}

/// [`build`], with the range the targets were resolved from (the genre model's or a
/// profile's): the report then carries it and shades it behind the tonal curves. A point
/// range (a reference's) adds nothing: it is the targets themselves.
pub fn build_with_range(input: &ReportInput, range: Option<&TargetRange>) -> Report {
    let range = range.filter(|r| !r.is_point());
    let ReportInput {
        before,
        after,
        targets,
        log,
        aim,
        ..
    } = *input;
    let notes = notes::write(before, after, log, aim, targets.loudness.as_ref());
    let warnings = warnings::all_warnings(before, targets, log);
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        lathe_version: env!("CARGO_PKG_VERSION").to_string(),
        mix: input.mix_name.to_string(),
        output: input.output_name.to_string(),
        source: targets.source.clone(),
        aim: aim.clone(),
        target_range: range.cloned(),
        loudness_choice: targets.loudness.clone(),
        provenance: input.provenance.cloned(),
        preview: input.preview.cloned(),
        eq_exports: input.eq_exports.cloned(),
        numbers: numbers(before, after, targets),
        curves: curves(input, range, &notes),
        notes,
        warnings,
        render: summary(log),
    }
}

fn numbers(before: &Features, after: &Features, t: &Targets) -> Vec<NumberRow> {
    let spread = |f: &Features| {
        crate::targets::reference::spread(
            f.dynamics.short_term_p95_lufs,
            f.dynamics.short_term_p10_lufs,
        )
    };
    let row = |key: &str, label: &str, unit: &str, get: &dyn Fn(&Features) -> f64| NumberRow {
        key: key.to_string(),
        label: label.to_string(),
        unit: unit.to_string(),
        before: get(before),
        after: get(after),
        target: None,
        target_is_max: false,
    };
    let with = |mut r: NumberRow, target: f64| {
        r.target = target.is_finite().then_some(target);
        r
    };
    let mut tp = with(
        row("true_peak_dbtp", "True peak", "dBTP", &|f| {
            f.loudness.true_peak_dbtp
        }),
        t.ceiling_dbtp,
    );
    tp.target_is_max = true;
    vec![
        with(
            row("integrated_lufs", "Integrated loudness", "LUFS", &|f| {
                f.loudness.integrated_lufs
            }),
            t.integrated_lufs,
        ),
        tp,
        row("lra_lu", "Loudness range (LRA)", "LU", &|f| {
            f.loudness.lra_lu
        }),
        with(
            row("plr_db", "Peak-to-loudness ratio (PLR)", "dB", &|f| {
                f.loudness.plr_db
            }),
            t.plr_db,
        ),
        with(
            row(
                "short_term_spread_lu",
                "Short-term spread (p95 - p10)",
                "LU",
                &spread,
            ),
            t.short_term_spread_lu,
        ),
        with(
            row("width_db", "Width (side/mid energy)", "dB", &|f| {
                f.stereo.width_db
            }),
            t.width_db,
        ),
        row("correlation", "L/R correlation", "", &|f| {
            f.stereo.correlation
        }),
        with(
            row("bandwidth_hz", "Bandwidth", "Hz", &|f| {
                f.quality.bandwidth_hz
            }),
            t.bandwidth_hz,
        ),
    ]
}

/// One edge (`high` or low) of a range's band levels, as [`band`] shows them; empty without
/// a (non-point) range.
fn range_band(
    range: Option<&TargetRange>,
    pick: fn(&TargetRange) -> (&Vec<crate::targets::Range>, bool),
) -> Vec<Option<f64>> {
    match range {
        Some(r) => {
            let (bands, high) = pick(r);
            let edge: Vec<f64> = bands
                .iter()
                .map(|b| if high { b.high } else { b.low })
                .collect();
            band(&edge)
        }
        None => Vec::new(),
    }
}

fn band(v: &[f64]) -> Vec<Option<f64>> {
    v.iter()
        .map(|&x| (x.is_finite() && x > SILENT_BAND_DB + 1.0).then_some(x))
        .collect()
}

fn loudness_curve(v: &[f32]) -> Vec<Option<f64>> {
    v.iter()
        .map(|&x| {
            let x = f64::from(x);
            (x.is_finite() && x > -70.0).then_some(x)
        })
        .collect()
}

fn finite(v: &[f32]) -> Vec<f64> {
    v.iter()
        .map(|&x| {
            let x = f64::from(x);
            if x.is_finite() {
                x
            } else {
                0.0
            }
        })
        .collect()
}

fn curves(input: &ReportInput, range: Option<&TargetRange>, notes: &Notes) -> Curves {
    let ReportInput {
        before,
        after,
        targets: t,
        log,
        ..
    } = *input;
    let eq = &log.eq;
    let fit_mid_db = eq
        .dense_freq_hz
        .iter()
        .map(|&f| notes.mid_eq.response_db(f))
        .collect();
    let fit_side_db = match &notes.side_eq {
        Some(fit) => eq
            .dense_freq_hz
            .iter()
            .map(|&f| fit.response_db(f))
            .collect(),
        None => Vec::new(),
    };
    let (comp_hop, comp_gr) = (
        log.compressor.curve_hop_s,
        if log.compressor.applied {
            finite(&log.compressor.gain_reduction_curve_db)
        } else {
            Vec::new()
        },
    );
    let (
        (envelope_hop_s, mix_peak, master_peak),
        (spectrum_freq_hz, mix_spectrum_db, master_spectrum_db),
    ) = match input.audio {
        Some((mix, master)) => {
            let ((hop, a), (_, b)) = (signal::peak_envelope(mix), signal::peak_envelope(master));
            let (f, x) = signal::fine_spectrum(mix, before.loudness.integrated_lufs);
            let (_, y) = signal::fine_spectrum(master, after.loudness.integrated_lufs);
            ((hop, a, b), (f, x, y))
        }
        None => (
            (0.0, Vec::new(), Vec::new()),
            (Vec::new(), Vec::new(), Vec::new()),
        ),
    };
    let (lim_hop, lim_gr) = match &log.limiter {
        Some(l) => (l.curve_hop_s, finite(&l.gain_reduction_curve_db)),
        None => (0.1, Vec::new()),
    };
    Curves {
        band_center_hz: before.spectrum.center_hz.clone(),
        mix_mid_db: band(&before.spectrum.mid_norm_db),
        target_mid_db: band(&t.mid_db),
        result_mid_db: band(&after.spectrum.mid_norm_db),
        mix_side_db: band(&before.spectrum.side_norm_db),
        target_side_db: band(&t.side_db),
        result_side_db: band(&after.spectrum.side_norm_db),
        range_mid_low_db: range_band(range, |r| (&r.mid_db, false)),
        range_mid_high_db: range_band(range, |r| (&r.mid_db, true)),
        range_side_low_db: range_band(range, |r| (&r.side_db, false)),
        range_side_high_db: range_band(range, |r| (&r.side_db, true)),
        eq_freq_hz: eq.dense_freq_hz.clone(),
        eq_mid_db: eq.dense_mid_db.clone(),
        eq_side_db: if log.channels == 2 {
            eq.dense_side_db.clone()
        } else {
            Vec::new()
        },
        fit_mid_db,
        fit_side_db,
        loudness_hop_s: before.loudness.curve_hop_s,
        short_term_before_lufs: loudness_curve(&before.loudness.short_term_curve_lufs),
        short_term_after_lufs: loudness_curve(&after.loudness.short_term_curve_lufs),
        compressor_hop_s: comp_hop,
        compressor_gain_reduction_db: comp_gr,
        limiter_hop_s: lim_hop,
        limiter_gain_reduction_db: lim_gr,
        envelope_hop_s,
        mix_peak,
        master_peak,
        spectrum_freq_hz,
        mix_spectrum_db,
        master_spectrum_db,
    }
}

fn summary(log: &RenderLog) -> RenderSummary {
    RenderSummary {
        sample_rate_hz: log.sample_rate_hz,
        channels: log.channels,
        duration_s: log.frames as f64 / f64::from(log.sample_rate_hz.max(1)),
        settings: log.settings.clone(),
        eq_fir_taps: log.eq.fir_taps,
        eq_center_hz: log.eq.center_hz.clone(),
        eq_mid_gain_db: log.eq.mid_gain_db.clone(),
        eq_side_gain_db: log.eq.side_gain_db.clone(),
        compressor_applied: log.compressor.applied,
        compressor: log.compressor.settings.clone(),
        compressor_avg_gain_reduction_db: log.compressor.avg_gain_reduction_db,
        compressor_max_gain_reduction_db: log.compressor.max_gain_reduction_db,
        width: log.width.clone(),
        loudness: log.loudness.clone(),
        limiter: log.limiter.as_ref().map(|l| LimiterSummary {
            ceiling_dbtp: l.ceiling_dbtp,
            threshold_dbtp: l.threshold_dbtp,
            lookahead_ms: l.lookahead_ms,
            release_ms: l.release_ms,
            oversampling: l.oversampling,
            peak_gain_reduction_db: l.peak_gain_reduction_db,
            avg_gain_reduction_db: l.avg_gain_reduction_db,
            output_true_peak_dbtp: l.output_true_peak_dbtp,
            safety_trim_db: l.safety_trim_db,
        }),
    }
}
