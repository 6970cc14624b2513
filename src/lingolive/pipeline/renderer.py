"""Committed phrases in, translated speech out: MT, then TTS streamed piece by piece.

One speaker per listener language, processing phrases in order (speech must come out in the
order it was said). Each phrase is *rendered* (translated, then synthesized piece by piece,
resampled to 48 kHz in the TTS thread) by a task of its own, and the speaker hands the
pieces to the ``SpeechOutput`` as they come. The phrase's ``PhraseTimed`` event is sent
when the output's ``Playback`` handle says its first frame went out.

**Speech made ahead.** Recognition often knows a phrase's text before it decides that the
speaker has stopped: the speculative pass ends while the hangover still runs. It then asks
for the phrase to be rendered ahead (``prepare``); nothing is sent or shown, and if the
phrase is committed with that text, its rendering is adopted, so the translated speech
goes out as soon as the end is decided instead of starting there. If the speaker goes on
(``withdraw``) or the committed text differs, the rendering is cancelled.

**Keeping up.** When a phrase starts to be synthesized, how far behind the speaker its
listener will hear it (the output's backlog, speech queued and not yet played, plus the time
since the phrase's speech ended) decides its pace (``keep_up``): faster, and with shorter
pauses, the further behind; ``PhraseTimed`` carries the backlog and the speed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lingolive.engines.base import EngineError, Int16Array
from lingolive.engines.registry import Engines
from lingolive.pipeline.events import (
    EventSink,
    PhraseTimed,
    RenderedAhead,
    SpeechDropped,
    StageFailed,
    StageName,
    SynthesisStarted,
    Translated,
    VoiceFallback,
)
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.keep_up import KeepUp
from lingolive.pipeline.phrase import Marks, Phrase, Stage
from lingolive.pipeline.playback import Playback, SpeechOutput
from lingolive.pipeline.sentence_end import ends_sentence
from lingolive.pipeline.synthesis import OUT_RATE, resampled, synthesize_phrase
from lingolive.pipeline.workers import Workers

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Rendering:
    """One phrase's translation and speech, made by a task and read as they come."""

    segment_id: int
    text: str
    #: Where the task records its stage marks (the adopting phrase's, once adopted).
    marks: Marks
    translation: asyncio.Future[str]
    #: Pieces of 48 kHz speech; None ends them, an exception says synthesis failed.
    audio: asyncio.Queue[Int16Array | BaseException | None] = field(default_factory=asyncio.Queue)
    notes: list[str] = field(default_factory=list)  # fallback voice notes
    task: asyncio.Task[None] | None = None
    #: The pace it was synthesized at (``keep_up``): × the voice's rate, and the output's
    #: backlog that asked for it.
    speed: float = 1.0
    backlog_s: float = 0.0

    def adopt(self, phrase: Phrase) -> None:
        """``phrase`` takes over the marks recorded so far and those still to come (its own
        recognition marks win: they describe the commit)."""
        for stage, instant in self.marks.at.items():
            phrase.marks.at.setdefault(stage, instant)
        self.marks = phrase.marks

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if not self.translation.done():
            self.translation.cancel()
        elif not self.translation.cancelled():
            self.translation.exception()  # retrieved: a withdrawn failure is nobody's news


def continued_case(source: str, translation: str) -> str:
    """The translation of a clause that goes on a sentence starts as its source does.

    Translators take their input for a sentence and capitalize its first word ("than a
    century ago." -> "Que hace un siglo."): a clause committed while the speaker goes on
    would then read, joined to the one before, as "…más Que hace un siglo." A source that
    starts in lower case keeps its translation's first letter in lower case.
    """
    first = next((c for c in source if c.isalpha()), "")
    if first.islower() and translation[:1].isupper():
        return translation[:1].lower() + translation[1:]
    return translation


