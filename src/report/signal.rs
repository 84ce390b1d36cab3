//! Curves the report draws from the audio itself (not from [`crate::analysis::Features`]): the
//! peak envelope of mix and master (a waveform overview) and a fine-resolution long-term
//! spectrum.
//!
//! - **Peak envelope**: the largest `|sample|` of any channel in each of [`ENVELOPE_POINTS`]
//!   equal stretches of the file.
//! - **Fine spectrum**: Welch's averaged periodogram (P. D. Welch, "The use of fast Fourier
//!   transform for the estimation of power spectra", IEEE Trans. Audio Electroacoust. 15(2),
//!   1967) of the mid `(L+R)/2` with a Hann window of [`SPECTRUM_FFT_LEN`] at 50 % overlap,
//!   smoothed to 1/[`SMOOTHING_FRACTION`] octave on a log grid, and scaled to the power a
//!   third-octave band centred there would hold, relative to the integrated loudness: on a
//!   smooth spectrum it reads as the tonal-balance curves do, so the target's third-octave
//!   curve can be drawn on the same axes. Ungated (the tonal balance gates quiet frames), so
//!   it may sit a little under the band curves on material with long quiet passages.

use realfft::RealFftPlanner;

use crate::audio::AudioBuffer;

/// Points of the peak envelope (about one per pixel of the plot).
pub const ENVELOPE_POINTS: usize = 700;
/// FFT length of the fine spectrum: 5.4 Hz bins at 44.1 kHz.
pub const SPECTRUM_FFT_LEN: usize = 8192;
/// Smoothing: 1/24 octave.
pub const SMOOTHING_FRACTION: f64 = 24.0;
/// Grid points per octave of the fine spectrum.
const POINTS_PER_OCTAVE: f64 = 48.0;

/// The peak envelope: `(hop_s, peaks)`, peaks linear (0..), one per hop.
pub fn peak_envelope(audio: &AudioBuffer) -> (f64, Vec<f64>) {
    let frames = audio.frames();
    if frames == 0 {
        return (0.0, Vec::new());
    }
    let points = ENVELOPE_POINTS.min(frames);
    let hop = frames.div_ceil(points);
    let peaks = (0..frames.div_ceil(hop))
        .map(|i| {
            let (a, b) = (i * hop, ((i + 1) * hop).min(frames));
            audio
                .channels
                .iter()
                .map(|c| c[a..b].iter().fold(0.0f32, |m, s| m.max(s.abs())))
                .fold(0.0f32, f32::max)
                .into()
        })
        .collect();
    (hop as f64 / f64::from(audio.sample_rate_hz), peaks)
}

