//! What `lathe match`, `lathe master` and `lathe batch` share: the options, the progress
//! display, the render and the outputs (audio, report, preview), so every command behaves the
//! same way and uses the same renderer.
//!
//! One analysis, several outputs: `--preset spotify,apple` renders the mix once per preset and
//! names the outputs `OUT-STEM.PRESET.EXT` (`master.spotify.wav`); with one preset (or none)
//! the output is `-o` exactly. Reports (`--report r.html`, JSON beside it as `r.json`, or
//! `--report-json PATH`) and previews (`--preview`: `OUT-STEM.preview-mix.EXT` and
//! `OUT-STEM.preview-master.EXT`) follow the same naming. Every file is written atomically
//! (temporary file, then rename) and checked before any rendering starts.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use lathe::analysis::Features;
use lathe::io::encode::{self, OutputFormat, SampleFormat};
use lathe::io::tags::Tags;
use lathe::render;
use lathe::render::chain::{RenderLog, RenderSettings};
use lathe::report::export::{eq_impulse_responses, equalizer_apo_preset};
use lathe::report::preview::{self, PREVIEW_LENGTH_S};
use lathe::report::provenance::{date_utc_now, InputInfo, Provenance};
use lathe::report::warnings::all_warnings;
use lathe::report::{self, relative_url, Aim, EqExportLinks, PresetAim, PreviewLinks, ReportInput};
use lathe::targets::blend::Overrides;
use lathe::targets::presets::{self, Preset};
use lathe::{AudioBuffer, Targets};

/// Longest mix lathe renders: one hour keeps peak memory near 2 GB at 48 kHz stereo; the
/// analysis of longer files still works.
pub const MAX_RENDER_DURATION_S: f64 = 3600.0;
/// Fixed dither seed: the same input and settings always give the same bits.
pub const DITHER_SEED: u64 = 0x1a7e_d17e;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bits {
    #[value(name = "16")]
    Int16,
    #[value(name = "24")]
    Int24,
    #[value(name = "32f")]
    Float32,
}

/// How to master: loudness, ceiling, presets, intensity, limiter, sample format. Shared by
/// every mastering command.
#[derive(Debug, Clone, clap::Args)]
pub struct ToneArgs {
    /// Target integrated loudness in LUFS (default: the preset's, else the reference's or the
    /// model's). Overrides a preset's loudness.
    #[arg(long, value_name = "LUFS", allow_hyphen_values = true)]
    pub lufs: Option<f64>,
    /// True-peak ceiling in dBTP (default: the preset's, else -1.0). Overrides a preset's.
    #[arg(long, value_name = "DBTP", allow_hyphen_values = true)]
    pub ceiling: Option<f64>,
    /// Loudness preset(s), comma-separated, one output each: spotify, apple, youtube, amazon,
    /// tidal, deezer, cd, club, ebu-r128.
    #[arg(long, value_name = "NAME[,NAME...]")]
    pub preset: Option<String>,
    /// How far to move toward the targets' tone, dynamics and width, in percent (0..=100).
    // Hyphen values are taken, so that `--amount -1` reaches the range check and its message
    // rather than reading as an unknown option.
    #[arg(
        long,
        value_name = "PCT",
        default_value_t = 100.0,
        allow_hyphen_values = true
    )]
    pub amount: f64,
    /// How much of the matched EQ to apply, in percent (0..=100, on top of --amount).
    #[arg(
        long,
        value_name = "PCT",
        default_value_t = 100.0,
        allow_hyphen_values = true
    )]
    pub eq_amount: f64,
    /// No limiter: meet the ceiling by lowering the gain instead.
    #[arg(long)]
    pub no_limiter: bool,
    /// Output sample format (default 24; FLAC takes 16 or 24).
    #[arg(long, value_enum)]
    pub bits: Option<Bits>,
    /// Output sample rate in Hz (default: the preset's, else the mix's). The mix is converted
    /// (rubato, windowed sinc) before the EQ and the limiter, so the ceiling holds at this rate.
    #[arg(long, value_name = "HZ")]
    pub sample_rate: Option<u32>,
    /// Do not copy the mix's tags (title, artist, album, ISRC, track number...) to the output.
    #[arg(long)]
    pub no_tags: bool,
}

