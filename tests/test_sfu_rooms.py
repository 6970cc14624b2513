"""SFU mode's control plane against a real Janus and a real server (``LL_SFU=janus``).

One Janus for the module (secrets on, as in tests/test_janus_api.py) and a real server
process pointed at it. ``POST /rooms`` must hand out the Janus room; a WebSocket listener
asks for Spanish (``sfu_listen``) and is told which feed to subscribe to (``sfu_ready``);
an aiortc speaker whose display says English publishes a recorded sentence into the Janus
room, an aiortc listener subscribed to the node's Spanish feed must hear loud speech, and
the WebSocket listener must get the Spanish translation of the whole sentence, tagged with
the speaker. Bad tokens and languages nobody can translate into are refused with clear
errors; when the listener's socket closes the feed is unpublished; when the server stops,
its Janus room is destroyed and no Janus session is left. A server whose Janus cannot be
reached answers ``POST /rooms`` with 503 naming ``LL_JANUS_URL``; when Janus goes away under a
room, its listeners get ``sfu_failed``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import websockets
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from conftest import free_port, start_server, stop_server
from janus_support import AUDIO, LOUD_RMS, local, needs_janus, remote, rms, until
from lingolive.client import PacedFileTrack, load_pcm48
from lingolive.sfu.janus_api import (
    JanusAdmin,
    JanusConnection,
    Publisher,
    Subscriber,
    VideoRoom,
)
from lingolive.sfu.janus_process import JanusProcess
from lingolive.sfu.translator import feed_display, speaker_display

pytestmark = needs_janus

PHRASE = "en_piper_01.wav"  # "Good morning, I would like to book a table for two people tonight."
API_SECRET = "sfu-api-secret"
ADMIN_SECRET = "sfu-admin-secret"
ADMIN_KEY = "sfu-room-admin-key"
ROOM_SECRET = "sfu-room-secret"


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusProcess]:
    with JanusProcess(
        api_secret=API_SECRET, admin_secret=ADMIN_SECRET, admin_key=ADMIN_KEY
    ) as process:
        yield process
    assert process.returncode == 0


async def displays(rooms: VideoRoom, room: int) -> list[str]:
    return sorted(p.display or "" for p in await rooms.participants(room))


async def ask(ws: websockets.ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
    return reply


async def test_listeners_hear_and_read_a_janus_room(janus: JanusProcess, tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        LL_SFU="janus",
        LL_JANUS_URL=janus.ws_url,
        LL_JANUS_PUBLIC_URL="wss://janus.example.org/ws",
        LL_JANUS_API_SECRET=API_SECRET,
        LL_JANUS_ADMIN_KEY=ADMIN_KEY,
        LL_ROOM_SECRET=ROOM_SECRET,
    )
    stopped = False
    test_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    pcs: list[RTCPeerConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{server.url}/rooms")
        assert response.status_code == 200, response.text
        created = response.json()
        sfu = created["sfu"]
        assert sfu["kind"] == "janus" and sfu["url"] == "wss://janus.example.org/ws"
        janus_room = sfu["room"]
        assert isinstance(janus_room, int)
        session = await test_conn.create_session()
        rooms = await VideoRoom.attach(session, admin_key=ADMIN_KEY)
        assert await displays(rooms, janus_room) == ["LingoLive"]  # no language yet

        async with websockets.connect(server.ws_url, proxy=None) as bad:
            listen = {"type": "sfu_listen", "room": created["room"], "language": "es"}
            reply = await ask(bad, {**listen, "token": "x.y"})
            assert reply["type"] == "error" and reply["code"] == "bad_token", reply
            other = (await http_room(server.url))["token"]  # a valid token of another room
            reply = await ask(bad, {**listen, "token": other})
            assert reply["code"] == "bad_token" and "another room" in reply["message"], reply
            reply = await ask(bad, {**listen, "token": created["token"], "language": "xx"})
            assert reply["code"] == "unsupported_language_pair", reply
            assert "'xx'" in reply["message"] and "es" in reply["message"]

        messages: list[dict[str, Any]] = []
        ws = await websockets.connect(server.ws_url, proxy=None)
        try:
            ready = await ask(ws, {**listen, "token": created["token"], "display_name": "Bob"})
            assert ready == {
                "type": "sfu_ready",
                "room": created["room"],
                "language": "es",
                "sfu": sfu,
                "feed_display": feed_display("es"),
            }

            async def collect() -> None:
                async for raw in ws:
                    messages.append(json.loads(raw))

            readers.append(asyncio.create_task(collect()))
            feeds = {p.display: p.id for p in await rooms.participants(janus_room)}
            assert set(feeds) == {"LingoLive", feed_display("es")}

            # A listener subscribes to the Spanish feed, as janus.js would.
            listening = await Subscriber.join(
                await test_conn.create_session(), janus_room, [feeds[feed_display("es")]]
            )
            heard: list[tuple[float, float]] = []
            listener_pc = RTCPeerConnection()
            pcs.append(listener_pc)

            async def read(track: MediaStreamTrack) -> None:
                while True:
                    try:
                        frame = await track.recv()
                    except MediaStreamError:
                        return
                    assert isinstance(frame, av.AudioFrame)
                    heard.append((time.monotonic(), rms(frame.to_ndarray())))

            @listener_pc.on("track")
            def on_track(track: MediaStreamTrack) -> None:
                readers.append(asyncio.create_task(read(track)))

            await listener_pc.setRemoteDescription(remote(listening.offer))
            await listener_pc.setLocalDescription(await listener_pc.createAnswer())
            await listening.start(local(listener_pc))
            await listening.handle.wait_janus("webrtcup", timeout=10)

            # The speaker, English by their display, says one sentence.
            speaker = await Publisher.join(
                await test_conn.create_session(),
                janus_room,
                display=speaker_display("Alice", "en"),
            )
            speaker_pc = RTCPeerConnection()
            pcs.append(speaker_pc)
            track = PacedFileTrack(load_pcm48(AUDIO / PHRASE))
            speaker_pc.addTransceiver(track, direction="sendonly")
            await speaker_pc.setLocalDescription(await speaker_pc.createOffer())
            answer = await speaker.publish(local(speaker_pc))
            await speaker_pc.setRemoteDescription(remote(answer))
            await speaker.handle.wait_janus("webrtcup", timeout=10)
            spoke_at = time.monotonic()

            def spanish() -> str:
                return " ".join(
                    m["text"] for m in messages if m["type"] == "translation" and m["lang"] == "es"
                ).lower()

            await until(
                lambda: all(w in spanish() for w in ("mesa", "personas", "noche")), 30, "Spanish"
            )
            translation = next(m for m in messages if m["type"] == "translation")
            assert translation["speaker"] == {"id": str(speaker.id), "display_name": "Alice"}
            finals = [m for m in messages if m["type"] == "transcript" and m["final"]]
            assert finals and all(m["lang"] == "en" for m in finals)
            assert not any(m["type"] == "error" for m in messages), messages

            def loud() -> int:
                return sum(level > LOUD_RMS for t, level in heard if t > spoke_at)

            await until(lambda: loud() >= 100, 15, "2 s of loud Spanish speech")
        finally:
            await ws.close()

        # The last Spanish listener left: the feed is unpublished.
        async def feed_gone() -> None:
            for _ in range(50):
                if feed_display("es") not in await displays(rooms, janus_room):
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(await displays(rooms, janus_room))

        await feed_gone()
        assert await displays(rooms, janus_room) == ["Alice [en]", "LingoLive"]
        await listening.leave()
        await speaker.unpublish()
        await speaker.leave()

        # Server shutdown: the node leaves and its Janus room is destroyed.
        await asyncio.to_thread(stop_server, server)
        stopped = True
        assert not await rooms.exists(janus_room)
        await rooms.close()
    finally:
        if not stopped:
            await asyncio.to_thread(stop_server, server)
        for pc in pcs:
            await pc.close()
        await test_conn.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    log = server.log()
    assert "Traceback" not in log, log
    async with await JanusAdmin.connect(janus.admin_url, ADMIN_SECRET) as admin:
        for _ in range(20):
            sessions = await admin.list_sessions()
            if not sessions:
                break
            await asyncio.sleep(0.1)
    assert sessions == []


async def http_room(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{url}/rooms")
    assert response.status_code == 200, response.text
    room: dict[str, Any] = response.json()
    return room


async def test_unreachable_janus_is_a_503(tmp_path: Path) -> None:
    nowhere = f"ws://127.0.0.1:{free_port()}/"
    server = start_server(tmp_path, LL_SFU="janus", LL_JANUS_URL=nowhere)
    try:
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{server.url}/rooms")
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "LL_JANUS_URL" in detail and nowhere in detail, detail
        async with websockets.connect(server.ws_url, proxy=None) as ws:
            reply = await ask(
                ws, {"type": "sfu_listen", "room": "abc", "token": "x.y", "language": "es"}
            )
            assert reply["code"] == "bad_token", reply
    finally:
        await asyncio.to_thread(stop_server, server)
    assert "Traceback" not in server.log(), server.log()


async def test_listeners_are_told_when_janus_goes_away(tmp_path: Path) -> None:
    with JanusProcess(admin_key=ADMIN_KEY) as short:
        server = start_server(
            tmp_path, LL_SFU="janus", LL_JANUS_URL=short.ws_url, LL_JANUS_ADMIN_KEY=ADMIN_KEY
        )
        try:
            room = await http_room(server.url)
            listen = {"type": "sfu_listen", "room": room["room"], "token": room["token"]}
            async with websockets.connect(server.ws_url, proxy=None) as ws:
                ready = await ask(ws, {**listen, "language": "es"})
                assert ready["type"] == "sfu_ready", ready
                await asyncio.to_thread(short.stop)
                reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
                assert reply["type"] == "error" and reply["code"] == "sfu_failed", reply
                assert "lost Janus" in reply["message"], reply
                await asyncio.wait_for(ws.wait_closed(), 5)
            async with websockets.connect(server.ws_url, proxy=None) as ws:
                reply = await ask(ws, {**listen, "language": "es"})
                assert reply["code"] == "sfu_unavailable" and "stopped" in reply["message"]
        finally:
            await asyncio.to_thread(stop_server, server)
    assert "Traceback" not in server.log(), server.log()
