"""Quality beside latency: configurations of the live pipeline, scored on the shared audio.

For each configuration a fresh server is started with its ``LL_*`` settings, and every file
of the sets is spoken to it by an aiortc client (as in ``bench/latency.py``). Printed per
configuration: end-to-end latency p50/p95 at the client, word error rate of the final
transcripts (jiwer, per source language) and chrF / BLEU of the translations against the
reference translations (sacrebleu). The naive batch cascade (same engines, whole phrase
after a 400 ms hangover, faster-whisper's standard 30 s window) is scored in the same run.

Usage:
    .venv/bin/python bench/quality.py                      # every configuration below
    .venv/bin/python bench/quality.py --configs default v1 --sets en_piper
    .venv/bin/python bench/quality.py --json bench/results/quality.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import latency_stats, load_jobs, machine, measure, naive_baseline
from lingolive.evaluation import bleu, chrf, pct, word_error_rate

#: name -> (description, LL_* environment)
CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "v1": (
        "v1 pipeline: 400 ms hangover, then one final pass; aiortc's 80 ms receive buffer",
        {
            "LL_VAD_HANGOVER_MS": "400",
            "LL_UNDO_WINDOW_MS": "400",
            "LL_EARLY_COMMIT": "false",
            "LL_SENTENCE_COMMIT": "false",
            "LL_RTC_AUDIO_PREFETCH": "4",
            "LL_SPECULATE_MS": "0",
        },
    ),
    "default": (
        "defaults: base, speculative pass at 100 ms, hangover 200 ms, undo 600 ms, "
        "partials every 800 ms",
        {},
    ),
    "nospeculate": ("no speculative pass (final pass at the hangover)", {"LL_SPECULATE_MS": "0"}),
    "hangover120": ("hangover 120 ms", {"LL_VAD_HANGOVER_MS": "120"}),
    "hangover300": ("hangover 300 ms", {"LL_VAD_HANGOVER_MS": "300"}),
    "partials500": ("partials every 500 ms", {"LL_PARTIAL_INTERVAL_MS": "500"}),
    "nopartials": ("no partials", {"LL_PARTIAL_INTERVAL_MS": "0"}),
    "tiny_en": ("tiny.en for English, base for the rest", {"LL_STT_MODELS": "en=tiny.en"}),
}


def score(records: list[dict[str, Any]], references: dict[str, dict[str, Any]]) -> dict[str, float]:
    """WER per source language, chrF and BLEU over all translations."""
    out: dict[str, float] = {}
    by_lang: dict[str, tuple[list[str], list[str]]] = {}
    refs_tr: list[str] = []
    hyps_tr: list[str] = []
    for rec in records:
        ref = references[rec["file"]]
        refs, hyps = by_lang.setdefault(ref["lang"], ([], []))
        refs.append(ref["text"])
        hyps.append(rec["text"])
        refs_tr.append(ref["reference_translation"])
        hyps_tr.append(rec["translation"])
    for lang, (refs, hyps) in sorted(by_lang.items()):
        out[f"wer_{lang}"] = round(word_error_rate(refs, hyps), 3)
    out["chrf"] = round(chrf(refs_tr, hyps_tr), 1)
    out["bleu"] = round(bleu(refs_tr, hyps_tr), 1)
    return out


def per_file(samples: list[Any]) -> list[dict[str, Any]]:
    """Single-sentence files: one record per file (all its segments joined)."""
    files: dict[str, dict[str, Any]] = {}
    for s in samples:
        rec = files.setdefault(s.file, {"file": s.file, "text": "", "translation": ""})
        rec["text"] = f"{rec['text']} {s.text}".strip()
        rec["translation"] = f"{rec['translation']} {s.translation}".strip()
    return list(files.values())


async def run(
    args: argparse.Namespace, references: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    jobs = load_jobs(args.sets)
    rows: list[dict[str, Any]] = []
    for name in args.configs:
        description, env = CONFIGS[name]
        print(f"\n== {name}: {description}", flush=True)
        measured = await measure(jobs, env)
        stats = latency_stats(measured["samples"])
        rows.append(
            {
                "config": name,
                "description": description,
                **stats,
                **score(per_file(measured["samples"]), references),
                "cpu_percent": measured["cpu_percent"],
            }
        )
    if not args.no_baseline:
        print("\n== naive batch cascade", flush=True)
        naive = naive_baseline(jobs)
        lat = [r["latency_ms"] for r in naive]
        rows.append(
            {
                "config": "naive",
                "description": "naive batch cascade (offline, no "
                "network hop): 400 ms hangover + 30 s-window STT + MT + whole TTS",
                "e2e_p50_ms": pct(lat, 50),
                "e2e_p95_ms": pct(lat, 95),
                **score(naive, references),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    langs = sorted({k for r in rows for k in r if k.startswith("wer_")})
    head = [
        "config",
        "e2e p50",
        "e2e p95",
        *[w.replace("_", " ") for w in langs],
        "chrF",
        "BLEU",
        "description",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:

        def ms(key: str, row: dict[str, Any] = r) -> str:
            return "-" if row.get(key) is None else f"{row[key]:.0f} ms"

        cells = [
            r["config"],
            ms("e2e_p50_ms"),
            ms("e2e_p95_ms"),
            *[str(r.get(w, "-")) for w in langs],
            str(r.get("chrf", "-")),
            str(r.get("bleu", "-")),
            r["description"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--sets", nargs="+", default=["en_piper", "en_espeak", "es_espeak"])
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    manifest = Path(__file__).resolve().parent.parent / "tests" / "data" / "manifest.json"
    references = {e["file"]: e for e in json.loads(manifest.read_text())}
    rows = asyncio.run(run(args, references))
    print(f"\nmachine: {machine()}; sets: {', '.join(args.sets)}\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
