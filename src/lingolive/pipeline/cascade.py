"""STT → MT → TTS for one speaker: segmenter events in, captions and speech audio out.

Wires a ``StreamingRecognizer`` (which decides what was said and when a phrase is
committed) to a ``Speaker`` (which translates and voices committed phrases, in order). Each
runs as its own task, so the next phrase is recognized while the previous one is spoken.
Neither does inference on the event loop: engine calls go to the shared ``Workers`` pools.
An engine error fails that phrase (an ``error`` event with its ``segment_id``) and the
session carries on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from lingolive.engines.registry import Engines
from lingolive.pipeline.observer import PipelineObserver
from lingolive.pipeline.recognizer import RecognizerConfig, StreamingRecognizer
from lingolive.pipeline.segmenter import SegmenterEvent
from lingolive.pipeline.speaker import OUT_RATE, Speaker, SpeechOutput, resampled
from lingolive.pipeline.utterance import Utterance
from lingolive.pipeline.workers import Workers
from lingolive.signaling.messages import ServerMessage

__all__ = ["OUT_RATE", "Cascade", "Languages", "SpeechOutput", "resampled"]


@dataclass(frozen=True)
class Languages:
    source: str | None  # None: detect per utterance
    target: str
    voice: str | None = None


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
        config: RecognizerConfig | None = None,
        observer: PipelineObserver | None = None,
    ) -> None:
        self.languages = languages
        self.speaker = Speaker(
            engines, workers, languages.voice, emit=emit, output=output, observer=observer
        )
        self.recognizer = StreamingRecognizer(
            engines.stt,
            workers.stt,
            languages.source,
            languages.target,
            candidates=frozenset(s for s, t in engines.language_pairs() if t == languages.target)
            | {languages.target},
            emit=emit,
            commit=self.speaker.say,
            config=config or RecognizerConfig(),
            observer=observer,
        )
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def completed(self) -> list[Utterance]:
        return self.speaker.completed

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self.recognizer.run(), name="cascade-recognize"),
                asyncio.create_task(self.speaker.run(), name="cascade-speak"),
            ]

    def on_event(self, event: SegmenterEvent) -> None:
        self.recognizer.on_event(event)

    # Notifications from the outgoing track.
    def audio_started(self, segment_id: int, when: float) -> None:
        self.speaker.audio_started(segment_id, when)

    def audio_finished(self, segment_id: int, when: float) -> None:
        self.speaker.audio_finished(segment_id, when)

    def audio_dropped(self, segment_id: int, when: float) -> None:
        self.speaker.audio_dropped(segment_id, when)

    async def drain(self) -> None:
        """Finish everything already handed in (file mode, graceful stop)."""
        await self.recognizer.wait_idle()
        self.speaker.finish()
        if self._tasks:
            await self._tasks[1]

    async def close(self) -> None:
        """Stop now; phrases in flight are abandoned."""
        self.recognizer.close()
        self.speaker.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
