"""The Janus client against a real Janus (the Debian package), with real WebRTC media.

One Janus for the module (``support.janus_process``: only the VideoRoom plugin and the
WebSockets transport, ICE on this machine's own address, API secret, Admin API and a
VideoRoom admin key all on, so each is exercised). Two aiortc peer connections publish to a
room through ``janus_api`` (one speaking a test file, one silent), a third subscribes to
both feeds in one multistream subscription and must hear speech on the first and silence on
the second. Leaving is checked through the room's participant list and Janus's Admin API
(``list_sessions``: nothing may be left once the connections close).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from aiortc import RTCPeerConnection

from conftest import Server
from lingolive.sfu.janus_api import (
    CONNECTION_CLOSED,
    VIDEOROOM_NO_SUCH_ROOM,
    VIDEOROOM_ROOM_EXISTS,
    VIDEOROOM_UNAUTHORIZED,
    JanusConnection,
    JanusError,
    VideoRoom,
)
from lingolive.sfu.janus_tokens import sign
from lingolive.sfu.sdp import description_of, local_jsep
from support.client import RATE, load_pcm48
from support.janus import (
    AUDIO,
    LOUD_RMS,
    TokenConnection,
    needs_janus,
    no_sessions_left,
    publish,
    subscribe,
)
from support.janus_admin import JanusAdmin
from support.janus_process import JanusProcess

pytestmark = needs_janus

SPEECH_FILE = "en_piper_dialogue.wav"
API_SECRET = "test-api-secret"
TOKEN_SECRET = "test-token-secret"
ADMIN_SECRET = "test-admin-secret"
ADMIN_KEY = "test-room-admin-key"
LISTEN_S = 5.0


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusProcess]:
    with JanusProcess(
        api_secret=API_SECRET,
        token_secret=TOKEN_SECRET,
        admin_secret=ADMIN_SECRET,
        admin_key=ADMIN_KEY,
    ) as process:
        yield process
    # __exit__ stopped it with SIGTERM and checked it exited with status 0
    assert process.returncode == 0


@pytest.fixture
async def conn(janus: JanusProcess) -> AsyncIterator[JanusConnection]:
    connection = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    try:
        yield connection
    finally:
        await connection.close()


async def test_secrets_are_enforced(janus: JanusProcess) -> None:
    async with await JanusConnection.connect(janus.ws_url, api_secret="wrong") as wrong:
        with pytest.raises(JanusError) as refused:
            await wrong.create_session()
    assert refused.value.code == 403 and refused.value.request == "create"
    async with await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET) as right:
        info = await right.info()
        assert list(info["plugins"]) == ["janus.plugin.videoroom"]
        assert list(info["transports"]) == ["janus.transport.websockets"]
        session = await right.create_session()
        with pytest.raises(JanusError) as missing:
            await (await VideoRoom.attach(session)).create_room()
        assert missing.value.code == 429  # "Missing mandatory element (admin_key)"
        with pytest.raises(JanusError) as unauthorized:
            await (await VideoRoom.attach(session, admin_key="wrong")).create_room()
        assert unauthorized.value.code == VIDEOROOM_UNAUTHORIZED
    assert await no_sessions_left(janus, ADMIN_SECRET) == []


async def test_signed_tokens_open_videoroom_and_nothing_else(janus: JanusProcess) -> None:
    """What a listener's page gets in ``sfu_ready`` (``sfu.janus_tokens.sign``), as the
    real Janus reads it: a session and VideoRoom with a good token; refused when it
    expired, was signed with another secret or names another plugin; and no room made
    with it (the admin key stays with the node)."""
    good = sign(TOKEN_SECRET, 60)
    async with await TokenConnection.connect(janus.ws_url, api_secret=good) as page:
        info = await page.info()
        assert info["auth_token"] is True and info["api_secret"] is True
        session = await page.create_session()
        rooms = await VideoRoom.attach(session)
        with pytest.raises(JanusError) as create:
            await rooms.create_room()
        assert create.value.code == 429  # no admin_key: "Missing mandatory element"
    for why, token in (
        ("expired", sign(TOKEN_SECRET, 60, now=time.time() - 120)),
        ("forged", sign("not-the-secret", 60)),
        ("none", None),
    ):
        async with await TokenConnection.connect(janus.ws_url, api_secret=token) as page:
            with pytest.raises(JanusError) as refused:
                await page.create_session()
            assert refused.value.code == 403, why
    echo_only = sign(TOKEN_SECRET, 60, plugins=("janus.plugin.echotest",))
    async with await TokenConnection.connect(janus.ws_url, api_secret=echo_only) as page:
        session = await page.create_session()
        with pytest.raises(JanusError) as plugin:
            await VideoRoom.attach(session)
        assert plugin.value.code == 405 and "can't access plugin" in plugin.value.reason
    assert await no_sessions_left(janus, ADMIN_SECRET) == []


async def test_something_else_than_janus_is_a_clear_error(server: Server) -> None:
    """``LL_JANUS_URL`` pointing at a web server that is not Janus (here LingoLive's own):
    a ``JanusError`` that says so (``POST /rooms`` turns it into a 503), not a crash."""
    url = server.ws_url.removesuffix("/ws") + "/"
    with pytest.raises(JanusError) as wrong:
        await JanusConnection.connect(url)
    assert wrong.value.code == CONNECTION_CLOSED, wrong.value
    assert "is not Janus's WebSocket API" in wrong.value.reason, wrong.value


async def test_room_lifecycle(janus: JanusProcess, conn: JanusConnection) -> None:
    session = await conn.create_session()
    rooms = await VideoRoom.attach(session, admin_key=ADMIN_KEY)
    picked = await rooms.create_room(description="picked by Janus", secret="s3cret")
    chosen = await rooms.create_room(4242, publishers=3)
    assert picked != chosen and await rooms.exists(picked) and await rooms.exists(chosen)
    with pytest.raises(JanusError) as taken:
        await rooms.create_room(4242)
    assert taken.value.code == VIDEOROOM_ROOM_EXISTS

    listed = {room["room"]: room for room in await rooms.list_rooms()}  # private: admin_key
    assert listed[picked]["description"] == "picked by Janus"
    assert listed[picked]["audiocodec"] == "opus"
    assert listed[chosen]["max_publishers"] == 3
    assert await rooms.participants(picked) == []

    await rooms.destroy_room(picked)  # the secret it was created with
    assert not await rooms.exists(picked)
    with pytest.raises(JanusError) as again:
        await rooms.destroy_room(picked, secret="s3cret")
    assert again.value.code == VIDEOROOM_NO_SUCH_ROOM and again.value.request == "destroy"

    await rooms.close()  # destroys what it created: 4242
    checker = await VideoRoom.attach(session)
    assert not await checker.exists(chosen)


async def test_keepalive_keeps_a_session_that_janus_would_time_out() -> None:
    """A Janus with a 1 s session timeout (its watchdog looks every 2 s): the session whose
    connection sends keepalives survives, the other one is told ``timeout`` and is gone."""
    async with (
        JanusProcess(admin_secret=ADMIN_SECRET, session_timeout_s=1) as short,
        await JanusConnection.connect(short.ws_url, keepalive_s=0.3) as kept,
        await JanusConnection.connect(short.ws_url, keepalive_s=3600) as idle,
    ):
        alive = await kept.create_session()
        dropped = await idle.create_session()
        handle = await dropped.attach()
        timeout = await dropped.events.wait_for(lambda m: m.get("janus") == "timeout", 6, "timeout")
        assert timeout["session_id"] == dropped.id
        with pytest.raises(JanusError) as gone:  # its handle knows it is gone
            await handle.wait_janus("webrtcup", timeout=1)
        assert gone.value.code == CONNECTION_CLOSED
        async with await JanusAdmin.connect(short.admin_url, ADMIN_SECRET) as admin:
            assert await admin.list_sessions() == [alive.id]
    assert short.returncode == 0


def speech_only(name: str) -> np.ndarray:
    """The file's utterances back to back (pauses cut): speech in every second."""
    manifest = json.loads((AUDIO / "manifest.json").read_text())
    spans = next(entry["speech"] for entry in manifest if entry["file"] == name)
    samples = load_pcm48(AUDIO / name)
    return np.concatenate([samples[int(a * RATE) : int(b * RATE)] for a, b in spans])


async def test_publish_subscribe_and_leave_with_real_media(janus: JanusProcess) -> None:
    admin_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    speaker_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    quiet_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    listener_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    pcs: list[RTCPeerConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        rooms = await VideoRoom.attach(await admin_conn.create_session(), admin_key=ADMIN_KEY)
        room = await rooms.create_room(publishers=4)

        quiet = await publish(quiet_conn, room, "quiet", np.zeros(RATE, np.int16), pcs, loop=True)
        speech = speech_only(SPEECH_FILE)
        speaker = await publish(speaker_conn, room, "speaker", speech, pcs, loop=True)
        participants = {p.id: p for p in await rooms.participants(room)}
        assert set(participants) == {quiet.id, speaker.id}
        assert all(p.publisher for p in participants.values())
        assert participants[speaker.id].display == "speaker"

        # The quiet participant was told, unsolicited, that the speaker started publishing.
        async with asyncio.timeout(5):
            while speaker.id not in quiet.feeds:
                await quiet.room_event()
        assert quiet.feeds[speaker.id].display == "speaker"
        assert len(quiet.feeds[speaker.id].audio_mids) == 1

        # One multistream subscription to both feeds; Janus offers, we answer with "start".
        levels: dict[int, list[float]] = {speaker.id: [], quiet.id: []}
        subscriber, listener_pc = await subscribe(
            listener_conn,
            room,
            [speaker.id, quiet.id],
            pcs,
            readers,
            lambda feed, _, level: levels[feed].append(level),
        )
        assert [(s["feed_id"], s["type"]) for s in subscriber.streams] == [
            (speaker.id, "audio"),
            (quiet.id, "audio"),
        ]
        await asyncio.sleep(LISTEN_S)

        frames_per_s = 50
        heard, silent = levels[speaker.id], levels[quiet.id]
        assert len(heard) >= (LISTEN_S - 1) * frames_per_s, len(heard)
        assert len(silent) >= (LISTEN_S - 1) * frames_per_s, len(silent)
        loud = sum(level > LOUD_RMS for level in heard)
        assert loud >= 2.5 * frames_per_s, f"{loud} loud frames of {len(heard)}"
        assert np.median([v for v in heard if v > LOUD_RMS]) > 1000
        assert max(silent) < LOUD_RMS  # the quiet feed's stream really is that feed

        # The speaker unpublishes: the subscription gets a new offer (its stream inactive),
        # the other participant an "unpublished" event. (A publisher that "leave"s without
        # unpublishing first gets its subscribers no offer in Janus 1.1.2: the room is
        # cleared before the PeerConnection hangs up, so the auto-update is skipped.)
        await speaker.unpublish()
        offer = await subscriber.wait_offer()
        active = {s["feed_id"]: s.get("active", True) for s in subscriber.streams if "feed_id" in s}
        assert active == {quiet.id: True}, subscriber.streams
        await listener_pc.setRemoteDescription(description_of(offer))
        await listener_pc.setLocalDescription(await listener_pc.createAnswer())
        await subscriber.start(local_jsep(listener_pc))
        async with asyncio.timeout(5):
            while speaker.id in quiet.feeds:
                await quiet.room_event()
        unpublished = {p.id: p.publisher for p in await rooms.participants(room)}
        assert unpublished == {quiet.id: True, speaker.id: False}  # still in the room
        still = len(levels[quiet.id])
        await asyncio.sleep(0.5)
        assert len(levels[quiet.id]) > still  # the other stream survived the renegotiation

        await speaker.leave()
        assert [p.id for p in await rooms.participants(room)] == [quiet.id]
        await quiet.leave()
        assert await rooms.participants(room) == []
        await subscriber.leave()
        await rooms.close()
    finally:
        for pc in pcs:
            await pc.close()
        for connection in (admin_conn, speaker_conn, quiet_conn, listener_conn):
            await connection.close()
    for task in readers:
        await asyncio.wait_for(task, 5)
    assert await no_sessions_left(janus, ADMIN_SECRET) == []
