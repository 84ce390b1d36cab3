//! The per-file job, one entry point for every caller (the CLI's `match`, `master` and
//! `batch`, `lathe serve`, any binding): decode -> analyse -> targets -> (resample) -> render
//! -> encode -> re-decode and measure -> preview -> report (with its EQ exports).
//!
//! - A [`Job`] names the mix, where its targets come from ([`Target`]: a reference file, a
//!   saved style profile, a target range made already, the genre model), the [`JobSettings`] (presets, loudness, ceiling,
//!   amount, limiter, bits, rate, tags) and one [`RenderSpec`] per output (a preset and its
//!   files).
//! - [`Job::run`] does it all; [`Job::prepare`] and [`Job::render_spec`] are its steps, for a
//!   caller that says something in between (the detected genre, each render's warnings).
//!   [`render_one`] is the render step alone, for a caller that made the mix's features and
//!   targets itself (`batch`'s album mode).
//! - Progress goes to a callback `(stage, fraction 0..=1)`; cancellation is an `AtomicBool`
//!   checked between stages ([`Error::Cancelled`]). The job never prints.
//! - Output names: with one preset (or none) the output is exactly the path given; with
//!   several, `OUT-STEM.PRESET.EXT` ([`with_tag`]); previews are `OUT-STEM.preview-mix.EXT`
//!   and `OUT-STEM.preview-master.EXT` ([`preview_paths`]); the EQ exports sit beside the
//!   report ([`eq_export_paths`]). Every file is written atomically ([`crate::io::encode`])
//!   and checked before any rendering starts ([`check_outputs`]).
//!
//! The same inputs and settings give the same bytes, whoever calls: the renderer is
//! deterministic and dither uses a fixed seed ([`DITHER_SEED`]).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::analysis::{Detail, Features};
use crate::error::{Error, Result};
use crate::io::encode::{self, OutputFormat, SampleFormat};
use crate::io::tags::Tags;
use crate::render::chain::{RenderLog, RenderSettings};
use crate::report::export::{eq_impulse_responses, equalizer_apo_preset};
use crate::report::preview::{self, PREVIEW_LENGTH_S};
use crate::report::provenance::{date_utc_now, describe_format, InputInfo, Provenance};
use crate::report::{self, relative_url, Aim, EqExportLinks, PresetAim, PreviewLinks, ReportInput};
use crate::targets::blend::Overrides;
use crate::targets::model::{GenreGuess, Model};
use crate::targets::presets::Preset;
use crate::targets::profile::StyleProfile;
use crate::targets::reference::range_from_reference;
use crate::targets::TargetRange;
use crate::{AudioBuffer, Targets};

/// Longest mix lathe renders: one hour (of stereo 44.1 kHz: 2.5 GB at its peak, measured,
/// `lathe match`; see [`crate::audio::render_bytes_per_frame`]); the analysis of longer files
/// still works (1.4 GB an hour).
pub const MAX_RENDER_DURATION_S: f64 = 3600.0;
/// Fixed dither seed: the same input and settings always give the same bits.
pub const DITHER_SEED: u64 = 0x1a7e_d17e;

/// Progress receiver: a stage name (`decoding`, `analysing`, `resampling`, `rendering`,
/// `writing`, `measuring`, `preview`, `report`, `done`) and the fraction done, 0..=1.
pub type ProgressFn<'a> = &'a (dyn Fn(&str, f64) + Sync);

/// Where a job's targets come from. Every source gives a [`TargetRange`], resolved against
/// the mix ([`Target::resolve`]).
#[derive(Clone, Debug)]
pub enum Target {
    /// Match this reference track (decoded and analysed with the mix).
    Reference(PathBuf),
    /// A style profile saved by `lathe profile` (read, not decoded or analysed again).
    Profile(PathBuf),
    /// A target range made already (e.g. one reference analysed once for a whole batch),
    /// resolved against each mix.
    Range(Box<TargetRange>),
    /// The genre model: `genre` a name the model knows (see [`Model::choose_genre`]), or
    /// `None` to detect the mix's genre.
    Genre {
        model: Arc<Model>,
        genre: Option<String>,
    },
}

impl Target {
    /// What the mix's analysis must measure for this target: the genre features only for
    /// the genre model.
    pub fn detail(&self) -> Detail {
        match self {
            Target::Genre { .. } => Detail::Genre,
            _ => Detail::Mastering,
        }
    }