class Renderer:
    """Translates and voices committed phrases into one language, in order."""

    def __init__(
        self,
        engines: Engines,
        workers: Workers,
        target: str,
        voice: str | None,
        *,
        events: EventSink,
        output: SpeechOutput,
        glossary: Glossary | None = None,
        first_words: int = 0,
        keep_up: KeepUp | None = None,
    ) -> None:
        self._glossary = glossary
        self._first_words = first_words  # see synthesis.first_clause_apart
        self._keep_up = keep_up or KeepUp()
        self.target = target
        self._engines = engines
        self._workers = workers
        self._voice = voice
        self._events = events
        self._output = output
        self._queue: asyncio.Queue[Phrase | None] = asyncio.Queue()
        self._playing: set[Playback] = set()  # segments whose playback is awaited
        self._ahead: Rendering | None = None  # rendered before its phrase was committed

    def say(self, phrase: Phrase) -> None:
        self._queue.put_nowait(phrase)

    def prepare(self, phrase: Phrase) -> None:
        """Render ``phrase`` now: it is likely to be committed with this text soon."""
        ahead = self._ahead
        if ahead is not None and (ahead.segment_id, ahead.text) == (phrase.segment_id, phrase.text):
            return
        self.withdraw()
        self._ahead = self._render(phrase)

    def withdraw(self) -> None:
        """The phrase rendered ahead will not be committed as it was: stop rendering it."""
        if self._ahead is not None:
            self._ahead.cancel()
            self._events(RenderedAhead(self._ahead.segment_id, self.target, used=False))
            self._ahead = None

    def finish(self) -> None:
        """No more phrases: ``run`` returns once the queued ones are spoken."""
        self._queue.put_nowait(None)

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        try:
            while True:
                phrase = await self._queue.get()
                if phrase is None:
                    return
                await self._speak(phrase)
        finally:
            self.withdraw()

    # -- playback (the output resolves the handle; the event loop runs these) ------------------

    def _follow(self, phrase: Phrase, playback: Playback) -> None:
        """Mark the phrase when its audio starts and ends playing, or say it was dropped."""
        self._playing.add(playback)

        def started(future: asyncio.Future[float]) -> None:
            if not future.cancelled():
                phrase.marks.mark(Stage.FIRST_AUDIO_OUT, future.result())
                self._timed(phrase)

        def finished(future: asyncio.Future[float]) -> None:
            self._playing.discard(playback)
            if not future.cancelled() and playback.started.done():
                phrase.marks.mark(Stage.LAST_AUDIO_OUT, future.result())

        def dropped(future: asyncio.Future[float]) -> None:
            if not future.cancelled():
                self._events(SpeechDropped(phrase.segment_id))

        playback.started.add_done_callback(started)
        playback.finished.add_done_callback(finished)
        playback.dropped.add_done_callback(dropped)

    def _timed(self, phrase: Phrase) -> None:
        self._events(
            PhraseTimed(
                phrase.segment_id,
                self.target,
                phrase.marks.copy(),
                phrase.audio_out_s,
                speed=phrase.speed,
                backlog_s=phrase.backlog_s,
            )
        )

    # -- rendering (a task per phrase) ----------------------------------------------------------

    def _render(self, phrase: Phrase) -> Rendering:
        loop = asyncio.get_running_loop()
        rendering = Rendering(phrase.segment_id, phrase.text, phrase.marks, loop.create_future())
        rendering.task = asyncio.create_task(self._make(rendering, phrase), name="render")
        return rendering

    def _rendering_for(self, phrase: Phrase) -> Rendering:
        """The rendering made ahead for exactly this phrase, adopted; else a new one.

        One made ahead for a later phrase (this one was committed before it) is kept; one
        for this phrase with another text, or for an earlier one, will never be heard.
        """
        ahead = self._ahead
        if ahead is not None and ahead.segment_id >= phrase.segment_id:
            if ahead.segment_id > phrase.segment_id:
                return self._render(phrase)
            if ahead.text == phrase.text:
                self._ahead = None
                ahead.adopt(phrase)
                self._events(RenderedAhead(phrase.segment_id, self.target, used=True))
                return ahead
        self.withdraw()
        return self._render(phrase)

    async def _make(self, r: Rendering, phrase: Phrase) -> None:
        """Translate, then synthesize into ``r.audio`` (never raises: failures are data)."""
        r.marks.mark(Stage.MT_START)
        # ``r.translation`` is only cancelled with this task (``Rendering.cancel``), which
        # then stops at an await: it is still pending whenever it is set here.
        try:
            translation = await self._translate(phrase)
        except Exception as exc:
            r.marks.mark(Stage.MT_END)
            r.translation.set_exception(exc)
            return
        r.marks.mark(Stage.MT_END)
        r.translation.set_result(translation)
        if not translation.strip():
            return
        tts = self._engines.tts
        voice, target, first_words = self._voice, self.target, self._first_words
        # Behind the speaker? Speak faster and pause less (``keep_up``): the listener hears
        # this phrase after what is queued, and its speech ended a while ago already.
        r.backlog_s = backlog = self._output.backlog_s
        spoken = r.marks.at.get(Stage.SPEECH_END)
        behind = backlog + (0.0 if spoken is None else max(0.0, time.monotonic() - spoken))
        r.speed = speed = self._keep_up.speed(behind)
        pause = self._keep_up.pause(behind, sentence_end=ends_sentence(translation, target))
        r.marks.mark(Stage.TTS_START)
        try:
            async for samples in self._workers.tts.iterate(
                lambda: resampled(
                    synthesize_phrase(
                        tts,
                        translation,
                        target,
                        voice,
                        r.notes,
                        first_words=first_words,
                        speed=speed,
                        pause_s=pause,
                    )
                )
            ):
                if Stage.TTS_FIRST_AUDIO not in r.marks.at:
                    r.marks.mark(Stage.TTS_FIRST_AUDIO)
                r.audio.put_nowait(samples)
        except Exception as exc:
            r.audio.put_nowait(exc)
        finally:
            r.marks.mark(Stage.TTS_END)
            r.audio.put_nowait(None)

    async def _translate(self, phrase: Phrase) -> str:
        source = phrase.detected_lang or phrase.source_lang or ""
        target = self.target
        if source == target:
            return phrase.text
        if (source, target) not in self._engines.translator.pairs():
            raise EngineError(
                f"no translation from {source!r} to {target!r} "
                f"(supported: {self._engines.pairs_text()})"
            )
        text = phrase.text
        restore: Callable[[str], str] = str
        if self._glossary is not None:  # names pass through the translator intact
            text, restore = self._glossary.protect(phrase.text, target)
        translated = restore(
            await self._workers.mt.run(self._engines.translator.translate, text, source, target)
        )
        return continued_case(phrase.text, translated)

    # -- speaking -------------------------------------------------------------------------------

    async def _speak(self, phrase: Phrase) -> None:
        rendering = self._rendering_for(phrase)
        try:
            await self._play(phrase, rendering)
        finally:
            rendering.cancel()  # no-op once it finished; stops it if we were cancelled

    async def _play(self, phrase: Phrase, rendering: Rendering) -> None:
        source = phrase.detected_lang or phrase.source_lang or ""
        target = self.target
        try:
            phrase.translation = await rendering.translation
        except Exception as exc:
            self._fail(phrase, "mt", "translation", exc)
            return
        self._events(
            Translated(phrase.segment_id, target, phrase.translation, by_engine=source != target)
        )
        if not phrase.translation.strip():
            self._timed(phrase)
            return
        self._events(SynthesisStarted(phrase.segment_id, target))
        self._follow(phrase, self._output.open_segment(phrase.segment_id))
        first = True
        try:
            while (samples := await rendering.audio.get()) is not None:
                if isinstance(samples, BaseException):
                    raise samples
                if first:
                    phrase.speed, phrase.backlog_s = rendering.speed, rendering.backlog_s
                    if rendering.notes:  # the requested voice was unreachable: say who
                        self._events(VoiceFallback(phrase.segment_id, rendering.notes[0]))
                first = False
                phrase.audio_out_s += len(samples) / OUT_RATE
                self._output.push(phrase.segment_id, samples)
        except Exception as exc:
            self._fail(phrase, "tts", "speech synthesis", exc)
        finally:
            self._output.close_segment(phrase.segment_id)
        if Stage.TTS_FIRST_AUDIO not in phrase.marks.at:
            self._timed(phrase)  # no audio will play: its marks are complete now

    def _fail(self, phrase: Phrase, stage: StageName, what: str, exc: BaseException) -> None:
        log.warning("segment %d: %s failed: %s", phrase.segment_id, what, exc)
        self._events(StageFailed(stage, f"{what} failed: {exc}", phrase.segment_id))

    def close(self) -> None:
        """Stop following playbacks: nobody is told about them any more."""
        self.withdraw()
        for playback in list(self._playing):
            playback.cancel()
        self._playing.clear()
