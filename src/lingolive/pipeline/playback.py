"""The speech output contract: segments of translated speech, and a handle on each one.

A stage that speaks opens a segment on a ``SpeechOutput`` and gets a ``Playback`` back:
three futures that the output resolves when the segment's first frame is sent, when its
last frame is sent, or when it is dropped unplayed. The speaker that opened the segment
awaits them to mark its phrase (``first_audio_out``) instead of being called back through
lambdas wired in by whoever built the track. Like LiveKit Agents' ``AudioOutput`` with
``playback_started``/``playback_finished``.

One handle may be shared by several outputs (a room's fan-out to every listener of a
language): the first listener that plays the segment resolves ``started``. Each future
carries the monotonic instant it happened.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from lingolive.engines.base import Int16Array


class Playback:
    """One segment of speech on its way out."""

    def __init__(self, segment_id: int) -> None:
        loop = asyncio.get_running_loop()
        self.segment_id = segment_id
        self.started: asyncio.Future[float] = loop.create_future()
        self.finished: asyncio.Future[float] = loop.create_future()
        self.dropped: asyncio.Future[float] = loop.create_future()

    def start(self, when: float) -> None:
        if not self.started.done() and not self.dropped.done():
            self.started.set_result(when)

    def finish(self, when: float) -> None:
        if not self.finished.done():
            self.finished.set_result(when)

    def drop(self, when: float) -> None:
        """Dropped unplayed; a segment that already started somewhere stays started."""
        if not self.started.done() and not self.dropped.done():
            self.dropped.set_result(when)
            self.finish(when)

    def cancel(self) -> None:
        """Nobody will play it any more (the output or the pipeline closed)."""
        for future in (self.started, self.finished, self.dropped):
            future.cancel()


class SpeechOutput(Protocol):
    """Where synthesized speech goes: the outgoing track, a room's fan-out, or a file."""

    def open_segment(self, segment_id: int) -> Playback:
        """Start a segment (idempotent: the same handle for the same id)."""
        ...

    def push(self, segment_id: int, samples: Int16Array) -> None:
        """48 kHz mono int16 samples of an open segment."""
        ...

    def close_segment(self, segment_id: int) -> None:
        """No more audio for this segment; it ends once what was pushed has played."""
        ...

    @property
    def backlog_s(self) -> float:
        """Seconds of speech pushed here and not yet played: how far behind the listener
        is (a room's fan-out: its furthest-behind listener; a file: never)."""
        ...