    /// Files this target reads (never to be overwritten).
    pub fn inputs(&self) -> Vec<&Path> {
        match self {
            Target::Reference(p) | Target::Profile(p) => vec![p.as_path()],
            _ => Vec::new(),
        }
    }

    /// The targets for the mix at `mix_path` with `mix` features (every source gives a
    /// [`TargetRange`], resolved against the mix), and the detected genre when the model chose
    /// it.
    pub fn resolve(
        &self,
        mix_path: &Path,
        mix: &Features,
    ) -> Result<(Targets, Option<GenreGuess>)> {
        let (range, guess) = self.range(mix_path, mix)?;
        Ok((range.resolve(mix), guess))
    }

    /// The [`TargetRange`] for the mix at `mix_path` with `mix` features (before it is
    /// resolved against the mix: what the report shades), and the detected genre when the
    /// model chose it.
    pub fn range(
        &self,
        mix_path: &Path,
        mix: &Features,
    ) -> Result<(TargetRange, Option<GenreGuess>)> {
        match self {
            Target::Reference(path) => Ok((reference_range(path)?, None)),
            Target::Profile(path) => Ok((read_profile(path)?.0, None)),
            Target::Range(range) => Ok(((**range).clone(), None)),
            Target::Genre { model, genre } => {
                let in_mix = |e: Error| e.context(format!("'{}'", mix_path.display()));
                // Silence has no genre: refuse it before detecting one.
                crate::analysis::check_loud_enough(mix, "master").map_err(in_mix)?;
                match genre {
                    Some(g) => Ok((model.predict_range(mix, g).map_err(in_mix)?, None)),
                    None => {
                        let (guess, range) = model.predict_range_detected(mix).map_err(in_mix)?;
                        Ok((range, Some(guess)))
                    }
                }
            }
        }
    }

    /// The model's version for the report, when the model makes the targets.
    pub fn model_version(&self) -> Option<String> {
        match self {
            Target::Genre { model, .. } => Some(model_version(model)),
            _ => None,
        }
    }
}

/// A model's version as the report states it: description, creation date, data fingerprint.
pub fn model_version(model: &Model) -> String {
    let m = model.metadata();
    format!(
        "{} (created {}, data {})",
        m.description, m.created, m.data_fingerprint
    )
}

/// Loads the targets model at `path`, or the bundled one.
pub fn load_model(path: Option<&Path>) -> Result<Model> {
    match path {
        Some(p) => Model::from_file(p),
        None => Model::bundled(),
    }
}

/// Decodes, analyses and turns a reference track into a target range (a point: resolving it
/// gives exactly the reference's targets).
pub fn reference_range(path: &Path) -> Result<TargetRange> {
    let audio = decode(path)?;
    let features = analyze(path, &audio, Detail::Mastering)?;
    range_of_reference(path, &features)
}

/// Reads a style profile saved by `lathe profile`: its range, and how the report lists it
/// among the inputs.
pub fn read_profile(path: &Path) -> Result<(TargetRange, InputInfo)> {
    let p = StyleProfile::read(path)?;
    let info = InputInfo {
        role: "style profile".to_string(),
        name: file_name(path),
        format: format!(
            "lathe style profile of {} reference{}",
            p.references.len(),
            if p.references.len() == 1 { "" } else { "s" }
        ),
        sample_rate_hz: 0,
        channels: 0,
        duration_s: p.references.iter().map(|r| r.duration_s).sum(),
    };
    Ok((p.range, info))
}

/// The target range of a reference track's features; errors name the reference.
pub fn range_of_reference(path: &Path, features: &Features) -> Result<TargetRange> {
    range_from_reference(features, &file_name(path))
        .map_err(|e| e.context(format!("reference '{}'", path.display())))
}

