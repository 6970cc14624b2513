"""End-to-end latency of LingoLive, measured at a real WebRTC client, beside a naive cascade.

For every file of the chosen sets, an aiortc client sends the audio as a paced microphone to a
real server process and records the translated track. Latency of an utterance is:

    first non-silent translated audio received at the client
    − the instant the client sent the end of that utterance's speech

(speech ends come from the shared manifest, exact by construction). The server's own stage
timings (``timing`` events), its CPU time and peak RSS are reported beside it.

The naive baseline runs the same engines one after another on each whole utterance once it
has ended: end-of-speech hangover + faster-whisper's standard ``transcribe()`` (30 s window)
+ translation + complete synthesis before any audio is sent. Printed with the ratio.

Usage:
    .venv/bin/python bench/latency.py                 # single sentences + dialogues, both ways
    .venv/bin/python bench/latency.py --sets en_piper --repeat 2
    .venv/bin/python bench/latency.py --json out.json
Environment variables (LL_*) are passed to the server, so configurations can be compared:
    LL_VAD_HANGOVER_MS=300 .venv/bin/python bench/latency.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from lingolive.config import Settings  # noqa: E402
from support.evaluation import Sample, pct, speak_file  # noqa: E402

VARIANTS = DATA / "variants"  # made by bench/make_variants.py


def _variants(lang: str, voice: str, pause: bool = False) -> list[str]:
    """Files of the variant set spoken in ``lang`` by a voice starting with ``voice``."""
    manifest = json.loads((VARIANTS / "manifest.json").read_text())
    return [
        f"variants/{e['file']}"
        for e in manifest
        if e["lang"] == lang
        and e["voice"].startswith(voice)
        and e["voice"].endswith("pause") == pause
    ]


#: name -> (source, target, files under tests/data)
SETS: dict[str, tuple[str, str, list[str]]] = {
    "en_piper": ("en", "es", [f"en_piper_0{i}.wav" for i in range(1, 9)]),
    "es_espeak": ("es", "en", [f"es_espeak_0{i}.wav" for i in range(1, 9)]),
    "en_espeak": ("en", "es", [f"en_espeak_0{i}.wav" for i in range(1, 5)]),
    "en_piper_dialogue": ("en", "es", ["en_piper_dialogue.wav"]),
    "es_espeak_dialogue": ("es", "en", ["es_espeak_dialogue.wav"]),
    # Natural variation (bench/make_variants.py): Piper with its noise on, three draws of 12
    # sentences; other espeak-ng voices and rates; sentences with a long pause inside.
    "en_piper_draws": ("en", "es", _variants("en", "piper")),
    "en_espeak_voices": ("en", "es", _variants("en", "en-us")),
    "es_espeak_voices": ("es", "en", _variants("es", "es")),
    "en_long_pauses": ("en", "es", _variants("en", "piper", pause=True)),
    "es_long_pauses": ("es", "en", _variants("es", "es", pause=True)),
}
VARIANT_SETS = [
    "en_piper_draws",
    "en_espeak_voices",
    "es_espeak_voices",
    "en_long_pauses",
    "es_long_pauses",
]
DEFAULT_SETS = ["en_piper", "es_espeak", "en_piper_dialogue", "es_espeak_dialogue"]


def manifest_entries() -> dict[str, dict[str, Any]]:
    """Every file the sets can name, by its path under tests/data."""
    entries = {e["file"]: e for e in json.loads((DATA / "manifest.json").read_text())}
    for e in json.loads((VARIANTS / "manifest.json").read_text()):
        entries[f"variants/{e['file']}"] = {**e, "file": f"variants/{e['file']}"}
    return entries


async def run_file(
    url: str, entry: dict[str, Any], source: str, target: str, tail_s: float = 4.0
) -> list[Sample]:
    spans = [(float(a), float(b)) for a, b in entry["speech"]]
    run = await speak_file(url, DATA / entry["file"], spans, source, target, tail_s=tail_s)
    for sample in run.samples:
        sample.file = entry["file"]
    return run.samples


class ServerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(ROOT / "bench" / f".server-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lingolive", "serve"],
            env={**os.environ, **env, "LL_HOST": "127.0.0.1", "LL_PORT": str(self.port)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.ps = psutil.Process(self.proc.pid)
        self.peak_rss = 0
        self._stop = threading.Event()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("server exited")
            time.sleep(0.3)
        raise RuntimeError("server not ready")

    def sample_rss(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak_rss = max(self.peak_rss, self.ps.memory_info().rss)
            except psutil.Error:
                return

    def cpu_seconds(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


#: The end-of-speech silence a plain cascade waits for (LingoLive's v1 default).
NAIVE_HANGOVER_MS = 400


def naive_baseline(
    entries: list[tuple[dict[str, Any], str, str]], hangover_ms: int = NAIVE_HANGOVER_MS
) -> list[dict[str, Any]]:
    """Batch cascade on each whole utterance: hangover + STT(30 s) + MT + full TTS.

    Returns one record per phrase: latency_ms, text, translation.
    """
    from faster_whisper import WhisperModel

    from lingolive.engines.registry import load_engines
    from lingolive.engines.whisper_models import resolve_model
    from lingolive.file_translate import read_audio

    settings = Settings()
    engines = load_engines(settings)
    folder, _ = resolve_model(settings.stt_model, settings.cache_dir)
    model = WhisperModel(
        str(folder),
        device="cpu",
        compute_type=settings.stt_compute_type,
        # Every core: the naive cascade runs alone, and a 30 s window on the one thread the
        # server uses (LL_STT_THREADS=1) would make the baseline look slower than it is.
        cpu_threads=os.cpu_count() or settings.stt_threads,
    )
    out = []
    try:
        model.transcribe(np.zeros(16000, np.float32), language="en")  # warm
        for entry, source, target in entries:
            audio = read_audio(DATA / entry["file"])
            for index, (start, end) in enumerate(entry["speech"]):
                chunk = audio[int(max(0, start - 0.2) * 16000) : int((end + 0.15) * 16000)]
                t = time.perf_counter()
                segments, _ = model.transcribe(
                    chunk,
                    language=source,
                    beam_size=1,
                    without_timestamps=True,
                    vad_filter=False,
                    condition_on_previous_text=False,
                )
                text = " ".join(s.text.strip() for s in segments)
                translation = engines.translator.translate(text, source, target)
                for _ in engines.tts.synthesize(translation, target):
                    pass
                out.append(
                    {
                        "file": entry["file"],
                        "index": index,
                        "latency_ms": hangover_ms + (time.perf_counter() - t) * 1000,
                        "text": text,
                        "translation": translation,
                    }
                )
    finally:
        engines.close()
    return out


def load_jobs(sets: list[str]) -> list[tuple[dict[str, Any], str, str]]:
    manifest = manifest_entries()
    jobs: list[tuple[dict[str, Any], str, str]] = []
    for name in sets:
        source, target, files = SETS[name]
        for f in files:
            if manifest.get(f, {}).get("speech"):
                jobs.append((manifest[f], source, target))
    return jobs


async def measure(
    jobs: list[tuple[dict[str, Any], str, str]],
    env: dict[str, str],
    repeat: int = 1,
    tail_s: float = 4.0,
) -> dict[str, Any]:
    """Run ``jobs`` through a fresh server started with ``env``; samples and server load."""
    server = ServerProcess(env)
    try:
        server.wait_ready()
        sampler = threading.Thread(target=server.sample_rss, daemon=True)
        sampler.start()
        cpu0, wall0 = server.cpu_seconds(), time.monotonic()
        samples: list[Sample] = []
        ws_url = server.url.replace("http", "ws") + "/ws"
        for _ in range(repeat):
            for entry, source, target in jobs:
                got = await run_file(ws_url, entry, source, target, tail_s)
                samples.extend(got)
                for s in got:
                    print(
                        f"{s.file:24} #{s.index}  e2e {fmt(s.latency_ms):>7} ms"
                        f"{'(queued)' if s.queued else '        '}  "
                        f"last {fmt(s.last_audio_ms):>7} ms  server "
                        f"{fmt(s.server.get('first_audio_out_ms')):>6} ms "
                        f"(vad {fmt(s.server.get('speech_end_ms'))}, "
                        f"stt {fmt(s.server.get('stt_ms'))}, mt {fmt(s.server.get('mt_ms'))}, "
                        f"tts {fmt(s.server.get('tts_first_audio_ms'))})  {s.text[:40]!r}",
                        flush=True,
                    )
        cpu = server.cpu_seconds() - cpu0
        wall = time.monotonic() - wall0
    finally:
        server.stop()
    return {
        "samples": samples,
        "cpu_percent": round(100 * cpu / wall, 1),
        "peak_rss_mib": round(server.peak_rss / 2**20),
    }


def latency_stats(samples: list[Sample]) -> dict[str, Any]:
    lat = [s.latency_ms for s in samples if s.latency_ms is not None]
    last = [s.last_audio_ms for s in samples if s.last_audio_ms is not None]
    server_out = [
        s.server["first_audio_out_ms"]
        for s in samples
        if s.server.get("first_audio_out_ms") is not None
    ]
    return {
        "utterances": len(samples),
        "queued": sum(s.queued for s in samples),
        "missed": sum(1 for s in samples if s.latency_ms is None and not s.queued),
        "e2e_p50_ms": pct(lat, 50),
        "e2e_p95_ms": pct(lat, 95),
        "last_audio_p50_ms": pct(last, 50),
        "server_first_audio_out_p50_ms": pct(server_out, 50),
        "stt_p50_ms": pct([s.server["stt_ms"] for s in samples if s.server.get("stt_ms")], 50),
        # Phrases whose translated speech was ready before the end decision (made ahead).
        "ready_ahead": sum(s.server.get("ready_ahead_ms", -1) > 0 for s in samples),
    }


def same_phrases(naive: list[dict[str, Any]], samples: list[Sample]) -> list[float]:
    """The naive cascade's latency for exactly the phrases the streaming figure counts.

    Queued and unanswered phrases are left out of the streaming percentiles, so they are
    left out of the baseline too; a phrase measured twice (``--repeat 2``) counts twice.
    """
    by_phrase = {(r["file"], r["index"]): r["latency_ms"] for r in naive}
    return [
        by_phrase[(s.file, s.index)]
        for s in samples
        if s.latency_ms is not None and (s.file, s.index) in by_phrase
    ]


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )


#: The settings that change the latency, recorded with every result.
CONFIG_KEYS = (
    "stt_model",
    "stt_models",
    "vad_hangover_ms",
    "undo_window_ms",
    "partial_interval_ms",
    "tts_engine",
)


def config() -> dict[str, Any]:
    """The latency-relevant settings a server started now (from this environment) uses."""
    return {k: v for k, v in Settings().model_dump().items() if k in CONFIG_KEYS}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    jobs = load_jobs(args.sets)
    measured = await measure(jobs, {}, args.repeat)
    samples: list[Sample] = measured["samples"]
    naive = naive_baseline(jobs) if not args.no_baseline else []
    baseline = same_phrases(naive, samples)
    result: dict[str, Any] = {
        "machine": machine(),
        "config": config(),
        "sets": args.sets,
        **latency_stats(samples),
        "server_cpu_percent": measured["cpu_percent"],
        "server_peak_rss_mib": measured["peak_rss_mib"],
        "baseline_p50_ms": pct(baseline, 50),
        "baseline_p95_ms": pct(baseline, 95),
        "samples": [asdict(s) for s in samples],
    }
    lat = [s.latency_ms for s in samples if s.latency_ms is not None]
    if baseline and lat:
        result["baseline_over_live_p50"] = round(
            statistics.median(baseline) / statistics.median(lat), 2
        )
    result["by_set"] = by_set(samples, args.sets)
    return result


def by_set(samples: list[Sample], sets: list[str]) -> dict[str, dict[str, Any]]:
    """The latency figures per set and per direction (all sets of one source language)."""
    groups: dict[str, set[str]] = {}
    for name in sets:
        source, target, set_files = SETS[name]
        groups[name] = set(set_files)
        groups.setdefault(f"{source}->{target}", set()).update(set_files)
    out: dict[str, dict[str, Any]] = {}
    for group, members in groups.items():
        mine = [s for s in samples if s.file in members]
        tts = [s.server["tts_first_audio_ms"] for s in mine if s.server.get("tts_first_audio_ms")]
        out[group] = {**latency_stats(mine), "tts_first_audio_p50_ms": pct(tts, 50)}
    return out


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", default=DEFAULT_SETS, choices=sorted(SETS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", type=Path, help="write the full result here")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print()
    print(f"machine: {result['machine']}")
    print(f"config:  {result['config']}")
    print(
        f"utterances: {result['utterances']} ({result['queued']} queued behind the previous "
        f"translation, not measured; no translated audio for {result['missed']})"
    )
    print(
        f"live:     e2e p50 {fmt(result['e2e_p50_ms'])} ms, p95 {fmt(result['e2e_p95_ms'])} ms; "
        f"last audio p50 {fmt(result['last_audio_p50_ms'])} ms; "
        f"server first-audio-out p50 {fmt(result['server_first_audio_out_p50_ms'])} ms; "
        f"STT p50 {fmt(result['stt_p50_ms'])} ms"
    )
    print(
        f"server:   CPU {result['server_cpu_percent']}% of one core, "
        f"peak RSS {result['server_peak_rss_mib']} MiB"
    )
    if result.get("baseline_p50_ms") is not None:
        print(
            f"baseline: p50 {fmt(result['baseline_p50_ms'])} ms, "
            f"p95 {fmt(result['baseline_p95_ms'])} ms (naive batch cascade, same engines)"
        )
        print(f"ratio:    baseline / live p50 = {result.get('baseline_over_live_p50')}")
    print(
        "\n| set | measured / queued | e2e p50 | e2e p95 | server first-audio-out p50 "
        "| TTS first audio p50 |"
    )
    print("|---|---|---|---|---|---|")
    for group, st in result["by_set"].items():
        print(
            f"| {group} | {st['utterances'] - st['queued'] - st['missed']} / {st['queued']} "
            f"| {fmt(st['e2e_p50_ms'])} ms | {fmt(st['e2e_p95_ms'])} ms "
            f"| {fmt(st['server_first_audio_out_p50_ms'])} ms "
            f"| {fmt(st['tts_first_audio_p50_ms'])} ms |"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
