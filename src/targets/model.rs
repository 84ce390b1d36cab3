//! Target ranges predicted by lathe's ONNX model from the mix's own [`Features`] and a genre.
//!
//! # The contract between Rust and the training scripts
//!
//! The model is one ONNX graph (IR 8, opset 17) with two float inputs and four outputs:
//!
//! - `features` `[N, input_names().len()]`: [`input_vector`] of the mix (the table [`INPUTS`]);
//! - `genre` `[N, genres]`: one-hot genre (all zeros when only the classifier is wanted);
//! - `targets_low`, `targets`, `targets_high` `[N, output_names().len()]`: the 10th
//!   percentile, median and 90th percentile of where a master of this mix and genre lies, for
//!   every output of the table [`OUTPUTS`]: mid and side band curves (third-octave level minus
//!   integrated loudness, exactly [`crate::analysis::Spectrum::mid_norm_db`]), integrated
//!   loudness, PLR, short-term loudness spread (p95 - p10) and side/mid width. The graph
//!   builds low and high as the median minus and plus a softplus, so they never cross it;
//! - `genre_probabilities` `[N, genres]`: the genre classifier's softmax.
//!
//! The training set is written by [`crate::dataset`] with these same functions
//! ([`input_vector`] for the degraded mix, [`target_vector`] for the original master), so
//! training and inference see identical numbers.
//!
//! Metadata travels inside the ONNX file (`metadata_props`, read here with a small protobuf
//! reader because the tract backend does not expose it): `lathe.features_schema_version`,
//! `lathe.input_names`, `lathe.output_names`, `lathe.quantiles`, `lathe.genres` (JSON with
//! minutes and tracks),
//! `lathe.band_centers_hz`, `lathe.data_fingerprint`, `lathe.created`. A model whose schema or
//! inputs differ from this build's is refused with [`Error::Model`].
//!
//! # Input conventions
//!
//! Every input is clamped to the range its [`INPUTS`] entry gives: the analysis floors
//! silent bands at -150 dB and silence at `-inf` LUFS, and a network should never see those.
//! Bands above the mix's measured bandwidth are passed as measured (clamped, usually at the
//! -100 dB floor) together with the bandwidth itself (`log2_bandwidth_khz`), so the network
//! knows which bands carry no content; the renderer never boosts above the mix's bandwidth.
//!
//! Inference runs on `ort` with its pure-Rust tract backend (no native ONNX Runtime needed).

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use crate::analysis::{Features, Rhythm, Texture, FEATURES_SCHEMA_VERSION};
use crate::error::{Error, Result};
use crate::targets::genre::{self, GenreInfo};
use crate::targets::{Range, TargetRange, TargetSource};

/// Third-octave bands in the spectrum (IEC 61260 base-10, k = -17..=13: 20 Hz..20 kHz).
pub const BANDS: usize = 31;
/// Octave bands in `Dynamics::octave_crest_db` (31.5 Hz .. 16 kHz).
pub const OCTAVES: usize = 10;
/// Registers of the texture features (low, middle, high).
const REGISTERS: usize = 3;
/// Modulation-spectrum values: (all octaves + 3 registers) x 5 rates.
const MODULATION: usize = 4 * crate::analysis::texture::MODULATION_HZ.len();
/// Periodicity lag ranges.
const PERIODICITY: usize = crate::analysis::texture::PERIODICITY_LAGS_S.len();
/// Band levels relative to integrated loudness are clamped to this floor, dB.
pub const BAND_FLOOR_DB: f64 = -100.0;
/// The model embedded in the binary (`models/lathe-genre-targets.onnx`).
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../../models/lathe-genre-targets.onnx");
/// Crossover used for mono bass when the predicted low end is nearly mono, Hz.
pub const MONO_BASS_HZ: f64 = 120.0;
/// Predicted side/mid energy below [`MONO_BASS_HZ`] under this means "keep the bass mono", dB.
/// At -20 dB the master's bass is practically mono already (true of 11 % of the training
/// masters; their median is -8 dB), so folding it to mono costs nothing audible and removes
/// phasey low end from the mix.
pub const MONO_BASS_WIDTH_DB: f64 = -20.0;
/// Default true-peak ceiling of model targets, dBTP.
pub const DEFAULT_CEILING_DBTP: f64 = -1.0;

/// How one entry of the model's input or output table reads [`Features`].
#[derive(Clone, Copy)]
pub enum Read {
    /// One value.
    Scalar(fn(&Features) -> f64),
    /// `len` values, named `<name>_00`, `<name>_01`, ...; a missing element reads the low bound.
    Vector(usize, fn(&Features) -> &[f64]),
}

/// One entry of a model table: a name, the range its values are clamped to, how to read it.
#[derive(Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub low: f64,
    pub high: f64,
    pub read: Read,
}

