"""Streaming recognition: segmenter events in, captions and committed phrases out.

One recognizer per speaker; it takes that speaker's events in order from its job queue
(``recognition_jobs``: which events still need a pass, back-pressure) and runs one STT pass
at a time, through the ``SttQueue`` all speakers share (passes that wait together run as
one batch). It decides what was said and when a phrase is committed:

* **Partials** (``SpeechProgress``): the growing utterance is transcribed when the STT pool
  is idle; LocalAgreement confirms the words two passes agree on (``stable`` in the
  caption). When a finished sentence is confirmed and the speaker goes on, it is committed
  as its own segment at once and the audio buffer is trimmed at its end (Whisper's segment
  timestamp), so long utterances are spoken sentence by sentence while the speaker talks.
* **Pause** (``SpeechPaused``, after the hangover): the final pass starts right away (or was
  started speculatively at ``SpeechPausing``), forced to begin with the confirmed words, so
  only the tail is new. If its text reads as a finished sentence on its own
  (``sentence_end.complete_at_pause``: not a greeting before a comma, not an opening
  clause), the segment is committed immediately (early end of speech). If not, it is held.
* **Resume** (``SpeechResumed`` within the undo window): the held result is discarded and
  the same segment goes on, so a pause inside a sentence does not split it.
* **End** (``SpeechEnded``, after the undo window): the held result is committed (or the
  remaining audio transcribed); the last words are never dropped.

It reports through an ``EventSink`` (``Caption``, ``FinalPass``, ``RecognitionBehind``,
``StageFailed``) and hands each committed phrase to ``commit``; the cascade decides where
it goes and in which languages.

**Ahead of the decision.** When the speculative pass (or a partial that heard everything)
has the text before the pause is decided, the phrase is handed to ``ahead.prepare``: its
translation and speech are made while the hangover runs, unheard, and go out the moment it
is committed with that text. Voice coming back withdraws it (``ahead.withdraw``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from lingolive.config import RecognizerConfig
from lingolive.engines.base import MODEL_RATE, STT, Float32Array, SttRequest, Transcript
from lingolive.pipeline.agreement import LocalAgreement, words
from lingolive.pipeline.events import (
    Caption,
    EventSink,
    FinalPass,
    RecognitionBehind,
    StageFailed,
)
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.phrase import Phrase, Stage
from lingolive.pipeline.recognition_jobs import RecognitionJobs
from lingolive.pipeline.segmenter import (
    SegmenterEvent,
    SpeechEnded,
    SpeechPaused,
    SpeechPausing,
    SpeechProgress,
    SpeechResumed,
    SpeechStarted,
)
from lingolive.pipeline.sentence_end import complete_at_pause, ends_sentence
from lingolive.pipeline.stt_queue import SttQueue

log = logging.getLogger(__name__)

#: Audio Whisper's language detection looks at ("the first second").
DETECT_SAMPLES = MODEL_RATE
#: Audio left after a commit that is only the VAD tail, not speech worth a pass.
MIN_REST_SAMPLES = int(0.25 * MODEL_RATE)
#: Shortest stretch committed as a sentence while the speaker goes on.
MIN_WORDS = 4
#: Acoustic context kept before a segment: at most this many words and seconds.
CONTEXT_WORDS = 12
CONTEXT_SAMPLES = 8 * MODEL_RATE


@dataclass(frozen=True, slots=True)
class PassResult:
    """One STT pass over a segment."""

    text: str  # the segment's own text (acoustic context words removed, glossary applied)
    transcript: Transcript  # the engine's raw result, context words included
    started_at: float
    ended_at: float


@dataclass(frozen=True, slots=True)
class HeardPartial:
    """A partial pass and how much of the utterance it heard: if that is all the speech,
    it is the final pass already."""

    samples: int
    result: PassResult


@dataclass(frozen=True, slots=True)
class HeldFinal:
    """The final pass at a pause whose text did not read as finished: committed at the end
    if no voice came back (``samples``: the utterance audio it heard), dropped if it did."""

    samples: int
    result: PassResult
    pause: SpeechPaused


@dataclass
class _Segment:
    """The segment being recognized inside the current utterance."""

    offset: int  # first sample of the utterance audio that belongs to this segment
    start_at: float
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    shown: bool = False  # a partial caption was sent for it
    last_partial: HeardPartial | None = None
    segment_id: int = 0  # given when the segment first shows (0: none yet)


@dataclass
class _Utterance:
    utterance_id: int
    audio_t0: float
    lang: str | None
    segment: _Segment
    # Acoustic context: passes start at context_offset, forced to begin with context_text
    # (committed words spoken since then), so a short phrase after a pause is heard with
    # the words before it instead of alone.
    context_offset: int = 0
    context_text: str = ""
    held: HeldFinal | None = None
    #: Silence since ``SpeechPausing``: the final pass (speculative) covers the speech, so a
    #: partial would only hear it again and hold the STT thread.
    pausing: bool = False


class SpeechAhead(Protocol):
    """Where a phrase goes before it is committed: rendered, not yet heard (the cascade)."""

    def prepare(self, phrase: Phrase) -> None: ...

    def withdraw(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Speculation:
    """A final pass started at ``SpeechPausing``, before the pause is decided."""

    segment: _Segment
    speech_end_at: float
    task: asyncio.Task[PassResult]


class StreamingRecognizer:
    """Recognition of one speaker's speech, off the event loop, in order."""

    def __init__(
        self,
        stt: STT,
        recognition: SttQueue,
        source_lang: str | None,
        *,
        candidates: frozenset[str] | None = None,
        events: EventSink,
        commit: Callable[[Phrase], None],
        config: RecognizerConfig,
        glossary: Glossary | None = None,
        ahead: SpeechAhead | None = None,
    ) -> None:
        """``source_lang`` None: detect it per utterance, among ``candidates`` (None: any)."""
        self._glossary = glossary
        self._ahead = ahead
        self._stt = stt
        self._recognition = recognition
        self._source = source_lang
        self.candidates = candidates  # may change mid-session (listen)
        self._events = events
        self._commit = commit
        self._cfg = config
        self._jobs = RecognitionJobs(
            config.max_pending, on_merge=lambda: events(RecognitionBehind())
        )
        self._utt: _Utterance | None = None
        self._next_segment = 1
        self._said = ""  # recent committed text of the session (prompt context)
        self._spec: Speculation | None = None
        #: STT passes finished (language detection not counted).
        self.passes = 0

    @property
    def merged_utterances(self) -> int:
        """Utterances merged into a waiting one because recognition fell behind."""
        return self._jobs.merged

    # -- input and the loop -------------------------------------------------------------------

    def on_event(self, event: SegmenterEvent) -> None:
        """Queue one segmenter event (event loop; never blocks)."""
        self._jobs.put(event)

    async def run(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await self._handle(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("recognition failed: %s", exc)
                seg = self._id(self._utt.segment) if self._utt else None
                self._events(StageFailed("stt", f"speech recognition failed: {exc}", seg))
                if isinstance(job, SpeechEnded):
                    self._utt = None
            finally:
                self._jobs.done()

    async def wait_idle(self) -> None:
        """Until every queued event has been handled."""
        await self._jobs.wait_idle()

    def close(self) -> None:
        self._jobs.close()
        if self._spec is not None:
            self._spec.task.cancel()
            self._spec = None

    async def _handle(self, job: SegmenterEvent) -> None:
        if isinstance(job, SpeechStarted):
            self._utt = _Utterance(
                utterance_id=job.utterance_id,
                audio_t0=job.audio_t0,
                lang=self._source,
                segment=_Segment(offset=0, start_at=job.at),
            )
            return
        utt = self._utt
        if utt is None or utt.utterance_id != job.utterance_id:
            return
        if isinstance(job, SpeechProgress):
            await self._partial(utt, job)
        elif isinstance(job, SpeechPausing):
            utt.pausing = True
            self._speculate(utt, job)
        elif isinstance(job, SpeechPaused):
            await self._pause(utt, job)
        elif isinstance(job, SpeechResumed):
            utt.held = None  # the phrase goes on: undo the pause decision
            utt.pausing = False
            if self._spec is not None:
                self._spec.task.cancel()  # frees the STT pool if it has not started yet
                self._spec = None
            if self._ahead is not None:
                self._ahead.withdraw()
        elif isinstance(job, SpeechEnded):
            await self._end(utt, job)
            self._utt = None

    def commit_text(self, text: str, lang: str) -> None:
        """A phrase typed instead of spoken: shown and committed as it is, numbered like the
        spoken ones (so captions and speech keep one order of segment ids)."""
        segment_id = self._next_segment
        self._next_segment += 1
        self._events(Caption(segment_id, lang, text, final=True, stable=text))
        self._commit(Phrase(segment_id, source_lang=lang, text=text, detected_lang=lang))

    def _remember(self, text: str) -> None:
        self._said = f"{self._said} {text}".strip()[-400:]

    def _id(self, seg: _Segment) -> int:
        """The segment's id, numbered when it first shows (no gaps for silence)."""
        if not seg.segment_id:
            seg.segment_id = self._next_segment
            self._next_segment += 1
        return seg.segment_id

    # -- passes ---------------------------------------------------------------------------

    async def _language(self, utt: _Utterance, audio: Float32Array) -> str | None:
        if utt.lang is None:
            lang, _ = await self._recognition.detect(
                self._stt, audio[:DETECT_SAMPLES], self.candidates
            )
            utt.lang = lang
        return utt.lang

    async def _pass(
        self, utt: _Utterance, audio: Float32Array, *, confirmed: str, partial: bool
    ) -> PassResult:
        """One STT pass over the segment (with its acoustic context)."""
        context = utt.context_text
        # Whisper's prompt: what was said before the acoustic context, across utterances.
        before = self._said[: len(self._said) - len(context)].strip()[-200:]
        if self._glossary is not None:
            before = f"{self._glossary.prompt()} {before}".strip()
        clip = audio[utt.context_offset :]
        lang = await self._language(utt, clip)
        loop = asyncio.get_running_loop()
        start = loop.time()
        glossary = self._glossary

        def own_words(result: Transcript) -> tuple[str, Transcript]:
            """In the STT thread: the segment's words, with the glossary's fuzzy correction
            (a comparison of every term with every run of words: never on the event loop)."""
            own = " ".join(words(result.text)[len(words(context)) :])
            return (own if glossary is None else glossary.correct(own)), result

        request = SttRequest(
            clip,
            lang,
            prompt=before or None,
            prefix=f"{context} {confirmed}".strip() or None,
            partial=partial,
        )
        own, result = await self._recognition.transcribe(self._stt, request, own_words)
        self.passes += 1
        return PassResult(own, result, start, loop.time())

    async def _partial(self, utt: _Utterance, job: SpeechProgress) -> None:
        if (
            not self._cfg.partials
            or utt.pausing
            or job.trailing_silence_ms >= 100
            or len(self._jobs)
        ):
            return  # optional work: skip it when the phrase may be ending or more is waiting
        if self._recognition.pending:
            return  # another speaker's recognition runs: do not queue behind it
        seg = utt.segment
        if utt.lang is None and len(job.audio) < DETECT_SAMPLES:
            return  # detect the language on a full first second
        heard = await self._pass(utt, job.audio, confirmed="", partial=True)
        if utt.held is not None or utt is not self._utt or seg is not utt.segment:
            return
        confirmed = seg.agreement.update(heard.text)
        if self._cfg.sentence_commit and self._commit_sentence(utt, heard):
            return
        seg.last_partial = HeardPartial(len(job.audio), heard)
        self._trim_context(utt, heard.transcript)
        if heard.text:
            seg.shown = True
            self._events(
                Caption(
                    segment_id=self._id(seg),
                    lang=heard.transcript.language,
                    text=heard.text,
                    final=False,
                    stable=" ".join(confirmed),
                )
            )

    def _commit_sentence(self, utt: _Utterance, heard: PassResult) -> bool:
        """Commit the finished, confirmed sentences while the speaker goes on.

        The audio buffer is trimmed where Whisper put a segment boundary right after them
        (whisper_streaming); without one, the sentences stay in the buffer as forced context
        until a later pass shows the boundary.
        """
        seg = utt.segment
        confirmed = seg.agreement.confirmed
        # A sentence of a word or two ("Good morning.") waits for the next one: spoken alone
        # it would sound choppy and translate worse.
        ends = [
            i
            for i, word in enumerate(confirmed)
            if ends_sentence(word, utt.lang) and i + 1 >= MIN_WORDS
        ]
        if not ends or len(words(heard.text)) <= ends[-1] + 1:
            return False  # no confirmed sentence end, or nothing said after it yet
        count = ends[-1] + 1
        text = " ".join(confirmed[:count])
        cut = self._boundary(utt, heard.transcript, len(words(utt.context_text)) + count)
        end_at = None if cut is None else utt.audio_t0 + cut / MODEL_RATE
        phrase = self._phrase(utt, text, heard, end_at)
        phrase.marks.mark(Stage.SPEECH_START, seg.start_at)
        seg.agreement.drop(count)
        self._remember(text)
        nxt = _Segment(seg.offset if cut is None else cut, end_at or heard.ended_at)
        nxt.agreement = seg.agreement
        utt.segment = nxt
        if cut is None:
            utt.context_text = f"{utt.context_text} {text}".strip()
        else:
            utt.context_offset, utt.context_text = cut, ""
        self._finish(seg, phrase)
        return True

    @staticmethod
    def _boundary(utt: _Utterance, result: Transcript, word_count: int) -> int | None:
        """Utterance sample where Whisper's segments end exactly after ``word_count`` words."""
        seen = 0
        for segment in result.segments:
            seen += len(words(segment.text))
            if seen == word_count:
                return utt.context_offset + int(segment.end * MODEL_RATE)
            if seen > word_count:
                return None
        return None

    def _trim_context(self, utt: _Utterance, result: Transcript) -> None:
        """A pass showed where the context words end: drop them from the audio buffer."""
        if not utt.context_text:
            return
        cut = self._boundary(utt, result, len(words(utt.context_text)))
        if cut is not None:
            utt.context_offset, utt.context_text = cut, ""
            utt.segment.offset = max(utt.segment.offset, cut)

    @staticmethod
    def _covering_partial(seg: _Segment, speech_samples: int) -> PassResult | None:
        """The last partial, if it heard all the speech and agrees with the confirmed words."""
        last = seg.last_partial
        if last is None or last.samples < speech_samples:
            return None
        confirmed = seg.agreement.confirmed
        return last.result if words(last.result.text)[: len(confirmed)] == confirmed else None

    def _speculate(self, utt: _Utterance, job: SpeechPausing) -> None:
        """Start the final pass now, without waiting for the decision (``SpeechPaused``)."""
        seg = utt.segment
        if len(job.audio) - seg.offset < MIN_REST_SAMPLES or self._recognition.behind:
            # Speculation must never delay work that is certainly needed. While a pass runs
            # it waits and goes in the next batch with the other speakers' finals (cheap:
            # a batch costs far less than its passes one by one), unless a whole batch of
            # finals waits already.
            return
        covering = self._covering_partial(seg, job.speech_samples)
        if covering is not None:  # the last partial already heard all of it
            self._prepare(utt, covering, job.speech_end_at)
            return
        task = asyncio.create_task(
            self._pass(utt, job.audio, confirmed=seg.agreement.text, partial=False)
        )
        spec = Speculation(seg, job.speech_end_at, task)
        self._spec = spec

        def heard(task: asyncio.Task[PassResult]) -> None:
            if task.cancelled() or task.exception() is not None:
                return
            if self._spec is spec and utt is self._utt and seg is utt.segment:
                self._prepare(utt, task.result(), spec.speech_end_at)

        task.add_done_callback(heard)

    def _prepare(self, utt: _Utterance, heard: PassResult, speech_end_at: float) -> None:
        """Have the phrase this pass heard rendered ahead, unless the voice is back."""
        if self._ahead is None or not heard.text or self._jobs.resume_waiting():
            return
        self._ahead.prepare(self._phrase(utt, heard.text, heard, speech_end_at))

    async def _final_pass(
        self, utt: _Utterance, audio: Float32Array, speech_end_at: float, speech_samples: int
    ) -> PassResult:
        """The final pass: a partial or speculative pass that heard all this speech, if any."""
        covering = self._covering_partial(utt.segment, speech_samples)
        if covering is not None:
            return covering
        spec, self._spec = self._spec, None
        if spec is not None and spec.segment is utt.segment and spec.speech_end_at == speech_end_at:
            return await spec.task
        if spec is not None:
            spec.task.cancel()
        return await self._pass(utt, audio, confirmed=utt.segment.agreement.text, partial=False)

    async def _pause(self, utt: _Utterance, job: SpeechPaused) -> None:
        seg = utt.segment
        if len(job.audio) - seg.offset < MIN_REST_SAMPLES:
            return
        heard = await self._final_pass(utt, job.audio, job.speech_end_at, job.speech_samples)
        if utt is not self._utt or self._jobs.resume_waiting():
            return  # the speaker went on while we listened: the pause is void
        if self._cfg.early_commit and complete_at_pause(heard.text, heard.transcript.language):
            self._commit_final(utt, heard, job.speech_end_at, job.decided_at, cut=len(job.audio))
        else:
            utt.held = HeldFinal(len(job.audio), heard, job)

    async def _end(self, utt: _Utterance, job: SpeechEnded) -> None:
        seg = utt.segment
        held = utt.held
        if held is not None and held.samples == len(job.audio):
            pause = held.pause
            self._commit_final(
                utt, held.result, pause.speech_end_at, pause.decided_at, cut=len(job.audio)
            )
            return
        if len(job.audio) - seg.offset < MIN_REST_SAMPLES:
            if seg.shown:  # close the caption the client is showing
                self._events(
                    Caption(
                        segment_id=self._id(seg),
                        lang=utt.lang or "",
                        text=seg.agreement.text,
                        final=True,
                        stable=seg.agreement.text,
                    )
                )
            return
        heard = await self._final_pass(utt, job.audio, job.speech_end_at, job.speech_samples)
        self._commit_final(utt, heard, job.speech_end_at, job.decided_at, cut=len(job.audio))

    # -- commits --------------------------------------------------------------------------

    def _phrase(
        self, utt: _Utterance, text: str, heard: PassResult, end_at: float | None
    ) -> Phrase:
        phrase = Phrase(
            segment_id=self._id(utt.segment) if text or utt.segment.shown else 0,
            source_lang=utt.lang,
            text=text,
            detected_lang=heard.transcript.language,
        )
        if end_at is not None:  # unknown for a sentence committed without a boundary
            phrase.marks.mark(Stage.SPEECH_END, end_at)
        phrase.marks.mark(Stage.STT_START, heard.started_at)
        phrase.marks.mark(Stage.STT_END, heard.ended_at)
        return phrase

    def _commit_final(
        self,
        utt: _Utterance,
        heard: PassResult,
        speech_end_at: float,
        decided_at: float,
        *,
        cut: int,
    ) -> None:
        seg = utt.segment
        self._events(FinalPass(voiced_s=max(0, cut - seg.offset) / MODEL_RATE))
        phrase = self._phrase(utt, heard.text, heard, speech_end_at)
        phrase.marks.mark(Stage.SPEECH_START, seg.start_at)
        phrase.marks.mark(Stage.VAD_END, decided_at)
        self._remember(heard.text)
        utt.held = None
        # Speech that follows (after a pause commit) is a new segment of the same utterance,
        # heard with this one as acoustic context while that context stays short.
        utt.segment = _Segment(cut, decided_at)
        utt.context_text = f"{utt.context_text} {heard.text}".strip()
        if len(words(utt.context_text)) > CONTEXT_WORDS or cut - utt.context_offset > (
            CONTEXT_SAMPLES
        ):
            utt.context_offset, utt.context_text = cut, ""
        self._finish(seg, phrase)

    def _finish(self, seg: _Segment, phrase: Phrase) -> None:
        if phrase.text or seg.shown:
            self._events(
                Caption(
                    segment_id=phrase.segment_id,
                    lang=phrase.detected_lang or "",
                    text=phrase.text,
                    final=True,
                    stable=phrase.text,
                )
            )
        if phrase.text:
            self._commit(phrase)
