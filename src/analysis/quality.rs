//! Technical condition of a file: bandwidth, DC offset, clipping, and whether it looks
//! already brick-wall limited.

use super::meter::Sweep;
use super::spectrum::LongTermSpectrum;
use super::{Loudness, Quality};
use crate::audio::AudioBuffer;

/// The file's condition; DC and clipping come from the meter's sums ([`super::meter`]).
pub fn measure(
    audio: &AudioBuffer,
    sweep: &Sweep,
    lts: &LongTermSpectrum,
    loudness: &Loudness,
) -> Quality {
    let frames = audio.frames().max(1) as f64;
    let dc_offset = sweep.channels.iter().map(|c| c.sum / frames).collect();
    let clipped_samples = sweep.channels.iter().map(|c| c.clipped).sum();
    Quality {
        bandwidth_hz: lts.bandwidth_hz(),
        dc_offset,
        clipped_samples,
        looks_limited: looks_limited(audio, loudness),
    }
}

/// A limited master has a low peak-to-loudness ratio *and* many samples crowding its peak
/// level; a merely dense mix has the first without the second. Thresholds: PLR under 10 dB
/// (masters limited for streaming sit at 8-10 dB, open mixes at 12-20 dB), and more than 1 in
/// 5000 samples within 1 dB of the sample peak (an unlimited mix has a handful).
pub fn looks_limited(audio: &AudioBuffer, loudness: &Loudness) -> bool {
    if !loudness.integrated_lufs.is_finite() || loudness.plr_db >= 10.0 {
        return false;
    }
    let near = crate::units::db_to_gain(loudness.sample_peak_dbfs - 1.0) as f32;
    let total = audio.frames() * audio.num_channels();
    let crowded: usize = audio
        .channels
        .iter()
        .map(|c| {
            c.iter()
                .map(|s| usize::from(s.abs() >= near))
                .sum::<usize>()
        })
        .sum();
    crowded as f64 > total as f64 / 5000.0
}
