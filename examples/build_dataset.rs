//! Builds the model's training CSV from a manifest: `lathe::dataset::build_dataset`.
//!
//! `cargo run --profile test --example build_dataset -- MANIFEST OUT.csv [--variants N] [--seed S]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut positional = Vec::new();
    let mut variants = 4usize;
    let mut seed = 1u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--variants" => match it.next().and_then(|v| v.parse().ok()) {
                Some(v) => variants = v,
                None => return usage("--variants needs a number"),
            },
            "--seed" => match it.next().and_then(|v| v.parse().ok()) {
                Some(v) => seed = v,
                None => return usage("--seed needs a number"),
            },
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let [manifest, out] = positional.as_slice() else {
        return usage("need MANIFEST and OUT.csv");
    };
    let start = std::time::Instant::now();
    let progress = |done: usize, total: usize| {
        if done % 10 == 0 || done == total {
            eprintln!(
                "{done}/{total} tracks ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
        }
    };
    match lathe::dataset::build_dataset(manifest, out, variants, seed, &progress) {
        Ok(s) => {
            for (path, why) in &s.skipped {
                eprintln!("skipped {}: {why}", path.display());
            }
            eprintln!(
                "wrote {}: {} rows from {} tracks ({} skipped) in {:.0} s",
                out.display(),
                s.rows,
                s.tracks,
                s.skipped.len(),
                start.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("{why}\nusage: build_dataset MANIFEST OUT.csv [--variants N] [--seed S]");
    ExitCode::from(2)
}
