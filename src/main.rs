//! The `lathe` command line: parse, validate, call the library, map errors to exit codes.
//!
//! Errors print as `Error: <what>: <why>` on stderr with exit code 1; a closed stdout pipe
//! (`lathe analyze x.wav | head -1`) is not an error.

mod cli;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

use clap::Parser;

fn main() -> ExitCode {
    lathe::timing::mark("start");
    let args = cli::Cli::parse();
    // `lathe serve` handles these signals itself: it cancels its jobs, lets them stop and
    // removes its folder (see `lathe::serve::run`).
    if !matches!(args.command, cli::Command::Serve(_)) {
        clean_up_on_signals();
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The signal that asked the process to stop (0: none yet).
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The C library's `signal(2)` (POSIX), which std links anyway: declared here rather than
/// through a crate, because a new dependency rebuilds every crate that shares `libc`.
#[cfg(unix)]
mod posix {
    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;
    extern "C" {
        pub fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }
}

/// Only an atomic store: async-signal-safe.
#[cfg(unix)]
extern "C" fn on_stop_signal(signal: i32) {
    STOP_SIGNAL.store(signal, Ordering::SeqCst);
}

/// On SIGINT or SIGTERM: remove the temporary files of the outputs being written (an
/// interrupted run leaves no partial file), say so, and exit with 128 + the signal number.
/// The handler only records the signal; a watcher thread does the clean-up (file removal is
/// not for a signal handler), looking every 20 ms.
fn clean_up_on_signals() {
    #[cfg(unix)]
    {
        // SAFETY: `on_stop_signal` is an `extern "C" fn(i32)` that only stores an atomic.
        unsafe {
            posix::signal(posix::SIGINT, on_stop_signal);
            posix::signal(posix::SIGTERM, on_stop_signal);
        }
        std::thread::spawn(|| loop {
            let signal = STOP_SIGNAL.load(Ordering::SeqCst);
            if signal != 0 {
                let removed = lathe::io::encode::remove_temp_files();
                let _ = writeln!(
                    std::io::stderr(),
                    "interrupted: {} partial output file{} removed",
                    removed.len(),
                    if removed.len() == 1 { "" } else { "s" }
                );
                std::process::exit(128 + signal);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        });
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}
