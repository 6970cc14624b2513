"""Load: K concurrent aiortc clients, each speaking real audio; latency, underruns and CPU.

For each K, K clients connect to one fresh server, each speaking the 8 English sentences
(Piper voice) 5 s apart (as in rooms.py), client i starting 0.7·i s after the first, so
phrases end close together but not in lockstep. Reported per K: end-to-end latency p50/p95
at the clients (``--stagger 0.1``: phrases end within a few hundred ms of each other, the
case batched recognition is for), outgoing-track underruns (from /metrics), server CPU
(percent of one core) and peak RSS. The first K whose p95 passes 800 ms is printed.

Usage:
    .venv/bin/python bench/load.py                 # K = 1, 2, 3, 4
    .venv/bin/python bench/load.py --ks 1 2 4 6 --json bench/results/load.json
    .venv/bin/python bench/load.py --ks 1 2 4 6 --stagger 0.1
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import DATA, ServerProcess, machine
from lingolive.protocol import TimingMsg
from rooms import speech
from support.client import LoopbackClient, PacedFileTrack
from support.evaluation import answers, pct, voiced_runs

#: Default start offset between clients: phrases end close together, not in lockstep.
STAGGER_S = 0.7


def metric(url: str, name: str) -> float:
    """Sum of one metric's samples on the server's /metrics (0 if it has none)."""
    text = httpx.get(f"{url}/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def underruns(url: str) -> float:
    return metric(url, "lingolive_track_underruns_total")


#: Stage boundaries reported per K (median ms after the end of speech, from ``timing``).
STAGES = ("vad_end", "stt_start", "stt_end", "mt_end", "tts_first_audio", "first_audio_out")


async def client_run(
    ws_url: str, pcm: Any, spans: list[tuple[float, float]], delay: float
) -> tuple[list[float], int, list[dict[str, float]]]:
    """One speaking client: its phrase latencies, how many were queued, and the server's
    stage timings of its phrases."""
    await asyncio.sleep(delay)
    client = LoopbackClient(ws_url)
    track = PacedFileTrack(pcm)
    await client.connect(track, source_lang="en", target_lang="es")
    try:
        while track.started_at is None:  # noqa: ASYNC110 - set by aiortc's sender
            await asyncio.sleep(0.01)
        await asyncio.sleep(len(pcm) / 48_000 + 6)
    finally:
        await client.close()
    t0 = track.started_at
    runs = voiced_runs(client)
    latencies, queued = [], 0
    ends = [t0 + end for _, end in spans]
    for sent_end, (run, was_queued) in zip(ends, answers(runs, ends), strict=True):
        queued += was_queued
        if run is not None:
            latencies.append((run[0] - sent_end) * 1000)
    stages = [e.stages for e in client.of_type(TimingMsg)]
    return latencies, queued, stages


async def one_k(k: int, manifest: dict[str, Any], stagger: float = STAGGER_S) -> dict[str, Any]:
    pcm, spans = speech(manifest)
    server = ServerProcess({"LL_MAX_SESSIONS": str(max(8, k))})
    try:
        server.wait_ready()
        sampler = threading.Thread(target=server.sample_rss, daemon=True)
        sampler.start()
        ws_url = server.url.replace("http", "ws") + "/ws"
        before = underruns(server.url)
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        results = await asyncio.gather(
            *(client_run(ws_url, pcm, spans, i * stagger) for i in range(k))
        )
        cpu = server.cpu_seconds() - cpu0
        wall = time.monotonic() - wall0
        after = underruns(server.url)
        batches = metric(server.url, "lingolive_stt_batches_total")
        passes = metric(server.url, "lingolive_stt_batched_passes_total")
    finally:
        server.stop()
    lat = [x for lats, _, _ in results for x in lats]
    timings = [t for _, _, ts in results for t in ts]
    return {
        "k": k,
        "stagger_s": stagger,
        "phrases": k * len(spans),
        "measured": len(lat),
        "queued": sum(q for _, q, _ in results),
        "e2e_p50_ms": pct(lat, 50),
        "e2e_p95_ms": pct(lat, 95),
        "underruns": after - before,
        # Recognition passes per Whisper call (1.0 without batching or with one speaker).
        "stt_passes": passes,
        "mean_batch": round(passes / batches, 2) if batches else None,
        "cpu_percent": round(100 * cpu / wall, 1),
        "peak_rss_mib": round(server.peak_rss / 2**20),
        # Where the time goes: median ms after the end of speech at each stage boundary.
        "stages_p50_ms": {
            stage: round(pct([t[stage] for t in timings if stage in t], 50) or 0)
            for stage in STAGES
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--stagger",
        type=float,
        default=STAGGER_S,
        help="seconds between client starts (0.1: everybody's phrases end together)",
    )
    args = parser.parse_args()
    manifest = {e["file"]: e for e in json.loads((DATA / "manifest.json").read_text())}
    rows = []
    for k in args.ks:
        row = asyncio.run(one_k(k, manifest, args.stagger))
        rows.append(row)
        print(row, flush=True)
    print(f"\nmachine: {machine()}\n")
    print(
        "| K | phrases (measured / queued) | e2e p50 | e2e p95 | underruns | server CPU | "
        "peak RSS | STT passes (per batch) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        p50 = "-" if r["e2e_p50_ms"] is None else f"{r['e2e_p50_ms']:.0f} ms"
        p95 = "-" if r["e2e_p95_ms"] is None else f"{r['e2e_p95_ms']:.0f} ms"
        print(
            f"| {r['k']} | {r['phrases']} ({r['measured']} / {r['queued']}) | {p50} | {p95} "
            f"| {r['underruns']:.0f} | {r['cpu_percent']}% | {r['peak_rss_mib']} MiB "
            f"| {r.get('stt_passes', 0):.0f} ({r.get('mean_batch') or '-'}) |"
        )
    over = [r["k"] for r in rows if r["e2e_p95_ms"] is not None and r["e2e_p95_ms"] > 800]
    print(f"\nfirst K with p95 over 800 ms: {over[0] if over else 'none of ' + str(args.ks)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
