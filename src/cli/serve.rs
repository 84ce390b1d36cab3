//! `lathe serve [--addr 127.0.0.1:8360] [--jobs N] [--max-upload-mb 512] [--data-dir DIR]
//! [--allow-remote]`: the local web app ([`lathe::serve`]).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lathe::serve::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (loopback unless --allow-remote; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8360")]
    pub addr: SocketAddr,
    /// Jobs mastered at the same time.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Jobs that may wait beyond those; more get "503 busy".
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub queue: usize,
    /// Largest upload (mix and reference together), in MB.
    #[arg(long, value_name = "MB", default_value_t = Config::DEFAULT_MAX_UPLOAD_MB)]
    pub max_upload_mb: u64,
    /// Folder for the jobs' files (default: the system's temporary folder). Each run uses its
    /// own sub-folder and removes it when it stops.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Finished jobs' files are removed this many minutes after they finished.
    #[arg(long, value_name = "MIN", default_value_t = Config::DEFAULT_TTL_MINUTES)]
    pub ttl_minutes: f64,
    /// Listen on a non-loopback address: anyone who can reach it can use it.
    #[arg(long)]
    pub allow_remote: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.ttl_minutes.is_finite() && args.ttl_minutes > 0.0) {
        anyhow::bail!("--ttl-minutes {} must be above 0", args.ttl_minutes);
    }
    let config = Config {
        addr: args.addr,
        jobs: args.jobs,
        queue: args.queue,
        max_upload_bytes: args.max_upload_mb.saturating_mul(1024 * 1024),
        data_dir: args
            .data_dir
            .unwrap_or_else(|| std::env::temp_dir().join("lathe-serve")),
        allow_remote: args.allow_remote,
        ttl: Duration::from_secs_f64(args.ttl_minutes * 60.0),
    };
    if config.allow_remote && !config.addr.ip().is_loopback() {
        eprintln!(
            "warning: lathe serve is listening on {} with --allow-remote: anyone who can reach \
             this address can upload files and use this machine's CPU; there is no login",
            config.addr
        );
    }
    lathe::serve::run(config, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "lathe serve: open http://{addr}/ (Ctrl-C stops it)");
        let _ = out.flush();
    })?;
    Ok(ExitCode::SUCCESS)
}
