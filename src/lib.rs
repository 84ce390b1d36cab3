//! # lathe: a fast, transparent, deterministic mastering engine
//!
//! A file travels one way through lathe:
//!
//! 1. [`io::decode`]: any common format -> planar float [`AudioBuffer`] (lathe never clips;
//!    symphonia 0.5 itself clamps MP3 and Vorbis output to full scale);
//! 2. [`analysis`]: loudness (ITU-R BS.1770-4, EBU R128, EBU Tech 3341/3342), tonal balance,
//!    dynamics and stereo -> one [`Features`] struct;
//! 3. [`targets`]: from a reference track or from the ONNX model -> one [`Targets`] struct;
//! 4. [`render`]: matched EQ, compressor, width, loudness gain and an oversampled true-peak
//!    limiter reach the targets, deterministically;
//! 5. [`io::encode`] (with TPDF dither at 16 bit) and [`report`].
//!
//! [`job`] runs that whole path for one mix (the CLI and [`serve`], the local web app, only
//! call it).
//!
//! [`dataset`] builds the model's training rows (un-mastered masters) with the same analysis,
//! so training and inference see identical numbers.
//!
//! The library never prints and never exits: errors come back as [`Error`], progress through
//! callbacks.

pub mod analysis;
pub mod audio;
pub mod dataset;
pub mod error;
pub mod io;
pub mod job;
pub mod render;
pub mod report;
pub mod serve;
pub mod targets;
pub mod timing;
pub mod units;

pub use analysis::{analyze, Features};
pub use audio::AudioBuffer;
pub use error::{Error, Result};
pub use targets::Targets;
