"""`lingolive serve --workers 2`: sessions spread over two processes; SIGTERM stops both."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import websockets
from aiortc import RTCPeerConnection
from prometheus_client.parser import text_string_to_metric_families

from conftest import DATA, ROOT, free_port
from test_operations import wait_ready


def serve_two_workers(log: Path, **settings: str) -> subprocess.Popen[bytes]:
    """``lingolive serve --workers 2`` in its own process group, output to ``log``."""
    env = {**os.environ, "LL_HOST": "127.0.0.1", **settings}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lingolive", "serve", "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,  # its workers too can be killed as a group
        )


async def workers_gone(pids: set[int], timeout: float = 10.0) -> None:
    """Every worker process has exited (a zombie waiting for its reaper counts as gone)."""
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = {p for p in pids if psutil.pid_exists(p) and not zombie(p)}
        if not alive:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"worker processes still running: {alive}")


def zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


async def open_session(url: str) -> tuple[RTCPeerConnection, object, dict[str, object]]:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
    answer = json.loads(await ws.recv())
    assert answer["type"] == "answer", answer
    ready = json.loads(await ws.recv())
    assert ready["type"] == "ready", ready
    return pc, ws, ready


async def test_two_workers(tmp_path: Path) -> None:
    """Four sessions, two per worker at most (``LL_MAX_SESSIONS=2``): all are served, two
    by each worker. The kernel hands a connection to whichever worker accepts first, so
    idle sessions pile up on one; a full worker hands the session to the other."""
    port, base = free_port(), free_port()
    log = tmp_path / "workers.log"
    proc = serve_two_workers(
        log,
        LL_PORT=str(port),
        LL_WORKER_PORT_BASE=str(base),
        LL_CONNECT_TIMEOUT_S="60",
        LL_MAX_SESSIONS="2",
    )
    sessions = []
    try:
        for i in range(2):
            await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{base + i}", proc)
        served: list[object] = []
        for _ in range(4):
            pc, ws, ready = await open_session(f"ws://127.0.0.1:{port}/ws")
            sessions.append((pc, ws))
            served.append(ready["worker"])
        workers = set(served)
        assert len(workers) == 2 and all(served.count(w) == 2 for w in workers), served
        # One scrape of the shared port covers both workers, each sample labelled.
        scrape = await asyncio.to_thread(
            lambda: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        )
        active = {
            s.labels["worker"]: s.value
            for f in text_string_to_metric_families(scrape)
            if f.name == "lingolive_active_sessions"
            for s in f.samples
        }
        assert active == {"0": 2.0, "1": 2.0}, active
        proc.send_signal(signal.SIGTERM)
        for _pc, ws in sessions:  # every session hears why it ends
            messages = [json.loads(m) async for m in ws]  # type: ignore[attr-defined]
            assert messages[-1]["code"] == "server_shutdown", messages
        assert await asyncio.to_thread(proc.wait, 30) == 0
        await workers_gone({int(str(w)) for w in workers})
    finally:
        for pc, ws in sessions:
            await ws.close()  # type: ignore[attr-defined]
            await pc.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in log.read_text()


#: A proxy that cannot be reached: loopback links between workers must not go through it.
DEAD_PROXY = {
    name: "http://127.0.0.1:9"
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY")
} | {"no_proxy": "", "NO_PROXY": ""}


async def restarted(url: str, dead: int, proc: subprocess.Popen[bytes]) -> int:
    """The pid of the worker serving ``url`` once it is a live one other than ``dead``."""
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the server exited"
            try:
                status = (await http.get(f"{url}/api/status", timeout=1)).json()
                if status.get("ready") and status["process"]["pid"] != dead:
                    return int(status["process"]["pid"])
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"no worker came back at {url}")


async def test_room_lives_in_one_worker(tmp_path: Path) -> None:
    """Participants entering through either worker all land in the room's owner, relayed
    over loopback even with a proxy in the environment (a desktop's, unreachable here).
    Then the owner dies (``kill -9``): its slot comes back, and the room works there again."""
    from lingolive.protocol import TranslationMsg
    from lingolive.rooms.placement import owner
    from support.client import LoopbackClient, PacedFileTrack, load_pcm48

    port = free_port()
    base = free_port()
    log = tmp_path / "workers.log"
    proc = serve_two_workers(log, LL_PORT=str(port), LL_WORKER_PORT_BASE=str(base), **DEAD_PROXY)
    clients: list[LoopbackClient] = []
    pids: list[int] = []

    async def meet(room: dict[str, str], home: int) -> tuple[set[int], str]:
        """An English speaker enters through the other worker (relayed), a Spanish listener
        through the shared port: the workers they landed in, and what the listener heard."""
        entries = [
            f"ws://127.0.0.1:{base + 1 - home}/ws",  # the other worker: relayed
            f"ws://127.0.0.1:{port}/ws",
        ]  # whichever the kernel picks
        speakers = [
            ("en", "en", load_pcm48(DATA / "en_piper_01.wav")),
            ("es", "es", np.zeros(48_000 * 30, np.int16)),
        ]
        met = []
        for url, (source, target, pcm) in zip(entries, speakers, strict=True):
            client = LoopbackClient(url)
            await client.connect(
                PacedFileTrack(pcm),
                source_lang=source,
                target_lang=target,
                extra={"room": room["room"], "token": room["token"]},
            )
            clients.append(client)
            met.append(client)
        ready = [await c.wait_for(lambda e: e.type == "ready", 10) for c in met]
        listener = met[1]
        await listener.wait_settled(40)
        translations = listener.of_type(TranslationMsg)
        assert {t.lang for t in translations} == {"es"}, translations
        return {int(r.worker) for r in ready}, listener.said()[1]

    try:
        for i in range(2):
            await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{base + i}", proc)
        async with httpx.AsyncClient() as http:
            pids = [
                (await http.get(f"http://127.0.0.1:{base + i}/api/status")).json()["process"]["pid"]
                for i in range(2)
            ]
            room = (await http.post(f"http://127.0.0.1:{port}/rooms")).json()
        home = owner(room["room"], 2)
        workers, translated = await meet(room, home)
        assert workers == {pids[home]}, (workers, pids, home)
        assert "mesa" in translated and "personas" in translated, translated
        assert "relayed" in log.read_text()

        os.kill(pids[home], signal.SIGKILL)
        for client in clients:  # their sessions died with the worker
            await client.close()
        clients.clear()
        back = await restarted(f"http://127.0.0.1:{base + home}", pids[home], proc)
        pids.append(back)
        workers, translated = await meet(room, home)  # the same invite, the same room
        assert workers == {back}, (workers, back)
        assert "mesa" in translated and "personas" in translated, translated
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{base + home}/metrics")).text
        assert f'lingolive_worker_restarts{{worker="{home}"}} 1.0' in metrics
        assert f'lingolive_worker_restarts{{worker="{1 - home}"}} 0.0' in metrics
        assert f"worker {home} (pid {pids[home]}) died" in log.read_text()
    finally:
        for client in clients:
            await client.close()
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    await workers_gone(set(pids))
    assert "Traceback" not in log.read_text()
