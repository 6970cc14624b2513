"""An engine that fails fails that phrase only: an `error` event, and the session goes on.

Real engines, made to fail for real: a voice that is not installed (TTS raises), and audio
with NaN samples (Whisper refuses it). The cascade runs in-process on a real file.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np

from conftest import audio
from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.pipeline.cascade import Cascade, Languages
from lingolive.pipeline.live import recognizer_config, segmenter_config
from lingolive.pipeline.segmenter import Segmenter
from lingolive.pipeline.workers import Workers
from lingolive.signaling.messages import ErrorMsg, ServerMessage, TranslationMsg


class Collect:
    def __init__(self) -> None:
        self.messages: list[ServerMessage] = []
        self.audio: dict[int, int] = {}

    def __call__(self, message: ServerMessage) -> None:
        self.messages.append(message)

    def open_segment(self, segment_id: int) -> None:
        self.audio.setdefault(segment_id, 0)

    def push(self, segment_id: int, samples: np.ndarray) -> None:
        self.audio[segment_id] = self.audio.get(segment_id, 0) + len(samples)

    def close_segment(self, segment_id: int) -> None:
        pass


async def run(
    engines: Engines, languages: Languages, data: np.ndarray, poison: set[int] | None = None
) -> Collect:
    settings = Settings()
    out = Collect()
    workers = Workers.create()
    cascade = Cascade(
        engines,
        workers,
        languages,
        emit=out,
        output=out,
        config=recognizer_config(settings, partials=False),
    )
    segmenter = Segmenter(engines.vad, segmenter_config(settings))
    cascade.start()
    try:
        events = []
        for pos in range(0, len(data), 320):
            events += segmenter.feed(data[pos : pos + 320], (pos + 320) / 16_000)
        events += segmenter.flush(len(data) / 16_000)
        for event in events:
            if poison and event.utterance_id in poison and hasattr(event, "audio"):
                bad = event.audio.copy()
                bad[::100] = np.nan  # corrupt audio reaching the recognizer
                event = replace(event, audio=bad)
            cascade.on_event(event)
            await asyncio.sleep(0)
        await cascade.drain()
    finally:
        await cascade.close()
        workers.shutdown()
    return out


async def test_missing_voice_fails_each_phrase_but_not_the_session(engines: Engines) -> None:
    data = audio("en_piper_dialogue.wav")[: 16_000 * 11]  # three phrases
    out = await run(engines, Languages("en", "es", voice="no-such-voice"), data)
    translations = [m for m in out.messages if isinstance(m, TranslationMsg)]
    errors = [m for m in out.messages if isinstance(m, ErrorMsg)]
    assert len(translations) == 3, out.messages  # MT still ran for every phrase
    assert len(errors) == 3 and all("speech synthesis failed" in e.message for e in errors)
    assert {e.segment_id for e in errors} == {t.segment_id for t in translations}


async def test_corrupt_audio_fails_one_phrase_and_the_next_is_translated(
    engines: Engines,
) -> None:
    data = audio("en_piper_dialogue.wav")[: 16_000 * 11]
    out = await run(engines, Languages("en", "es"), data, poison={1})
    errors = [m for m in out.messages if isinstance(m, ErrorMsg)]
    translations = [m for m in out.messages if isinstance(m, TranslationMsg)]
    assert any("NaN" in e.message for e in errors), out.messages
    assert len(translations) >= 2, out.messages  # the phrases after it still come out
    assert all(n > 0 for n in out.audio.values())
