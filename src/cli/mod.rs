//! Subcommands of the `lathe` binary. Each turns validated options into library calls.

mod analyze;
mod batch;
mod common;
mod dataset;
mod master;
mod match_;
mod provenance;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// lathe: fast, transparent mastering. Matches a reference, or masters by genre, and says
/// exactly what it did.
#[derive(Debug, Parser)]
#[command(name = "lathe", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure loudness (EBU R128), true peak, tonal balance, dynamics and stereo of files.
    Analyze(analyze::Args),
    /// Master a mix to sound like a reference track (tone, loudness, dynamics, width).
    Match(match_::Args),
    /// Master a mix for a genre (or a detected one) with the bundled model: no reference needed.
    Master(master::Args),
    /// List the genres the model knows, with how much training data each had.
    Genres(master::GenresArgs),
    /// Master many files (or folders) in parallel, with one reference; --album keeps the
    /// tracks' loudness relationships.
    Batch(batch::Args),
    /// Build the genre model's training rows from a manifest of masters (see datasets.md).
    #[command(hide = true)]
    Dataset(dataset::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Match(args) => match_::run(args),
        Command::Master(args) => master::run(args),
        Command::Genres(args) => master::genres(args),
        Command::Batch(args) => batch::run(args),
        Command::Dataset(args) => dataset::run(args),
    }
}
