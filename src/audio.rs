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
/// Largest sample magnitude whose level lathe measures: 10^6, +120 dBFS. Float files may
/// carry overs, but nothing real is a million times full scale; beyond it the f32 energies
/// and spectra of the analysis approach overflow (a sample of 1e20 squares to infinity), so
/// such a file is refused with the frame, not measured as infinitely loud or as silence.
pub const MAX_MEASURABLE_SAMPLE: f32 = 1.0e6;

/// Peak memory of analysing audio, bytes per sample (frame x channel): the decoded `f32`
/// planes (4 B) and the analysis' own blocks and curves. Measured (`/usr/bin/time -v`, release
/// build, `lathe analyze` of a 1-hour stereo 44.1 kHz 24-bit WAV): 1356 MB for 317.5 M samples,
/// 4.3 B; 6 leaves room for a decoder that cannot reserve the length up front.
pub const ANALYSIS_BYTES_PER_SAMPLE: u64 = 6;
/// Peak memory of rendering a mix of `channels` channels, bytes per frame, beyond the mix
/// itself (which exists when the render starts), by the render chain's buffers at its
/// fullest (see [`crate::render::chain`]): the K-weighted energy and the limiter's detector
/// peaks beside the processed channels (8 B), or the output beside them (4 B a channel), and
/// the detector peaks' packed copy (at most 4 B: a plain copy where they do not pack).
/// `keeps_mix`: the mix stays in memory through the render (a report or preview reads it
/// after), its processed copy is made beside it (4 B a channel), and the report's stage holds
/// the mix, the master and the written output decoded and analysed
/// ([`ANALYSIS_BYTES_PER_SAMPLE`] a sample). Measured (`/usr/bin/time -v`, release build,
/// `lathe match` of the bundled example looped to 4 minutes and to 1 hour, stereo 44.1 kHz
/// 24-bit WAV): see the README's "Long files and memory".
pub fn render_bytes_per_frame(channels: usize, keeps_mix: bool) -> u64 {
    let c = channels as u64;
    let render = (4 * c).max(8) + 4;
    if keeps_mix {
        (4 * c + render).max(4 * c + ANALYSIS_BYTES_PER_SAMPLE * c)
    } else {
        render
    }
}

/// Refuses `frames` x `channels` of audio at `sample_rate_hz` when `bytes_per_sample` times
/// their samples exceed the memory available now (Linux: `MemAvailable` of `/proc/meminfo`,
/// and the cgroup's `memory.max` less `memory.current` where one is set): up front, with a
/// clear message, instead of being killed by the OS half way. Elsewhere, no check.
pub fn check_memory(
    frames: u64,
    channels: usize,
    sample_rate_hz: u32,
    bytes_per_sample: u64,
    what: &'static str,
) -> Result<()> {
    match available_memory_bytes() {
        Some(available) => check_memory_against(
            frames,
            channels,
            sample_rate_hz,
            bytes_per_sample,
            what,
            available,
        ),
        None => Ok(()),
    }
}

fn check_memory_against(
    frames: u64,
    channels: usize,
    sample_rate_hz: u32,
    bytes_per_sample: u64,
    what: &'static str,
    available: u64,
) -> Result<()> {
    let needed = frames
        .saturating_mul(channels as u64)
        .saturating_mul(bytes_per_sample);
    if needed <= available {
        return Ok(());
    }
    Err(Error::NotEnoughMemory {
        what,
        duration_s: frames as f64 / f64::from(sample_rate_hz.max(1)),
        needed_mb: needed >> 20,
        available_mb: available >> 20,
    })
}

/// Memory available to this process, bytes, where the system says.
fn available_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb = meminfo.lines().find_map(|l| {
        l.strip_prefix("MemAvailable:")?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse::<u64>()
            .ok()
    })?;
    let mut available = kb.saturating_mul(1024);
    // cgroup v2: a container's limit, which MemAvailable (the host's) does not show.
    let read = |p: &str| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok();
    if let (Some(max), Some(current)) = (
        read("/sys/fs/cgroup/memory.max"),
        read("/sys/fs/cgroup/memory.current"),
    ) {
        available = available.min(max.saturating_sub(current));
    }
    Some(available)
}

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

    /// The first sample whose level cannot be measured, as `(frame, channel, value)`: NaN,
    /// infinite, or beyond [`MAX_MEASURABLE_SAMPLE`] in magnitude.
    pub fn first_unmeasurable(&self) -> Option<(usize, usize, f32)> {
        const BLOCK: usize = 1 << 14;
        // |s| > limit, NaN and infinity in one integer comparison: for non-negative floats the
        // bit patterns are ordered like the values, and NaN and infinity lie above every finite
        // value.
        let limit = MAX_MEASURABLE_SAMPLE.to_bits();
        let bad = |s: &f32| s.to_bits() & 0x7fff_ffff > limit;
        self.channels
            .iter()
            .enumerate()
            .filter_map(|(c, ch)| {
                let b = ch
                    .par_chunks(BLOCK)
                    .position_first(|block| block.iter().fold(false, |any, s| any | bad(s)))?;
                let f = ch[b * BLOCK..].iter().position(bad)?;
                Some((b * BLOCK + f, c, ch[b * BLOCK + f]))
            })
            .min_by_key(|&(f, c, _)| (f, c))
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
    use std::path::Path;

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

    #[test]
    fn memory_check_refuses_what_does_not_fit() {
        // One hour of stereo at 44.1 kHz: 158.76 M frames x 12 B = 1905 MB beyond the mix to
        // render it, x 20 B = 3175 MB when a report keeps the mix.
        let hour = 3_600 * 44_100;
        assert_eq!(render_bytes_per_frame(2, false), 12);
        assert_eq!(render_bytes_per_frame(2, true), 20);
        // Mono: the energy and the peaks outweigh the one channel.
        assert_eq!(render_bytes_per_frame(1, false), 12);
        assert!(check_memory_against(hour, 1, 44_100, 12, "x", 2 << 30).is_ok());
        let e = check_memory_against(hour, 1, 44_100, 12, "mastering", 1 << 30).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("3600 s long") && msg.contains("1816 MB") && msg.contains("1024 MB"),
            "{msg}"
        );
        // Absurd counts saturate instead of overflowing.
        assert!(check_memory_against(u64::MAX, 8, 8_000, 20, "x", u64::MAX - 1).is_err());
        // This machine says how much it has (Linux).
        if Path::new("/proc/meminfo").exists() {
            assert!(available_memory_bytes().is_some_and(|b| b > 0));
        }
    }

    #[test]
    fn finds_the_first_unmeasurable_sample() {
        let n = 3 * (1 << 14) + 5;
        let mut a = vec![0.5f32; n];
        let mut b = vec![-MAX_MEASURABLE_SAMPLE; n]; // at the limit: measurable
        let ok = AudioBuffer::new(48_000, vec![a.clone(), b.clone()]).unwrap();
        assert_eq!(ok.first_unmeasurable(), None);
        let at = 2 * (1 << 14) + 1;
        a[at] = 1e30;
        b[at + 1] = f32::NAN;
        b[at - 1] = -1.5e6;
        let x = AudioBuffer::new(48_000, vec![a, b]).unwrap();
        assert_eq!(x.first_unmeasurable(), Some((at - 1, 1, -1.5e6)));
        let mut c = vec![0.0f32; 10];
        c[7] = f32::INFINITY;
        let y = AudioBuffer::new(48_000, vec![c]).unwrap();
        assert_eq!(y.first_unmeasurable(), Some((7, 0, f32::INFINITY)));
    }
}