/// Stand-ins for genre features an analysis left out ([`crate::analysis::Detail::Mastering`]):
/// [`input_vector`] reads zeros and low bounds from them, and [`Model::run`] refuses such a mix,
/// so the network never sees them.
static NO_RHYTHM: Rhythm = Rhythm {
    onset_rate_hz: 0.0,
    spectral_flux_db: 0.0,
    tempo_strength: 0.0,
    tempo_bpm: 0.0,
    octave_level_std_db: Vec::new(),
    spectral_contrast_db: Vec::new(),
};
static NO_TEXTURE: Texture = Texture {
    frame_contrast_db: Vec::new(),
    frame_contrast_std_db: Vec::new(),
    flatness_db: Vec::new(),
    relative_level_std_db: Vec::new(),
    centroid_std_oct: 0.0,
    centroid_change_oct: 0.0,
    shape_change_db: 0.0,
    shape_change_1s_db: 0.0,
    level_change_1s_db: 0.0,
    tempo_strength_bands: Vec::new(),
    flux_bands_db: Vec::new(),
    modulation_db: Vec::new(),
    periodicity: Vec::new(),
    chroma_peak: 0.0,
    chroma_entropy: 0.0,
    chroma_frame_entropy: 0.0,
    chroma_change: 0.0,
};

fn rhythm(f: &Features) -> &Rhythm {
    f.rhythm.as_ref().unwrap_or(&NO_RHYTHM)
}

fn texture(f: &Features) -> &Texture {
    f.texture.as_ref().unwrap_or(&NO_TEXTURE)
}

/// Value relative to the integrated loudness; silence (-inf - -inf) reads NaN (the floor).
fn rel(f: &Features, x: f64) -> f64 {
    let i = f.loudness.integrated_lufs;
    if i.is_finite() {
        x - i
    } else {
        f64::NAN
    }
}

fn log2_bandwidth_khz(f: &Features) -> f64 {
    let khz = f.quality.bandwidth_hz / 1000.0;
    if khz > 0.0 {
        khz.log2()
    } else {
        f64::NAN
    }
}

