"""The outgoing audio track: paced to the wall clock, silence when idle, sources mixed.

aiortc sends whatever ``recv()`` returns as fast as it is returned. Chrome's jitter buffer
discards audio that arrives in bursts, so this track sleeps until ``t0 + pts / rate`` before
every 20 ms frame, and returns silence when nothing is queued: the stream never stops and
never runs ahead. If the loop stalls and the track falls more than ``MAX_LATE_S`` behind,
it re-anchors its clock (counting a late frame) rather than bursting to catch up.

A track mixes any number of sources, one per speaker a listener hears:

* ``SpeechQueue``: translated speech queued per segment, so the track can report when each
  segment's first and last frame left (the ``first_audio_out`` latency mark) and drop whole
  unplayed segments when the backlog exceeds its bound (back-pressure, never unbounded).
* ``LiveQueue``: a speaker's own voice forwarded untranslated (same language), kept at most
  ``LIVE_MAX_S`` behind (older audio is dropped).

Loopback sessions use one speech queue (``push``/``open_segment``/``close_segment`` on the
track); rooms give each listener's track one source per speaker.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from lingolive.engines.base import Int16Array

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
MAX_LATE_S = 0.1
LIVE_MAX_S = 0.2

#: Called on the event loop with (segment_id, monotonic instant).
SegmentCallback = Callable[[int, float], None]


@dataclass
class TrackStats:
    frames: int = 0
    speech_frames: int = 0
    underruns: int = 0  # frames padded with silence while a segment was still being spoken
    late_frames: int = 0  # times the clock had to be re-anchored after a stall
    dropped_segments: int = 0


@dataclass
class _Segment:
    segment_id: int
    chunks: deque[Int16Array] = field(default_factory=deque)
    queued: int = 0  # samples queued and not yet sent
    open: bool = True  # more audio may still come
    started: bool = False


class SpeechQueue:
    """Translated speech of one source, segment by segment, in order."""

    def __init__(
        self,
        stats: TrackStats,
        *,
        max_backlog_s: float = 20.0,
        on_first_audio: SegmentCallback | None = None,
        on_last_audio: SegmentCallback | None = None,
        on_dropped: SegmentCallback | None = None,
    ) -> None:
        self._stats = stats
        self._segments: deque[_Segment] = deque()
        self._by_id: dict[int, _Segment] = {}
        self._max_backlog = int(max_backlog_s * RATE)
        self._on_first = on_first_audio
        self._on_last = on_last_audio
        self._on_dropped = on_dropped

    @property
    def backlog_s(self) -> float:
        return sum(s.queued for s in self._segments) / RATE

    def open_segment(self, segment_id: int) -> None:
        if segment_id in self._by_id:
            return
        seg = _Segment(segment_id)
        self._segments.append(seg)
        self._by_id[segment_id] = seg

    def push(self, segment_id: int, samples: Int16Array) -> None:
        """Queue 48 kHz mono int16 samples for a segment (opened on first push)."""
        if samples.size == 0:
            return
        self.open_segment(segment_id)
        seg = self._by_id[segment_id]
        seg.chunks.append(np.ascontiguousarray(samples, dtype=np.int16).reshape(-1))
        seg.queued += samples.size
        self._shed()

    def close_segment(self, segment_id: int) -> None:
        """No more audio for this segment; it ends once its queue has played."""
        seg = self._by_id.get(segment_id)
        if seg is not None:
            seg.open = False
            if seg.queued == 0 and seg is self._segments[0] and not seg.started:
                self._pop_head()  # nothing was ever queued (empty translation)

    def _shed(self) -> None:
        """Drop whole unplayed segments (oldest first) while the backlog is over its bound."""
        while sum(s.queued for s in self._segments) > self._max_backlog:
            victim = next((s for s in self._segments if not s.started), None)
            if victim is None or victim is self._segments[-1]:
                return
            self._segments.remove(victim)
            self._by_id.pop(victim.segment_id, None)
            self._stats.dropped_segments += 1
            if self._on_dropped:
                self._on_dropped(victim.segment_id, time.monotonic())

    def _pop_head(self) -> None:
        seg = self._segments.popleft()
        self._by_id.pop(seg.segment_id, None)

    def fill(self, out: Int16Array, now: float) -> int:
        """Copy queued samples into ``out``; returns how many were written."""
        written = 0
        while written < len(out) and self._segments:
            seg = self._segments[0]
            if not seg.chunks:
                if seg.open:
                    if seg.started:
                        self._stats.underruns += 1
                    break
                self._pop_head()
                if seg.started and self._on_last:
                    self._on_last(seg.segment_id, now)
                continue
            if not seg.started:
                seg.started = True
                if self._on_first:
                    self._on_first(seg.segment_id, now)
            chunk = seg.chunks[0]
            take = min(len(chunk), len(out) - written)
            out[written : written + take] = chunk[:take]
            written += take
            seg.queued -= take
            if take == len(chunk):
                seg.chunks.popleft()
            else:
                seg.chunks[0] = chunk[take:]
        # A segment that just ran dry and is closed ends now, not one frame later.
        while self._segments and not self._segments[0].chunks and not self._segments[0].open:
            seg = self._segments[0]
            self._pop_head()
            if seg.started and self._on_last:
                self._on_last(seg.segment_id, now)
        return written


class LiveQueue:
    """A speaker's voice forwarded as it arrives; never more than ``LIVE_MAX_S`` behind."""

    def __init__(self) -> None:
        self._buf = np.zeros(0, dtype=np.int16)

    def push(self, samples: Int16Array) -> None:
        self._buf = np.concatenate([self._buf, samples.astype(np.int16, copy=False)])
        excess = len(self._buf) - int(LIVE_MAX_S * RATE)
        if excess > 0:
            self._buf = self._buf[excess:]

    def fill(self, out: Int16Array, now: float) -> int:
        take = min(len(out), len(self._buf))
        out[:take] = self._buf[:take]
        self._buf = self._buf[take:]
        return take


