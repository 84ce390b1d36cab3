//! Technical condition of a file: bandwidth, DC offset, clipping, and whether it looks
//! already brick-wall limited.

use super::spectrum::LongTermSpectrum;
use super::{Loudness, Quality};
use crate::audio::AudioBuffer;

/// A sample this close to full scale (or above) counts towards clipping: -0.01 dBFS.
const CLIP_LEVEL: f32 = 0.998_85;
/// Runs shorter than this are peaks, not clipping.
const CLIP_RUN: usize = 3;

pub fn measure(audio: &AudioBuffer, lts: &LongTermSpectrum, loudness: &Loudness) -> Quality {
    let frames = audio.frames().max(1) as f64;
    let dc_offset = audio
        .channels
        .iter()
        .map(|c| c.iter().map(|&s| f64::from(s)).sum::<f64>() / frames)
        .collect();
    let clipped_samples = audio.channels.iter().map(|c| clipped_in(c)).sum();
    Quality {
        bandwidth_hz: lts.bandwidth_hz(),
        dc_offset,
        clipped_samples,
        looks_limited: looks_limited(audio, loudness),
    }
}

/// Samples in runs of [`CLIP_RUN`] or more consecutive samples at or above [`CLIP_LEVEL`].
pub fn clipped_in(channel: &[f32]) -> u64 {
    let mut count = 0u64;
    let mut run = 0usize;
    for &s in channel {
        if s.abs() >= CLIP_LEVEL {
            run += 1;
        } else {
            if run >= CLIP_RUN {
                count += run as u64;
            }
            run = 0;
        }
    }
    if run >= CLIP_RUN {
        count += run as u64;
    }
    count
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
    let crowded = audio
        .channels
        .iter()
        .flat_map(|c| c.iter())
        .filter(|s| s.abs() >= near)
        .count();
    crowded as f64 > total as f64 / 5000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_runs_are_counted_single_peaks_are_not() {
        let x = [0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.5, -1.0, -1.2, -1.0, -1.0];
        // One lone peak (ignored), a run of 3, and a run of 4 at the end.
        assert_eq!(clipped_in(&x), 7);
    }
}
