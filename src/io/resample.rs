//! Sample-rate conversion with rubato's windowed-sinc resampler.
//!
//! [`resample`] converts a whole buffer: 256-tap Blackman-Harris^2 sinc, 256x oversampled
//! table with cubic interpolation between table points (rubato `SincFixedIn`), anti-aliasing
//! cutoff from rubato's `calculate_cutoff` for that window (0.92 x the lower Nyquist). The output
//! has exactly `round(in_frames * to / from)` frames and is time-aligned with the input: output
//! frame `n` is the band-limited input at time `n / to_rate_hz`, so a sine keeps its phase. The
//! filter's latency is removed by discarding the leading output frames and feeding zeros after
//! the input until the tail is out.

use rubato::{
    calculate_cutoff, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::audio::{AudioBuffer, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ};
use crate::error::{Error, Result};

/// Sinc length in input samples (rubato's recommended starting point).
const SINC_LEN: usize = 256;
/// Sinc table oversampling; cubic interpolation between entries keeps the error tiny.
const OVERSAMPLING: usize = 256;
/// Input frames per rubato call.
const CHUNK_FRAMES: usize = 4096;

/// Resamples `audio` to `to_rate_hz` (see the module docs). Same rate: a copy.
pub fn resample(audio: &AudioBuffer, to_rate_hz: u32) -> Result<AudioBuffer> {
    if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&to_rate_hz) {
        return Err(Error::UnsupportedSampleRate {
            sample_rate_hz: to_rate_hz,
        });
    }
    let from_rate_hz = audio.sample_rate_hz;
    if from_rate_hz == to_rate_hz {
        return Ok(audio.clone());
    }
    let ratio = f64::from(to_rate_hz) / f64::from(from_rate_hz);
    let in_frames = audio.frames();
    let out_frames = (in_frames as f64 * ratio).round() as usize;
    let channels = audio.num_channels();
    if in_frames == 0 {
        return AudioBuffer::new(to_rate_hz, vec![Vec::new(); channels]);
    }

    let window = WindowFunction::BlackmanHarris2;
    let params = SincInterpolationParameters {
        sinc_len: SINC_LEN,
        f_cutoff: calculate_cutoff(SINC_LEN, window),
        oversampling_factor: OVERSAMPLING,
        interpolation: SincInterpolationType::Cubic,
        window,
    };
    let resample_err = |e: &dyn std::fmt::Display| {
        Error::Resample(format!("{from_rate_hz} Hz -> {to_rate_hz} Hz: {e}"))
    };
    let mut resampler = SincFixedIn::<f32>::new(ratio, 1.0, params, CHUNK_FRAMES, channels)
        .map_err(|e| resample_err(&e))?;

    let delay = resampler.output_delay();
    let needed = delay + out_frames;
    let mut out: Vec<Vec<f32>> =
        vec![Vec::with_capacity(needed + resampler.output_frames_max()); channels];
    let mut chunk_out = resampler.output_buffer_allocate(true);
    let mut pos = 0;
    while out[0].len() < needed {
        let (consumed, produced) = if pos + CHUNK_FRAMES <= in_frames {
            let chunk: Vec<&[f32]> = audio
                .channels
                .iter()
                .map(|c| &c[pos..pos + CHUNK_FRAMES])
                .collect();
            resampler.process_into_buffer(&chunk, &mut chunk_out, None)
        } else if pos < in_frames {
            let rest: Vec<&[f32]> = audio.channels.iter().map(|c| &c[pos..]).collect();
            resampler.process_partial_into_buffer(Some(&rest), &mut chunk_out, None)
        } else {
            resampler.process_partial_into_buffer(None::<&[&[f32]]>, &mut chunk_out, None)
        }
        .map_err(|e| resample_err(&e))?;
        pos += consumed;
        for (o, c) in out.iter_mut().zip(&chunk_out) {
            o.extend_from_slice(&c[..produced]);
        }
    }
    for o in &mut out {
        o.truncate(needed);
        o.drain(..delay);
    }
    AudioBuffer::new(to_rate_hz, out)
}
