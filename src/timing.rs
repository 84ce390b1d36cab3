//! Stage timings for profiling: with `LATHE_TIMINGS` set in the environment, [`mark`] prints
//! the wall time since the first mark to stderr (`lathe: 0.643 s analysis`); otherwise it does
//! nothing. `benches/vs_matchering.sh` shows them.

use std::sync::OnceLock;
use std::time::Instant;

fn start() -> Option<Instant> {
    static START: OnceLock<Option<Instant>> = OnceLock::new();
    *START.get_or_init(|| std::env::var_os("LATHE_TIMINGS").map(|_| Instant::now()))
}

/// Prints `label` with the seconds since the first call, when `LATHE_TIMINGS` is set.
pub fn mark(label: &str) {
    if let Some(t0) = start() {
        eprintln!("lathe: {:7.3} s {label}", t0.elapsed().as_secs_f64());
    }
}
