//! The report as one self-contained HTML file: inline CSS, inline SVG plots, no JavaScript,
//! nothing fetched from the network, so it opens anywhere and can be mailed as is.
//!
//! Plots are drawn by the `plotters` crate with its SVG backend only: text is written as SVG
//! `<text>` elements that the browser sets in its own sans-serif font, so no font is needed
//! (or read) at build or run time. Each plot sits in a `<figure class="plot" id="plot-...">`.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::fit::{EqFit, FilterKind};
use super::provenance::{shell_join, Provenance};
use super::warnings::format_hz;
use super::{PreviewLinks, Report, REPORT_SCHEMA_VERSION};
use crate::error::{Error, Result};
use crate::targets::TargetSource;

const PLOT_WIDTH: u32 = 760;
const PLOT_HEIGHT: u32 = 300;
const MIX_COLOUR: RGBColor = RGBColor(0x88, 0x88, 0x88);
const TARGET_COLOUR: RGBColor = RGBColor(0xe0, 0x7a, 0x10);
const RESULT_COLOUR: RGBColor = RGBColor(0x1f, 0x5f, 0xbf);
const SIDE_COLOUR: RGBColor = RGBColor(0x2a, 0x9d, 0x5c);
const FIT_COLOUR: RGBColor = RGBColor(0x20, 0x20, 0x20);
const LIMITER_COLOUR: RGBColor = RGBColor(0xc0, 0x30, 0x30);
const FIT_SIDE_COLOUR: RGBColor = RGBColor(0x0e, 0x5a, 0x30);
/// The target range behind the tonal curves: the target's colour, mostly transparent.
const RANGE_COLOUR: RGBColor = TARGET_COLOUR;
const RANGE_OPACITY: f64 = 0.22;
/// Tonal-balance plots show this many dB under the loudest band at most.
const TONAL_RANGE_DB: f64 = 60.0;
/// EQ plots clip at +-this (the side high-pass reaches -80 dB).
const EQ_PLOT_LIMIT_DB: f64 = 24.0;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,\
sans-serif;max-width:820px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid \
#ddd;padding-bottom:.2em}table{border-collapse:collapse;width:100%;font-size:.92em}th,td{text-align:\
left;padding:.25em .6em;border-bottom:1px solid #eee;vertical-align:top}td.n{text-align:right;\
font-variant-numeric:tabular-nums;white-space:nowrap}.sub{color:#666}.code{font-family:ui-monospace,\
Menlo,Consolas,monospace;font-size:.9em;white-space:nowrap}.warn{background:#fff6e5}ul.notes li\
{margin:.3em 0}figure.plot{margin:1em 0}figure.plot svg{max-width:100%;height:auto}figcaption{color:\
#555;font-size:.88em}.keys{margin-right:.6em}.key{margin-right:1em;white-space:nowrap;color:#222}\
.swatch{display:inline-block;width:22px;margin-right:.35em;vertical-align:middle}\
footer{margin-top:2.5em;color:#777;font-size:.85em}.players{display:flex;gap:1.5em;flex-wrap:wrap}\
figure.player{margin:.3em 0}figure.player figcaption{font-weight:600;color:#222}\
audio{width:360px;max-width:100%}table.settings td.code{white-space:normal;word-break:break-all}";

/// The HTML page for `report`.
pub fn to_html(report: &Report) -> Result<String> {
    let mut h = String::with_capacity(200_000);
    h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    h += &format!(
        "<title>lathe report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&report.mix)
    );
    h += "<h1>lathe report</h1>\n";
    h += &format!(
        "<p><b>{}</b> &rarr; <b>{}</b><br><span class=\"sub\">{}</span></p>\n",
        esc(&report.mix),
        esc(&report.output),
        esc(&aim_text(report))
    );

    if let Some(p) = &report.preview {
        h += &players(p);
    }

    h += "<h2>Numbers</h2>\n";
    h += &numbers_table(report);

    h += "<h2>Engineer's notes</h2>\n<ul class=\"notes\">\n";
    for line in &report.notes.lines {
        h += &format!("<li>{}</li>\n", esc(line));
    }
    h += "</ul>\n";
    h += &filters_table(&report.notes.mid_eq, report.notes.side_eq.as_ref());
    if let Some(e) = &report.eq_exports {
        h += &format!(
            "<p>The exact applied EQ, to load elsewhere: <a href=\"{}\">mid/side impulse \
             responses</a> and <a href=\"{}\">true-stereo impulse responses</a> (L&rarr;L, \
             L&rarr;R, R&rarr;L, R&rarr;R; 32-bit float WAV, linear phase: the peak is {} \
             frames in) for a convolution plugin, and the filters above as an <a \
             href=\"{}\">Equalizer APO preset</a>.</p>\n",
            esc(&e.mid_side_ir_url),
            esc(&e.left_right_ir_url),
            e.delay_frames,
            esc(&e.apo_preset_url)
        );
    }

    h += "<h2>Warnings</h2>\n";
    if report.warnings.is_empty() {
        h += "<p>None.</p>\n";
    } else {
        h += "<table class=\"warnings\">\n<tr><th>code</th><th>what</th><th>evidence</th></tr>\n";
        for w in &report.warnings {
            let evidence: Vec<String> = w
                .evidence
                .iter()
                .map(|(k, v)| format!("{} = {}", k, num(*v, 2)))
                .collect();
            h += &format!(
                "<tr class=\"warn\"><td class=\"code\">{}</td><td>{}</td><td class=\"code\">{}</td></tr>\n",
                esc(&w.code),
                esc(&w.message),
                esc(&evidence.join(", "))
            );
        }
        h += "</table>\n";
    }

    let c = &report.curves;
    h += "<h2>Tonal balance</h2>\n";
    let band_key = range_key(report);
    let range_note = if band_key.is_some() {
        " Shaded: the target range; a band inside it is left as the mix has it, one outside \
         is pulled toward the target, harder the further out."
    } else {
        ""
    };
    h += &figure_with_band(
        "plot-tonal-mid",
        &tonal_plot(
            "Mid (third-octave bands, dB re integrated loudness)",
            &c.band_center_hz,
            [&c.mix_mid_db, &c.target_mid_db, &c.result_mid_db],
            (&c.range_mid_low_db, &c.range_mid_high_db),
        )?,
        &[
            (MIX_COLOUR, "mix", false),
            (TARGET_COLOUR, "target", false),
            (RESULT_COLOUR, "result", false),
        ],
        band_key.as_deref(),
        &format!(
            "Band level minus integrated loudness: the tonal shape, whatever the level.{range_note}"
        ),
    );
    if report.render.channels == 2 {
        h += &figure_with_band(
            "plot-tonal-side",
            &tonal_plot(
                "Side (third-octave bands, dB re integrated loudness)",
                &c.band_center_hz,
                [&c.mix_side_db, &c.target_side_db, &c.result_side_db],
                (&c.range_side_low_db, &c.range_side_high_db),
            )?,
            &[
                (MIX_COLOUR, "mix", false),
                (TARGET_COLOUR, "target", false),
                (RESULT_COLOUR, "result", false),
            ],
            band_key.as_deref(),
            &format!(
                "Side (L-R)/2, relative to the integrated loudness: its level is the width.\
                 {range_note}"
            ),
        );
    }
    if !c.spectrum_freq_hz.is_empty() {
        h += &figure(
            "plot-spectrum",
            &spectrum_plot(report)?,
            &[
                (MIX_COLOUR, "mix", false),
                (TARGET_COLOUR, "target (third-octave)", false),
                (RESULT_COLOUR, "master", false),
            ],
            "Long-term spectrum of the mid, 1/24-octave resolution, scaled to third-octave band \
             levels relative to the integrated loudness (ungated), with the target's bands.",
        );
    }
    h += "<h2>Applied EQ</h2>\n";
    h += &figure(
        "plot-eq",
        &eq_plot(report)?,
        &[
            (RESULT_COLOUR, "mid", false),
            (SIDE_COLOUR, "side", false),
            (FIT_COLOUR, "fit (mid)", true),
            (FIT_SIDE_COLOUR, "fit (side)", true),
        ],
        "The EQ the renderer applied and the bells and shelves of the notes that approximate \
         it.",
    );
    if !c.mix_peak.is_empty() {
        h += "<h2>Waveform</h2>\n";
        h += &figure(
            "plot-waveform",
            &waveform_plot(report)?,
            &[(RESULT_COLOUR, "master", false), (MIX_COLOUR, "mix", false)],
            "Peak envelope: the largest sample of either channel in each stretch of the file.",
        );
    }
    h += "<h2>Loudness over time</h2>\n";
    h += &figure(
        "plot-loudness",
        &loudness_plot(report)?,
        &[(MIX_COLOUR, "mix", false), (RESULT_COLOUR, "master", false)],
        "Short-term loudness (EBU R128, 3 s window).",
    );
    h += "<h2>Gain reduction over time</h2>\n";
    let mut gr_keys: Vec<Key> = Vec::new();
    if !c.compressor_gain_reduction_db.is_empty() {
        gr_keys.push((TARGET_COLOUR, "compressor", false));
    }
    if !c.limiter_gain_reduction_db.is_empty() {
        gr_keys.push((LIMITER_COLOUR, "limiter", false));
    }
    h += &figure(
        "plot-gain-reduction",
        &gain_reduction_plot(report)?,
        &gr_keys,
        "Compressor (mean per 100 ms) and limiter (largest per 100 ms) gain reduction.",
    );
    if let Some(p) = &report.provenance {
        h += &provenance_table(p);
    }
    h += &format!(
        "<footer>lathe {} &middot; report schema {REPORT_SCHEMA_VERSION} &middot; loudness: ITU-R \
         BS.1770-4 / EBU R128; true peak: BS.1770-4 Annex 2; EQ fit: RBJ Audio EQ Cookbook \
         filters at {} Hz.</footer>\n</body>\n</html>\n",
        esc(&report.lathe_version),
        report.render.sample_rate_hz
    );
    Ok(h)
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o += "&amp;",
            '<' => o += "&lt;",
            '>' => o += "&gt;",
            '"' => o += "&quot;",
            '\'' => o += "&#39;",
            c => o.push(c),
        }
    }
    o
}

fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else if v == f64::NEG_INFINITY {
        "-inf".to_string()
    } else {
        "-".to_string()
    }
}

fn aim_text(report: &Report) -> String {
    let mut parts = vec![match &report.source {
        TargetSource::Reference { name, .. } => format!("matched to the reference '{name}'"),
        // The classifier's confidence only when it picked the genre (`--genre auto`).
        TargetSource::Model {
            genre,
            confidence: Some(p),
        } => format!(
            "mastered by the genre model: {genre} (detected, {:.0} % confidence)",
            p * 100.0
        ),
        TargetSource::Model {
            genre,
            confidence: None,
        } => format!("mastered by the genre model: {genre} (chosen)"),
        TargetSource::Profile { name, references } => format!(
            "matched to the style profile '{name}' ({} reference{})",
            references.len(),
            if references.len() == 1 { "" } else { "s" }
        ),
        TargetSource::Manual => "manual targets".to_string(),
    }];
    if let Some(p) = &report.aim.preset {
        parts.push(format!(
            "preset {} ({:.1} LUFS, {:.1} dBTP)",
            p.label, p.integrated_lufs, p.ceiling_dbtp
        ));
    }
    if let Some(off) = report.aim.album_offset_lu {
        parts.push(format!("album mode, {off:+.1} LU from the loudest track"));
    }
    parts.join(" · ")
}

fn numbers_table(report: &Report) -> String {
    // With a range (a model or a profile), the range of every number it has, beside the
    // value the mix resolved to.
    let range = report.target_range.as_ref().filter(|r| !r.is_point());
    let range_of = |key: &str| {
        let r = range?;
        Some(match key {
            "integrated_lufs" => r.integrated_lufs,
            "plr_db" => r.plr_db,
            "short_term_spread_lu" => r.short_term_spread_lu,
            "width_db" => r.width_db,
            _ => return None,
        })
    };
    let mut h = format!(
        "<table class=\"numbers\">\n<tr><th></th><th>mix</th><th>master</th><th>target</th>{}<th></th></tr>\n",
        if range.is_some() { "<th>range</th>" } else { "" }
    );
    for r in &report.numbers {
        let decimals = match r.unit.as_str() {
            "Hz" => 0,
            "" => 2,
            _ => 1,
        };
        let target = match r.target {
            Some(t) if r.target_is_max => format!("&le; {}", num(t, decimals)),
            Some(t) => num(t, decimals),
            None => "-".to_string(),
        };
        let span = match (range.is_some(), range_of(&r.key)) {
            (false, _) => String::new(),
            (true, Some(g)) => format!(
                "<td class=\"n\">{}..{}</td>",
                num(g.low, decimals),
                num(g.high, decimals)
            ),
            (true, None) => "<td class=\"n\">-</td>".to_string(),
        };
        h += &format!(
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{}<td class=\"sub\">{}</td></tr>\n",
            esc(&r.label),
            num(r.before, decimals),
            num(r.after, decimals),
            target,
            span,
            esc(&r.unit)
        );
    }
    h + "</table>\n"
}

fn filters_table(mid: &EqFit, side: Option<&EqFit>) -> String {
    let mut rows = String::new();
    for (name, fit) in std::iter::once(("mid", mid)).chain(side.map(|s| ("side", s))) {
        for f in &fit.filters {
            let gain = if f.kind == FilterKind::HighPass {
                "-".to_string()
            } else {
                format!("{:+.1} dB", f.gain_db)
            };
            rows += &format!(
                "<tr><td>{name}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{gain}</td><td class=\"n\">{:.2}</td></tr>\n",
                f.kind.describe(),
                format_hz(f.freq_hz),
                f.q
            );
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<table class=\"filters\">\n<tr><th>channel</th><th>filter</th><th>frequency</th><th>gain</th><th>Q</th></tr>\n{rows}</table>\n"
    )
}

/// A legend entry under a plot: colour, name, dashed.
type Key = (RGBColor, &'static str, bool);

fn figure(id: &str, svg: &str, keys: &[Key], caption: &str) -> String {
    figure_with_band(id, svg, keys, None, caption)
}

/// What the shaded band of the tonal plots shows, for its key; `None` without a range.
fn range_key(report: &Report) -> Option<String> {
    report.target_range.as_ref()?;
    Some(match &report.source {
        TargetSource::Model { genre, .. } => {
            format!("range of {genre} masters (10th-90th percentile)")
        }
        TargetSource::Profile { references, .. } => format!(
            "range of the {} references (10th-90th percentile)",
            references.len()
        ),
        _ => "target range".to_string(),
    })
}

/// [`figure`] with a key for a shaded band first (a filled swatch), when `band` names one.
fn figure_with_band(
    id: &str,
    svg: &str,
    keys: &[Key],
    band: Option<&str>,
    caption: &str,
) -> String {
    let band_key = band.map_or_else(String::new, |name| {
        let RGBColor(r, g, b) = RANGE_COLOUR;
        format!(
            "<span class=\"key\"><span class=\"swatch\" style=\"border-top:9px solid \
             rgba({r},{g},{b},{RANGE_OPACITY})\"></span>{}</span>",
            esc(name)
        )
    });
    let keys: String = keys
        .iter()
        .map(|(c, name, dashed)| {
            format!(
                "<span class=\"key\"><span class=\"swatch\" style=\"border-top:3px {} #{:02x}{:02x}{:02x}\"></span>{}</span>",
                if *dashed { "dashed" } else { "solid" },
                c.0,
                c.1,
                c.2,
                esc(name)
            )
        })
        .collect();
    let keys = band_key + &keys;
    format!(
        "<figure class=\"plot\" id=\"{id}\">\n{svg}\n<figcaption><span class=\"keys\">{keys}</span>{}</figcaption>\n</figure>\n",
        esc(caption)
    )
}

fn plot_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Report {
        what: "plot",
        reason: e.to_string(),
    }
}

/// Runs `draw` on a fresh SVG canvas and returns the SVG text.
fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> std::result::Result<(), String>,
) -> Result<String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (PLOT_WIDTH, PLOT_HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root).map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(buf)
}

