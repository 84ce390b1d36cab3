//! `lathe serve`: a local web app on the library's job API ([`crate::job`]).
//!
//! An edge, like the CLI: the handlers ([`api`]) parse a request, hand a [`crate::job::Job`]
//! to the queue ([`queue`]) and map [`crate::Error`] to a status code in one place
//! ([`api::ApiError`]). All state is one [`State`]; every limit is a field of [`Config`].
//!
//! Safe by default:
//! - binds to loopback unless `allow_remote`; requests whose `Host` is not the bound address
//!   or `localhost` are refused (DNS rebinding), and so are cross-origin writes;
//! - an upload over `max_upload_bytes` gets 413 and nothing is kept; junk gets 400 with
//!   lathe's error text;
//! - job ids are random (128 bits from the OS-seeded hasher keys); no client string ever
//!   becomes a path: files are `RUN/job-ID/mix.EXT` with `EXT` from a fixed list;
//! - at most `jobs` jobs run, at most `queue` more wait, beyond that 503;
//! - job files are removed on delete, after `ttl`, and when the server stops; a server that
//!   was killed leaves a run folder that the next start in the same data dir removes.
//!
//! The page (`page/index.html`, `app.js`, `app.css`) is embedded in the binary: nothing is
//! fetched from anywhere.

pub mod api;
pub mod queue;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

/// Everything the server can be told; every limit lives here.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    /// Jobs rendering at once.
    pub jobs: usize,
    /// Jobs waiting beyond those; a job that finds the queue full gets 503.
    pub queue: usize,
    /// Largest request body (mix + reference + fields).
    pub max_upload_bytes: u64,
    /// Parent of this run's folder (`DATA_DIR/run-PID-RANDOM/`).
    pub data_dir: PathBuf,
    /// Allow a non-loopback address (and Host headers that are IP addresses).
    pub allow_remote: bool,
    /// A finished job's files are removed this long after it finished.
    pub ttl: Duration,
}

impl Config {
    pub const DEFAULT_PORT: u16 = 8360;
    pub const DEFAULT_MAX_UPLOAD_MB: u64 = 512;
    pub const DEFAULT_TTL_MINUTES: f64 = 24.0 * 60.0;

    /// `jobs` 1.. and `queue` 0.., loopback unless `allow_remote`.
    pub fn check(&self) -> Result<()> {
        if self.jobs == 0 {
            return Err(Error::InvalidSetting(
                "--jobs 0: at least one job must run at a time".into(),
            ));
        }
        if !self.allow_remote && !self.addr.ip().is_loopback() {
            return Err(Error::InvalidSetting(format!(
                "{} is not a loopback address: pass --allow-remote to serve other machines \
                 (anyone who can reach it can use it)",
                self.addr.ip()
            )));
        }
        if self.max_upload_bytes == 0 {
            return Err(Error::InvalidSetting(
                "--max-upload-mb must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What the server shares between requests and jobs.
pub struct State {
    pub config: Config,
    /// This run's folder: every job folder is inside it.
    pub run_dir: PathBuf,
    /// The address actually bound (the port may have been 0).
    pub local_addr: SocketAddr,
    pub jobs: queue::Jobs,
}

/// A random 128-bit id as 32 hex digits. `RandomState` keys come from the operating system's
/// random source, once per process, then per call from a counter-seeded hasher; no external
/// crate.
pub fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut words = [0u64; 2];
    for (k, w) in words.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_usize(k);
        *w = h.finish();
    }
    format!("{:016x}{:016x}", words[0], words[1])
}

/// Creates `data_dir/run-PID-RANDOM/`, first removing the run folders of lathe servers that
/// are no longer running (left by a kill).
fn make_run_dir(data_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(data_dir).map_err(|source| Error::Write {
        path: data_dir.to_path_buf(),
        source,
    })?;
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = stale_run_pid(&name) {
                if !process_alive(pid) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    let dir = data_dir.join(format!("run-{}-{}", std::process::id(), &random_id()[..8]));
    std::fs::create_dir(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// The pid in a run folder's name `run-PID-XXXXXXXX`.
fn stale_run_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("run-")?;
    let (pid, tag) = rest.split_once('-')?;
    (tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| pid.parse().ok())
        .flatten()
}

fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // Linux: /proc/PID exists while the process does. Elsewhere keep the folder.
    if Path::new("/proc/self").exists() {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Runs the server until `shutdown` resolves (or Ctrl-C / SIGTERM), then cancels the jobs,
/// waits for the running ones to stop and removes this run's files. `ready` is called once
/// with the bound address (the CLI prints it; the library never prints).
pub fn run(config: Config, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    config.check()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::InvalidSetting(format!("cannot start the server's threads: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| Error::InvalidSetting(format!("cannot listen on {}: {e}", config.addr)))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::InvalidSetting(format!("cannot listen on {}: {e}", config.addr)))?;
        let run_dir = make_run_dir(&config.data_dir)?;
        let state = Arc::new(State {
            jobs: queue::Jobs::new(config.jobs, config.queue),
            config,
            run_dir,
            local_addr,
        });
        let sweeper = tokio::spawn(queue::sweep(state.clone()));
        let app = api::router(state.clone());
        ready(local_addr);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await;
        sweeper.abort();
        state.jobs.cancel_all();
        state.jobs.wait_idle(Duration::from_secs(60)).await;
        let _ = std::fs::remove_dir_all(&state.run_dir);
        served.map_err(|e| Error::InvalidSetting(format!("server: {e}")))
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_hex_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| random_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids
            .iter()
            .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn run_folder_names_parse_only_when_ours() {
        assert_eq!(stale_run_pid("run-1234-0a1b2c3d"), Some(1234));
        assert_eq!(stale_run_pid("run-1234-0a1b2c3"), None);
        assert_eq!(stale_run_pid("run-x-0a1b2c3d"), None);
        assert_eq!(stale_run_pid("music"), None);
    }
}
