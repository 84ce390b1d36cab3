//! Stage timings for profiling: with `LATHE_TIMINGS` set in the environment, [`mark`] prints
//! the wall time since the first mark and, on Linux, the peak memory so far to stderr
//! (`lathe:   0.643 s  350 MB analysed`); otherwise it does nothing. `benches/vs_matchering.sh`
//! shows them.

use std::sync::OnceLock;
use std::time::Instant;

fn start() -> Option<Instant> {
    static START: OnceLock<Option<Instant>> = OnceLock::new();
    *START.get_or_init(|| std::env::var_os("LATHE_TIMINGS").map(|_| Instant::now()))
}

/// Prints `label` with the seconds since the first call, when `LATHE_TIMINGS` is set.
pub fn mark(label: &str) {
    if let Some(t0) = start() {
        let peak = peak_memory_mb().map_or_else(String::new, |mb| format!("{mb:4} MB "));
        eprintln!("lathe: {:7.3} s {peak}{label}", t0.elapsed().as_secs_f64());
    }
}

/// The process's peak resident memory (`VmHWM`), MB, where `/proc` has it.
fn peak_memory_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}
