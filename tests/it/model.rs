//! The bundled targets model through the tract backend: golden outputs from Python's
//! onnxruntime, metadata checks, sane targets for every genre, genre detection.

use crate::common;
use crate::report_signals;

use lathe::analysis::analyze;
use lathe::audio::AudioBuffer;
use lathe::dataset::{apply_tonal, TonalChange};
use lathe::targets::model::{input_names, Model, BANDS, BUNDLED_MODEL};
use lathe::targets::TargetSource;
use lathe::Error;

use crate::common::onnx::put_bytes;

/// Stereo test programme: pink-ish noise (sum of a few octave-spaced filtered noises) plus a
/// bass line and a decorrelated side component, `seconds` long at 44.1 kHz.
fn generated_mix(seconds: f64) -> AudioBuffer {
    let fs = 44_100u32;
    let n = (seconds * f64::from(fs)) as usize;
    let mut state = 0x1234_5678_u64;
    let mut white = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    // Paul Kellet's economy pink filter (three one-pole sections).
    let (mut b0, mut b1, mut b2) = (0.0, 0.0, 0.0);
    let mut l = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    for i in 0..n {
        let w = white();
        b0 = 0.99765 * b0 + w * 0.099_046;
        b1 = 0.963 * b1 + w * 0.296_516_4;
        b2 = 0.57 * b2 + w * 1.052_691_3;
        let pink = (b0 + b1 + b2 + w * 0.1848) * 0.05;
        let t = i as f64 / f64::from(fs);
        // A bass note that swells every half second: some macro-dynamics for the meters.
        let env = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 2.0 * t).sin().abs();
        let bass = 0.2 * env * (2.0 * std::f64::consts::PI * 55.0 * t).sin();
        let side = 0.02 * white();
        l.push((pink + bass + side) as f32);
        r.push((pink + bass - side) as f32);
    }
    AudioBuffer::new(fs, vec![l, r]).unwrap()
}

