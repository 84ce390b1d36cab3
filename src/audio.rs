//! [`AudioBuffer`]: planar `f32` audio at one sample rate. A *frame* is one sample per channel.
//!
//! Samples are not clipped: decoded lossy audio often exceeds full scale and lathe keeps it.

use crate::error::{Error, Result};
use rayon::prelude::*;

/// Lowest and highest sample rates lathe accepts.
pub const MIN_SAMPLE_RATE_HZ: u32 = 8_000;
pub const MAX_SAMPLE_RATE_HZ: u32 = 384_000;
/// Most channels lathe accepts (7.1).
pub const MAX_CHANNELS: usize = 8;

/// Planar audio: `channels[c][frame]`. All channels have the same length.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioBuffer {
    pub sample_rate_hz: u32,
    pub channels: Vec<Vec<f32>>,
}

impl AudioBuffer {
    /// Builds a buffer after checking the rate, the channel count and equal channel lengths.
    pub fn new(sample_rate_hz: u32, channels: Vec<Vec<f32>>) -> Result<Self> {
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&sample_rate_hz) {
            return Err(Error::UnsupportedSampleRate { sample_rate_hz });
        }
        if channels.is_empty() || channels.len() > MAX_CHANNELS {
            return Err(Error::UnsupportedChannelCount {
                channels: channels.len(),
            });
        }
        let frames = channels[0].len();
        if channels.iter().any(|c| c.len() != frames) {
            return Err(Error::InvalidSetting(
                "channels of an audio buffer differ in length".into(),
            ));
        }
        Ok(Self {
            sample_rate_hz,
            channels,
        })
    }

    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate_hz)
    }

    /// The first non-finite sample as `(frame, channel)`, if any.
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        // Blocks screened in parallel by a branch-free test (an infinite or NaN sample has all
        // exponent bits set), then searched within the first block that fails.
        const BLOCK: usize = 1 << 14;
        let bad = |s: &f32| s.to_bits() & 0x7f80_0000 == 0x7f80_0000;
        self.channels
            .iter()
            .enumerate()
            .filter_map(|(c, ch)| {
                let b = ch
                    .par_chunks(BLOCK)
                    .position_first(|block| block.iter().fold(false, |any, s| any | bad(s)))?;
                let f = ch[b * BLOCK..].iter().position(bad)?;
                Some((b * BLOCK + f, c))
            })
            .min()
    }

    /// True when every sample is exactly zero.
    pub fn is_silent(&self) -> bool {
        self.channels.iter().all(|c| c.iter().all(|&s| s == 0.0))
    }

    /// Interleaves into one `Vec`: frame 0 of every channel, then frame 1, ...
    pub fn interleaved(&self) -> Vec<f32> {
        let n = self.num_channels();
        let mut out = vec![0.0; self.frames() * n];
        for (c, ch) in self.channels.iter().enumerate() {
            for (f, &s) in ch.iter().enumerate() {
                out[f * n + c] = s;
            }
        }
        out
    }

    /// Left and right views of a mono or stereo buffer; mono is dual mono.
    pub fn stereo_pair(&self) -> Result<(&[f32], &[f32])> {
        match self.channels.as_slice() {
            [m] => Ok((m, m)),
            [l, r] => Ok((l, r)),
            _ => Err(Error::RenderChannels {
                channels: self.num_channels(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_shapes() {
        assert!(matches!(
            AudioBuffer::new(4_000, vec![vec![0.0]]),
            Err(Error::UnsupportedSampleRate {
                sample_rate_hz: 4_000
            })
        ));
        assert!(matches!(
            AudioBuffer::new(48_000, vec![vec![0.0]; 9]),
            Err(Error::UnsupportedChannelCount { channels: 9 })
        ));
        assert!(AudioBuffer::new(48_000, vec![vec![0.0; 3], vec![0.0; 2]]).is_err());
    }

    #[test]
    fn interleaves_and_finds_nan() {
        let b = AudioBuffer::new(8_000, vec![vec![1.0, 2.0], vec![3.0, f32::NAN]]).unwrap();
        assert_eq!(b.interleaved()[..3], [1.0, 3.0, 2.0]);
        assert_eq!(b.first_non_finite(), Some((1, 1)));
        assert_eq!(b.frames(), 2);
    }

    #[test]
    fn finds_the_first_non_finite_sample_across_blocks() {
        let n = 5 * (1 << 14) + 3;
        let mut a = vec![0.5f32; n];
        let mut b = vec![f32::MIN_POSITIVE / 4.0; n]; // subnormal: finite
        b[n - 1] = f32::MAX;
        let fresh = AudioBuffer::new(48_000, vec![a.clone(), b.clone()]).unwrap();
        assert_eq!(fresh.first_non_finite(), None);
        let at = 3 * (1 << 14) - 1; // the last sample of a block
        a[at + 1] = f32::NEG_INFINITY;
        b[at + 1] = f32::NAN;
        b[at] = f32::INFINITY;
        b[n - 1] = f32::NAN;
        let x = AudioBuffer::new(48_000, vec![a, b]).unwrap();
        assert_eq!(x.first_non_finite(), Some((at, 1)));
    }
}
