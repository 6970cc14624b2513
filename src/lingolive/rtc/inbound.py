"""The incoming microphone track: read every frame, convert to 16 kHz mono float32.

aiortc queues decoded frames without bound if nobody reads them, so ``pump`` reads the track
continuously for its whole life, whatever the pipeline is doing, and hands each converted
chunk to a non-blocking sink (the pipeline's bounded queue decides what to do when full).
Frames arrive as 48 kHz interleaved stereo s16 (960 samples); ``av.AudioResampler`` does the
downmix and the resampling, keeping filter state across frames so chunk edges stay clean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from lingolive.engines.base import MODEL_RATE, Float32Array, Int16Array

log = logging.getLogger(__name__)

#: Receives (16 kHz mono float32 chunk, monotonic arrival instant); must not block.
AudioSink = Callable[[Float32Array, float], None]


class Downmixer:
    """Any av.AudioFrame → 16 kHz mono float32, with resampler state carried across frames."""

    def __init__(self, rate: int = MODEL_RATE) -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)

    def convert(self, frame: av.AudioFrame) -> Float32Array:
        parts = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        pcm = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return pcm.astype(np.float32) / 32768.0


#: Receives the speaker's own voice as 48 kHz mono int16 (rooms forward it untranslated).
VoiceSink = Callable[[Int16Array], None]


async def pump(
    track: MediaStreamTrack, sink: AudioSink, voice_sinks: list[VoiceSink] | None = None
) -> None:
    """Read ``track`` until it ends, feeding converted audio to ``sink``.

    ``voice_sinks`` (a list the caller may change while this runs) also get each frame as
    48 kHz mono, for listeners who hear this speaker in their own language.
    """
    downmix = Downmixer()
    voice = Downmixer(48_000)
    frames = 0
    try:
        while True:
            frame = await track.recv()
            arrival = time.monotonic()
            frames += 1
            if not isinstance(frame, av.AudioFrame):
                continue
            chunk = downmix.convert(frame)
            if chunk.size:
                sink(chunk, arrival)
            if voice_sinks:
                pcm = (voice.convert(frame) * 32768.0).clip(-32768, 32767).astype(np.int16)
                for deliver in list(voice_sinks):
                    deliver(pcm)
    except MediaStreamError:
        log.debug("inbound track ended after %d frames", frames)
