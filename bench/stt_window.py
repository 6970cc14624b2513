"""Encoder window minimum: final-pass time and word error rate on every voice of the shared set.

Each one-sentence file's phrase (0.2 s before the speech to 0.35 s after, as the segmenter
cuts it) is transcribed twice per window minimum with the default Whisper model, offline
(no server): pass time medians per language and WER per voice. Whisper's encoder cost grows
with the window, so a phrase of 2.7 s (the set's median) encoded in 3 s instead of 5 s is
cheaper; too short a window makes small models loop on their own sentence.

Usage:
    .venv/bin/python bench/stt_window.py 5 3 2 --json bench/results/item3/window.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from lingolive.audio_files import decode_float
from lingolive.config import Settings
from lingolive.engines.registry import build_stt
from lingolive.engines.whisper_stt import WhisperSTT
from support.evaluation import word_error_rate

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
VOICES = ("en_piper", "en_espeak", "es_espeak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("windows", type=float, nargs="+", help="minimum window, seconds")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    manifest = json.loads((DATA / "manifest.json").read_text())
    items = []
    for e in manifest:
        if not isinstance(e["text"], str) or len(e["speech"]) != 1:
            continue
        audio = decode_float(DATA / e["file"], 16_000)
        start, end = e["speech"][0]
        clip = audio[int((start - 0.2) * 16_000) : int((end + 0.35) * 16_000)]
        items.append((e["file"], e["lang"], e["text"], clip))
    stt, described = build_stt(Settings())
    assert isinstance(stt, WhisperSTT)
    results: dict[str, object] = {"model": described}
    for window in args.windows:
        stt._min_window_samples = int(window * 16_000)  # the knob measured
        for _, lang, _, clip in items[:3]:
            stt.transcribe(clip, lang)  # warm
        times: dict[str, list[float]] = {"en": [], "es": []}
        heard: dict[str, str] = {}
        for _ in range(2):
            for name, lang, _, clip in items:
                t0 = time.perf_counter()
                heard[name] = stt.transcribe(clip, lang).text
                times[lang].append(time.perf_counter() - t0)
        row: dict[str, object] = {
            f"wer_{voice}": round(
                word_error_rate(
                    [i[2] for i in items if i[0].startswith(voice)],
                    [heard[i[0]] for i in items if i[0].startswith(voice)],
                ),
                3,
            )
            for voice in VOICES
        }
        row["pass_p50_ms"] = {k: round(1000 * statistics.median(v)) for k, v in times.items()}
        results[str(window)] = row
        print(window, row, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