/// THE table of model inputs (the columns `x_<name>` of the dataset, in order): names,
/// clamp ranges and values all come from here, and the training scripts read the names from
/// the dataset header and the model's metadata. Changing it means bumping
/// [`FEATURES_SCHEMA_VERSION`] and retraining.
///
/// Clamping: the analysis floors silent bands at -150 dB and silence at `-inf` LUFS; a network
/// should never see those. NaN and `-inf` read the low bound, `+inf` the high one.
pub const INPUTS: &[Column] = &[
    Column {
        name: "mid_norm_db",
        low: BAND_FLOOR_DB,
        high: 20.0,
        read: Read::Vector(BANDS, |f| &f.spectrum.mid_norm_db),
    },
    Column {
        name: "side_norm_db",
        low: BAND_FLOOR_DB,
        high: 20.0,
        read: Read::Vector(BANDS, |f| &f.spectrum.side_norm_db),
    },
    Column {
        name: "integrated_lufs",
        low: -70.0,
        high: 5.0,
        read: Read::Scalar(|f| f.loudness.integrated_lufs),
    },
    Column {
        name: "plr_db",
        low: 0.0,
        high: 40.0,
        read: Read::Scalar(|f| f.loudness.plr_db),
    },
    Column {
        name: "lra_lu",
        low: 0.0,
        high: 40.0,
        read: Read::Scalar(|f| f.loudness.lra_lu),
    },
    Column {
        name: "crest_db",
        low: 0.0,
        high: 40.0,
        read: Read::Scalar(|f| f.loudness.crest_db),
    },
    Column {
        name: "true_peak_dbtp",
        low: -60.0,
        high: 12.0,
        read: Read::Scalar(|f| f.loudness.true_peak_dbtp),
    },
    Column {
        name: "short_term_p10_rel_lu",
        low: -40.0,
        high: 20.0,
        read: Read::Scalar(|f| rel(f, f.dynamics.short_term_p10_lufs)),
    },
    Column {
        name: "short_term_p50_rel_lu",
        low: -40.0,
        high: 20.0,
        read: Read::Scalar(|f| rel(f, f.dynamics.short_term_p50_lufs)),
    },
    Column {
        name: "short_term_p95_rel_lu",
        low: -40.0,
        high: 20.0,
        read: Read::Scalar(|f| rel(f, f.dynamics.short_term_p95_lufs)),
    },
    Column {
        name: "max_short_term_rel_lu",
        low: -10.0,
        high: 30.0,
        read: Read::Scalar(|f| rel(f, f.loudness.max_short_term_lufs)),
    },
    Column {
        name: "max_momentary_rel_lu",
        low: -10.0,
        high: 30.0,
        read: Read::Scalar(|f| rel(f, f.loudness.max_momentary_lufs)),
    },
    Column {
        name: "octave_crest_db",
        low: 0.0,
        high: 40.0,
        read: Read::Vector(OCTAVES, |f| &f.dynamics.octave_crest_db),
    },
    Column {
        name: "width_db",
        low: -60.0,
        high: 10.0,
        read: Read::Scalar(|f| f.stereo.width_db),
    },
    Column {
        name: "correlation",
        low: -1.0,
        high: 1.0,
        read: Read::Scalar(|f| f.stereo.correlation),
    },
    Column {
        name: "low_end_correlation",
        low: -1.0,
        high: 1.0,
        read: Read::Scalar(|f| f.stereo.low_end_correlation),
    },
    Column {
        name: "low_end_mono_loss_db",
        low: -40.0,
        high: 6.0,
        read: Read::Scalar(|f| f.stereo.low_end_mono_loss_db),
    },
    Column {
        name: "log2_bandwidth_khz",
        low: -3.0,
        high: 4.5,
        read: Read::Scalar(log2_bandwidth_khz),
    },
    Column {
        name: "looks_limited",
        low: 0.0,
        high: 1.0,
        read: Read::Scalar(|f| f64::from(u8::from(f.quality.looks_limited))),
    },
    // Genre features (schema 2, `analysis::rhythm`).
    Column {
        name: "onset_rate_hz",
        low: 0.0,
        high: 20.0,
        read: Read::Scalar(|f| rhythm(f).onset_rate_hz),
    },
    Column {
        name: "spectral_flux_db",
        low: 0.0,
        high: 20.0,
        read: Read::Scalar(|f| rhythm(f).spectral_flux_db),
    },
    Column {
        name: "tempo_strength",
        low: 0.0,
        high: 1.0,
        read: Read::Scalar(|f| rhythm(f).tempo_strength),
    },
    Column {
        name: "octave_level_std_db",
        low: 0.0,
        high: 40.0,
        read: Read::Vector(OCTAVES, |f| &rhythm(f).octave_level_std_db),
    },
    Column {
        name: "spectral_contrast_db",
        low: 0.0,
        high: 60.0,
        read: Read::Vector(OCTAVES, |f| &rhythm(f).spectral_contrast_db),
    },
    // Genre features (schema 3, `analysis::texture`).
    Column {
        name: "frame_contrast_db",
        low: 0.0,
        high: 100.0,
        read: Read::Vector(OCTAVES, |f| &texture(f).frame_contrast_db),
    },
    Column {
        name: "frame_contrast_std_db",
        low: 0.0,
        high: 40.0,
        read: Read::Vector(OCTAVES, |f| &texture(f).frame_contrast_std_db),
    },
    Column {
        name: "flatness_db",
        low: -100.0,
        high: 0.0,
        read: Read::Vector(OCTAVES, |f| &texture(f).flatness_db),
    },
    Column {
        name: "relative_level_std_db",
        low: 0.0,
        high: 40.0,
        read: Read::Vector(OCTAVES, |f| &texture(f).relative_level_std_db),
    },
    Column {
        name: "centroid_std_oct",
        low: 0.0,
        high: 5.0,
        read: Read::Scalar(|f| texture(f).centroid_std_oct),
    },
    Column {
        name: "centroid_change_oct",
        low: 0.0,
        high: 5.0,
        read: Read::Scalar(|f| texture(f).centroid_change_oct),
    },
    Column {
        name: "shape_change_db",
        low: 0.0,
        high: 40.0,
        read: Read::Scalar(|f| texture(f).shape_change_db),
    },
    Column {
        name: "shape_change_1s_db",
        low: 0.0,
        high: 40.0,
        read: Read::Scalar(|f| texture(f).shape_change_1s_db),
    },
    Column {
        name: "level_change_1s_db",
        low: 0.0,
        high: 40.0,
        read: Read::Scalar(|f| texture(f).level_change_1s_db),
    },
    Column {
        name: "tempo_strength_band",
        low: 0.0,
        high: 1.0,
        read: Read::Vector(REGISTERS, |f| &texture(f).tempo_strength_bands),
    },
    Column {
        name: "flux_band_db",
        low: 0.0,
        high: 20.0,
        read: Read::Vector(REGISTERS, |f| &texture(f).flux_bands_db),
    },
    Column {
        name: "modulation_db",
        low: -90.0,
        high: 0.0,
        read: Read::Vector(MODULATION, |f| &texture(f).modulation_db),
    },
    Column {
        name: "periodicity",
        low: 0.0,
        high: 1.0,
        read: Read::Vector(PERIODICITY, |f| &texture(f).periodicity),
    },
    Column {
        name: "chroma_peak",
        low: 0.0,
        high: 12.0,
        read: Read::Scalar(|f| texture(f).chroma_peak),
    },
    Column {
        name: "chroma_entropy",
        low: 0.0,
        high: 3.0,
        read: Read::Scalar(|f| texture(f).chroma_entropy),
    },
    Column {
        name: "chroma_frame_entropy",
        low: 0.0,
        high: 3.0,
        read: Read::Scalar(|f| texture(f).chroma_frame_entropy),
    },
    Column {
        name: "chroma_change",
        low: 0.0,
        high: 2.0,
        read: Read::Scalar(|f| texture(f).chroma_change),
    },
];

