//! Renderer stages on 4 minutes of stereo pink-ish noise at 44.1 kHz (peaks at +12.4 dBFS).
//!
//! `cargo bench --bench render` (or `-- --quick` for a rough number). Each bench reports its
//! throughput in samples per second (frames x channels: 21.2 M samples per iteration).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lathe::render::compressor::{compress, CompressorSettings};
use lathe::render::eq::{third_octave_centers_hz, MatchedEq};
use lathe::render::kweight::KWeighted;
use lathe::render::limiter::{
    detector_peaks, gain_curve, limit, limit_scaled, output_true_peak, skip_threshold,
    LimiterSettings,
};

const FS: u32 = 44_100;

/// Deterministic pink-ish noise (xorshift64* through Paul Kellett's economy filter).
fn pink(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let (mut b0, mut b1, mut b2) = (0.0f64, 0.0f64, 0.0f64);
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let x = (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
                * 2.0
                - 1.0;
            b0 = 0.99765 * b0 + x * 0.0990460;
            b1 = 0.96300 * b1 + x * 0.2965164;
            b2 = 0.57000 * b2 + x * 1.0526913;
            ((b0 + b1 + b2 + x * 0.1848) * 0.5) as f32
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let frames = 240 * FS as usize;
    let stereo = vec![pink(frames, 1), pink(frames, 2)];
    let centers = third_octave_centers_hz();
    let tilt: Vec<f64> = centers
        .iter()
        .map(|f| 3.0 - 2.0 * (f / 20.0).log10())
        .collect();
    let eq = MatchedEq::new(FS, &centers, &tilt, None).unwrap();

    let mut group = c.benchmark_group("4 min stereo 44.1k");
    group.sample_size(10);
    group.throughput(Throughput::Elements((2 * frames) as u64));
    group.bench_function("eq (2 channels, 8191-tap linear phase)", |b| {
        b.iter(|| {
            let l = eq.process(&stereo[0]);
            let r = eq.process(&stereo[1]);
            (l, r)
        })
    });
    group.bench_function("compressor", |b| {
        let settings = CompressorSettings::default();
        b.iter_batched(
            || stereo.clone(),
            |mut ch| compress(&mut ch, FS, &settings).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    // Pink noise peaks at +12.4 dBFS: a torture case (9 dB average gain reduction). Scaled
    // by -9.4 dB it peaks at +3 dBFS, like a loud mix pushed into the limiter.
    let loud: Vec<Vec<f32>> = stereo
        .iter()
        .map(|c| c.iter().map(|&v| v * 0.339).collect())
        .collect();
    for (name, input) in [
        ("limiter, peaks +3 dBFS (incl. true-peak check)", &loud),
        ("limiter, peaks +12 dBFS (incl. true-peak check)", &stereo),
    ] {
        group.bench_function(name, |b| {
            let settings = LimiterSettings::default();
            b.iter_batched(
                || input.clone(),
                |mut ch| limit(&mut ch, FS, &settings).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    // The loudness stage's pieces (src/render/chain.rs): the detector runs once at unity gain,
    // the search evaluates the estimate a few times, one limiter pass renders.
    let settings = LimiterSettings::default();
    let threshold_db = settings.ceiling_dbtp - settings.margin_db;
    let skip = skip_threshold(&settings) as f32;
    group.bench_function("detector peaks, unity gain (once per render)", |b| {
        b.iter(|| detector_peaks(&loud, FS, skip))
    });
    let peaks = detector_peaks(&loud, FS, skip);
    let kw = KWeighted::new(&loud, FS);
    group.bench_function("K-weighting (once per render)", |b| {
        b.iter(|| KWeighted::new(&loud, FS))
    });
    group.bench_function(
        "loudness estimate: gain curve + K-weighted sum (per step)",
        |b| {
            b.iter(|| {
                let curve = gain_curve(&peaks, 1.0, threshold_db, FS, &settings);
                kw.integrated_lufs(1.0, Some(&curve))
            })
        },
    );
    group.bench_function("limiter pass from the detector peaks (incl. check)", |b| {
        b.iter(|| limit_scaled(&loud, 1.0, &peaks, None, FS, &settings).unwrap())
    });
    group.bench_function(
        "gain curve alone (hold, release, averages; per step)",
        |b| b.iter(|| gain_curve(&peaks, 1.0, threshold_db, FS, &settings)),
    );
    let (limited, _) = limit_scaled(&loud, 1.0, &peaks, None, FS, &settings).unwrap();
    group.bench_function("final true-peak check of a limited output", |b| {
        b.iter(|| output_true_peak(&limited, FS, settings.ceiling_dbtp).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
