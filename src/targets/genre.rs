//! Genre names the model knows, the everyday words users type for them, and resolving one to
//! the other.
//!
//! The taxonomy is small on purpose: it is what the training data (Debian's game-music
//! packages, see `datasets.md`) can support with at least ~40 minutes each. A model carries
//! its own genre list in its metadata; [`aliases`] only maps words onto those names, so a
//! retrained model with other genres still resolves its own names exactly.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One genre a model knows, with how much training data it had.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenreInfo {
    pub name: String,
    /// Words that resolve to this genre (besides its name).
    pub aliases: Vec<String>,
    /// Minutes of distinct source music the model was trained on for this genre.
    pub minutes: f64,
    pub tracks: usize,
    /// Median integrated loudness of the genre's training masters, LUFS (if the model says).
    pub master_lufs_median: Option<f64>,
    /// Median peak-to-loudness ratio of the genre's training masters, dB (if the model says).
    pub master_plr_db_median: Option<f64>,
}

/// Everyday words for the bundled model's genres. Keys are canonical genre names.
const ALIASES: &[(&str, &[&str])] = &[
    (
        "orchestral",
        &[
            "orchestra",
            "cinematic",
            "classical",
            "soundtrack",
            "score",
            "film",
            "epic",
            "symphonic",
            "trailer",
        ],
    ),
    (
        "electronic",
        &[
            "electro",
            "edm",
            "techno",
            "house",
            "trance",
            "dance",
            "dnb",
            "drum-and-bass",
            "synth",
            "synthwave",
            "idm",
            "dubstep",
            "industrial",
        ],
    ),
    (
        "ambient",
        &[
            "chill",
            "chillout",
            "drone",
            "downtempo",
            "new-age",
            "atmospheric",
            "space",
        ],
    ),
    (
        "rock-metal",
        &[
            "rock",
            "metal",
            "hard-rock",
            "heavy-metal",
            "punk",
            "grunge",
            "alternative",
            "metalcore",
            "guitar",
        ],
    ),
    (
        "chiptune",
        &[
            "chip", "8bit", "8-bit", "tracker", "retro", "bitpop", "game-boy", "nes",
        ],
    ),
];

/// Lower-cases and turns spaces, underscores and slashes into '-': "Rock/Metal" -> "rock-metal".
pub fn normalise(word: &str) -> String {
    let lowered: String = word
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '_' | '/' | '&' | '+' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    lowered
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The aliases of a canonical genre name (empty for a genre this table does not know).
pub fn aliases(genre: &str) -> Vec<String> {
    ALIASES
        .iter()
        .find(|(name, _)| *name == genre)
        .map(|(_, a)| a.iter().map(|s| (*s).to_string()).collect())
        .unwrap_or_default()
}

/// Resolves a user's word to one of `known` (a model's genre names): exact name first, then
/// an alias. Unknown words are an error listing the known genres.
pub fn resolve(word: &str, known: &[String]) -> Result<String> {
    let w = normalise(word);
    if let Some(k) = known.iter().find(|k| normalise(k) == w) {
        return Ok(k.clone());
    }
    for (name, words) in ALIASES {
        if words.iter().any(|a| *a == w) {
            if let Some(k) = known.iter().find(|k| k.as_str() == *name) {
                return Ok(k.clone());
            }
        }
    }
    Err(Error::InvalidSetting(format!(
        "unknown genre '{word}'; known genres: {} (or 'auto' to detect it)",
        known.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        [
            "orchestral",
            "electronic",
            "ambient",
            "rock-metal",
            "chiptune",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn resolves_names_and_aliases() {
        assert_eq!(resolve("Rock/Metal", &known()).unwrap(), "rock-metal");
        assert_eq!(resolve("metal", &known()).unwrap(), "rock-metal");
        assert_eq!(resolve(" ROCK ", &known()).unwrap(), "rock-metal");
        assert_eq!(resolve("Cinematic", &known()).unwrap(), "orchestral");
        assert_eq!(resolve("8-bit", &known()).unwrap(), "chiptune");
        assert_eq!(resolve("drum and bass", &known()).unwrap(), "electronic");
    }

    #[test]
    fn unknown_genre_lists_known_ones() {
        let e = resolve("polka", &known()).unwrap_err().to_string();
        assert!(
            e.contains("polka") && e.contains("orchestral, electronic"),
            "{e}"
        );
    }

    #[test]
    fn alias_of_a_genre_the_model_lacks_is_unknown() {
        let only = vec!["orchestral".to_string()];
        assert!(resolve("metal", &only).is_err());
    }
}
