"""The quality benchmark's default configuration, in CI, on the whole shared sentence set.

Every English and Spanish sentence of ``tests/data`` is spoken to the live server; each must
come back as translated audio, and the transcripts and translations must score within ~10 %
of what ``bench/quality.py`` measured with the defaults (docs/benchmarks.md,
bench/results/quality.json): word accuracy (1 − WER) per language and chrF at least 90 % of
the measured value. A change that makes recognition or translation worse fails here.
"""

from __future__ import annotations

from typing import Any

from conftest import DATA, Server, in_lanes
from support.evaluation import FileRun, chrf, speak_file, word_error_rate

SETS = [
    ("en", "es", [f"en_piper_0{i}.wav" for i in range(1, 9)]),
    ("en", "es", [f"en_espeak_0{i}.wav" for i in range(1, 5)]),
    ("es", "en", [f"es_espeak_0{i}.wav" for i in range(1, 9)]),
]
#: Measured with the defaults (bench/results/quality.json, config "default", 2026-11-27).
MEASURED_WER = {"en": 0.052, "es": 0.431}
MEASURED_CHRF = 57.5
MAX_WER = {lang: round(1 - 0.9 * (1 - wer), 3) for lang, wer in MEASURED_WER.items()}
MIN_CHRF = round(0.9 * MEASURED_CHRF, 1)
#: Sessions speaking at once.
LANES = 2


async def test_quality_floors(server: Server, manifest: list[dict[str, Any]]) -> None:
    entries = {e["file"]: e for e in manifest}
    jobs = [(source, target, name) for source, target, files in SETS for name in files]

    async def speak(job: tuple[str, str, str]) -> FileRun:
        source, target, name = job
        spans = [(float(a), float(b)) for a, b in entries[name]["speech"]]
        return await speak_file(server.ws_url, DATA / name, spans, source, target, tail_s=0.5)

    # Two people at a time (the suite's time; a server serves several): the scores are
    # those of the whole utterances, whoever else speaks.
    runs = await in_lanes(jobs, LANES, speak)
    texts: dict[str, tuple[list[str], list[str]]] = {}
    refs, hyps, unanswered = [], [], []
    for (source, _, name), run in zip(jobs, runs, strict=True):
        entry = entries[name]
        unanswered += [name for s in run.samples if s.latency_ms is None]
        ref_list, hyp_list = texts.setdefault(source, ([], []))
        ref_list.append(entry["text"])
        hyp_list.append(" ".join(s.text for s in run.samples))
        refs.append(entry["reference_translation"])
        hyps.append(" ".join(s.translation for s in run.samples))
    assert not unanswered, f"no translated audio came back for {unanswered}"
    for lang, (ref_list, hyp_list) in texts.items():
        wer = word_error_rate(ref_list, hyp_list)
        print(f"WER {lang}: {wer:.3f} (at most {MAX_WER[lang]})")
        assert wer <= MAX_WER[lang], (lang, wer, hyp_list)
    score = chrf(refs, hyps)
    print(f"chrF: {score:.1f} (at least {MIN_CHRF})")
    assert score >= MIN_CHRF, (score, hyps)
