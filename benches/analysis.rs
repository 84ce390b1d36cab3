//! Analysis speed on a 4-minute stereo 44.1 kHz signal (goal: 150 ms on one core), whole and
//! kernel by kernel; criterion prints the throughput in samples (frames x channels) per second.
//!
//! Run on one core with `RAYON_NUM_THREADS=1 cargo bench --bench analysis`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use lathe::analysis::{
    analyze, analyze_with, dynamics, loudness, meter, spectrum, true_peak, Detail,
};
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
    let views: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    let loud = loudness::measure(&audio).expect("measurable");
    let mut group = c.benchmark_group("4 min stereo 44.1k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(
        (audio.frames() * audio.num_channels()) as u64,
    ));
    group.bench_function("analyze (all features)", |b| b.iter(|| analyze(&audio)));
    group.bench_function("analyze (mastering: no genre features)", |b| {
        b.iter(|| analyze_with(&audio, Detail::Mastering))
    });
    group.bench_function("loudness (BS.1770 + LRA + true peak)", |b| {
        b.iter(|| loudness::measure(&audio))
    });
    group.bench_function("meter sweep (K-weighting, blocks, plain sums)", |b| {
        b.iter(|| meter::Sweep::new(&views, audio.sample_rate_hz))
    });
    group.bench_function("true peak (ebur128, segmented)", |b| {
        b.iter(|| loudness::true_peak_per_channel(&views, audio.sample_rate_hz))
    });
    group.bench_function("true peak (f32 polyphase kernel)", |b| {
        b.iter(|| {
            views
                .iter()
                .map(|c| true_peak::channel_true_peak(c, audio.sample_rate_hz))
                .fold(0f32, f32::max)
        })
    });
    group.bench_function("long-term spectrum", |b| {
        b.iter(|| spectrum::long_term(&audio))
    });
    group.bench_function("dynamics (octave crest)", |b| {
        b.iter(|| dynamics::measure(&views, audio.sample_rate_hz, &loud))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