impl ToneArgs {
    pub fn settings(&self) -> anyhow::Result<RenderSettings> {
        for (name, v) in [("--amount", self.amount), ("--eq-amount", self.eq_amount)] {
            if !(0.0..=100.0).contains(&v) {
                anyhow::bail!("{name} {v}: the valid range is 0 to 100 (percent)");
            }
        }
        Ok(RenderSettings {
            amount: self.amount / 100.0,
            eq_amount: self.eq_amount / 100.0,
            limiter: !self.no_limiter,
            ..RenderSettings::default()
        })
    }

    /// The presets asked for: `[None]` without `--preset`.
    pub fn presets(&self) -> anyhow::Result<Vec<Option<&'static Preset>>> {
        Ok(match &self.preset {
            None => vec![None],
            Some(list) => presets::parse_list(list)?.into_iter().map(Some).collect(),
        })
    }

    /// Explicit `--lufs`/`--ceiling`, else the preset's; `None` keeps the targets' own.
    pub fn overrides(&self, preset: Option<&Preset>) -> Overrides {
        Overrides {
            integrated_lufs: self.lufs.or(preset.map(|p| p.integrated_lufs)),
            ceiling_dbtp: self.ceiling.or(preset.map(|p| p.ceiling_dbtp)),
        }
    }

    /// Explicit `--bits`, else the preset's (`cd`: 16); `None` is the encoder's default.
    pub fn sample_format(&self, preset: Option<&Preset>) -> Option<SampleFormat> {
        match self.bits {
            Some(Bits::Int16) => Some(SampleFormat::Int16),
            Some(Bits::Int24) => Some(SampleFormat::Int24),
            Some(Bits::Float32) => Some(SampleFormat::Float32),
            None => match preset.and_then(|p| p.bits) {
                Some(16) => Some(SampleFormat::Int16),
                Some(24) => Some(SampleFormat::Int24),
                _ => None,
            },
        }
    }

    /// Explicit `--sample-rate`, else the preset's (`cd`: 44.1 kHz); `None` keeps the mix's.
    pub fn sample_rate_hz(&self, preset: Option<&Preset>) -> Option<u32> {
        self.sample_rate.or(preset.and_then(|p| p.sample_rate_hz))
    }

    /// Checks every option that can be checked before any audio is read.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.settings()?;
        if let Some(hz) = self.sample_rate {
            let range = lathe::audio::MIN_SAMPLE_RATE_HZ..=lathe::audio::MAX_SAMPLE_RATE_HZ;
            if !range.contains(&hz) {
                anyhow::bail!(
                    "--sample-rate {hz} is outside {}..={} Hz",
                    range.start(),
                    range.end()
                );
            }
        }
        for p in self.presets()? {
            self.overrides(p).validate()?;
        }
        Ok(())
    }
}

/// Options every single-mix mastering command takes.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Output file (.wav or .flac). With several presets: OUT-STEM.PRESET.EXT.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    #[command(flatten)]
    pub tone: ToneArgs,
    /// Write the engineer's report: one self-contained HTML file, with its JSON beside it
    /// (same name, .json).
    #[arg(long, value_name = "PATH.html")]
    pub report: Option<PathBuf>,
    /// Write the report's JSON here (alone, or instead of beside the HTML).
    #[arg(long, value_name = "PATH.json")]
    pub report_json: Option<PathBuf>,
    /// Also write the loudest 30 s of mix and master, loudness-matched, for an A/B listen:
    /// OUT-STEM.preview-mix.EXT and OUT-STEM.preview-master.EXT.
    #[arg(long)]
    pub preview: bool,
    /// Overwrite the outputs if they exist (never an input).
    #[arg(long)]
    pub force: bool,
    /// Print a short JSON summary on stdout: format, targets, levels before and after,
    /// warnings (an array with several presets; fields in the README).
    #[arg(long)]
    pub json: bool,
    /// Like --json, plus the full targets, the render log (curves) and both files' analysis.
    #[arg(long)]
    pub json_full: bool,
}

impl RenderArgs {
    /// `--json` or `--json-full`.
    pub fn any_json(&self) -> bool {
        self.json || self.json_full
    }
}