/// How to master: loudness, ceiling, presets, intensity, limiter, sample format and rate, tags.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSettings {
    /// Loudness presets, one output each; empty: none (the targets' own loudness).
    pub presets: Vec<&'static Preset>,
    /// Target integrated loudness; overrides a preset's.
    pub integrated_lufs: Option<f64>,
    /// True-peak ceiling; overrides a preset's.
    pub ceiling_dbtp: Option<f64>,
    /// How far to move toward the targets' tone, dynamics and width, 0..=100 %.
    pub amount_pct: f64,
    /// How much of the matched EQ to apply, 0..=100 % (on top of `amount_pct`).
    pub eq_amount_pct: f64,
    /// Use the true-peak limiter; without it the ceiling is met by lowering the gain.
    pub limiter: bool,
    /// Output sample format; `None`: the preset's, else the encoder's default (24 bit).
    pub sample_format: Option<SampleFormat>,
    /// Output sample rate; `None`: the preset's, else the mix's.
    pub sample_rate_hz: Option<u32>,
    /// Copy the mix's tags (title, artist, ISRC...) to the output.
    pub copy_tags: bool,
    /// Seed of the 16-bit TPDF dither.
    pub dither_seed: u64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            presets: Vec::new(),
            integrated_lufs: None,
            ceiling_dbtp: None,
            amount_pct: 100.0,
            eq_amount_pct: 100.0,
            limiter: true,
            sample_format: None,
            sample_rate_hz: None,
            copy_tags: true,
            dither_seed: DITHER_SEED,
        }
    }
}

impl JobSettings {
    /// The renderer's settings.
    pub fn render_settings(&self) -> Result<RenderSettings> {
        for (name, v) in [
            ("amount", self.amount_pct),
            ("EQ amount", self.eq_amount_pct),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err(Error::InvalidSetting(format!(
                    "{name} {v}: the valid range is 0 to 100 (percent)"
                )));
            }
        }
        Ok(RenderSettings {
            amount: self.amount_pct / 100.0,
            eq_amount: self.eq_amount_pct / 100.0,
            limiter: self.limiter,
            ..RenderSettings::default()
        })
    }

    /// The presets, `[None]` without any.
    pub fn preset_list(&self) -> Vec<Option<&'static Preset>> {
        if self.presets.is_empty() {
            vec![None]
        } else {
            self.presets.iter().copied().map(Some).collect()
        }
    }

    /// Explicit loudness/ceiling, else the preset's; `None` keeps the targets' own.
    pub fn overrides(&self, preset: Option<&Preset>) -> Overrides {
        Overrides {
            integrated_lufs: self.integrated_lufs.or(preset.map(|p| p.integrated_lufs)),
            ceiling_dbtp: self.ceiling_dbtp.or(preset.map(|p| p.ceiling_dbtp)),
        }
    }

    /// Explicit sample format, else the preset's (`cd`: 16); `None` is the encoder's default.
    pub fn sample_format(&self, preset: Option<&Preset>) -> Option<SampleFormat> {
        self.sample_format
            .or_else(|| match preset.and_then(|p| p.bits) {
                Some(16) => Some(SampleFormat::Int16),
                Some(24) => Some(SampleFormat::Int24),
                _ => None,
            })
    }

    /// Explicit sample rate, else the preset's (`cd`: 44.1 kHz); `None` keeps the mix's.
    pub fn sample_rate_hz(&self, preset: Option<&Preset>) -> Option<u32> {
        self.sample_rate_hz
            .or(preset.and_then(|p| p.sample_rate_hz))
    }

    /// Checks every setting that can be checked before any audio is read.
    pub fn validate(&self) -> Result<()> {
        self.render_settings()?;
        if let Some(hz) = self.sample_rate_hz {
            let range = crate::audio::MIN_SAMPLE_RATE_HZ..=crate::audio::MAX_SAMPLE_RATE_HZ;
            if !range.contains(&hz) {
                return Err(Error::InvalidSetting(format!(
                    "sample rate {hz} Hz is outside {}..={} Hz",
                    range.start(),
                    range.end()
                )));
            }
        }
        for p in self.preset_list() {
            self.overrides(p).validate()?;
        }
        Ok(())
    }
}

/// Where one render's files go.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputPaths {
    pub output: PathBuf,
    pub report_html: Option<PathBuf>,
    pub report_json: Option<PathBuf>,
    /// (mix excerpt, master excerpt).
    pub preview: Option<(PathBuf, PathBuf)>,
    /// The exported EQ beside the report: (mid/side IR, true-stereo IR, Equalizer APO preset).
    pub eq_exports: Option<(PathBuf, PathBuf, PathBuf)>,
}

impl OutputPaths {
    /// Every file this render writes.
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

/// One render: a preset (or none), its files, and an album offset.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderSpec {
    pub preset: Option<&'static Preset>,
    pub paths: OutputPaths,
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

/// The EQ export files beside a report `dir/r.html` (or `.json`): `dir/r.eq-ms.wav`,
/// `dir/r.eq-lr.wav`, `dir/r.eq-apo.txt`.
pub fn eq_export_paths(report: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        with_tag(report, "eq-ms").with_extension("wav"),
        with_tag(report, "eq-lr").with_extension("wav"),
        with_tag(report, "eq-apo").with_extension("txt"),
    )
}

