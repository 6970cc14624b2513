"""Edge-TTS: everything up to the network call, and the offline fallback when the service
cannot be reached (this machine has no internet, so the real client really fails)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import OFFLINE_ENV, Server, start_server, stop_server
from lingolive.config import Settings
from lingolive.engines.base import SpeechAudio
from lingolive.engines.edge_tts_engine import DEFAULT_VOICES, EdgeTTS, decode_mp3_stream
from lingolive.engines.fallback_tts import FallbackTTS
from lingolive.engines.registry import Engines, build_tts
from lingolive.protocol import NoticeCode
from support.client import LoopbackClient, PacedFileTrack


def mp3_of(pcm: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=24_000, layout="mono")
        resampler = av.AudioResampler(format="s16p", layout="mono", rate=24_000)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(piece):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def test_mp3_stream_decodes_as_it_arrives(engines: Engines) -> None:
    pieces = list(engines.tts.synthesize("Buenos días, me gustaría reservar una mesa.", "es"))
    pcm = np.concatenate([p.samples for p in pieces])
    data = mp3_of(pcm, pieces[0].sample_rate)
    # Network-sized chunks of arbitrary length, as the service sends them.
    rng = np.random.default_rng(0)
    cuts = sorted(rng.integers(1, len(data), 20))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    decoded = list(decode_mp3_stream(iter(chunks)))
    assert len(decoded) > 3  # pieces come out as the stream goes, not once at the end
    total = sum(len(p.samples) for p in decoded) / decoded[0].sample_rate
    assert abs(total - len(pcm) / pieces[0].sample_rate) < 0.15
    assert max(int(np.abs(p.samples).max()) for p in decoded) > 3000


def test_voice_choice() -> None:
    engine = EdgeTTS({"es": "es-MX-DaliaNeural"})
    assert engine.voice_for("es", None) == "es-MX-DaliaNeural"
    assert engine.voice_for("fr", None) == DEFAULT_VOICES["fr"]
    assert engine.voice_for("fr", "fr-CA-SylvieNeural") == "fr-CA-SylvieNeural"
    settings = Settings(tts_engine="edge", tts_voice="es=es-MX-DaliaNeural,en=en_US-joe-medium")
    assert settings.voice_map() == {"es": "es-MX-DaliaNeural", "en": "en_US-joe-medium"}


@pytest.mark.usefixtures("no_internet")
def test_unreachable_service_falls_back_to_offline_voice(engines: Engines) -> None:
    tts = FallbackTTS(EdgeTTS(timeout_s=3), engines.tts)
    start = time.monotonic()
    pieces: list[SpeechAudio] = list(tts.synthesize("Hola, ¿qué tal?", "es"))
    assert time.monotonic() - start < 20  # no hang without network
    assert pieces and pieces[0].fallback and "edge unavailable" in pieces[0].fallback
    assert all(p.fallback is None for p in pieces[1:])
    assert tts.fallbacks == 1


def test_build_tts_edge_has_offline_fallback(tmp_path: Path) -> None:
    tts = build_tts(Settings(tts_engine="edge", cache_dir=tmp_path))
    assert isinstance(tts, FallbackTTS)
    assert {"en", "es"} <= set(tts.voices())


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("edge"), LL_TTS_ENGINE="edge", **OFFLINE_ENV)
    yield srv
    stop_server(srv)


async def test_client_is_told_about_the_fallback(edge_server: Server, engines: Engines) -> None:
    from lingolive.pipeline.synthesis import resampled

    speech = np.concatenate(list(resampled(engines.tts.synthesize("Thank you very much.", "en"))))
    pcm = np.concatenate([np.zeros(48_000, np.int16), speech, np.zeros(96_000, np.int16)])
    client = LoopbackClient(edge_server.ws_url)
    await client.connect(PacedFileTrack(pcm), source_lang="en", target_lang="es")
    try:
        notice = await client.wait_for(lambda e: e.type == "notice", 40)
        await client.wait_for(lambda e: e.type == "timing", 20)
        await asyncio.sleep(1.5)
    finally:
        await client.close()
    assert notice.code == NoticeCode.TTS_FALLBACK and notice.segment_id == 1
    assert sum(loud for _, loud in client.received.voiced()) > 10  # offline voice spoke
