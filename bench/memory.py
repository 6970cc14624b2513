"""Memory of a fresh server's process tree, and what a cold translation pair's first phrase costs.

1. Fresh server: ``lingolive serve`` with the defaults (the default pair and its reverse
   warm, every other Apertium pair on first use), and again with ``LL_MT_WARM_PAIRS=*``
   (every installed pair warm: what every server did before pipelines started on first
   use). After ``/ready`` and 3 s of quiet, the whole process tree's USS and PSS are read
   with psutil through ``lingolive.metrics.process_tree``, the function behind the
   ``/metrics`` gauges, with the main process and its children apart.
2. First use: in this process, one ``ApertiumTranslator`` per round; each pair's first
   phrase (its pipeline starts: the "cold" phrase) is timed, then the same phrase three
   more times on the warm pipeline. Medians over ``--rounds`` rounds, per pair and overall.
   A pair whose idle pipeline stopped (``LL_MT_IDLE_S``) pays the same on its next phrase.
3. Each pipeline's own memory (the tree under its process-group leader) with every pair
   running at once, from the last round.

Usage (the committed results, on an otherwise idle machine):
    .venv/bin/python bench/memory.py --json bench/results/memory.json
    .venv/bin/python bench/memory.py --rounds 3          # quicker, printed only
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import ServerProcess, machine
from lingolive.engines.apertium_mt import ApertiumTranslator
from lingolive.metrics import process_tree

MIB = 2**20
COMMAND = ".venv/bin/python bench/memory.py --json bench/results/memory.json"
#: One phrase per source language (a typical sentence a speaker says).
PHRASES = {
    "en": "Good morning, where is the train station?",
    "es": "Buenos días, ¿dónde está la estación de tren?",
    "ca": "Bon dia, on és l'estació de tren?",
    "fr": "Bonjour, où est la gare ?",
    "it": "Buongiorno, dov'è la stazione dei treni?",
    "pt": "Bom dia, onde fica a estação de comboios?",
}


def fresh_server(env: dict[str, str]) -> dict[str, Any]:
    """The process tree of a server that has just become ready (no session yet)."""
    server = ServerProcess(env)
    try:
        t = time.monotonic()
        server.wait_ready()
        ready_s = time.monotonic() - t
        time.sleep(3)
        tree = process_tree(server.proc.pid)
        main = server.ps.memory_full_info()
        status = httpx.get(f"{server.url}/api/status").json()["process"]
        return {
            "env": env,
            "ready_s": round(ready_s, 1),
            "tree_uss_mib": round(tree.uss_bytes / MIB),
            "tree_pss_mib": round(tree.pss_bytes / MIB),
            "main_uss_mib": round(main.uss / MIB),
            "main_pss_mib": round(main.pss / MIB),
            "main_rss_mib": round(main.rss / MIB),
            "children_uss_mib": round((tree.uss_bytes - main.uss) / MIB),
            "children_pss_mib": round((tree.pss_bytes - main.pss) / MIB),
            "child_processes": tree.children,
            "mt_pipelines": status["mt_pipelines"],
        }
    finally:
        server.stop()


def first_use(rounds: int) -> dict[str, Any]:
    """Cold (pipeline start + phrase) and warm phrase times per pair, in milliseconds."""
    cold: dict[str, list[float]] = {}
    warm: dict[str, list[float]] = {}
    memory: dict[str, dict[str, float]] = {}
    for r in range(rounds):
        engine = ApertiumTranslator()
        try:
            for source, target in sorted(engine.pairs()):
                name = f"{source}-{target}"
                text = PHRASES[source]
                t = time.perf_counter()
                engine.translate(text, source, target)
                cold.setdefault(name, []).append((time.perf_counter() - t) * 1000)
                for _ in range(3):
                    t = time.perf_counter()
                    engine.translate(text, source, target)
                    warm.setdefault(name, []).append((time.perf_counter() - t) * 1000)
            if r == rounds - 1:
                for (source, target), pid in engine.running_pipelines().items():
                    tree = process_tree(pid)
                    memory[f"{source}-{target}"] = {
                        "processes": tree.children + 1,
                        "uss_mib": round(tree.uss_bytes / MIB, 1),
                        "pss_mib": round(tree.pss_bytes / MIB, 1),
                    }
        finally:
            engine.close()
    per_pair = {
        name: {
            "cold_p50_ms": round(statistics.median(cold[name]), 1),
            "warm_p50_ms": round(statistics.median(warm[name]), 1),
        }
        for name in sorted(cold)
    }
    return {
        "rounds": rounds,
        "cold_p50_ms": round(statistics.median(v for vs in cold.values() for v in vs), 1),
        "cold_max_ms": round(max(v for vs in cold.values() for v in vs), 1),
        "warm_p50_ms": round(statistics.median(v for vs in warm.values() for v in vs), 1),
        "per_pair": per_pair,
        "per_pipeline_memory": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    servers = {
        "defaults": fresh_server({}),
        "all_pairs_warm": fresh_server({"LL_MT_WARM_PAIRS": "*"}),
    }
    for name, row in servers.items():
        print(name, row, flush=True)
    cost = first_use(args.rounds)
    result = {
        "command": COMMAND,
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "fresh_server": servers,
        "first_use": cost,
    }
    print(json.dumps(cost, indent=1))
    print(f"\nmachine: {result['machine']}\n")
    print("| fresh server | tree USS | tree PSS | main USS | children USS | child processes |")
    print("|---|---|---|---|---|---|")
    for name, row in servers.items():
        print(
            f"| {name} | {row['tree_uss_mib']} MiB | {row['tree_pss_mib']} MiB | "
            f"{row['main_uss_mib']} MiB | {row['children_uss_mib']} MiB | "
            f"{row['child_processes']} |"
        )
    print(
        f"\nfirst phrase in a cold pair: p50 {cost['cold_p50_ms']} ms (max "
        f"{cost['cold_max_ms']} ms); warm: p50 {cost['warm_p50_ms']} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
