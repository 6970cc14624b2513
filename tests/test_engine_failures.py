"""An engine that fails fails that phrase only: an `error` event, and the session goes on.

Real engines, made to fail for real: a voice that is not installed (TTS raises), and audio
with NaN samples (Whisper refuses it). The pipeline runs in-process on a real recording
(``SpeakerPipeline.feed_recording``, the same glue a live call uses).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from conftest import audio
from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.pipeline.events import PipelineEvent, StageFailed, Translated
from lingolive.pipeline.playback import Playback
from lingolive.pipeline.segmenter import SegmenterEvent
from lingolive.pipeline.speaker_pipeline import SpeakerPipeline
from lingolive.pipeline.workers import Workers


class Collect:
    def __init__(self) -> None:
        self.events: list[PipelineEvent] = []
        self.audio: dict[int, int] = {}

    def __call__(self, event: PipelineEvent) -> None:
        self.events.append(event)

    def open_segment(self, segment_id: int) -> Playback:
        self.audio.setdefault(segment_id, 0)
        return Playback(segment_id)

    def push(self, segment_id: int, samples: np.ndarray) -> None:
        self.audio[segment_id] = self.audio.get(segment_id, 0) + len(samples)

    def close_segment(self, segment_id: int) -> None:
        pass

    backlog_s = 0.0  # never behind: speech at the voice's own rate


async def run(
    engines: Engines, languages: Languages, data: np.ndarray, poison: set[int] | None = None
) -> Collect:
    out = Collect()
    workers = Workers.create()
    pipeline = SpeakerPipeline(
        engines,
        workers,
        Settings().recording_pipeline(),
        languages,
        events=out,
        output=out,
    )
    if poison:
        recognize = pipeline.cascade.on_event

        def corrupt(event: SegmenterEvent) -> None:
            if event.utterance_id in poison and hasattr(event, "audio"):
                bad = event.audio.copy()
                bad[::100] = np.nan  # corrupt audio reaching the recognizer
                event = replace(event, audio=bad)
            recognize(event)

        pipeline.cascade.on_event = corrupt  # type: ignore[method-assign]
    try:
        await pipeline.feed_recording(data)
    finally:
        await pipeline.close()
        workers.shutdown()
    return out


async def test_missing_voice_fails_each_phrase_but_not_the_session(engines: Engines) -> None:
    data = audio("en_piper_dialogue.wav")[: 16_000 * 11]  # three phrases
    out = await run(engines, Languages("en", "es", voice="no-such-voice"), data)
    translations = [e for e in out.events if isinstance(e, Translated)]
    errors = [e for e in out.events if isinstance(e, StageFailed)]
    assert len(translations) == 3, out.events  # MT still ran for every phrase
    assert len(errors) == 3 and all("speech synthesis failed" in e.message for e in errors)
    assert {e.segment_id for e in errors} == {t.segment_id for t in translations}


async def test_corrupt_audio_fails_one_phrase_and_the_next_is_translated(
    engines: Engines,
) -> None:
    data = audio("en_piper_dialogue.wav")[: 16_000 * 11]
    out = await run(engines, Languages("en", "es"), data, poison={1})
    errors = [e for e in out.events if isinstance(e, StageFailed)]
    translations = [e for e in out.events if isinstance(e, Translated)]
    assert any(e.stage == "stt" and "NaN" in e.message for e in errors), out.events
    assert len(translations) >= 2, out.events  # the phrases after it still come out
    assert all(n > 0 for n in out.audio.values())
