"""Every speaker's recognition passes wait in one queue; the ones that wait together run as
one batch.

One STT call at a time fits 2 cores (``workers``), so when several people stop speaking
at once their final passes used to run one after another: the fourth waited for three
whole passes. A Whisper batch costs far less than the sum of its passes (one encoder and
one decoder call over all the windows: four phrases in ~1.9× the time of one, measured in
docs/benchmarks.md), so whenever the STT thread comes free, everything that waits goes in
together. Nothing waits for a batch to fill: a pass that finds the thread idle runs at once.

Priorities: **partial passes yield to finals.** A batch is made of the final (and
speculative) passes that wait, oldest first, up to ``max_batch``; partials go only when no
final waits, and never in the same batch (a partial's window would slow the finals down,
and a partial is optional work the recognizer skips when anything waits).

Failures stay with their request: if a batch fails, its requests run again one by one, so
one bad buffer fails one phrase, not everybody's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lingolive.engines.base import STT, Float32Array, SttRequest, Transcript
from lingolive.pipeline.stage_pool import StagePool

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Waiting:
    stt: STT
    request: SttRequest
    #: Runs in the STT thread on the transcript (e.g. a glossary's fuzzy correction), so
    #: CPU work that belongs to the pass never lands on the event loop.
    finish: Callable[[Transcript], Any]
    future: asyncio.Future[Any]


class SttQueue:
    """Recognition passes of every session, run in the STT pool in batches."""

    def __init__(self, pool: StagePool, max_batch: int = 8) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.pool = pool
        self.max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._drain: asyncio.Task[None] | None = None
        #: Batches run and the passes in them (``/metrics``: their ratio is the mean size).
        self.batches = 0
        self.passes = 0

    @property
    def pending(self) -> int:
        """Passes waiting, plus calls in the STT pool (a running batch counts once)."""
        return sum(not w.future.done() for w in self._waiting) + self.pool.pending

    @property
    def behind(self) -> bool:
        """A whole batch of final passes waits: optional work would only add to it."""
        finals = sum(not w.future.done() and not w.request.partial for w in self._waiting)
        return finals >= self.max_batch

    async def detect(
        self, stt: STT, audio: Float32Array, candidates: frozenset[str] | None
    ) -> tuple[str, float]:
        """Language detection: short, unbatched, in the same pool (one model at a time)."""
        return await self.pool.run(stt.detect_language, audio, candidates)

    async def transcribe(
        self, stt: STT, request: SttRequest, finish: Callable[[Transcript], T]
    ) -> T:
        """``finish(stt.transcribe(request))``, run with whatever else waits.

        Cancelling the caller withdraws a request that has not started; one already in a
        running batch finishes there and its result is dropped.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(stt, request, finish, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        return await future

    def _next_batch(self) -> list[_Waiting]:
        self._waiting = [w for w in self._waiting if not w.future.done()]
        if not self._waiting:
            return []
        finals = [w for w in self._waiting if not w.request.partial]
        candidates = finals or self._waiting
        first = candidates[0]
        # One engine per batch (a routed STT batches per model on its own).
        batch = [w for w in candidates if w.stt is first.stt][: self.max_batch]
        taken = {id(w) for w in batch}
        self._waiting = [w for w in self._waiting if id(w) not in taken]
        return batch

    async def _run(self) -> None:
        while batch := self._next_batch():
            try:
                outcomes = await self.pool.run(self._compute, batch)
            except RuntimeError as exc:  # the pool was shut down
                outcomes = [exc] * len(batch)
            self.batches += 1
            self.passes += len(batch)
            for waiting, outcome in zip(batch, outcomes, strict=True):
                if waiting.future.done():
                    continue  # withdrawn while it ran
                if isinstance(outcome, BaseException):
                    waiting.future.set_exception(outcome)
                else:
                    waiting.future.set_result(outcome)

    @staticmethod
    def _compute(batch: list[_Waiting]) -> list[object]:
        """In the STT thread: the batch, each result finished; on failure one by one."""
        stt = batch[0].stt
        try:
            transcripts = stt.transcribe_batch([w.request for w in batch])
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            log.warning("batch of %d passes failed (%s): running them one by one", len(batch), exc)
            return [outcome for w in batch for outcome in SttQueue._compute([w])]
        outcomes: list[object] = []
        for waiting, transcript in zip(batch, transcripts, strict=True):
            try:
                outcomes.append(waiting.finish(transcript))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def close(self) -> None:
        """Withdraw everything that waits (the server is stopping)."""
        for waiting in self._waiting:
            if not waiting.future.done():
                waiting.future.cancel()
        self._waiting = []
        if self._drain is not None:
            self._drain.cancel()
            self._drain = None