/// The fine spectrum (see the module docs): `(freq_hz, level_db)` from 20 Hz to
/// `min(20 kHz, 0.45 fs)`; levels `None` where there is no power.
pub fn fine_spectrum(audio: &AudioBuffer, integrated_lufs: f64) -> (Vec<f64>, Vec<Option<f64>>) {
    let n = SPECTRUM_FFT_LEN;
    let frames = audio.frames();
    if frames < n || !integrated_lufs.is_finite() {
        return (Vec::new(), Vec::new());
    }
    let scale = 1.0 / audio.num_channels() as f64;
    let mid: Vec<f64> = (0..frames)
        .map(|i| audio.channels.iter().map(|c| f64::from(c[i])).sum::<f64>() * scale)
        .collect();
    let window: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect();
    let w2: f64 = window.iter().map(|w| w * w).sum();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut input = fft.make_input_vec();
    let mut output = fft.make_output_vec();
    let mut power = vec![0.0f64; n / 2 + 1];
    let mut count = 0usize;
    let mut start = 0;
    while start + n <= frames {
        for (x, (s, w)) in input
            .iter_mut()
            .zip(mid[start..start + n].iter().zip(&window))
        {
            *x = s * w;
        }
        fft.process(&mut input, &mut output)
            .expect("buffer sizes come from the plan");
        for (p, c) in power.iter_mut().zip(&output) {
            *p += c.norm_sqr();
        }
        count += 1;
        start += n / 2;
    }
    // One-sided power per bin: the bins sum to the mean square (Parseval with the window's
    // energy); as a density, per hertz.
    let fs = f64::from(audio.sample_rate_hz);
    let bin_hz = fs / n as f64;
    let density: Vec<f64> = power
        .iter()
        .map(|p| 2.0 * p / (count as f64 * n as f64 * w2) / bin_hz)
        .collect();
    let top = 20_000f64.min(0.45 * fs);
    let octaves = (top / 20.0).log2();
    let points = (octaves * POINTS_PER_OCTAVE).ceil() as usize;
    let half = 2f64.powf(0.5 / SMOOTHING_FRACTION);
    // Width of a base-10 third-octave band, relative to its centre.
    let third = 10f64.powf(0.05) - 10f64.powf(-0.05);
    let mut freq = Vec::with_capacity(points + 1);
    let mut level = Vec::with_capacity(points + 1);
    for i in 0..=points {
        let f = 20.0 * 2f64.powf(i as f64 / POINTS_PER_OCTAVE);
        let (lo, hi) = (f / half, f * half);
        let (k0, k1) = (
            (lo / bin_hz).round() as usize,
            (hi / bin_hz).round() as usize,
        );
        let k1 = k1.max(k0).min(density.len() - 1);
        let mean = density[k0..=k1].iter().sum::<f64>() / (k1 - k0 + 1) as f64;
        let band_power = mean * third * f;
        freq.push(f);
        level.push((band_power > 0.0).then(|| 10.0 * band_power.log10() - integrated_lufs));
    }
    (freq, level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_holds_the_peaks() {
        let mut x = vec![0.1f32; 70_000];
        x[12_345] = -0.9;
        let a = AudioBuffer::new(44_100, vec![x.clone(), x]).unwrap();
        let (hop_s, peaks) = peak_envelope(&a);
        assert_eq!(peaks.len(), ENVELOPE_POINTS);
        assert!((hop_s - 100.0 / 44_100.0).abs() < 1e-12);
        assert!((peaks[123] - 0.9).abs() < 1e-6);
        assert!((peaks[0] - 0.1).abs() < 1e-6);
    }

    #[test]
    fn a_sine_reads_its_power_in_its_band() {
        // A 1 kHz sine of amplitude 0.5: mean square 0.125, -9.03 dB. With the "loudness" at
        // 0 the fine level at 1 kHz is the sine's power spread over a 1/24-octave window,
        // times a third-octave width: 10 log10(0.125 * third / window) where the window holds
        // the whole line.
        let fs = 48_000.0;
        let x: Vec<f32> = (0..96_000)
            .map(|i| (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / fs).sin()) as f32)
            .collect();
        let a = AudioBuffer::new(48_000, vec![x]).unwrap();
        let (f, l) = fine_spectrum(&a, 0.0);
        let i = f.iter().position(|&v| (v - 1000.0).abs() < 8.0).unwrap();
        let bin_hz = fs / SPECTRUM_FFT_LEN as f64;
        let half = 2f64.powf(0.5 / SMOOTHING_FRACTION);
        let (k0, k1) = (
            (f[i] / half / bin_hz).round(),
            (f[i] * half / bin_hz).round(),
        );
        let width_hz = (k1 - k0 + 1.0) * bin_hz;
        let third = 10f64.powf(0.05) - 10f64.powf(-0.05);
        let expected = 10.0 * (0.125 * third * f[i] / width_hz).log10();
        // 0.05 dB: the Hann window's leakage outside the 1/24-octave window (< 1 %).
        assert!(
            (l[i].unwrap() - expected).abs() < 0.05,
            "{:?} vs {expected}",
            l[i]
        );
    }
}