/// THE table of model outputs (the columns `y_<name>` of the dataset): what the model
/// predicts, measured on a master. Each has a low, centre and high output (see the module
/// docs); the clamp ranges bound the targets read back from the model.
pub const OUTPUTS: &[Column] = &[
    Column {
        name: "target_mid_db",
        low: BAND_FLOOR_DB,
        high: 20.0,
        read: Read::Vector(BANDS, |f| &f.spectrum.mid_norm_db),
    },
    Column {
        name: "target_side_db",
        low: BAND_FLOOR_DB,
        high: 20.0,
        read: Read::Vector(BANDS, |f| &f.spectrum.side_norm_db),
    },
    // The loudest commercial masters sit near -5 LUFS, nothing sensible is mastered below
    // -30; PLR and spread outside these ranges are measurement noise.
    Column {
        name: "target_integrated_lufs",
        low: -30.0,
        high: -5.0,
        read: Read::Scalar(|f| f.loudness.integrated_lufs),
    },
    Column {
        name: "target_plr_db",
        low: 3.0,
        high: 30.0,
        read: Read::Scalar(|f| f.loudness.plr_db),
    },
    Column {
        name: "target_short_term_spread_lu",
        low: 0.0,
        high: 30.0,
        read: Read::Scalar(|f| f.dynamics.short_term_p95_lufs - f.dynamics.short_term_p10_lufs),
    },
    Column {
        name: "target_width_db",
        low: -40.0,
        high: 3.0,
        read: Read::Scalar(|f| f.stereo.width_db),
    },
];

/// Clamps to `lo..=hi`; NaN and `-inf` read `lo`, `+inf` reads `hi`.
fn clamp(v: f64, lo: f64, hi: f64) -> f32 {
    let v = if v.is_nan() { lo } else { v.clamp(lo, hi) };
    v as f32
}

fn names_of(table: &[Column]) -> Vec<String> {
    let mut n = Vec::new();
    for c in table {
        match c.read {
            Read::Scalar(_) => n.push(c.name.to_string()),
            Read::Vector(len, _) => n.extend((0..len).map(|i| format!("{}_{i:02}", c.name))),
        }
    }
    n
}

fn vector_of(table: &[Column], f: &Features) -> Vec<f32> {
    let mut v = Vec::new();
    for c in table {
        match c.read {
            Read::Scalar(get) => v.push(clamp(get(f), c.low, c.high)),
            Read::Vector(len, get) => {
                let x = get(f);
                v.extend(
                    (0..len).map(|i| clamp(x.get(i).copied().unwrap_or(c.low), c.low, c.high)),
                );
            }
        }
    }
    v
}

/// `(low, high)` clamp range of every value of a table, in order.
fn bounds_of(table: &[Column]) -> Vec<(f64, f64)> {
    let mut b = Vec::new();
    for c in table {
        let len = match c.read {
            Read::Scalar(_) => 1,
            Read::Vector(len, _) => len,
        };
        b.extend(std::iter::repeat_n((c.low, c.high), len));
    }
    b
}

/// Names of the model's inputs, in order (the columns `x_<name>` of the dataset).
pub fn input_names() -> Vec<String> {
    names_of(INPUTS)
}

/// The model input for a mix: see [`INPUTS`].
pub fn input_vector(mix: &Features) -> Vec<f32> {
    vector_of(INPUTS, mix)
}

/// Names of the model's outputs, in order (the columns `y_<name>` of the dataset).
pub fn output_names() -> Vec<String> {
    names_of(OUTPUTS)
}

/// What the model learns to predict, measured on a master: see [`OUTPUTS`].
pub fn target_vector(master: &Features) -> Vec<f32> {
    vector_of(OUTPUTS, master)
}

/// `(low, high)` bounds of each output, in [`output_names`] order.
pub fn output_bounds() -> Vec<(f64, f64)> {
    bounds_of(OUTPUTS)
}

/// What the graph returns for one mix: each output's 10th percentile, median and 90th
/// percentile (in [`output_names`] order), and the genre classifier's probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    pub low: Vec<f32>,
    pub centre: Vec<f32>,
    pub high: Vec<f32>,
    pub genre_probabilities: Vec<f32>,
}

/// The model's percentiles for one mix and genre: `(low, centre, high)` per output, in
/// [`output_names`] order, with `low <= centre <= high`.
#[derive(Clone, Debug, PartialEq)]
pub struct Percentiles {
    pub genre: String,
    /// The classifier's probability for `genre` on this mix.
    pub confidence: f64,
    pub values: Vec<(f64, f64, f64)>,
}

/// `(best genre, its probability, every genre with its probability, most likely first)`.
pub type GenreGuess = (String, f64, Vec<(String, f64)>);

/// Everything the ONNX file says about itself.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelMetadata {
    pub features_schema_version: u32,
    pub input_names: Vec<String>,
    pub output_names: Vec<String>,
    pub genres: Vec<GenreInfo>,
    pub band_centers_hz: Vec<f64>,
    pub data_fingerprint: String,
    pub created: String,
    pub description: String,
    /// The graph has `targets_low` and `targets_high` (metadata `lathe.quantiles`).
    pub has_ranges: bool,
}

