"""Keeping up with a speaker who does not stop: faster speech and shorter pauses when behind.

The rule on its own, then real engines (Apertium, espeak-ng, Piper) behind a real
``Renderer`` whose output says how far behind its listener is.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from lingolive.engines.base import MAX_SPEED
from lingolive.engines.registry import Engines
from lingolive.pipeline.events import PhraseTimed, PipelineEvent, SpeechDropped
from lingolive.pipeline.keep_up import KeepUp
from lingolive.pipeline.phrase import Phrase, Stage
from lingolive.pipeline.playback import Playback
from lingolive.pipeline.renderer import Renderer
from lingolive.pipeline.synthesis import OUT_RATE
from lingolive.pipeline.workers import Workers
from lingolive.protocol import ErrorMsg
from lingolive.wire_events import to_wire


def test_the_voice_keeps_its_rate_until_the_listener_falls_behind() -> None:
    rule = KeepUp()
    assert rule.speed(0.0) == rule.speed(1.0) == 1.0
    assert 1.0 < rule.speed(1.3) < rule.speed(1.7) < rule.speed(2.0) == 1.3
    assert rule.speed(30.0) == 1.3  # never beyond the bound
    assert KeepUp(max_speed=1.0).speed(10.0) == 1.0  # LL_KEEP_UP_MAX_SPEED=1
    assert KeepUp(max_speed=9.0).speed(10.0) == MAX_SPEED


def test_pauses_are_short_inside_a_sentence_and_shorter_when_behind() -> None:
    rule = KeepUp()
    clause, sentence = rule.pause(0.0, sentence_end=False), rule.pause(0.0, sentence_end=True)
    assert clause < sentence
    assert rule.pause(3.0, sentence_end=True) < sentence
    assert rule.pause(3.0, sentence_end=False) < clause


class Behind:
    """A speech output whose listener is ``backlog_s`` behind; it records what it got."""

    def __init__(self, backlog_s: float) -> None:
        self.backlog_s = backlog_s
        self.events: list[PipelineEvent] = []
        self.audio: list[np.ndarray] = []

    def __call__(self, event: PipelineEvent) -> None:
        self.events.append(event)

    def open_segment(self, segment_id: int) -> Playback:
        self.playback = Playback(segment_id)
        return self.playback

    def push(self, segment_id: int, samples: np.ndarray) -> None:
        self.playback.start(0.0)  # its first frame "played" as it came, like a track's
        self.audio.append(samples)

    def close_segment(self, segment_id: int) -> None:
        pass

    @property
    def seconds(self) -> float:
        return sum(len(a) for a in self.audio) / OUT_RATE

    @property
    def timed(self) -> PhraseTimed:
        return next(e for e in self.events if isinstance(e, PhraseTimed))


async def speak(
    engines: Engines, target: str, text: str, source: str, backlog_s: float, said_s: float = 0.0
) -> Behind:
    """``text`` rendered for a listener ``backlog_s`` behind, its speech ended ``said_s`` ago."""
    out = Behind(backlog_s)
    workers = Workers.create()
    renderer = Renderer(engines, workers, target, None, events=out, output=out)
    task = asyncio.create_task(renderer.run())
    phrase = Phrase(1, source, text, detected_lang=source, target_lang=target)
    phrase.marks.mark(Stage.SPEECH_END, time.monotonic() - said_s)
    renderer.say(phrase)
    renderer.finish()
    await asyncio.wait_for(task, 30)
    workers.shutdown()
    return out


@pytest.mark.parametrize(
    ("source", "target", "text"),
    [
        ("en", "es", "When a sensor hears something unusual, it sends a message to the room."),
        ("es", "en", "Cuando un sensor oye algo raro, envía un mensaje a la sala de control."),
    ],
)
async def test_a_listener_far_behind_hears_the_phrase_faster(
    engines: Engines, source: str, target: str, text: str
) -> None:
    """espeak-ng (into Spanish) and Piper (into English) speak at up to 1.3 x when the
    listener is 4 s behind: the same phrase takes clearly less time, and says so."""
    on_time = await speak(engines, target, text, source, 0.0)
    behind = await speak(engines, target, text, source, 4.0)
    assert on_time.timed.speed == 1.0 and on_time.timed.backlog_s == 0.0
    assert behind.timed.speed == 1.3 and behind.timed.backlog_s == 4.0
    # Piper 1.3 x: 0.82-0.87 of the time in 8 draws (its pauses do not scale); espeak-ng ~0.76
    assert behind.seconds < 0.92 * on_time.seconds, (behind.seconds, on_time.seconds)


async def test_a_phrase_said_long_ago_is_spoken_faster_with_nothing_queued(
    engines: Engines,
) -> None:
    """The listener hears a clause after what is queued *and* after the time it took to
    recognize it: a clause committed 2.5 s after it was said is behind already, queue or
    not (an interpreter's first clause), and a phrase answered at once is not."""
    text = "When a sensor hears something unusual, it sends a message to the room."
    late = await speak(engines, "es", text, "en", 0.0, said_s=2.5)
    prompt = await speak(engines, "es", text, "en", 0.0, said_s=0.4)
    assert late.timed.speed == 1.3 and late.timed.backlog_s == 0.0
    assert prompt.timed.speed == 1.0


class Dropping(Behind):
    """An output that drops every segment unplayed (its backlog over the bound)."""

    def push(self, segment_id: int, samples: np.ndarray) -> None:
        self.playback.drop(0.0)


async def test_speech_dropped_for_the_backlog_bound_is_told_to_the_client(
    engines: Engines,
) -> None:
    """``LL_MAX_OUTPUT_BACKLOG_S``: a phrase whose speech the output drops unplayed reaches
    the client as an ``engine_error`` with its segment, not silently."""
    out = Dropping(30.0)
    workers = Workers.create()
    renderer = Renderer(engines, workers, "es", None, events=out, output=out)
    task = asyncio.create_task(renderer.run())
    renderer.say(Phrase(7, "en", "How much does this cost?", detected_lang="en", target_lang="es"))
    renderer.finish()
    await asyncio.wait_for(task, 30)
    workers.shutdown()
    told = [to_wire(e) for e in out.events if isinstance(e, SpeechDropped)]
    assert [(m.code, m.segment_id) for m in told if isinstance(m, ErrorMsg)] == [
        ("engine_error", 7)
    ], out.events