/// The renders for one output path, a report (HTML, with its JSON beside it unless
/// `report_json` names it; the EQ exports beside the report) and previews, one per preset of
/// `settings`.
pub fn render_specs(
    settings: &JobSettings,
    output: &Path,
    report_html: Option<&Path>,
    report_json: Option<&Path>,
    preview: bool,
) -> Vec<RenderSpec> {
    let presets = settings.preset_list();
    let several = presets.len() > 1;
    let tag = |p: &Path, preset: Option<&Preset>| match preset {
        Some(pr) if several => with_tag(p, pr.name),
        _ => p.to_path_buf(),
    };
    presets
        .into_iter()
        .map(|preset| {
            let output = tag(output, preset);
            let report_html = report_html.map(|r| tag(r, preset));
            let report_json = match (report_json, &report_html) {
                (Some(j), _) => Some(tag(j, preset)),
                (None, Some(h)) => Some(h.with_extension("json")),
                (None, None) => None,
            };
            let eq_exports = report_html
                .as_deref()
                .or(report_json.as_deref())
                .map(eq_export_paths);
            RenderSpec {
                preset,
                paths: OutputPaths {
                    preview: preview.then(|| preview_paths(&output)),
                    output,
                    report_html,
                    report_json,
                    eq_exports,
                },
                album_offset_lu: None,
            }
        })
        .collect()
}

/// Refuses, before any work, an output that is an input, an existing output without `force`
/// and a file written twice.
pub fn check_outputs(renders: &[RenderSpec], inputs: &[&Path], force: bool) -> Result<()> {
    let mut seen: Vec<&Path> = Vec::new();
    for r in renders {
        for p in r.paths.all() {
            if seen.contains(&p) {
                return Err(Error::OutputTwice {
                    path: p.to_path_buf(),
                });
            }
            seen.push(p);
            encode::check_output(p, inputs, force)?;
        }
    }
    Ok(())
}

/// Decodes a file, naming it in any error.
pub fn decode(path: &Path) -> Result<AudioBuffer> {
    crate::io::decode::decode_file(path).map_err(|e| e.in_file(path))
}

/// Analyses a decoded file to `detail`, naming it in any error.
pub fn analyze(path: &Path, audio: &AudioBuffer, detail: Detail) -> Result<Features> {
    crate::analysis::analyze_with(audio, detail).map_err(|e| e.in_file(path))
}

/// The file name of `path` (the whole path if it has none).
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `Err(Cancelled)` once `cancel` is set.
fn check_cancel(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

/// Where the two loudness-matched preview excerpts were cut, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewInfo {
    pub mix: PathBuf,
    pub master: PathBuf,
    pub start_s: f64,
    pub length_s: f64,
    pub mix_gain_db: f64,
    pub master_gain_db: f64,
    pub matched_lufs: f64,
}

/// What one render produced.
#[derive(Clone, Debug)]
pub struct Mastered {
    /// The targets rendered toward (after presets, overrides and the album offset).
    pub targets: Targets,
    pub log: RenderLog,
    /// The output file as decoded and analysed (when a report or `measure_after` needed it).
    pub after: Option<Features>,
    pub preview: Option<PreviewInfo>,
    pub format: OutputFormat,
}

