"""The recognizer carrying out the streaming policy: real STT queue and pool, scripted STT.

What only the executor can get right: passes awaited in order while events queue up (the
look-ahead for voice coming back, merging when behind), speculative passes running beside
later events and cancelled before or while they run, failures of a real pass, and a few
whole flows end to end. Each decision on its own: test_streaming_policy.py; the same
behaviour on real speech and Whisper: test_streaming.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from types import TracebackType

import numpy as np
import pytest

from lingolive.config import RecognizerConfig
from lingolive.engines.base import MODEL_RATE, Float32Array
from lingolive.pipeline.events import (
    Caption,
    FinalPass,
    PipelineEvent,
    RecognitionBehind,
    StageFailed,
)
from lingolive.pipeline.phrase import Phrase, Stage
from lingolive.pipeline.recognizer import StreamingRecognizer
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
from lingolive.pipeline.stage_pool import StagePool
from lingolive.pipeline.stt_queue import SttQueue
from support.scripted_stt import WORD_SAMPLES, ScriptedSTT, silence

TAIL = silence(0.15)  # the segmenter's tail after the last voiced window

pytestmark = pytest.mark.timeout(10)


class Ahead:
    """Records what recognition asks to render before committing it."""

    def __init__(self) -> None:
        self.log: list[str] = []  # "prepare <text>" / "withdraw", in order

    def prepare(self, phrase: Phrase) -> None:
        self.log.append(f"prepare {phrase.segment_id}: {phrase.text}")

    def withdraw(self) -> None:
        self.log.append("withdraw")


class ScriptedTurn:
    """An end-of-turn model that answers ``probability`` for every phrase it hears, in the
    turn pool's thread, once ``gate`` is set."""

    name = "scripted-turn"

    def __init__(self, probability: float) -> None:
        self.probability_ = probability
        self.heard: list[int] = []  # samples of each phrase it heard
        self.gate = threading.Event()
        self.gate.set()

    def probability(self, audio: Float32Array) -> float:
        assert threading.current_thread() is not threading.main_thread()
        self.gate.wait(5)
        self.heard.append(len(audio))
        return self.probability_


class Recognition:
    """A recognizer running on a real one-thread STT pool, recording what it reports."""

    def __init__(
        self,
        stt: ScriptedSTT,
        config: RecognizerConfig | None = None,
        turn: ScriptedTurn | None = None,
    ) -> None:
        self.stt = stt
        self.pool = StagePool("stt", 1)
        self.turn_pool = StagePool("turn", 1)
        self.events: list[PipelineEvent] = []
        self.committed: list[Phrase] = []
        self.ahead = Ahead()
        self.recognizer = StreamingRecognizer(
            stt,
            SttQueue(self.pool),
            "en",
            candidates=None,
            events=self.events.append,
            commit=self.committed.append,
            config=config or RecognizerConfig(),
            ahead=self.ahead,
            turn=turn,
            turn_pool=self.turn_pool,
        )
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Recognition:
        self._task = asyncio.create_task(self.recognizer.run())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stt.gate.set()
        self.recognizer.close()
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.pool.shutdown()
        self.turn_pool.shutdown()

    def feed(self, *events: SegmenterEvent) -> None:
        for event in events:
            self.recognizer.on_event(event)

    async def settle(self) -> None:
        await asyncio.wait_for(self.recognizer.wait_idle(), 5)

    @property
    def texts(self) -> list[str]:
        return [phrase.text for phrase in self.committed]

    def captions(self, *, final: bool) -> list[Caption]:
        return [e for e in self.events if isinstance(e, Caption) and e.final == final]

    @property
    def heard(self) -> list[str]:
        """What every STT call heard, in order."""
        return [call.heard for call in self.stt.calls]


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never met")


def join(*parts: Float32Array) -> Float32Array:
    return np.concatenate(parts)


