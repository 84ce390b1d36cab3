//! Decodes audio files with `lathe::io::decode::decode_file` and prints what came out and how
//! long it took; for measuring decode speed and peak memory (`/usr/bin/time -v`).
//!
//! `cargo run --release --example decode_file -- FILE...`

use std::path::Path;
use std::time::Instant;

fn main() {
    for arg in std::env::args().skip(1) {
        let start = Instant::now();
        match lathe::io::decode::decode_file(Path::new(&arg)) {
            Ok(audio) => println!(
                "{arg}: {} ch, {} Hz, {} frames ({:.1} s) decoded in {:.3} s",
                audio.num_channels(),
                audio.sample_rate_hz,
                audio.frames(),
                audio.duration_s(),
                start.elapsed().as_secs_f64()
            ),
            Err(e) => println!("{arg}: error: {e}"),
        }
    }
}
