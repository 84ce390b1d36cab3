//! One error type for the library. Variants carry the offending values so a message can say
//! exactly what was wrong; the CLI adds which file it was reading or writing.

use std::path::PathBuf;

/// Everything the lathe library can fail with.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The io::Error is the `source`, not part of the message: `{:#}` chains print it once.
    #[error("cannot read '{}'", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write '{}'", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("'{}' is empty (0 bytes)", path.display())]
    EmptyFile { path: PathBuf },
    #[error("'{}' is not an audio file ({reason})", path.display())]
    UnrecognisedFormat { path: PathBuf, reason: String },
    #[error("'{}' is truncated or corrupt: {what} promises {promised_s:.2} s, {decodable_s:.2} s decodable", path.display())]
    Truncated {
        path: PathBuf,
        /// What made the promise: "its header", "its Xing header", ...
        what: &'static str,
        promised_s: f64,
        decodable_s: f64,
    },
    #[error("'{}' is truncated: its last Ogg page is not marked end-of-stream ({decodable_s:.2} s decodable)", path.display())]
    OggWithoutEnd { path: PathBuf, decodable_s: f64 },
    #[error("'{}' uses a codec lathe cannot decode: {codec}", path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("'{}' is corrupt or truncated: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("'{}' contains no audio frames", path.display())]
    NoAudio { path: PathBuf },
    #[error("'{}' has a non-finite sample (NaN or infinity) at frame {frame}, channel {channel}", path.display())]
    NonFiniteSample {
        path: PathBuf,
        frame: usize,
        channel: usize,
    },
    #[error("'{}' has a sample of {value:e} at frame {frame}, channel {channel}: beyond +120 dBFS, its level cannot be measured", path.display())]
    UnmeasurableSample {
        path: PathBuf,
        frame: usize,
        channel: usize,
        value: f32,
    },
    #[error("sample rate {sample_rate_hz} Hz is outside the supported 8000..=384000 Hz")]
    UnsupportedSampleRate { sample_rate_hz: u32 },
    #[error("{channels} channels: lathe supports 1 to 8 channels")]
    UnsupportedChannelCount { channels: usize },
    #[error(
        "{channels} channels: rendering supports mono and stereo only (analysis works per channel)"
    )]
    RenderChannels { channels: usize },
    #[error("audio is {duration_s:.3} s long; loudness measurement needs at least 0.4 s")]
    TooShort { duration_s: f64 },
    #[error("audio is {duration_s:.0} s long; the limit for {what} is {limit_s:.0} s")]
    TooLong {
        duration_s: f64,
        limit_s: f64,
        what: &'static str,
    },
    #[error("audio is {duration_s:.0} s long: {what} it needs about {needed_mb} MB of memory and {available_mb} MB are available (use a shorter file or free memory)")]
    NotEnoughMemory {
        what: &'static str,
        duration_s: f64,
        needed_mb: u64,
        available_mb: u64,
    },
    #[error("audio is digital silence: there is nothing to {what}")]
    Silence { what: &'static str },
    #[error("audio is too quiet to {what}: its peak is {peak_dbfs:.1} dBFS and all of it lies under BS.1770's -70 LUFS gate")]
    TooQuiet { what: &'static str, peak_dbfs: f64 },
    #[error(
        "{reason}; written: {}; not written: {}",
        list(written),
        list(not_written)
    )]
    PartialOutputs {
        written: Vec<PathBuf>,
        not_written: Vec<PathBuf>,
        reason: String,
    },
    #[error("output '{}' already exists (pass --force to overwrite it)", path.display())]
    OutputExists { path: PathBuf },
    #[error("output '{}' is also an input; lathe never overwrites an input", path.display())]
    OutputIsInput { path: PathBuf },
    #[error("cannot write '{}': {reason}", path.display())]
    UnsupportedOutput { path: PathBuf, reason: String },
    #[error("resampling: {0}")]
    Resample(String),
    #[error("loudness meter: {0}")]
    Meter(String),
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    #[error("model: {0}")]
    Model(String),
    #[error(
        "target range for {what} is not ordered low <= centre <= high (or not finite): \
         {low} / {centre} / {high}"
    )]
    InvalidRange {
        what: String,
        low: f64,
        centre: f64,
        high: f64,
    },
    #[error("style profile '{}': {reason}", path.display())]
    Profile { path: PathBuf, reason: String },
    #[error("report: cannot make the {what}: {reason}")]
    Report { what: &'static str, reason: String },
    #[error("'{}' would be written twice: give the report, the output and the JSON different names", path.display())]
    OutputTwice { path: PathBuf },
    /// A job's cancellation flag was set; the job stopped between two stages.
    #[error("cancelled")]
    Cancelled,
    /// `source` happened while working on `context` (a file, usually: `'mix.wav'`), so that a
    /// message names the file once, e.g. `'mix.wav': audio is digital silence: ...`.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// This error, said to be about `context` (printed before it, `context: error`).
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// This error naming `path`: unchanged when its message already quotes `path`, else
    /// with `'path'` as its context.
    pub fn in_file(self, path: &std::path::Path) -> Error {
        let quoted = format!("'{}'", path.display());
        if self.to_string().contains(&quoted) {
            self
        } else {
            self.context(quoted)
        }
    }

    /// The whole message with every cause, `what: why: detail`, as the CLI prints it.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            text += ": ";
            text += &s.to_string();
            source = s.source();
        }
        text
    }
}

impl From<ebur128::Error> for Error {
    fn from(e: ebur128::Error) -> Self {
        Error::Meter(format!("{e:?}"))
    }
}

/// Paths as `'a', 'b'` for messages.
fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("'{}'", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
