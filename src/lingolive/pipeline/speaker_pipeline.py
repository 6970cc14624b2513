"""One speaker's translation: audio chunks in → segmenter → cascade → speech output.

This is the one glue between the incoming audio and the stages, for a live call and for a
recording alike: chunks are segmented in the VAD pool (never on the event loop) and the
segmenter's events go to the ``Cascade``, which speaks into whatever ``SpeechOutput`` it was
given (a call's outgoing track, a room's fan-out, a file). Everything the pipeline has to
say goes to one ``EventSink``.

* A live call (``feed``, called by ``rtc.inbound.pump`` for every 20 ms): the chunk goes on
  a bounded queue, one task hands batches of chunks to the VAD pool. Back-pressure: the
  queue holds ``AUDIO_QUEUE_S`` of audio; if the VAD thread cannot keep up (a starved
  machine) the oldest audio is dropped and counted, because the newest speech matters most
  in a conversation. A client sending faster than ``max_audio_rate`` × real time has the
  excess dropped before it reaches the shared VAD thread.
* A recording (``feed_recording``): the whole file, in the same 20 ms chunks, as fast as
  the engines allow; nothing is dropped, the arrival instant of a chunk is its position in
  the file (so stage marks are audio seconds).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import numpy as np

from lingolive.config import PipelineConfig
from lingolive.engines.base import MODEL_RATE, Float32Array
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.pipeline.cascade import Cascade
from lingolive.pipeline.events import AudioShed, EventSink, SpeechActivity
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.keep_up import KeepUp
from lingolive.pipeline.playback import SpeechOutput
from lingolive.pipeline.rate_limit import TokenBucket
from lingolive.pipeline.segmenter import Segmenter, SegmenterEvent, SpeechEnded, SpeechStarted
from lingolive.pipeline.workers import Workers

log = logging.getLogger(__name__)

AUDIO_QUEUE_S = 2.0
CHUNK_S = 0.02
CHUNK = int(CHUNK_S * MODEL_RATE)
#: Audio a client may send ahead of real time at once (a network hiccup delivers a burst).
AUDIO_BURST_S = 1.0
#: A recording is segmented this much at a time (one VAD-pool call).
RECORDING_BATCH_S = 1.0
#: Shed audio is told to the client at most this often (the metrics count all of it).
TELL_SHED_EVERY_S = 5.0

Chunk = tuple[Float32Array, float]


class SpeakerPipeline:
    """The pipeline of one speaker: segmentation, recognition, translation, speech."""

    def __init__(
        self,
        engines: Engines,
        workers: Workers,
        config: PipelineConfig,
        languages: Languages,
        *,
        events: EventSink,
        output: SpeechOutput | None,
        glossary: Glossary | None = None,
    ) -> None:
        """``output`` given: the speaker hears their own translation there (loopback, file);
        otherwise (rooms) listener languages are added to ``cascade`` by the room."""
        self._workers = workers
        self._events = events
        self.cascade = Cascade(
            engines,
            workers,
            languages,
            events=events,
            output=output,
            config=config.recognizer,
            glossary=glossary,
            first_words=config.first_words,
            keep_up=KeepUp(max_speed=config.keep_up_max_speed),
        )
        segmenting = config.segmenter
        if engines.turn is None:  # nobody to ask: no short-silence question
            segmenting = replace(segmenting, turn_check_ms=0)
        self.segmenter = Segmenter(engines.vad, segmenting)
        self._queue: asyncio.Queue[Chunk] = asyncio.Queue(maxsize=int(AUDIO_QUEUE_S / CHUNK_S))
        self.dropped_audio_s = 0.0
        self.received_audio_s = 0.0
        self.last_audio_at: float | None = None  # arrival of the latest microphone chunk
        self._told_shed_at = float("-inf")
        rate = config.max_audio_rate
        self._budget = None if rate is None else TokenBucket(rate=rate, burst=AUDIO_BURST_S)
        self._task: asyncio.Task[None] | None = None
        #: The speaker muted their microphone: what still arrives counts as silence, so an
        #: utterance in progress ends as if they had stopped talking.
        self.muted = False

    def start(self) -> None:
        self.cascade.start()
        if self._task is None:
            self._task = asyncio.create_task(self._segment_loop(), name="live-segment")

    # -- a live call ----------------------------------------------------------------------------

    def feed(self, chunk: Float32Array, arrival: float) -> None:
        """Accept one chunk of 16 kHz mono audio; never blocks (drops the oldest if full).

        A microphone delivers audio in real time. A client that sends it faster (a flood of
        RTP packets) would take the shared VAD thread from everyone, so beyond
        ``LL_MAX_AUDIO_RATE`` × real time (with a second of burst for network jitter) the
        excess is dropped and the client told.
        """
        seconds = len(chunk) / MODEL_RATE
        self.received_audio_s += seconds
        self.last_audio_at = arrival
        if self.muted:
            chunk = np.zeros_like(chunk)
        if self._budget is not None and not self._budget.take(seconds, arrival):
            self._shed(
                seconds, arrival, "audio arrives faster than real time: the excess is dropped"
            )
            return
        if self._queue.full():
            old, _ = self._queue.get_nowait()
            self._shed(
                len(old) / MODEL_RATE, arrival, "the server fell behind: older audio was dropped"
            )
        self._queue.put_nowait((chunk, arrival))

    def _shed(self, seconds: float, arrival: float, why: str) -> None:
        self.dropped_audio_s += seconds
        tell = arrival - self._told_shed_at > TELL_SHED_EVERY_S
        if tell:
            self._told_shed_at = arrival
        self._events(AudioShed(seconds, why, tell))

    def _segment(self, batch: list[Chunk]) -> list[SegmenterEvent]:
        """In the VAD thread: a batch of chunks through the segmenter."""
        events: list[SegmenterEvent] = []
        for chunk, arrival in batch:
            events.extend(self.segmenter.feed(chunk, arrival))
        return events

    def _hand_on(self, events: list[SegmenterEvent]) -> None:
        for event in events:
            if isinstance(event, SpeechStarted | SpeechEnded):
                self._events(SpeechActivity(isinstance(event, SpeechStarted)))
            self.cascade.on_event(event)

    async def _segment_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._hand_on(await self._workers.vad.run(self._segment, batch))

    # -- a recording ----------------------------------------------------------------------------

    async def feed_recording(self, audio: Float32Array) -> None:
        """Translate a whole recording; returns when every phrase of it has been spoken."""
        self.cascade.start()
        step = int(RECORDING_BATCH_S / CHUNK_S)
        chunks = [
            (audio[pos : pos + CHUNK], (pos + len(audio[pos : pos + CHUNK])) / MODEL_RATE)
            for pos in range(0, len(audio), CHUNK)
        ]
        for first in range(0, len(chunks), step):
            self._hand_on(await self._workers.vad.run(self._segment, chunks[first : first + step]))
        self._hand_on(self.segmenter.flush(len(audio) / MODEL_RATE))
        await self.cascade.drain()

    async def close(self) -> None:
        """Stop now; phrases in flight are abandoned."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.cascade.close()
