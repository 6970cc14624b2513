"""Pauses inside sentences: what Whisper says at each, and which commit rule would split.

Offline (no server, no network hop): every file of the shared sentence set and its variants
(``tests/data/variants``) goes through an Opus round trip (as over WebRTC) and the segmenter
with the default settings. At each ``SpeechPausing`` (the moment the speculative final pass
starts) the recognizer's pass is run on the audio so far and recorded with how long the
silence lasted: a pause *inside* a sentence ends with speech resuming, a real end with the
utterance ending.

Then, for each hangover (the silence before the first end decision) and each early-commit
rule, the worst case is counted: a sentence is split when a pause inside it lasted past the
hangover and the rule would commit the text heard so far (worst case because it assumes the
recognition pass is already done at the decision; on a slow CPU the speaker sometimes resumes
first and the pause is void). Also counted: the real ends whose text the rule does not commit
at once (they wait for the undo window: latency, not a split).

With the end-of-turn model installed (``lingolive models prepare``), each pause is also
heard by Smart Turn after ``TURN_CHECKS_MS`` of silence (the audio of the utterance so far,
silence included, as the server gives it), and the rules "the model says complete with
p >= threshold, and the text rule agrees" are tallied at each check: a split when a pause
inside a sentence outlasts the check and the rule commits, and the real ends it commits at
the check instead of the hangover (latency won). The model's time per call is recorded.

Usage:
    .venv/bin/python bench/pauses.py --json bench/results/pauses.json
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from latency import machine, manifest_entries  # noqa: E402
from lingolive.audio_files import decode_float  # noqa: E402
from lingolive.config import Settings  # noqa: E402
from lingolive.engines.registry import load_engines  # noqa: E402
from lingolive.engines.smart_turn import SmartTurn, model_path  # noqa: E402
from lingolive.pipeline.segmenter import (  # noqa: E402
    Segmenter,
    SpeechEnded,
    SpeechPausing,
    SpeechResumed,
    SpeechStarted,
)
from lingolive.pipeline.sentence_end import complete_at_pause, ends_sentence  # noqa: E402

DATA = ROOT / "tests" / "data"
WINDOW_MS = 32  # Silero's window at 16 kHz
HANGOVERS = [200, 300, 350, 400, 450]
TURN_CHECKS_MS = [100, 150, 200, 250]
TURN_THRESHOLDS = [0.5, 0.7, 0.8, 0.9, 0.95]
RULES = {
    "punctuation": ends_sentence,  # the rule before 2026-11-27
    "stands alone": complete_at_pause,  # 3+ words, not an opening clause (the default)
}


def opus_round_trip(audio: np.ndarray) -> np.ndarray:
    """16 kHz float → 48 kHz Opus → 16 kHz float, as the server receives a microphone."""
    pcm = (audio * 32767).astype(np.int16).reshape(1, -1)
    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=48_000, layout="mono")
        up = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 16_000
        for chunk in [*up.resample(frame), *up.resample(None)]:
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    down = av.AudioResampler(format="s16", layout="mono", rate=16_000)
    parts = []
    with av.open(buf) as inp:
        for decoded in inp.decode(audio=0):
            parts += [f.to_ndarray().reshape(-1) for f in down.resample(decoded)]
    return np.concatenate(parts).astype(np.float32) / 32768


def pauses(
    engines: Any, settings: Settings, entry: dict[str, Any], turn: SmartTurn | None
) -> list[dict[str, Any]]:
    audio = opus_round_trip(decode_float(DATA / entry["file"], 16_000))
    segmenter = Segmenter(engines.vad, settings.segmenter())
    events: list[Any] = []
    for pos in range(0, len(audio), 320):
        events += segmenter.feed(audio[pos : pos + 320], (pos + 320) / 16_000)
    events += segmenter.flush(len(audio) / 16_000)
    rows = []
    starts = {e.utterance_id: e.audio_t0 for e in events if isinstance(e, SpeechStarted)}
    for i, event in enumerate(events):
        if not isinstance(event, SpeechPausing):
            continue
        after = next(
            e
            for e in events[i + 1 :]
            if isinstance(e, SpeechResumed | SpeechEnded) and e.utterance_id == event.utterance_id
        )
        text = engines.stt.transcribe(event.audio, entry["lang"]).text
        turn_p: dict[str, float] = {}
        turn_ms: list[float] = []
        if turn is not None:
            first = max(0, round(starts[event.utterance_id] * 16_000))
            for check in TURN_CHECKS_MS:
                # The utterance so far, with `check` ms of the silence after its last voice.
                end = round((event.speech_end_at + check / 1000) * 16_000)
                t = time.perf_counter()
                turn_p[str(check)] = round(turn.probability(audio[first:end]), 4)
                turn_ms.append((time.perf_counter() - t) * 1000)
        rows.append(
            {
                "turn_p": turn_p,
                "turn_ms": [round(ms, 1) for ms in turn_ms],
                "file": entry["file"],
                "lang": entry["lang"],
                "text": text,
                "inside": isinstance(after, SpeechResumed),
                # Silence from the last voiced window to the next one (inside a sentence).
                "pause_ms": round((after.at - event.speech_end_at) * 1000)
                if isinstance(after, SpeechResumed)
                else None,
            }
        )
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def tally(rows: list[dict[str, Any]], files: list[str]) -> list[dict[str, Any]]:
    out = []
    for hangover in HANGOVERS:
        # The decision comes after this many silent windows; a pause shorter than that
        # never reaches it.
        decided_after_ms = (max(1, round(hangover / WINDOW_MS)) + 1) * WINDOW_MS
        for name, rule in RULES.items():
            split = sorted(
                {
                    r["file"]
                    for r in rows
                    if r["inside"]
                    and r["pause_ms"] >= decided_after_ms
                    and rule(r["text"], r["lang"])
                }
            )
            waits = [r for r in rows if not r["inside"] and not rule(r["text"], r["lang"])]
            natural = [f for f in files if "_pause" not in f]
            out.append(
                {
                    "hangover_ms": hangover,
                    "rule": name,
                    "split_natural": sum(f in split for f in natural),
                    "natural_files": len(natural),
                    "split_long_pause": sum(f not in natural for f in split),
                    "long_pause_files": len(files) - len(natural),
                    "real_ends_waiting": len(waits),
                    "real_ends": sum(not r["inside"] for r in rows),
                    "split_files": split,
                }
            )
    return out


def tally_turn(rows: list[dict[str, Any]], files: list[str]) -> list[dict[str, Any]]:
    """Model and text rule together, at each check and threshold (see the docstring)."""
    out = []
    natural = [f for f in files if "_pause" not in f]
    for check in TURN_CHECKS_MS:
        decided_after_ms = (max(1, round(check / WINDOW_MS)) + 1) * WINDOW_MS
        for threshold in TURN_THRESHOLDS:
            for name, rule in [("model alone", None), *RULES.items()]:

                def commits(
                    r: dict[str, Any], rule: Any = rule, at: str = str(check), p: float = threshold
                ) -> bool:
                    if r["turn_p"][at] < p:
                        return False
                    return rule is None or bool(rule(r["text"], r["lang"]))

                split = sorted(
                    {
                        r["file"]
                        for r in rows
                        if r["inside"] and r["pause_ms"] >= decided_after_ms and commits(r)
                    }
                )
                ends = [r for r in rows if not r["inside"]]
                out.append(
                    {
                        "check_ms": check,
                        "threshold": threshold,
                        "rule": name,
                        "split_natural": sum(f in split for f in natural),
                        "natural_files": len(natural),
                        "split_long_pause": sum(f not in natural for f in split),
                        "long_pause_files": len(files) - len(natural),
                        "real_ends_early": sum(commits(r) for r in ends),
                        "real_ends": len(ends),
                        "split_files": split,
                    }
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = Settings()
    engines = load_engines(settings)
    path = model_path(settings.cache_dir)
    turn = SmartTurn(path) if path.exists() else None
    if turn is None:
        print(f"no end-of-turn model at {path}: `lingolive models prepare` fetches it")
    entries = [e for e in manifest_entries().values() if len(e["speech"]) == 1]
    rows: list[dict[str, Any]] = []
    try:
        for entry in entries:
            rows += pauses(engines, settings, entry, turn)
    finally:
        engines.close()
    inside = [r["pause_ms"] for r in rows if r["inside"]]
    print(f"\n{len(entries)} files; {len(inside)} pauses inside a sentence, lasting (ms):")
    print(sorted(inside))
    table = tally(rows, [e["file"] for e in entries])
    print("\n| hangover | rule | split (natural) | split (long pause) | real ends waiting |")
    print("|---|---|---|---|---|")
    for t in table:
        print(
            f"| {t['hangover_ms']} ms | {t['rule']} | {t['split_natural']}/{t['natural_files']}"
            f" | {t['split_long_pause']}/{t['long_pause_files']}"
            f" | {t['real_ends_waiting']}/{t['real_ends']} |"
        )
    turn_table = tally_turn(rows, [e["file"] for e in entries]) if turn is not None else []
    if turn_table:
        calls = sorted(ms for r in rows for ms in r["turn_ms"])
        print(
            f"\nSmart Turn: {len(calls)} calls, p50 {calls[len(calls) // 2]:.0f} ms,"
            f" p90 {calls[int(len(calls) * 0.9)]:.0f} ms (one thread)"
        )
        print("\n| check | p >= | rule | split (natural) | split (long pause) | real ends early |")
        print("|---|---|---|---|---|---|")
        for t in turn_table:
            print(
                f"| {t['check_ms']} ms | {t['threshold']} | {t['rule']}"
                f" | {t['split_natural']}/{t['natural_files']}"
                f" | {t['split_long_pause']}/{t['long_pause_files']}"
                f" | {t['real_ends_early']}/{t['real_ends']} |"
            )
    if args.json:
        result = {"machine": machine(), "tally": table, "turn": turn_table, "pauses": rows}
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
