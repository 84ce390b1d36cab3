//! `lathe match MIX REFERENCE -o OUT`: make a mix sound like a reference track.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use lathe::targets::reference::range_from_reference;

use lathe::report::provenance::InputInfo;

use super::common::{analyze, decode, provenance, render_and_write, Progress, RenderArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mix to master.
    pub mix: PathBuf,
    /// A finished track whose tone, loudness, dynamics and width to match.
    pub reference: PathBuf,
    #[command(flatten)]
    pub render: RenderArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Refuse a clobber or a bad option before spending any time.
    args.render.check_outputs(&[&args.mix, &args.reference])?;
    let progress = Progress::new(args.render.any_json());
    progress.stage("decoding", 0.0);
    let (mix, reference) = rayon::join(|| decode(&args.mix), || decode(&args.reference));
    let (mix, reference) = (mix?, reference?);
    progress.stage("analysing", 0.15);
    lathe::timing::mark("decoded");
    let (mix_features, ref_features) = rayon::join(
        || analyze(&args.mix, &mix),
        || analyze(&args.reference, &reference),
    );
    let (mix_features, ref_features) = (mix_features?, ref_features?);
    let made = provenance(
        vec![
            InputInfo::of("mix", &args.mix, &mix),
            InputInfo::of("reference", &args.reference, &reference),
        ],
        None,
    );
    drop(reference);
    lathe::timing::mark("analysed");
    let name = args.reference.file_name().map_or_else(
        || args.reference.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    // A reference is a point range: resolving it gives exactly its targets.
    let targets = range_from_reference(&ref_features, &name)
        .with_context(|| format!("reference '{}'", args.reference.display()))?
        .resolve(&mix_features);
    render_and_write(
        &args.mix,
        &[&args.mix, &args.reference],
        &mix,
        &mix_features,
        targets,
        &args.render,
        &made,
        &progress,
    )
}
