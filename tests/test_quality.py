"""The quality benchmark in reduced form: a few files through the live server, with floors.

Floors sit a margin below what `bench/quality.py` measured with the defaults (see
docs/benchmarks.md), so a change that makes recognition or translation worse fails CI.
"""

from __future__ import annotations

from typing import Any

from conftest import DATA, Server
from lingolive.evaluation import chrf, speak_file, word_error_rate

FILES = [
    ("en_piper_01.wav", "en", "es"),
    ("en_piper_04.wav", "en", "es"),
    ("es_espeak_02.wav", "es", "en"),
    ("es_espeak_08.wav", "es", "en"),
]
MAX_WER = {"en": 0.15, "es": 0.25}  # measured 0.0 and 0.0 on these files
MIN_CHRF = 65.0  # measured 85.1


async def test_quality_floors(server: Server, manifest: list[dict[str, Any]]) -> None:
    entries = {e["file"]: e for e in manifest}
    texts: dict[str, tuple[list[str], list[str]]] = {}
    refs, hyps = [], []
    for name, source, target in FILES:
        entry = entries[name]
        spans = [(float(a), float(b)) for a, b in entry["speech"]]
        run = await speak_file(server.ws_url, DATA / name, spans, source, target, tail_s=1.0)
        heard = " ".join(s.text for s in run.samples)
        said = " ".join(s.translation for s in run.samples)
        ref_list, hyp_list = texts.setdefault(source, ([], []))
        ref_list.append(entry["text"])
        hyp_list.append(heard)
        refs.append(entry["reference_translation"])
        hyps.append(said)
    for lang, (ref_list, hyp_list) in texts.items():
        wer = word_error_rate(ref_list, hyp_list)
        print(f"WER {lang}: {wer:.3f}")
        assert wer <= MAX_WER[lang], (lang, wer, hyp_list)
    score = chrf(refs, hyps)
    print(f"chrF: {score:.1f}")
    assert score >= MIN_CHRF, (score, hyps)
