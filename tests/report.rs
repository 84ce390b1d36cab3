//! The engineer's report: JSON snapshot, HTML content, the parametric EQ fit against the
//! renderer's curves, every warning on an input made to trigger it (and none on a clean one),
//! the A/B preview, and the loudness presets end to end through the `lathe` binary.
//!
//! Signals are generated (noise with a known spectrum, `report_signals`); loudness and true peak
//! are measured by `ebur128`.

mod report_signals;

use std::path::Path;

use assert_cmd::Command;
use lathe::analysis::Features;
use lathe::render::chain::{render, RenderSettings};
use lathe::report::fit::{FIT_HIGH_HZ, FIT_LOW_HZ};
use lathe::report::preview::excerpts;
use lathe::report::warnings::{self as w, input_warnings, CODES};
use lathe::report::{build, html, json, Aim, PresetAim, Report, ReportInput};
use lathe::targets::blend::Overrides;
use lathe::targets::presets::PRESETS;
use lathe::targets::reference::from_reference;
use lathe::{analyze, AudioBuffer};
use report_signals::*;

/// 2^19 frames at 44.1 kHz: 11.9 s, past the 10 s of `W_SHORT_INPUT`.
const LONG: usize = 1 << 19;
/// 2^18 frames: 5.9 s.
const SHORT: usize = 1 << 18;

/// A gentle reference shape: a little more air and a little less low-mid than pink.
fn reference_shape(f: f64) -> f64 {
    shelf_up(f, 6_000.0, 2.0) + bump(f, 300.0, -1.5, 1.0)
}

/// `mix.wav` (flat, -20 LUFS, noise seed `seed`) and `reference.wav` (`reference_shape`,
/// -12 LUFS, seed `seed + 1`) in `dir`.
fn write_mix_and_reference(dir: &Path, seed: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let mix = dir.join("mix.wav");
    let reference = dir.join("reference.wav");
    write_wav(&mix, &programme(SHORT, seed, -20.0, |_| 0.0));
    write_wav(
        &reference,
        &programme(SHORT, seed + 1, -12.0, reference_shape),
    );
    (mix, reference)
}

fn clean_mix() -> AudioBuffer {
    programme(LONG, 1, -20.0, |_| 0.0)
}

fn reference() -> AudioBuffer {
    programme(LONG, 7, -14.0, reference_shape)
}

/// Analyses, renders toward `reference` (with `overrides`) and builds the report.
fn report_for(mix: &AudioBuffer, reference: &AudioBuffer, overrides: Overrides) -> Report {
    let (mix_f, ref_f) = (analyze(mix).unwrap(), analyze(reference).unwrap());
    let targets = overrides
        .apply(from_reference(&ref_f, "reference.wav").unwrap())
        .unwrap();
    let rendered = render(mix, &mix_f, &targets, &RenderSettings::default()).unwrap();
    let after = analyze(&rendered.audio).unwrap();
    build(&ReportInput {
        mix_name: "mix.wav",
        output_name: "master.wav",
        before: &mix_f,
        after: &after,
        targets: &targets,
        log: &rendered.log,
        aim: &Aim::default(),
    })
}

fn codes(r: &Report) -> Vec<&str> {
    r.warnings.iter().map(|w| w.code.as_str()).collect()
}

/// Replaces arrays longer than 40 values with their length: the snapshot keeps every number
/// of the notes, tables and settings, and the curves' sizes.
fn shorten(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Array(a) if a.len() > 40 => {
            *v = serde_json::Value::String(format!("[{} values]", a.len()));
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(shorten),
        serde_json::Value::Object(m) => m.values_mut().for_each(shorten),
        _ => {}
    }
}

#[test]
fn json_snapshot_of_a_generated_mix() {
    let report = report_for(&clean_mix(), &reference(), Overrides::default());
    let text = json::to_json(&report).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    // 2 decimals: the render is deterministic, but the snapshot should not depend on the last
    // bits of an FFT library's SIMD path on another CPU.
    json::round_floats(&mut value, 2);
    shorten(&mut value);
    insta::assert_snapshot!("report_json", serde_json::to_string_pretty(&value).unwrap());
    // No NaN can reach the JSON: serde_json writes non-finite numbers as null.
    assert!(!text.contains("NaN") && !text.contains("inf"));
}

