"""Reading and writing audio files: one decoder for the CLI, the client and the benchmarks.

``av`` (FFmpeg) decodes whatever a user hands us (WAV, MP3, Opus, video soundtracks) and
resamples it in the same pass, so every caller asks for the rate it works at instead of
resampling a second time.
"""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np

from lingolive.engines.base import Float32Array, Int16Array


def decode(path: Path, rate: int) -> Int16Array:
    """Any audio file av can decode → mono int16 at ``rate`` (empty if it has no samples)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    parts: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    if not parts:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(parts).astype(np.int16)


def decode_float(path: Path, rate: int) -> Float32Array:
    """``decode`` scaled to float32 in [-1, 1), the form the recognisers take."""
    return decode(path, rate).astype(np.float32) / 32768.0


def write_wav(path: Path, samples: Int16Array, rate: int) -> None:
    """16-bit mono WAV: what every player opens."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(samples, dtype=np.int16).tobytes())
