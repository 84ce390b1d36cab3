//! How a report was made, for whoever receives the master: the command line, every setting
//! with its value as used (defaults included), the input files' format and rate, the output
//! format, lathe's and the model's versions, and the date. The caller (the CLI, the job API)
//! fills a [`Provenance`]; nothing here reads the environment except [`date_utc_now`].

use std::path::Path;

use serde::Serialize;

use crate::audio::AudioBuffer;
use crate::io::encode::{Container, OutputFormat, SampleFormat};

/// How a report was made.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Provenance {
    /// The command line, one argument per item, as given.
    pub command_line: Vec<String>,
    /// Every setting of the command, as used: options given and defaults.
    pub settings: Vec<Setting>,
    /// The files read: the mix, and the reference if any.
    pub inputs: Vec<InputInfo>,
    /// The output's format as written (container, sample format, dither, rate).
    pub output_format: String,
    /// The targets model, when it made the targets (name, date, data fingerprint).
    pub model_version: Option<String>,
    /// When the report was made, UTC, ISO 8601 (see [`date_utc_now`]).
    pub date_utc: String,
}

/// One setting: its option name (`--amount`), its value as text, and whether it was given.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    pub name: String,
    pub value: String,
    /// `true` when given on the command line (or by the caller), `false` for a default.
    pub given: bool,
}

/// An input file as decoded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputInfo {
    /// `mix` or `reference`.
    pub role: String,
    /// File name (not the path: a report stays shareable).
    pub name: String,
    /// Container/codec as named by the file's extension, e.g. `FLAC`.
    pub format: String,
    /// 0 for an input that is not audio (a style profile): left out of the JSON.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub sample_rate_hz: u32,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub channels: usize,
    pub duration_s: f64,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

impl InputInfo {
    /// The description of `audio` decoded from `path`.
    pub fn of(role: &str, path: &Path, audio: &AudioBuffer) -> Self {
        Self {
            role: role.to_string(),
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            format: path
                .extension()
                .map_or_else(|| "?".to_string(), |e| e.to_string_lossy().to_uppercase()),
            sample_rate_hz: audio.sample_rate_hz,
            channels: audio.num_channels(),
            duration_s: audio.duration_s(),
        }
    }
}

/// The output format in words: container, sample format, dither, rate.
pub fn describe_format(format: OutputFormat, sample_rate_hz: u32, dither_seed: u64) -> String {
    let container = match format.container {
        Container::Wav => "WAV",
        Container::Flac => "FLAC",
    };
    let sample = match format.sample_format {
        SampleFormat::Int16 => {
            format!("16-bit integer, TPDF dither (seed {dither_seed:#x})")
        }
        SampleFormat::Int24 => "24-bit integer, rounded (no dither)".to_string(),
        SampleFormat::Float32 => "32-bit float".to_string(),
    };
    format!("{container}, {sample}, {sample_rate_hz} Hz")
}

/// The current date and time, UTC, as `YYYY-MM-DDTHH:MM:SSZ`; `SOURCE_DATE_EPOCH` (seconds,
/// the reproducible-builds convention) replaces the clock when set, so an example report can
/// be made again byte for byte.
pub fn date_utc_now() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    format_utc(secs)
}

/// Seconds since 1970-01-01 UTC as ISO 8601 (proleptic Gregorian; H. Hinnant's
/// `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>).
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `args` joined as a shell would read them back (POSIX single quotes where needed).
pub fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.
        assert_eq!(format_utc(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(format_utc(1_764_547_200), "2025-12-01T00:00:00Z");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn quotes_what_a_shell_would_split() {
        let args = ["lathe", "match", "my mix.wav", "it's.flac", "-o", "a.wav"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            shell_join(&args),
            "lathe match 'my mix.wav' 'it'\\''s.flac' -o a.wav"
        );
    }
}
