"""The recognizer's job queue: which segmenter events still need a pass, and back-pressure.

The segmenter speaks on the event loop every few hundred milliseconds; one STT pass may take
longer than that. The queue keeps recognition in order and its work bounded:

* **Only the newest partial matters.** A ``SpeechProgress`` carries the whole utterance so
  far, so a waiting one is replaced by the next instead of transcribed late.
* **Back-pressure.** When ``max_pending`` ended utterances already wait, recognition is
  behind: speculative work (partials, pause passes) is not queued at all, and an utterance
  that starts now is not queued on its own: its ``SpeechEnded`` is merged into the last
  waiting one, with a short silence between them. One longer STT call costs less than
  several short ones (Whisper's cost is mostly per call, and it pads to 30 s anyway), and no
  word is lost; ``on_merge`` is told, so the client can hear why phrases come together.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

import numpy as np

from lingolive.engines.base import MODEL_RATE
from lingolive.pipeline.segmenter import (
    SegmenterEvent,
    SpeechEnded,
    SpeechPaused,
    SpeechPausing,
    SpeechProgress,
    SpeechQuiet,
    SpeechResumed,
    SpeechStarted,
)

log = logging.getLogger(__name__)

#: Silence put between two merged utterances, so Whisper hears them as separate phrases.
MERGE_GAP_SAMPLES = int(0.2 * MODEL_RATE)


class RecognitionJobs:
    """Segmenter events waiting for one speaker's recognizer, in order."""

    def __init__(self, max_pending: int, *, on_merge: Callable[[], None]) -> None:
        self._max_pending = max_pending
        self._on_merge = on_merge
        self._jobs: deque[SegmenterEvent] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._merging: set[int] = set()  # utterances started while behind
        self._closed = False
        #: Utterances merged into a waiting one so far.
        self.merged = 0

    def __len__(self) -> int:
        return len(self._jobs)

    def resume_waiting(self) -> bool:
        """A ``SpeechResumed`` waits: the speaker went on after the pause being handled."""
        return any(isinstance(job, SpeechResumed) for job in self._jobs)

    def put(self, event: SegmenterEvent) -> None:
        """Queue one segmenter event, or drop or merge it when behind (never blocks)."""
        if self._closed:
            return
        behind = sum(isinstance(job, SpeechEnded) for job in self._jobs) >= self._max_pending
        if isinstance(event, SpeechStarted) and behind:
            self._merging.add(event.utterance_id)
            return
        if event.utterance_id in self._merging:
            if isinstance(event, SpeechEnded):
                self._merging.discard(event.utterance_id)
                self._merge_into_last_end(event)
            return
        if behind and isinstance(
            event, SpeechProgress | SpeechPausing | SpeechQuiet | SpeechPaused
        ):
            return
        if isinstance(event, SpeechProgress):
            self._jobs = deque(job for job in self._jobs if not isinstance(job, SpeechProgress))
        self._jobs.append(event)
        self._idle.clear()
        self._wake.set()

    def _merge_into_last_end(self, event: SpeechEnded) -> None:
        for i in range(len(self._jobs) - 1, -1, -1):
            job = self._jobs[i]
            if isinstance(job, SpeechEnded):
                gap = np.zeros(MERGE_GAP_SAMPLES, dtype=np.float32)
                self._jobs[i] = SpeechEnded(
                    utterance_id=job.utterance_id,
                    audio=np.concatenate([job.audio, gap, event.audio]),
                    speech_start_at=job.speech_start_at,
                    speech_end_at=event.speech_end_at,
                    decided_at=event.decided_at,
                    forced=event.forced,
                    # The speech runs into the merged utterance: a partial pass that heard
                    # the first one only must not pass for the final pass of both.
                    speech_samples=len(job.audio) + MERGE_GAP_SAMPLES + event.speech_samples,
                )
                self.merged += 1
                self._on_merge()
                log.warning(
                    "STT behind: merged utterance %d into %d", event.utterance_id, job.utterance_id
                )
                return

    async def get(self) -> SegmenterEvent:
        """The next event, once there is one; call ``done`` when it has been handled."""
        while not self._jobs:
            self._wake.clear()
            await self._wake.wait()
        return self._jobs.popleft()

    def done(self) -> None:
        """The event from ``get`` has been handled."""
        if not self._jobs:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Until every queued event has been handled."""
        await self._idle.wait()

    def close(self) -> None:
        """Drop what waits and accept nothing more."""
        self._closed = True
        self._jobs.clear()
