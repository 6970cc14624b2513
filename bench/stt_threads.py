"""Whisper's CTranslate2 threads: one pass and a batch of four, with 2 and with 1 thread.

Offline, four phrases of the shared set (0.2 s before to 0.35 s after the speech), four
rounds of single passes and three batches per setting. On the project's 2-core machine one
thread is as fast as two (CTranslate2's int8 kernels gain nothing from the second core
here), and under load the free core goes to VAD, TTS and the WebRTC stack.

Usage:
    .venv/bin/python bench/stt_threads.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from lingolive.audio_files import decode_float
from lingolive.config import Settings
from lingolive.engines.base import SttRequest
from lingolive.engines.registry import build_stt

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
FILES = ["en_piper_01.wav", "en_piper_03.wav", "es_espeak_02.wav", "es_espeak_05.wav"]


def main() -> None:
    manifest = {e["file"]: e for e in json.loads((DATA / "manifest.json").read_text())}
    requests = []
    for name in FILES:
        audio = decode_float(DATA / name, 16_000)
        start, end = manifest[name]["speech"][0]
        clip = audio[int((start - 0.2) * 16_000) : int((end + 0.35) * 16_000)]
        requests.append(SttRequest(clip, manifest[name]["lang"]))
    for threads in (2, 1):
        stt, _ = build_stt(Settings(stt_threads=threads))
        for r in requests:
            stt.transcribe(r.audio, r.language)  # warm
        single = []
        for _ in range(4):
            for r in requests:
                t0 = time.perf_counter()
                stt.transcribe(r.audio, r.language)
                single.append(time.perf_counter() - t0)
        batch = []
        for _ in range(3):
            t0 = time.perf_counter()
            stt.transcribe_batch(requests)
            batch.append(time.perf_counter() - t0)
        print(
            f"{threads} thread(s): pass p50 {1000 * statistics.median(single):.0f} ms, "
            f"batch of 4 p50 {1000 * statistics.median(batch):.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
