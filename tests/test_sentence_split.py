"""A sentence is not cut in two at a pause inside it, across voices, draws and speakers.

Whisper ends whatever audio it gets with a full stop, so at a comma pause "Good morning, I
would like…" reads "Good morning." If the server committed that, the listener would hear
"Buenos días." alone and the rest as another phrase, and the second half, heard without its
start, is often misrecognized. The behaviour varies with the voice (where and how long it
pauses), so it is tested as a rate over sentences with a comma, spoken by Piper with its
noise on (different draws), other espeak-ng voices, and a hesitant speaker whose pause is
stretched to 450 ms (tests/data/variants, made by bench/make_variants.py).
"""

from __future__ import annotations

import json
from typing import Any

from conftest import DATA, Server, in_lanes
from support.evaluation import FileRun, speak_file

VARIANTS = DATA / "variants"
FILES = [
    "en_piper_01_d1.flac",  # Good morning, I would like to book a table…
    "en_piper_01_d2.flac",
    "en_piper_01_d3.flac",
    "en_piper_09_d1.flac",  # Excuse me, could you tell me…
    "en_piper_11_d2.flac",  # When I arrived at the hotel, the room…
    "en_piper_12_d3.flac",  # If it rains tomorrow, we will…
    "es_espeak_m3_01.flac",  # Buenos días, ¿cómo está usted?
    "es_espeak_f2_08.flac",  # Muchas gracias, hasta luego.
    "es_espeak_klatt_02.flac",  # Necesito un médico, por favor.
    "es_espeak_m3_11.flac",  # Cuando llegué al hotel, la habitación…
    "en_piper_01_d1_pause.flac",  # the same, with a 450 ms pause at the comma
    "en_piper_09_d1_pause.flac",
    "en_piper_11_d1_pause.flac",
    "es_espeak_f2_01_pause.flac",
    "es_espeak_f2_08_pause.flac",
]
#: Sentences cut in two, at most. Measured 2026-11-27: 0 of these 15 with the defaults, 8 with
#: the server of before the fix (commit 7cc6ba1, run as `PYTHONPATH=<its worktree>/src pytest
#: -s tests/test_sentence_split.py`): the test fails there.
MAX_SPLIT = 2
#: Sessions speaking at once.
LANES = 2


async def test_sentences_are_not_split_at_a_pause_inside(server: Server) -> None:
    manifest: dict[str, dict[str, Any]] = {
        e["file"]: e for e in json.loads((VARIANTS / "manifest.json").read_text())
    }

    async def speak(name: str) -> FileRun:
        entry = manifest[name]
        source, target = entry["lang"], "es" if entry["lang"] == "en" else "en"
        spans = [(float(a), float(b)) for a, b in entry["speech"]]
        return await speak_file(server.ws_url, VARIANTS / name, spans, source, target, tail_s=0.5)

    # Two speakers at a time (the suite's time): a server serving two people must not cut
    # their sentences either.
    split: list[str] = []
    for name, run in zip(FILES, await in_lanes(FILES, LANES, speak), strict=True):
        (sample,) = run.samples
        # Whatever the cut, the phrase was answered: translated, and its audio came back
        # (after the speech, or already while it went on: then it counts as queued).
        assert sample.translation and (sample.latency_ms is not None or sample.queued), sample
        if sample.segments >= 2:
            split.append(f"{name}: {sample.text!r}")
    print(f"split: {len(split)} of {len(FILES)}", *split, sep="\n  ")
    assert len(split) <= MAX_SPLIT, split
