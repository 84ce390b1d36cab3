//! Reading and writing audio files.
//!
//! - [`decode`]: every format symphonia decodes (WAV/RF64, AIFF, FLAC, MP3, Vorbis, ALAC,
//!   AAC in MP4) into an [`crate::AudioBuffer`], gapless where the container says how.
//! - [`encode`]: WAV (16-bit with TPDF dither, 24-bit, 32-bit float) and FLAC (16/24-bit),
//!   written atomically; [`encode::check_output`] refuses to clobber.
//! - [`resample`]: rubato sinc resampling.
//! - [`tags`]: title, artist, ISRC...: read from a mix, written to its master.

pub mod decode;
pub mod encode;
mod flac;
pub mod resample;
pub mod tags;
