"""The shared recognition queue: passes that wait together run as one batch, finals first.

Scripted STT (tests/support/scripted_stt.py), a real one-thread pool: what is asserted is which
passes ran together and in which order, and that one bad request fails alone. Real Whisper
batches: test_engines.py; the gain under load: bench/load.py (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from lingolive.engines.base import EngineError, SttRequest, Transcript
from lingolive.pipeline.stage_pool import StagePool
from lingolive.pipeline.stt_queue import SttQueue
from support.scripted_stt import ScriptedSTT

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
async def queue() -> AsyncIterator[SttQueue]:
    pool = StagePool("stt", 1)
    q = SttQueue(pool, max_batch=3)
    yield q
    q.close()
    pool.shutdown()


def text(t: Transcript) -> str:
    return t.text


async def busy(stt: ScriptedSTT, queue: SttQueue) -> asyncio.Task[str]:
    """A pass that holds the STT thread until ``stt.gate`` is set."""
    stt.gate.clear()
    task = asyncio.create_task(queue.transcribe(stt, SttRequest(stt.say("Hold."), "en"), text))
    while not stt.calls:  # noqa: ASYNC110 - the pass has reached the engine
        await asyncio.sleep(0.005)
    return task


async def test_passes_that_wait_together_run_as_one_batch(queue: SttQueue) -> None:
    stt = ScriptedSTT()
    first = await busy(stt, queue)
    phrases = ["One two.", "Three four.", "Five six.", "Seven eight.", "Nine ten."]
    waiting = [
        asyncio.create_task(queue.transcribe(stt, SttRequest(stt.say(p), "en"), text))
        for p in phrases
    ]
    await asyncio.sleep(0.05)
    assert queue.pending == 6  # five waiting, one batch running
    stt.gate.set()
    assert await first == "Hold."
    # Everybody gets their own words back, in batches of at most max_batch, oldest first.
    assert await asyncio.gather(*waiting) == phrases
    assert stt.batches == [1, 3, 2]
    assert [c.heard for c in stt.calls[1:]] == phrases
    assert queue.pending == 0


async def test_a_pass_that_finds_the_thread_idle_runs_at_once(queue: SttQueue) -> None:
    stt = ScriptedSTT()
    assert await queue.transcribe(stt, SttRequest(stt.say("Alone here."), "en"), text) == (
        "Alone here."
    )
    assert stt.batches == [1]


async def test_partials_yield_to_finals(queue: SttQueue) -> None:
    stt = ScriptedSTT()
    first = await busy(stt, queue)
    partial = asyncio.create_task(
        queue.transcribe(stt, SttRequest(stt.say("Still talking"), "en", partial=True), text)
    )
    await asyncio.sleep(0.01)
    finals = [
        asyncio.create_task(queue.transcribe(stt, SttRequest(stt.say(p), "en"), text))
        for p in ("Done now.", "Me too.")
    ]
    stt.gate.set()
    await asyncio.gather(first, partial, *finals)
    # The partial came first but ran after the finals, and not in their batch.
    assert [c.heard for c in stt.calls] == ["Hold.", "Done now.", "Me too.", "Still talking"]
    assert stt.batches == [1, 2, 1]


async def test_one_bad_request_fails_alone(queue: SttQueue) -> None:
    stt = ScriptedSTT()
    first = await busy(stt, queue)
    good = asyncio.create_task(
        queue.transcribe(stt, SttRequest(stt.say("Fine words."), "en"), text)
    )
    bad_audio = np.full(1000, np.nan, dtype=np.float32)
    bad = asyncio.create_task(queue.transcribe(stt, SttRequest(bad_audio, "en"), text))
    stt.gate.set()
    await first
    results = await asyncio.gather(good, bad, return_exceptions=True)
    # The batch failed; retried one by one, only the bad request fails.
    assert results[0] == "Fine words."
    assert isinstance(results[1], EngineError)
    assert stt.batches == [1, 2, 1, 1]


async def test_a_withdrawn_pass_never_runs(queue: SttQueue) -> None:
    stt = ScriptedSTT()
    first = await busy(stt, queue)
    withdrawn = asyncio.create_task(
        queue.transcribe(stt, SttRequest(stt.say("Never mind."), "en"), text)
    )
    kept = asyncio.create_task(queue.transcribe(stt, SttRequest(stt.say("This one."), "en"), text))
    await asyncio.sleep(0.01)
    withdrawn.cancel()
    stt.gate.set()
    await first
    assert await kept == "This one."
    assert [c.heard for c in stt.calls] == ["Hold.", "This one."]


async def test_finish_runs_in_the_stt_thread(queue: SttQueue) -> None:
    """CPU work that belongs to a pass (the glossary's correction) stays off the loop."""
    import threading

    stt = ScriptedSTT()
    threads: list[str] = []

    def finish(t: Transcript) -> str:
        threads.append(threading.current_thread().name)
        return t.text.upper()

    assert await queue.transcribe(stt, SttRequest(stt.say("Quiet please."), "en"), finish) == (
        "QUIET PLEASE."
    )
    assert threads[0].startswith("ll-stt")


def test_a_routed_engine_batches_per_model() -> None:
    """``LL_STT_MODELS``: each model gets its own requests as one batch, results in order."""
    from lingolive.engines.stt_router import RoutedSTT

    english, other = ScriptedSTT(), ScriptedSTT()
    routed = RoutedSTT(other, {"en": english})
    requests = [
        SttRequest(english.say("Hello there."), "en"),
        SttRequest(other.say("Hola amigos."), "es"),
        SttRequest(english.say("Good night."), "en"),
    ]
    assert [t.text for t in routed.transcribe_batch(requests)] == [
        "Hello there.",
        "Hola amigos.",
        "Good night.",
    ]
    assert (english.batches, other.batches) == ([2], [1])
