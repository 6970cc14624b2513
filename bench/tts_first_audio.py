"""Piper's time to first audio: the whole first sentence against its first clause alone.

English sentences of the shared set (the Piper-voiced English texts and the English
reference translations of the Spanish set), three rounds, offline: time until Piper's
first piece for the sentence as it is, and for the first clause (up to a comma after two
words or more) where there is one. ``PiperTTS.synthesize`` now speaks that clause apart.

Usage:
    .venv/bin/python bench/tts_first_audio.py --json bench/results/item3/tts_first_audio.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from lingolive.engines.piper_tts import PiperTTS, first_clause_apart

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def first_piece_s(tts: PiperTTS, text: str) -> float:
    t0 = time.perf_counter()
    next(iter(tts._voice("en", None).synthesize(text)))  # Piper as it is
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    manifest = json.loads((DATA / "manifest.json").read_text())
    texts = [
        e["reference_translation"]
        for e in manifest
        if e["lang"] == "es" and isinstance(e["text"], str) and e["reference_translation"]
    ] + [e["text"] for e in manifest if e["file"].startswith("en_piper_0")]
    tts = PiperTTS()
    tts.warm("en")
    whole: list[float] = []
    clause: list[float] = []
    whole_with_clause: list[float] = []
    for _ in range(3):
        for text in texts:
            t = first_piece_s(tts, text)
            whole.append(t)
            pieces = first_clause_apart(text)
            if len(pieces) > 1:
                whole_with_clause.append(t)
                clause.append(first_piece_s(tts, pieces[0]))
    result = {
        "sentences": len(texts),
        "with_a_first_clause": sum(len(first_clause_apart(t)) > 1 for t in texts),
        "first_audio_p50_ms_all_sentences": round(1000 * statistics.median(whole)),
        "first_audio_p50_ms_whole_sentence_where_clause": round(
            1000 * statistics.median(whole_with_clause)
        ),
        "first_audio_p50_ms_first_clause": round(1000 * statistics.median(clause)),
    }
    print(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
