"""Streaming recognition: segmenter events in, partial captions and committed phrases out.

One recognizer per speaker; it processes that speaker's events in order, one STT pass at a
time, from a job queue:

* **Partials** (``SpeechProgress``): the growing utterance is transcribed when the STT pool
  is idle; LocalAgreement confirms the words two passes agree on (``stable`` in the
  caption). When a finished sentence is confirmed and the speaker goes on, it is committed
  as its own segment at once and the audio buffer is trimmed at its end (Whisper's segment
  timestamp), so long utterances are spoken sentence by sentence while the speaker talks.
* **Pause** (``SpeechPaused``, after the hangover): the final pass starts right away (or was
  started speculatively), forced to begin with the confirmed words, so only the tail is new.
  If its text reads as a finished sentence on its own (``sentence_end.complete_at_pause``:
  not a greeting before a comma, not an opening clause), the segment is committed
  immediately (early end of speech). If not, it is held.
* **Resume** (``SpeechResumed`` within the undo window): the held result is discarded and
  the same segment goes on, so a pause inside a sentence does not split it.
* **End** (``SpeechEnded``, after the undo window): the held result is committed (or the
  remaining audio transcribed); the last words are never dropped.

Back-pressure: when ``max_pending`` ended utterances already wait in the queue, speculative
work (partials, pause passes) is skipped and a new utterance is merged into the last waiting
one (one longer STT call; no words lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lingolive.engines.base import MODEL_RATE, STT, Float32Array, Transcript
from lingolive.pipeline.agreement import LocalAgreement, words
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.observer import NullObserver, PipelineObserver
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
from lingolive.pipeline.utterance import Stage, Utterance
from lingolive.pipeline.workers import StagePool
from lingolive.signaling.messages import (
    ErrorCode,
    ErrorMsg,
    NoticeCode,
    NoticeMsg,
    ServerMessage,
    TranscriptMsg,
)

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


#: (the segment's own text, the raw result, pass start, pass end)
PassResult = tuple[str, Transcript, float, float]


@dataclass
class _Segment:
    """The segment being recognized inside the current utterance."""

    offset: int  # first sample of the utterance audio that belongs to this segment
    start_at: float
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    shown: bool = False  # a partial caption was sent for it
    # The last partial pass: (utterance samples it heard, its result). If it heard all the
    # speech, it is the final pass already.
    last_partial: tuple[int, PassResult] | None = None
    segment_id: int = 0  # protocol id, given when the segment first shows (0: none yet)


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
    held: tuple[int, str, Transcript, float, float, SpeechPaused] | None = None


@dataclass(frozen=True)
class RecognizerConfig:
    partials: bool = True
    early_commit: bool = True  # commit at the pause when the text ends a sentence
    sentence_commit: bool = True  # commit finished sentences while the speaker goes on
    max_pending: int = 3


class StreamingRecognizer:
    """Recognition of one speaker's speech, off the event loop, in order."""

    def __init__(
        self,
        stt: STT,
        pool: StagePool,
        source_lang: str | None,
        target_lang: str,
        *,
        candidates: frozenset[str] | None = None,
        emit: Callable[[ServerMessage], None],
        commit: Callable[[Utterance], None],
        config: RecognizerConfig,
        observer: PipelineObserver | None = None,
        glossary: Glossary | None = None,
    ) -> None:
        self._glossary = glossary
        self._observer = observer or NullObserver()
        self._stt = stt
        self._pool = pool
        self._source = source_lang
        self._target = target_lang
        self._candidates = candidates  # languages auto-detection may answer
        self._emit = emit
        self._commit = commit
        self._cfg = config
        self._jobs: deque[SegmenterEvent] = deque()
        self._wake = asyncio.Event()
        self._utt: _Utterance | None = None
        self._next_segment = 1
        self._said = ""  # recent committed text of the session (prompt context)
        # A speculative final pass started at SpeechPausing: (segment, end of speech, task).
        self._spec: tuple[_Segment, float, asyncio.Task[PassResult]] | None = None
        self._merging: set[int] = set()
        self._closed = False
        self.merged_utterances = 0
        self.passes = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- input ------------------------------------------------------------------------------

    def _queued_ends(self) -> int:
        return sum(isinstance(j, SpeechEnded) for j in self._jobs)

    def on_event(self, event: SegmenterEvent) -> None:
        """Queue one segmenter event (event loop; never blocks)."""
        if self._closed:
            return
        behind = self._queued_ends() >= self._cfg.max_pending
        if isinstance(event, SpeechStarted) and behind:
            self._merging.add(event.utterance_id)
            return
        if event.utterance_id in self._merging:
            if isinstance(event, SpeechEnded):
                self._merging.discard(event.utterance_id)
                self._merge_into_last_end(event)
            return
        if behind and isinstance(event, SpeechProgress | SpeechPausing | SpeechPaused):
            return  # speculation off while behind
        if isinstance(event, SpeechProgress):
            # Only the newest partial matters.
            self._jobs = deque(j for j in self._jobs if not isinstance(j, SpeechProgress))
        self._jobs.append(event)
        self._idle.clear()
        self._wake.set()

    def _merge_into_last_end(self, event: SpeechEnded) -> None:
        for i in range(len(self._jobs) - 1, -1, -1):
            job = self._jobs[i]
            if isinstance(job, SpeechEnded):
                gap = np.zeros(int(0.2 * MODEL_RATE), dtype=np.float32)
                self._jobs[i] = SpeechEnded(
                    utterance_id=job.utterance_id,
                    audio=np.concatenate([job.audio, gap, event.audio]),
                    speech_start_at=job.speech_start_at,
                    speech_end_at=event.speech_end_at,
                    decided_at=event.decided_at,
                    forced=event.forced,
                )
                self.merged_utterances += 1
                self._observer.merged()
                self._emit(
                    NoticeMsg(
                        code=NoticeCode.RECOGNITION_BEHIND,
                        message="recognition fell behind: the next phrases are merged into one",
                    )
                )
                log.warning(
                    "STT behind: merged utterance %d into %d", event.utterance_id, job.utterance_id
                )
                return

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            while not self._jobs:
                self._wake.clear()
                await self._wake.wait()
            job = self._jobs.popleft()
            try:
                await self._handle(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("recognition failed: %s", exc)
                self._observer.engine_error("stt")
                seg = self._id(self._utt.segment) if self._utt else None
                self._emit(
                    ErrorMsg(
                        code=ErrorCode.ENGINE,
                        message=f"speech recognition failed: {exc}",
                        segment_id=seg,
                    )
                )
                if isinstance(job, SpeechEnded):
                    self._utt = None
            finally:
                if not self._jobs:
                    self._idle.set()

    async def wait_idle(self) -> None:
        """Until every queued event has been handled."""
        await self._idle.wait()

    async def _handle(self, job: SegmenterEvent) -> None:
        if isinstance(job, SpeechStarted):
            self._utt = _Utterance(
                utterance_id=job.utterance_id,
                audio_t0=job.audio_t0,
                lang=self._source,
                segment=self._new_segment(0, job.at),
            )
            return
        utt = self._utt
        if utt is None or utt.utterance_id != job.utterance_id:
            return
        if isinstance(job, SpeechProgress):
            await self._partial(utt, job)
        elif isinstance(job, SpeechPausing):
            self._speculate(utt, job)
        elif isinstance(job, SpeechPaused):
            await self._pause(utt, job)
        elif isinstance(job, SpeechResumed):
            utt.held = None  # the phrase goes on: undo the pause decision
            if self._spec is not None:
                self._spec[2].cancel()  # frees the STT pool if it has not started yet
                self._spec = None
        elif isinstance(job, SpeechEnded):
            await self._end(utt, job)
            self._utt = None

    def _remember(self, text: str) -> None:
        self._said = f"{self._said} {text}".strip()[-400:]

    def _new_segment(self, offset: int, start_at: float) -> _Segment:
        return _Segment(offset=offset, start_at=start_at)

    def _id(self, seg: _Segment) -> int:
        """The segment's protocol id, numbered when it first shows (no gaps for silence)."""
        if not seg.segment_id:
            seg.segment_id = self._next_segment
            self._next_segment += 1
        return seg.segment_id

    # -- passes ---------------------------------------------------------------------------

    async def _language(self, utt: _Utterance, audio: Float32Array) -> str | None:
        if utt.lang is None:
            lang, _ = await self._pool.run(
                self._stt.detect_language, audio[:DETECT_SAMPLES], self._candidates
            )
            utt.lang = lang
        return utt.lang

    async def _pass(
        self, utt: _Utterance, audio: Float32Array, *, confirmed: str, partial: bool
    ) -> PassResult:
        """One STT pass over the segment (with its acoustic context).

        Returns the segment's own text (context words removed), the raw result and the
        pass's start and end instants.
        """
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

        def recognize() -> tuple[str, Transcript]:
            """In the STT thread: the pass, and the glossary's fuzzy correction of its text
            (a comparison of every term with every run of words: never on the event loop)."""
            result = self._stt.transcribe(
                clip,
                lang,
                prompt=before or None,
                prefix=f"{context} {confirmed}".strip() or None,
                partial=partial,
            )
            own = " ".join(words(result.text)[len(words(context)) :])
            return (own if glossary is None else glossary.correct(own)), result

        own, result = await self._pool.run(recognize)
        self.passes += 1
        return own, result, start, loop.time()

    async def _partial(self, utt: _Utterance, job: SpeechProgress) -> None:
        if not self._cfg.partials or job.trailing_silence_ms >= 100 or self._jobs:
            return  # optional work: skip it when the phrase may be ending or more is waiting
        if self._pool.pending:
            return  # another speaker's recognition runs: do not queue behind it
        seg = utt.segment
        if utt.lang is None and len(job.audio) < DETECT_SAMPLES:
            return  # detect the language on a full first second
        text, result, t0, t1 = await self._pass(utt, job.audio, confirmed="", partial=True)
        if utt.held is not None or utt is not self._utt or seg is not utt.segment:
            return
        confirmed = seg.agreement.update(text)
        if self._cfg.sentence_commit and self._commit_sentence(utt, text, result, t0, t1):
            return
        seg.last_partial = (len(job.audio), (text, result, t0, t1))
        self._trim_context(utt, result)
        if text:
            seg.shown = True
            self._emit(
                TranscriptMsg(
                    segment_id=self._id(seg),
                    lang=result.language,
                    text=text,
                    final=False,
                    stable=" ".join(confirmed),
                )
            )

    def _commit_sentence(
        self, utt: _Utterance, own: str, result: Transcript, t0: float, t1: float
    ) -> bool:
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
        if not ends or len(words(own)) <= ends[-1] + 1:
            return False  # no confirmed sentence end, or nothing said after it yet
        count = ends[-1] + 1
        text = " ".join(confirmed[:count])
        cut = self._boundary(utt, result, len(words(utt.context_text)) + count)
        end_at = None if cut is None else utt.audio_t0 + cut / MODEL_RATE
        phrase = self._phrase(utt, text, result.language, t0, t1, end_at)
        phrase.marks.mark(Stage.SPEECH_START, seg.start_at)
        seg.agreement.drop(count)
        self._remember(text)
        nxt = self._new_segment(seg.offset if cut is None else cut, end_at or t1)
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
    def _partial_covers(seg: _Segment, speech_samples: int) -> bool:
        """The last partial heard all the speech, and agrees with the confirmed words."""
        if seg.last_partial is None or seg.last_partial[0] < speech_samples:
            return False
        confirmed = seg.agreement.confirmed
        return words(seg.last_partial[1][0])[: len(confirmed)] == confirmed

    def _speculate(self, utt: _Utterance, job: SpeechPausing) -> None:
        """Start the final pass now, without waiting for the decision (``SpeechPaused``)."""
        seg = utt.segment
        if len(job.audio) - seg.offset < MIN_REST_SAMPLES or self._pool.pending:
            return  # speculation must never delay work that is certainly needed
        if self._partial_covers(seg, job.speech_samples):
            return  # the last partial already heard all of it
        task = asyncio.create_task(
            self._pass(utt, job.audio, confirmed=seg.agreement.text, partial=False)
        )
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._spec = (seg, job.speech_end_at, task)

    async def _final_pass(
        self, utt: _Utterance, audio: Float32Array, speech_end_at: float, speech_samples: int
    ) -> PassResult:
        """The final pass: a partial or speculative pass that heard all this speech, if any."""
        seg = utt.segment
        if self._partial_covers(seg, speech_samples) and seg.last_partial is not None:
            return seg.last_partial[1]
        spec, self._spec = self._spec, None
        if spec is not None and spec[0] is utt.segment and spec[1] == speech_end_at:
            return await spec[2]
        if spec is not None:
            spec[2].cancel()
        return await self._pass(utt, audio, confirmed=utt.segment.agreement.text, partial=False)

    async def _pause(self, utt: _Utterance, job: SpeechPaused) -> None:
        seg = utt.segment
        if len(job.audio) - seg.offset < MIN_REST_SAMPLES:
            return
        text, result, t0, t1 = await self._final_pass(
            utt, job.audio, job.speech_end_at, job.speech_samples
        )
        if utt is not self._utt or any(isinstance(j, SpeechResumed) for j in self._jobs):
            return  # the speaker went on while we listened: the pause is void
        if self._cfg.early_commit and complete_at_pause(text, result.language):
            self._commit_final(
                utt, text, result, t0, t1, job.speech_end_at, job.decided_at, cut=len(job.audio)
            )
        else:
            utt.held = (len(job.audio), text, result, t0, t1, job)

    async def _end(self, utt: _Utterance, job: SpeechEnded) -> None:
        seg = utt.segment
        held = utt.held
        if held is not None and held[0] == len(job.audio):
            _, text, result, t0, t1, pause = held
            self._commit_final(
                utt,
                text,
                result,
                t0,
                t1,
                pause.speech_end_at,
                pause.decided_at,
                cut=len(job.audio),
            )
            return
        if len(job.audio) - seg.offset < MIN_REST_SAMPLES:
            if seg.shown:  # close the caption the client is showing
                self._emit(
                    TranscriptMsg(
                        segment_id=self._id(seg),
                        lang=utt.lang or "",
                        text=seg.agreement.text,
                        final=True,
                        stable=seg.agreement.text,
                    )
                )
            return
        text, result, t0, t1 = await self._final_pass(
            utt, job.audio, job.speech_end_at, job.speech_samples
        )
        self._commit_final(
            utt, text, result, t0, t1, job.speech_end_at, job.decided_at, cut=len(job.audio)
        )

    # -- commits --------------------------------------------------------------------------

    def _phrase(
        self, utt: _Utterance, text: str, lang: str, t0: float, t1: float, end_at: float | None
    ) -> Utterance:
        phrase = Utterance(
            segment_id=self._id(utt.segment) if text or utt.segment.shown else 0,
            audio=np.zeros(0, np.float32),
            source_lang=utt.lang,
            target_lang=self._target,
        )
        phrase.text = text
        phrase.detected_lang = lang
        if end_at is not None:  # unknown for a sentence committed without a boundary
            phrase.marks.mark(Stage.SPEECH_END, end_at)
        phrase.marks.mark(Stage.STT_START, t0)
        phrase.marks.mark(Stage.STT_END, t1)
        return phrase

    def _commit_final(
        self,
        utt: _Utterance,
        text: str,
        result: Transcript,
        t0: float,
        t1: float,
        speech_end_at: float,
        decided_at: float,
        *,
        cut: int,
    ) -> None:
        seg = utt.segment
        self._observer.voiced(max(0, cut - seg.offset) / MODEL_RATE)
        phrase = self._phrase(utt, text, result.language, t0, t1, speech_end_at)
        phrase.marks.mark(Stage.SPEECH_START, seg.start_at)
        phrase.marks.mark(Stage.VAD_END, decided_at)
        self._remember(text)
        utt.held = None
        # Speech that follows (after a pause commit) is a new segment of the same utterance,
        # heard with this one as acoustic context while that context stays short.
        utt.segment = self._new_segment(cut, decided_at)
        utt.context_text = f"{utt.context_text} {text}".strip()
        if len(words(utt.context_text)) > CONTEXT_WORDS or cut - utt.context_offset > (
            CONTEXT_SAMPLES
        ):
            utt.context_offset, utt.context_text = cut, ""
        self._finish(seg, phrase)

    def _finish(self, seg: _Segment, phrase: Utterance) -> None:
        if phrase.text or seg.shown:
            self._emit(
                TranscriptMsg(
                    segment_id=phrase.segment_id,
                    lang=phrase.detected_lang or "",
                    text=phrase.text,
                    final=True,
                    stable=phrase.text,
                )
            )
        if phrase.text:
            self._commit(phrase)

    def close(self) -> None:
        self._closed = True
        self._jobs.clear()
        if self._spec is not None:
            self._spec[2].cancel()
            self._spec = None