#[test]
fn html_contains_the_plots_the_notes_and_nothing_external() {
    let mut report = report_for(&clean_mix(), &reference(), Overrides::default());
    report.mix = "mix <&> \"quoted\".wav".to_string();
    report.aim.preset = Some(PresetAim {
        name: "spotify".into(),
        label: "Spotify".into(),
        integrated_lufs: -14.0,
        ceiling_dbtp: -1.0,
    });
    let page = html::to_html(&report).unwrap();
    for id in [
        "plot-tonal-mid",
        "plot-tonal-side",
        "plot-eq",
        "plot-loudness",
        "plot-gain-reduction",
    ] {
        let start = page
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no {id}"));
        let end = start + page[start..].find("</figure>").unwrap();
        let figure = &page[start..end];
        assert!(figure.contains("<svg") && figure.contains("</svg>"), "{id}");
        // Plots have drawn lines (polylines/paths), not just axes.
        assert!(
            figure.contains("<polyline") || figure.contains("<path"),
            "{id}"
        );
    }
    assert_eq!(page.matches("<svg").count(), 5);
    for line in &report.notes.lines {
        assert!(page.contains(&html::esc(line)), "missing note: {line}");
    }
    assert!(page.contains("Engineer&#39;s notes") || page.contains("Engineer's notes"));
    assert!(page.contains("Mid EQ:") && page.contains("Limiter: ceiling -1.0 dBTP"));
    assert!(page.contains("mix &lt;&amp;&gt; &quot;quoted&quot;.wav"));
    assert!(page.contains("preset Spotify (-14.0 LUFS, -1.0 dBTP)"));
    // Self-contained: no script, no stylesheet link, nothing fetched.
    for banned in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
    ] {
        assert!(!page.contains(banned), "{banned}");
    }
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
}

/// Largest difference between the fit's cookbook response and the applied curve, 30 Hz to
/// 16 kHz, computed here from the fitted filters.
fn fit_error_db(freq: &[f64], curve: &[f64], fit: &lathe::report::fit::EqFit) -> f64 {
    freq.iter()
        .zip(curve)
        .filter(|(f, _)| (FIT_LOW_HZ..=FIT_HIGH_HZ).contains(*f))
        .map(|(&f, &g)| (fit.response_db(f) - g).abs())
        .fold(0.0, f64::max)
}