/// A loaded targets model: an ONNX session plus its metadata.
pub struct Model {
    session: Mutex<Session>,
    metadata: ModelMetadata,
    /// Position in [`input_names`] of each of the model's inputs.
    input_index: Vec<usize>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// The process-wide ONNX environment on the tract backend, created once.
fn environment() -> Result<&'static Environment> {
    ENVIRONMENT
        .get_or_init(|| {
            // `set_api` must precede every other ort call; it returns false when an API was
            // already set (e.g. by a host application), which is fine.
            ort::set_api(ort_tract::api());
            ort::init().build().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Model(format!("cannot start the ONNX backend (tract): {e}")))
}

fn model_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Model(format!("{what}: {e}"))
}

impl Model {
    /// The model embedded in the lathe binary.
    pub fn bundled() -> Result<Self> {
        Self::from_bytes(BUNDLED_MODEL)
    }

    /// Loads a model file (e.g. from `--model PATH`).
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
            .map_err(|e| Error::Model(format!("'{}': {}", path.display(), strip_prefix(&e))))
    }

    /// Loads a model from ONNX bytes, checking its metadata against this build first.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let metadata = parse_metadata(bytes)?;
        let env = environment()?;
        let session = Session::builder(env)
            .map_err(|e| model_err("cannot create an ONNX session", e))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| model_err("cannot set the optimisation level", e))?
            .commit_from_memory(bytes)
            .map_err(|e| model_err("cannot load the ONNX graph", e))?;
        let all = input_names();
        let input_index = metadata
            .input_names
            .iter()
            .map(|n| all.iter().position(|a| a == n).unwrap_or(0))
            .collect();
        Ok(Self {
            session: Mutex::new(session),
            metadata,
            input_index,
        })
    }

    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// The genres this model knows, with their aliases and how much data each had.
    pub fn genres(&self) -> Vec<GenreInfo> {
        self.metadata.genres.clone()
    }

    fn genre_names(&self) -> Vec<String> {
        self.metadata
            .genres
            .iter()
            .map(|g| g.name.clone())
            .collect()
    }

    /// Resolves a user's genre word (name or alias) to one of this model's genres.
    pub fn resolve_genre(&self, word: &str) -> Result<String> {
        genre::resolve(word, &self.genre_names())
    }

    /// [`Model::resolve_genre`] with the note to show when a nearest genre stands in for a
    /// word the training data lacks ("pop: ...; using electronic").
    pub fn choose_genre(&self, word: &str) -> Result<genre::GenreChoice> {
        genre::choose(word, &self.genre_names())
    }

    /// The model's input row for a mix: the [`INPUTS`] values this model lists, in its order
    /// (a model may use any subset of the table, e.g. one trained before a feature was added).
    pub fn input_row(&self, mix: &Features) -> Vec<f32> {
        let all = input_vector(mix);
        self.input_index.iter().map(|&i| all[i]).collect()
    }

    /// Runs the graph on one mix; refuses a mix analysed without its genre features
    /// ([`crate::analysis::Detail::Genre`]).
    pub fn run(&self, mix: &Features, genre_one_hot: &[f32]) -> Result<Outputs> {
        if mix.rhythm.is_none() || mix.texture.is_none() {
            return Err(Error::Model(
                "the mix was analysed without its genre features (rhythm, texture), which the \
                 model reads"
                    .to_string(),
            ));
        }
        self.run_raw(&self.input_row(mix), genre_one_hot)
    }

    /// Runs the graph on a raw input row (used by the golden-file test).
    pub fn run_raw(&self, features: &[f32], genre_one_hot: &[f32]) -> Result<Outputs> {
        let n_in = self.metadata.input_names.len();
        let n_genres = self.metadata.genres.len();
        if features.len() != n_in || genre_one_hot.len() != n_genres {
            return Err(Error::Model(format!(
                "input row has {} features and {} genre slots; the model expects {n_in} and {n_genres}",
                features.len(),
                genre_one_hot.len()
            )));
        }
        let x = Tensor::<f32>::from_array((vec![1_i64, n_in as i64], features.to_vec()))
            .map_err(|e| model_err("cannot build the input tensor", e))?;
        let g = Tensor::<f32>::from_array((vec![1_i64, n_genres as i64], genre_one_hot.to_vec()))
            .map_err(|e| model_err("cannot build the genre tensor", e))?;
        // A poisoned lock only means another thread panicked mid-run; the session itself
        // holds no state between runs, so it is still usable.
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outputs = session
            .run(ort::inputs!["features" => x, "genre" => g])
            .map_err(|e| model_err("inference failed", e))?;
        let extract = |name: &str, len: usize| -> Result<Vec<f32>> {
            let value = outputs
                .get(name)
                .ok_or_else(|| Error::Model(format!("the graph has no output '{name}'")))?;
            let (_, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| model_err(&format!("output '{name}'"), e))?;
            if data.len() != len {
                return Err(Error::Model(format!(
                    "output '{name}' has {} values; expected {len}",
                    data.len()
                )));
            }
            if let Some(k) = data.iter().position(|v| !v.is_finite()) {
                return Err(Error::Model(format!(
                    "output '{name}' value {k} is not finite ({})",
                    data[k]
                )));
            }
            Ok(data.to_vec())
        };
        let n_out = self.metadata.output_names.len();
        let centre = extract("targets", n_out)?;
        // A model without percentile outputs (trained before ranges) predicts points.
        let (low, high) = if self.metadata.has_ranges {
            (
                extract("targets_low", n_out)?,
                extract("targets_high", n_out)?,
            )
        } else {
            (centre.clone(), centre.clone())
        };
        Ok(Outputs {
            low,
            centre,
            high,
            genre_probabilities: extract("genre_probabilities", n_genres)?,
        })
    }

    /// The one-hot row of a genre name of this model.
    fn one_hot(&self, name: &str) -> Vec<f32> {
        self.genre_names()
            .iter()
            .map(|g| if g == name { 1.0 } else { 0.0 })
            .collect()
    }

    /// Where a master of `mix` as `genre` (a name or alias) plausibly lies: every output's
    /// 10th, 50th and 90th percentile, bounded by [`OUTPUTS`] and ordered.
    ///
    /// [`Percentiles::confidence`] is the genre classifier's probability for that genre on
    /// this mix (how much the mix already sounds like it), whoever chose the genre.
    pub fn predict_percentiles(&self, mix: &Features, genre: &str) -> Result<Percentiles> {
        let name = self.resolve_genre(genre)?;
        let out = self.run(mix, &self.one_hot(&name))?;
        let k = self
            .genre_names()
            .iter()
            .position(|g| *g == name)
            .unwrap_or(0);
        let confidence = f64::from(out.genre_probabilities[k]);
        let bounds = output_bounds();
        let values = (0..out.centre.len())
            .map(|i| {
                let (lo, hi) = bounds.get(i).copied().unwrap_or((-1e3, 1e3));
                let c = f64::from(out.centre[i]).clamp(lo, hi);
                let l = f64::from(out.low[i]).clamp(lo, hi).min(c);
                let h = f64::from(out.high[i]).clamp(lo, hi).max(c);
                (l, c, h)
            })
            .collect();
        Ok(Percentiles {
            genre: name,
            confidence,
            values,
        })
    }

    /// Where a master of `mix` as `genre` (a name or alias the user chose) plausibly lies:
    /// the model's 10th / 50th / 90th percentiles as a [`TargetRange`], which
    /// [`TargetRange::resolve`] turns into targets for this mix (the one path every target
    /// source takes to the renderer).
    ///
    /// The source is `TargetSource::Model` without a confidence: the user chose the genre,
    /// so the classifier's opinion of the mix is not reported as if lathe had picked it.
    ///
    /// A point model (trained before ranges) gives a point range (low = centre = high), so
    /// resolving it gives exactly the old targets: its medians, with loudness and PLR pulled
    /// toward the genre's typical master by how little the mix sounds like it
    /// ([`crate::targets::blend::toward_genre`]), because its genre input barely moves its
    /// targets. A range model's genre input sets the genre's percentiles itself.
    pub fn predict_range(&self, mix: &Features, genre: &str) -> Result<TargetRange> {
        let p = self.predict_percentiles(mix, genre)?;
        if self.metadata.has_ranges {
            return Ok(self.range_from_percentiles(mix, &p, None));
        }
        let confidence = p.confidence;
        let mut range = self.range_from_percentiles(mix, &p, None);
        if let Some(info) = self.metadata.genres.iter().find(|g| g.name == p.genre) {
            let blended =
                crate::targets::blend::toward_genre(range.centre(), info, 1.0 - confidence);
            range = TargetRange::point(&blended);
        }
        Ok(range)
    }

    /// `--genre auto`: the classifier picks the genre ([`Model::detect_genre`]) and the range
    /// is that genre's ([`Model::predict_range`] without the point model's genre blend, as
    /// before ranges). The source carries the classifier's probability for its pick.
    pub fn predict_range_detected(&self, mix: &Features) -> Result<(GenreGuess, TargetRange)> {
        let guess = self.detect_genre(mix)?;
        let p = self.predict_percentiles(mix, &guess.0)?;
        let range = self.range_from_percentiles(mix, &p, Some(guess.1));
        Ok((guess, range))
    }

    /// The range of the model's percentiles for one mix; `confidence` goes into the source
    /// (only when the classifier picked the genre).
    fn range_from_percentiles(
        &self,
        mix: &Features,
        p: &Percentiles,
        confidence: Option<f64>,
    ) -> TargetRange {
        let range = |k: usize| -> Range {
            let (low, centre, high) = p.values.get(k).copied().unwrap_or((0.0, 0.0, 0.0));
            Range { low, centre, high }
        };
        let scalar = |name: &str| -> Range {
            let k = self.metadata.output_names.iter().position(|n| n == name);
            k.map_or(Range::point(0.0), range)
        };
        let centre: Vec<f64> = p.values.iter().map(|v| v.1).collect();
        // Checked equal (to the metadata's rounding) when the model was loaded; the exact
        // values are the analysis's, so the renderer can line the curves up band by band.
        let center_hz = band_centers_hz();
        let mono_bass_below_hz =
            (low_end_width_db(&center_hz, &centre[..BANDS], &centre[BANDS..2 * BANDS])
                < MONO_BASS_WIDTH_DB)
                .then_some(MONO_BASS_HZ);
        TargetRange {
            source: TargetSource::Model {
                genre: p.genre.clone(),
                confidence,
            },
            center_hz,
            mid_db: (0..BANDS).map(range).collect(),
            side_db: (BANDS..2 * BANDS).map(range).collect(),
            integrated_lufs: scalar("target_integrated_lufs"),
            plr_db: scalar("target_plr_db"),
            short_term_spread_lu: scalar("target_short_term_spread_lu"),
            width_db: scalar("target_width_db"),
            mono_bass_below_hz,
            bandwidth_hz: mix.quality.bandwidth_hz,
            ceiling_dbtp: DEFAULT_CEILING_DBTP,
        }
    }

    /// Detects the genre of a mix: `(best genre, its probability, all genres by probability)`.
    pub fn detect_genre(&self, mix: &Features) -> Result<GenreGuess> {
        let names = self.genre_names();
        let out = self.run(mix, &vec![0.0; names.len()])?;
        let mut ranked: Vec<(String, f64)> = names
            .into_iter()
            .zip(out.genre_probabilities.iter().map(|&v| f64::from(v)))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let (best, prob) = ranked
            .first()
            .cloned()
            .ok_or_else(|| Error::Model("the model knows no genres".into()))?;
        Ok((best, prob, ranked))
    }
}

