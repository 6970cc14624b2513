"""STT → MT → TTS for one speaker: utterance events in, captions and speech audio out.

Runs on the event loop but does no inference there: every engine call goes to the shared
``Workers`` pools. Two loops, so stages overlap across utterances:

* **recognize**: finished utterances wait in a bounded deque for the final STT pass.
  Back-pressure policy: when ``max_pending`` utterances already wait, a new one is merged
  into the last waiting one (one longer STT call; no words lost).
  Partial transcripts of the growing utterance run only when the STT pool is idle: they are
  optional, so they never queue in front of a final.
* **speak**: each recognized phrase is translated, then synthesized piece by piece; each
  piece goes to the ``SpeechOutput`` (the outgoing track) as soon as it exists.

An engine error fails that utterance (an ``error`` event with its ``segment_id``) and the
session carries on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import av
import numpy as np

from lingolive.engines.base import EngineError, Int16Array, SpeechAudio
from lingolive.engines.registry import Engines
from lingolive.pipeline.segmenter import (
    SegmenterEvent,
    SpeechEnded,
    SpeechProgress,
    SpeechStarted,
)
from lingolive.pipeline.utterance import Stage, Utterance
from lingolive.pipeline.workers import Workers
from lingolive.signaling.messages import (
    ErrorCode,
    ErrorMsg,
    ServerMessage,
    TranscriptMsg,
    TranslationMsg,
)

log = logging.getLogger(__name__)

OUT_RATE = 48_000


class SpeechOutput(Protocol):
    """Where synthesized speech goes (the outgoing track, or a file)."""

    def open_segment(self, segment_id: int) -> None: ...

    def push(self, segment_id: int, samples: Int16Array) -> None: ...

    def close_segment(self, segment_id: int) -> None: ...


@dataclass(frozen=True)
class Languages:
    source: str | None  # None: detect per utterance
    target: str
    voice: str | None = None


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


class Cascade:
    """The translation pipeline of one speaker."""

    def __init__(
        self,
        engines: Engines,
        workers: Workers,
        languages: Languages,
        *,
        emit: Callable[[ServerMessage], None],
        output: SpeechOutput,
        max_pending: int = 3,
        partials: bool = True,
    ) -> None:
        self._engines = engines
        self._workers = workers
        self.languages = languages
        self._emit = emit
        self._output = output
        self._max_pending = max(1, max_pending)
        self._partials = partials
        self._finals: deque[Utterance] = deque()
        self._finals_ready = asyncio.Event()
        self._to_speak: asyncio.Queue[Utterance | None] = asyncio.Queue()
        self._current: int | None = None
        self._finalized: set[int] = set()
        self._partial_task: asyncio.Task[None] | None = None
        self._awaiting_audio: dict[int, Utterance] = {}
        self._closed = False
        self.merged_utterances = 0
        self.completed: list[Utterance] = []  # kept for file mode and tests; bounded below
        self._tasks: list[asyncio.Task[None]] = []

    # -- input (event loop, never blocks) ---------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._recognize_loop(), name="cascade-recognize"),
                asyncio.create_task(self._speak_loop(), name="cascade-speak"),
            ]

    def on_event(self, event: SegmenterEvent) -> None:
        if self._closed:
            return
        if isinstance(event, SpeechStarted):
            self._current = event.segment_id
        elif isinstance(event, SpeechProgress):
            # A partial is optional work: skip it when STT is busy, a final waits, or the
            # phrase may be ending (the final would then wait behind the partial).
            if (
                self._partials
                and event.trailing_silence_ms < 100
                and self._partial_task is None
                and self._workers.stt.pending == 0
                and not self._finals
            ):
                self._partial_task = asyncio.create_task(self._partial(event))
        elif isinstance(event, SpeechEnded):
            self._current = None
            utt = Utterance(
                segment_id=event.segment_id,
                audio=event.audio,
                source_lang=self.languages.source,
                target_lang=self.languages.target,
            )
            utt.marks.mark(Stage.SPEECH_START, event.speech_start_at)
            utt.marks.mark(Stage.SPEECH_END, event.speech_end_at)
            utt.marks.mark(Stage.VAD_END, event.decided_at)
            if len(self._finals) >= self._max_pending:
                self._finals[-1].merge(utt)
                self.merged_utterances += 1
                log.warning(
                    "STT behind: merged segment %d into %d",
                    utt.segment_id,
                    self._finals[-1].segment_id,
                )
            else:
                self._finals.append(utt)
            self._finals_ready.set()

    # -- audio-out notifications (from the outgoing track, on the loop) ---------------------

    def audio_started(self, segment_id: int, when: float) -> None:
        utt = self._awaiting_audio.get(segment_id)
        if utt is not None:
            utt.marks.mark(Stage.FIRST_AUDIO_OUT, when)
            self._emit(utt.timing())

    def audio_finished(self, segment_id: int, when: float) -> None:
        utt = self._awaiting_audio.pop(segment_id, None)
        if utt is not None:
            utt.marks.mark(Stage.LAST_AUDIO_OUT, when)

    def audio_dropped(self, segment_id: int, when: float) -> None:
        if self._awaiting_audio.pop(segment_id, None) is not None:
            self._emit(
                ErrorMsg(
                    code=ErrorCode.ENGINE,
                    message="translated speech dropped: playback fell too far behind",
                    segment_id=segment_id,
                )
            )

    # -- stages -------------------------------------------------------------------------------

    async def _partial(self, event: SpeechProgress) -> None:
        try:
            result = await self._workers.stt.run(
                functools.partial(
                    self._engines.stt.transcribe, event.audio, self.languages.source, partial=True
                )
            )
        except Exception as exc:  # a failed partial is not worth an error event
            log.debug("partial STT failed: %s", exc)
            return
        finally:
            self._partial_task = None
        if result.text and event.segment_id not in self._finalized and not self._closed:
            self._emit(
                TranscriptMsg(
                    segment_id=event.segment_id,
                    lang=result.language,
                    text=result.text,
                    final=False,
                )
            )

    async def _recognize_loop(self) -> None:
        while True:
            while not self._finals:
                self._finals_ready.clear()
                await self._finals_ready.wait()
            utt = self._finals.popleft()
            if utt.segment_id < 0:  # close() sentinel
                break
            await self._recognize(utt)

    async def _recognize(self, utt: Utterance) -> None:
        stt = self._engines.stt
        utt.marks.mark(Stage.STT_START)
        try:
            result = await self._workers.stt.run(
                functools.partial(stt.transcribe, utt.audio, utt.source_lang, partial=False)
            )
        except Exception as exc:
            utt.marks.mark(Stage.STT_END)
            self._fail(utt, "speech recognition", exc)
            return
        utt.marks.mark(Stage.STT_END)
        self._finalized.add(utt.segment_id)
        if len(self._finalized) > 1000:
            self._finalized = set(sorted(self._finalized)[-100:])
        utt.text = result.text
        utt.detected_lang = result.language
        self._emit(
            TranscriptMsg(
                segment_id=utt.segment_id, lang=result.language, text=result.text, final=True
            )
        )
        await self._to_speak.put(utt)

    async def _speak_loop(self) -> None:
        while True:
            utt = await self._to_speak.get()
            if utt is None:
                break
            await self._speak(utt)

    async def _speak(self, utt: Utterance) -> None:
        source = utt.detected_lang or utt.source_lang or ""
        target = utt.target_lang
        if not utt.text.strip():
            self._emit(utt.timing())
            return
        utt.marks.mark(Stage.MT_START)
        try:
            if source == target:
                utt.translation = utt.text
            else:
                if (source, target) not in self._engines.translator.pairs():
                    raise EngineError(
                        f"no translation from {source!r} to {target!r} "
                        f"(heard {source!r}; supported: {self._engines.pairs_text()})"
                    )
                utt.translation = await self._workers.mt.run(
                    self._engines.translator.translate, utt.text, source, target
                )
        except Exception as exc:
            utt.marks.mark(Stage.MT_END)
            self._fail(utt, "translation", exc)
            return
        utt.marks.mark(Stage.MT_END)
        self._emit(TranslationMsg(segment_id=utt.segment_id, lang=target, text=utt.translation))
        if not utt.translation.strip():
            self._emit(utt.timing())
            return

        tts = self._engines.tts
        voice = self.languages.voice
        utt.marks.mark(Stage.TTS_START)
        self._awaiting_audio[utt.segment_id] = utt
        self._output.open_segment(utt.segment_id)
        try:
            async for samples in self._workers.tts.iterate(
                lambda: resampled(tts.synthesize(utt.translation, target, voice))
            ):
                if Stage.TTS_FIRST_AUDIO not in utt.marks.at:
                    utt.marks.mark(Stage.TTS_FIRST_AUDIO)
                utt.audio_out_s += len(samples) / OUT_RATE
                self._output.push(utt.segment_id, samples)
        except Exception as exc:
            self._fail(utt, "speech synthesis", exc)
        finally:
            utt.marks.mark(Stage.TTS_END)
            self._output.close_segment(utt.segment_id)
            self.completed.append(utt)
            del self.completed[:-50]
        if Stage.TTS_FIRST_AUDIO not in utt.marks.at:
            self._awaiting_audio.pop(utt.segment_id, None)

    def _fail(self, utt: Utterance, stage: str, exc: BaseException) -> None:
        log.warning("segment %d: %s failed: %s", utt.segment_id, stage, exc)
        self._emit(
            ErrorMsg(
                code=ErrorCode.ENGINE,
                message=f"{stage} failed: {exc}",
                segment_id=utt.segment_id,
            )
        )

    # -- shutdown ---------------------------------------------------------------------------

    async def drain(self) -> None:
        """Finish every utterance already handed in (file mode, graceful stop)."""
        sentinel = Utterance(-1, np.zeros(0, np.float32), None, self.languages.target)
        self._finals.append(sentinel)
        self._finals_ready.set()
        if self._partial_task is not None:
            await asyncio.gather(self._partial_task, return_exceptions=True)
        if self._tasks:
            await self._tasks[0]
            await self._to_speak.put(None)
            await self._tasks[1]

    async def close(self) -> None:
        """Stop now; utterances in flight are abandoned."""
        self._closed = True
        tasks = [*self._tasks, *([self._partial_task] if self._partial_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._awaiting_audio.clear()
