//! lathe's integration tests, in one test binary (matklad's "one integration test crate"
//! layout): each file below was its own binary, and linking 17 copies of the library and every
//! dependency was a large part of CI's clean build. Run one file's tests with a filter:
//! `cargo test --test it render::` (or a single test, `cargo test --test it render::name`).
//!
//! Shared helpers: [`common`] (the independent meters, ffmpeg readings, a small RNG, tiny ONNX
//! models) and [`report_signals`] (deterministic test programmes).

mod common;
mod report_signals;

mod batch;
mod cli;
mod delivery;
mod flac_size;
mod golden;
mod hostile;
mod io;
mod malformed;
mod model;
mod profile;
mod range;
mod render;
mod report;
mod serve;
mod true_peak;