def ended(uid: int, audio: Float32Array, *, at: float, speech: int | None = None) -> SpeechEnded:
    """The end of utterance ``uid``: its voice stopped at ``at``, decided 0.4 s later."""
    samples = len(audio) - len(TAIL) if speech is None else speech
    return SpeechEnded(uid, audio, 0.0, at, at + 0.4, speech_samples=samples)


def paused(uid: int, audio: Float32Array, *, at: float) -> SpeechPaused:
    return SpeechPaused(uid, audio, at, at + 0.4, speech_samples=len(audio) - len(TAIL))


async def test_pause_then_resume_makes_one_phrase() -> None:
    """A pause inside a sentence is undone when voice comes back: one phrase, whole text."""
    stt = ScriptedSTT()
    first = stt.say("I would like to book")
    rest = stt.say("a table for two.")
    async with Recognition(stt) as r:
        r.feed(SpeechStarted(1, 0.0, -0.2), paused(1, join(first, TAIL), at=1.5))
        await r.settle()
        assert r.heard == ["I would like to book"]
        assert r.committed == [] and r.captions(final=True) == []  # held, not committed
        whole = join(first, silence(0.5), rest, TAIL)
        r.feed(SpeechResumed(1, 2.0), ended(1, whole, at=3.5))
        await r.settle()
    assert r.texts == ["I would like to book a table for two."]
    assert r.captions(final=True) == [
        Caption(
            1,
            "en",
            "I would like to book a table for two.",
            True,
            "I would like to book a table for two.",
        )
    ]
    assert r.committed[0].marks.at[Stage.VAD_END] == 3.9  # the end decided it, not the pause


async def test_voice_back_during_the_pause_pass_voids_the_pause() -> None:
    """The pass at the pause heard a finished sentence, but the speaker went on meanwhile:
    no early commit, the sentence stays with what follows."""
    stt = ScriptedSTT()
    first = stt.say("How much does this cost?")
    rest = stt.say("And that one?")
    async with Recognition(stt) as r:
        stt.gate.clear()
        r.feed(SpeechStarted(1, 0.0, -0.2), paused(1, join(first, TAIL), at=1.5))
        await until(lambda: len(stt.calls) == 1)
        r.feed(SpeechResumed(1, 2.0))
        stt.gate.set()
        await r.settle()
        assert r.committed == []
        r.feed(ended(1, join(first, silence(0.5), rest, TAIL), at=3.5))
        await r.settle()
    assert r.texts == ["How much does this cost? And that one?"]


async def test_speculative_pass_is_cancelled_when_speech_resumes() -> None:
    stt = ScriptedSTT()
    first = stt.say("I would like")
    rest = stt.say("a table please.")
    async with Recognition(stt) as r:
        stt.gate.clear()  # the speculative pass takes its time
        r.feed(
            SpeechStarted(1, 0.0, -0.2),
            SpeechPausing(1, join(first, TAIL), 1.0, speech_samples=len(first)),
        )
        await until(lambda: len(stt.calls) == 1)
        r.feed(SpeechResumed(1, 1.2))
        await r.settle()
        stt.gate.set()
        r.feed(ended(1, join(first, silence(0.3), rest, TAIL), at=3.0))
        await r.settle()
    assert r.heard == ["I would like", "I would like a table please."]
    assert r.recognizer.passes == 1  # the speculative result never came back
    assert r.texts == ["I would like a table please."]
    assert [c.text for c in r.events if isinstance(c, Caption)] == [r.texts[0]]


async def test_speech_is_prepared_when_the_speculative_pass_hears_it() -> None:
    """The speculative pass ends before the pause is decided: the phrase is handed on to
    be rendered ahead, with the segment id and text it is then committed with."""
    stt = ScriptedSTT()
    speech = stt.say("How much does this cost?")
    audio = join(speech, TAIL)
    async with Recognition(stt) as r:
        r.feed(SpeechStarted(1, 0.0, -0.2), SpeechPausing(1, audio, 1.5, len(speech)))
        await until(lambda: bool(r.ahead.log))
        assert r.ahead.log == ["prepare 1: How much does this cost?"]
        assert r.committed == [] and r.events == []  # nothing said or shown yet
        r.feed(paused(1, audio, at=1.5))
        await r.settle()
    assert r.texts == ["How much does this cost?"] and r.committed[0].segment_id == 1
    assert r.ahead.log == ["prepare 1: How much does this cost?"]
    assert len(stt.calls) == 1


