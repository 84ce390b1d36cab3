//! `lathe match MIX REFERENCE -o OUT`: make a mix sound like a reference track, or like a saved
//! style profile (`lathe profile`), which is read, not decoded or analysed again.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use lathe::job::Target;

use super::common::{render_and_write, Progress, RenderArgs};

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
    // A saved style profile is read, not decoded or analysed again.
    let target = if super::profile::is_profile(&args.reference) {
        Target::Profile(args.reference.clone())
    } else {
        Target::Reference(args.reference.clone())
    };
    let job = args.render.job(&args.mix, target)?;
    let progress = Progress::new(args.render.any_json());
    let prepared = job.prepare(
        &|stage, f| progress.stage(stage, f),
        &AtomicBool::new(false),
    )?;
    render_and_write(&job, prepared, &args.render, &progress)
}
