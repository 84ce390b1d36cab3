//! `lathe dataset MANIFEST OUT.csv` (hidden): the model's training rows, built by
//! [`lathe::dataset::build_dataset`] with the same analysis that `lathe master` runs, so
//! training and inference see identical numbers. Used by `training/run_all.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest CSV (path, genre, license, source, ...), see datasets.md.
    pub manifest: PathBuf,
    /// Output CSV: one row per (degraded mix, original master) pair.
    pub output: PathBuf,
    /// Rendered variants per track (the master itself included).
    #[arg(long, default_value_t = 3)]
    pub variants: usize,
    /// Feature-domain tonal variants per rendered variant ("no change" included).
    #[arg(long, default_value_t = 8)]
    pub tonal: usize,
    /// Longest stretch of each track analysed (its centre), seconds.
    #[arg(long, default_value_t = lathe::dataset::MAX_SECONDS)]
    pub max_seconds: f64,
    /// Seed of the random degradations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let progress = |done: usize, total: usize| {
        if done % 10 == 0 || done == total {
            eprintln!(
                "{done}/{total} tracks ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
        }
    };
    let summary = lathe::dataset::build_dataset(
        &args.manifest,
        &args.output,
        lathe::dataset::Variants {
            audio: args.variants,
            tonal: args.tonal,
            max_seconds: args.max_seconds,
        },
        args.seed,
        &progress,
    )
    .with_context(|| format!("manifest '{}'", args.manifest.display()))?;
    for (path, why) in &summary.skipped {
        eprintln!("skipped {}: {why}", path.display());
    }
    eprintln!(
        "wrote {}: {} rows from {} tracks ({} skipped) in {:.0} s",
        args.output.display(),
        summary.rows,
        summary.tracks,
        summary.skipped.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
