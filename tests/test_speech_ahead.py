"""Speech made ahead: a phrase rendered before it is committed goes out when it is.

Real engines (Apertium, espeak-ng) behind a real ``Renderer``; the output records what it
is given. Recognition's side (when it prepares and withdraws) is in
test_streaming_policy.py; the whole path on real speech in test_streaming.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
import pytest

from lingolive.engines.registry import Engines
from lingolive.pipeline.events import PipelineEvent, RenderedAhead, Translated
from lingolive.pipeline.phrase import Phrase, Stage
from lingolive.pipeline.playback import Playback
from lingolive.pipeline.renderer import Renderer
from lingolive.pipeline.workers import Workers

pytestmark = pytest.mark.timeout(60)


class Output:
    """A speech output that keeps what it is given, per segment."""

    def __init__(self) -> None:
        self.events: list[PipelineEvent] = []
        self.audio: dict[int, list[np.ndarray]] = {}
        self.closed: set[int] = set()

    def __call__(self, event: PipelineEvent) -> None:
        self.events.append(event)

    def open_segment(self, segment_id: int) -> Playback:
        self.audio.setdefault(segment_id, [])
        return Playback(segment_id)

    def push(self, segment_id: int, samples: np.ndarray) -> None:
        self.audio[segment_id].append(samples)

    def close_segment(self, segment_id: int) -> None:
        self.closed.add(segment_id)

    backlog_s = 0.0  # never behind: speech at the voice's own rate

    def loud_s(self, segment_id: int) -> float:
        pcm = np.concatenate(self.audio[segment_id])
        return float(np.count_nonzero(np.abs(pcm) > 300)) / 48_000

    @property
    def ahead(self) -> list[RenderedAhead]:
        return [e for e in self.events if isinstance(e, RenderedAhead)]

    @property
    def translations(self) -> dict[int, str]:
        return {e.segment_id: e.text for e in self.events if isinstance(e, Translated)}


def phrase(segment_id: int, text: str) -> Phrase:
    return Phrase(segment_id, "en", text, detected_lang="en", target_lang="es")


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {what}")


async def spoken(out: Output, *segment_ids: int) -> None:
    await until(lambda: out.closed >= set(segment_ids), f"spoken: {segment_ids}")


@pytest.fixture
async def rendering(engines: Engines):  # type: ignore[no-untyped-def]
    workers = Workers.create()
    out = Output()
    renderer = Renderer(engines, workers, "es", None, events=out, output=out)
    task = asyncio.create_task(renderer.run())
    yield renderer, out
    renderer.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    workers.shutdown()


async def until_rendered(renderer: Renderer) -> None:
    def rendered() -> bool:
        ahead = renderer._ahead
        return ahead is not None and ahead.task is not None and ahead.task.done()

    await until(rendered, "rendered ahead")


async def test_prepared_phrase_is_spoken_from_what_was_made_ahead(
    rendering: tuple[Renderer, Output],
) -> None:
    renderer, out = rendering
    renderer.prepare(phrase(1, "Where is the train station?"))
    await until_rendered(renderer)
    assert out.audio == {} and out.events == []  # nothing heard or shown before the commit
    committed = phrase(1, "Where is the train station?")
    said_at = time.monotonic()
    renderer.say(committed)
    await spoken(out, 1)
    assert out.ahead == [RenderedAhead(1, "es", used=True)]  # adopted (what /metrics counts)
    # Translated and synthesized before the commit; the commit's phrase carries the marks.
    assert committed.marks.at[Stage.MT_START] < said_at
    assert committed.marks.at[Stage.TTS_FIRST_AUDIO] < said_at
    assert out.translations[1] == "Dónde es la canal de tren?"  # Apertium's own words
    assert out.loud_s(1) > 0.8  # the whole sentence, not a piece of it


async def test_withdrawn_phrase_is_never_heard(rendering: tuple[Renderer, Output]) -> None:
    renderer, out = rendering
    renderer.prepare(phrase(1, "Good morning."))
    renderer.withdraw()  # the speaker went on
    renderer.say(phrase(1, "Good morning, I need a taxi to the airport."))
    await spoken(out, 1)
    assert out.ahead == [RenderedAhead(1, "es", used=False)]  # withdrawn, none adopted
    assert "aeropuerto" in out.translations[1].lower()
    assert out.loud_s(1) > 1.5


async def test_committed_text_differs_from_the_prepared_one(
    rendering: tuple[Renderer, Output],
) -> None:
    """The end pass heard more than the speculative one: what was committed is spoken."""
    renderer, out = rendering
    renderer.prepare(phrase(1, "I would like a coffee."))
    await until_rendered(renderer)
    renderer.say(phrase(1, "I would like a coffee with milk."))
    await spoken(out, 1)
    assert out.ahead == [RenderedAhead(1, "es", used=False)]  # withdrawn, none adopted
    assert "leche" in out.translations[1].lower()
    assert list(out.translations) == [1]


async def test_phrase_prepared_while_an_earlier_one_waits(
    rendering: tuple[Renderer, Output],
) -> None:
    """Phrase 2 is rendered ahead while phrase 1 is still queued: 1 is spoken first, then 2
    from its rendering, in order."""
    renderer, out = rendering
    renderer.say(phrase(1, "Thank you very much."))
    renderer.prepare(phrase(2, "Where is the train station?"))
    renderer.say(phrase(2, "Where is the train station?"))
    await spoken(out, 1, 2)
    assert list(out.audio) == [1, 2] and list(out.translations) == [1, 2]
    assert out.ahead == [RenderedAhead(2, "es", used=True)]  # adopted, none withdrawn
    assert out.loud_s(1) > 0.5 and out.loud_s(2) > 0.8


def test_metrics_count_speech_made_ahead() -> None:
    from lingolive.metrics import Metrics

    metrics = Metrics()
    for used in (True, True, False):
        metrics.observe(RenderedAhead(1, "es", used=used))
    text = metrics.render().decode()
    assert 'lingolive_speech_ahead_total{outcome="used"} 2.0' in text
    assert 'lingolive_speech_ahead_total{outcome="withdrawn"} 1.0' in text