async def test_speculation_undone_before_it_starts_never_reaches_stt() -> None:
    stt = ScriptedSTT()
    first = stt.say("I would like")
    rest = stt.say("a table please.")
    async with Recognition(stt) as r:
        r.feed(
            SpeechStarted(1, 0.0, -0.2),
            SpeechPausing(1, join(first, TAIL), 1.0, speech_samples=len(first)),
            SpeechResumed(1, 1.2),
        )
        await r.settle()
        assert stt.calls == []
        r.feed(ended(1, join(first, silence(0.3), rest, TAIL), at=3.0))
        await r.settle()
    assert r.heard == ["I would like a table please."]
    assert r.texts == ["I would like a table please."]


async def test_confirmed_sentence_is_committed_while_the_speaker_goes_on() -> None:
    """Two partials agree on a finished sentence and more words follow it: the sentence is
    its own phrase at once, and the audio buffer is cut where Whisper's segment ended."""
    stt = ScriptedSTT()
    a = stt.say("Where is the nearest station? I")
    b = stt.say("need to")
    c = stt.say("go there.")
    async with Recognition(stt) as r:
        r.feed(SpeechStarted(1, 0.0, 0.0), SpeechProgress(1, a))
        await r.settle()
        assert r.committed == []  # one pass confirms nothing
        r.feed(SpeechProgress(1, join(a, b)))
        await r.settle()
        assert r.texts == ["Where is the nearest station?"]
        cut = round(r.committed[0].marks.at[Stage.SPEECH_END] * MODEL_RATE)
        assert cut == 5 * WORD_SAMPLES  # at the end of "station?", where Whisper's segment ends
        r.feed(ended(1, join(a, b, c, TAIL), at=4.0))
        await r.settle()
    assert r.texts == ["Where is the nearest station?", "I need to go there."]
    assert [c.segment_id for c in r.captions(final=True)] == [1, 2]
    final = stt.calls[-1]
    assert final.heard == "I need to go there." and final.prefix == "I"  # confirmed, forced
    assert final.samples == len(a) + len(b) + len(c) + len(TAIL) - cut


async def test_utterances_merge_when_recognition_is_behind() -> None:
    stt = ScriptedSTT()
    phrases = ["How much does this cost?", "Thank you very much.", "Where is the station?"]
    async with Recognition(stt, RecognizerConfig(partials=False, max_pending=1)) as r:
        # Three phrases end before recognition even starts: the 2nd and 3rd are merged.
        for uid, text in enumerate(phrases, 1):
            audio = join(stt.say(text), TAIL)
            r.feed(SpeechStarted(uid, 2.0 * uid, 2.0 * uid))
            if uid > 1:  # while behind, no speculative work for the merged utterances
                r.feed(SpeechProgress(uid, audio), paused(uid, audio, at=2.0 * uid + 1))
            r.feed(ended(uid, audio, at=2.0 * uid + 1))
        await r.settle()
    assert r.recognizer.merged_utterances == 2
    assert r.heard == [" ".join(phrases)]  # one pass over all of them, nothing else
    assert [type(e) for e in r.events] == [
        RecognitionBehind,
        RecognitionBehind,
        FinalPass,
        Caption,
    ]
    assert r.texts == [" ".join(phrases)]  # merged, but every word is there