#[derive(serde::Deserialize)]
struct GoldenRow {
    features: Vec<f32>,
    genre: Vec<f32>,
    /// Absent for a point model (trained before ranges): low = centre = high.
    #[serde(default)]
    targets_low: Option<Vec<f32>>,
    targets: Vec<f32>,
    #[serde(default)]
    targets_high: Option<Vec<f32>>,
    genre_probabilities: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct Golden {
    genres: Vec<String>,
    rows: Vec<GoldenRow>,
}

#[test]
fn tract_reproduces_onnxruntime_golden_outputs() {
    let golden: Golden = serde_json::from_str(include_str!("../../models/golden.json")).unwrap();
    let model = Model::bundled().unwrap();
    let names: Vec<String> = model.genres().into_iter().map(|g| g.name).collect();
    assert_eq!(names, golden.genres);
    assert!(golden.rows.len() >= 3);
    for (k, row) in golden.rows.iter().enumerate() {
        let out = model.run_raw(&row.features, &row.genre).unwrap();
        // 1e-4 as asked of the two backends; targets are tens of dB, so the bound is relative
        // to max(1, |value|): f32 sums of ~100 products differ by a few ULP between backends.
        for (what, t, golden) in [
            (
                "low",
                &out.low,
                row.targets_low.as_ref().unwrap_or(&row.targets),
            ),
            ("centre", &out.centre, &row.targets),
            (
                "high",
                &out.high,
                row.targets_high.as_ref().unwrap_or(&row.targets),
            ),
        ] {
            assert_eq!(t.len(), golden.len());
            for (j, (a, b)) in t.iter().zip(golden).enumerate() {
                let tol = 1e-4 * b.abs().max(1.0);
                assert!(
                    (a - b).abs() <= tol,
                    "row {k} {what} target {j}: tract {a}, onnxruntime {b}"
                );
            }
        }
        for (j, (a, b)) in out
            .genre_probabilities
            .iter()
            .zip(&row.genre_probabilities)
            .enumerate()
        {
            assert!(
                (a - b).abs() <= 1e-4,
                "row {k} probability {j}: tract {a}, onnxruntime {b}"
            );
        }
    }
}

// ----- metadata edits: rewrite ModelProto.metadata_props (field 14) of the bundled model ------

fn varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// The bundled model with metadata `key` set to `value` (other fields copied byte for byte).
fn with_metadata(key: &str, value: &str) -> Vec<u8> {
    let b = BUNDLED_MODEL;
    let mut out = Vec::new();
    let mut pos = 0;
    let props = lathe::targets::model::read_metadata_props(b).unwrap();
    while pos < b.len() {
        let start = pos;
        let tag = varint(b, &mut pos);
        match tag & 7 {
            0 => {
                varint(b, &mut pos);
            }
            1 => pos += 8,
            2 => {
                let len = varint(b, &mut pos) as usize;
                pos += len;
            }
            5 => pos += 4,
            w => panic!("wire type {w}"),
        }
        if tag >> 3 != 14 {
            out.extend_from_slice(&b[start..pos]);
        }
    }
    for (k, v) in props {
        let v = if k == key { value.to_string() } else { v };
        let mut entry = Vec::new();
        put_bytes(&mut entry, 1, k.as_bytes());
        put_bytes(&mut entry, 2, v.as_bytes());
        put_bytes(&mut out, 14, &entry);
    }
    out
}

#[test]
fn metadata_round_trip_still_loads() {
    // Rewriting with the same schema keeps a loadable model: the edit helper is sound.
    let bytes = with_metadata(
        "lathe.features_schema_version",
        &lathe::analysis::FEATURES_SCHEMA_VERSION.to_string(),
    );
    assert!(Model::from_bytes(&bytes).is_ok());
}

#[test]
fn schema_mismatch_is_a_clear_error() {
    let bytes = with_metadata("lathe.features_schema_version", "999");
    let e = Model::from_bytes(&bytes).unwrap_err();
    assert!(matches!(e, Error::Model(_)));
    let msg = e.to_string();
    assert!(
        msg.contains("schema 999") && msg.contains("retrain"),
        "message: {msg}"
    );
}

#[test]
fn an_input_lathe_does_not_measure_is_a_clear_error() {
    let names = input_names();
    let mut listed = names[..3].to_vec();
    listed.push("loudness_of_the_moon_db".to_string());
    let e = Model::from_bytes(&with_metadata("lathe.input_names", &listed.join(","))).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("loudness_of_the_moon_db")
            && msg.contains(&format!("provides {}", names.len())),
        "message: {msg}"
    );
}

#[test]
fn a_model_reads_its_own_inputs_by_name() {
    // The bundled model lists its inputs; the row lathe builds for it has exactly that many
    // values, each the table's value of that name.
    let model = Model::bundled().unwrap();
    let mix = analyze(&generated_mix(6.0)).unwrap();
    let row = model.input_row(&mix);
    let names = &model.metadata().input_names;
    assert_eq!(row.len(), names.len());
    let all = lathe::targets::model::input_vector(&mix);
    let table = input_names();
    for (name, v) in names.iter().zip(&row) {
        let k = table.iter().position(|n| n == name).unwrap();
        assert_eq!(all[k], *v, "{name}");
    }
}

