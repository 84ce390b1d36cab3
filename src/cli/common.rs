//! What `lathe match`, `lathe master` and `lathe batch` share: the options, the progress
//! display and the printing. The work itself is the library's per-file job ([`lathe::job`]):
//! these commands parse, build a job, call it and print what it did.
//!
//! One analysis, several outputs: `--preset spotify,apple` renders the mix once per preset and
//! names the outputs `OUT-STEM.PRESET.EXT` (`master.spotify.wav`); with one preset (or none)
//! the output is `-o` exactly. Reports (`--report r.html`, JSON beside it as `r.json`, or
//! `--report-json PATH`) and previews (`--preview`: `OUT-STEM.preview-mix.EXT` and
//! `OUT-STEM.preview-master.EXT`) follow the same naming ([`lathe::job::render_specs`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use lathe::io::encode::SampleFormat;
use lathe::job::{self, Job, JobSettings, Mastered, Prepared, PreviewInfo, RenderSpec};
use lathe::render::chain::RenderSettings;
use lathe::report::provenance::{InputInfo, Provenance};
use lathe::report::warnings::all_warnings;
use lathe::targets::blend::Overrides;
use lathe::targets::presets::{self, Preset};

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

    /// The library's settings for these options (checked by [`ToneArgs::validate`]).
    pub fn job_settings(&self) -> anyhow::Result<JobSettings> {
        Ok(JobSettings {
            presets: self.presets()?.into_iter().flatten().collect(),
            integrated_lufs: self.lufs,
            ceiling_dbtp: self.ceiling,
            amount_pct: self.amount,
            eq_amount_pct: self.eq_amount,
            limiter: !self.no_limiter,
            sample_format: self.bits.map(|b| match b {
                Bits::Int16 => SampleFormat::Int16,
                Bits::Int24 => SampleFormat::Int24,
                Bits::Float32 => SampleFormat::Float32,
            }),
            sample_rate_hz: self.sample_rate,
            copy_tags: !self.no_tags,
            dither_seed: job::DITHER_SEED,
        })
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

    /// The renders this command line asks for, with their file names.
    pub fn specs(&self) -> anyhow::Result<Vec<RenderSpec>> {
        Ok(job::render_specs(
            &self.tone.job_settings()?,
            &self.output,
            self.report.as_deref(),
            self.report_json.as_deref(),
            self.preview,
        ))
    }

    /// Refuses, before any work, a bad option (in the CLI's words), an output that is an
    /// input, an existing output without `--force`, two outputs with the same name and an
    /// output format that cannot be written (the checks of [`Job::check`]).
    pub fn check_outputs(&self, inputs: &[&Path]) -> anyhow::Result<()> {
        self.tone.validate()?;
        let settings = self.tone.job_settings()?;
        let specs = self.specs()?;
        job::check_outputs(&specs, inputs, self.force)?;
        for spec in &specs {
            lathe::io::encode::OutputFormat::from_path(
                &spec.paths.output,
                settings.sample_format(spec.preset),
            )?;
        }
        Ok(())
    }

    /// The job for `mix` toward `target`, as this command line asks.
    pub fn job(&self, mix: &Path, target: job::Target) -> anyhow::Result<Job> {
        Ok(Job {
            mix: mix.to_path_buf(),
            target,
            settings: self.tone.job_settings()?,
            renders: self.specs()?,
            force: self.force,
            measure_after: self.any_json(),
            provenance: provenance(Vec::new(), None),
        })
    }
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

impl From<&PreviewInfo> for PreviewJson {
    fn from(p: &PreviewInfo) -> Self {
        Self {
            mix: p.mix.display().to_string(),
            master: p.master.display().to_string(),
            start_s: p.start_s,
            length_s: p.length_s,
            mix_gain_db: p.mix_gain_db,
            master_gain_db: p.master_gain_db,
            matched_lufs: p.matched_lufs,
        }
    }
}

/// Checks the outputs again (a file may have appeared during the analysis), renders the
/// prepared mix once per output of `job` (the last render takes the mix: see
/// [`Job::render_last_spec`]), prints each render's warnings on stderr and the results on
/// stdout.
pub fn render_and_write(
    job: &Job,
    mut prepared: Prepared,
    args: &RenderArgs,
    progress: &Progress,
) -> anyhow::Result<ExitCode> {
    args.check_outputs(&job.inputs())?;
    let mix_path = job.mix.as_path();
    let cancel = AtomicBool::new(false);
    let mut json = Vec::new();
    let mut lines = Vec::new();
    let mut printed: Vec<String> = Vec::new();
    let n = job.renders.len();
    for (j, spec) in job.renders.iter().enumerate() {
        let on_progress = |stage: &str, f: f64| progress.stage(stage, f);
        let m = if j + 1 == n {
            job.render_last_spec(&mut prepared, j, &on_progress, &cancel)?
        } else {
            job.render_spec(&prepared, j, &on_progress, &cancel)?
        };
        let mix_features = &prepared.features;
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
        if args.any_json() {
            json.push((spec, m));
        } else {
            lines.push(summary_line(mix_path, mix_features, spec, &m));
        }
    }
    progress.finish();
    let mix_features = &prepared.features;

    let mut out = std::io::stdout().lock();
    if args.any_json() {
        let objects: Vec<super::json::RenderJson> = json
            .iter()
            .map(|(spec, m)| {
                super::json::render_json(
                    &super::json::RenderFacts {
                        mix_path,
                        output: &spec.paths.output,
                        format: m.format,
                        preset: spec.preset.map(|p| p.name),
                        mix: mix_features,
                        after: m.after.as_ref().expect("measured when --json"),
                        targets: &m.targets,
                        log: &m.log,
                        report_html: spec.paths.report_html.as_deref(),
                        report_json: spec.paths.report_json.as_deref(),
                        preview: m.preview.as_ref().map(PreviewJson::from),
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

/// One render's result in words: loudness before and after, true peak, preset, files.
fn summary_line(
    mix_path: &Path,
    mix: &lathe::analysis::Features,
    spec: &RenderSpec,
    m: &Mastered,
) -> String {
    let l = &m.log.loudness;
    let mut text = format!(
        "{} -> {}: {:.1} -> {:.1} LUFS (target {:.1}), true peak {:.2} dBTP (ceiling {:.1})",
        mix_path.display(),
        spec.paths.output.display(),
        mix.loudness.integrated_lufs,
        l.achieved_integrated_lufs,
        l.target_integrated_lufs,
        l.achieved_true_peak_dbtp,
        l.ceiling_dbtp
    );
    if let Some(p) = spec.preset {
        text += &format!(" [{}]", p.label);
    }
    for p in [&spec.paths.report_html, &spec.paths.report_json]
        .into_iter()
        .flatten()
    {
        text += &format!("\n  report: {}", p.display());
    }
    if let Some(p) = &m.preview {
        text += &format!(
            "\n  preview: {} and {} ({:.0} s from {:.1} s, both at {:.1} LUFS)",
            p.mix.display(),
            p.master.display(),
            p.length_s,
            p.start_s,
            p.matched_lufs
        );
    }
    text
}
