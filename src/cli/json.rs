//! What `--json` prints after a render: a short, stable summary (documented in the README);
//! `--json-full` adds the full targets, the render log (curves included) and both files' whole
//! analysis. Field names carry their units; non-finite values (silence) print as `null`; enums
//! print as lower-case words, never as Rust debug text.

use std::path::Path;

use serde::Serialize;

use lathe::analysis::Features;
use lathe::io::encode::{Container, OutputFormat, SampleFormat};
use lathe::render::chain::RenderLog;
use lathe::report::warnings::all_warnings;
use lathe::targets::TargetSource;
use lathe::Targets;

use super::analyze::{summary, Summary};

/// Version of the `--json` layout: a field is never renamed or given another meaning without
/// raising it.
pub const RENDER_JSON_SCHEMA: u32 = 1;

/// The file that was written.
#[derive(Serialize)]
pub struct FormatJson {
    /// `wav` or `flac`.
    pub container: &'static str,
    /// `int16`, `int24` or `float32`.
    pub sample_format: &'static str,
    pub bits: u32,
    /// `tpdf` (16 bit) or `none`.
    pub dither: &'static str,
    pub sample_rate_hz: u32,
    pub channels: usize,
}

impl FormatJson {
    pub fn new(format: OutputFormat, sample_rate_hz: u32, channels: usize) -> Self {
        let s = format.sample_format;
        Self {
            container: match format.container {
                Container::Wav => "wav",
                Container::Flac => "flac",
            },
            sample_format: match s {
                SampleFormat::Int16 => "int16",
                SampleFormat::Int24 => "int24",
                SampleFormat::Float32 => "float32",
            },
            bits: s.bits(),
            dither: if s == SampleFormat::Int16 {
                "tpdf"
            } else {
                "none"
            },
            sample_rate_hz,
            channels,
        }
    }
}

/// The levels of one file, before or after.
#[derive(Serialize)]
pub struct Levels {
    pub file: String,
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
    pub lra_lu: f64,
    pub plr_db: f64,
    pub short_term_spread_lu: f64,
    pub width_db: f64,
    pub correlation: f64,
    pub sample_rate_hz: u32,
    pub duration_s: f64,
}

impl Levels {
    pub fn new(path: &Path, f: &Features) -> Self {
        Self {
            file: path.display().to_string(),
            integrated_lufs: f.loudness.integrated_lufs,
            true_peak_dbtp: f.loudness.true_peak_dbtp,
            lra_lu: f.loudness.lra_lu,
            plr_db: f.loudness.plr_db,
            short_term_spread_lu: f.dynamics.short_term_p95_lufs - f.dynamics.short_term_p10_lufs,
            width_db: f.stereo.width_db,
            correlation: f.stereo.correlation,
            sample_rate_hz: f.sample_rate_hz,
            duration_s: f.duration_s,
        }
    }
}

/// The goals the render aimed at (the scalar ones; `--json-full` has the curves).
#[derive(Serialize)]
pub struct TargetJson<'a> {
    pub source: &'a TargetSource,
    pub integrated_lufs: f64,
    pub ceiling_dbtp: f64,
    pub plr_db: f64,
    pub short_term_spread_lu: f64,
    pub width_db: f64,
}

/// What the render did, in a few numbers.
#[derive(Serialize)]
pub struct DoneJson {
    pub gain_db: f64,
    pub eq_max_boost_db: f64,
    pub eq_max_cut_db: f64,
    pub compressor_applied: bool,
    pub compressor_avg_gain_reduction_db: f64,
    /// `null` when the limiter was off.
    pub limiter_peak_gain_reduction_db: Option<f64>,
    pub output_width_db: f64,
}

#[derive(Serialize)]
pub struct WarningJson {
    pub code: String,
    pub message: String,
}

/// `--json`: one object per output.
#[derive(Serialize)]
pub struct RenderJson<'a> {
    pub schema: u32,
    pub mix: String,
    pub output: String,
    pub format: FormatJson,
    /// The preset's name (`spotify`...), or `null`.
    pub preset: Option<&'static str>,
    pub target: TargetJson<'a>,
    pub before: Levels,
    pub after: Levels,
    pub render: DoneJson,
    /// The report's warnings: the mix's, then the render's.
    pub warnings: Vec<WarningJson>,
    pub report_html: Option<String>,
    pub report_json: Option<String>,
    pub preview: Option<super::common::PreviewJson>,
    /// `--json-full` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full: Option<FullJson<'a>>,
}

/// `--json-full`'s additions.
#[derive(Serialize)]
pub struct FullJson<'a> {
    pub targets: &'a Targets,
    pub log: &'a RenderLog,
    pub before: Summary<'a>,
    pub after: Summary<'a>,
}

/// Everything one render's JSON is made of.
pub struct RenderFacts<'a> {
    pub mix_path: &'a Path,
    pub output: &'a Path,
    pub format: OutputFormat,
    pub preset: Option<&'static str>,
    pub mix: &'a Features,
    pub after: &'a Features,
    pub targets: &'a Targets,
    pub log: &'a RenderLog,
    pub report_html: Option<&'a Path>,
    pub report_json: Option<&'a Path>,
    pub preview: Option<super::common::PreviewJson>,
}

pub fn render_json<'a>(facts: &RenderFacts<'a>, full: bool) -> RenderJson<'a> {
    let t = facts.targets;
    let log = facts.log;
    let gains = log.eq.mid_gain_db.iter().chain(&log.eq.side_gain_db);
    let finite = || gains.clone().copied().filter(|g| g.is_finite());
    RenderJson {
        schema: RENDER_JSON_SCHEMA,
        mix: facts.mix_path.display().to_string(),
        output: facts.output.display().to_string(),
        format: FormatJson::new(facts.format, log.sample_rate_hz, log.channels),
        preset: facts.preset,
        target: TargetJson {
            source: &t.source,
            integrated_lufs: t.integrated_lufs,
            ceiling_dbtp: t.ceiling_dbtp,
            plr_db: t.plr_db,
            short_term_spread_lu: t.short_term_spread_lu,
            width_db: t.width_db,
        },
        before: Levels::new(facts.mix_path, facts.mix),
        after: Levels::new(facts.output, facts.after),
        render: DoneJson {
            gain_db: log.loudness.gain_db,
            eq_max_boost_db: finite().fold(0.0, f64::max),
            eq_max_cut_db: finite().fold(0.0, f64::min),
            compressor_applied: log.compressor.applied,
            compressor_avg_gain_reduction_db: log.compressor.avg_gain_reduction_db,
            limiter_peak_gain_reduction_db: log.limiter.as_ref().map(|l| l.peak_gain_reduction_db),
            output_width_db: log.width.output_width_db,
        },
        warnings: all_warnings(facts.mix, facts.targets, log)
            .into_iter()
            .map(|w| WarningJson {
                code: w.code,
                message: w.message,
            })
            .collect(),
        report_html: facts.report_html.map(|p| p.display().to_string()),
        report_json: facts.report_json.map(|p| p.display().to_string()),
        preview: facts.preview.clone(),
        full: full.then(|| FullJson {
            targets: t,
            log,
            before: summary(facts.mix_path, facts.mix),
            after: summary(facts.output, facts.after),
        }),
    }
}
