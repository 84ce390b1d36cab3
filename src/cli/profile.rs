//! `lathe profile REF... -o style.json`: measure finished tracks once and save where their
//! masters lie (per band and for loudness, PLR, short-term spread and width: the references'
//! 10th / 50th / 90th percentile, see `lathe::targets::profile`). `lathe match MIX style.json`,
//! `lathe master MIX --style style.json` and `lathe batch --reference style.json` master toward
//! it without decoding or analysing the references again.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;

use lathe::io::encode::write_text_atomically;
use lathe::job::{analyze, decode, file_name};
use lathe::targets::profile;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Finished tracks (masters) whose style to save; several are combined (per band: their
    /// median, and the 10th-90th percentile as the range).
    #[arg(required = true, value_name = "REF")]
    pub references: Vec<PathBuf>,
    /// Where to write the profile (JSON).
    #[arg(short, long, value_name = "PATH.json")]
    pub output: PathBuf,
    /// Overwrite the output if it exists (never an input).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let inputs: Vec<&Path> = args.references.iter().map(PathBuf::as_path).collect();
    lathe::io::encode::check_output(&args.output, &inputs, args.force)?;
    for (i, a) in args.references.iter().enumerate() {
        if args.references[..i].contains(a) {
            anyhow::bail!("reference '{}' is given twice", a.display());
        }
    }
    let analysed: Vec<(String, lathe::analysis::Features)> = args
        .references
        .par_iter()
        .map(|r| -> anyhow::Result<_> {
            let audio = decode(r)?;
            Ok((
                file_name(r),
                analyze(r, &audio, lathe::analysis::Detail::Mastering)?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let made = profile::from_references(&file_name(&args.output), &analysed)?;
    write_text_atomically(&args.output, &made.to_json()?)?;
    if !super::term::quiet() {
        let r = &made.range;
        println!(
            "{}: style of {} reference{}: {:.1} LUFS ({:.1}..{:.1}), PLR {:.1} dB ({:.1}..{:.1}), \
             width {:.1} dB ({:.1}..{:.1})",
            args.output.display(),
            made.references.len(),
            if made.references.len() == 1 { "" } else { "s" },
            r.integrated_lufs.centre,
            r.integrated_lufs.low,
            r.integrated_lufs.high,
            r.plr_db.centre,
            r.plr_db.low,
            r.plr_db.high,
            r.width_db.centre,
            r.width_db.low,
            r.width_db.high,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `path` names a saved profile rather than audio (see
/// [`profile::looks_like_profile`]).
pub fn is_profile(path: &Path) -> bool {
    profile::looks_like_profile(path)
}
