"""When recognition falls behind, phrases are merged (no words lost) and the client is told."""

from __future__ import annotations

import asyncio

import numpy as np

from conftest import audio
from lingolive.config import RecognizerConfig
from lingolive.engines.registry import Engines
from lingolive.pipeline.events import Caption, PipelineEvent, RecognitionBehind
from lingolive.pipeline.phrase import Phrase
from lingolive.pipeline.rate_limit import TokenBucket
from lingolive.pipeline.recognizer import StreamingRecognizer
from lingolive.pipeline.segmenter import SpeechEnded, SpeechStarted
from lingolive.pipeline.stage_pool import StagePool
from lingolive.pipeline.stt_queue import SttQueue
from support.evaluation import normalize


def phrase(name: str) -> np.ndarray:
    data = audio(name)
    return data[int(0.8 * 16_000) : len(data) - int(1.2 * 16_000)]


async def test_merge_when_behind(engines: Engines) -> None:
    events: list[PipelineEvent] = []
    committed: list[Phrase] = []
    pool = StagePool("stt", 1)
    recognizer = StreamingRecognizer(
        engines.stt,
        SttQueue(pool),
        "en",
        events=events.append,
        commit=committed.append,
        config=RecognizerConfig(partials=False, max_pending=1),
    )
    # Three phrases end while recognition has not even started: the 2nd and 3rd merge.
    for i, name in enumerate(("en_piper_02.wav", "en_piper_06.wav", "en_piper_08.wav"), 1):
        clip = phrase(name)
        recognizer.on_event(SpeechStarted(i, float(i), float(i)))
        recognizer.on_event(
            SpeechEnded(i, clip, float(i), float(i) + 1, float(i) + 1.2, speech_samples=len(clip))
        )
    task = asyncio.create_task(recognizer.run())
    await recognizer.wait_idle()
    task.cancel()
    pool.shutdown()
    assert sum(isinstance(e, RecognitionBehind) for e in events) == 2
    finals = [e for e in events if isinstance(e, Caption) and e.final]
    heard = normalize(" ".join(f.text for f in finals))
    for words in ("nearest train station", "how much does this cost", "thank you very much"):
        assert words in heard, heard  # merged, but every word is there
    assert recognizer.merged_utterances == 2


def test_audio_faster_than_real_time_is_cut_to_the_allowed_rate() -> None:
    """A client flooding audio gets LL_MAX_AUDIO_RATE x real time through, no more."""
    bucket = TokenBucket(rate=1.2, burst=1.0)
    # 30 s of wall time, audio sent at 5x real time in 20 ms chunks.
    passed = sum(bucket.take(0.02, i * 0.004) for i in range(7500))
    assert 1.2 * 30 + 1.0 - 0.1 <= passed * 0.02 <= 1.2 * 30 + 1.0 + 0.02
    # A real-time microphone, after a 0.6 s burst (network hiccup), loses nothing.
    steady = TokenBucket(rate=1.2, burst=1.0)
    assert all(steady.take(0.02, 0.0) for _ in range(30))
    assert all(steady.take(0.02, 0.6 + i * 0.02) for i in range(3000))
