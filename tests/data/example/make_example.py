#!/usr/bin/env python3
"""Synthesises lathe's bundled example: a short unmastered mix and a mastered-sounding reference.

Both are generated (CC0), so they can ship with the repository. The mix is quiet, dull and
narrow, like a bounce straight out of a DAW; the reference is another arrangement of the same
instruments, bright, wide and loud, limited to a -1 dBTP-ish peak the way a commercial master is.

Usage: python3 make_example.py   (needs numpy and soundfile; writes mix.flac, reference.flac)
"""
import numpy as np
import soundfile as sf

RATE = 44100
SECONDS = 12.0
BPM = 112.0


def envelope(n, attack_s, decay_s):
    t = np.arange(n) / RATE
    a = np.clip(t / max(attack_s, 1e-4), 0, 1)
    return a * np.exp(-t / decay_s)


def one_pole_lowpass(x, cutoff_hz):
    a = np.exp(-2 * np.pi * cutoff_hz / RATE)
    y = np.empty_like(x)
    acc = 0.0
    for i, v in enumerate(x):
        acc = (1 - a) * v + a * acc
        y[i] = acc
    return y


def song(seed, bright):
    rng = np.random.default_rng(seed)
    n = int(SECONDS * RATE)
    left = np.zeros(n)
    right = np.zeros(n)
    beat = 60.0 / BPM
    steps = int(SECONDS / (beat / 4))

    def add(sig, start, pan):
        end = min(n, start + len(sig))
        if start >= n:
            return
        g_l = np.cos(pan * np.pi / 2)
        g_r = np.sin(pan * np.pi / 2)
        left[start:end] += g_l * sig[: end - start]
        right[start:end] += g_r * sig[: end - start]

    roots = [45, 41, 48, 43] if seed % 2 else [40, 43, 45, 38]
    for s in range(steps):
        t0 = int(s * beat / 4 * RATE)
        bar = (s // 16) % 4
        root = roots[bar]
        if s % 4 == 0:  # kick
            m = int(0.35 * RATE)
            t = np.arange(m) / RATE
            f = 50 + 90 * np.exp(-t / 0.03)
            kick = np.sin(2 * np.pi * np.cumsum(f) / RATE) * envelope(m, 0.001, 0.12)
            add(0.9 * kick, t0, 0.5)
        if s % 8 == 4:  # snare
            m = int(0.25 * RATE)
            snare = rng.standard_normal(m) * envelope(m, 0.001, 0.06) * 0.35
            snare += np.sin(2 * np.pi * 190 * np.arange(m) / RATE) * envelope(m, 0.001, 0.05) * 0.3
            add(snare, t0, 0.5)
        if s % 2 == 1:  # hi-hat
            m = int(0.06 * RATE)
            hat = np.diff(rng.standard_normal(m + 1)) * envelope(m, 0.0005, 0.015) * 0.12
            add(hat, t0, 0.7 if (s // 2) % 2 else 0.3)
        if s % 2 == 0:  # bass
            m = int(beat / 2 * RATE)
            f = 440 * 2 ** ((root - 69) / 12)
            t = np.arange(m) / RATE
            bass = np.tanh(2.0 * np.sin(2 * np.pi * f * t)) * envelope(m, 0.005, 0.25) * 0.35
            add(bass, t0, 0.5)
        if s % 16 == 0:  # pad chord, one per bar, spread wide
            m = int(16 * beat / 4 * RATE)
            t = np.arange(m) / RATE
            for k, iv in enumerate([12, 16, 19, 24]):
                f = 440 * 2 ** ((root + iv - 69) / 12)
                saw = 2 * ((f * t + rng.random()) % 1) - 1
                add(saw * envelope(m, 0.3, 3.0) * 0.05, t0, 0.15 + 0.23 * k)
        if s % 3 == 0:  # lead
            m = int(beat / 2 * RATE)
            note = root + 24 + [0, 3, 7, 10, 12][rng.integers(5)]
            f = 440 * 2 ** ((note - 69) / 12)
            t = np.arange(m) / RATE
            lead = np.sign(np.sin(2 * np.pi * f * t)) * envelope(m, 0.01, 0.2) * 0.07
            add(lead, t0, 0.6)
    if not bright:  # a dull mix: the top end rolled off
        left = one_pole_lowpass(left, 4000.0)
        right = one_pole_lowpass(right, 4000.0)
    return np.stack([left, right], axis=1)


def main():
    mix = song(1, bright=False)
    mid = mix.mean(axis=1, keepdims=True)
    mix = mid + 0.6 * (mix - mid)  # narrow
    mix *= 0.25 / np.abs(mix).max()  # peaks at -12 dBFS
    sf.write("mix.flac", mix, RATE, subtype="PCM_16")

    ref = song(2, bright=True)
    mid = ref.mean(axis=1, keepdims=True)
    ref = mid + 1.3 * (ref - mid)  # wide
    ref = np.tanh(3.0 * ref / np.abs(ref).max()) * 0.74  # loud and dense, true peak about -1 dBTP
    sf.write("reference.flac", ref, RATE, subtype="PCM_16")


if __name__ == "__main__":
    main()
