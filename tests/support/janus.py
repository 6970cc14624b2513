"""What the Janus tests share: the marker for a missing Janus, the test audio, publishing a
recording and subscribing to feeds with aiortc (as a browser would through janus.js),
loudness of received frames, and waiting for a condition.

The test audio is the repository's own copy (``tests/data``), so a fresh clone on any
machine finds it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from lingolive.sfu.janus_api import JanusConnection, Publisher, Subscriber
from lingolive.sfu.sdp import description_of, local_jsep
from support.client import PacedFileTrack
from support.janus_admin import JanusAdmin
from support.janus_process import JanusProcess

#: Skipped without Debian's janus (conftest turns the skip into a failure under CI=true).
needs_janus = pytest.mark.skipif(
    shutil.which("janus") is None,
    reason="Debian janus not installed (scripts/setup.sh --dev)",
)

AUDIO = Path(__file__).resolve().parent.parent / "data"  # tests/data
#: 20 ms frames louder than this count as speech (synthesized speech frames: ~2000).
LOUD_RMS = 300.0


class TokenConnection(JanusConnection):
    """The Janus API as a browser's janus.js uses it with token_auth: ``token`` (the one
    ``sfu_ready`` brings) instead of ``apisecret`` in every request."""

    _secret_field = "token"


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


async def until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Polls ``condition()`` every 0.1 s; fails with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def no_sessions_left(janus: JanusProcess, admin_secret: str) -> list[int]:
    """Janus's sessions, polled for up to 2 s until there are none."""
    async with await JanusAdmin.connect(janus.admin_url, admin_secret) as admin:
        for _ in range(20):
            sessions = await admin.list_sessions()
            if not sessions:
                break
            await asyncio.sleep(0.1)
    return sessions


async def publish(
    conn: JanusConnection,
    room: int,
    display: str,
    samples: np.ndarray,
    pcs: list[RTCPeerConnection],
    *,
    loop: bool = False,
) -> Publisher:
    """A participant ``display`` publishing ``samples`` (paced, as a microphone) into the
    room, on a Janus session of its own; returns once Janus has the media (``webrtcup``)."""
    publisher = await Publisher.join(await conn.create_session(), room, display=display)
    pc = RTCPeerConnection()
    pcs.append(pc)
    pc.addTransceiver(PacedFileTrack(samples, loop=loop), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())  # gathers: candidates in the SDP
    await pc.setRemoteDescription(description_of(await publisher.publish(local_jsep(pc))))
    await publisher.handle.wait_janus("webrtcup", timeout=10)
    return publisher


#: Called with (feed id, arrival, RMS) for every frame a subscription decodes.
OnFrame = Callable[[int, float, float], None]


async def subscribe(
    conn: JanusConnection,
    room: int,
    feeds: list[int],
    pcs: list[RTCPeerConnection],
    readers: list[asyncio.Task[None]],
    on_frame: OnFrame,
) -> tuple[Subscriber, RTCPeerConnection]:
    """One multistream subscription to ``feeds`` on a Janus session of its own (Janus
    offers, aiortc answers, ``start``); every decoded frame goes to ``on_frame`` with the
    feed it came from. Returns once the media flows (``webrtcup``), with the peer connection
    (to answer Janus's later offers)."""
    subscription = await Subscriber.join(await conn.create_session(), room, feeds)
    feed_of_mid = {s["mid"]: s["feed_id"] for s in subscription.streams}
    pc = RTCPeerConnection()
    pcs.append(pc)

    async def read(track: MediaStreamTrack, feed: int) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            on_frame(feed, time.monotonic(), rms(frame.to_ndarray()))

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in pc.getTransceivers() if t.receiver.track is track)
        readers.append(asyncio.create_task(read(track, feed_of_mid[mid])))

    await pc.setRemoteDescription(description_of(subscription.offer))
    await pc.setLocalDescription(await pc.createAnswer())
    await subscription.start(local_jsep(pc))
    await subscription.handle.wait_janus("webrtcup", timeout=10)
    return subscription, pc