/// Side/mid energy ratio of the bands centred at or below [`MONO_BASS_HZ`], dB.
pub fn low_end_width_db(center_hz: &[f64], mid_db: &[f64], side_db: &[f64]) -> f64 {
    let mut mid = 0.0;
    let mut side = 0.0;
    for ((&f, &m), &s) in center_hz.iter().zip(mid_db).zip(side_db) {
        if f <= MONO_BASS_HZ {
            mid += 10f64.powf(m / 10.0);
            side += 10f64.powf(s / 10.0);
        }
    }
    if mid <= 0.0 {
        return 0.0;
    }
    10.0 * (side.max(1e-30) / mid).log10()
}

/// IEC 61260 base-10 third-octave centres, 20 Hz .. 20 kHz (exact, not nominal).
pub fn band_centers_hz() -> Vec<f64> {
    (-17..=13)
        .map(|k: i32| 1000.0 * 10f64.powf(f64::from(k) / 10.0))
        .collect()
}

fn strip_prefix(e: &Error) -> String {
    let s = e.to_string();
    s.strip_prefix("model: ").map(str::to_string).unwrap_or(s)
}

// ----- metadata: a minimal reader for ONNX ModelProto.metadata_props --------------------------

/// Reads one protobuf varint at `*pos`.
fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Walks the fields of one protobuf message: `(field number, length-delimited payload)`;
/// other wire types are skipped. `None` on malformed input.
fn fields(b: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let key = varint(b, &mut pos)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                varint(b, &mut pos)?;
            }
            1 => pos = pos.checked_add(8)?,
            2 => {
                let len = usize::try_from(varint(b, &mut pos)?).ok()?;
                let end = pos.checked_add(len)?;
                out.push((field, b.get(pos..end)?));
                pos = end;
            }
            5 => pos = pos.checked_add(4)?,
            _ => return None,
        }
    }
    (pos == b.len()).then_some(out)
}

