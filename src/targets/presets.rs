//! Loudness presets: integrated loudness and true-peak ceiling from the platforms' and
//! standards' published targets (the README's table cites each source).
//!
//! Streaming services turn louder masters down to their reference level (and most do not turn
//! quieter ones up), so a master at the service's level keeps all its dynamics and loses
//! nothing to normalisation; the ceiling leaves room for the service's lossy encoder, whose
//! decoded output can overshoot the original's true peak. `cd` and `club` have no published
//! target: they are lathe's choice for loud, unnormalised playback (see their docs).
//!
//! A preset sets [`Overrides`]; a user's explicit `--lufs` or `--ceiling` wins over it.

use super::blend::Overrides;
use crate::error::{Error, Result};

/// One loudness preset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preset {
    /// Name on the command line and in output file names.
    pub name: &'static str,
    /// Name for people.
    pub label: &'static str,
    pub integrated_lufs: f64,
    pub ceiling_dbtp: f64,
    /// Output sample rate the medium needs (`cd`: 44.1 kHz); `None` keeps the mix's.
    pub sample_rate_hz: Option<u32>,
    /// Output bits the medium needs (`cd`: 16, TPDF-dithered); `None` keeps lathe's default.
    pub bits: Option<u32>,
    /// Where the numbers come from.
    pub source: &'static str,
}

/// Every preset, in the order `--help` lists them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "spotify",
        label: "Spotify",
        integrated_lufs: -14.0,
        ceiling_dbtp: -1.0,
        sample_rate_hz: None,
        bits: None,
        source:
            "Spotify for Artists, 'Loudness normalization': -14 LUFS, keep masters under -1 dB \
                 true peak",
    },
    Preset {
        name: "apple",
        label: "Apple Music",
        integrated_lufs: -16.0,
        ceiling_dbtp: -1.0,
        sample_rate_hz: None,
        bits: None,
        source:
            "Sound Check's reference level as measured (Apple publishes no LUFS figure), also AES \
                 TD1008's level for track-normalised music; -1 dBTP per AES TD1008",
    },
    Preset {
        name: "youtube",
        label: "YouTube",
        integrated_lufs: -14.0,
        ceiling_dbtp: -1.0,
        sample_rate_hz: None,
        bits: None,
        source: "YouTube's reference level as its 'content loudness' shows (no published figure); \
                 -1 dBTP per AES TD1008",
    },
    Preset {
        name: "amazon",
        label: "Amazon Music",
        integrated_lufs: -14.0,
        ceiling_dbtp: -2.0,
        sample_rate_hz: None,
        bits: None,
        source:
            "Amazon Music's reference level as distributors report it (no published figure); -2 \
                 dBTP as Spotify advises for loud masters",
    },
    Preset {
        name: "tidal",
        label: "TIDAL",
        integrated_lufs: -14.0,
        ceiling_dbtp: -1.0,
        sample_rate_hz: None,
        bits: None,
        source:
            "TIDAL normalises to -14 LUFS by ITU-R BS.1770-4 (TIDAL to MeterPlugs, 2016); -1 dBTP \
                 per AES TD1008",
    },
    Preset {
        name: "deezer",
        label: "Deezer",
        integrated_lufs: -15.0,
        ceiling_dbtp: -1.0,
        sample_rate_hz: None,
        bits: None,
        source: "Deezer's reference level as distributors report it; -1 dBTP per AES TD1008",
    },
    Preset {
        name: "cd",
        label: "CD (loud)",
        integrated_lufs: -9.0,
        ceiling_dbtp: -0.3,
        sample_rate_hz: Some(44_100),
        bits: Some(16),
        source: "no published target (the Red Book, IEC 60908, sets none): lathe's choice, a \
                 loud but not crushed CD level; -0.3 dBTP keeps the player's reconstruction \
                 under full scale; 44.1 kHz 16-bit (TPDF dither), the Red Book's format",
    },
    Preset {
        name: "club",
        label: "Club / DJ",
        integrated_lufs: -8.0,
        ceiling_dbtp: -0.5,
        sample_rate_hz: None,
        bits: None,
        source: "no published target: lathe's choice for DJ play next to loud dance masters; \
                 -0.5 dBTP leaves room for the lossy files DJ stores sell",
    },
    Preset {
        name: "ebu-r128",
        label: "EBU R128 (broadcast)",
        integrated_lufs: -23.0,
        ceiling_dbtp: -1.0,
        sample_rate_hz: None,
        bits: None,
        source: "EBU R 128 (2020): programme loudness -23.0 LUFS, maximum true peak -1 dBTP",
    },
];

impl Preset {
    /// The overrides this preset sets.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            integrated_lufs: Some(self.integrated_lufs),
            ceiling_dbtp: Some(self.ceiling_dbtp),
        }
    }
}

/// All preset names, comma-separated, for messages and help.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The preset called `name` (case-insensitive; `r128` and `ebu` also name EBU R128).
pub fn find(name: &str) -> Result<&'static Preset> {
    let key = name.trim().to_ascii_lowercase();
    let key = match key.as_str() {
        "r128" | "ebu" | "ebu_r128" | "ebur128" => "ebu-r128",
        "apple-music" | "applemusic" | "itunes" => "apple",
        other => other,
    };
    PRESETS.iter().find(|p| p.name == key).ok_or_else(|| {
        Error::InvalidSetting(format!(
            "unknown preset '{name}': the presets are {}",
            names()
        ))
    })
}

/// Presets from a comma-separated list (`"spotify,apple"`), in order, without repeats. An
/// empty list or an unknown name is an error.
pub fn parse_list(list: &str) -> Result<Vec<&'static Preset>> {
    let mut out: Vec<&'static Preset> = Vec::new();
    for part in list.split(',') {
        if part.trim().is_empty() {
            continue;
        }
        let p = find(part)?;
        if !out.iter().any(|q| q.name == p.name) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidSetting(format!(
            "no preset named in '{list}': the presets are {}",
            names()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::blend::{CEILING_RANGE_DBTP, LUFS_RANGE};

    #[test]
    fn published_values() {
        let get = |n| find(n).unwrap();
        assert_eq!(get("spotify").integrated_lufs, -14.0);
        assert_eq!(get("apple").integrated_lufs, -16.0);
        assert_eq!(get("amazon").ceiling_dbtp, -2.0);
        assert_eq!(get("deezer").integrated_lufs, -15.0);
        assert_eq!(get("R128").integrated_lufs, -23.0);
        // The Red Book's format: 44.1 kHz, 16 bit.
        assert_eq!(
            (get("cd").sample_rate_hz, get("cd").bits),
            (Some(44_100), Some(16))
        );
        for p in PRESETS {
            assert!(LUFS_RANGE.contains(&p.integrated_lufs), "{}", p.name);
            assert!(CEILING_RANGE_DBTP.contains(&p.ceiling_dbtp), "{}", p.name);
            assert!(p.overrides().validate().is_ok());
        }
    }

    #[test]
    fn lists_parse_in_order_without_repeats() {
        let l = parse_list("apple, spotify,apple").unwrap();
        assert_eq!(
            l.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["apple", "spotify"]
        );
        let e = parse_list("spotify,vinyl").unwrap_err().to_string();
        assert!(e.contains("'vinyl'") && e.contains("ebu-r128"), "{e}");
        assert!(parse_list(" , ").is_err());
    }
}
