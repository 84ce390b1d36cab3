//! Sample-rate conversion with rubato's windowed-sinc resampler.
//!
//! [`resample`] converts a whole buffer: 256-tap Blackman-Harris^2 sinc, 2048x oversampled
//! table with linear interpolation between table points (rubato `SincFixedIn`), anti-aliasing
//! cutoff from rubato's `calculate_cutoff` for that window (0.92 x the lower Nyquist). The output
//! has exactly `round(in_frames * to / from)` frames and is time-aligned with the input: output
//! frame `n` is the band-limited input at time `n / to_rate_hz` (to 1/2048 of an input frame),
//! so a sine keeps its phase; see the comment in [`resample`] for how. Zeros are fed after the
//! input until the filter's tail is out.

use rubato::{
    calculate_cutoff, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::audio::{AudioBuffer, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ};
use crate::error::{Error, Result};

/// Sinc length in input samples (rubato's recommended starting point).
const SINC_LEN: usize = 256;
/// Sinc table oversampling. With linear interpolation between entries, 2048 keeps the
/// interpolation error below f32 rounding (-134 dB residual for a 15 kHz sine, like cubic at 256,
/// at half of cubic's cost).
const OVERSAMPLING: usize = 2048;
/// How far (in input frames) each output frame sits after its ideal instant: rubato's table
/// convention leaves `1/OVERSAMPLING`; see [`resample`]. A phase lead of
/// `2 pi f / (2048 from_hz)`, 0.00007 rad for 1 kHz at 44.1 kHz.
pub const ALIGNMENT_OFFSET_INPUT_FRAMES: f64 = 1.0 / OVERSAMPLING as f64;
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
        interpolation: SincInterpolationType::Linear,
        window,
    };
    let resample_err = |e: &dyn std::fmt::Display| {
        Error::Resample(format!("{from_rate_hz} Hz -> {to_rate_hz} Hz: {e}"))
    };
    let mut resampler = SincFixedIn::<f32>::new(ratio, 1.0, params, CHUNK_FRAMES, channels)
        .map_err(|e| resample_err(&e))?;

    // Alignment. rubato's SincFixedIn (0.16) puts output frame n at input time
    // n * t + (t - 1 + 1/F) input frames, t = from/to, F = the table oversampling (from its
    // index arithmetic: first output at index -L/2 + t, sinc centred L/2 - (F-1)/F frames into
    // the window); its `output_delay()` does not describe this. With t = p/q in lowest terms,
    // prepending p - 1 zeros and dropping the first q - 1 outputs moves output m to input time
    // m * t + 1/F ([`ALIGNMENT_OFFSET_INPUT_FRAMES`]), i.e. aligned to 1/2048 input frame.
    let g = gcd(from_rate_hz, to_rate_hz);
    let lead_in_frames = (from_rate_hz / g - 1) as usize;
    let drop_frames = (to_rate_hz / g - 1) as usize;
    let needed = drop_frames + out_frames;

    let mut out: Vec<Vec<f32>> =
        vec![Vec::with_capacity(needed + resampler.output_frames_max()); channels];
    let mut chunk_in = vec![vec![0.0f32; CHUNK_FRAMES]; channels];
    let mut chunk_out = resampler.output_buffer_allocate(true);
    // Position in the padded input: lead-in zeros, the audio, then zeros until the filter's
    // tail is out.
    let mut pos = 0usize;
    while out[0].len() < needed {
        for (dst, src) in chunk_in.iter_mut().zip(&audio.channels) {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = (pos + i)
                    .checked_sub(lead_in_frames)
                    .and_then(|k| src.get(k))
                    .copied()
                    .unwrap_or(0.0);
            }
        }
        let (consumed, produced) = resampler
            .process_into_buffer(&chunk_in, &mut chunk_out, None)
            .map_err(|e| resample_err(&e))?;
        pos += consumed;
        for (o, c) in out.iter_mut().zip(&chunk_out) {
            o.extend_from_slice(&c[..produced]);
        }
    }
    for o in &mut out {
        o.truncate(needed);
        o.drain(..drop_frames);
    }
    AudioBuffer::new(to_rate_hz, out)
}

/// Greatest common divisor (Euclid).
fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
