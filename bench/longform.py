"""Long speech: how far behind the speaker the translation is heard, and what is lost.

An interpreter is judged by the *ear-voice span*: for every source word, when its
translation is heard minus when it was spoken. This benchmark streams each file of the long
set (``tests/data/long``, made by ``bench/make_longform.py``: lectures, run-on sentences, a
fast speaker, a human reading; 30 s and more each) into a server over WebRTC in real time,
as one microphone, and measures, per file and pooled:

* **word lag** (mean, p50, p90): per source word, the estimated instant its translation is
  heard — the first translated audio of the segment it was committed in, plus the word's
  share of that segment's audio (its position among the segment's words) — minus the
  instant the word ended (``words`` in the manifest: Whisper's word times on the file).
* **first audio**: first translated audio heard after the speaker's first word starts.
* **End Offset**: the end of the last translated audio minus the end of the last word.
* **words lost**: deletions in the WER alignment of the joined final transcripts against
  the exact text (their share, and the longest run of consecutive lost words), WER, and
  chrF of the joined translations against the reference translation.
* **behind**: every second of the talk, how much of the speech has not been heard
  translated yet (the seconds between now and the end of the last word whose translation
  was heard by now): the backlog a listener feels.

A segment's translated audio is found on the received track: segments play in order, and
the ``timing`` message of a segment reaches the client when its first frame leaves the
server, so its audio is the loud frames from then until the next segment's.

Usage:
    .venv/bin/python bench/longform.py [--files NAME ...] [--env LL_X=v ...] \
        [--json bench/results/longform/NAME.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from latency import ServerProcess, machine  # noqa: E402
from support.longform import entries, mean, speak  # noqa: E402

POOLED = ("word_lag_mean_s", "word_lag_p90_s", "first_audio_s", "end_offset_s", "words_lost")


def pooled(files: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (*POOLED, "longest_lost_run", "wer", "chrf"):
        values = [f[key] for f in files if f.get(key) is not None]
        out[f"{key}_mean"] = mean(values)
        out[f"{key}_max"] = round(max(values), 4) if values else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="*", help="file names (stem) of the long set")
    parser.add_argument("--env", nargs="*", default=[], help="LL_X=value for the server")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    env = dict(kv.split("=", 1) for kv in args.env)
    chosen = [e for e in entries() if not args.files or Path(e["file"]).stem in args.files]
    server = ServerProcess(env)
    results: list[dict[str, Any]] = []
    try:
        server.wait_ready()
        ws = server.url.replace("http", "ws") + "/ws"
        for run in range(args.repeat):
            for entry in chosen:
                started = time.monotonic()
                result = asyncio.run(speak(ws, entry))
                result["run"] = run
                results.append(result)
                print(
                    f"{result['file']}: lag {result['word_lag_mean_s']}"
                    f"/{result['word_lag_p90_s']} s, "
                    f"first {result['first_audio_s']} s, end offset {result['end_offset_s']} s, "
                    f"lost {result['words_lost']:.1%} (run {result['longest_lost_run']}), "
                    f"WER {result['wer']:.3f}, chrF {result['chrf']:.1f}, "
                    f"{result['segments']} segments ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
    finally:
        server.stop()
    summary = {"env": env, "machine": machine(), "pooled": pooled(results), "files": results}
    print(json.dumps(summary["pooled"], indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
