"""Load: K concurrent aiortc clients, each speaking real audio; latency, underruns and CPU.

For each K, K clients connect to one fresh server at once and each speaks the 8-phrase
English dialogue (28 s, Piper voice). Reported per K: end-to-end latency p50/p95 at the
clients (phrases queued behind a still-playing translation left out, as in latency.py),
outgoing-track underruns (from /metrics), server CPU (percent of one core) and peak RSS.
The first K whose p95 passes 800 ms is printed.

Usage:
    .venv/bin/python bench/load.py                 # K = 1, 2, 3, 4
    .venv/bin/python bench/load.py --ks 1 2 4 6 --json bench/results/load.json
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
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import DATA, ServerProcess, machine
from lingolive.evaluation import pct, speak_file

FILE = "en_piper_dialogue.wav"


def underruns(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("lingolive_track_underruns_total")
    )


async def one_k(k: int, entry: dict[str, Any]) -> dict[str, Any]:
    server = ServerProcess({"LL_MAX_SESSIONS": str(max(8, k))})
    try:
        server.wait_ready()
        sampler = threading.Thread(target=server.sample_rss, daemon=True)
        sampler.start()
        ws_url = server.url.replace("http", "ws") + "/ws"
        spans = [(float(a), float(b)) for a, b in entry["speech"]]
        before = underruns(server.url)
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        runs = await asyncio.gather(
            *(speak_file(ws_url, DATA / FILE, spans, "en", "es") for _ in range(k))
        )
        cpu = server.cpu_seconds() - cpu0
        wall = time.monotonic() - wall0
        after = underruns(server.url)
    finally:
        server.stop()
    samples = [s for run in runs for s in run.samples]
    lat = [s.latency_ms for s in samples if s.latency_ms is not None]
    return {
        "k": k,
        "phrases": len(samples),
        "measured": len(lat),
        "queued": sum(s.queued for s in samples),
        "e2e_p50_ms": pct(lat, 50),
        "e2e_p95_ms": pct(lat, 95),
        "underruns": after - before,
        "cpu_percent": round(100 * cpu / wall, 1),
        "peak_rss_mib": round(server.peak_rss / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    manifest = {e["file"]: e for e in json.loads((DATA / "manifest.json").read_text())}
    rows = []
    for k in args.ks:
        row = asyncio.run(one_k(k, manifest[FILE]))
        rows.append(row)
        print(row, flush=True)
    print(f"\nmachine: {machine()}\n")
    print(
        "| K | phrases (measured / queued) | e2e p50 | e2e p95 | underruns | server CPU | "
        "peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        p50 = "-" if r["e2e_p50_ms"] is None else f"{r['e2e_p50_ms']:.0f} ms"
        p95 = "-" if r["e2e_p95_ms"] is None else f"{r['e2e_p95_ms']:.0f} ms"
        print(
            f"| {r['k']} | {r['phrases']} ({r['measured']} / {r['queued']}) | {p50} | {p95} "
            f"| {r['underruns']:.0f} | {r['cpu_percent']}% | {r['peak_rss_mib']} MiB |"
        )
    over = [r["k"] for r in rows if r["e2e_p95_ms"] is not None and r["e2e_p95_ms"] > 800]
    print(f"\nfirst K with p95 over 800 ms: {over[0] if over else 'none of ' + str(args.ks)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
