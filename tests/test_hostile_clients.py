"""One hostile client must not hurt the others.

While a normal session speaks a sentence, other clients attack the server through its public
surface: sockets that never offer, a flood of audio faster than real time from a real aiortc
peer, offers with a video section, JSON bombs, candidate floods, a huge ``POST /rooms`` body.
Each attacker gets its refusal, and the normal session still hears its whole sentence
translated. (How the limits answer one by one: test_signaling_errors.py, test_operations.py;
every limit: docs/security.md.)
"""

from __future__ import annotations

import asyncio
import fractions
import json
from typing import Any

import av
import httpx
import numpy as np
import websockets
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from conftest import DATA, Server
from lingolive.protocol import ErrorCode
from support.client import RATE, LoopbackClient, PacedFileTrack, load_pcm48


class FloodTrack(MediaStreamTrack):
    """A microphone that sends audio as fast as the sender takes it, not in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._noise = (np.random.default_rng(1).normal(0, 3000, 960)).astype(np.int16)

    async def recv(self) -> av.AudioFrame:
        await asyncio.sleep(0.002)  # 10x real time (a 20 ms frame every 2 ms)
        frame = av.AudioFrame.from_ndarray(self._noise.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += 960
        return frame


async def first_message(url: str, message: str) -> dict[str, Any]:
    async with websockets.connect(url, max_size=2**24) as ws:
        await ws.send(message)
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        return reply


async def video_offer() -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


async def attack(server: Server) -> dict[str, Any]:
    """Every attack once, concurrently with the normal session; what each attacker got."""
    got: dict[str, Any] = {}
    idle = []
    for _ in range(10):  # sockets that never offer
        ws = await websockets.connect(server.ws_url)
        idle.append(ws)
    refused = 0
    for ws in idle:
        try:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            refused += msg.get("code") == ErrorCode.TOO_MANY_CONNECTIONS
        except TimeoutError:
            pass  # admitted, waiting for its offer deadline
    got["idle_refused"] = refused
    for ws in idle:
        await ws.close()

    flood = LoopbackClient(server.ws_url)
    await flood.connect(FloodTrack(), source_lang="en", target_lang="es")
    got["video"] = await first_message(
        server.ws_url, json.dumps({"type": "offer", "sdp": await video_offer()})
    )
    got["bomb"] = await first_message(server.ws_url, '{"type": "bye", "x": ' + "9" * 5000 + "}")
    async with httpx.AsyncClient(timeout=30) as http:
        big = json.dumps({"glossary": ["x"]}) + " " * (4 * 2**20)
        got["big_room_body"] = (await http.post(f"{server.url}/rooms", content=big)).status_code
    try:
        got["flood_notice"] = await flood.wait_for(
            lambda e: e.type == "notice" and e.code == "audio_dropped", 15
        )
    finally:
        await flood.close()
    return got


async def test_attacks_do_not_hurt_a_normal_session(server: Server) -> None:
    normal = LoopbackClient(server.ws_url)
    await normal.connect(
        PacedFileTrack(load_pcm48(DATA / "en_piper_01.wav")), source_lang="en", target_lang="es"
    )
    try:
        got = await attack(server)
        await normal.wait_settled(40)
        await asyncio.sleep(4)  # the translation (~4 s of Spanish) plays out
    finally:
        await normal.close()
    assert got["idle_refused"] >= 6, got  # at most LL_MAX_PENDING_PER_ADDRESS (4) admitted
    assert got["video"]["code"] == ErrorCode.BAD_SDP, got
    assert got["bomb"]["code"] == ErrorCode.BAD_JSON, got
    assert got["big_room_body"] == 413, got
    assert "faster than real time" in got["flood_notice"].message, got
    # The normal session was served in full: its whole sentence, translated and heard.
    _, translated = normal.said()
    assert "buenos días" in translated.lower() and "mesa" in translated, translated
    assert sum(loud for _, loud in normal.received.voiced()) * 0.02 >= 1.5
    assert "Traceback" not in server.log()
