//! Analysis speed on a 4-minute stereo 44.1 kHz signal (goal: under 0.5 s on one core).
//!
//! Run on one core with `RAYON_NUM_THREADS=1 cargo bench --bench analysis`.

use criterion::{criterion_group, criterion_main, Criterion};

use lathe::analysis::{analyze, loudness, spectrum};
use lathe::AudioBuffer;

/// Four minutes of programme-like stereo: filtered noise under a slow loudness envelope.
fn programme(seconds: f64, rate: u32) -> AudioBuffer {
    let n = (seconds * f64::from(rate)) as usize;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let (mut lp_l, mut lp_r) = (0.0f32, 0.0f32);
    let mut l = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f32 / rate as f32;
        let env = 0.15 * (1.0 + 0.5 * (t * 0.3).sin());
        let common = noise();
        lp_l = 0.9 * lp_l + 0.1 * (common + 0.3 * noise());
        lp_r = 0.9 * lp_r + 0.1 * (common + 0.3 * noise());
        l.push(env * lp_l * 3.0);
        r.push(env * lp_r * 3.0);
    }
    AudioBuffer::new(rate, vec![l, r]).expect("valid buffer")
}

fn bench(c: &mut Criterion) {
    let audio = programme(240.0, 44_100);
    let mut group = c.benchmark_group("4 min stereo 44.1k");
    group.sample_size(10);
    group.bench_function("analyze (all features)", |b| b.iter(|| analyze(&audio)));
    group.bench_function("loudness (BS.1770 + LRA + true peak)", |b| {
        b.iter(|| loudness::measure(&audio))
    });
    group.bench_function("long-term spectrum", |b| {
        b.iter(|| spectrum::long_term(&audio))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