/// The `metadata_props` (field 14 of ModelProto: key = 1, value = 2) of an ONNX file.
pub fn read_metadata_props(onnx: &[u8]) -> Result<Vec<(String, String)>> {
    let bad = || Error::Model("not an ONNX model (malformed protobuf)".into());
    let mut props = Vec::new();
    for (field, payload) in fields(onnx).ok_or_else(bad)? {
        if field != 14 {
            continue;
        }
        let mut key = String::new();
        let mut value = String::new();
        for (f, p) in fields(payload).ok_or_else(bad)? {
            let s = String::from_utf8_lossy(p).into_owned();
            match f {
                1 => key = s,
                2 => value = s,
                _ => {}
            }
        }
        props.push((key, value));
    }
    Ok(props)
}

#[derive(serde::Deserialize)]
struct GenreMeta {
    name: String,
    minutes: f64,
    tracks: usize,
    #[serde(default)]
    master_lufs_median: Option<f64>,
    #[serde(default)]
    master_plr_db_median: Option<f64>,
}

fn parse_metadata(onnx: &[u8]) -> Result<ModelMetadata> {
    let props = read_metadata_props(onnx)?;
    let get = |k: &str| -> Result<String> {
        props
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                Error::Model(format!(
                    "the ONNX file has no '{k}' metadata: it is not a lathe targets model"
                ))
            })
    };
    let schema_text = get("lathe.features_schema_version")?;
    let schema: u32 = schema_text.trim().parse().map_err(|_| {
        Error::Model(format!(
            "feature schema version '{schema_text}' is not a number"
        ))
    })?;
    // Schemas 2 and 3 only added inputs (the genre features); an older model's inputs are computed
    // as they were, so it still runs. A newer schema than this lathe's cannot.
    if schema == 0 || schema > FEATURES_SCHEMA_VERSION {
        return Err(Error::Model(format!(
            "the model was trained on feature schema {schema}, but this lathe measures schema \
             {FEATURES_SCHEMA_VERSION}; retrain it (training/run_all.sh) or use a matching lathe"
        )));
    }
    let split = |s: String| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    let input_names = split(get("lathe.input_names")?);
    let known = self::input_names();
    if let Some(unknown) = input_names.iter().find(|n| !known.contains(n)) {
        return Err(Error::Model(format!(
            "the model reads input '{unknown}', which this lathe does not measure (schema \
             {schema} model, {} inputs; this lathe provides {} inputs)",
            input_names.len(),
            known.len()
        )));
    }
    if input_names.is_empty() {
        return Err(Error::Model("the model lists no inputs".into()));
    }
    let output_names = split(get("lathe.output_names")?);
    if output_names != self::output_names() {
        return Err(Error::Model(format!(
            "the model has {} outputs; this lathe reads {} ({})",
            output_names.len(),
            self::output_names().len(),
            self::output_names()[..3].join(", ") + ", ..."
        )));
    }
    let genres_json = get("lathe.genres")?;
    let genres: Vec<GenreMeta> = serde_json::from_str(&genres_json)
        .map_err(|e| Error::Model(format!("genre list metadata is not valid JSON: {e}")))?;
    if genres.is_empty() {
        return Err(Error::Model("the model knows no genres".into()));
    }
    let band_centers_hz = get("lathe.band_centers_hz")?
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Model(format!("band centre metadata: {e}")))?;
    let expected_centres = self::band_centers_hz();
    // The metadata stores centres to 4 decimals: equal within 1e-4 relative.
    let centres_match = band_centers_hz.len() == expected_centres.len()
        && band_centers_hz
            .iter()
            .zip(&expected_centres)
            .all(|(a, b)| (a - b).abs() <= 1e-4 * b);
    if !centres_match {
        return Err(Error::Model(format!(
            "the model's {} band centres are not lathe's {} third-octave centres",
            band_centers_hz.len(),
            expected_centres.len()
        )));
    }
    Ok(ModelMetadata {
        features_schema_version: schema,
        input_names,
        output_names,
        genres: genres
            .into_iter()
            .map(|g| GenreInfo {
                aliases: genre::aliases(&g.name),
                name: g.name,
                minutes: g.minutes,
                tracks: g.tracks,
                master_lufs_median: g.master_lufs_median,
                master_plr_db_median: g.master_plr_db_median,
            })
            .collect(),
        band_centers_hz,
        data_fingerprint: get("lathe.data_fingerprint").unwrap_or_default(),
        created: get("lathe.created").unwrap_or_default(),
        description: get("lathe.description").unwrap_or_default(),
        has_ranges: get("lathe.quantiles").is_ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_vector_lengths() {
        // Bands (mid, side), 10 loudness scalars, octave crests, 6 stereo/quality scalars,
        // then the rhythm block: 3 scalars and two octave vectors (level spread, contrast);
        // then the texture block: 4 octave vectors, 5 scalars, 2 register vectors, the
        // modulation spectrum, 5 periodicities and 4 chroma scalars.
        assert_eq!(
            input_names().len(),
            2 * BANDS
                + 10
                + OCTAVES
                + 6
                + 3
                + 2 * OCTAVES
                + 4 * OCTAVES
                + 5
                + 2 * REGISTERS
                + MODULATION
                + PERIODICITY
                + 4
        );
        assert_eq!(MODULATION, 20);
        assert_eq!(output_names().len(), 2 * BANDS + 4);
    }

    #[test]
    fn clamp_handles_non_finite() {
        assert_eq!(clamp(f64::NEG_INFINITY, -70.0, 5.0), -70.0);
        assert_eq!(clamp(f64::INFINITY, -70.0, 5.0), 5.0);
        assert_eq!(clamp(f64::NAN, -70.0, 5.0), -70.0);
        assert_eq!(clamp(-150.0, BAND_FLOOR_DB, 20.0), -100.0);
    }

    #[test]
    fn band_centres_are_iec() {
        let c = band_centers_hz();
        assert_eq!(c.len(), BANDS);
        assert!((c[17] - 1000.0).abs() < 1e-9);
        // 10^(-1.7) * 1000 = 19.95 Hz: the "20 Hz" band.
        assert!((c[0] - 19.952_623).abs() < 1e-5);
    }

    #[test]
    fn metadata_reader_rejects_garbage() {
        assert!(read_metadata_props(&[0xff, 0xff, 0xff]).is_err());
        // An empty message is valid protobuf with no properties.
        assert!(read_metadata_props(&[]).unwrap().is_empty());
    }

    #[test]
    fn low_end_width_of_mono_bass() {
        let c = band_centers_hz();
        let mid = vec![-20.0; BANDS];
        let side = vec![-45.0; BANDS];
        assert!((low_end_width_db(&c, &mid, &side) + 25.0).abs() < 1e-9);
    }
}
