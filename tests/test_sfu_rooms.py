"""SFU mode's control plane against a real Janus and a real server (``LL_SFU=janus``).

One Janus for the module (secrets on, as in tests/test_janus_api.py) and a real server
process pointed at it. ``POST /rooms`` must hand out the Janus room; WebSocket listeners
ask for Spanish (``sfu_listen``) and are told which feed to subscribe to (``sfu_ready``);
an aiortc speaker whose display says English publishes a recorded sentence into the Janus
room; every aiortc listener subscribed to the node's one Spanish feed must hear loud
speech, those subscribed to the speaker hear the original, and every WebSocket listener
must get the Spanish translation of the whole sentence, tagged with the speaker. Bad
tokens and languages nobody can translate into are refused with clear errors; when the
last listener's socket closes the feed is unpublished; when the server stops, its Janus
room is destroyed and no Janus session is left. A server whose Janus cannot be reached
answers ``POST /rooms`` with 503 naming ``LL_JANUS_URL``. Faults: Janus restarting (the
room is rebuilt) or staying away (``sfu_failed``), the node killed and started again (the
invite reopens the room), idle rooms closed, two workers sharing one Janus.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection

from conftest import free_port, start_server, stop_server
from lingolive.config import Settings
from lingolive.protocol import ServerMessage, SfuReady, SfuRoomInfo
from lingolive.rooms.janus import SfuRoom, SfuRooms, SfuUnavailable
from lingolive.rooms.placement import owner
from lingolive.sfu import janus_tokens
from lingolive.sfu.displays import feed_display, speaker_display
from lingolive.sfu.janus_api import (
    VIDEOROOM_UNAUTHORIZED,
    JanusConnection,
    JanusError,
    Publisher,
    Subscriber,
    VideoRoom,
)
from support.client import load_pcm48
from support.janus import (
    AUDIO,
    LOUD_RMS,
    TokenConnection,
    needs_janus,
    no_sessions_left,
    publish,
    subscribe,
    until,
)
from support.janus_process import JanusProcess
from test_operations import wait_ready
from test_workers import serve_two_workers, workers_gone

pytestmark = needs_janus

PHRASE = "en_piper_01.wav"  # "Good morning, I would like to book a table for two people tonight."
API_SECRET = "sfu-api-secret"
TOKEN_SECRET = "sfu-token-secret"
ADMIN_SECRET = "sfu-admin-secret"
ADMIN_KEY = "sfu-room-admin-key"
ROOM_SECRET = "sfu-room-secret"
#: The first test's audience: caption sockets in Spanish, media listeners of the node's
#: Spanish feed and of the speaker's original voice.
SPANISH_SOCKETS, SPANISH_MEDIA, ENGLISH_MEDIA = 3, 5, 2


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusProcess]:
    with JanusProcess(
        api_secret=API_SECRET,
        token_secret=TOKEN_SECRET,
        admin_secret=ADMIN_SECRET,
        admin_key=ADMIN_KEY,
    ) as process:
        yield process
    assert process.returncode == 0


def sfu_env(janus: JanusProcess) -> dict[str, str]:
    """A server in SFU mode on the module's Janus."""
    return {
        "LL_SFU": "janus",
        "LL_JANUS_URL": janus.ws_url,
        "LL_JANUS_API_SECRET": API_SECRET,
        "LL_JANUS_TOKEN_SECRET": TOKEN_SECRET,
        "LL_JANUS_ADMIN_KEY": ADMIN_KEY,
        "LL_ROOM_SECRET": ROOM_SECRET,
    }


async def displays(rooms: VideoRoom, room: int) -> list[str]:
    return sorted(p.display or "" for p in await rooms.participants(room))


async def ask(ws: websockets.ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(message))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
    return reply


def translated(messages: list[dict[str, Any]]) -> bool:
    """The whole sentence of ``PHRASE`` arrived in Spanish."""
    spanish = " ".join(
        m["text"] for m in messages if m["type"] == "translation" and m["lang"] == "es"
    ).lower()
    return all(word in spanish for word in ("mesa", "personas", "noche"))


