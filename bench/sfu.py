"""SFU mode: one English speaker in a Janus room, N listeners fanned out by Janus.

A real Janus (``JanusProcess``) and a LingoLive server with ``LL_SFU=janus``. One room
(``POST /rooms``); N aiortc listeners, each with its own Janus session and, as the page does,
its own ``/ws`` socket that sent ``sfu_listen`` in its language: half hear Spanish (they
subscribe to the node's ``"LingoLive · es"`` feed), half English (they subscribe to the
speaker's own feed). The speaker (display ``"Bench [en]"``) publishes the shared English
sentences (Piper voice, as bench/rooms.py builds them: 1 s of silence, then each sentence
followed by 5 s) once every listener is up; until then it sends silence.

Reported per N: the LingoLive node's CPU (percent of one core) and peak RSS, Janus's CPU
(all its threads), the bench process's own CPU (it decodes every listener's audio: near 100%
of a core it is the bottleneck and the latencies are the bench's, not the server's), end of
speech → first translated audio at the Spanish listeners (p50/p95 over all listeners and
phrases; known speech end times of the sent audio, frame arrival times at the listener;
phrases queued behind a translation still playing are left out, as in bench/rooms.py),
phrases missed (no translated audio before the next phrase ended), and start of speech →
first original audio at the English listeners (Janus's relay).

Usage:
    .venv/bin/python bench/sfu.py [--listeners 5 20 50] [--phrases 8]
        [--json bench/results/sfu.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import psutil
import websockets
from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import rooms as rooms_bench
from latency import DATA, ServerProcess, machine
from lingolive.sfu.displays import feed_display, speaker_display
from lingolive.sfu.janus_api import (
    JanusConnection,
    Publisher,
    Subscriber,
    VideoRoom,
)
from lingolive.sfu.sdp import description_of, local_jsep
from support.client import PacedFileTrack
from support.evaluation import answers, loud_runs, pct
from support.janus_process import JanusProcess

ADMIN_KEY = "bench-sfu-admin-key"
RATE = 48_000
LOUD_RMS = 300.0  # as support.evaluation.voiced_runs
#: The bench's own CPU above this (percent of one core): it, not the server, is the limit.
BENCH_SATURATED = 85.0


class Listener:
    """One listener: a ``/ws`` socket that asked for its language, and a Janus subscription
    whose audio frames are timed and kept as loud / not loud."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.heard: list[tuple[float, bool]] = []
        self.pc = RTCPeerConnection()
        self.ws: websockets.ClientConnection | None = None
        self.subscriber: Subscriber | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def listen(self, ws_url: str, room: dict[str, Any], name: str) -> None:
        self.ws = await websockets.connect(ws_url, proxy=None, max_size=None)
        await self.ws.send(
            json.dumps(
                {
                    "type": "sfu_listen",
                    "room": room["room"],
                    "token": room["token"],
                    "language": self.language,
                    "display_name": name,
                }
            )
        )
        reply = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        if reply.get("type") != "sfu_ready":
            raise RuntimeError(f"sfu_listen {self.language}: {reply}")
        self.tasks.append(asyncio.create_task(self._drain()))

    async def _drain(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _ in self.ws:
                pass

    async def subscribe(self, conn: JanusConnection, janus_room: int, feed: int) -> None:
        self.subscriber = await Subscriber.join(
            await conn.create_session(), janus_room, [feed], timeout=30
        )

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tasks.append(asyncio.create_task(self._read(track)))

        await self.pc.setRemoteDescription(description_of(self.subscriber.offer))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.subscriber.start(local_jsep(self.pc), timeout=30)
        await self.subscriber.handle.wait_janus("webrtcup", timeout=30)

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            samples = frame.to_ndarray().astype(np.float64)
            loud = float(np.sqrt(np.mean(samples**2))) > LOUD_RMS
            self.heard.append((time.monotonic(), loud))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def feeds_of(rooms: VideoRoom, janus_room: int) -> dict[str, int]:
    return {p.display or "": p.id for p in await rooms.participants(janus_room)}


async def wait_feed(rooms: VideoRoom, janus_room: int, display: str) -> int:
    for _ in range(300):
        feeds = await feeds_of(rooms, janus_room)
        if display in feeds:
            return feeds[display]
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no feed {display!r} in the Janus room: {sorted(feeds)}")


async def one_n(
    n: int, pcm: np.ndarray, spans: list[tuple[float, float]], janus: JanusProcess
) -> dict[str, Any]:
    server = ServerProcess(
        {
            "LL_SFU": "janus",
            "LL_JANUS_URL": janus.ws_url,
            "LL_JANUS_ADMIN_KEY": ADMIN_KEY,
            "LL_MAX_CONNECTIONS": str(max(64, 2 * n + 16)),
        }
    )
    assert janus.proc is not None
    janus_ps = psutil.Process(janus.proc.pid)
    me = psutil.Process()
    listeners = [Listener("es" if i % 2 == 0 else "en") for i in range(n)]
    conn: JanusConnection | None = None
    speaker_pc = RTCPeerConnection()
    t_setup = time.monotonic()
    try:
        await asyncio.to_thread(server.wait_ready)
        threading.Thread(target=server.sample_rss, daemon=True).start()
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{server.url}/rooms")
        response.raise_for_status()
        room = response.json()
        janus_room = room["sfu"]["room"]
        conn = await JanusConnection.connect(janus.ws_url)
        rooms = await VideoRoom.attach(await conn.create_session(), admin_key=ADMIN_KEY)
        ws_url = server.url.replace("http", "ws") + "/ws"
        for i, listener in enumerate(listeners):
            await listener.listen(ws_url, room, f"L{i}")
        es_feed = await wait_feed(rooms, janus_room, feed_display("es"))

        go = asyncio.Event()  # silence until every listener is subscribed
        track = PacedFileTrack(pcm, gate=go)
        speaker = await Publisher.join(
            await conn.create_session(), janus_room, display=speaker_display("Bench", "en")
        )
        speaker_pc.addTransceiver(track, direction="sendonly")
        await speaker_pc.setLocalDescription(await speaker_pc.createOffer())
        answer = await speaker.publish(local_jsep(speaker_pc))
        await speaker_pc.setRemoteDescription(description_of(answer))
        await speaker.handle.wait_janus("webrtcup", timeout=30)
        for listener in listeners:
            feed = es_feed if listener.language == "es" else speaker.id
            await listener.subscribe(conn, janus_room, feed)
        setup_s = time.monotonic() - t_setup
        await asyncio.sleep(2)  # the node subscribes to the speaker

        cpu0, janus0, me0, wall0 = (
            server.cpu_seconds(),
            sum(janus_ps.cpu_times()[:2]),
            sum(me.cpu_times()[:2]),
            time.monotonic(),
        )
        go.set()
        await asyncio.sleep(len(pcm) / RATE + 8)
        wall = time.monotonic() - wall0
        cpu = server.cpu_seconds() - cpu0
        janus_cpu = sum(janus_ps.cpu_times()[:2]) - janus0
        bench_cpu = sum(me.cpu_times()[:2]) - me0
        with contextlib.suppress(Exception):
            await speaker.unpublish()
            await speaker.leave()
    finally:
        for listener in listeners:
            await listener.close()
        await speaker_pc.close()
        if conn is not None:
            await conn.close()
        await asyncio.to_thread(server.stop)

    assert track.started_at is not None
    t0 = track.started_at
    ends = [t0 + end for _, end in spans]
    starts = [t0 + start for start, _ in spans]
    latencies: list[float] = []
    queued = missed = 0
    relay: list[float] = []
    english_missed = 0
    for listener in listeners:
        runs = loud_runs(listener.heard)
        if listener.language == "es":
            for sent_end, (run, was_queued) in zip(ends, answers(runs, ends), strict=True):
                queued += was_queued
                if run is not None:
                    latencies.append((run[0] - sent_end) * 1000)
                elif not was_queued:
                    missed += 1
        else:
            for i, start in enumerate(starts):
                first = next((r for r in runs if start <= r[0] < ends[i]), None)
                if first is None:
                    english_missed += 1
                else:
                    relay.append((first[0] - start) * 1000)
    return {
        "listeners": n,
        "spanish_listeners": sum(lst.language == "es" for lst in listeners),
        "english_listeners": sum(lst.language == "en" for lst in listeners),
        "phrases": len(spans),
        "measured": len(latencies),
        "queued": queued,
        "missed": missed,
        "e2e_p50_ms": pct(latencies, 50),
        "e2e_p95_ms": pct(latencies, 95),
        "english_relay_p50_ms": pct(relay, 50),
        "english_missed": english_missed,
        "node_cpu_percent": round(100 * cpu / wall, 1),
        "node_peak_rss_mib": round(server.peak_rss / 2**20),
        "janus_cpu_percent": round(100 * janus_cpu / wall, 1),
        "bench_cpu_percent": round(100 * bench_cpu / wall, 1),
        "setup_s": round(setup_s, 1),
        "runtime_s": round(time.monotonic() - t_setup, 1),
    }


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listeners", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--phrases", type=int, default=len(rooms_bench.FILES))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    manifest = {e["file"]: e for e in json.loads((DATA / "manifest.json").read_text())}
    rooms_bench.FILES = rooms_bench.FILES[: args.phrases]
    pcm, spans = rooms_bench.speech(manifest)
    rows: list[dict[str, Any]] = []
    with JanusProcess(admin_key=ADMIN_KEY) as janus:
        for n in args.listeners:
            try:
                row = asyncio.run(one_n(n, pcm, spans, janus))
            except Exception as exc:  # report where it broke, keep the rest
                print(f"N = {n}: broke: {exc!r}", flush=True)
                rows.append({"listeners": n, "error": repr(exc)})
                break
            rows.append(row)
            print(row, flush=True)
            if args.json:  # after every N: a later N that hangs leaves the earlier ones
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
            if row["bench_cpu_percent"] >= BENCH_SATURATED:
                print(
                    f"N = {n}: the bench itself used {row['bench_cpu_percent']}% of a core "
                    "(decoding every listener's audio): it is the bottleneck, larger N not run",
                    flush=True,
                )
                break
    print(f"\nmachine: {machine()}\n")
    print(
        "| listeners (es / en) | e2e p50 | e2e p95 | measured / queued / missed "
        "| node CPU | node peak RSS | Janus CPU | bench CPU | en relay p50 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['listeners']} | broke: {r['error']} |||||||| ")
            continue
        print(
            f"| {r['listeners']} ({r['spanish_listeners']} / {r['english_listeners']}) "
            f"| {fmt_ms(r['e2e_p50_ms'])} | {fmt_ms(r['e2e_p95_ms'])} "
            f"| {r['measured']} / {r['queued']} / {r['missed']} "
            f"| {r['node_cpu_percent']}% | {r['node_peak_rss_mib']} MiB "
            f"| {r['janus_cpu_percent']}% | {r['bench_cpu_percent']}% "
            f"| {fmt_ms(r['english_relay_p50_ms'])} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