#[test]
fn not_a_model_is_a_clear_error() {
    let e = Model::from_bytes(b"this is not an onnx file").unwrap_err();
    assert!(matches!(e, Error::Model(_)), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("model.onnx");
    std::fs::write(&p, b"\x08\x08").unwrap();
    let msg = Model::from_file(&p).unwrap_err().to_string();
    assert!(
        msg.contains("model.onnx") && msg.contains("metadata"),
        "{msg}"
    );
}

#[test]
fn every_genre_gives_sane_targets() {
    let model = Model::bundled().unwrap();
    let mix = analyze(&generated_mix(12.0)).unwrap();
    for g in model.genres() {
        let range = model.predict_range(&mix, &g.name).unwrap();
        range.validate().unwrap();
        let t = range.resolve(&mix);
        // A chosen genre carries no classifier confidence (the classifier did not pick it).
        assert!(
            matches!(&t.source, TargetSource::Model { genre, confidence: None }
                if *genre == g.name),
            "{:?}",
            t.source
        );
        assert_eq!(t.mid_db.len(), BANDS);
        assert_eq!(t.side_db.len(), BANDS);
        assert_eq!(t.center_hz.len(), BANDS);
        // Bounds from the task: -30..-5 LUFS, width -40..+3 dB.
        assert!(
            (-30.0..=-5.0).contains(&t.integrated_lufs),
            "{}: {}",
            g.name,
            t.integrated_lufs
        );
        assert!(
            (-40.0..=3.0).contains(&t.width_db),
            "{}: {}",
            g.name,
            t.width_db
        );
        assert!(t.plr_db.is_finite() && t.plr_db > 0.0);
        assert!(t.short_term_spread_lu.is_finite() && t.short_term_spread_lu >= 0.0);
        assert_eq!(t.ceiling_dbtp, -1.0);
        assert_eq!(t.bandwidth_hz, mix.quality.bandwidth_hz);
        // Band curves (level minus integrated loudness) within +-40 dB between 40 Hz and
        // 16 kHz, where every genre has content; all finite.
        for (k, (&f, (&m, &s))) in t
            .center_hz
            .iter()
            .zip(t.mid_db.iter().zip(&t.side_db))
            .enumerate()
        {
            assert!(m.is_finite() && s.is_finite(), "{} band {k}", g.name);
            if (40.0..=16_000.0).contains(&f) {
                assert!(
                    (-40.0..=40.0).contains(&m),
                    "{} mid band {k} ({f:.0} Hz): {m}",
                    g.name
                );
            }
        }
    }
}

#[test]
fn percentiles_are_ordered_for_every_genre_on_generated_mixes() {
    let model = Model::bundled().unwrap();
    for seconds in [6.0, 12.0] {
        let mix = analyze(&generated_mix(seconds)).unwrap();
        for g in model.genres() {
            let p = model.predict_percentiles(&mix, &g.name).unwrap();
            assert_eq!(p.values.len(), lathe::targets::model::output_names().len());
            for (k, &(lo, c, hi)) in p.values.iter().enumerate() {
                assert!(
                    lo.is_finite() && lo <= c && c <= hi,
                    "{} output {k}: {lo} {c} {hi}",
                    g.name
                );
            }
        }
    }
}

/// A hand-built model (`tests/it/common/onnx.rs`) with two genres: every band centre follows the
/// mix's own band plus `offset_db[genre]`, the loudness centre is `lufs[genre]`, the other
/// scalars fixed; `half_width`: asymmetric percentile spreads, or `None` for a point model.
fn test_model(lufs: [f32; 2], offset_db: [f32; 2], ranged: bool) -> Model {
    use lathe::targets::model::output_names;
    let inputs = input_names();
    let outputs = output_names();
    let o = outputs.len();
    let out = |name: &str| outputs.iter().position(|n| n == name).unwrap();
    let centre = |g: usize| -> Vec<f32> {
        let mut c = vec![offset_db[g]; o];
        c[out("target_integrated_lufs")] = lufs[g];
        c[out("target_plr_db")] = 10.0;
        c[out("target_short_term_spread_lu")] = 6.0;
        c[out("target_width_db")] = -12.0;
        c
    };
    let follow = (0..2 * BANDS)
        .map(|k| {
            let name = if k < BANDS {
                format!("mid_norm_db_{k:02}")
            } else {
                format!("side_norm_db_{:02}", k - BANDS)
            };
            (inputs.iter().position(|n| *n == name).unwrap(), k)
        })
        .collect();
    // Below 1 + k/100, above 2 - k/100: every output its own, asymmetric spread.
    let half_width = ranged.then(|| {
        (
            (0..o).map(|k| 1.0 + k as f32 / 100.0).collect(),
            (0..o).map(|k| 2.0 - k as f32 / 100.0).collect(),
        )
    });
    let bytes = common::onnx::model(&common::onnx::Spec {
        inputs,
        genres: vec![
            ("electronic".into(), 90.0, 30),
            ("ambient".into(), 75.0, 20),
        ],
        centre: vec![centre(0), centre(1)],
        follow,
        half_width,
        // softmax([0, ln 3]) = [0.25, 0.75].
        logits: vec![0.0, 3f32.ln()],
    });
    Model::from_bytes(&bytes).unwrap()
}

#[test]
fn a_range_model_gives_its_percentiles_as_an_ordered_range_for_every_genre() {
    let model = test_model([-9.0, -18.0], [0.5, -0.5], true);
    assert!(model.metadata().has_ranges);
    for seconds in [6.0, 12.0] {
        let mix = analyze(&generated_mix(seconds)).unwrap();
        for (g, (name, offset)) in [("electronic", 0.5), ("ambient", -0.5)].iter().enumerate() {
            let r = model.predict_range(&mix, name).unwrap();
            r.validate().unwrap();
            for (k, band) in r.mid_db.iter().chain(&r.side_db).enumerate() {
                assert!(band.low <= band.centre && band.centre <= band.high);
                // Exactly the graph's numbers: the mix's band (as the f32 input row has it)
                // plus the genre's offset, minus and plus the output's spreads (f32 sums).
                let x = if k < BANDS {
                    mix.spectrum.mid_norm_db[k]
                } else {
                    mix.spectrum.side_norm_db[k - BANDS]
                };
                let x = x.clamp(-100.0, 20.0) as f32;
                let c = x + *offset as f32;
                let (below, above) = (1.0 + k as f32 / 100.0, 2.0 - k as f32 / 100.0);
                assert_eq!(band.centre, f64::from(c), "{name} output {k}");
                assert_eq!(band.low, f64::from(c - below), "{name} output {k}");
                assert_eq!(band.high, f64::from(c + above), "{name} output {k}");
            }
            let lufs = [-9.0, -18.0][g];
            assert_eq!(r.integrated_lufs.centre, lufs);
            assert!(r.integrated_lufs.low < lufs && lufs < r.integrated_lufs.high);
            assert_eq!(r.width_db.centre, -12.0);
            assert!(matches!(&r.source,
                TargetSource::Model { genre, confidence: None } if genre == name));
        }
    }
}

#[test]
fn the_bundled_model_gives_an_ordered_range_for_every_genre() {
    let model = Model::bundled().unwrap();
    for seconds in [6.0, 12.0] {
        let mix = analyze(&generated_mix(seconds)).unwrap();
        for g in model.genres() {
            let r = model.predict_range(&mix, &g.name).unwrap();
            r.validate().unwrap();
            let (_, auto) = model.predict_range_detected(&mix).unwrap();
            auto.validate().unwrap();
        }
    }
}

#[test]
fn a_point_model_gives_a_point_range_whose_targets_are_its_medians() {
    let model = test_model([-9.0, -18.0], [0.5, -0.5], false);
    assert!(!model.metadata().has_ranges);
    let mix = analyze(&generated_mix(8.0)).unwrap();
    let r = model.predict_range(&mix, "ambient").unwrap();
    for band in r.mid_db.iter().chain(&r.side_db).chain([
        &r.integrated_lufs,
        &r.plr_db,
        &r.short_term_spread_lu,
        &r.width_db,
    ]) {
        assert!(
            band.low == band.centre && band.centre == band.high,
            "{band:?}"
        );
    }
    // Resolving a point range gives its centres whatever the mix: the old point targets.
    assert_eq!(r.resolve(&mix), r.centre());
    assert_eq!(r.integrated_lufs.centre, -18.0);
}

#[test]
fn only_a_detected_genre_carries_the_classifier_confidence() {
    let model = test_model([-9.0, -18.0], [0.0, 0.0], true);
    let mix = analyze(&generated_mix(6.0)).unwrap();
    let ((genre, p, all), range) = model.predict_range_detected(&mix).unwrap();
    assert_eq!(genre, "ambient");
    assert!((p - 0.75).abs() < 1e-6, "{p}");
    assert_eq!(all.len(), 2);
    assert!(matches!(&range.source,
        TargetSource::Model { genre, confidence: Some(c) } if genre == "ambient" && *c == p));
    // The detected genre's range is the chosen genre's, apart from the source.
    let chosen = model.predict_range(&mix, "ambient").unwrap();
    assert!(matches!(
        &chosen.source,
        TargetSource::Model {
            confidence: None,
            ..
        }
    ));
    assert_eq!(chosen.mid_db, range.mid_db);
    assert_eq!(chosen.integrated_lufs, range.integrated_lufs);
}

#[test]
fn the_chosen_genre_moves_the_loudness_target_by_its_range() {
    // The test: rock vs ambient >= 4 LU apart on the same mix, set by the genre's
    // range itself (a range model: no post-hoc blend toward genre medians is applied).
    let model = Model::bundled().unwrap();
    assert!(
        model.metadata().has_ranges,
        "the bundled model must be a range model"
    );
    for seconds in [8.0, 12.0] {
        let mix = analyze(&generated_mix(seconds)).unwrap();
        let lufs = |g: &str| {
            let t = model.predict_range(&mix, g).unwrap().resolve(&mix);
            t.integrated_lufs
        };
        let (rock, ambient) = (lufs("rock"), lufs("ambient"));
        eprintln!("{seconds} s mix: rock {rock:.2} LUFS, ambient {ambient:.2} LUFS");
        assert!(rock - ambient >= 4.0, "rock {rock} vs ambient {ambient}");
    }
}

#[test]
fn aliases_and_unknown_genres() {
    let model = Model::bundled().unwrap();
    let names: Vec<String> = model.genres().into_iter().map(|g| g.name).collect();
    if names.iter().any(|n| n == "rock-metal") {
        assert_eq!(model.resolve_genre("Metal").unwrap(), "rock-metal");
        assert_eq!(model.resolve_genre("rock").unwrap(), "rock-metal");
    }
    let msg = model.resolve_genre("polka").unwrap_err().to_string();
    for n in &names {
        assert!(msg.contains(n.as_str()), "{msg} should list {n}");
    }
    let mix = analyze(&generated_mix(5.0)).unwrap();
    assert!(model.predict_range(&mix, "polka").is_err());
}

#[test]
fn detect_genre_returns_a_known_genre() {
    let model = Model::bundled().unwrap();
    let mix = analyze(&generated_mix(8.0)).unwrap();
    let (genre, p, all) = model.detect_genre(&mix).unwrap();
    let names: Vec<String> = model.genres().into_iter().map(|g| g.name).collect();
    assert!(names.contains(&genre));
    assert!((0.0..=1.0).contains(&p));
    assert_eq!(all.len(), names.len());
    assert_eq!(all[0], (genre, p));
    // Softmax outputs sum to one (f32 rounding over a handful of genres).
    let total: f64 = all.iter().map(|(_, q)| q).sum();
    assert!((total - 1.0).abs() < 1e-5, "{total}");
    assert!(all.windows(2).all(|w| w[0].1 >= w[1].1));
}

#[test]
fn a_mix_analysed_without_genre_features_is_refused_not_read_as_zeros() {
    let model = Model::bundled().unwrap();
    let audio = generated_mix(8.0);
    let mix = lathe::analysis::analyze_with(&audio, lathe::analysis::Detail::Mastering).unwrap();
    let genre = model.genres()[0].name.clone();
    for e in [
        model.detect_genre(&mix).map(|_| ()).unwrap_err(),
        model.predict_range(&mix, &genre).map(|_| ()).unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Model(m) if m.contains("genre features")),
            "{e}"
        );
    }
    // The full analysis of the same audio is read.
    assert!(model.detect_genre(&analyze(&audio).unwrap()).is_ok());
}

