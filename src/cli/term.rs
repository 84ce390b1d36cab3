//! What the binary says on the terminal besides its results: `--quiet`, notices and warnings
//! on stderr (one line each, coloured only when stderr is a terminal).
//!
//! Results (tables, `--json`) go to stdout; everything here goes to stderr, so a script that
//! reads stdout never sees a notice.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no progress, notices or warnings; errors still print.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether progress bars may be drawn: stderr is a terminal and `--quiet` is off.
pub fn progress_visible() -> bool {
    !quiet() && std::io::stderr().is_terminal()
}

/// Whether stderr gets colour: a terminal, and no `NO_COLOR` (no-color.org).
pub fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One warning as one line: `warning: W_CODE: message`, prefixed by `about` (a file name)
/// when given; `warning` in bold yellow when `colour`.
pub fn warning_line(about: Option<&str>, code: &str, message: &str, colour: bool) -> String {
    let word = if colour {
        "\x1b[1;33mwarning\x1b[0m"
    } else {
        "warning"
    };
    let about = about.map_or_else(String::new, |a| format!("{a}: "));
    // One line each, whatever the message holds.
    let message = message.replace(['\n', '\r'], " ");
    format!("{about}{word}: {code}: {message}")
}
