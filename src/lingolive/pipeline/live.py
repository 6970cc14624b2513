"""One live translation: microphone chunks in → segmenter → cascade → outgoing track.

This is the glue of a session's media path, and it only wires stages together:
``feed`` (called by ``rtc.inbound.pump`` for every 20 ms of audio) puts the chunk on a
bounded queue; one task hands batches of chunks to the VAD pool and forwards the resulting
utterance events to the ``Cascade``, whose speech goes to a ``TranslatedAudioTrack``.

Back-pressure: the audio queue holds ``AUDIO_QUEUE_S`` of audio. If the VAD thread cannot
keep up (a starved machine), the oldest audio is dropped and counted: the newest speech
matters most in a live conversation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lingolive.config import Settings
from lingolive.engines.base import Float32Array
from lingolive.engines.registry import Engines
from lingolive.pipeline.cascade import Cascade, Languages
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.observer import NullObserver, PipelineObserver
from lingolive.pipeline.recognizer import RecognizerConfig
from lingolive.pipeline.segmenter import Segmenter, SegmenterConfig, SegmenterEvent
from lingolive.pipeline.workers import Workers
from lingolive.rtc.outbound import TranslatedAudioTrack
from lingolive.signaling.messages import NoticeCode, NoticeMsg, ServerMessage

log = logging.getLogger(__name__)

AUDIO_QUEUE_S = 2.0
CHUNK_S = 0.02
#: Audio a client may send ahead of real time at once (a network hiccup delivers a burst).
AUDIO_BURST_S = 1.0


class TokenBucket:
    """Seconds of audio allowed: refilled at ``rate`` per second of wall time, up to
    ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._level = burst
        self._at: float | None = None

    def take(self, amount: float, now: float) -> bool:
        if self._at is not None:
            self._level = min(self.burst, self._level + (now - self._at) * self.rate)
        self._at = now
        if self._level < amount:
            return False
        self._level -= amount
        return True


def segmenter_config(settings: Settings) -> SegmenterConfig:
    return SegmenterConfig(
        threshold=settings.vad_threshold,
        speculate_ms=settings.speculate_ms,
        hangover_ms=settings.vad_hangover_ms,
        undo_window_ms=settings.undo_window_ms,
        min_speech_ms=settings.min_speech_ms,
        partial_interval_ms=settings.partial_interval_ms,
        max_utterance_s=settings.max_utterance_s,
        pre_roll_ms=settings.pre_roll_ms,
    )


def recognizer_config(settings: Settings, *, partials: bool = True) -> RecognizerConfig:
    return RecognizerConfig(
        partials=partials and settings.partial_interval_ms > 0,
        early_commit=settings.early_commit,
        sentence_commit=settings.sentence_commit,
        max_pending=settings.max_pending_utterances,
    )


class LiveTranslation:
    """The media path of one session (one speaker, one listener: loopback)."""

    def __init__(
        self,
        engines: Engines,
        workers: Workers,
        settings: Settings,
        languages: Languages,
        emit: Callable[[ServerMessage], None],
        observer: PipelineObserver | None = None,
        *,
        loopback: bool = True,
        glossary: Glossary | None = None,
    ) -> None:
        """``loopback``: the speaker hears their own translation on ``track``; otherwise
        (rooms) listener languages are added to ``cascade`` by whoever routes the room."""
        self._workers = workers
        self._observer = observer or NullObserver()
        self.track = TranslatedAudioTrack(
            max_backlog_s=settings.max_output_backlog_s,
            on_first_audio=lambda seg, t: self.cascade.audio_started(seg, t),
            on_last_audio=lambda seg, t: self.cascade.audio_finished(seg, t),
            on_dropped=lambda seg, t: self.cascade.audio_dropped(seg, t),
        )
        self.cascade = Cascade(
            engines,
            workers,
            languages,
            emit=emit,
            output=self.track if loopback else None,
            config=recognizer_config(settings),
            observer=self._observer,
            glossary=glossary,
            first_words=settings.tts_first_chunk_words,
        )
        self.segmenter = Segmenter(engines.vad, segmenter_config(settings))
        self._queue: asyncio.Queue[tuple[Float32Array, float]] = asyncio.Queue(
            maxsize=int(AUDIO_QUEUE_S / CHUNK_S)
        )
        self.dropped_audio_s = 0.0
        self.received_audio_s = 0.0
        self.last_audio_at: float | None = None  # arrival of the latest microphone chunk
        self._emit = emit
        self._dropped_notice_at = float("-inf")
        self._budget = TokenBucket(rate=settings.max_audio_rate, burst=AUDIO_BURST_S)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.cascade.start()
        if self._task is None:
            self._task = asyncio.create_task(self._segment_loop(), name="live-segment")

    def feed(self, chunk: Float32Array, arrival: float) -> None:
        """Accept one chunk of 16 kHz mono audio; never blocks (drops the oldest if full).

        A microphone delivers audio in real time. A client that sends it faster (a flood of
        RTP packets) would take the shared VAD thread from everyone, so beyond
        ``LL_MAX_AUDIO_RATE`` × real time (with a second of burst for network jitter) the
        excess is dropped and the client told.
        """
        seconds = len(chunk) / 16_000
        self.received_audio_s += seconds
        self.last_audio_at = arrival
        if not self._budget.take(seconds, arrival):
            self.dropped_audio_s += seconds
            self._observer.dropped_input(seconds)
            self._notice_dropped(
                arrival, "audio arrives faster than real time: the excess is dropped"
            )
            return
        if self._queue.full():
            old, _ = self._queue.get_nowait()
            self.dropped_audio_s += len(old) / 16_000
            self._observer.dropped_input(len(old) / 16_000)
            self._notice_dropped(arrival, "the server fell behind: older audio was dropped")
        self._queue.put_nowait((chunk, arrival))

    def _notice_dropped(self, arrival: float, why: str) -> None:
        if arrival - self._dropped_notice_at > 5.0:  # tell the client, not every 20 ms
            self._dropped_notice_at = arrival
            self._emit(NoticeMsg(code=NoticeCode.AUDIO_DROPPED, message=why))

    async def _segment_loop(self) -> None:
        segmenter = self.segmenter

        def process(batch: list[tuple[Float32Array, float]]) -> list[SegmenterEvent]:
            events: list[SegmenterEvent] = []
            for chunk, arrival in batch:
                events.extend(segmenter.feed(chunk, arrival))
            return events

        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            for event in await self._workers.vad.run(process, batch):
                self.cascade.on_event(event)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.cascade.close()
        self.track.stop()
