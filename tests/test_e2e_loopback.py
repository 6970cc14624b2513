"""The whole product over real WebRTC: an aiortc peer speaks a WAV, hears Spanish back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jiwer
import numpy as np
from aiortc.contrib.media import MediaPlayer

from conftest import DATA, Server
from lingolive.protocol import TimingMsg, TranscriptMsg, TranslationMsg
from support.client import LoopbackClient
from support.evaluation import normalize


async def wait_sessions(server: Server, count: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            n = int((await http.get(f"{server.url}/api/status")).json()["sessions"])
            if n == count or time.monotonic() > deadline:
                return n
            await asyncio.sleep(0.2)


async def test_loopback_english_to_spanish(server: Server, manifest: list[dict[str, Any]]) -> None:
    entry = next(e for e in manifest if e["file"] == "en_piper_01.wav")
    player = MediaPlayer(str(DATA / entry["file"]))
    client = LoopbackClient(server.ws_url)
    try:
        await client.connect(player.audio, source_lang="en", target_lang="es")
        await client.wait_settled(40)
        # Let the translated speech play out (it is paced: ~4 s of Spanish).
        await asyncio.sleep(4)
    finally:
        await client.close()

    # The whole sentence was heard and translated, however the server cut it into phrases
    # (whether it is cut is tests/test_sentence_split.py's business).
    heard, translated = client.said()
    error = jiwer.wer(normalize(entry["text"]), normalize(heard))
    assert error <= 0.2, heard
    assert "mesa" in translated and "personas" in translated, translated
    finals = client.finals()
    assert {e.lang for e in finals} == {"en"}
    translations = client.of_type(TranslationMsg)
    assert [t.segment_id for t in translations] == [f.segment_id for f in finals]
    assert {t.lang for t in translations} == {"es"}
    # A 3 s phrase: partial transcripts came before its first final.
    first = finals[0].segment_id
    transcripts = [e for e in client.of_type(TranscriptMsg) if e.segment_id == first]
    assert not transcripts[0].final and transcripts[-1].final, transcripts
    timings = client.of_type(TimingMsg)
    assert len(timings) == len(finals), timings
    for timing in timings:
        for key in ("speech_end_ms", "stt_ms", "mt_ms", "tts_first_audio_ms", "first_audio_out_ms"):
            assert isinstance(getattr(timing, key), float), (key, timing)
        assert 0 < timing.first_audio_out_ms < 5000

    # The translated audio really arrived, and it arrived paced, not in a burst.
    voiced = [t for t, loud in client.received.voiced() if loud]
    assert len(voiced) * 0.02 >= 1.5, f"only {len(voiced) * 0.02:.2f} s of non-silent audio"
    spread = voiced[-1] - voiced[0]
    assert spread >= 0.7 * len(voiced) * 0.02, (spread, len(voiced))
    arrivals = np.array(client.received.arrivals)
    per_second = [np.sum((arrivals >= t) & (arrivals < t + 1.0)) for t in arrivals[::25]]
    assert max(per_second) <= 75, f"burst: {max(per_second)} frames in one second"

    # Teardown: the server forgets the session.
    assert await wait_sessions(server, 0) == 0


async def test_human_recording_and_abrupt_close(server: Server) -> None:
    """A real human voice, six short phrases; the client vanishes without a bye."""
    client = LoopbackClient(server.ws_url)
    player = MediaPlayer(str(DATA / "human" / "beckett.wav"))
    try:
        await client.connect(player.audio, source_lang="en", target_lang="es")
        await client.wait_for(lambda e: e.type == "timing", 30)
        await asyncio.sleep(9)
    finally:
        await client.close(bye=False)  # abrupt close: no bye
    heard, translated = client.said()
    for word in ("tried", "failed", "matter", "again", "better"):
        assert word in heard.lower(), heard
    # Every committed phrase before the close was translated into Spanish.
    translations = client.of_type(TranslationMsg)
    assert translations, client.events
    assert {e.lang for e in translations} == {"es"}, translations
    assert all(e.text.strip() for e in translations), translations
    for word in ("otra vez", "mejor"):
        assert word in translated.lower(), translated
    assert await wait_sessions(server, 0) == 0
