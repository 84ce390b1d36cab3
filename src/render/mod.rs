//! The deterministic renderer: audio + [`Targets`] -> mastered audio + a [`RenderLog`] of what
//! was done. Same input and same targets give the same bits, whatever the thread count.
//!
//! Chain (see [`chain`]): matched EQ (mid/side, linear-phase FIR) -> compressor -> width ->
//! loudness gain -> oversampled true-peak limiter. Dither happens when encoding to 16 bit.

pub mod biquad;
pub mod chain;
pub mod compressor;
pub mod dither;
pub mod eq;
pub mod kweight;
pub mod limiter;
pub mod oversample;
pub mod polyphase;
pub use chain::{render, render_with_progress, RenderLog, RenderSettings, Rendered};