#[test]
fn parametric_fit_reproduces_the_applied_curves_within_1_db() {
    type Shape = fn(f64) -> f64;
    let shapes: [(&str, Shape); 3] = [
        ("tilt", |f| 1.5 * (f / 1000.0).log2()),
        ("bass bump, presence dip", |f| {
            bump(f, 80.0, 5.0, 0.7) + bump(f, 3000.0, -3.0, 0.8)
        }),
        ("air shelf, low cut", |f| {
            shelf_up(f, 8000.0, 6.0) - 4.0 + shelf_up(f, 100.0, 4.0)
        }),
    ];
    let mix = programme(SHORT, 11, -20.0, |_| 0.0);
    let mut cases: Vec<(String, Report)> = Vec::new();
    for (name, shape) in shapes {
        let reference = programme(SHORT, 12, -16.0, shape);
        cases.push((
            name.to_string(),
            report_for(&mix, &reference, Overrides::default()),
        ));
    }
    // The bundled example: a real-ish curve with narrow wiggles and a mono-bass side high-pass.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example");
    let ex_mix = lathe::io::decode::decode_file(&data.join("mix.flac")).unwrap();
    let ex_ref = lathe::io::decode::decode_file(&data.join("reference.flac")).unwrap();
    cases.push((
        "bundled example".into(),
        report_for(&ex_mix, &ex_ref, Overrides::default()),
    ));
    for (name, r) in &cases {
        let c = &r.curves;
        let mid = fit_error_db(&c.eq_freq_hz, &c.eq_mid_db, &r.notes.mid_eq);
        let side_fit = r.notes.side_eq.as_ref().unwrap();
        let side = fit_error_db(&c.eq_freq_hz, &c.eq_side_db, side_fit);
        // The requirement: within 1 dB everywhere from 30 Hz to 16 kHz.
        assert!(
            mid <= 1.0,
            "{name}: mid fit off by {mid:.2} dB: {:?}",
            r.notes.mid_eq
        );
        assert!(
            side <= 1.0,
            "{name}: side fit off by {side:.2} dB: {side_fit:?}"
        );
        // The reported error is the real one.
        assert!((r.notes.mid_eq.max_error_db - mid).abs() < 1e-9, "{name}");
        // A handful: at most 6 fitted filters (+ the fixed high-pass sections), and no filter
        // split into two of the same kind at nearly the same place (a quarter octave, Q
        // within a factor 1.5).
        for fit in [&r.notes.mid_eq, side_fit] {
            let fitted: Vec<_> = fit
                .filters
                .iter()
                .filter(|f| f.kind != lathe::report::fit::FilterKind::HighPass)
                .collect();
            assert!(fitted.len() <= 6, "{name}: {fit:?}");
            for (i, a) in fitted.iter().enumerate() {
                for b in &fitted[i + 1..] {
                    let twin = a.kind == b.kind
                        && (a.freq_hz / b.freq_hz).log2().abs() < 0.25
                        && (a.q / b.q).ln().abs() < 0.4;
                    assert!(!twin, "{name}: twins {a:?} {b:?}");
                }
            }
        }
        // The curve really moved, so the fit is not trivially flat.
        let moved = c.eq_mid_db.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(moved > 1.0, "{name}: EQ moved only {moved:.2} dB");
    }
    // The example's reference has mono bass: the side fit carries the renderer's high-pass.
    let example = &cases[3].1;
    assert!(
        example.notes.side_eq.as_ref().unwrap().filters[0].kind
            == lathe::report::fit::FilterKind::HighPass
    );
    assert!(example
        .notes
        .lines
        .iter()
        .any(|l| l.contains("high-pass at 120 Hz")));
}

// ---------- warnings ----------

fn input_codes(audio: &AudioBuffer) -> Vec<String> {
    let f: Features = analyze(audio).unwrap();
    input_warnings(&f).into_iter().map(|w| w.code).collect()
}

#[test]
fn a_clean_mix_raises_no_warning() {
    let report = report_for(&clean_mix(), &reference(), Overrides::default());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn every_code_is_documented_in_the_readme() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for c in CODES {
        assert!(readme.contains(&format!("`{}`", c.code)), "{}", c.code);
    }
}

#[test]
fn clipping_fires_with_its_count() {
    let mut ch = clean_mix().channels;
    // 100 samples in a row at full scale, on both channels: 200 clipped samples.
    for c in &mut ch {
        for s in &mut c[10_000..10_100] {
            *s = 1.0;
        }
    }
    let f = analyze(&buffer(ch)).unwrap();
    let warns = input_warnings(&f);
    let clip = warns.iter().find(|w| w.code == w::W_CLIPPING).unwrap();
    assert_eq!(clip.evidence["clipped_samples"], 200.0);
}

#[test]
fn true_peak_over_fires_on_inter_sample_peaks() {
    // fs/4 sine at 45 degrees, amplitude 1.15: samples at +-0.813 (no clipping), true peak
    // +1.2 dBTP (EBU Tech 3341 case 15 shape).
    let n = LONG;
    let base = clean_mix();
    let ch: Vec<Vec<f32>> = base
        .channels
        .iter()
        .map(|c| {
            c.iter()
                .enumerate()
                .map(|(i, &s)| {
                    let tone = if (44_100..88_200).contains(&i) {
                        1.15 * (std::f64::consts::FRAC_PI_2 * i as f64
                            + std::f64::consts::FRAC_PI_4)
                            .sin()
                    } else {
                        0.0
                    };
                    (f64::from(s) * 0.1 + tone) as f32
                })
                .collect()
        })
        .collect();
    assert_eq!(ch[0].len(), n);
    let codes = input_codes(&buffer(ch));
    assert!(
        codes.contains(&w::W_TRUE_PEAK_OVER.to_string()),
        "{codes:?}"
    );
    assert!(!codes.contains(&w::W_CLIPPING.to_string()), "{codes:?}");
}

