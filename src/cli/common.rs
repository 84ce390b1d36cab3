//! What `lathe match` and `lathe master` share: the options, the progress display, the render
//! and the output, so both commands behave the same way and use the same renderer.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use lathe::analysis::Features;
use lathe::io::encode::{self, OutputFormat, SampleFormat};
use lathe::render::chain::{RenderLog, RenderSettings};
use lathe::render;
use lathe::targets::blend::Overrides;
use lathe::{AudioBuffer, Targets};

use super::analyze::{summary, Summary};

/// Longest mix lathe renders: one hour keeps peak memory near 2 GB at 48 kHz stereo; the
/// analysis of longer files still works.
pub const MAX_RENDER_DURATION_S: f64 = 3600.0;
/// Fixed dither seed: the same input and settings always give the same bits.
const DITHER_SEED: u64 = 0x1a7e_d17e;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bits {
    #[value(name = "16")]
    Int16,
    #[value(name = "24")]
    Int24,
    #[value(name = "32f")]
    Float32,
}

/// Options every mastering command takes.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Output file (.wav or .flac).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Target integrated loudness in LUFS (default: the reference's, or the model's).
    #[arg(long, value_name = "LUFS", allow_hyphen_values = true)]
    pub lufs: Option<f64>,
    /// True-peak ceiling in dBTP.
    #[arg(long, value_name = "DBTP", allow_hyphen_values = true, default_value_t = -1.0)]
    pub ceiling: f64,
    /// How far to move toward the targets' tone, dynamics and width, in percent.
    #[arg(long, value_name = "PCT", default_value_t = 100.0)]
    pub amount: f64,
    /// How much of the matched EQ to apply, in percent (on top of --amount).
    #[arg(long, value_name = "PCT", default_value_t = 100.0)]
    pub eq_amount: f64,
    /// No limiter: meet the ceiling by lowering the gain instead.
    #[arg(long)]
    pub no_limiter: bool,
    /// Output sample format (default 24; FLAC takes 16 or 24).
    #[arg(long, value_enum)]
    pub bits: Option<Bits>,
    /// Overwrite the output if it exists (never an input).
    #[arg(long)]
    pub force: bool,
    /// Print the settings used and the before/after measurements as JSON.
    #[arg(long)]
    pub json: bool,
}

impl RenderArgs {
    pub fn settings(&self) -> anyhow::Result<RenderSettings> {
        for (name, v) in [("--amount", self.amount), ("--eq-amount", self.eq_amount)] {
            if !(0.0..=100.0).contains(&v) {
                anyhow::bail!("{name} {v} is outside 0..=100 %");
            }
        }
        Ok(RenderSettings {
            amount: self.amount / 100.0,
            eq_amount: self.eq_amount / 100.0,
            limiter: !self.no_limiter,
            ..RenderSettings::default()
        })
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            integrated_lufs: self.lufs,
            ceiling_dbtp: Some(self.ceiling),
        }
    }

    pub fn format(&self) -> anyhow::Result<OutputFormat> {
        let bits = self.bits.map(|b| match b {
            Bits::Int16 => SampleFormat::Int16,
            Bits::Int24 => SampleFormat::Int24,
            Bits::Float32 => SampleFormat::Float32,
        });
        Ok(OutputFormat::from_path(&self.output, bits)?)
    }
}

/// A spinner with a stage name on a terminal; nothing when stderr is not a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(json: bool) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
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

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Decodes a file, naming it in any error.
pub fn decode(path: &Path) -> anyhow::Result<AudioBuffer> {
    Ok(lathe::io::decode::decode_file(path)?)
}

/// Analyses a decoded file, naming it in any error.
pub fn analyze(path: &Path, audio: &AudioBuffer) -> anyhow::Result<Features> {
    lathe::analyze(audio).with_context(|| format!("'{}'", path.display()))
}

/// What `--json` prints after a render.
#[derive(Serialize)]
struct RenderJson<'a> {
    mix: String,
    output: String,
    format: String,
    targets: &'a Targets,
    before: Summary<'a>,
    after: Summary<'a>,
    log: &'a RenderLog,
}

/// Checks the output path, renders `mix` toward `targets` and writes the result.
pub fn render_and_write(
    mix_path: &Path,
    inputs: &[&Path],
    mix: &AudioBuffer,
    mix_features: &Features,
    targets: Targets,
    args: &RenderArgs,
    progress: &Progress,
) -> anyhow::Result<ExitCode> {
    if mix.duration_s() > MAX_RENDER_DURATION_S {
        return Err(lathe::Error::TooLong {
            duration_s: mix.duration_s(),
            limit_s: MAX_RENDER_DURATION_S,
            what: "rendering",
        })
        .with_context(|| format!("'{}'", mix_path.display()));
    }
    if !mix_features.loudness.integrated_lufs.is_finite() {
        return Err(lathe::Error::Silence { what: "master" })
            .with_context(|| format!("'{}'", mix_path.display()));
    }
    let settings = args.settings()?;
    let format = args.format()?;
    let targets = args.overrides().apply(targets)?;

    progress.stage("rendering", 0.3);
    let rendered = render::chain::render_with_progress(
        mix,
        mix_features,
        &targets,
        &settings,
        &|f| progress.stage("rendering", 0.3 + 0.6 * f),
    )
    .with_context(|| format!("'{}'", mix_path.display()))?;

    progress.stage("writing", 0.9);
    encode::check_output(&args.output, inputs, args.force)?;
    encode::write_file(&args.output, &rendered.audio, format, DITHER_SEED)?;
    progress.finish();

    let mut out = std::io::stdout().lock();
    if args.json {
        let after_audio = lathe::io::decode::decode_file(&args.output)?;
        let after = analyze(&args.output, &after_audio)?;
        let json = RenderJson {
            mix: mix_path.display().to_string(),
            output: args.output.display().to_string(),
            format: format!("{format:?}"),
            targets: &targets,
            before: summary(mix_path, mix_features),
            after: summary(&args.output, &after),
            log: &rendered.log,
        };
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
    } else {
        let l = &rendered.log.loudness;
        writeln!(
            out,
            "{} -> {}: {:.1} -> {:.1} LUFS (target {:.1}), true peak {:.2} dBTP (ceiling {:.1})",
            mix_path.display(),
            args.output.display(),
            mix_features.loudness.integrated_lufs,
            l.achieved_integrated_lufs,
            l.target_integrated_lufs,
            l.achieved_true_peak_dbtp,
            l.ceiling_dbtp
        )?;
        for w in &rendered.log.warnings {
            writeln!(out, "  warning: {w}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