/// A chart on `root` as every plot here draws it: caption, margins, a mesh without minor lines,
/// `x_label` for the x axis, whole numbers on the y axis.
fn chart<'a, 'b, X>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: &str,
    x: X,
    y: std::ops::Range<f64>,
    (x_desc, y_desc): (&str, &str),
    x_label: &dyn Fn(&f64) -> String,
) -> std::result::Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, RangedCoordf64>>, String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 19))
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(52)
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(x_label)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 17))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(chart)
}

/// The frequency axis of the tonal and EQ plots.
fn frequency_axis() -> LogCoord<f64> {
    (20f64..20_000f64).log_scale().into()
}

fn hz_label(x: &f64) -> String {
    if *x >= 1000.0 {
        format!("{}k", (x / 1000.0 * 10.0).round() / 10.0)
    } else {
        format!("{}", x.round())
    }
}

/// Runs of consecutive finite points, so gaps (silent bands) break the line.
fn runs(x: &[f64], y: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for (&xi, yi) in x.iter().zip(y) {
        match yi {
            Some(v) if v.is_finite() => cur.push((xi, *v)),
            _ => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs of consecutive bands where both range edges exist: `(centre, low, high)`.
fn band_runs(x: &[f64], edges: &[Option<(f64, f64)>]) -> Vec<Vec<(f64, f64, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for (&xi, e) in x.iter().zip(edges) {
        match e {
            Some((l, h)) => cur.push((xi, *l, *h)),
            None => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn range_of<'a>(values: impl Iterator<Item = &'a Option<f64>>) -> Option<(f64, f64)> {
    values
        .flatten()
        .filter(|v| v.is_finite())
        .fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        })
}

/// A tonal-balance plot: `[mix, target, result]` curves over the band centres, with the
/// target range `(low, high)` shaded behind them (nothing when empty).
fn tonal_plot(
    caption: &str,
    centers: &[f64],
    [mix, target, result]: [&[Option<f64>]; 3],
    (range_low, range_high): (&[Option<f64>], &[Option<f64>]),
) -> Result<String> {
    let (lo, hi) = range_of(
        mix.iter()
            .chain(target)
            .chain(result)
            .chain(range_low)
            .chain(range_high),
    )
    .unwrap_or((-40.0, 0.0));
    let (bottom, top) = tonal_axis_db(lo, hi);
    let clip = |v: &[Option<f64>]| clip_below(v, bottom);
    svg(|root| {
        let mut chart = chart(
            root,
            caption,
            frequency_axis(),
            bottom..top,
            ("Hz", "dB"),
            &hz_label,
        )?;
        // The range first, so the curves are drawn over it: one polygon per run of bands
        // with both edges, its lower edge held at the axis's bottom.
        let both: Vec<Option<(f64, f64)>> = range_low
            .iter()
            .zip(range_high)
            .map(|(l, h)| match (l, h) {
                (Some(l), Some(h)) if h.is_finite() && l.is_finite() => {
                    Some((l.max(bottom), h.max(bottom)))
                }
                _ => None,
            })
            .collect();
        for run in band_runs(centers, &both) {
            let outline: Vec<(f64, f64)> = run
                .iter()
                .map(|&(f, l, _)| (f, l))
                .chain(run.iter().rev().map(|&(f, _, h)| (f, h)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    RANGE_COLOUR.mix(RANGE_OPACITY).filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
        for (data, colour) in [
            (clip(mix), MIX_COLOUR),
            (clip(target), TARGET_COLOUR),
            (clip(result), RESULT_COLOUR),
        ] {
            let style = colour.stroke_width(2);
            for run in runs(centers, &data) {
                chart
                    .draw_series(LineSeries::new(run, style))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    })
}

fn eq_plot(report: &Report) -> Result<String> {
    let c = &report.curves;
    let all = c
        .eq_mid_db
        .iter()
        .chain(&c.eq_side_db)
        .chain(&c.fit_mid_db)
        .chain(&c.fit_side_db)
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let lim = (all.min(EQ_PLOT_LIMIT_DB) + 1.0).ceil().max(3.0);
    let clamp = |v: &[f64]| -> Vec<(f64, f64)> {
        c.eq_freq_hz
            .iter()
            .zip(v)
            .filter(|(_, y)| y.is_finite())
            .map(|(&x, &y)| (x, y.clamp(-lim, lim)))
            .collect()
    };
    svg(|root| {
        let mut chart = chart(
            root,
            "Applied EQ (dB)",
            frequency_axis(),
            -lim..lim,
            ("Hz", "dB"),
            &hz_label,
        )?;
        let series: [(&[f64], RGBColor); 2] =
            [(&c.eq_mid_db, RESULT_COLOUR), (&c.eq_side_db, SIDE_COLOUR)];
        for (data, colour) in series {
            if data.is_empty() {
                continue;
            }
            let style = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(clamp(data), style))
                .map_err(|e| e.to_string())?;
        }
        let fits: [(&[f64], RGBColor); 2] = [
            (&c.fit_mid_db, FIT_COLOUR),
            (&c.fit_side_db, FIT_SIDE_COLOUR),
        ];
        for (data, colour) in fits {
            if data.is_empty() {
                continue;
            }
            let style = colour.stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(clamp(data), 5, 4, style))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// `m:ss` (and tenths when `t` is not a whole second).
fn time_axis_label(t: &f64) -> String {
    let tenths = (t * 10.0).round() as i64;
    let (secs, frac) = (tenths / 10, tenths % 10);
    if frac == 0 {
        format!("{}:{:02}", secs / 60, secs % 60)
    } else {
        format!("{}:{:02}.{frac}", secs / 60, secs % 60)
    }
}

/// Ticks every 1, 2, 5, 10, 15, 30 s or 1, 2, 5, 10, 15, 30 min: the smallest step giving at
/// most [`MAX_TIME_TICKS`] ticks from 0 to `duration_s`.
fn time_ticks(duration_s: f64) -> Vec<f64> {
    const STEPS_S: [f64; 15] = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    ];
    let step = STEPS_S
        .iter()
        .copied()
        .find(|s| duration_s / s <= MAX_TIME_TICKS as f64)
        .unwrap_or(3600.0);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= duration_s + 1e-9)
        .collect()
}

/// Most ticks on a time axis (labels like `12:30` fit 9 across the plot).
const MAX_TIME_TICKS: usize = 9;

/// A time axis from 0 to `duration_s` with ticks at [`time_ticks`] (plotters' own choice is
/// decimal: 0, 20, 40 ... s, which read badly as m:ss).
struct TimeAxis {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for TimeAxis {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
}

fn time_axis(duration_s: f64) -> TimeAxis {
    TimeAxis {
        inner: RangedCoordf64::from(0f64..duration_s),
        ticks: time_ticks(duration_s),
    }
}

fn loudness_plot(report: &Report) -> Result<String> {
    let c = &report.curves;
    let hop = c.loudness_hop_s;
    let n = c
        .short_term_before_lufs
        .len()
        .max(c.short_term_after_lufs.len());
    let duration = (n as f64 * hop).max(report.render.duration_s).max(1.0);
    let times: Vec<f64> = (0..n).map(|i| (i + 1) as f64 * hop).collect();
    let (lo, hi) = range_of(
        c.short_term_before_lufs
            .iter()
            .chain(&c.short_term_after_lufs),
    )
    .unwrap_or((-40.0, -10.0));
    let top = (hi / 5.0).ceil() * 5.0 + 2.0;
    let bottom = (lo.max(hi - 50.0) / 5.0).floor() * 5.0 - 2.0;
    let clip = |v: &[Option<f64>]| -> Vec<Option<f64>> {
        v.iter().map(|x| x.filter(|&x| x >= bottom)).collect()
    };
    svg(|root| {
        let mut chart = chart(
            root,
            "Short-term loudness (LUFS)",
            time_axis(duration),
            bottom..top,
            ("time (m:ss)", "LUFS"),
            &time_axis_label,
        )?;
        for (data, colour) in [
            (clip(&c.short_term_before_lufs), MIX_COLOUR),
            (clip(&c.short_term_after_lufs), RESULT_COLOUR),
        ] {
            let style = colour.stroke_width(2);
            for run in runs(&times, &data) {
                chart
                    .draw_series(LineSeries::new(run, style))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    })
}

fn gain_reduction_plot(report: &Report) -> Result<String> {
    let c = &report.curves;
    let curve = |v: &[f64], hop: f64| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, &g)| ((i as f64 + 0.5) * hop, -g.max(0.0)))
            .collect()
    };
    let comp = curve(&c.compressor_gain_reduction_db, c.compressor_hop_s);
    let lim = curve(&c.limiter_gain_reduction_db, c.limiter_hop_s);
    let deepest = comp.iter().chain(&lim).map(|p| -p.1).fold(0.0f64, f64::max);
    let bottom = -(deepest + 1.0).ceil().max(3.0);
    let duration = report.render.duration_s.max(1.0);
    svg(|root| {
        let mut chart = chart(
            root,
            "Gain reduction (dB)",
            time_axis(duration),
            bottom..0.5,
            ("time (m:ss)", "dB"),
            &time_axis_label,
        )?;
        let mut any = false;
        for (data, colour) in [(comp, TARGET_COLOUR), (lim, LIMITER_COLOUR)] {
            if data.is_empty() {
                continue;
            }
            any = true;
            let style = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(data, style))
                .map_err(|e| e.to_string())?;
        }
        if any {
            Ok(())
        } else {
            chart
                .draw_series(std::iter::once(Text::new(
                    "no compression or limiting",
                    (duration * 0.05, bottom * 0.5),
                    ("sans-serif", 14),
                )))
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
}

/// The A/B players: plain `<audio controls>` elements (no JavaScript) on the preview files.
fn players(p: &PreviewLinks) -> String {
    let start = time_axis_label(&p.start_s.round());
    let mut h = String::from("<h2>Listen</h2>\n");
    h += &format!(
        "<p>The loudest {:.0} s of the mix and of the master (from {start}), both at {:.1} LUFS, \
         so you compare tone and dynamics, not level.</p>\n<div class=\"players\">\n",
        p.length_s, p.matched_lufs
    );
    for (name, url) in [("mix", &p.mix_url), ("master", &p.master_url)] {
        h += &format!(
            "<figure class=\"player\"><figcaption>{name}</figcaption><audio controls \
             preload=\"metadata\" src=\"{}\"><a href=\"{}\">{name}</a></audio></figure>\n",
            esc(url),
            esc(url)
        );
    }
    h + "</div>\n"
}

/// "How this report was made": the command line, every setting, the inputs, the output, the
/// versions and the date.
fn provenance_table(p: &Provenance) -> String {
    let mut h = String::from("<h2>How this report was made</h2>\n<table class=\"settings\">\n");
    let row = |k: &str, v: &str| {
        format!(
            "<tr><td>{}</td><td class=\"code\">{}</td></tr>\n",
            esc(k),
            esc(v)
        )
    };
    if !p.command_line.is_empty() {
        h += &row("command line", &shell_join(&p.command_line));
    }
    for s in &p.settings {
        let v = if s.given {
            s.value.clone()
        } else {
            format!("{} (default)", s.value)
        };
        h += &row(&s.name, &v);
    }
    for i in &p.inputs {
        // A style profile is not audio: no rate or channels, the references' total duration.
        let audio = if i.channels == 0 {
            String::new()
        } else {
            format!(
                " {} Hz, {} channel{},",
                i.sample_rate_hz,
                i.channels,
                if i.channels == 1 { "" } else { "s" }
            )
        };
        h += &row(
            i.role.as_str(),
            &format!(
                "{}: {},{audio} {}",
                i.name,
                i.format,
                time_axis_label(&i.duration_s)
            ),
        );
    }
    if !p.output_format.is_empty() {
        h += &row("output", &p.output_format);
    }
    h += &row(
        "model",
        p.model_version
            .as_deref()
            .unwrap_or("not used (targets from a reference or a style profile)"),
    );
    h += &row("date (UTC)", &p.date_utc);
    h + "</table>\n"
}

fn spectrum_plot(report: &Report) -> Result<String> {
    let c = &report.curves;
    let (lo, hi) = range_of(
        c.mix_spectrum_db
            .iter()
            .chain(&c.master_spectrum_db)
            .chain(&c.target_mid_db),
    )
    .unwrap_or((-40.0, 0.0));
    let (bottom, top) = tonal_axis_db(lo, hi);
    let clip = |v: &[Option<f64>]| clip_below(v, bottom);
    svg(|root| {
        let mut chart = chart(
            root,
            "Spectrum of the mid (dB re integrated loudness)",
            frequency_axis(),
            bottom..top,
            ("Hz", "dB"),
            &hz_label,
        )?;
        for (x, data, colour, width) in [
            (&c.spectrum_freq_hz, clip(&c.mix_spectrum_db), MIX_COLOUR, 1),
            (
                &c.spectrum_freq_hz,
                clip(&c.master_spectrum_db),
                RESULT_COLOUR,
                1,
            ),
            (&c.band_center_hz, clip(&c.target_mid_db), TARGET_COLOUR, 2),
        ] {
            for run in runs(x, &data) {
                chart
                    .draw_series(LineSeries::new(run, colour.stroke_width(width)))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    })
}

fn waveform_plot(report: &Report) -> Result<String> {
    let c = &report.curves;
    let hop = c.envelope_hop_s;
    let duration = report
        .render
        .duration_s
        .max(hop * c.mix_peak.len() as f64)
        .max(0.1);
    let points = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, &p)| ((i as f64 + 0.5) * hop, p.clamp(0.0, 1.5)))
            .collect()
    };
    let top = c
        .mix_peak
        .iter()
        .chain(&c.master_peak)
        .fold(1.0f64, |m, &p| m.max(p.min(1.5)));
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Waveform (peak envelope)", ("sans-serif", 19))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d(time_axis(duration), -top..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("time (m:ss)")
            .y_desc("amplitude")
            .x_label_formatter(&time_axis_label)
            .y_label_formatter(&|y| format!("{y:.1}"))
            .light_line_style(WHITE.mix(0.0))
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(|e| e.to_string())?;
        for (data, colour) in [(&c.master_peak, RESULT_COLOUR), (&c.mix_peak, MIX_COLOUR)] {
            let up = points(data);
            let down: Vec<(f64, f64)> = up.iter().map(|&(t, p)| (t, -p)).collect();
            for series in [up, down] {
                chart
                    .draw_series(AreaSeries::new(series, 0.0, colour.mix(0.85)))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    })
}

/// The dB axis of a tonal plot: 5 dB steps with 2 dB of margin, at most [`TONAL_RANGE_DB`]
/// below the highest value (shared by the tonal-balance and spectrum plots).
fn tonal_axis_db(lo: f64, hi: f64) -> (f64, f64) {
    let top = (hi / 5.0).ceil() * 5.0 + 2.0;
    let bottom = ((lo.max(hi - TONAL_RANGE_DB)) / 5.0).floor() * 5.0 - 2.0;
    (bottom, top)
}

/// Drops the points under the axis's bottom, so curves end at the frame instead of crossing it.
fn clip_below(v: &[Option<f64>], bottom: f64) -> Vec<Option<f64>> {
    v.iter().map(|x| x.filter(|&x| x >= bottom)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
    }

    #[test]
    fn time_axes_read_minutes_and_seconds() {
        assert_eq!(time_axis_label(&0.0), "0:00");
        assert_eq!(time_axis_label(&100.0), "1:40");
        assert_eq!(time_axis_label(&2.5), "0:02.5");
        // 4 minutes: a tick every 30 s, 0:00 .. 4:00.
        let ticks = time_ticks(240.0);
        assert_eq!(ticks.len(), 9);
        assert_eq!(ticks[1], 30.0);
        // 12 s: every 2 s.
        assert_eq!(time_ticks(12.0)[1], 2.0);
    }

    #[test]
    fn gaps_split_lines() {
        let r = runs(
            &[1.0, 2.0, 3.0, 4.0],
            &[Some(1.0), None, Some(3.0), Some(4.0)],
        );
        assert_eq!(r, vec![vec![(1.0, 1.0)], vec![(3.0, 3.0), (4.0, 4.0)]]);
    }
}