#[test]
fn already_limited_fires_on_a_squashed_mix() {
    // Pink noise driven 12 dB into a hard limit at 0.5, then at 0.9: PLR about 6 dB, many
    // samples at the peak.
    let ch: Vec<Vec<f32>> = programme(LONG, 3, -14.0, |_| 0.0)
        .channels
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|s| (s * 4.0).clamp(-0.5, 0.5) * 1.8)
                .collect()
        })
        .collect();
    let codes = input_codes(&buffer(ch));
    assert!(
        codes.contains(&w::W_ALREADY_LIMITED.to_string()),
        "{codes:?}"
    );
}

#[test]
fn lossy_bandwidth_fires_on_a_15_khz_brickwall() {
    // Nothing above 15 kHz (exactly: the noise's spectrum is zero there), as MP3 at 128 kb/s.
    let shape = |f: f64| if f > 15_000.0 { -400.0 } else { 0.0 };
    let audio = programme(LONG, 4, -20.0, shape);
    let f = analyze(&audio).unwrap();
    let warns = input_warnings(&f);
    let lossy = warns
        .iter()
        .find(|w| w.code == w::W_LOSSY_BANDWIDTH)
        .unwrap_or_else(|| panic!("{warns:?}"));
    let bw = lossy.evidence["bandwidth_hz"];
    // The analysis reports the band edge in 250 Hz steps.
    assert!((15_000.0..=15_500.0).contains(&bw), "{bw}");
}

#[test]
fn low_end_phase_fires_on_antiphase_bass() {
    // A 60 Hz bass in opposite polarity on L and R over a clean mix: it cancels in mono.
    let base = clean_mix();
    let bass: Vec<f64> = (0..LONG)
        .map(|i| 0.2 * (2.0 * std::f64::consts::PI * 60.0 * i as f64 / f64::from(FS)).sin())
        .collect();
    let ch = vec![
        base.channels[0]
            .iter()
            .zip(&bass)
            .map(|(&s, b)| (f64::from(s) + b) as f32)
            .collect(),
        base.channels[1]
            .iter()
            .zip(&bass)
            .map(|(&s, b)| (f64::from(s) - b) as f32)
            .collect(),
    ];
    let codes = input_codes(&buffer(ch));
    assert!(codes.contains(&w::W_LOW_END_PHASE.to_string()), "{codes:?}");
}

#[test]
fn short_and_quiet_inputs_fire() {
    let short = programme(SHORT, 5, -20.0, |_| 0.0);
    let codes = input_codes(&short);
    assert!(codes.contains(&w::W_SHORT_INPUT.to_string()), "{codes:?}");
    let quiet = programme(LONG, 5, -42.0, |_| 0.0);
    let codes = input_codes(&quiet);
    assert!(codes.contains(&w::W_QUIET_INPUT.to_string()), "{codes:?}");
    assert!(!codes.contains(&w::W_SHORT_INPUT.to_string()), "{codes:?}");
}

#[test]
fn extreme_eq_and_heavy_limiting_fire() {
    // A reference with 10 dB more air than the mix: the EQ boosts past 6 dB.
    let bright = programme(LONG, 7, -14.0, |f| shelf_up(f, 4000.0, 10.0));
    let r = report_for(&clean_mix(), &bright, Overrides::default());
    let eq = r
        .warnings
        .iter()
        .find(|w| w.code == w::W_EQ_EXTREME)
        .unwrap_or_else(|| panic!("{:?}", r.warnings));
    assert!(eq.evidence["gain_db"].abs() > 6.0, "{eq:?}");
    assert!(!codes(&r).contains(&w::W_LIMIT_HEAVY));

    // Pink noise (PLR about 13 dB) pushed to -6 LUFS under a -1 dBTP ceiling: the limiter must
    // take about 8 dB off the peaks.
    let loud = Overrides {
        integrated_lufs: Some(-6.0),
        ceiling_dbtp: Some(-1.0),
    };
    let r = report_for(&clean_mix(), &reference(), loud);
    let heavy = r
        .warnings
        .iter()
        .find(|w| w.code == w::W_LIMIT_HEAVY)
        .unwrap_or_else(|| panic!("{:?}", r.warnings));
    assert!(heavy.evidence["peak_gain_reduction_db"] > 6.0);
    assert!(!codes(&r).contains(&w::W_EQ_EXTREME));
}

