"""`lingolive serve --workers 2`: sessions spread over two processes; SIGTERM stops both."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import websockets
from aiortc import RTCPeerConnection

from conftest import ROOT, free_port
from test_operations import wait_ready


async def open_session(url: str) -> tuple[RTCPeerConnection, object, dict[str, object]]:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
    await ws.recv()  # answer
    ready = json.loads(await ws.recv())
    return pc, ws, ready


async def test_two_workers(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "workers.log"
    env = {
        **__import__("os").environ,
        "LL_HOST": "127.0.0.1",
        "LL_PORT": str(port),
        "LL_CONNECT_TIMEOUT_S": "60",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
            [sys.executable, "-m", "lingolive", "serve", "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    sessions = []
    try:
        await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}", proc)
        await asyncio.sleep(3)  # the second worker may still be loading its models
        workers: set[object] = set()
        for _ in range(24):
            pc, ws, ready = await open_session(f"ws://127.0.0.1:{port}/ws")
            sessions.append((pc, ws))
            workers.add(ready["worker"])
            if len(workers) == 2 and len(sessions) >= 4:
                break
        assert len(workers) == 2, workers
        proc.send_signal(signal.SIGTERM)
        for _pc, ws in sessions:  # every session hears why it ends
            messages = [json.loads(m) async for m in ws]  # type: ignore[attr-defined]
            assert messages[-1]["code"] == "server_shutdown", messages
        assert await asyncio.to_thread(proc.wait, 30) is not None
    finally:
        for pc, ws in sessions:
            await ws.close()  # type: ignore[attr-defined]
            await pc.close()
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in log.read_text()
