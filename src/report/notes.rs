//! The engineer's notes: what the renderer did, in words an engineer can act on and reproduce
//! with other tools. The applied EQ curves are approximated by a handful of cookbook bells and
//! shelves ([`super::fit`]); the compressor, width, gain and limiter settings come straight from
//! the [`RenderLog`].

use serde::Serialize;

use super::fit::{self, fit_curve, EqFit, FilterKind};
use super::warnings::format_hz;
use super::Aim;
use crate::analysis::Features;
use crate::render::chain::{RenderLog, COMPRESSION_TOLERANCE_LU};
use crate::render::eq::MatchedEq;
use crate::targets::LoudnessChoice;

/// The notes: plain sentences, plus the fitted EQs behind the EQ sentences.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notes {
    pub lines: Vec<String>,
    pub mid_eq: EqFit,
    /// `None` for a mono render.
    pub side_eq: Option<EqFit>,
}

/// Points per octave of the grid the EQ curves are fitted on.
const FIT_POINTS_PER_OCTAVE: f64 = 24.0;

/// The EQs the renderer applied (mid, side), designed again from the render log's band gains
/// and high-pass: the same deterministic design, so the same filters. `None` when the log
/// has no EQ (silence).
pub fn applied_eqs(log: &RenderLog) -> Option<(MatchedEq, MatchedEq)> {
    let eq = &log.eq;
    let mid = MatchedEq::new(log.sample_rate_hz, &eq.center_hz, &eq.mid_gain_db, None).ok()?;
    let side = MatchedEq::new(
        log.sample_rate_hz,
        &eq.center_hz,
        &eq.side_gain_db,
        log.width.mono_bass_below_hz,
    )
    .ok()?;
    Some((mid, side))
}

/// Fits `eq`'s intended response on a log grid over the whole EQ'd band
/// ([`fit::fit_range_hz`]).
fn fit_eq(eq: &MatchedEq, sample_rate_hz: u32, highpass_hz: Option<f64>) -> EqFit {
    let (lo, hi) = fit::fit_range_hz(sample_rate_hz);
    let n = ((hi / lo).log2() * FIT_POINTS_PER_OCTAVE).ceil().max(1.0) as usize;
    let freq: Vec<f64> = (0..=n)
        .map(|i| lo * (hi / lo).powf(i as f64 / n as f64))
        .collect();
    let gain: Vec<f64> = freq.iter().map(|&f| eq.intended_response_db(f)).collect();
    fit_curve(&freq, &gain, sample_rate_hz, highpass_hz)
}

/// Fits the applied EQ curves and writes the notes.
/// `loudness`: how a range chose the loudness target ([`LoudnessChoice::describe`] adds a
/// line after the loudness line), when it did.
pub fn write(
    before: &Features,
    after: &Features,
    log: &RenderLog,
    aim: &Aim,
    loudness: Option<&LoudnessChoice>,
) -> Notes {
    let fs = log.sample_rate_hz;
    let (mid_eq, side_eq) = match applied_eqs(log) {
        Some((mid, side)) => (
            fit_eq(&mid, fs, None),
            (log.channels == 2).then(|| fit_eq(&side, fs, log.width.mono_bass_below_hz)),
        ),
        None => (
            EqFit::flat(fs),
            (log.channels == 2).then(|| EqFit::flat(fs)),
        ),
    };
    let mut lines = vec![
        "Chain: EQ (mid/side, linear phase) -> compressor (linked) -> width -> gain -> \
         true-peak limiter."
            .to_string(),
        loudness_line(before, after, log, aim),
    ];
    if let Some(choice) = loudness {
        lines.push(choice.describe());
    }
    lines.push(eq_line("Mid EQ", &mid_eq));
    match &side_eq {
        Some(fit) => lines.push(eq_line("Side EQ", fit)),
        None => lines.push("Side EQ: none (mono).".to_string()),
    }
    lines.push(width_line(log));
    lines.push(compressor_line(before, log));
    lines.push(limiter_line(log));
    Notes {
        lines,
        mid_eq,
        side_eq,
    }
}

/// `+1.5`, `-0.3`, and `0.0` for anything that rounds to zero (never `-0.0`).
fn signed(db: f64) -> String {
    let r = (db * 10.0).round() / 10.0;
    if r == 0.0 {
        "0.0".to_string()
    } else {
        format!("{r:+.1}")
    }
}

fn loudness_line(before: &Features, after: &Features, log: &RenderLog, aim: &Aim) -> String {
    let l = &log.loudness;
    let mut s = format!(
        "Loudness: {:.1} -> {:.1} LUFS (target {:.1} LUFS",
        before.loudness.integrated_lufs, after.loudness.integrated_lufs, l.target_integrated_lufs
    );
    if let Some(p) = &aim.preset {
        s += &format!(", {} preset", p.label);
    }
    if let Some(off) = aim.album_offset_lu {
        s += &format!(", album: {} LU from the loudest track", signed(off));
    }
    s += &format!(
        "); gain {} dB after the EQ and compressor, into the limiter.",
        signed(l.gain_db)
    );
    s
}

