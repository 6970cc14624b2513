"""LingoLive as the translating participant of a real Janus VideoRoom room.

One Janus for the module (``support.janus_process``, secrets on as in
tests/test_janus_api.py) and the real engines. The node joins a room for listeners of
Spanish and English; an aiortc "speaker" whose display says English publishes a recorded
sentence, an aiortc listener subscribes to the node's two feeds through Janus. The Spanish
feed must carry loud translated speech and the pipeline's events a Spanish translation of
the whole sentence; the English feed stays silent (English listeners hear the speaker from
Janus). When the speaker leaves, the node unsubscribes and stops their pipeline; after
``close()`` nothing of the node is left in the room or in Janus. A second test stops Janus
under a running node: it must notice and stop by itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from aiortc import RTCPeerConnection

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.pipeline.events import EventSink, PipelineEvent, Translated
from lingolive.pipeline.workers import Workers
from lingolive.rooms.janus_translator import JanusTranslator, RemoteSpeaker, feed_routes
from lingolive.rooms.routing import Capabilities
from lingolive.sfu.displays import MARK, feed_display, speaker_display
from lingolive.sfu.janus_api import (
    JanusConnection,
    VideoRoom,
)
from support.client import load_pcm48
from support.janus import (
    AUDIO,
    LOUD_RMS,
    needs_janus,
    no_sessions_left,
    publish,
    subscribe,
    until,
)
from support.janus_process import JanusProcess

pytestmark = needs_janus

PHRASE = "en_piper_01.wav"  # "Good morning, I would like to book a table for two people tonight."
API_SECRET = "test-api-secret"
ADMIN_SECRET = "test-admin-secret"
ADMIN_KEY = "test-room-admin-key"


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusProcess]:
    with JanusProcess(
        api_secret=API_SECRET, admin_secret=ADMIN_SECRET, admin_key=ADMIN_KEY
    ) as process:
        yield process
    assert process.returncode == 0


@pytest.fixture
async def workers() -> AsyncIterator[Workers]:
    pools = Workers.create()
    yield pools
    pools.shutdown()


async def test_speaker_translated_into_the_other_language_feed_only(
    janus: JanusProcess, engines: Engines, settings: Settings, workers: Workers
) -> None:
    admin_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    speaker_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    listener_conn = await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET)
    pcs: list[RTCPeerConnection] = []
    readers: list[asyncio.Task[None]] = []
    seen: list[tuple[RemoteSpeaker, PipelineEvent]] = []

    def events(speaker: RemoteSpeaker) -> EventSink:
        return lambda event: seen.append((speaker, event))

    translator: JanusTranslator | None = None
    try:
        rooms = await VideoRoom.attach(await admin_conn.create_session(), admin_key=ADMIN_KEY)
        room = await rooms.create_room(publishers=6)
        translator = await JanusTranslator.join(
            janus.ws_url,
            room,
            ["es", "en"],
            engines=engines,
            workers=workers,
            settings=settings,
            events=events,
            api_secret=API_SECRET,
        )
        displays = sorted(p.display or "" for p in await rooms.participants(room))
        assert displays == sorted([MARK, feed_display("es"), feed_display("en")])
        node_feeds = {lang: feed.publisher.id for lang, feed in translator.feeds.items()}

        # A listener subscribes to both of the node's feeds, as a browser would.
        language_of = {node_feeds["es"]: "es", node_feeds["en"]: "en"}
        heard: dict[str, list[tuple[float, float]]] = {"es": [], "en": []}
        listening, _ = await subscribe(
            listener_conn,
            room,
            [node_feeds["es"], node_feeds["en"]],
            pcs,
            readers,
            lambda feed, at, level: heard[language_of[feed]].append((at, level)),
        )

        # The speaker, English by their display, says one sentence (then silence).
        pcm = load_pcm48(AUDIO / PHRASE)
        speaker = await publish(speaker_conn, room, speaker_display("Alice", "en"), pcm, pcs)
        spoke_at = time.monotonic()

        await until(lambda: speaker.id in translator.subscribed_feeds, 5, "the subscription")
        pipeline = translator.speakers[speaker.id]
        assert pipeline.speaker == RemoteSpeaker(speaker.id, "Alice [en]", "Alice", "en")
        assert pipeline.routes == {"es"}  # (b): never into its own language
        # Its routes are the routing module's, as a direct room's would be (tests/test_routing.py).
        plan = feed_routes([pipeline.speaker], translator.languages, Capabilities.of(engines))
        assert translator.routes == plan
        route = plan[str(speaker.id)]
        assert set(route.translations) == {"es"} and route.forwarded == {feed_display("en")}

        def spanish() -> str:
            return " ".join(
                e.text
                for s, e in seen
                if isinstance(e, Translated) and e.lang == "es" and s.feed == speaker.id
            ).lower()

        await until(
            lambda: all(w in spanish() for w in ("mesa", "personas", "noche")), 30, "Spanish"
        )
        translated_at = time.monotonic()

        def loud_spanish() -> int:
            return sum(level > LOUD_RMS for t, level in heard["es"] if t > spoke_at)

        await until(lambda: loud_spanish() >= 100, 15, "2 s of loud Spanish speech")
        loud = [level for t, level in heard["es"] if level > LOUD_RMS]
        assert np.median(loud) > 1000, np.median(loud)
        assert any(t > translated_at for t, _ in heard["es"])

        # (b) nothing of the English speaker went into the English feed.
        assert len(heard["en"]) > 100
        assert max(level for _, level in heard["en"]) < LOUD_RMS
        assert not any(isinstance(e, Translated) and e.lang == "en" for _, e in seen)

        # Listener languages at run time: a feed is unpublished and published again.
        await translator.remove_language("en")
        displays = sorted(p.display or "" for p in await rooms.participants(room))
        assert displays == sorted([MARK, feed_display("es"), "Alice [en]"])
        await translator.add_language("en")
        assert translator.languages == {"es", "en"} and pipeline.routes == {"es"}
        assert len(await rooms.participants(room)) == 4

        # (c) the speaker leaves: the node unsubscribes and stops their pipeline.
        await speaker.unpublish()
        await speaker.leave()
        await until(
            lambda: (
                speaker.id not in translator.speakers
                and speaker.id not in translator.subscribed_feeds
            ),
            5,
            "the speaker's pipeline to stop",
        )
        await translator.close()
        assert translator.ended.result() == "closed"
        assert await rooms.participants(room) == []
        await listening.leave()
        await rooms.close()
    finally:
        if translator is not None:
            await translator.close()
        for pc in pcs:
            await pc.close()
        for connection in (admin_conn, speaker_conn, listener_conn):
            await connection.close()
    for task in readers:
        await asyncio.wait_for(task, 5)
    assert await no_sessions_left(janus, ADMIN_SECRET) == []


async def test_the_node_stops_by_itself_when_janus_goes_away(
    engines: Engines, settings: Settings, workers: Workers
) -> None:
    with JanusProcess(admin_key=ADMIN_KEY) as short:
        async with await JanusConnection.connect(short.ws_url) as admin_conn:
            rooms = await VideoRoom.attach(await admin_conn.create_session(), admin_key=ADMIN_KEY)
            room = await rooms.create_room()
            translator = await JanusTranslator.join(
                short.ws_url,
                room,
                ["es"],
                engines=engines,
                workers=workers,
                settings=settings,
                events=lambda speaker: lambda event: None,
            )
            try:
                await asyncio.to_thread(short.stop)
                reason = await asyncio.wait_for(asyncio.shield(translator.ended), 10)
                assert reason.startswith("lost Janus"), reason
                await asyncio.wait_for(translator.close(), 10)  # released, not hanging
                assert translator.feeds == {} and translator.speakers == {}
            finally:
                await translator.close()
