"""Streaming behaviour over real WebRTC, on real speech: partials, early speech, undo window."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import numpy as np

from conftest import DATA, Server
from lingolive.engines.registry import Engines
from lingolive.pipeline.synthesis import resampled
from lingolive.protocol import TranscriptMsg, TranslationMsg
from support.client import RATE, LoopbackClient, PacedFileTrack, load_pcm48
from support.evaluation import normalize, word_error_rate


def cut(name: str, start: float, end: float) -> np.ndarray:
    return load_pcm48(DATA / name)[int(start * RATE) : int(end * RATE)]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


async def speak(server: Server, pcm: np.ndarray, wait_s: float) -> tuple[LoopbackClient, float]:
    """Send ``pcm`` (48 kHz) paced; return the client and the instant sample 0 was sent."""
    track = PacedFileTrack(pcm)
    client = LoopbackClient(server.ws_url)
    await client.connect(track, source_lang="en", target_lang="es")
    while track.started_at is None:  # noqa: ASYNC110 - set by aiortc's sender
        await asyncio.sleep(0.01)
    await asyncio.sleep(len(pcm) / RATE + wait_s)
    await client.close()
    return client, track.started_at


def finals(client: LoopbackClient) -> list[TranscriptMsg]:
    return [e for e in client.of_type(TranscriptMsg) if e.final and e.text]


async def test_final_is_confirmed_prefix_plus_tail(
    server: Server, manifest: list[dict[str, Any]]
) -> None:
    """A 3 s sentence: partials with growing stable text, then a final that extends it."""
    entry = next(e for e in manifest if e["file"] == "en_piper_05.wav")
    client, _ = await speak(server, load_pcm48(DATA / entry["file"]), wait_s=3)
    final = finals(client)[0]
    partials = [
        e for e in client.of_type(TranscriptMsg) if not e.final and e.segment_id == final.segment_id
    ]
    assert partials, client.events
    order = {id(e): i for i, e in enumerate(client.events)}
    assert all(order[id(p)] < order[id(final)] for p in partials)
    stable = [p.stable for p in partials]
    # Stable text only grows, and every partial starts with its own stable part.
    for before, after in itertools.pairwise(stable):
        assert after.startswith(before)
    for p in partials:
        assert p.text.startswith(p.stable)
    confirmed = stable[-1]
    assert confirmed, "two consecutive passes should agree on the first words"
    assert final.text.startswith(confirmed), (confirmed, final.text)
    # No duplicated or lost words: the final is the sentence, once.
    assert word_error_rate([entry["text"]], [final.text]) <= 0.15, final.text
    words = normalize(final.text).split()
    assert len(words) == len(normalize(entry["text"]).split())


async def test_long_utterance_speaks_first_sentence_before_the_end(server: Server) -> None:
    """Three sentences with 0.15 s gaps (no pause for the VAD): the first is spoken early."""
    parts = [
        cut("en_piper_01.wav", 0.9, 4.1),
        silence(0.15),
        cut("en_piper_05.wav", 1.0, 3.2),
        silence(0.15),
        cut("en_piper_07.wav", 1.0, 2.9),
        silence(0.15),
        cut("en_piper_03.wav", 1.0, 3.05),
    ]
    pcm = np.concatenate([silence(1.0), *parts, silence(2.0)])
    speech_end = (len(pcm) - 2.0 * RATE) / RATE
    client, t0 = await speak(server, pcm, wait_s=6)
    first_audio = client.received.first_voiced_after(t0 + 1.0)
    assert first_audio is not None
    assert first_audio < t0 + speech_end - 1.0, (first_audio - t0, speech_end)
    texts = [e.text for e in finals(client)]
    assert len(texts) >= 2, texts
    # The first segment spoken is (the start of) the first sentence alone.
    first_sentence = "Good morning, I would like to book a table for two people tonight."
    assert normalize(first_sentence).startswith(normalize(texts[0])), texts
    heard = " ".join(texts)
    assert (
        word_error_rate(
            [
                "Good morning, I would like to book a table for two people tonight. "
                "My flight was cancelled because of the weather. "
                "I have been waiting for almost an hour. "
                "The meeting starts at ten o'clock tomorrow."
            ],
            [heard],
        )
        <= 0.15
    ), heard


async def test_pause_inside_a_sentence_does_not_split_it(server: Server, engines: Engines) -> None:
    """A 0.4 s pause (hangover 200 ms < pause < undo window 600 ms) inside one sentence."""

    from piper import SynthesisConfig

    from lingolive.engines.base import SpeechAudio

    # Piper's default synthesis is random (VITS noise): some draws clip "for" so that
    # Whisper hears "for it." and the sentence looks finished. Noise off: the same real
    # voice, the same audio every run.
    voice = engines.tts.engine_for("en", None)._voice("en", None)  # type: ignore[attr-defined]
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def say(text: str) -> np.ndarray:
        chunks = voice.synthesize(text, steady)
        pieces = (SpeechAudio(c.audio_int16_array.reshape(-1), c.sample_rate) for c in chunks)
        pcm = np.concatenate(list(resampled(pieces)))
        loud = np.flatnonzero(np.abs(pcm) > 300)  # trim the voice's own silences
        return pcm[loud[0] : loud[-1] + 1]

    first, second = say("I would like to book a table for"), say("two people tonight.")
    pcm = np.concatenate([silence(1.0), first, silence(0.4), second, silence(2.0)])
    client, _ = await speak(server, pcm, wait_s=5)
    texts = [e.text for e in finals(client)]
    assert len(texts) == 1, texts
    assert "table" in texts[0] and "tonight" in texts[0], texts
    assert len(client.of_type(TranslationMsg)) == 1