/// "Mid EQ: -1.8 dB bell at 250 Hz (Q 1.20); +2.1 dB high shelf at 8.0 kHz (Q 0.71). Fit: ..."
pub fn eq_line(name: &str, fit: &EqFit) -> String {
    if fit.is_flat() {
        return format!("{name}: none (flat).");
    }
    let mut parts: Vec<String> = Vec::new();
    let highpass: Vec<_> = fit
        .filters
        .iter()
        .filter(|f| f.kind == FilterKind::HighPass)
        .collect();
    if let Some(hp) = highpass.first() {
        let n = highpass.len();
        let how = match n {
            1 => "Butterworth, Q 0.71".to_string(),
            2 => "Linkwitz-Riley: two Butterworth sections, Q 0.71".to_string(),
            _ => format!("{n} Butterworth sections, Q 0.71"),
        };
        parts.push(format!(
            "high-pass at {}, {} dB/octave ({how}; mono bass)",
            format_hz(hp.freq_hz),
            12 * n
        ));
    }
    parts.extend(
        fit.filters
            .iter()
            .filter(|f| f.kind != FilterKind::HighPass)
            .map(|f| {
                format!(
                    "{} dB {} at {} (Q {:.2})",
                    signed(f.gain_db),
                    f.kind.describe(),
                    format_hz(f.freq_hz),
                    f.q
                )
            }),
    );
    format!(
        "{name}: {}. Fit to the applied curve within {:.1} dB max, {:.1} dB RMS ({}-{}).",
        parts.join("; "),
        fit.max_error_db,
        fit.rms_error_db,
        format_hz(fit.fit_low_hz),
        format_hz(fit.fit_high_hz)
    )
}

fn width_line(log: &RenderLog) -> String {
    let w = &log.width;
    if log.channels < 2 {
        return "Width: mono, unchanged.".to_string();
    }
    if w.side_gain_db.abs() < 0.05 {
        return format!(
            "Width: unchanged (side/mid {:.1} dB, target {:.1} dB).",
            w.measured_width_db, w.target_width_db
        );
    }
    format!(
        "Width: side {} dB (side/mid {:.1} -> {:.1} dB, target {:.1} dB).",
        signed(w.side_gain_db),
        w.measured_width_db,
        w.output_width_db,
        w.target_width_db
    )
}

fn compressor_line(before: &Features, log: &RenderLog) -> String {
    let c = &log.compressor;
    if !c.applied {
        let d = &before.dynamics;
        let spread = d.short_term_p95_lufs - d.short_term_p10_lufs;
        if !spread.is_finite() {
            return "Compressor: not used (the mix has no short-term loudness to measure)."
                .to_string();
        }
        return format!(
            "Compressor: not used: the mix's short-term loudness spread ({:.1} LU, 95th - 10th \
             percentile) is at most {COMPRESSION_TOLERANCE_LU} LU above the target's, lathe's \
             tolerance for a change of dynamics.",
            spread
        );
    }
    let s = &c.settings;
    let amount = if s.amount < 1.0 {
        format!(", gain reduction scaled to {:.0} %", s.amount * 100.0)
    } else {
        String::new()
    };
    format!(
        "Compressor: {:.1}:1, threshold {:.1} dBFS RMS (at the mix's level, before the gain), \
         knee {:.0} dB, RMS window {:.0} ms, attack {:.0} ms, release {:.0} ms fast / {:.0} ms \
         slow (programme dependent){amount}; {:.1} dB average, {:.1} dB largest gain reduction.",
        s.ratio,
        s.threshold_db,
        s.knee_db,
        s.rms_ms,
        s.attack_ms,
        s.release_ms,
        s.release_slow_ms,
        c.avg_gain_reduction_db,
        c.max_gain_reduction_db
    )
}

fn limiter_line(log: &RenderLog) -> String {
    match &log.limiter {
        Some(l) => format!(
            "Limiter: ceiling {:.1} dBTP (true peak, {}x oversampled detector), look-ahead {:.0} \
             ms, release {:.0} ms; {:.1} dB peak reduction, {:.1} dB average; output true peak \
             {:.2} dBTP.",
            l.ceiling_dbtp,
            l.oversampling,
            l.lookahead_ms,
            l.release_ms,
            l.peak_gain_reduction_db,
            l.avg_gain_reduction_db,
            l.output_true_peak_dbtp
        ),
        None => format!(
            "Limiter: off; the {:.1} dBTP ceiling was met by the gain alone (output true peak \
             {:.2} dBTP).",
            log.loudness.ceiling_dbtp, log.loudness.achieved_true_peak_dbtp
        ),
    }
}