/// Renders `mix` toward `targets` for one render spec and writes its files (audio, preview,
/// report and EQ exports). `measure_after` decodes and analyses the written output even
/// without a report. `made` is how the job was asked for (the report's provenance; its output
/// format and date are filled here). `progress` receives 0..=1 of this render.
///
/// A `mix` given owned (`Cow::Owned`) is freed as early as nothing else reads it: during the
/// render when the output has neither preview nor report (see
/// [`crate::render::chain::render_owned_with_progress`]), and the rendered audio too once it
/// is written; the output bits are the same either way.
#[allow(clippy::too_many_arguments)]
pub fn render_one(
    mix_path: &Path,
    mix: Cow<'_, AudioBuffer>,
    mix_features: &Features,
    targets: &Targets,
    range: Option<&TargetRange>,
    settings: &JobSettings,
    spec: &RenderSpec,
    measure_after: bool,
    made: &Provenance,
    progress: ProgressFn,
    cancel: &AtomicBool,
) -> Result<Mastered> {
    let in_mix = |e: Error| e.context(format!("'{}'", mix_path.display()));
    check_cancel(cancel)?;
    if mix.duration_s() > MAX_RENDER_DURATION_S {
        return Err(in_mix(Error::TooLong {
            duration_s: mix.duration_s(),
            limit_s: MAX_RENDER_DURATION_S,
            what: "rendering",
        }));
    }
    crate::analysis::check_loud_enough(mix_features, "master").map_err(in_mix)?;
    let render_settings = settings.render_settings()?;
    let format = OutputFormat::from_path(&spec.paths.output, settings.sample_format(spec.preset))?;
    let mut targets = settings.overrides(spec.preset).apply(targets.clone())?;
    if let Some(offset) = spec.album_offset_lu {
        targets.integrated_lufs += offset;
    }

    // A new rate comes first, so the limiter's ceiling holds at the rate that is written. The
    // mix's features stay those of the file as given (bands, loudness and dynamics do not
    // depend on the rate up to 20 kHz).
    let mix = match settings.sample_rate_hz(spec.preset) {
        Some(hz) if hz != mix.sample_rate_hz => {
            progress("resampling", 0.0);
            Cow::Owned(crate::io::resample::resample(&mix, hz).map_err(in_mix)?)
        }
        _ => mix,
    };
    check_cancel(cancel)?;
    progress("rendering", 0.0);
    let wants_report = spec.paths.report_html.is_some() || spec.paths.report_json.is_some();
    // The preview and the report read the mix and the master after the render.
    let audio_after = wants_report || spec.paths.preview.is_some();
    let render_progress = |f| progress("rendering", 0.85 * f);
    let (mix, rendered) = match mix {
        Cow::Owned(m) if !audio_after => {
            let r = crate::render::chain::render_owned_with_progress(
                m,
                mix_features,
                &targets,
                &render_settings,
                &render_progress,
            );
            (None, r)
        }
        mix => {
            let r = crate::render::chain::render_with_progress(
                &mix,
                mix_features,
                &targets,
                &render_settings,
                &render_progress,
            );
            (Some(mix), r)
        }
    };
    let rendered = rendered.map_err(in_mix)?;

    check_cancel(cancel)?;
    progress("writing", 0.85);
    let out = &spec.paths.output;
    // Tags are a courtesy: a mix whose tags cannot be read is still mastered, untagged.
    let tags = if settings.copy_tags {
        crate::io::tags::read_tags(mix_path).unwrap_or_default()
    } else {
        Tags::default()
    };
    // Every output is staged (complete and synced under a hidden temporary name next to it)
    // and all are committed together at the end (`encode::commit_all`): a job that fails half
    // way, e.g. at its report, leaves none of them under its final name.
    let mut staged = vec![encode::stage_file(
        out,
        &rendered.audio,
        format,
        settings.dither_seed,
        &tags,
    )?];
    let written_path = staged[0].temp_path().to_path_buf();
    let crate::render::chain::Rendered { audio, log } = rendered;
    let output_rate_hz = audio.sample_rate_hz;
    // Only the preview and the report read the master's samples again.
    let master = audio_after.then_some(audio);

    crate::timing::mark("written");
    let after = if measure_after || wants_report {
        check_cancel(cancel)?;
        progress("measuring", 0.9);
        // What was written, before it is committed under its name.
        let written = decode(&written_path)?;
        Some(analyze(out, &written, Detail::Mastering)?)
    } else {
        None
    };

    // The preview first: the report embeds players for it.
    let preview = match (&spec.paths.preview, mix.as_deref().zip(master.as_ref())) {
        (Some((mix_out, master_out)), Some((mix, master))) => {
            check_cancel(cancel)?;
            progress("preview", 0.92);
            let p =
                preview::excerpts(mix, master, mix_features, PREVIEW_LENGTH_S).map_err(in_mix)?;
            for (path, audio) in [(mix_out, &p.mix), (master_out, &p.master)] {
                let none = Tags::default();
                staged.push(encode::stage_file(
                    path,
                    audio,
                    format,
                    settings.dither_seed,
                    &none,
                )?);
            }
            Some(PreviewInfo {
                mix: mix_out.clone(),
                master: master_out.clone(),
                start_s: p.start_s,
                length_s: p.length_s,
                mix_gain_db: p.mix_gain_db,
                master_gain_db: p.master_gain_db,
                matched_lufs: p.matched_lufs,
            })
        }
        _ => None,
    };

    if let (true, Some(after)) = (wants_report, &after) {
        check_cancel(cancel)?;
        progress("report", 0.95);
        let aim = Aim {
            preset: spec.preset.map(|p| PresetAim {
                name: p.name.to_string(),
                label: p.label.to_string(),
                integrated_lufs: p.integrated_lufs,
                ceiling_dbtp: p.ceiling_dbtp,
            }),
            album_offset_lu: spec.album_offset_lu,
        };
        let mix_name = file_name(mix_path);
        let output_name = file_name(out);
        // Links are relative to the report's folder.
        let report_path = spec
            .paths
            .report_html
            .as_deref()
            .or(spec.paths.report_json.as_deref())
            .expect("a report was asked for");
        let report_dir = report_path.parent().unwrap_or(Path::new("."));
        let preview_links = match (&spec.paths.preview, &preview) {
            (Some((a, b)), Some(p)) => Some(PreviewLinks {
                mix_url: relative_url(report_dir, a),
                master_url: relative_url(report_dir, b),
                start_s: p.start_s,
                length_s: p.length_s,
                matched_lufs: p.matched_lufs,
            }),
            _ => None,
        };
        let impulses = eq_impulse_responses(&log).map_err(in_mix)?;
        let eq_links = match (&spec.paths.eq_exports, &impulses) {
            (Some((ms, lr, apo)), Some(ir)) => Some(EqExportLinks {
                mid_side_ir_url: relative_url(report_dir, ms),
                left_right_ir_url: relative_url(report_dir, lr),
                apo_preset_url: relative_url(report_dir, apo),
                delay_frames: ir.delay_frames,
            }),
            _ => None,
        };
        let made = Provenance {
            output_format: describe_format(format, output_rate_hz, settings.dither_seed),
            date_utc: date_utc_now(),
            ..made.clone()
        };
        let report = report::build_with_range(
            &ReportInput {
                mix_name: &mix_name,
                output_name: &output_name,
                before: mix_features,
                after,
                targets: &targets,
                log: &log,
                aim: &aim,
                provenance: Some(&made),
                preview: preview_links.as_ref(),
                eq_exports: eq_links.as_ref(),
                audio: mix.as_deref().zip(master.as_ref()),
            },
            range,
        );
        if let (Some((ms, lr, apo)), Some(ir)) = (&spec.paths.eq_exports, &impulses) {
            let float = OutputFormat::from_path(ms, Some(SampleFormat::Float32))?;
            for (path, audio) in [(ms, &ir.mid_side), (lr, &ir.left_right)] {
                let none = Tags::default();
                staged.push(encode::stage_file(
                    path,
                    audio,
                    float,
                    settings.dither_seed,
                    &none,
                )?);
            }
            staged.push(encode::stage_text(apo, &equalizer_apo_preset(&report))?);
        }
        if let Some(p) = &spec.paths.report_html {
            staged.push(encode::stage_text(p, &report::html::to_html(&report)?)?);
        }
        if let Some(p) = &spec.paths.report_json {
            staged.push(encode::stage_text(p, &report::json::to_json(&report)?)?);
        }
    }

    encode::commit_all(staged)?;
    progress("done", 1.0);
    Ok(Mastered {
        targets,
        log,
        after,
        preview,
        format,
    })
}

