"""The glossary's transcript correction at the worst case the offer's limits allow.

A client chooses its glossary, so the correction (every term against every run of words of
each transcript, ``pipeline/glossary.py``) must stay cheap for the worst glossary it may
send: 100 terms of 64 characters in 6 words each, against a long transcript (120 words,
about what Whisper writes for the longest utterance, 15 s) made of capitalized words close
to the terms' words, so the looser cutoff applies and nothing is skipped early.

Usage:
    .venv/bin/python bench/glossary.py --json bench/results/glossary.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import machine
from lingolive.pipeline.glossary import Glossary
from lingolive.protocol import CLIENT_MESSAGE, MAX_TERM_WORDS
from support.evaluation import pct

TERMS = 100
TERM_CHARS = 64
TRANSCRIPT_WORDS = 120


def worst_glossary(rng: random.Random) -> list[str]:
    letters = "abcdefghij"
    size = (TERM_CHARS - (MAX_TERM_WORDS - 1)) // MAX_TERM_WORDS  # letters per word
    terms = []
    for _ in range(TERMS):
        words = ["".join(rng.choice(letters) for _ in range(size)) for _ in range(MAX_TERM_WORDS)]
        terms.append(" ".join(words).capitalize())
    return terms


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(7)
    terms = worst_glossary(rng)
    # The offer accepts exactly this glossary: it is the worst case allowed, not beyond it.
    CLIENT_MESSAGE.validate_python({"type": "offer", "sdp": "v=0", "glossary": terms})
    glossary = Glossary.parse(list(terms))
    assert glossary is not None
    term_words = [w for t in terms for w in t.split()]
    transcript = " ".join(rng.choice(term_words).capitalize() for _ in range(TRANSCRIPT_WORDS))
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        glossary.correct(transcript)
        times.append((time.perf_counter() - start) * 1000)
    result = {
        "machine": machine(),
        "terms": TERMS,
        "term_chars": max(len(t) for t in terms),
        "term_words": MAX_TERM_WORDS,
        "transcript_words": TRANSCRIPT_WORDS,
        "repeat": args.repeat,
        "p50_ms": round(pct(times, 50) or 0, 1),
        "max_ms": round(max(times), 1),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
