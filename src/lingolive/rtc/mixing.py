"""The sources a listener's track mixes: translated speech per segment, forwarded voices.

* ``SpeechQueue``: translated speech queued per segment, so that each segment's
  ``Playback`` handle learns when its first and last frame left (the ``first_audio_out``
  latency mark) and whole unplayed segments can be dropped when the backlog exceeds its
  bound (back-pressure, never unbounded).
* ``LiveQueue``: a speaker's own voice forwarded untranslated (same language), kept at most
  ``LIVE_MAX_S`` behind (older audio is dropped).

Plain numpy, no WebRTC: the outgoing track (``rtc.outbound``) pulls frames from these, and
rooms route speakers into them without touching the media stack.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from lingolive.engines.base import Int16Array
from lingolive.pipeline.playback import Playback

RATE = 48_000
LIVE_MAX_S = 0.2


@dataclass
class TrackStats:
    frames: int = 0
    speech_frames: int = 0
    underruns: int = 0  # frames padded with silence while a segment was still being spoken
    late_frames: int = 0  # times the clock had to be re-anchored after a stall
    dropped_segments: int = 0


@dataclass
class _QueuedSegment:
    segment_id: int
    playback: Playback
    chunks: deque[Int16Array] = field(default_factory=deque)
    queued: int = 0  # samples queued and not yet sent
    open: bool = True  # more audio may still come
    started: bool = False


class SpeechQueue:
    """Translated speech of one source, segment by segment, in order."""

    def __init__(self, stats: TrackStats, *, max_backlog_s: float = 20.0) -> None:
        self._stats = stats
        self._segments: deque[_QueuedSegment] = deque()
        self._by_id: dict[int, _QueuedSegment] = {}
        self._max_backlog = int(max_backlog_s * RATE)
        # Segments the listener skipped: the rest of their speech, still being synthesized,
        # must not reopen them. The last few ids are enough (ids only grow).
        self._skipped: deque[int] = deque(maxlen=64)

    @property
    def backlog_s(self) -> float:
        return sum(s.queued for s in self._segments) / RATE

    def open_segment(self, segment_id: int, playback: Playback | None = None) -> Playback:
        """Start a segment; ``playback``: a handle shared with other queues (a room's
        listeners of one language), else a new one."""
        seg = self._by_id.get(segment_id)
        if seg is None:
            seg = _QueuedSegment(segment_id, playback or Playback(segment_id))
            if segment_id in self._skipped:
                seg.playback.finish(time.monotonic())  # skipped: over before it began
                return seg.playback
            self._segments.append(seg)
            self._by_id[segment_id] = seg
        return seg.playback

    def push(self, segment_id: int, samples: Int16Array) -> None:
        """Queue 48 kHz mono int16 samples for a segment (opened on first push)."""
        if samples.size == 0 or segment_id in self._skipped:
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
                self._pop_head(time.monotonic())  # nothing was ever queued

    def _shed(self) -> None:
        """Drop whole unplayed segments (oldest first) while the backlog is over its bound."""
        while sum(s.queued for s in self._segments) > self._max_backlog:
            victim = next((s for s in self._segments if not s.started), None)
            if victim is None or victim is self._segments[-1]:
                return
            self._segments.remove(victim)
            self._by_id.pop(victim.segment_id, None)
            self._stats.dropped_segments += 1
            victim.playback.drop(time.monotonic())

    def _pop_head(self, now: float) -> None:
        """The head segment is over (played, or closed with nothing to play)."""
        seg = self._segments.popleft()
        self._by_id.pop(seg.segment_id, None)
        seg.playback.finish(now)

    def skip(self) -> None:
        """The listener skips the backlog: everything queued goes, the segment playing now
        included, and the rest of their speech is not taken any more."""
        self._skipped.extend(seg.segment_id for seg in self._segments)
        self.close()

    def close(self) -> None:
        """The listener is gone: segments still queued will never play here."""
        now = time.monotonic()
        for seg in self._segments:
            seg.playback.finish(now)
        self._segments.clear()
        self._by_id.clear()

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
                self._pop_head(now)
                continue
            if not seg.started:
                seg.started = True
                seg.playback.start(now)
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
            self._pop_head(now)
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
