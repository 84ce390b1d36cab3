//! `lathe analyze FILE... [--json]`: a table per file for people, one JSON object per line
//! for scripts. Files are analysed in parallel; a bad file is reported and the rest go on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;
use serde::Serialize;

use lathe::analysis::Features;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files (WAV, AIFF, FLAC, MP3, Ogg Vorbis, ALAC/AAC in MP4).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file (one per line) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The `--json` contract that scripts read. Non-finite values (silence) print as `null`.
#[derive(Serialize)]
pub struct Summary<'a> {
    file: String,
    integrated_lufs: f64,
    true_peak_dbtp: f64,
    sample_peak_dbfs: f64,
    lra_lu: f64,
    plr_db: f64,
    max_momentary_lufs: f64,
    max_short_term_lufs: f64,
    width_db: f64,
    correlation: f64,
    bandwidth_hz: f64,
    sample_rate_hz: u32,
    channels: usize,
    duration_s: f64,
    true_peak_per_channel_dbtp: &'a [f64],
    short_term_p10_lufs: f64,
    short_term_p50_lufs: f64,
    short_term_p95_lufs: f64,
    crest_db: f64,
    low_end_correlation: f64,
    clipped_samples: u64,
    dc_offset: &'a [f64],
    looks_limited: bool,
    bands: Bands<'a>,
    octaves: Octaves<'a>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct Bands<'a> {
    center_hz: &'a [f64],
    mid_db: &'a [f64],
    side_db: &'a [f64],
}

#[derive(Serialize)]
struct Octaves<'a> {
    center_hz: &'a [f64],
    crest_db: &'a [f64],
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let results: Vec<anyhow::Result<Features>> =
        args.files.par_iter().map(|p| analyze_file(p)).collect();
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for (path, result) in args.files.iter().zip(results) {
        match result {
            Ok(f) => {
                if args.json {
                    serde_json::to_writer(&mut out, &summary(path, &f))?;
                    writeln!(out)?;
                } else {
                    write_table(&mut out, path, &f)?;
                }
            }
            Err(e) => {
                failed += 1;
                out.flush()?;
                eprintln!("Error: {e:#}");
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn analyze_file(path: &Path) -> anyhow::Result<Features> {
    let audio = lathe::job::decode(path)?;
    // The summary holds no genre features: they are not measured.
    Ok(lathe::job::analyze(
        path,
        &audio,
        lathe::analysis::Detail::Mastering,
    )?)
}

/// The report's input warnings (one table of stable codes), plus silence, which the report
/// never sees because nothing is rendered from it. The report speaks of "the mix"; `analyze`
/// measures any file (often a master), so here it is "the file".
pub fn warnings(f: &Features) -> Vec<String> {
    if !f.loudness.integrated_lufs.is_finite() {
        return vec!["W_SILENCE: no audio above the -70 LUFS gate; loudness is -inf".to_string()];
    }
    lathe::report::warnings::input_warnings(f)
        .into_iter()
        .map(|w| format!("{}: {}", w.code, of_the_file(&w.message)))
        .collect()
}

fn of_the_file(message: &str) -> String {
    message
        .replace("The mix", "The file")
        .replace("the mix", "the file")
}

pub fn summary<'a>(path: &Path, f: &'a Features) -> Summary<'a> {
    Summary {
        file: path.display().to_string(),
        integrated_lufs: f.loudness.integrated_lufs,
        true_peak_dbtp: f.loudness.true_peak_dbtp,
        sample_peak_dbfs: f.loudness.sample_peak_dbfs,
        lra_lu: f.loudness.lra_lu,
        plr_db: f.loudness.plr_db,
        max_momentary_lufs: f.loudness.max_momentary_lufs,
        max_short_term_lufs: f.loudness.max_short_term_lufs,
        width_db: f.stereo.width_db,
        correlation: f.stereo.correlation,
        bandwidth_hz: f.quality.bandwidth_hz,
        sample_rate_hz: f.sample_rate_hz,
        channels: f.channels,
        duration_s: f.duration_s,
        true_peak_per_channel_dbtp: &f.loudness.true_peak_per_channel_dbtp,
        short_term_p10_lufs: f.dynamics.short_term_p10_lufs,
        short_term_p50_lufs: f.dynamics.short_term_p50_lufs,
        short_term_p95_lufs: f.dynamics.short_term_p95_lufs,
        crest_db: f.loudness.crest_db,
        low_end_correlation: f.stereo.low_end_correlation,
        clipped_samples: f.quality.clipped_samples,
        dc_offset: &f.quality.dc_offset,
        looks_limited: f.quality.looks_limited,
        bands: Bands {
            center_hz: &f.spectrum.center_hz,
            mid_db: &f.spectrum.mid_db,
            side_db: &f.spectrum.side_db,
        },
        octaves: Octaves {
            center_hz: &f.dynamics.octave_center_hz,
            crest_db: &f.dynamics.octave_crest_db,
        },
        warnings: warnings(f),
    }
}

/// Formats a level, writing `-inf` for silence.
fn lv(v: f64) -> String {
    if v.is_finite() {
        format!("{v:7.1}")
    } else {
        "   -inf".to_string()
    }
}

fn write_table(out: &mut impl Write, path: &Path, f: &Features) -> std::io::Result<()> {
    let l = &f.loudness;
    writeln!(out, "{}", path.display())?;
    writeln!(
        out,
        "  {:.2} s, {} Hz, {} channel{}",
        f.duration_s,
        f.sample_rate_hz,
        f.channels,
        if f.channels == 1 { "" } else { "s" }
    )?;
    writeln!(out, "  integrated        {} LUFS", lv(l.integrated_lufs))?;
    writeln!(out, "  max momentary     {} LUFS", lv(l.max_momentary_lufs))?;
    writeln!(
        out,
        "  max short-term    {} LUFS",
        lv(l.max_short_term_lufs)
    )?;
    writeln!(out, "  loudness range    {} LU", lv(l.lra_lu))?;
    writeln!(out, "  true peak         {} dBTP", lv(l.true_peak_dbtp))?;
    writeln!(out, "  sample peak       {} dBFS", lv(l.sample_peak_dbfs))?;
    writeln!(out, "  PLR               {} dB", lv(l.plr_db))?;
    writeln!(out, "  width (S/M)       {} dB", lv(f.stereo.width_db))?;
    writeln!(out, "  correlation       {:7.2}", f.stereo.correlation)?;
    writeln!(out, "  bandwidth         {:7.0} Hz", f.quality.bandwidth_hz)?;
    write!(out, "  bands (mid dB)   ")?;
    for (c, d) in f
        .spectrum
        .center_hz
        .iter()
        .zip(&f.spectrum.mid_db)
        .step_by(3)
    {
        write!(out, " {}:{:.0}", short_hz(*c), d)?;
    }
    writeln!(out)?;
    for w in warnings(f) {
        writeln!(out, "  warning: {w}")?;
    }
    writeln!(out)
}

fn short_hz(hz: f64) -> String {
    if hz >= 1000.0 {
        format!("{:.1}k", hz / 1000.0)
    } else {
        format!("{hz:.0}")
    }
}
