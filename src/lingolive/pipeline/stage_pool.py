"""A named thread pool for blocking inference that counts the calls it has not finished.

Inference on the event loop adds its duration straight to the jitter of every WebRTC track,
so each engine call runs in a thread. ``StagePool.pending`` lets the pipeline skip optional
work (partial transcripts) when a stage is already busy, instead of queueing it behind work
that matters more.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class StagePool:
    """A named thread pool that counts the calls it has not finished yet."""

    def __init__(self, name: str, threads: int) -> None:
        self.name = name
        self.threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"ll-{name}")
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Calls submitted and not yet finished (running or queued)."""
        return self._pending

    def _enter(self) -> None:
        with self._lock:
            self._pending += 1

    def _leave(self) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in this pool and await its result."""
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        self._enter()

        def call() -> T:
            try:
                return ctx.run(fn, *args)
            finally:
                self._leave()

        return await loop.run_in_executor(self._executor, call)

    async def iterate(self, make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """Drive a blocking generator in this pool, yielding its items on the loop.

        Each ``next()`` is one pool call, so a long synthesis never holds a thread while the
        consumer is slow, and closing the async iterator closes the generator in the pool.
        """
        # A cancelled consumer may leave a step running in its thread; closing a running
        # generator raises, so steps and the final close take turns on this lock.
        turn = threading.Lock()

        def start() -> Iterator[T]:
            return make()

        def step(it: Iterator[T]) -> object:
            with turn:
                return next(it, _DONE)

        gen = await self.run(start)

        def close() -> None:
            with turn:
                getattr(gen, "close", lambda: None)()

        try:
            while True:
                item = await self.run(step, gen)
                if item is _DONE:
                    break
                yield item  # type: ignore[misc]
        finally:
            # Not awaited: the consumer may be cancelled, and closing must happen anyway.
            with contextlib.suppress(RuntimeError):  # the pool is already shut down
                self._executor.submit(close)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
