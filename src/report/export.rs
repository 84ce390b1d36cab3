//! The applied EQ in forms other tools load:
//!
//! - **impulse responses** ([`eq_impulse_responses`]): the renderer's own linear-phase FIRs
//!   (designed again from the render log's band gains: the same deterministic design, so the
//!   same taps), as WAV files any convolution plugin reads: mid/side (2 channels: the mid
//!   filter, the side filter, for a mid/side convolution) and left/right true stereo
//!   (4 channels, in the order L->L, L->R, R->L, R->R). With `M = (L+R)/2`, `S = (L-R)/2`,
//!   filters `hm`, `hs` and `L = M + S`, `R = M - S`: `L->L = R->R = (hm + hs)/2` and
//!   `L->R = R->L = (hm - hs)/2`. The filters are linear phase: the impulse sits
//!   `(taps - 1) / 2` frames in (the renderer removes that delay; a plugin may not);
//! - **a parametric preset** ([`equalizer_apo_preset`]): the notes' fitted cookbook filters in
//!   Equalizer APO's text format (`Filter: ON PK Fc 250 Hz Gain -1.80 dB Q 1.200`; shelves as
//!   `LSC`/`HSC` with the cookbook's midpoint frequency and Q, the high-pass as `HPQ`), in
//!   mid/side through its `Copy` command, with the width stage's side gain. AutoEq and
//!   PipeWire's parametric-equalizer module read the same lines.

use super::fit::{EqFit, FilterKind};
use super::notes::applied_eqs;
use super::Report;
use crate::audio::AudioBuffer;
use crate::error::Result;
use crate::render::chain::RenderLog;

/// The applied EQ as impulse responses.
#[derive(Clone, Debug)]
pub struct EqImpulses {
    /// Mid and side filters (one channel, the mid, for a mono render).
    pub mid_side: AudioBuffer,
    /// True stereo: L->L, L->R, R->L, R->R (one channel, the mid, for a mono render).
    pub left_right: AudioBuffer,
    /// Frames from the start of a response to its centre (the linear-phase delay).
    pub delay_frames: usize,
}

/// The applied EQ of `log` as impulse responses; `None` when the log has no EQ (silence).
pub fn eq_impulse_responses(log: &RenderLog) -> Result<Option<EqImpulses>> {
    let Some((mid, side)) = applied_eqs(log) else {
        return Ok(None);
    };
    let hm: Vec<f32> = mid.taps().iter().map(|&t| t as f32).collect();
    let delay_frames = mid.delay_frames();
    let fs = log.sample_rate_hz;
    if log.channels != 2 {
        return Ok(Some(EqImpulses {
            mid_side: AudioBuffer::new(fs, vec![hm.clone()])?,
            left_right: AudioBuffer::new(fs, vec![hm])?,
            delay_frames,
        }));
    }
    let hs: Vec<f32> = side.taps().iter().map(|&t| t as f32).collect();
    let direct: Vec<f32> = mid
        .taps()
        .iter()
        .zip(side.taps())
        .map(|(m, s)| ((m + s) / 2.0) as f32)
        .collect();
    let cross: Vec<f32> = mid
        .taps()
        .iter()
        .zip(side.taps())
        .map(|(m, s)| ((m - s) / 2.0) as f32)
        .collect();
    Ok(Some(EqImpulses {
        mid_side: AudioBuffer::new(fs, vec![hm, hs])?,
        left_right: AudioBuffer::new(fs, vec![direct.clone(), cross.clone(), cross, direct])?,
        delay_frames,
    }))
}

/// One fitted filter as an Equalizer APO line.
fn apo_line(f: &super::fit::Filter) -> String {
    match f.kind {
        FilterKind::Bell => format!(
            "Filter: ON PK Fc {:.1} Hz Gain {:.2} dB Q {:.3}",
            f.freq_hz, f.gain_db, f.q
        ),
        FilterKind::LowShelf => format!(
            "Filter: ON LSC Fc {:.1} Hz Gain {:.2} dB Q {:.3}",
            f.freq_hz, f.gain_db, f.q
        ),
        FilterKind::HighShelf => format!(
            "Filter: ON HSC Fc {:.1} Hz Gain {:.2} dB Q {:.3}",
            f.freq_hz, f.gain_db, f.q
        ),
        FilterKind::HighPass => format!("Filter: ON HPQ Fc {:.1} Hz Q {:.3}", f.freq_hz, f.q),
    }
}

fn apo_filters(out: &mut String, fit: &EqFit) {
    if fit.filters.is_empty() {
        out.push_str("# (flat)\n");
    }
    for f in &fit.filters {
        out.push_str(&apo_line(f));
        out.push('\n');
    }
}

/// The notes' fitted EQ as an Equalizer APO configuration (see the module docs).
pub fn equalizer_apo_preset(report: &Report) -> String {
    let n = &report.notes;
    let mut s = format!(
        "# lathe {}: the EQ of '{}' -> '{}', fitted with RBJ cookbook filters at {} Hz\n\
         # (within {:.2} dB of the applied mid curve{}).\n\
         # Equalizer APO 1.2 or later (virtual channels); the exact curve is in the\n\
         # impulse-response files beside this one.\n",
        report.lathe_version,
        report.mix,
        report.output,
        report.render.sample_rate_hz,
        n.mid_eq.max_error_db,
        n.side_eq.as_ref().map_or(String::new(), |s| format!(
            ", {:.2} dB of the side curve",
            s.max_error_db
        )),
    );
    match &n.side_eq {
        None => {
            s.push_str("Channel: all\n");
            apo_filters(&mut s, &n.mid_eq);
        }
        Some(side) => {
            s.push_str("Copy: M=0.5*L+0.5*R S=0.5*L-0.5*R\nChannel: M\n");
            apo_filters(&mut s, &n.mid_eq);
            s.push_str("Channel: S\n");
            apo_filters(&mut s, side);
            let w = report.render.width.side_gain_db;
            if w.is_finite() && w != 0.0 {
                s.push_str(&format!("# width: side gain\nPreamp: {w:.2} dB\n"));
            }
            s.push_str("Copy: L=M+S R=M-S\nChannel: all\n");
        }
    }
    let gain = report.render.loudness.gain_db;
    s.push_str(&format!(
        "# Not in this preset: the loudness gain ({gain:+.2} dB), the compressor and the \
         limiter (see the report).\n"
    ));
    s
}