/// Where one render's files go.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPaths {
    pub output: PathBuf,
    pub report_html: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    /// (mix excerpt, master excerpt).
    pub preview: Option<(PathBuf, PathBuf)>,
    /// The exported EQ beside the report: (mid/side IR, true-stereo IR, Equalizer APO preset).
    pub eq_exports: Option<(PathBuf, PathBuf, PathBuf)>,
}

impl JobPaths {
    pub fn all(&self) -> Vec<&Path> {
        let mut v = vec![self.output.as_path()];
        v.extend(self.report_html.as_deref());
        v.extend(self.report_json.as_deref());
        if let Some((a, b)) = &self.preview {
            v.push(a);
            v.push(b);
        }
        if let Some((a, b, c)) = &self.eq_exports {
            v.extend([a.as_path(), b.as_path(), c.as_path()]);
        }
        v
    }
}

/// The EQ export files beside a report `dir/r.html` (or `.json`): `dir/r.eq-ms.wav`,
/// `dir/r.eq-lr.wav`, `dir/r.eq-apo.txt`.
pub fn eq_export_paths(report: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        with_tag(report, "eq-ms").with_extension("wav"),
        with_tag(report, "eq-lr").with_extension("wav"),
        with_tag(report, "eq-apo").with_extension("txt"),
    )
}

/// How a render was asked for, for the report: this process's command line and every option
/// with its value, the inputs, the model.
pub fn provenance(inputs: Vec<InputInfo>, model_version: Option<String>) -> Provenance {
    let (command_line, settings) = super::provenance::command_line();
    Provenance {
        command_line,
        settings,
        inputs,
        model_version,
        ..Provenance::default()
    }
}

/// One render: a preset (or none), its files, and an album offset.
#[derive(Clone, Debug)]
pub struct Job {
    pub preset: Option<&'static Preset>,
    pub paths: JobPaths,
    /// Album mode: this track's loudness relative to the album's loudest, LU (<= 0).
    pub album_offset_lu: Option<f64>,
}

/// `dir/name.wav` + `spotify` -> `dir/name.spotify.wav`.
pub fn with_tag(path: &Path, tag: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{tag}"),
    };
    path.with_file_name(name)
}

/// Preview file names next to `output`.
pub fn preview_paths(output: &Path) -> (PathBuf, PathBuf) {
    (
        with_tag(output, "preview-mix"),
        with_tag(output, "preview-master"),
    )
}

impl RenderArgs {
    /// The renders this command line asks for, with their file names.
    pub fn jobs(&self) -> anyhow::Result<Vec<Job>> {
        let presets = self.tone.presets()?;
        let several = presets.len() > 1;
        let tag = |p: &Path, preset: Option<&Preset>| match preset {
            Some(pr) if several => with_tag(p, pr.name),
            _ => p.to_path_buf(),
        };
        Ok(presets
            .into_iter()
            .map(|preset| {
                let output = tag(&self.output, preset);
                let report_html = self.report.as_deref().map(|r| tag(r, preset));
                let report_json = match (&self.report_json, &report_html) {
                    (Some(j), _) => Some(tag(j, preset)),
                    (None, Some(h)) => Some(h.with_extension("json")),
                    (None, None) => None,
                };
                let eq_exports = report_html
                    .as_deref()
                    .or(report_json.as_deref())
                    .map(eq_export_paths);
                Job {
                    preset,
                    paths: JobPaths {
                        preview: self.preview.then(|| preview_paths(&output)),
                        output,
                        report_html,
                        report_json,
                        eq_exports,
                    },
                    album_offset_lu: None,
                }
            })
            .collect())
    }

    /// Refuses, before any work, an output that is an input, an existing output without
    /// `--force`, two outputs with the same name, and a bad option.
    pub fn check_outputs(&self, inputs: &[&Path]) -> anyhow::Result<()> {
        self.tone.validate()?;
        let jobs = self.jobs()?;
        check_job_outputs(&jobs, inputs, self.force)?;
        for job in &jobs {
            OutputFormat::from_path(&job.paths.output, self.tone.sample_format(job.preset))?;
        }
        Ok(())
    }
}

