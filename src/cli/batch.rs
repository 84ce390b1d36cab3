//! `lathe batch INPUTS... --out-dir DIR (--reference R | --genre G|auto) [--album] [-j N]`:
//! master many files at once, matched to one reference or by the genre model (as
//! `lathe master` does, per file).
//!
//! - Inputs are files or folders (a folder's audio files, not its subfolders, by name).
//! - Files are processed in parallel (rayon, `-j N` at a time); each render is the same as
//!   `lathe match` would make for that file (the renderer is deterministic).
//! - On a terminal: a progress bar per file plus a total (indicatif); nothing when not.
//! - A file that fails is reported (stderr, and in the summary table) and the rest go on; the
//!   exit code is 1 if any file failed.
//! - `--album`: the tracks keep their loudness relationships. Every track is analysed first;
//!   the loudest (integrated loudness of the mix) gets the target loudness, and every other
//!   track the target plus its distance to the loudest: one album gain, not per-track
//!   normalisation, so a quiet ballad stays quieter than the single by the same amount.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lathe::analysis::Features;
use lathe::job::{
    self, analyze, decode, eq_export_paths, file_name, load_model, preview_paths, with_tag,
    JobSettings, Mastered, OutputPaths, RenderSpec, Target,
};
use lathe::report::provenance::InputInfo;
use lathe::report::warnings::all_warnings;

use super::common::{provenance, ToneArgs};

/// Extensions a folder's files are taken by (any case).
const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "aif", "aiff", "aifc", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "caf", "mkv",
    "mka", "webm", "w64", "rf64",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Wav,
    Flac,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Flac => "flac",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files, or folders of audio files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Folder for the outputs (created if missing): DIR/STEM.EXT, or DIR/STEM.PRESET.EXT with
    /// several presets.
    #[arg(long, short = 'd', value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Match every file to this reference track, or to a style profile saved by `lathe profile`.
    #[arg(long, value_name = "FILE", conflicts_with = "genre")]
    pub reference: Option<PathBuf>,
    /// Master every file for this genre with the genre model (`auto`: detect each file's
    /// genre; see `lathe genres`).
    #[arg(long, value_name = "GENRE")]
    pub genre: Option<String>,
    /// With --genre: use this targets model (ONNX) instead of the bundled one.
    #[arg(long, value_name = "PATH", requires = "genre")]
    pub model: Option<PathBuf>,
    /// Album: keep the tracks' loudness relationships (one album gain; the loudest track
    /// reaches the target loudness).
    #[arg(long)]
    pub album: bool,
    /// Files processed at the same time (default: the number of CPUs).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Output file format.
    #[arg(long, value_enum, default_value = "wav")]
    pub format: Format,
    #[command(flatten)]
    pub tone: ToneArgs,
    /// Write an engineer's report per output: STEM.report.html and STEM.report.json.
    #[arg(long)]
    pub report: bool,
    /// Write an A/B preview per output: STEM.preview-mix.EXT and STEM.preview-master.EXT.
    #[arg(long)]
    pub preview: bool,
    /// Overwrite outputs that exist (never an input).
    #[arg(long)]
    pub force: bool,
}

/// One input and the renders it gets.
struct Plan {
    input: PathBuf,
    jobs: Vec<RenderSpec>,
}

/// One line of the summary: one output, or one failure.
struct Row {
    input: PathBuf,
    preset: Option<&'static str>,
    output: PathBuf,
    result: Result<Done, String>,
}