#[test]
fn genres_report_their_data() {
    let model = Model::bundled().unwrap();
    let genres = model.genres();
    assert!(!genres.is_empty());
    for g in &genres {
        assert!(
            g.minutes > 0.0 && g.minutes.is_finite() && g.tracks > 0,
            "{g:?}"
        );
        // Game-music masters sit between about -20 and -6 LUFS (datasets.md).
        let lufs = g
            .master_lufs_median
            .expect("bundled model lists master loudness");
        assert!((-25.0..=-5.0).contains(&lufs), "{g:?}");
        let plr = g
            .master_plr_db_median
            .expect("bundled model lists master PLR");
        assert!((3.0..=30.0).contains(&plr), "{g:?}");
    }
}

#[test]
fn dataset_rows_are_deterministic_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut manifest = String::from("path,genre,source,track,license\n");
    for (k, seconds) in [6.0, 7.0].iter().enumerate() {
        let name = format!("m{k}.wav");
        let mut w = hound::WavWriter::create(dir.path().join(&name), spec).unwrap();
        let a = generated_mix(*seconds);
        for (l, r) in a.channels[0].iter().zip(&a.channels[1]) {
            w.write_sample(*l).unwrap();
            w.write_sample(*r).unwrap();
        }
        w.finalize().unwrap();
        manifest.push_str(&format!("{name},electronic,pkg{k},t{k},own\n"));
    }
    // One entry that cannot be decoded: skipped and reported, not fatal.
    std::fs::write(dir.path().join("bad.wav"), b"not audio").unwrap();
    manifest.push_str("bad.wav,electronic,pkg9,bad,own\n");
    let m = dir.path().join("manifest.csv");
    std::fs::write(&m, manifest).unwrap();
    let run = |threads: usize, out: &str| {
        let out = dir.path().join(out);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let s = pool
            .install(|| {
                let v = lathe::dataset::Variants {
                    audio: 2,
                    tonal: 2,
                    max_seconds: 120.0,
                };
                lathe::dataset::build_dataset(&m, &out, v, 7, &|_, _| {})
            })
            .unwrap();
        (s, std::fs::read_to_string(out).unwrap())
    };
    let (s1, csv1) = run(1, "a.csv");
    let (s2, csv2) = run(2, "b.csv");
    assert_eq!(csv1, csv2, "dataset differs between 1 and 2 threads");
    assert_eq!(
        (s1.tracks, s1.rows, s1.skipped.len()),
        (2, 8, 1),
        "skipped: {:?}",
        s1.skipped
    );
    assert_eq!(s1, s2);
    let mut lines = csv1.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, lathe::dataset::dataset_header());
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 8);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (audio, tonal, peak) = (col("audio_variant"), col("tonal_variant"), col("peak_dbfs"));
    let x0 = col("x_mid_norm_db_00");
    let y0 = col("y_target_mid_db_00");
    for r in &rows {
        assert_eq!(r.len(), header.len());
        assert!(r
            .iter()
            .skip(3)
            .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)));
        let p: f64 = r[peak].parse().unwrap();
        if r[audio] == "0" && r[tonal] == "0" {
            // The undegraded master: its inputs are its own targets, band by band.
            for k in 0..2 * BANDS {
                assert_eq!(r[x0 + k], r[y0 + k], "band {k}");
            }
        } else if r[tonal] == "0" {
            // A rendered mix peaks where it was put: -8..-3 dBFS.
            assert!((-8.001..=-2.999).contains(&p), "peak {p}");
        }
    }
}