#[test]
fn renderer_warnings_pass_through_with_their_codes() {
    // Clicks in silence pushed to -8 LUFS: far more than 12 dB of limiting.
    let mut l = vec![0.0f32; LONG];
    for k in (0..LONG).step_by(4410) {
        l[k] = 0.5;
    }
    let clicks = buffer(vec![l.clone(), l]);
    let loud = Overrides {
        integrated_lufs: Some(-8.0),
        ceiling_dbtp: Some(-1.0),
    };
    let r = report_for(&clicks, &reference(), loud);
    let extreme = r
        .warnings
        .iter()
        .find(|w| w.code == "W_LIMIT_EXTREME")
        .unwrap_or_else(|| panic!("{:?}", r.warnings));
    assert!(extreme.message.contains("limiting"), "{}", extreme.message);
    assert!(CODES.iter().any(|c| c.code == "W_LIMIT_EXTREME"));
}

// ---------- preview ----------

#[test]
fn preview_cuts_the_loudest_30_s_at_matched_loudness() {
    // 60 s: quiet (-30 LUFS) except 20..50 s (-14 LUFS). The "master" is the mix 6 dB louder
    // with a brighter top, so the two excerpts must be brought together.
    let fs = FS;
    let frames = 60 * fs as usize;
    let noise = pink(frames, 21);
    let mix: Vec<f32> = noise
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let t = i as f64 / f64::from(fs);
            let g = if (20.0..50.0).contains(&t) { 1.0 } else { 0.16 };
            (f64::from(s) * g) as f32
        })
        .collect();
    let mix = buffer(vec![mix.clone(), mix]);
    let master = buffer(
        mix.channels
            .iter()
            .map(|c| c.iter().map(|&s| s * 2.0).collect())
            .collect(),
    );
    let f = analyze(&mix).unwrap();
    let p = excerpts(&mix, &master, &f, 30.0).unwrap();
    assert!((p.length_s - 30.0).abs() < 1e-6);
    // The loud section starts at 20 s; the short-term readings (3 s windows every 0.1 s)
    // locate it to within a reading or two.
    assert!((p.start_s - 20.0).abs() <= 0.3, "start {}", p.start_s);
    let (la, _) = measure(&p.mix.channels, fs);
    let (lb, _) = measure(&p.master.channels, fs);
    // Matched by BS.1770 integrated loudness; the 20 ms fades change it by far less than
    // 0.05 LU over 30 s.
    assert!((la - lb).abs() < 0.05, "{la} vs {lb}");
    assert!(p.mix_gain_db <= 0.0 && p.master_gain_db <= 0.0);
    assert!(
        (p.master_gain_db - -6.02).abs() < 0.05,
        "{}",
        p.master_gain_db
    );
}

// ---------- presets, report and preview through the binary ----------

#[test]
fn every_preset_lands_on_its_loudness_under_its_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, reference_path) = write_mix_and_reference(dir.path(), 31);
    let out = dir.path().join("master.wav");
    let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
    Command::cargo_bin("lathe")
        .unwrap()
        .arg("match")
        .arg(&mix)
        .arg(&reference_path)
        .arg("-o")
        .arg(&out)
        .arg("--preset")
        .arg(names.join(","))
        .arg("--report")
        .arg(dir.path().join("report.html"))
        .assert()
        .success();
    for p in PRESETS {
        let path = dir.path().join(format!("master.{}.wav", p.name));
        let audio = lathe::io::decode::decode_file(&path).unwrap();
        let (lufs, tp) = measure(&audio.channels, audio.sample_rate_hz);
        // 0.2 LU: the tolerance (the renderer aims at 0.1 LU).
        assert!(
            (lufs - p.integrated_lufs).abs() <= 0.2,
            "{}: {lufs:.2} LUFS, wanted {}",
            p.name,
            p.integrated_lufs
        );
        // Under the ceiling by ebur128's own true-peak meter, after 24-bit quantisation.
        assert!(
            tp <= p.ceiling_dbtp,
            "{}: {tp:.3} dBTP over {}",
            p.name,
            p.ceiling_dbtp
        );
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("report.{}.json", p.name))).unwrap(),
        )
        .unwrap();
        assert_eq!(json["aim"]["preset"]["name"], p.name);
        assert!(dir.path().join(format!("report.{}.html", p.name)).exists());
    }
}