/// A mix decoded and analysed, with its targets: what every render of it starts from.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub mix: AudioBuffer,
    pub features: Features,
    /// The targets before presets and overrides.
    pub targets: Targets,
    /// The range they were resolved from (a reference's is a point).
    pub range: TargetRange,
    /// The genre the model detected, when it chose it.
    pub detected_genre: Option<GenreGuess>,
    /// The report's provenance: the job's, with the inputs read and the model's version.
    pub made: Provenance,
}

/// One mix mastered toward one target, to one or more outputs.
#[derive(Clone, Debug)]
pub struct Job {
    pub mix: PathBuf,
    pub target: Target,
    pub settings: JobSettings,
    /// One per output (preset); see [`render_specs`].
    pub renders: Vec<RenderSpec>,
    /// Overwrite existing outputs (never an input).
    pub force: bool,
    /// Decode and analyse every output after writing it (for [`Mastered::after`]) even
    /// without a report.
    pub measure_after: bool,
    /// How the job was asked for (command line, settings); the inputs, model, output format
    /// and date are filled by the job.
    pub provenance: Provenance,
}

/// What a job produced.
#[derive(Clone, Debug)]
pub struct JobOutput {
    pub mix_features: Features,
    /// The targets before presets and overrides.
    pub targets: Targets,
    pub detected_genre: Option<GenreGuess>,
    /// One per [`Job::renders`], in order.
    pub renders: Vec<Mastered>,
}