#[test]
fn feature_domain_eq_matches_a_rendered_eq() {
    // Shelves, bells and a tilt, bigger than the training draws: the feature-domain
    // prediction of the EQ'd mix against the analysis of the rendered EQ.
    let tonal = TonalChange {
        tilt_db_per_decade: 0.8,
        low_shelf: (120.0, 4.0),
        high_shelf: (6000.0, -4.0),
        bells: vec![(1000.0, 5.0, 2.0), (250.0, -4.0, 1.0)],
    };
    for (name, audio) in [
        ("generated mix", generated_mix(20.0)),
        (
            "tilted noise",
            report_signals::programme(44_100 * 20, 3, -18.0, |f| {
                report_signals::bump(f, 3000.0, -6.0, 2.0) - 3.0 * (f / 1000.0).log2()
            }),
        ),
    ] {
        let before = analyze(&audio).unwrap();
        let predicted = apply_tonal(&before, &tonal);
        let measured = analyze(&tonal.render(&audio).unwrap()).unwrap();
        let c = &measured.spectrum.center_hz;
        for k in 0..BANDS {
            // Bands with content, 25 Hz..16 kHz (the 20 Hz band holds 2 FFT bins).
            if !(25.0..=16_000.0).contains(&c[k]) || before.spectrum.mid_norm_db[k] < -60.0 {
                continue;
            }
            for (what, p, m) in [
                (
                    "mid",
                    &predicted.spectrum.mid_norm_db,
                    &measured.spectrum.mid_norm_db,
                ),
                (
                    "side",
                    &predicted.spectrum.side_norm_db,
                    &measured.spectrum.side_norm_db,
                ),
            ] {
                assert!(
                    (p[k] - m[k]).abs() <= 0.2,
                    "{name}: {what} band {k} ({:.0} Hz): feature domain {:.2} dB, rendered {:.2} dB",
                    c[k],
                    p[k],
                    m[k]
                );
            }
        }
        let (pl, ml) = (
            predicted.loudness.integrated_lufs,
            measured.loudness.integrated_lufs,
        );
        assert!(
            (pl - ml).abs() <= 0.2,
            "{name}: loudness {pl:.2} vs {ml:.2}"
        );
        let (pw, mw) = (predicted.stereo.width_db, measured.stereo.width_db);
        assert!((pw - mw).abs() <= 0.2, "{name}: width {pw:.2} vs {mw:.2}");
    }
}

