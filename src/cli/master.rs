//! `lathe master MIX --genre GENRE|auto -o OUT`: genre-aware mastering without a reference.
//! The bundled ONNX model predicts the targets from the mix's own features; the same renderer
//! as `lathe match` reaches them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lathe::job::{load_model, Target};

use super::common::{render_and_write, Progress, RenderArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mix to master.
    pub mix: PathBuf,
    /// Genre to master for (see `lathe genres`), or `auto` to detect it from the mix.
    #[arg(long, default_value = "auto")]
    pub genre: String,
    /// Use another targets model (ONNX) instead of the bundled one.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Master toward a style profile saved by `lathe profile` instead of a genre.
    #[arg(long, value_name = "PATH.json", conflicts_with_all = ["genre", "model"])]
    pub style: Option<PathBuf>,
    #[command(flatten)]
    pub render: RenderArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(style) = &args.style {
        args.render.check_outputs(&[&args.mix, style])?;
        let job = args.render.job(&args.mix, Target::Profile(style.clone()))?;
        let progress = Progress::new(args.render.any_json());
        let prepared = job.prepare(
            &|stage, f| progress.stage(stage, f),
            &AtomicBool::new(false),
        )?;
        return render_and_write(&job, prepared, &args.render, &progress);
    }
    args.render.check_outputs(&[&args.mix])?;
    let model = load_model(args.model.as_deref())?;
    // An unknown genre is an error before any audio work.
    let genre = if args.genre.eq_ignore_ascii_case("auto") {
        None
    } else {
        let choice = model.choose_genre(&args.genre)?;
        if let (Some(note), false) = (&choice.note, super::term::quiet()) {
            eprintln!("genre: {note}");
        }
        Some(choice.genre)
    };
    let target = Target::Genre {
        model: Arc::new(model),
        genre,
    };
    let job = args.render.job(&args.mix, target)?;
    let progress = Progress::new(args.render.any_json());
    let prepared = job.prepare(
        &|stage, f| progress.stage(stage, f),
        &AtomicBool::new(false),
    )?;
    if let (Some((genre, probability, _)), false) = (&prepared.detected_genre, super::term::quiet())
    {
        progress.println(&format!(
            "genre: detected {genre} ({:.0} % sure); pass --genre to choose",
            probability * 100.0
        ));
    }
    render_and_write(&job, prepared, &args.render, &progress)
}

#[derive(Debug, clap::Args)]
pub struct GenresArgs {
    /// List the genres of this model instead of the bundled one.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
}

/// `lathe genres`: the genres the model knows, with how much data each had.
pub fn genres(args: GenresArgs) -> anyhow::Result<ExitCode> {
    let model = load_model(args.model.as_deref())?;
    println!("{:<14} {:>7} {:>8}  aliases", "genre", "tracks", "minutes");
    for g in model.genres() {
        println!(
            "{:<14} {:>7} {:>8.0}  {}",
            g.name,
            g.tracks,
            g.minutes,
            g.aliases.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
