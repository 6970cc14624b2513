"""Quality beside latency: configurations of the live pipeline, scored on the shared audio.

For each configuration a fresh server is started with its ``LL_*`` settings, and every file
of the sets is spoken to it by an aiortc client (as in ``bench/latency.py``). Printed per
configuration: end-to-end latency p50/p95 at the client, word error rate of the final
transcripts (jiwer, per source language), chrF / BLEU of the translations against the
reference translations (sacrebleu), the **split rate** (one-sentence phrases committed as two
or more segments: a sentence cut at a pause inside it, translated and spoken in pieces) and
**trailing words** (phrases whose transcript adds words after the end of what was said).
The naive batch cascade (same engines, whole phrase after a 400 ms hangover, faster-whisper's
standard 30 s window) is scored in the same run.

Usage:
    .venv/bin/python bench/quality.py                      # every configuration below
    .venv/bin/python bench/quality.py --configs default v1 --sets en_piper
    .venv/bin/python bench/quality.py --json bench/results/quality.json
    # natural variation (bench/make_variants.py): other draws, voices, long pauses
    .venv/bin/python bench/quality.py --configs default --variants --no-baseline --tail 1.5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from latency import (
    SETS,
    VARIANT_SETS,
    latency_stats,
    load_jobs,
    machine,
    manifest_entries,
    measure,
    naive_baseline,
    same_phrases,
)
from support.evaluation import bleu, chrf, pct, trailing_insertions, word_error_rate

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
        "defaults: base, speculative pass at 64 ms with speech made ahead, hangover 350 ms, "
        "undo 600 ms, partials every 800 ms; early commit only of a sentence that stands alone",
        {},
    ),
    "speculate100": (
        "speculative pass at 100 ms (the default until 2026-11-28), speech made ahead",
        {"LL_SPECULATE_MS": "100"},
    ),
    "nospeculate": ("no speculative pass (final pass at the hangover)", {"LL_SPECULATE_MS": "0"}),
    "hangover200": ("hangover 200 ms (the default before)", {"LL_VAD_HANGOVER_MS": "200"}),
    "hangover450": ("hangover 450 ms", {"LL_VAD_HANGOVER_MS": "450"}),
    "partials500": ("partials every 500 ms", {"LL_PARTIAL_INTERVAL_MS": "500"}),
    "nopartials": ("no partials", {"LL_PARTIAL_INTERVAL_MS": "0"}),
    "tiny_en": ("tiny.en for English, base for the rest", {"LL_STT_MODELS": "en=tiny.en"}),
    "turn": (
        "end-of-turn model: a phrase it hears finished (p >= 0.95 after 200 ms) ends then",
        {"LL_TURN_MODEL": "smart-turn"},
    ),
    "turn_off": (
        "no end-of-turn model: phrases end by silence and text alone (LL_TURN_MODEL=off)",
        {"LL_TURN_MODEL": "off"},
    ),
    "turn90": (
        "end-of-turn model at p >= 0.9",
        {"LL_TURN_MODEL": "smart-turn", "LL_TURN_THRESHOLD": "0.9"},
    ),
    "turn_spec32": (
        "end-of-turn model, speculative pass after one VAD window (32 ms) of silence",
        {"LL_TURN_MODEL": "smart-turn", "LL_SPECULATE_MS": "32"},
    ),
    "turn250": (
        "end-of-turn model asked after 250 ms of silence",
        {"LL_TURN_MODEL": "smart-turn", "LL_TURN_CHECK_MS": "250"},
    ),
    "clause": ("interpreting clause by clause (LL_INTERPRET=clause)", {"LL_INTERPRET": "clause"}),
    "sentence": (
        "sentences only while the speaker goes on (LL_INTERPRET=sentence)",
        {"LL_INTERPRET": "sentence"},
    ),
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
    single = [r for r in records if "segments" in r and len(references[r["file"]]["speech"]) == 1]
    if single:
        out["split_rate"] = round(sum(r["segments"] >= 2 for r in single) / len(single), 3)
        out["split_phrases"] = sum(r["segments"] >= 2 for r in single)
        out["phrases"] = len(single)
    out["trailing_words"] = sum(
        trailing_insertions(references[r["file"]]["text"], r["text"]) > 0
        for r in records
        if len(references[r["file"]]["speech"]) == 1
    )
    out["chrf"] = round(chrf(refs_tr, hyps_tr), 1)
    out["bleu"] = round(bleu(refs_tr, hyps_tr), 1)
    return out


def per_file(samples: list[Any]) -> list[dict[str, Any]]:
    """One record per file and repetition (all its segments joined), with its segment count."""
    files: dict[tuple[str, int], dict[str, Any]] = {}
    seen: dict[tuple[str, int], int] = {}
    for s in samples:
        rep = seen.get((s.file, s.index), 0)  # --repeat: the same phrase again
        seen[(s.file, s.index)] = rep + 1
        rec = files.setdefault(
            (s.file, rep), {"file": s.file, "text": "", "translation": "", "segments": 0}
        )
        rec["text"] = f"{rec['text']} {s.text}".strip()
        rec["translation"] = f"{rec['translation']} {s.translation}".strip()
        rec["segments"] += s.segments
    return list(files.values())


async def run(
    args: argparse.Namespace, references: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    jobs = load_jobs(args.sets)
    rows: list[dict[str, Any]] = []
    streaming: list[Any] = []
    for name in args.configs:
        description, env = CONFIGS[name]
        print(f"\n== {name}: {description}", flush=True)
        measured = await measure(jobs, env, tail_s=args.tail)
        stats = latency_stats(measured["samples"])
        if name == "default" or not streaming:
            streaming = measured["samples"]
        records = per_file(measured["samples"])
        rows.append(
            {
                "config": name,
                "description": description,
                **stats,
                **score(records, references),
                "cpu_percent": measured["cpu_percent"],
                "files": records,  # what was heard and said, per file (the split ones too)
            }
        )
    if not args.no_baseline:
        print("\n== naive batch cascade", flush=True)
        naive = naive_baseline(jobs)
        lat = same_phrases(naive, streaming)  # the phrases the default's figure counts
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
        "split",
        "trailing words",
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
            "-" if "split_rate" not in r else f"{r['split_phrases']}/{r['phrases']}",
            str(r.get("trailing_words", "-")),
            r["description"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument(
        "--sets", nargs="+", default=["en_piper", "en_espeak", "es_espeak"], choices=sorted(SETS)
    )
    parser.add_argument(
        "--variants", action="store_true", help=f"add the sets {', '.join(VARIANT_SETS)}"
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--tail", type=float, default=4.0, help="seconds listened after a file")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.variants:
        args.sets = [*args.sets, *VARIANT_SETS]
    references = manifest_entries()
    rows = asyncio.run(run(args, references))
    print(f"\nmachine: {machine()}; sets: {', '.join(args.sets)}\n")
    print(table(rows))
    for row in rows:
        split = [r for r in row.get("files", []) if r["segments"] >= 2]
        for rec in split:
            print(f"split ({row['config']}): {rec['file']}: {rec['text']!r}")
    if args.json:
        result = {"machine": machine(), "sets": args.sets, "configs": rows}
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
