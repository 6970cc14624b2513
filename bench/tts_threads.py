"""Piper's onnxruntime threads: time to first audio with 1 or 2 intra-op threads, alone and
while Whisper transcribes in another thread (two speakers' stages on the same 2 cores).

Piper loads its ONNX session with onnxruntime's default (one thread per core); Whisper's
CTranslate2 uses ``LL_STT_THREADS`` (2). When a phrase is synthesized while another is
recognized, four busy threads share two cores. This measures whether pinning Piper to one
thread helps the synthesis that runs beside recognition, and what it costs alone.

Usage:
    .venv/bin/python bench/tts_threads.py --json bench/results/threads/tts_threads.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from lingolive.audio_files import decode_float
from lingolive.config import Settings
from lingolive.engines.piper_tts import PiperTTS
from lingolive.engines.registry import build_stt

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
TEXTS = [
    "I need a doctor, please.",
    "The train leaves at eight in the morning.",
    "Where can I buy a ticket?",
    "My sister has lived in Madrid for five years.",
    "Thank you very much for your help.",
]


def first_audio_ms(tts: PiperTTS, rounds: int) -> float:
    voice = tts._voice("en", None)  # Piper as it is, one sentence at a time
    times = []
    for _ in range(rounds):
        for text in TEXTS:
            t0 = time.perf_counter()
            next(iter(voice.synthesize(text)))
            times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times))


def main() -> None:
    import onnxruntime

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    stt, _ = build_stt(Settings())
    clip = decode_float(DATA / "en_piper_01.wav", 16_000)[16_000:72_000]
    tts = PiperTTS()
    tts.warm("en")
    voice = tts._voice("en", None)
    model = voice.session._model_path  # the loaded .onnx file
    results: dict[str, int | float] = {}
    for threads in (2, 1):
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads
        voice.session = onnxruntime.InferenceSession(
            model, sess_options=opts, providers=["CPUExecutionProvider"]
        )
        first_audio_ms(tts, 1)  # warm
        results[f"alone_{threads}_threads_ms"] = first_audio_ms(tts, 4)
        busy = threading.Event()
        busy.set()

        def recognize(busy: threading.Event = busy) -> None:
            while busy.is_set():
                stt.transcribe(clip, "en")

        worker = threading.Thread(target=recognize)
        worker.start()
        time.sleep(0.3)
        results[f"beside_whisper_{threads}_threads_ms"] = first_audio_ms(tts, 4)
        busy.clear()
        worker.join()
        print(results, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
