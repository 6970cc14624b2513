"""The outgoing audio track: paced to the wall clock, silence when idle, sources mixed.

aiortc sends whatever ``recv()`` returns as fast as it is returned. Chrome's jitter buffer
discards audio that arrives in bursts, so this track sleeps until ``t0 + pts / rate`` before
every 20 ms frame, and returns silence when nothing is queued: the stream never stops and
never runs ahead. If the loop stalls and the track falls more than ``MAX_LATE_S`` behind,
it re-anchors its clock (counting a late frame) rather than bursting to catch up.

A track mixes any number of sources (``rtc.mixing``), one per speaker a listener hears. A
loopback call speaks into the track's own speech queue: the track is then a
``SpeechOutput`` (``open_segment`` returns the segment's ``Playback`` handle).
"""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from lingolive.engines.base import Int16Array
from lingolive.pipeline.playback import Playback
from lingolive.rtc.mixing import RATE, LiveQueue, Source, SpeechQueue, TrackStats

__all__ = [
    "FRAME_SAMPLES",
    "RATE",
    "LiveQueue",
    "SpeechQueue",
    "TrackStats",
    "TranslatedAudioTrack",
]

FRAME_SAMPLES = 960  # 20 ms
MAX_LATE_S = 0.1


class TranslatedAudioTrack(MediaStreamTrack):
    """48 kHz mono s16 track: the listener's sources, mixed and paced."""

    kind = "audio"

    def __init__(self, *, max_backlog_s: float = 20.0) -> None:
        super().__init__()
        self.stats = TrackStats()
        self._max_backlog_s = max_backlog_s
        self.speech = SpeechQueue(self.stats, max_backlog_s=max_backlog_s)
        self._sources: dict[object, Source] = {None: self.speech}
        self._t0: float | None = None
        self._pts = 0
        self._time_base = fractions.Fraction(1, RATE)

    # -- sources ------------------------------------------------------------------------------

    def add_source(self, key: object, source: Source) -> None:
        self._sources[key] = source

    def speech_source(self, key: object) -> SpeechQueue:
        """A new speech queue mixed into this track (one per speaker heard)."""
        queue = SpeechQueue(self.stats, max_backlog_s=self._max_backlog_s)
        self._sources[key] = queue
        return queue

    def _speech_queues(self) -> list[SpeechQueue]:
        return [s for s in self._sources.values() if isinstance(s, SpeechQueue)]

    def skip(self) -> None:
        """Drop the translated speech queued on this track (every speaker's)."""
        for queue in self._speech_queues():
            queue.skip()

    def remove_source(self, key: object) -> None:
        source = self._sources.pop(key, None)
        if isinstance(source, SpeechQueue):
            source.close()

    # The loopback source, as a SpeechOutput.
    @property
    def backlog_s(self) -> float:
        return self.speech.backlog_s

    def open_segment(self, segment_id: int) -> Playback:
        return self.speech.open_segment(segment_id)

    def push(self, segment_id: int, samples: Int16Array) -> None:
        self.speech.push(segment_id, samples)

    def close_segment(self, segment_id: int) -> None:
        self.speech.close_segment(segment_id)

    # -- consumer side (aiortc's sender) ---------------------------------------------------

    def _mix(self, now: float) -> tuple[Int16Array, bool]:
        mixed = np.zeros(FRAME_SAMPLES, dtype=np.int32)
        active = 0
        buf = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        for source in list(self._sources.values()):
            buf[:] = 0
            if source.fill(buf, now):
                mixed += buf
                active += 1
        if active > 1:
            # Two voices at once: scale so the sum stays in range without harsh clipping.
            mixed = (mixed / np.sqrt(active)).astype(np.int32)
        return np.clip(mixed, -32768, 32767).astype(np.int16), active > 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        target = self._t0 + self._pts / RATE
        if target > now:
            await asyncio.sleep(target - now)
        elif now - target > MAX_LATE_S:
            # The loop stalled: re-anchor instead of sending a burst of catch-up frames.
            self.stats.late_frames += 1
            self._t0 = now - self._pts / RATE

        samples, voiced = self._mix(time.monotonic())
        if voiced:
            self.stats.speech_frames += 1
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = self._time_base
        self._pts += FRAME_SAMPLES
        self.stats.frames += 1
        return frame

    def stop(self) -> None:
        super().stop()
        for queue in self._speech_queues():
            queue.close()