async def speak(conn: JanusConnection, janus_room: int, pcs: list[RTCPeerConnection]) -> Publisher:
    """Alice, English by her display, publishes ``PHRASE`` into the room (paced)."""
    pcm = load_pcm48(AUDIO / PHRASE)
    return await publish(conn, janus_room, speaker_display("Alice", "en"), pcm, pcs)


async def listen_to(
    conn: JanusConnection,
    janus_room: int,
    feed: int,
    pcs: list[RTCPeerConnection],
    readers: list[asyncio.Task[None]],
) -> tuple[Subscriber, list[tuple[float, float]]]:
    """A media listener of one feed; the list fills with (arrival, RMS) of every frame."""
    heard: list[tuple[float, float]] = []
    subscription, _ = await subscribe(
        conn, janus_room, [feed], pcs, readers, lambda _, at, level: heard.append((at, level))
    )
    return subscription, heard


async def collect(ws: websockets.ClientConnection, into: list[dict[str, Any]]) -> None:
    async for raw in ws:
        into.append(json.loads(raw))


async def next_message(ws: websockets.ClientConnection, timeout: float) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def test_listeners_hear_and_read_a_janus_room(janus: JanusProcess, tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        LL_SFU="janus",
        LL_JANUS_URL=janus.ws_url,
        LL_JANUS_PUBLIC_URL="wss://janus.example.org/ws",
        LL_JANUS_API_SECRET=API_SECRET,
        LL_JANUS_TOKEN_SECRET=TOKEN_SECRET,
        LL_JANUS_ADMIN_KEY=ADMIN_KEY,
        LL_ROOM_SECRET=ROOM_SECRET,
    )
    stopped = False
    test_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    page_conns: list[JanusConnection] = []
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

        # Three caption sockets listen in Spanish; five media listeners subscribe to the
        # node's Spanish feed, two to the speaker's original (as janus.js would), each on a
        # Janus session of its own.
        inboxes: list[list[dict[str, Any]]] = [[] for _ in range(SPANISH_SOCKETS)]
        sockets = [
            await websockets.connect(server.ws_url, proxy=None) for _ in range(SPANISH_SOCKETS)
        ]
        tokens: list[str] = []
        try:
            for index, (ws, inbox) in enumerate(zip(sockets, inboxes, strict=True)):
                asks = {**listen, "token": created["token"], "display_name": f"Bob {index}"}
                ready = await ask(ws, asks)
                tokens.append(ready.pop("janus_token"))
                assert ready == {
                    "type": "sfu_ready",
                    "room": created["room"],
                    "language": "es",
                    "sfu": sfu,
                    "feed_display": feed_display("es"),
                }
                readers.append(asyncio.create_task(collect(ws, inbox)))
            # A Janus token each (token_auth), for the VideoRoom plugin, for a day.
            expiry = int(tokens[0].split(",")[0])
            assert abs(expiry - (time.time() + 86400)) < 60, tokens[0]
            assert tokens[0].split(":")[0].split(",")[1:] == ["janus", "janus.plugin.videoroom"]
            feeds = {p.display: p.id for p in await rooms.participants(janus_room)}
            assert set(feeds) == {"LingoLive", feed_display("es")}  # one feed for all
            # The Spanish media listeners come in with those tokens, as pages do (no API
            # secret); a token cannot destroy the room or kick the node (room secret).
            for token in tokens:
                page_conns.append(await TokenConnection.connect(janus.ws_url, api_secret=token))
            pages = await VideoRoom.attach(await page_conns[0].create_session())
            for secret, code in ((None, 429), ("a guess", VIDEOROOM_UNAUTHORIZED)):
                with pytest.raises(JanusError) as destroy:  # 429: "missing (secret)"
                    await pages.destroy_room(janus_room, secret=secret)
                assert destroy.value.code == code, destroy.value
                with pytest.raises(JanusError) as kick:
                    await pages.kick(janus_room, feeds["LingoLive"], secret=secret)
                assert kick.value.code == code, kick.value
            spanish = [
                await listen_to(
                    page_conns[i % len(page_conns)],
                    janus_room,
                    feeds[feed_display("es")],
                    pcs,
                    readers,
                )
                for i in range(SPANISH_MEDIA)
            ]

            # The speaker, English by their display, says one sentence.
            speaker = await speak(test_conn, janus_room, pcs)
            spoke_at = time.monotonic()
            english = [
                await listen_to(test_conn, janus_room, speaker.id, pcs, readers)
                for _ in range(ENGLISH_MEDIA)
            ]
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"{server.url}/metrics")).text
            for line in (
                f"lingolive_sfu_listeners {SPANISH_SOCKETS}.0",
                "lingolive_sfu_feeds 1.0",
                "lingolive_sfu_speakers 1.0",
            ):
                assert line in metrics, (line, metrics)
            await until(
                lambda: all(translated(inbox) for inbox in inboxes), 30, "Spanish at every socket"
            )
            for inbox in inboxes:
                translation = next(m for m in inbox if m["type"] == "translation")
                assert translation["speaker"] == {"id": str(speaker.id), "display_name": "Alice"}
                finals = [m for m in inbox if m["type"] == "transcript" and m["final"]]
                assert finals and all(m["lang"] == "en" for m in finals)
                assert not any(m["type"] == "error" for m in inbox), inbox

            def loud(heard: list[tuple[float, float]]) -> int:
                return sum(level > LOUD_RMS for t, level in heard if t > spoke_at)

            await until(
                lambda: all(loud(heard) >= 100 for _, heard in spanish),
                15,
                "2 s of loud Spanish speech at every Spanish listener",
            )
            await until(
                lambda: all(loud(heard) >= 50 for _, heard in english),
                10,
                "1 s of the original voice at every English listener",
            )
        finally:
            for ws in sockets:
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
        for subscription, _ in spanish + english:
            await subscription.leave()
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
        for conn in page_conns:
            await conn.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    log = server.log()
    assert "Traceback" not in log, log
    assert await no_sessions_left(janus, ADMIN_SECRET) == []


