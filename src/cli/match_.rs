//! `lathe match MIX REFERENCE -o OUT`: make a mix sound like a reference track, or like a saved
//! style profile (`lathe profile`), which is read, not decoded or analysed again.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use lathe::targets::reference::range_from_reference;

use lathe::report::provenance::InputInfo;

use super::common::{analyze, decode, provenance, render_and_write, Progress, RenderArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The mix to master.
    pub mix: PathBuf,
    /// A finished track whose tone, loudness, dynamics and width to match, or a style profile
    /// saved by `lathe profile` (.json).
    pub reference: PathBuf,
    #[command(flatten)]
    pub render: RenderArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Refuse a clobber or a bad option before spending any time.
    args.render.check_outputs(&[&args.mix, &args.reference])?;
    let progress = Progress::new(args.render.any_json());
    if super::profile::is_profile(&args.reference) {
        return match_profile(&args.mix, &args.reference, &args.render, &progress);
    }
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

/// `lathe match MIX style.json` and `lathe master MIX --style style.json`: the profile's
/// range, resolved against the mix. The profile is read before any audio work.
pub fn match_profile(
    mix_path: &Path,
    profile: &Path,
    render: &RenderArgs,
    progress: &Progress,
) -> anyhow::Result<ExitCode> {
    render.check_outputs(&[mix_path, profile])?;
    let (range, info) = super::profile::read(profile)?;
    progress.stage("decoding", 0.0);
    let mix = decode(mix_path)?;
    progress.stage("analysing", 0.15);
    let mix_features = analyze(mix_path, &mix)?;
    let made = provenance(vec![InputInfo::of("mix", mix_path, &mix), info], None);
    let targets = range.resolve(&mix_features);
    render_and_write(
        mix_path,
        &[mix_path, profile],
        &mix,
        &mix_features,
        targets,
        render,
        &made,
        progress,
    )
}
