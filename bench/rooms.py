"""Rooms: latency of a translated call, and server CPU per room as participants grow.

For N = 2, 3, 4 (or any N up to the room cap, --ns): one room; participant 1 speaks the 8
English sentences (Piper voice) with 5 s between them (time for each translation to play
out), the others listen in Spanish, Catalan and Spanish again (so N = 4 has two listeners
sharing one translation), then Catalan and Spanish in turn. Latency is measured at the
first listener, from the end of each phrase as sent by the speaker to the first translated
audio received (phrases queued behind a translation still playing are left out). Server
CPU (percent of one core) and peak RSS over the run.

Usage:
    .venv/bin/python bench/rooms.py [--ns 2 3 4] [--json bench/results/rooms.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import DATA, ServerProcess, machine
from support.client import LoopbackClient, PacedFileTrack, load_pcm48
from support.evaluation import answers, pct, voiced_runs

FILES = [f"en_piper_0{i}.wav" for i in range(1, 9)]
GAP_S = 5.0
LISTENERS = [("es", "Sol"), ("ca", "Pau"), ("es", "Luz")]


def listeners(n: int) -> list[tuple[str, str]]:
    """The N - 1 listeners of a room of N: Spanish, Catalan, Spanish, then Catalan and
    Spanish in turn (up to LL_ROOM_MAX_PARTICIPANTS, 8 by default)."""
    out = LISTENERS[: n - 1]
    while len(out) < n - 1:
        i = len(out)
        out.append(("ca" if i % 2 else "es", f"L{i + 1}"))
    return out


def speech(manifest: dict[str, Any]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The sentences, GAP_S apart, after 1 s of silence; and where each one's speech is."""
    parts = [np.zeros(48_000, np.int16)]
    spans = []
    at = 1.0
    for name in FILES:
        start, end = manifest[name]["speech"][0]
        phrase = load_pcm48(DATA / name)[int((start - 0.1) * 48_000) : int((end + 0.1) * 48_000)]
        parts += [phrase, np.zeros(int(GAP_S * 48_000), np.int16)]
        spans.append((at + 0.1, at + 0.1 + (end - start)))
        at += len(phrase) / 48_000 + GAP_S
    return np.concatenate(parts), spans


async def one_room(n: int, pcm: np.ndarray, spans: list[tuple[float, float]]) -> dict[str, Any]:
    server = ServerProcess({"LL_MAX_SESSIONS": "16"})
    clients: list[LoopbackClient] = []
    try:
        server.wait_ready()
        threading.Thread(target=server.sample_rss, daemon=True).start()
        async with httpx.AsyncClient() as http:
            room = (await http.post(f"{server.url}/rooms")).json()
        ws_url = server.url.replace("http", "ws") + "/ws"
        extra = {"room": room["room"], "token": room["token"]}
        for lang, name in listeners(n):
            listener = LoopbackClient(ws_url)
            await listener.connect(
                PacedFileTrack(np.zeros(len(pcm) + 48_000 * 10, np.int16)),
                source_lang=lang,
                target_lang=lang,
                extra={**extra, "display_name": name},
            )
            clients.append(listener)
        track = PacedFileTrack(pcm)
        speaker = LoopbackClient(ws_url)
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        await speaker.connect(
            track, source_lang="en", target_lang="en", extra={**extra, "display_name": "Max"}
        )
        clients.append(speaker)
        while track.started_at is None:  # noqa: ASYNC110 - set by aiortc's sender
            await asyncio.sleep(0.01)
        await asyncio.sleep(len(pcm) / 48_000 + 8)
        cpu = server.cpu_seconds() - cpu0
        wall = time.monotonic() - wall0
    finally:
        for client in clients:
            await client.close()
        server.stop()
    t0 = track.started_at
    runs = voiced_runs(clients[0])
    latencies = []
    queued = 0
    ends = [t0 + end for _, end in spans]
    for sent_end, (run, was_queued) in zip(ends, answers(runs, ends), strict=True):
        queued += was_queued
        if run is not None:
            latencies.append((run[0] - sent_end) * 1000)
    return {
        "participants": n,
        "measured": len(latencies),
        "queued": queued,
        "e2e_p50_ms": pct(latencies, 50),
        "e2e_p95_ms": pct(latencies, 95),
        "latencies_ms": [round(x) for x in latencies],
        "cpu_percent": round(100 * cpu / wall, 1),
        "peak_rss_mib": round(server.peak_rss / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ns", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    manifest = {e["file"]: e for e in json.loads((DATA / "manifest.json").read_text())}
    pcm, spans = speech(manifest)
    rows = []
    for n in args.ns:
        row = asyncio.run(one_room(n, pcm, spans))
        rows.append(row)
        print(row, flush=True)
    print(f"\nmachine: {machine()}\n")
    print(
        "| participants | listener languages | phrases measured / queued | e2e p50 | e2e p95 "
        "| server CPU | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        langs = ", ".join(lang for lang, _ in listeners(r["participants"]))
        p50 = "-" if r["e2e_p50_ms"] is None else f"{r['e2e_p50_ms']:.0f} ms"
        p95 = "-" if r["e2e_p95_ms"] is None else f"{r['e2e_p95_ms']:.0f} ms"
        print(
            f"| {r['participants']} | {langs} | {r['measured']} / {r['queued']} | {p50} | "
            f"{p95} | {r['cpu_percent']}% | {r['peak_rss_mib']} MiB |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