def untokened(ready: dict[str, Any]) -> dict[str, Any]:
    """``sfu_ready`` but its Janus token (a new one each time)."""
    return {k: v for k, v in ready.items() if k != "janus_token"}


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


async def test_a_node_that_cannot_sign_tokens_says_so(janus: JanusProcess) -> None:
    """A Janus that wants tokens and a node without ``LL_JANUS_TOKEN_SECRET``: the node
    itself would get in (API secret) and every page would be refused, so ``open`` (``POST
    /rooms``: 503) says what to set instead; nothing is left on Janus."""
    settings = Settings(
        sfu="janus", janus_url=janus.ws_url, janus_api_secret=API_SECRET, janus_admin_key=ADMIN_KEY
    )
    rooms = SfuRooms(settings, engines=None, workers=None)  # type: ignore[arg-type]
    try:
        with pytest.raises(SfuUnavailable) as refused:
            await rooms.open("no-tokens")
        assert "LL_JANUS_TOKEN_SECRET" in str(refused.value), refused.value
        assert "token_auth" in str(refused.value), refused.value
    finally:
        await rooms.close()
    assert await no_sessions_left(janus, ADMIN_SECRET) == []


class Inbox:
    """A listener that keeps what it is sent."""

    def __init__(self) -> None:
        self.messages: list[ServerMessage] = []

    def emit(self, message: ServerMessage) -> None:
        self.messages.append(message)

    async def end(self, code: str, message: str) -> None: ...

    async def shutdown(self) -> None: ...


