"""200 connect → speak → disconnect cycles leave nothing behind.

Clean `bye`, abrupt socket close, and offers whose ICE never completes, mixed, four at a
time, against one server. Afterwards there are no sessions, and the server's threads, open
file descriptors and asyncio tasks are back at their baseline, and its memory near it
(within ``RSS_SLACK_MIB``: the allocator keeps some freed memory; a leak of 0.35 MiB
per session would already exceed it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection

from conftest import DATA, Server, start_server, stop_server
from support.client import RATE, LoopbackClient, PacedFileTrack, load_pcm48

CYCLES = 200
PARALLEL = 4
RSS_SLACK_MIB = 64


@pytest.fixture(scope="module")
def leak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("leaks"), LL_CONNECT_TIMEOUT_S="3", LL_MAX_SESSIONS="16"
    )
    yield srv
    stop_server(srv)


async def status(server: Server) -> dict[str, int]:
    async with httpx.AsyncClient() as http:
        data = (await http.get(f"{server.url}/api/status")).json()
    return {"sessions": data["sessions"], **data["process"]}


async def cycle(server: Server, kind: int, speech: object) -> None:
    if kind == 2:  # ICE never completes: the answer is never applied, the socket just drops
        pc = RTCPeerConnection()
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        async with websockets.connect(server.ws_url) as ws:
            await ws.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
            await ws.recv()
        await pc.close()
        return
    client = LoopbackClient(server.ws_url)
    try:
        await client.connect(PacedFileTrack(speech))  # type: ignore[arg-type]
        await asyncio.sleep(0.8)  # speak briefly
    finally:
        await client.close(bye=kind == 0)


async def settle(server: Server, baseline: dict[str, int]) -> dict[str, int]:
    deadline = time.monotonic() + 30
    now = await status(server)
    while time.monotonic() < deadline:
        now = await status(server)
        if (
            now["sessions"] == 0
            and now["tasks"] <= baseline["tasks"]
            and now["threads"] <= baseline["threads"]
            and now["open_fds"] <= baseline["open_fds"]
        ):
            break
        await asyncio.sleep(0.5)
    return now


async def test_no_leaks_after_many_sessions(leak_server: Server, tmp_path: Path) -> None:
    speech = load_pcm48(DATA / "en_piper_02.wav")[int(0.9 * RATE) : int(2.5 * RATE)]
    # Warm up every path, concurrently as below, so the fixed-size thread pools (which start
    # their threads lazily) reach their steady size; then take the baseline.
    for _ in range(2):
        await asyncio.gather(*(cycle(leak_server, kind % 3, speech) for kind in range(PARALLEL)))
    baseline = await settle(leak_server, {"tasks": 10**6, "threads": 10**6, "open_fds": 10**6})
    assert baseline["sessions"] == 0

    semaphore = asyncio.Semaphore(PARALLEL)

    async def one(i: int) -> None:
        async with semaphore:
            await cycle(leak_server, i % 3, speech)

    await asyncio.gather(*(one(i) for i in range(CYCLES)))
    after = await settle(leak_server, baseline)
    print("baseline", baseline, "after", after)
    assert after["sessions"] == 0
    assert after["tasks"] <= baseline["tasks"], (baseline, after)
    assert after["threads"] <= baseline["threads"], (baseline, after)
    assert after["open_fds"] <= baseline["open_fds"], (baseline, after)
    assert after["rss_mib"] <= baseline["rss_mib"] + RSS_SLACK_MIB, (baseline, after)
    assert "Traceback" not in leak_server.log()