/// Output checks shared by every command: not an input, not existing (unless `force`), not
/// written twice.
pub fn check_job_outputs(jobs: &[Job], inputs: &[&Path], force: bool) -> anyhow::Result<()> {
    let mut seen: Vec<&Path> = Vec::new();
    for job in jobs {
        for p in job.paths.all() {
            if seen.contains(&p) {
                anyhow::bail!(
                    "'{}' would be written twice: give the report, the output and the JSON \
                     different names",
                    p.display()
                );
            }
            seen.push(p);
            encode::check_output(p, inputs, force)?;
        }
    }
    Ok(())
}

/// A spinner with a stage name on a terminal; nothing when stderr is not a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(json: bool) -> Self {
        let bar = (!json && super::term::progress_visible()).then(|| {
            let bar = ProgressBar::new(1000);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg:<12} [{bar:30}] {percent:>3}%")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Self { bar }
    }

    pub fn stage(&self, name: &str, fraction: f64) {
        if let Some(b) = &self.bar {
            b.set_message(name.to_string());
            b.set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
        }
    }

    /// Prints a line on stderr above the bar (through the bar, so it is not broken).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Decodes a file, naming it in any error.
pub fn decode(path: &Path) -> anyhow::Result<AudioBuffer> {
    lathe::io::decode::decode_file(path).map_err(|e| name_file(path, e))
}

/// Analyses a decoded file, naming it in any error.
pub fn analyze(path: &Path, audio: &AudioBuffer) -> anyhow::Result<Features> {
    lathe::analyze(audio).map_err(|e| name_file(path, e))
}