async def test_merged_end_is_not_answered_by_an_earlier_partial() -> None:
    """A partial heard the start of an utterance that later had others merged into it: the
    final pass must hear the merged audio, not reuse the partial."""
    stt = ScriptedSTT()
    start = stt.say("How much does")
    rest = stt.say("this cost?")
    after = stt.say("Thank you.")
    async with Recognition(stt, RecognizerConfig(max_pending=1)) as r:
        stt.gate.clear()
        r.feed(SpeechStarted(1, 0.0, 0.0), SpeechProgress(1, start))
        await until(lambda: len(stt.calls) == 1)  # the partial pass runs...
        r.feed(ended(1, join(start, rest, TAIL), at=1.5))  # ...while utterance 1 ends
        r.feed(SpeechStarted(2, 2.0, 2.0), ended(2, join(after, TAIL), at=2.5))
        stt.gate.set()
        await r.settle()
    assert r.recognizer.merged_utterances == 1
    assert r.texts == ["How much does this cost? Thank you."]


async def test_stt_failure_loses_that_phrase_only() -> None:
    stt = ScriptedSTT()
    stt.failures = 1
    async with Recognition(stt) as r:
        r.feed(SpeechStarted(1, 0.0, 0.0), ended(1, join(stt.say("Lost words."), TAIL), at=1.0))
        await r.settle()
        audio = join(stt.say("Heard words."), TAIL)
        r.feed(SpeechStarted(2, 2.0, 2.0), ended(2, audio, at=3.0))
        await r.settle()
    assert r.events == [
        StageFailed("stt", "speech recognition failed: the model crashed", 1),
        FinalPass(voiced_s=len(audio) / MODEL_RATE),
        Caption(2, "en", "Heard words.", True, "Heard words."),
    ]
    assert [(p.segment_id, p.text) for p in r.committed] == [(2, "Heard words.")]


async def test_the_end_of_turn_model_commits_a_finished_phrase_before_the_pause() -> None:
    """The executor asks the model in its own thread at the short silence and hands its
    answer to the policy: the phrase goes out before the hangover, with the model's time."""
    stt = ScriptedSTT()
    speech = stt.say("How much does this cost?")
    audio = join(speech, TAIL)
    heard = join(audio, silence(0.05))
    turn = ScriptedTurn(0.95)
    async with Recognition(stt, turn=turn) as r:
        r.feed(SpeechStarted(1, 0.0, -0.2), SpeechPausing(1, audio, 1.5, len(speech)))
        await until(lambda: bool(r.ahead.log))
        r.feed(SpeechQuiet(1, audio, heard, 1.5, 1.7, len(speech)))
        await until(lambda: bool(r.committed))
        assert turn.heard == [len(heard)]
        r.feed(paused(1, audio, at=1.5), ended(1, audio, at=1.5))
        await r.settle()
    assert r.texts == ["How much does this cost?"]
    marks = r.committed[0].marks.at
    assert marks[Stage.TURN_START] <= marks[Stage.TURN_END] == marks[Stage.VAD_END]
    assert len(stt.calls) == 1


async def test_one_question_to_the_model_at_a_time() -> None:
    """A second silence while the model still hears the first is not queued behind it: the
    pause decides that phrase, as without a model."""
    stt = ScriptedSTT()
    speech = stt.say("How much does this cost?")
    audio = join(speech, TAIL)
    heard = join(audio, silence(0.05))
    turn = ScriptedTurn(0.95)
    turn.gate.clear()
    async with Recognition(stt, turn=turn) as r:
        r.feed(SpeechStarted(1, 0.0, -0.2), SpeechPausing(1, audio, 1.5, len(speech)))
        await until(lambda: len(r.ahead.log) == 1)  # the text is in: the model is asked
        r.feed(SpeechQuiet(1, audio, heard, 1.5, 1.7, len(speech)))
        await until(lambda: r.turn_pool.pending == 1)
        r.feed(SpeechResumed(1, 1.8), SpeechPausing(1, audio, 1.5, len(speech)))
        await until(lambda: len(r.ahead.log) == 3)  # withdrawn, prepared again
        r.feed(SpeechQuiet(1, audio, heard, 1.5, 1.7, len(speech)))
        await r.settle()
        turn.gate.set()
        r.feed(ended(1, audio, at=1.5))
        await r.settle()
    assert turn.heard == [len(heard)]  # asked once
    assert r.texts == ["How much does this cost?"]