#[test]
fn explicit_loudness_and_ceiling_override_the_preset() {
    let dir = tempfile::tempdir().unwrap();
    let (mix, reference_path) = write_mix_and_reference(dir.path(), 41);
    let out = dir.path().join("master.flac");
    let assert = Command::cargo_bin("lathe")
        .unwrap()
        .arg("match")
        .arg(&mix)
        .arg(&reference_path)
        .arg("-o")
        .arg(&out)
        .args([
            "--preset",
            "apple",
            "--lufs",
            "-18",
            "--ceiling",
            "-2",
            "--preview",
        ])
        .args(["--report-json"])
        .arg(dir.path().join("r.json"))
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("[Apple Music]"), "{stdout}");
    let audio = lathe::io::decode::decode_file(&out).unwrap();
    let (lufs, tp) = measure(&audio.channels, audio.sample_rate_hz);
    assert!((lufs - -18.0).abs() <= 0.2, "{lufs}");
    assert!(tp <= -2.0, "{tp}");
    // One preset: the output is -o itself; the previews sit beside it, loudness-matched.
    let a = lathe::io::decode::decode_file(&dir.path().join("master.preview-mix.flac")).unwrap();
    let b = lathe::io::decode::decode_file(&dir.path().join("master.preview-master.flac")).unwrap();
    let (la, _) = measure(&a.channels, a.sample_rate_hz);
    let (lb, _) = measure(&b.channels, b.sample_rate_hz);
    // 16/24-bit rounding and the fades move each by well under 0.05 LU.
    assert!((la - lb).abs() < 0.1, "{la} vs {lb}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert!(!dir.path().join("r.html").exists());
}

#[test]
fn bad_presets_and_clashing_outputs_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("mix.wav");
    write_wav(&mix, &programme(SHORT, 51, -20.0, |_| 0.0));
    let out = dir.path().join("master.wav");
    Command::cargo_bin("lathe")
        .unwrap()
        .arg("match")
        .arg(&mix)
        .arg(&mix)
        .arg("-o")
        .arg(&out)
        .args(["--preset", "spotify,vinyl"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("unknown preset 'vinyl'"));
    Command::cargo_bin("lathe")
        .unwrap()
        .arg("match")
        .arg(&mix)
        .arg(&mix)
        .arg("-o")
        .arg(&out)
        .arg("--report")
        .arg(dir.path().join("master.wav"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("written twice"));
    assert!(!out.exists());
}

#[test]
fn mono_and_silent_renders_still_make_a_report() {
    // Mono: no side EQ, no side plot.
    let stereo = programme(SHORT, 61, -20.0, |_| 0.0);
    let mono = buffer(vec![stereo.channels[0].clone()]);
    let r = report_for(&mono, &reference(), Overrides::default());
    assert!(r.notes.side_eq.is_none());
    assert!(r.notes.lines.iter().any(|l| l == "Side EQ: none (mono)."));
    let page = html::to_html(&r).unwrap();
    assert_eq!(page.matches("<svg").count(), 4);
    assert!(!page.contains("plot-tonal-side"));

    // Silence: the renderer passes it through; the report says so and stays valid.
    let silent = buffer(vec![vec![0.0; SHORT]; 2]);
    let r = report_for(&silent, &reference(), Overrides::default());
    assert!(codes(&r).contains(&"W_SILENCE"), "{:?}", r.warnings);
    assert!(r.notes.mid_eq.is_flat());
    let text = json::to_json(&r).unwrap();
    assert!(!text.contains("NaN"));
    let page = html::to_html(&r).unwrap();
    assert_eq!(page.matches("<svg").count(), 5);
}
