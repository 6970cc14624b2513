"""Committed phrases in, translated speech out: MT, then TTS streamed piece by piece.

One speaker per listener language, processing phrases in order (speech must come out in the
order it was said). Each synthesized piece is resampled to 48 kHz in the TTS thread and
handed to the ``SpeechOutput`` as soon as it exists. The phrase's ``PhraseTimed`` event is
sent when the output's ``Playback`` handle says its first frame went out.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import replace

import av
import numpy as np

from lingolive.engines.base import TTS, EngineError, Int16Array, SpeechAudio
from lingolive.engines.registry import Engines
from lingolive.pipeline.events import (
    EventSink,
    PhraseTimed,
    SpeechDropped,
    StageFailed,
    StageName,
    SynthesisStarted,
    Translated,
    VoiceFallback,
)
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.playback import Playback, SpeechOutput
from lingolive.pipeline.utterance import Stage, Utterance
from lingolive.pipeline.workers import Workers

log = logging.getLogger(__name__)

OUT_RATE = 48_000


def resampled(pieces: Iterator[SpeechAudio], rate: int = OUT_RATE) -> Iterator[Int16Array]:
    """TTS pieces at the voice's rate → mono int16 at ``rate`` (runs in the TTS thread)."""
    resampler: av.AudioResampler | None = None
    for piece in pieces:
        if resampler is None:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(
            piece.samples.reshape(1, -1).astype(np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = piece.sample_rate
        out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        if out:
            yield np.concatenate(out)
    if resampler is not None:
        tail = [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        if tail:
            yield np.concatenate(tail)


_CLAUSE_END = re.compile(r"(?<=[,;:.?!])\s+")


#: Words that start a phrase (prepositions, conjunctions, articles): cutting just before one
#: sounds like a speaker's natural break, cutting anywhere else like a stumble.
_PHRASE_START_WORDS = {
    "en": "to in on at for with from by about of and but or because that which who when if so "
    "the a an my your his her our their this these those",
    "es": "a en con de del desde por para sobre y o pero porque que cuando si el la los las un "
    "una mi tu su",
}
_PHRASE_STARTS = {lang: frozenset(words.split()) for lang, words in _PHRASE_START_WORDS.items()}


def first_clause_apart(
    text: str, min_words: int = 2, first_words: int = 0, language: str = ""
) -> list[str]:
    """Split off the first clause of a longer phrase so its audio comes sooner.

    Engines synthesize a whole sentence before yielding it; a first clause of a few words is
    ready in a fraction of the time (Piper: ~60 ms + ~55 ms per second of speech on 2 cores).
    Only the first cut is made: the rest is synthesized in one piece, keeping its
    intonation. ``first_words`` > 0: a first clause longer than that (by 3 words or more) is
    itself cut near ``first_words`` words, before a phrase-starting word of ``language`` if
    one is within two words of it, at the price of a slight phrase break there.
    """
    text = text.strip()
    parts = _CLAUSE_END.split(text, maxsplit=1)
    if not (len(parts) == 2 and len(parts[0].split()) >= min_words and len(parts[1].split()) >= 2):
        parts = [text]
    words = parts[0].split()
    if first_words <= 0 or len(words) < first_words + 3:
        return parts
    starts = _PHRASE_STARTS.get(language, frozenset())
    window = range(max(2, first_words - 1), min(len(words) - 2, first_words + 3))
    cut = next((i for i in window if words[i].lower().strip("\"'¿¡") in starts), first_words)
    return [" ".join(words[:cut]), " ".join(words[cut:] + parts[1:])]


#: Level under which synthesized audio counts as silence at a cut between pieces.
_QUIET = 300
#: Pause kept where one piece of a phrase ends and the next begins. Engines end every piece
#: as a sentence (espeak-ng with ~300 ms of silence, Piper ~150 ms); a cut made for speed
#: must not sound like a full stop.
_PAUSE_AT_CUT_S = 0.06
#: Level above which a phrase's speech has begun (about -60 dBFS: below any consonant).
_ONSET = 32
#: Lead kept before that first sample, so that an onset is never clipped.
_LEAD_S = 0.005


def without_lead_silence(pieces: Iterator[SpeechAudio]) -> Iterator[SpeechAudio]:
    """Drop the silence engines put before a phrase's first sound.

    Piper starts a sentence with 15-50 ms of silence (one in eight sentences of the shared
    set with over 200 ms), espeak-ng with up to ~50 ms: time the listener waits for nothing.
    Only the start is trimmed; silence inside the phrase is speech rhythm and stays.
    """
    note: str | None = None  # a dropped piece's fallback note goes with the next one
    for piece in pieces:
        loud = np.flatnonzero(np.abs(piece.samples) > _ONSET)
        if loud.size == 0:
            note = note or piece.fallback
            continue
        start = max(0, int(loud[0]) - int(_LEAD_S * piece.sample_rate))
        yield replace(piece, samples=piece.samples[start:], fallback=piece.fallback or note)
        yield from pieces
        return


def synthesize_phrase(
    tts: TTS,
    text: str,
    language: str,
    voice: str | None,
    notes: list[str] | None = None,
    *,
    first_words: int = 0,
) -> Iterator[SpeechAudio]:
    """Speak ``text`` (first clause apart); fallback notes of the pieces go to ``notes``.

    The silence before the first sound is dropped; the trailing silence of every piece but
    the last is held back as it streams (audio is never delayed, only silence) and cut to a
    short pause when the piece ends.
    """
    parts = first_clause_apart(text, first_words=first_words, language=language)
    for n, part in enumerate(parts):
        final = n == len(parts) - 1
        held: list[SpeechAudio] = []  # this piece's trailing silence so far
        pieces = iter(tts.synthesize(part, language, voice))
        for piece in without_lead_silence(pieces) if n == 0 else pieces:
            if piece.fallback and notes is not None:
                notes.append(piece.fallback)
            if final:
                yield piece
                continue
            loud = np.flatnonzero(np.abs(piece.samples) > _QUIET)
            if loud.size == 0:
                held.append(piece)
                continue
            yield from held  # a silence inside the piece: keep it
            held.clear()
            end = int(loud[-1]) + 1
            yield replace(piece, samples=piece.samples[:end])
            if end < len(piece.samples):
                held.append(replace(piece, samples=piece.samples[end:], fallback=None))
        if held:
            rate = held[0].sample_rate
            pause = np.concatenate([h.samples for h in held])[: int(_PAUSE_AT_CUT_S * rate)]
            yield SpeechAudio(pause, rate)


class Speaker:
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
    ) -> None:
        self._glossary = glossary
        self._first_words = first_words  # see first_clause_apart
        self.target = target
        self._engines = engines
        self._workers = workers
        self._voice = voice
        self._events = events
        self._output = output
        self._queue: asyncio.Queue[Utterance | None] = asyncio.Queue()
        self._playing: set[Playback] = set()  # segments whose playback is awaited
        self.completed: list[Utterance] = []  # the last phrases, for file mode and tests

    def say(self, phrase: Utterance) -> None:
        self._queue.put_nowait(phrase)

    def finish(self) -> None:
        """No more phrases: ``run`` returns once the queued ones are spoken."""
        self._queue.put_nowait(None)

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        while True:
            phrase = await self._queue.get()
            if phrase is None:
                return
            await self._speak(phrase)

    # -- playback (the output resolves the handle; the event loop runs these) ------------------

    def _follow(self, phrase: Utterance, playback: Playback) -> None:
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

    def _timed(self, phrase: Utterance) -> None:
        self._events(
            PhraseTimed(phrase.segment_id, self.target, phrase.marks.copy(), phrase.audio_out_s)
        )

    # -- stages -------------------------------------------------------------------------------

    async def _speak(self, phrase: Utterance) -> None:
        source = phrase.detected_lang or phrase.source_lang or ""
        target = self.target
        phrase.marks.mark(Stage.MT_START)
        try:
            if source == target:
                phrase.translation = phrase.text
            else:
                if (source, target) not in self._engines.translator.pairs():
                    raise EngineError(
                        f"no translation from {source!r} to {target!r} "
                        f"(supported: {self._engines.pairs_text()})"
                    )
                text = phrase.text
                restore: Callable[[str], str] = str
                if self._glossary is not None:  # names pass through the translator intact
                    text, restore = self._glossary.protect(phrase.text, target)
                phrase.translation = restore(
                    await self._workers.mt.run(
                        self._engines.translator.translate, text, source, target
                    )
                )
        except Exception as exc:
            phrase.marks.mark(Stage.MT_END)
            self._fail(phrase, "mt", "translation", exc)
            return
        phrase.marks.mark(Stage.MT_END)
        self._events(
            Translated(phrase.segment_id, target, phrase.translation, by_engine=source != target)
        )
        if not phrase.translation.strip():
            self._timed(phrase)
            return

        tts = self._engines.tts
        voice = self._voice
        text = phrase.translation
        phrase.marks.mark(Stage.TTS_START)
        self._events(SynthesisStarted(phrase.segment_id, target))
        self._follow(phrase, self._output.open_segment(phrase.segment_id))
        notes: list[str] = []
        try:
            async for samples in self._workers.tts.iterate(
                lambda: resampled(
                    synthesize_phrase(
                        tts, text, target, voice, notes, first_words=self._first_words
                    )
                )
            ):
                if Stage.TTS_FIRST_AUDIO not in phrase.marks.at:
                    phrase.marks.mark(Stage.TTS_FIRST_AUDIO)
                    if notes:  # the requested voice was unreachable: say who spoke instead
                        self._events(VoiceFallback(phrase.segment_id, notes[0]))
                phrase.audio_out_s += len(samples) / OUT_RATE
                self._output.push(phrase.segment_id, samples)
        except Exception as exc:
            self._fail(phrase, "tts", "speech synthesis", exc)
        finally:
            phrase.marks.mark(Stage.TTS_END)
            self._output.close_segment(phrase.segment_id)
            self.completed.append(phrase)
            del self.completed[:-200]
        if Stage.TTS_FIRST_AUDIO not in phrase.marks.at:
            self._timed(phrase)  # no audio will play: its marks are complete now

    def _fail(self, phrase: Utterance, stage: StageName, what: str, exc: BaseException) -> None:
        log.warning("segment %d: %s failed: %s", phrase.segment_id, what, exc)
        self._events(StageFailed(stage, f"{what} failed: {exc}", phrase.segment_id))

    def close(self) -> None:
        """Stop following playbacks: nobody is told about them any more."""
        for playback in list(self._playing):
            playback.cancel()
        self._playing.clear()