Source = SpeechQueue | LiveQueue


class TranslatedAudioTrack(MediaStreamTrack):
    """48 kHz mono s16 track: the listener's sources, mixed and paced."""

    kind = "audio"

    def __init__(
        self,
        *,
        max_backlog_s: float = 20.0,
        on_first_audio: SegmentCallback | None = None,
        on_last_audio: SegmentCallback | None = None,
        on_dropped: SegmentCallback | None = None,
    ) -> None:
        super().__init__()
        self.stats = TrackStats()
        self._max_backlog_s = max_backlog_s
        self.speech = SpeechQueue(
            self.stats,
            max_backlog_s=max_backlog_s,
            on_first_audio=on_first_audio,
            on_last_audio=on_last_audio,
            on_dropped=on_dropped,
        )
        self._sources: dict[object, Source] = {None: self.speech}
        self._t0: float | None = None
        self._pts = 0
        self._time_base = fractions.Fraction(1, RATE)

    # -- sources ------------------------------------------------------------------------------

    def add_source(self, key: object, source: Source) -> None:
        self._sources[key] = source

    def speech_source(
        self,
        key: object,
        *,
        on_first_audio: SegmentCallback | None = None,
        on_last_audio: SegmentCallback | None = None,
        on_dropped: SegmentCallback | None = None,
    ) -> SpeechQueue:
        """A new speech queue mixed into this track (one per speaker heard)."""
        queue = SpeechQueue(
            self.stats,
            max_backlog_s=self._max_backlog_s,
            on_first_audio=on_first_audio,
            on_last_audio=on_last_audio,
            on_dropped=on_dropped,
        )
        self._sources[key] = queue
        return queue

    def remove_source(self, key: object) -> None:
        self._sources.pop(key, None)

    # The loopback source, as a SpeechOutput.
    @property
    def backlog_s(self) -> float:
        return self.speech.backlog_s

    def open_segment(self, segment_id: int) -> None:
        self.speech.open_segment(segment_id)

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
