"""Streaming recognition of one speaker: runs what the streaming policy decides.

``streaming_policy.StreamingPolicy`` decides what was said and when a phrase is committed;
this runner is its hands. It takes the speaker's segmenter events in order from the job
queue (``recognition_jobs``: the newest partial only, back-pressure), hands each to the
policy with the queues' state (``Conditions``), and carries out the actions it gets back:
passes run on the ``SttQueue`` every speaker shares (language detection first where the
policy asks for it, the glossary's names in the prompt and its correction in the STT
thread), their results go back to the policy, captions and failures go to the
``EventSink``, committed phrases to ``commit``, and phrases known before the pause is
decided to ``ahead`` (rendered unheard, withdrawn when the voice comes back). The
end-of-turn model, where installed, hears a short silence in its own thread and its answer
goes back to the policy like a pass's (one at a time per speaker: a question that would
wait behind another speaker's is not asked, and the pause decides as without a model).

A pass the policy awaits holds the job loop, so that events pile up in the job queue while
it runs (that is what back-pressure reads); a speculative pass runs beside later events and
reports whenever it ends. No inference runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from lingolive.config import RecognizerConfig
from lingolive.engines.base import MODEL_RATE, STT, SttRequest, Transcript, TurnDetector
from lingolive.pipeline.events import EventSink, RecognitionBehind
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.phrase import Phrase
from lingolive.pipeline.recognition_jobs import RecognitionJobs
from lingolive.pipeline.segmenter import (
    SegmenterEvent,
    SpeechEnded,
    SpeechProgress,
    SpeechQuiet,
)
from lingolive.pipeline.stage_pool import StagePool
from lingolive.pipeline.streaming_policy import (
    DETECT_SAMPLES,
    Action,
    AskTurn,
    AwaitPass,
    CancelPass,
    Commit,
    Conditions,
    Emit,
    PassRequest,
    PassResult,
    Prepare,
    StartPass,
    StreamingPolicy,
    TurnHeard,
    Withdraw,
    own_words,
)
from lingolive.pipeline.stt_queue import SttQueue

log = logging.getLogger(__name__)


class SpeechAhead(Protocol):
    """Where a phrase goes before it is committed: rendered, not yet heard (the cascade)."""

    def prepare(self, phrase: Phrase) -> None: ...

    def withdraw(self) -> None: ...


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
        turn: TurnDetector | None = None,
        turn_pool: StagePool | None = None,
    ) -> None:
        """``source_lang`` None: detect it per utterance, among ``candidates`` (None: any);
        ``turn``: the end-of-turn model, run in ``turn_pool``."""
        self._policy = StreamingPolicy(config, source_lang, candidates)
        self._glossary = glossary
        self._ahead = ahead
        self._stt = stt
        self._recognition = recognition
        self._events = events
        self._commit = commit
        self._jobs = RecognitionJobs(
            config.max_pending, on_merge=lambda: events(RecognitionBehind())
        )
        self._passes: dict[int, asyncio.Task[None]] = {}
        self._turn = turn
        self._turn_pool = turn_pool or StagePool("turn", 1)
        self._asking: asyncio.Task[None] | None = None
        #: STT passes finished (language detection not counted).
        self.passes = 0

    @property
    def candidates(self) -> frozenset[str] | None:
        """What auto-detection may answer (None: any language)."""
        return self._policy.candidates

    @candidates.setter
    def candidates(self, languages: frozenset[str] | None) -> None:
        self._policy.candidates = languages

    @property
    def merged_utterances(self) -> int:
        """Utterances merged into a waiting one because recognition fell behind."""
        return self._jobs.merged

    # -- input and the loop -------------------------------------------------------------------

    def on_event(self, event: SegmenterEvent) -> None:
        """Queue one segmenter event (event loop; never blocks)."""
        self._jobs.put(event)

    def commit_text(self, text: str, lang: str) -> None:
        """A phrase typed instead of spoken, numbered like the spoken ones."""
        self._apply(self._policy.typed(text, lang))

    async def run(self) -> None:
        while True:
            job = await self._jobs.get()
            if not isinstance(job, SpeechProgress):
                log.debug("%s %d", type(job).__name__, job.utterance_id)
            try:
                for action in self._policy.on_event(job, self._conditions()):
                    if isinstance(action, AwaitPass):
                        task = self._passes.get(action.pass_id)
                        if task is not None:  # it reports to the policy itself
                            await asyncio.wait({task})
                    else:
                        self._apply([action])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in carrying out an action: that phrase only
                log.exception("recognition failed")
                self._apply(self._policy.failed(str(exc), ended=isinstance(job, SpeechEnded)))
            finally:
                self._jobs.done()

    async def wait_idle(self) -> None:
        """Until every queued event has been handled."""
        await self._jobs.wait_idle()

    def close(self) -> None:
        self._jobs.close()
        self._apply(self._policy.close())
        for task in self._passes.values():
            task.cancel()
        self._passes.clear()
        if self._asking is not None:
            self._asking.cancel()

    def _conditions(self) -> Conditions:
        return Conditions(
            resume_waiting=self._jobs.resume_waiting(),
            events_waiting=len(self._jobs) > 0,
            stt_busy=self._recognition.pending > 0,
            stt_behind=self._recognition.behind,
        )

    # -- actions ----------------------------------------------------------------------------

    def _apply(self, actions: Iterable[Action]) -> None:
        """Carry out actions that need no waiting (``AwaitPass`` only comes from events)."""
        for action in actions:
            match action:
                case StartPass(pass_id, request):
                    self._passes[pass_id] = asyncio.create_task(
                        self._run_pass(pass_id, request), name="stt-pass"
                    )
                case CancelPass(pass_id):
                    task = self._passes.pop(pass_id, None)
                    if task is not None:
                        task.cancel()  # frees the STT queue if it has not started yet
                case Emit(event):
                    self._events(event)
                case Commit(phrase):
                    log.debug("commit %d: %r", phrase.segment_id, phrase.text)
                    self._commit(phrase)
                case Prepare(phrase) if self._ahead is not None:
                    self._ahead.prepare(phrase)
                case Withdraw() if self._ahead is not None:
                    self._ahead.withdraw()
                case AskTurn(quiet) if self._turn is not None:
                    # One question at a time, and none queued behind other speakers'.
                    if (self._asking is None or self._asking.done()) and (
                        self._turn_pool.pending < self._turn_pool.threads
                    ):
                        self._asking = asyncio.create_task(self._ask(quiet), name="turn")

    async def _ask(self, quiet: SpeechQuiet) -> None:
        """The end-of-turn model's answer, reported to the policy."""
        assert self._turn is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            probability = await self._turn_pool.run(self._turn.probability, quiet.heard)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the pause decides, as without a model
            log.warning("end-of-turn model failed: %s", exc)
            return
        ended = loop.time()
        log.debug("turn %.2f in %.0f ms", probability, (ended - started) * 1000)
        heard = TurnHeard(quiet, probability, started, ended)
        try:
            self._apply(self._policy.on_turn(heard, self._conditions()))
        except Exception as exc:  # a bug in carrying out an action: that phrase only
            log.exception("recognition failed")
            self._apply(self._policy.failed(str(exc), ended=False))

    async def _run_pass(self, pass_id: int, request: PassRequest) -> None:
        """One pass, its result (or failure) reported to the policy when it ends."""
        try:
            result = await self._transcribe(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("recognition failed: %s", exc)
            self._passes.pop(pass_id, None)
            self._apply(self._policy.on_pass_failed(pass_id, str(exc)))
            return
        self._passes.pop(pass_id, None)
        self.passes += 1
        try:
            self._apply(self._policy.on_pass(pass_id, result, self._conditions()))
        except Exception as exc:  # a bug in carrying out an action: that phrase only
            log.exception("recognition failed")
            self._apply(self._policy.failed(str(exc), ended=False))

    async def _transcribe(self, request: PassRequest) -> PassResult:
        language = request.language
        if language is None:
            language, _ = await self._recognition.detect(
                self._stt, request.audio[:DETECT_SAMPLES], request.detect_among
            )
        prompt = request.prompt or ""
        glossary = self._glossary
        if glossary is not None:
            prompt = f"{glossary.prompt()} {prompt}".strip()

        def own(result: Transcript) -> tuple[str, Transcript]:
            """In the STT thread: the segment's words, with the glossary's fuzzy correction
            (a comparison of every term with every run of words: never on the event loop)."""
            text = own_words(result, request.context_words)
            return (text if glossary is None else glossary.correct(text)), result

        loop = asyncio.get_running_loop()
        started = loop.time()
        stt_request = SttRequest(
            request.audio,
            language,
            prompt=prompt or None,
            prefix=request.prefix,
            partial=request.partial,
            word_times=request.word_times,
        )
        text, transcript = await self._recognition.transcribe(self._stt, stt_request, own)
        ended = loop.time()
        log.debug(
            "pass %s %.2f s in %.0f ms, forced %r: %r",
            "partial" if request.partial else "final",
            len(request.audio) / MODEL_RATE,
            (ended - started) * 1000,
            request.prefix,
            text,
        )
        return PassResult(text, transcript, language, started, ended)
