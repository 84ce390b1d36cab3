#!/usr/bin/env bash
# Makes tests/data/report/reference-vorbis-128k.ogg: 8 s of stereo pink noise (side/mid
# -9 dB, about -14 LUFS; generated, so free of any licence) encoded by libvorbis at 128 kb/s,
# the encode whose side-channel loss above ~9 kHz the lossy-reference test must not copy.
# Needs python3 with numpy and ffmpeg with libvorbis. Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$work/ref.wav" <<'PY'
import sys, wave
import numpy as np
fs, n = 44100, 44100 * 8
rng = np.random.default_rng(20261201)
def pink(n):
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / fs)
    f[0] = 1.0
    spec /= np.sqrt(f)
    spec[f < 20] = 0
    x = np.fft.irfft(spec, n)
    return x / np.std(x)
a, b = pink(n), pink(n)
x = np.stack([0.12 * (a + 0.35 * b), 0.12 * (a - 0.35 * b)], 1)
pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
w = wave.open(sys.argv[1], "wb")
w.setnchannels(2); w.setsampwidth(2); w.setframerate(fs)
w.writeframes(pcm.tobytes()); w.close()
PY
ffmpeg -y -loglevel error -i "$work/ref.wav" -c:a libvorbis -b:a 128k -map_metadata -1 \
    reference-vorbis-128k.ogg
echo "wrote $(pwd)/reference-vorbis-128k.ogg"