impl Job {
    /// Every file the job reads.
    pub fn inputs(&self) -> Vec<&Path> {
        let mut v = vec![self.mix.as_path()];
        v.extend(self.target.inputs());
        v
    }

    /// Checks the settings, the outputs ([`check_outputs`]) and their formats before any
    /// audio work.
    pub fn check(&self) -> Result<()> {
        self.settings.validate()?;
        check_outputs(&self.renders, &self.inputs(), self.force)?;
        for r in &self.renders {
            OutputFormat::from_path(&r.paths.output, self.settings.sample_format(r.preset))?;
        }
        Ok(())
    }

    /// The whole job: [`Job::check`], [`Job::prepare`] (0..0.3 of the progress), then every
    /// [`Job::render_spec`].
    pub fn run(&self, progress: ProgressFn, cancel: &AtomicBool) -> Result<JobOutput> {
        self.check()?;
        let mut prepared = self.prepare(progress, cancel)?;
        self.check()?;
        let n = self.renders.len();
        let renders = (0..n)
            .map(|j| {
                if j + 1 == n {
                    self.render_last_spec(&mut prepared, j, progress, cancel)
                } else {
                    self.render_spec(&prepared, j, progress, cancel)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(JobOutput {
            mix_features: prepared.features,
            targets: prepared.targets,
            detected_genre: prepared.detected_genre,
            renders,
        })
    }

    /// Decodes and analyses the mix (and a reference, in parallel) and makes the targets.
    pub fn prepare(&self, progress: ProgressFn, cancel: &AtomicBool) -> Result<Prepared> {
        check_cancel(cancel)?;
        progress("decoding", 0.0);
        if let Target::Reference(reference) = &self.target {
            let (mix, ref_audio) = rayon::join(|| decode(&self.mix), || decode(reference));
            let (mix, ref_audio) = (mix?, ref_audio?);
            check_cancel(cancel)?;
            progress("analysing", 0.15);
            crate::timing::mark("decoded");
            let (features, ref_features) = rayon::join(
                || analyze(&self.mix, &mix, Detail::Mastering),
                || analyze(reference, &ref_audio, Detail::Mastering),
            );
            let (features, ref_features) = (features?, ref_features?);
            let made = Provenance {
                inputs: vec![
                    InputInfo::of("mix", &self.mix, &mix),
                    InputInfo::of("reference", reference, &ref_audio),
                ],
                model_version: None,
                ..self.provenance.clone()
            };
            drop(ref_audio);
            crate::timing::mark("analysed");
            let range = range_of_reference(reference, &ref_features)?;
            let targets = range.resolve(&features);
            return Ok(Prepared {
                mix,
                features,
                targets,
                range,
                detected_genre: None,
                made,
            });
        }
        // A profile is read before any audio work: a bad one fails at once.
        let profile = match &self.target {
            Target::Profile(path) => Some(read_profile(path)?),
            _ => None,
        };
        let mix = decode(&self.mix)?;
        check_cancel(cancel)?;
        progress("analysing", 0.15);
        let features = analyze(&self.mix, &mix, self.target.detail())?;
        check_cancel(cancel)?;
        let mut inputs = vec![InputInfo::of("mix", &self.mix, &mix)];
        let (range, detected_genre) = match profile {
            Some((range, info)) => {
                inputs.push(info);
                (range, None)
            }
            None => self.target.range(&self.mix, &features)?,
        };
        let targets = range.resolve(&features);
        let made = Provenance {
            inputs,
            model_version: self.target.model_version(),
            ..self.provenance.clone()
        };
        Ok(Prepared {
            mix,
            features,
            targets,
            range,
            detected_genre,
            made,
        })
    }

    /// Renders and writes output `index` of [`Job::renders`] from `prepared`; its progress
    /// is `0.3 + 0.7 * (index + f) / n` of the job's.
    pub fn render_spec(
        &self,
        prepared: &Prepared,
        index: usize,
        progress: ProgressFn,
        cancel: &AtomicBool,
    ) -> Result<Mastered> {
        self.render_spec_of(
            prepared,
            Cow::Borrowed(&prepared.mix),
            index,
            progress,
            cancel,
        )
    }

    /// [`Job::render_spec`] for the last render of `prepared`: its mix is moved out (leaving
    /// `prepared.mix` without channels) and freed as early as the render allows, see
    /// [`render_one`]. The same output bits.
    pub fn render_last_spec(
        &self,
        prepared: &mut Prepared,
        index: usize,
        progress: ProgressFn,
        cancel: &AtomicBool,
    ) -> Result<Mastered> {
        let mix = AudioBuffer {
            sample_rate_hz: prepared.mix.sample_rate_hz,
            channels: std::mem::take(&mut prepared.mix.channels),
        };
        self.render_spec_of(prepared, Cow::Owned(mix), index, progress, cancel)
    }

    fn render_spec_of(
        &self,
        prepared: &Prepared,
        mix: Cow<'_, AudioBuffer>,
        index: usize,
        progress: ProgressFn,
        cancel: &AtomicBool,
    ) -> Result<Mastered> {
        let n = self.renders.len() as f64;
        render_one(
            &self.mix,
            mix,
            &prepared.features,
            &prepared.targets,
            Some(&prepared.range),
            &self.settings,
            &self.renders[index],
            self.measure_after,
            &prepared.made,
            &|stage, f| progress(stage, 0.3 + 0.7 * (index as f64 + f) / n),
            cancel,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// 3 s of a decaying-tone stereo signal (not silence, not a pure sine), 24-bit WAV.
    fn write_mix(path: &Path) {
        let fs = 44_100u32;
        let n = 3 * fs as usize;
        let tone = |f: f64, phase: f64| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    let t = i as f64 / f64::from(fs);
                    let env = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 2.0 * t).sin();
                    (0.2 * env * (2.0 * std::f64::consts::PI * f * t + phase).sin()) as f32
                })
                .collect()
        };
        let audio = AudioBuffer::new(fs, vec![tone(220.0, 0.0), tone(331.0, 1.0)]).unwrap();
        let format = OutputFormat::from_path(path, Some(SampleFormat::Int24)).unwrap();
        encode::write_file(path, &audio, format, 1).unwrap();
    }

    fn job(dir: &Path) -> Job {
        let mix = dir.join("mix.wav");
        write_mix(&mix);
        let settings = JobSettings {
            integrated_lufs: Some(-16.0),
            ..JobSettings::default()
        };
        let renders = render_specs(&settings, &dir.join("out.wav"), None, None, true);
        Job {
            target: Target::Reference(mix.clone()),
            mix,
            settings,
            renders,
            force: false,
            measure_after: true,
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn a_cancelled_job_stops_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let job = job(dir.path());
        let cancel = AtomicBool::new(true);
        let err = job.run(&|_, _| {}, &cancel).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("mix.wav")]);
    }

