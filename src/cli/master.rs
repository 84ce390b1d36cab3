//! `lathe master MIX --genre GENRE|auto -o OUT`: genre-aware mastering without a reference.
//! The bundled ONNX model predicts the targets from the mix's own features; the same renderer
//! as `lathe match` reaches them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use lathe::targets::model::Model;

use lathe::report::provenance::InputInfo;

use super::common::{analyze, decode, provenance, render_and_write, Progress, RenderArgs};

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

/// Loads `--model PATH` or the bundled model.
pub fn load_model(path: Option<&PathBuf>) -> anyhow::Result<Model> {
    Ok(match path {
        Some(p) => Model::from_file(p)?,
        None => Model::bundled()?,
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(style) = &args.style {
        let progress = Progress::new(args.render.any_json());
        return super::match_::match_profile(&args.mix, style, &args.render, &progress);
    }
    args.render.check_outputs(&[&args.mix])?;
    let model = load_model(args.model.as_ref())?;
    // An unknown genre is an error before any audio work.
    let chosen = if args.genre.eq_ignore_ascii_case("auto") {
        None
    } else {
        let choice = model.choose_genre(&args.genre)?;
        if let (Some(note), false) = (&choice.note, super::term::quiet()) {
            eprintln!("genre: {note}");
        }
        Some(choice.genre)
    };
    let progress = Progress::new(args.render.any_json());
    progress.stage("decoding", 0.0);
    let mix = decode(&args.mix)?;
    progress.stage("analysing", 0.15);
    let features = analyze(&args.mix, &mix)?;
    // Silence has no genre: refuse it before detecting one.
    lathe::analysis::check_loud_enough(&features, "master")
        .with_context(|| format!("'{}'", args.mix.display()))?;
    // Model -> TargetRange -> resolve against this mix: the path a reference and a profile
    // take too.
    let range = match chosen {
        Some(g) => model.predict_range(&features, &g),
        None => model
            .predict_range_detected(&features)
            .map(|((genre, p, _), range)| {
                if !super::term::quiet() {
                    progress.println(&format!(
                        "genre: detected {genre} ({:.0} % sure); pass --genre to choose",
                        p * 100.0
                    ));
                }
                range
            }),
    }
    .with_context(|| format!("'{}'", args.mix.display()))?;
    let targets = range.resolve(&features);
    let m = model.metadata();
    let made = provenance(
        vec![InputInfo::of("mix", &args.mix, &mix)],
        Some(format!(
            "{} (created {}, data {})",
            m.description, m.created, m.data_fingerprint
        )),
    );
    render_and_write(
        &args.mix,
        &[&args.mix],
        &mix,
        &features,
        targets,
        &args.render,
        &made,
        &progress,
    )
}

#[derive(Debug, clap::Args)]
pub struct GenresArgs {
    /// List the genres of this model instead of the bundled one.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
}

/// `lathe genres`: the genres the model knows, with how much data each had.
pub fn genres(args: GenresArgs) -> anyhow::Result<ExitCode> {
    let model = load_model(args.model.as_ref())?;
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