#[derive(serde::Deserialize)]
struct EqCase {
    mix_mid: Vec<f64>,
    target_mid: Vec<f64>,
    bandwidth_hz: f64,
    eq_mid: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct Mirrors {
    eq_cases: Vec<EqCase>,
}

#[test]
fn python_mirror_of_the_eq_conditioning_matches_rust() {
    // training/train.py evaluates what the renderer would do with its own copy of
    // `condition_band_gains` (and the renderer's default limits); the cases it wrote into
    // golden.json must come out of the Rust function unchanged (f64 arithmetic on both sides,
    // same order: 1e-9 dB).
    use lathe::render::eq::{condition_band_gains, EqLimits, NO_CONTENT_BELOW_DB};
    let m: Mirrors = serde_json::from_str(include_str!("../../models/golden.json")).unwrap();
    assert!(m.eq_cases.len() >= 3);
    let defaults = lathe::render::RenderSettings::default();
    let centres = lathe::targets::model::band_centers_hz();
    for (k, c) in m.eq_cases.iter().enumerate() {
        let raw: Vec<f64> = c
            .target_mid
            .iter()
            .zip(&c.mix_mid)
            .map(|(t, x)| t - x)
            .collect();
        let limits = EqLimits {
            max_boost_db: defaults.max_boost_db,
            max_cut_db: defaults.max_cut_db,
            // The cases are at 44.1 kHz: Nyquist or the bandwidth, whichever is lower.
            no_boost_above_hz: c.bandwidth_hz.min(22_050.0),
            mix_has_content: c.mix_mid.iter().map(|&v| v > NO_CONTENT_BELOW_DB).collect(),
            target_has_content: c
                .target_mid
                .iter()
                .map(|&v| v > NO_CONTENT_BELOW_DB)
                .collect(),
        };
        let g = condition_band_gains(&centres, &raw, &limits);
        for (i, (a, b)) in g.iter().zip(&c.eq_mid).enumerate() {
            assert!(
                (a - b).abs() < 1e-9,
                "case {k} band {i}: Rust {a}, Python {b}"
            );
        }
    }
}