struct Done {
    before_lufs: f64,
    after_lufs: f64,
    true_peak_dbtp: f64,
    warnings: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.tone.validate()?;
    if args.reference.is_none() && args.genre.is_none() {
        anyhow::bail!("batch needs targets: --reference FILE or --genre GENRE (or auto)");
    }
    // A bad model or an unknown genre is an error before any audio work.
    let model = match &args.genre {
        Some(g) => {
            let model = load_model(args.model.as_deref())?;
            let genre = if g.eq_ignore_ascii_case("auto") {
                None
            } else {
                let choice = model.choose_genre(g)?;
                if let (Some(note), false) = (&choice.note, super::term::quiet()) {
                    eprintln!("genre: {note}");
                }
                Some(choice.genre)
            };
            Some((model, genre))
        }
        None => None,
    };
    if args.jobs == Some(0) {
        anyhow::bail!("-j 0: at least one file must be processed at a time");
    }
    let files = expand_inputs(&args.inputs)?;
    if files.is_empty() {
        anyhow::bail!("no audio files found in the inputs");
    }
    fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create '{}'", args.out_dir.display()))?;
    let plans = plan(&args, &files)?;
    let mut inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    if let Some(r) = &args.reference {
        inputs.push(r);
    }
    let all_jobs: Vec<RenderSpec> = plans.iter().flat_map(|p| p.jobs.clone()).collect();
    job::check_outputs(&all_jobs, &inputs, args.force)?;
    let settings = args.tone.job_settings()?;

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = worker_count(args.jobs, all_jobs.len(), cpus);
    if args.jobs.is_some_and(|j| j != threads) {
        eprintln!(
            "batch: {threads} worker{} (-j {} capped at the {} output{} and {MAX_WORKERS_PER_CPU} per CPU)",
            if threads == 1 { "" } else { "s" },
            args.jobs.unwrap_or(0),
            all_jobs.len(),
            if all_jobs.len() == 1 { "" } else { "s" },
        );
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the worker threads")?;

    let bars = Bars::new(&plans, args.album);
    let spec = match (&args.reference, model) {
        (Some(r), _) => {
            bars.message("analysing the reference");
            let range = pool.install(|| {
                if super::profile::is_profile(r) {
                    job::read_profile(r).map(|(range, _)| range)
                } else {
                    job::reference_range(r)
                }
            })?;
            Target::Range(Box::new(range))
        }
        (None, Some((model, genre))) => Target::Genre {
            model: Arc::new(model),
            genre,
        },
        (None, None) => anyhow::bail!("batch needs targets: --reference FILE or --genre GENRE"),
    };

    bars.message(if args.album {
        "album: analysing, then mastering"
    } else {
        "mastering"
    });
    let rows: Vec<Row> = pool.install(|| {
        if args.album {
            album(&settings, &plans, &spec, &bars)
        } else {
            plans
                .par_iter()
                .enumerate()
                .flat_map_iter(|(i, p)| single(&settings, p, i, &spec, &bars, None, None))
                .collect()
        }
    });
    bars.finish();
    if !super::term::quiet() {
        print_summary(&rows)?;
    }
    Ok(if rows.iter().any(|r| r.result.is_err()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Most worker threads per CPU `-j` may ask for: a few per CPU keep the CPUs busy while some
/// workers wait for the disk; thousands only cost memory and start-up time.
const MAX_WORKERS_PER_CPU: usize = 4;

/// Worker threads for `-j requested` (default: one per CPU) over `outputs` outputs: never
/// more than the outputs (the renderer's own parallel stages run on the same threads, so one
/// output still uses every CPU when `-j` is not given), nor more than
/// [`MAX_WORKERS_PER_CPU`] per CPU; at least one.
fn worker_count(requested: Option<usize>, outputs: usize, cpus: usize) -> usize {
    let cap = (MAX_WORKERS_PER_CPU * cpus.max(1)).max(1);
    match requested {
        Some(j) => j.min(outputs.max(1)).min(cap).max(1),
        None => cpus.max(1),
    }
}

/// Files named, and the audio files of folders named (sorted by name), without repeats.
fn expand_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = fs::read_dir(input)
                .with_context(|| format!("cannot read the folder '{}'", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && has_audio_extension(p))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    Ok(files)
}

fn has_audio_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Output names for every input; two inputs that would write the same file are an error.
fn plan(args: &Args, files: &[PathBuf]) -> anyhow::Result<Vec<Plan>> {
    let presets = args.tone.presets()?;
    let several = presets.len() > 1;
    let mut owners: HashMap<PathBuf, &Path> = HashMap::new();
    let mut plans = Vec::new();
    for input in files {
        let stem = input
            .file_stem()
            .map_or_else(|| "output".into(), |s| s.to_string_lossy().into_owned());
        let base = args
            .out_dir
            .join(format!("{stem}.{}", args.format.extension()));
        if let Some(other) = owners.insert(base.clone(), input) {
            anyhow::bail!(
                "'{}' and '{}' would both write '{}': rename one or run them separately",
                other.display(),
                input.display(),
                base.display()
            );
        }
        let jobs = presets
            .iter()
            .map(|&preset| {
                let output = match preset {
                    Some(p) if several => with_tag(&base, p.name),
                    _ => base.clone(),
                };
                let report_base = with_tag(&output, "report");
                RenderSpec {
                    preset,
                    paths: OutputPaths {
                        report_html: args.report.then(|| report_base.with_extension("html")),
                        report_json: args.report.then(|| report_base.with_extension("json")),
                        preview: args.preview.then(|| preview_paths(&output)),
                        eq_exports: args
                            .report
                            .then(|| eq_export_paths(&report_base.with_extension("html"))),
                        output,
                    },
                    album_offset_lu: None,
                }
            })
            .collect();
        plans.push(Plan {
            input: input.clone(),
            jobs,
        });
    }
    Ok(plans)
}

/// Reports a file that failed (its bar, the error line, the total) and gives one failed row
/// per job.
fn failed(plan: &Plan, index: usize, bars: &Bars, e: &lathe::Error) -> Vec<Row> {
    let msg = e.chain();
    bars.error(&msg);
    bars.files[index].abandon_with_message("failed");
    bars.total.inc(1);
    plan.jobs
        .iter()
        .map(|j| Row {
            input: plan.input.clone(),
            preset: j.preset.map(|p| p.name),
            output: j.paths.output.clone(),
            result: Err(msg.clone()),
        })
        .collect()
}

/// Decodes, analyses and renders one file (every preset); `features` is reused from the album
/// pass when given. Returns one row per job.
fn single(
    settings: &JobSettings,
    plan: &Plan,
    index: usize,
    spec: &Target,
    bars: &Bars,
    features: Option<&Features>,
    album_offset_lu: Option<f64>,
) -> Vec<Row> {
    let bar = &bars.files[index];
    let fail = |e: lathe::Error| failed(plan, index, bars, &e);
    bar.set_message("decoding");
    let audio = match decode(&plan.input) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let owned;
    let features = match features {
        Some(f) => f,
        None => {
            bar.set_message("analysing");
            bar.set_position(100);
            match analyze(&plan.input, &audio, spec.detail()) {
                Ok(f) => {
                    owned = f;
                    &owned
                }
                Err(e) => return fail(e),
            }
        }
    };
    let range = match spec.range(&plan.input, features) {
        Ok((r, _)) => r,
        Err(e) => return fail(e),
    };
    let targets = range.resolve(features);
    let n = plan.jobs.len() as f64;
    let made = provenance(
        vec![InputInfo::of("mix", &plan.input, &audio)],
        spec.model_version(),
    );
    let cancel = AtomicBool::new(false);
    let mut rows = Vec::new();
    // The last render takes the decoded mix, to free it as early as it can (memory: `-j N`
    // holds N mixes).
    let mut audio = Some(audio);
    for (k, job) in plan.jobs.iter().enumerate() {
        let job = RenderSpec {
            album_offset_lu,
            ..job.clone()
        };
        let mix = match (k + 1 == plan.jobs.len(), audio.as_ref()) {
            (false, Some(a)) => Cow::Borrowed(a),
            _ => Cow::Owned(audio.take().expect("taken by the last render only")),
        };
        let result = job::render_one(
            &plan.input,
            mix,
            features,
            &targets,
            Some(&range),
            settings,
            &job,
            true,
            &made,
            &|stage, f| {
                bar.set_message(stage.to_string());
                bar.set_position((150.0 + 850.0 * (k as f64 + f) / n) as u64);
            },
            &cancel,
        );
        match result {
            Ok(m) => {
                if !super::term::quiet() {
                    let colour = super::term::stderr_colour();
                    let about = file_name(&job.paths.output);
                    for w in all_warnings(features, &m.targets, &m.log) {
                        let line =
                            super::term::warning_line(Some(&about), &w.code, &w.message, colour);
                        bars.println(&line);
                    }
                }
                rows.push(done_row(plan, &job, features, &m));
            }
            Err(e) => {
                let mut failed = fail(e);
                // `fail` made a row per job; keep the ones for this job only.
                failed.retain(|r| r.output == job.paths.output);
                rows.extend(failed);
                return rows;
            }
        }
    }
    bar.finish_with_message("done");
    bars.total.inc(1);
    rows
}

fn done_row(plan: &Plan, job: &RenderSpec, before: &Features, m: &Mastered) -> Row {
    let after_lufs = m
        .after
        .as_ref()
        .map_or(m.log.loudness.achieved_integrated_lufs, |a| {
            a.loudness.integrated_lufs
        });
    let true_peak_dbtp = m
        .after
        .as_ref()
        .map_or(m.log.loudness.achieved_true_peak_dbtp, |a| {
            a.loudness.true_peak_dbtp
        });
    Row {
        input: plan.input.clone(),
        preset: job.preset.map(|p| p.name),
        output: job.paths.output.clone(),
        result: Ok(Done {
            before_lufs: before.loudness.integrated_lufs,
            after_lufs,
            true_peak_dbtp,
            warnings: m.log.warnings.len(),
        }),
    }
}

/// Album mode: analyse every track, then render each with the album offset.
fn album(settings: &JobSettings, plans: &[Plan], spec: &Target, bars: &Bars) -> Vec<Row> {
    let analysed: Vec<lathe::Result<Features>> = plans
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let bar = &bars.files[i];
            bar.set_message("album: analysing");
            let audio = decode(&p.input)?;
            bar.set_position(50);
            let f = analyze(&p.input, &audio, spec.detail())?;
            bar.set_position(100);
            bar.set_message("album: waiting");
            Ok(f)
        })
        .collect();
    let loudest = analysed
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|f| f.loudness.integrated_lufs)
        .filter(|l| l.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    plans
        .par_iter()
        .zip(analysed.par_iter())
        .enumerate()
        .flat_map_iter(|(i, (p, a))| match a {
            Ok(f) => {
                let offset = if loudest.is_finite() && f.loudness.integrated_lufs.is_finite() {
                    Some(f.loudness.integrated_lufs - loudest)
                } else {
                    None
                };
                single(settings, p, i, spec, bars, Some(f), offset)
            }
            Err(e) => failed(p, i, bars, e),
        })
        .collect()
}

/// A bar per file and a total, on a terminal; hidden otherwise.
struct Bars {
    multi: MultiProgress,
    files: Vec<ProgressBar>,
    total: ProgressBar,
}

impl Bars {
    fn new(plans: &[Plan], album: bool) -> Self {
        let multi = if super::term::progress_visible() {
            MultiProgress::new()
        } else {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        };
        // Fit the terminal: the name and stage columns take what they need up to a third of
        // the width, the bar (`wide_bar`) the rest, so 80 columns never wrap.
        let columns = usize::from(console::Term::stderr().size().1).max(40);
        let name_w = (columns / 3).clamp(8, 28);
        let msg_w = 16.min(columns / 4);
        let template = |tail: &str| {
            ProgressStyle::with_template(&format!(
                "{{prefix:<{name_w}!}} {{msg:<{msg_w}!}} [{{wide_bar}}] {tail}"
            ))
            .expect("the template is well formed")
            .progress_chars("=> ")
        };
        let style = template("{percent:>3}%");
        let total_style = template("{pos}/{len}");
        let files = plans
            .iter()
            .map(|p| {
                let bar = multi.add(ProgressBar::new(1000));
                bar.set_style(style.clone());
                bar.set_prefix(file_name(&p.input));
                bar.set_message("waiting");
                bar
            })
            .collect();
        let total = multi.add(ProgressBar::new(plans.len() as u64));
        total.set_style(total_style);
        total.set_prefix(if album { "album" } else { "total" });
        total.enable_steady_tick(Duration::from_millis(200));
        Self {
            multi,
            files,
            total,
        }
    }

    fn message(&self, msg: &str) {
        self.total.set_message(msg.to_string());
    }

    /// Prints a line on stderr above the bars, through their own println so no bar breaks
    /// (plainly when they are hidden).
    fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    /// Prints an error above the bars: the one place a file's error is told in full.
    fn error(&self, msg: &str) {
        self.println(&format!("Error: {msg}"));
    }

    fn finish(&self) {
        self.total.finish_and_clear();
        for b in &self.files {
            b.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

fn print_summary(rows: &[Row]) -> std::io::Result<()> {
    let name = |r: &Row| file_name(&r.input);
    let w = rows.iter().map(|r| name(r).len()).max().unwrap_or(4).max(4);
    let with_preset = rows.iter().any(|r| r.preset.is_some());
    let mut out = std::io::stdout().lock();
    let preset_col = |p: Option<&str>| {
        if with_preset {
            format!("{:<10} ", p.unwrap_or("-"))
        } else {
            String::new()
        }
    };
    writeln!(
        out,
        "{:<w$} {}{:<6} {:>10} {:>10} {:>10}  output / error",
        "file",
        preset_col(Some("preset")),
        "result",
        "mix LUFS",
        "out LUFS",
        "peak dBTP",
    )?;
    for r in rows {
        match &r.result {
            Ok(d) => writeln!(
                out,
                "{:<w$} {}{:<6} {:>10.1} {:>10.1} {:>10.2}  {}{}",
                name(r),
                preset_col(r.preset),
                "ok",
                d.before_lufs,
                d.after_lufs,
                d.true_peak_dbtp,
                r.output.display(),
                if d.warnings > 0 {
                    format!(
                        " ({} warning{})",
                        d.warnings,
                        if d.warnings == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            )?,
            // The error itself was printed once, on stderr, when it happened.
            Err(_) => writeln!(
                out,
                "{:<w$} {}{:<6} {:>10} {:>10} {:>10}  (the error is above)",
                name(r),
                preset_col(r.preset),
                "FAILED",
                "-",
                "-",
                "-",
            )?,
        }
    }
    let failed = rows.iter().filter(|r| r.result.is_err()).count();
    writeln!(
        out,
        "{} of {} output{} written, {failed} failed.",
        rows.len() - failed,
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_are_capped_at_the_outputs_and_per_cpu() {
        assert_eq!(worker_count(Some(100_000), 1, 2), 1);
        assert_eq!(worker_count(Some(100_000), 50, 2), 2 * MAX_WORKERS_PER_CPU);
        assert_eq!(worker_count(Some(3), 50, 2), 3);
        assert_eq!(worker_count(Some(5), 2, 8), 2);
        assert_eq!(worker_count(None, 1, 6), 6);
        assert_eq!(worker_count(Some(1), 0, 1), 1);
    }
}