/// Makes sure an error message names the file it is about, once.
pub fn name_file(path: &Path, err: lathe::Error) -> anyhow::Error {
    let quoted = format!("'{}'", path.display());
    if err.to_string().contains(&quoted) {
        err.into()
    } else {
        anyhow::Error::new(err).context(quoted)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PreviewJson {
    pub mix: String,
    pub master: String,
    pub start_s: f64,
    pub length_s: f64,
    pub mix_gain_db: f64,
    pub master_gain_db: f64,
    pub matched_lufs: f64,
}

/// What one render produced.
pub struct Mastered {
    pub targets: Targets,
    pub log: RenderLog,
    /// The output file as decoded and analysed (when a report or JSON needed it).
    pub after: Option<Features>,
    pub preview: Option<PreviewJson>,
    pub format: OutputFormat,
}

/// Renders `mix` toward `targets` for one job and writes its files (audio, report, preview).
/// `progress` receives 0..=1.
#[allow(clippy::too_many_arguments)]
pub fn master_one(
    mix_path: &Path,
    mix: &AudioBuffer,
    mix_features: &Features,
    targets: &Targets,
    tone: &ToneArgs,
    job: &Job,
    need_after: bool,
    made: &Provenance,
    progress: &(dyn Fn(&str, f64) + Sync),
) -> anyhow::Result<Mastered> {
    let ctx = || format!("'{}'", mix_path.display());
    if mix.duration_s() > MAX_RENDER_DURATION_S {
        return Err(lathe::Error::TooLong {
            duration_s: mix.duration_s(),
            limit_s: MAX_RENDER_DURATION_S,
            what: "rendering",
        })
        .with_context(ctx);
    }
    lathe::analysis::check_loud_enough(mix_features, "master").with_context(ctx)?;
    let settings = tone.settings()?;
    let format = OutputFormat::from_path(&job.paths.output, tone.sample_format(job.preset))?;
    let mut targets = tone.overrides(job.preset).apply(targets.clone())?;
    if let Some(offset) = job.album_offset_lu {
        targets.integrated_lufs += offset;
    }

    // A new rate comes first, so the limiter's ceiling holds at the rate that is written. The
    // mix's features stay those of the file as given (bands, loudness and dynamics do not
    // depend on the rate up to 20 kHz).
    let converted;
    let mix = match tone.sample_rate_hz(job.preset) {
        Some(hz) if hz != mix.sample_rate_hz => {
            progress("resampling", 0.0);
            converted = lathe::io::resample::resample(mix, hz).with_context(ctx)?;
            &converted
        }
        _ => mix,
    };
    progress("rendering", 0.0);
    let rendered =
        render::chain::render_with_progress(mix, mix_features, &targets, &settings, &|f| {
            progress("rendering", 0.85 * f)
        })
        .with_context(ctx)?;

    progress("writing", 0.85);
    let out = &job.paths.output;
    // Tags are a courtesy: a mix whose tags cannot be read is still mastered, untagged.
    let tags = if tone.no_tags {
        Tags::default()
    } else {
        lathe::io::tags::read_tags(mix_path).unwrap_or_default()
    };
    encode::write_file_tagged(out, &rendered.audio, format, DITHER_SEED, &tags)?;

    lathe::timing::mark("written");
    let wants_report = job.paths.report_html.is_some() || job.paths.report_json.is_some();
    let after = if need_after || wants_report {
        progress("measuring", 0.9);
        let written = decode(out)?;
        Some(analyze(out, &written)?)
    } else {
        None
    };

    // The preview first: the report embeds players for it.
    let preview = match &job.paths.preview {
        Some((mix_out, master_out)) => {
            progress("preview", 0.92);
            let p = preview::excerpts(mix, &rendered.audio, mix_features, PREVIEW_LENGTH_S)
                .with_context(ctx)?;
            encode::write_file(mix_out, &p.mix, format, DITHER_SEED)?;
            encode::write_file(master_out, &p.master, format, DITHER_SEED)?;
            Some(PreviewJson {
                mix: mix_out.display().to_string(),
                master: master_out.display().to_string(),
                start_s: p.start_s,
                length_s: p.length_s,
                mix_gain_db: p.mix_gain_db,
                master_gain_db: p.master_gain_db,
                matched_lufs: p.matched_lufs,
            })
        }
        None => None,
    };

    if let (true, Some(after)) = (wants_report, &after) {
        progress("report", 0.95);
        let aim = Aim {
            preset: job.preset.map(|p| PresetAim {
                name: p.name.to_string(),
                label: p.label.to_string(),
                integrated_lufs: p.integrated_lufs,
                ceiling_dbtp: p.ceiling_dbtp,
            }),
            album_offset_lu: job.album_offset_lu,
        };
        let mix_name = file_name(mix_path);
        let output_name = file_name(out);
        // Links are relative to the report's folder.
        let report_path = job
            .paths
            .report_html
            .as_deref()
            .or(job.paths.report_json.as_deref())
            .expect("a report was asked for");
        let report_dir = report_path.parent().unwrap_or(Path::new("."));
        let preview_links = match (&job.paths.preview, &preview) {
            (Some((a, b)), Some(p)) => Some(PreviewLinks {
                mix_url: relative_url(report_dir, a),
                master_url: relative_url(report_dir, b),
                start_s: p.start_s,
                length_s: p.length_s,
                matched_lufs: p.matched_lufs,
            }),
            _ => None,
        };
        let impulses = eq_impulse_responses(&rendered.log).with_context(ctx)?;
        let eq_links = match (&job.paths.eq_exports, &impulses) {
            (Some((ms, lr, apo)), Some(ir)) => Some(EqExportLinks {
                mid_side_ir_url: relative_url(report_dir, ms),
                left_right_ir_url: relative_url(report_dir, lr),
                apo_preset_url: relative_url(report_dir, apo),
                delay_frames: ir.delay_frames,
            }),
            _ => None,
        };
        let made = Provenance {
            output_format: super::provenance::describe_format(
                format,
                rendered.audio.sample_rate_hz,
                DITHER_SEED,
            ),
            date_utc: date_utc_now(),
            ..made.clone()
        };
        let report = report::build(&ReportInput {
            mix_name: &mix_name,
            output_name: &output_name,
            before: mix_features,
            after,
            targets: &targets,
            log: &rendered.log,
            aim: &aim,
            provenance: Some(&made),
            preview: preview_links.as_ref(),
            eq_exports: eq_links.as_ref(),
            audio: Some((mix, &rendered.audio)),
        });
        if let (Some((ms, lr, apo)), Some(ir)) = (&job.paths.eq_exports, &impulses) {
            let float = OutputFormat::from_path(ms, Some(SampleFormat::Float32))?;
            encode::write_file(ms, &ir.mid_side, float, DITHER_SEED)?;
            encode::write_file(lr, &ir.left_right, float, DITHER_SEED)?;
            write_text_atomically(apo, &equalizer_apo_preset(&report))?;
        }
        if let Some(p) = &job.paths.report_html {
            write_text_atomically(p, &report::html::to_html(&report)?)?;
        }
        if let Some(p) = &job.paths.report_json {
            write_text_atomically(p, &report::json::to_json(&report)?)?;
        }
    }

    progress("done", 1.0);
    Ok(Mastered {
        targets,
        log: rendered.log,
        after,
        preview,
        format,
    })
}

/// The file name of `path` (the whole path if it has none).
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Checks the outputs, renders `mix` toward `targets` once per preset and writes the results.
#[allow(clippy::too_many_arguments)]
pub fn render_and_write(
    mix_path: &Path,
    inputs: &[&Path],
    mix: &AudioBuffer,
    mix_features: &Features,
    targets: Targets,
    args: &RenderArgs,
    made: &Provenance,
    progress: &Progress,
) -> anyhow::Result<ExitCode> {
    args.check_outputs(inputs)?;
    let jobs = args.jobs()?;
    let n = jobs.len() as f64;
    let mut json = Vec::new();
    let mut lines = Vec::new();
    let mut printed: Vec<String> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        let m = master_one(
            mix_path,
            mix,
            mix_features,
            &targets,
            &args.tone,
            job,
            args.any_json(),
            made,
            &|stage, f| progress.stage(stage, 0.3 + 0.7 * (j as f64 + f) / n),
        )?;
        if !super::term::quiet() {
            // The report's warnings, on stderr: the mix's once, each render's own.
            let colour = super::term::stderr_colour();
            for w in all_warnings(mix_features, &m.targets, &m.log) {
                let line = super::term::warning_line(None, &w.code, &w.message, colour);
                if !printed.contains(&line) {
                    progress.println(&line);
                    printed.push(line);
                }
            }
        }
        let out = &job.paths.output;
        if args.any_json() {
            json.push((job, m));
        } else {
            let l = &m.log.loudness;
            let mut text = format!(
                "{} -> {}: {:.1} -> {:.1} LUFS (target {:.1}), true peak {:.2} dBTP (ceiling {:.1})",
                mix_path.display(),
                out.display(),
                mix_features.loudness.integrated_lufs,
                l.achieved_integrated_lufs,
                l.target_integrated_lufs,
                l.achieved_true_peak_dbtp,
                l.ceiling_dbtp
            );
            if let Some(p) = job.preset {
                text += &format!(" [{}]", p.label);
            }
            for p in [&job.paths.report_html, &job.paths.report_json]
                .into_iter()
                .flatten()
            {
                text += &format!("\n  report: {}", p.display());
            }
            if let Some(p) = &m.preview {
                text += &format!(
                    "\n  preview: {} and {} ({:.0} s from {:.1} s, both at {:.1} LUFS)",
                    p.mix, p.master, p.length_s, p.start_s, p.matched_lufs
                );
            }
            lines.push(text);
        }
    }
    progress.finish();

    let mut out = std::io::stdout().lock();
    if args.any_json() {
        let objects: Vec<super::json::RenderJson> = json
            .iter()
            .map(|(job, m)| {
                super::json::render_json(
                    &super::json::RenderFacts {
                        mix_path,
                        output: &job.paths.output,
                        format: m.format,
                        preset: job.preset.map(|p| p.name),
                        mix: mix_features,
                        after: m.after.as_ref().expect("measured when --json"),
                        targets: &m.targets,
                        log: &m.log,
                        report_html: job.paths.report_html.as_deref(),
                        report_json: job.paths.report_json.as_deref(),
                        preview: m.preview.clone(),
                    },
                    args.json_full,
                )
            })
            .collect();
        if objects.len() == 1 {
            serde_json::to_writer_pretty(&mut out, &objects[0])?;
        } else {
            serde_json::to_writer_pretty(&mut out, &objects)?;
        }
        writeln!(out)?;
    } else if !super::term::quiet() {
        for l in lines {
            writeln!(out, "{l}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Distinguishes temporary files of concurrent writes from one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `text` to `path` atomically: a temporary file next to it, flushed to disk, renamed
/// over `path` (the same scheme as `io::encode`); the temporary file is removed on error.
pub fn write_text_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("'{}' has no file name", path.display()))?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = path.with_file_name(format!(
        ".{}.lathe-tmp-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(e).with_context(|| format!("cannot write '{}'", path.display()));
    }
    Ok(())
}