async def test_listeners_get_a_fresh_token_before_theirs_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Janus checks a token on every request, keepalives too: a listener gets a new
    ``sfu_ready`` (a later token) in the last tenth of its token's life, and none once it
    has left. (The page joins Janus again on any new ``sfu_ready``: tests/test_sfu_page.py
    covers that with Janus restarting.)"""
    assert janus_tokens.renew_after(86400) == 86400 - 300  # 5 min before, at most
    assert janus_tokens.renew_after(60) == 54  # the last tenth of a short life
    monkeypatch.setattr(janus_tokens, "renew_after", lambda ttl_s: 0.05)
    settings = Settings(sfu="janus", janus_token_secret=TOKEN_SECRET, janus_token_ttl_s=30)
    rooms = SfuRooms(settings, engines=None, workers=None)  # type: ignore[arg-type]
    room = SfuRoom("r1", 7, SfuRoomInfo(url="ws://janus.example.org", room=7))
    listener = Inbox()
    room.listeners["es"] = {listener}
    rooms.send_ready(room, "es", listener)
    await until(lambda: len(listener.messages) >= 3, 5, "two renewals")
    readies = [m for m in listener.messages if isinstance(m, SfuReady)]
    assert len(readies) == len(listener.messages)
    assert all(r.janus_token and r.language == "es" and r.sfu.room == 7 for r in readies)
    await rooms.unlisten(room, "es", listener)
    count = len(listener.messages)
    await asyncio.sleep(0.2)
    assert len(listener.messages) == count and not room.renewals


async def test_a_room_is_rebuilt_when_janus_restarts(tmp_path: Path) -> None:
    """Janus restarts under a room: the listener is told, gets a fresh ``sfu_ready`` for the
    same Janus room, and the rebuilt node translates the next speaker. Janus gone for good:
    ``sfu_failed`` after ``LL_SFU_RECOVER_S``. Also the per-room listener limit."""
    pcs: list[RTCPeerConnection] = []
    readers: list[asyncio.Task[None]] = []
    with JanusProcess(admin_key=ADMIN_KEY) as restarting:
        server = start_server(
            tmp_path,
            LL_SFU="janus",
            LL_JANUS_URL=restarting.ws_url,
            LL_JANUS_ADMIN_KEY=ADMIN_KEY,
            LL_SFU_RECOVER_S="4",
            LL_SFU_MAX_LISTENERS="1",
        )
        try:
            room = await http_room(server.url)
            listen = {"type": "sfu_listen", "room": room["room"], "token": room["token"]}
            async with websockets.connect(server.ws_url, proxy=None) as ws:
                ready = await ask(ws, {**listen, "language": "es"})
                assert ready["type"] == "sfu_ready", ready
                async with websockets.connect(server.ws_url, proxy=None) as second:
                    full = await ask(second, {**listen, "language": "en"})
                    assert full["code"] == "room_full", full
                    assert "LL_SFU_MAX_LISTENERS" in full["message"], full

                await asyncio.to_thread(restarting.restart)
                notice = await next_message(ws, 15)
                assert notice["type"] == "notice" and notice["code"] == "sfu_recovering", notice
                assert await next_message(ws, 15) == ready  # the same Janus room, rebuilt

                conn = await JanusConnection.connect(restarting.ws_url)
                try:
                    rooms = await VideoRoom.attach(await conn.create_session(), admin_key=ADMIN_KEY)
                    janus_room = room["sfu"]["room"]
                    assert await displays(rooms, janus_room) == ["LingoLive", feed_display("es")]
                    messages: list[dict[str, Any]] = []
                    readers.append(asyncio.create_task(collect(ws, messages)))
                    await speak(conn, janus_room, pcs)
                    await until(lambda: translated(messages), 30, "Spanish after the rebuild")
                finally:
                    for pc in pcs:
                        await pc.close()
                    await conn.close()

                # Janus does not come back: the listener hears why, then the socket closes.
                await asyncio.to_thread(restarting.stop)
                await until(lambda: any(m["type"] == "error" for m in messages), 20, "sfu_failed")
                await asyncio.wait_for(ws.wait_closed(), 5)
                failed = next(m for m in messages if m["type"] == "error")
                assert failed["code"] == "sfu_failed", failed
                assert "could not be rebuilt" in failed["message"], failed
                assert any(m.get("code") == "sfu_recovering" for m in messages), messages
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"{server.url}/metrics")).text
            assert 'lingolive_sfu_rebuilds_total{outcome="rebuilt"} 1.0' in metrics, metrics
            assert 'lingolive_sfu_rebuilds_total{outcome="failed"} 1.0' in metrics, metrics
            assert "lingolive_sfu_rooms 0.0" in metrics, metrics
            async with websockets.connect(server.ws_url, proxy=None) as ws:
                reply = await ask(ws, {**listen, "language": "es"})
                assert reply["code"] == "sfu_unavailable", reply
                assert "LL_JANUS_URL" in reply["message"], reply
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.to_thread(stop_server, server)
    assert "Traceback" not in server.log(), server.log()


async def test_a_room_outlives_its_node(janus: JanusProcess, tmp_path: Path) -> None:
    """The node is killed mid-room; started again (same ``LL_ROOM_SECRET``), the old invite
    brings the room back on the same Janus room, without the dead node's feeds, and it
    translates again. A room nobody listens to is closed after ``LL_SFU_IDLE_S`` and opened
    again by its invite."""
    env = {**sfu_env(janus), "LL_SFU_IDLE_S": "2"}
    server = start_server(tmp_path, **env)
    pcs: list[RTCPeerConnection] = []
    readers: list[asyncio.Task[None]] = []
    conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    try:
        room = await http_room(server.url)
        listen = {"type": "sfu_listen", "room": room["room"], "token": room["token"]}
        async with websockets.connect(server.ws_url, proxy=None) as ws:
            ready = await ask(ws, {**listen, "language": "es"})
            assert ready["type"] == "sfu_ready", ready
            server.proc.kill()  # no goodbye to Janus
            await asyncio.to_thread(server.proc.wait)
        rooms = await VideoRoom.attach(await conn.create_session(), admin_key=ADMIN_KEY)
        janus_room = room["sfu"]["room"]
        assert await rooms.exists(janus_room)  # nobody destroyed it

        server = start_server(tmp_path, **env)
        messages: list[dict[str, Any]] = []
        async with websockets.connect(server.ws_url, proxy=None) as ws:
            assert untokened(await ask(ws, {**listen, "language": "es"})) == untokened(ready)
            assert await displays(rooms, janus_room) == ["LingoLive", feed_display("es")]
            readers.append(asyncio.create_task(collect(ws, messages)))
            await speak(conn, janus_room, pcs)
            await until(lambda: translated(messages), 30, "Spanish from the restarted node")
        # Nobody listens: after LL_SFU_IDLE_S the room is closed; its invite opens it again.
        for _ in range(100):
            if not await rooms.exists(janus_room):
                break
            await asyncio.sleep(0.1)
        assert not await rooms.exists(janus_room), "the idle room was not closed"
        async with websockets.connect(server.ws_url, proxy=None) as ws:
            assert untokened(await ask(ws, {**listen, "language": "es"})) == untokened(ready)
        await asyncio.to_thread(stop_server, server)
        assert not await rooms.exists(janus_room)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for pc in pcs:
            await pc.close()
        await conn.close()
        await asyncio.to_thread(stop_server, server)
    assert "Traceback" not in server.log(), server.log()


async def test_two_workers_share_one_janus(janus: JanusProcess, tmp_path: Path) -> None:
    """``--workers 2``: the worker that answers ``POST /rooms`` owns the room (each holds
    one here, both on the same Janus); a listener entering through the other worker is
    relayed to the owner; stopping the server destroys both Janus rooms."""
    port, base = free_port(), free_port()
    log = tmp_path / "workers.log"
    proc = serve_two_workers(
        log, LL_PORT=str(port), LL_WORKER_PORT_BASE=str(base), **sfu_env(janus)
    )
    conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    pids: list[int] = []
    try:
        urls = [f"http://127.0.0.1:{base + i}" for i in range(2)]
        for url in urls:
            await asyncio.to_thread(wait_ready, url, proc)
        async with httpx.AsyncClient() as http:
            pids = [(await http.get(f"{u}/api/status")).json()["process"]["pid"] for u in urls]
        made = [await http_room(url) for url in urls]
        assert [owner(r["room"], 2) for r in made] == [0, 1]
        rooms = await VideoRoom.attach(await conn.create_session(), admin_key=ADMIN_KEY)
        for index, room in enumerate(made):
            assert await displays(rooms, room["sfu"]["room"]) == ["LingoLive"]
            other = f"ws://127.0.0.1:{base + 1 - index}/ws"
            async with websockets.connect(other, proxy=None) as ws:
                listen = {"type": "sfu_listen", "room": room["room"], "token": room["token"]}
                ready = await ask(ws, {**listen, "language": "es"})
                assert ready["type"] == "sfu_ready" and ready["sfu"] == room["sfu"], ready
        assert log.read_text().count("relayed") == 2
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 30) == 0
        for room in made:
            assert not await rooms.exists(room["sfu"]["room"])
    finally:
        await conn.close()
        if proc.poll() is None:
            proc.kill()
            await asyncio.to_thread(proc.wait)
    await workers_gone(set(pids))
    assert "Traceback" not in log.read_text()
