"""A normal session's latency, alone and while hostile clients attack the same server.

One server; the 8 English sentences are spoken by a normal client twice: once alone, once
while attackers (from another address, 127.0.0.2) run the whole time: an aiortc peer
flooding audio at 10× real time, sockets that open and never offer (refused beyond the
per-address limit, closed at the offer deadline), offers with a video section, JSON integer
bombs, candidate floods and oversized ``POST /rooms`` bodies. Printed: the normal client's
end-to-end latency p50/p95 in both runs, what the attackers were answered, and the server's
CPU.

Usage:
    .venv/bin/python bench/hostile.py --json bench/results/hostile.json
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

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import ServerProcess, latency_stats, load_jobs, machine, run_file
from lingolive.protocol import NoticeMsg
from support.client import LoopbackClient
from test_hostile_clients import FloodTrack, video_offer

#: The attackers' address: another loopback address than the normal client's, as an attacker
#: on the internet has (limits per client address keep it from the others' slots; clients
#: behind one NAT share them).
ATTACKER = "127.0.0.2"


async def attackers(url: str, ws_url: str, stop: asyncio.Event, tally: dict[str, int]) -> None:
    """Every attack in a loop until ``stop``; ``tally`` counts the answers by kind."""
    flood = LoopbackClient(ws_url)
    await flood.connect(FloodTrack(), source_lang="en", target_lang="es")
    video = json.dumps({"type": "offer", "sdp": await video_offer()})
    bomb = '{"type": "bye", "x": ' + "9" * 5000 + "}"
    big = json.dumps({"glossary": ["x"]}) + " " * (2 * 2**20)

    async def answer(message: str) -> None:
        try:
            async with websockets.connect(ws_url, max_size=2**24, local_addr=(ATTACKER, 0)) as ws:
                await ws.send(message)
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                key = reply.get("code", reply["type"])
                tally[key] = tally.get(key, 0) + 1
        except (OSError, websockets.ConnectionClosed, TimeoutError):
            tally["closed"] = tally.get("closed", 0) + 1

    async def candidates() -> None:
        try:
            async with websockets.connect(ws_url, local_addr=(ATTACKER, 0)) as ws:
                await ws.send(video)  # refused: no session, so every candidate is no_session
                await ws.recv()
                for i in range(200):
                    line = f"candidate:{i} 1 udp 1 192.0.2.1 {i} typ host"
                    await ws.send(json.dumps({"type": "candidate", "candidate": line}))
                tally["candidates_sent"] = tally.get("candidates_sent", 0) + 200
        except (OSError, websockets.ConnectionClosed):
            tally["closed"] = tally.get("closed", 0) + 1  # refused at the door

    idle: list[Any] = []
    try:
        transport = httpx.AsyncHTTPTransport(local_address=ATTACKER)
        async with httpx.AsyncClient(timeout=30, transport=transport) as http:
            while not stop.is_set():
                for _ in range(6):  # sockets that never offer
                    with contextlib.suppress(Exception):
                        idle.append(await websockets.connect(ws_url, local_addr=(ATTACKER, 0)))
                await asyncio.gather(answer(video), answer(bomb), candidates())
                status = (await http.post(f"{url}/rooms", content=big)).status_code
                tally[f"rooms_{status}"] = tally.get(f"rooms_{status}", 0) + 1
                await asyncio.sleep(0.5)
                while len(idle) > 12:
                    await idle.pop(0).close()
    finally:
        for ws in idle:
            await ws.close()
        notices = flood.of_type(NoticeMsg)
        tally["flood_notices"] = len(notices)
        await flood.close()


async def speak(ws_url: str, jobs: list[Any]) -> list[Any]:
    samples = []
    for entry, source, target in jobs:
        samples += await run_file(ws_url, entry, source, target, tail_s=1.0)
    return samples


async def main_async() -> dict[str, Any]:
    jobs = load_jobs(["en_piper"])
    server = ServerProcess({})
    try:
        server.wait_ready()
        sampler = threading.Thread(target=server.sample_rss, daemon=True)
        sampler.start()
        ws_url = server.url.replace("http", "ws") + "/ws"
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        alone = await speak(ws_url, jobs)
        cpu_alone = 100 * (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        stop, tally = asyncio.Event(), {}
        attack = asyncio.create_task(attackers(server.url, ws_url, stop, tally))
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        attacked = await speak(ws_url, jobs)
        cpu_attacked = 100 * (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        stop.set()
        await attack
    finally:
        server.stop()
    return {
        "machine": machine(),
        "alone": {**latency_stats(alone), "server_cpu_percent": round(cpu_alone, 1)},
        "attacked": {**latency_stats(attacked), "server_cpu_percent": round(cpu_attacked, 1)},
        "attackers_answered": tally,
        "texts_attacked": [s.translation for s in attacked],
        "peak_rss_mib": round(server.peak_rss / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(main_async())
    for run in ("alone", "attacked"):
        r = result[run]
        print(
            f"{run:9} e2e p50 {r['e2e_p50_ms']:.0f} ms, p95 {r['e2e_p95_ms']:.0f} ms, "
            f"{r['utterances'] - r['missed']}/{r['utterances']} answered, "
            f"server CPU {r['server_cpu_percent']} %"
        )
    print("attackers were answered:", result["attackers_answered"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
