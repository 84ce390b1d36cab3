//! Subcommands of the `lathe` binary. Each turns validated options into library calls.

mod analyze;
mod batch;
mod common;
mod dataset;
mod json;
mod master;
mod match_;
mod profile;
mod provenance;
mod serve;
pub mod term;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// lathe: fast, transparent mastering. Matches a reference, or masters by genre, and says
/// exactly what it did.
#[derive(Debug, Parser)]
#[command(name = "lathe", version, about, long_about = None)]
pub struct Cli {
    /// Print only errors and the results asked for (`analyze`'s table, `--json`): no progress,
    /// notices, warnings or summaries.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure loudness (EBU R128), true peak, tonal balance, dynamics and stereo of files.
    Analyze(analyze::Args),
    /// Master a mix to sound like a reference track (tone, loudness, dynamics, width).
    Match(match_::Args),
    /// Master a mix for a genre (or a detected one) with the bundled model, or toward a saved
    /// style profile (--style): no reference needed.
    Master(master::Args),
    /// Measure finished tracks (one or several) and save their style as a profile for
    /// `match`, `master --style` and `batch --reference`.
    Profile(profile::Args),
    /// List the genres the model knows, with how much training data each had.
    Genres(master::GenresArgs),
    /// Master many files (or folders) in parallel, with one reference; --album keeps the
    /// tracks' loudness relationships.
    Batch(batch::Args),
    /// A local web app: drop a mix in the browser, get the master, the report and an A/B
    /// player (loopback only unless --allow-remote).
    Serve(serve::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(CompletionsArgs),
    /// Build the genre model's training rows from a manifest of masters (see datasets.md).
    #[command(hide = true)]
    Dataset(dataset::Args),
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    term::set_quiet(cli.quiet);
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Match(args) => match_::run(args),
        Command::Master(args) => master::run(args),
        Command::Profile(args) => profile::run(args),
        Command::Genres(args) => master::genres(args),
        Command::Batch(args) => batch::run(args),
        Command::Dataset(args) => dataset::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "lathe", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