    #[test]
    fn progress_follows_the_stages_in_order_and_ends_at_one() {
        let dir = tempfile::tempdir().unwrap();
        let job = job(dir.path());
        let seen = Mutex::new(Vec::<(String, f64)>::new());
        let out = job
            .run(
                &|stage, f| seen.lock().unwrap().push((stage.to_string(), f)),
                &AtomicBool::new(false),
            )
            .unwrap();
        let seen = seen.into_inner().unwrap();
        assert!(
            seen.windows(2).all(|w| w[0].1 <= w[1].1),
            "progress went back: {seen:?}"
        );
        let stages: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
        let mut order = stages.clone();
        order.dedup();
        assert_eq!(
            order,
            [
                "decoding",
                "analysing",
                "rendering",
                "writing",
                "measuring",
                "preview",
                "done"
            ],
            "{seen:?}"
        );
        assert_eq!(seen.last().unwrap().1, 1.0);
        // The loudness asked for, as measured on the written file (lathe's meter; the
        // renderer's own tolerance is 0.1 LU, the 16/24-bit write adds nothing measurable).
        let after = out.renders[0].after.as_ref().unwrap();
        assert!(
            (after.loudness.integrated_lufs + 16.0).abs() <= 0.15,
            "{} LUFS",
            after.loudness.integrated_lufs
        );
        assert!(dir.path().join("out.wav").is_file());
        assert!(dir.path().join("out.preview-master.wav").is_file());
    }
}
