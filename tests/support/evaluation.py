"""Measuring the product: speak a file to a live server, score what comes back.

Shared by ``bench/latency.py``, ``bench/quality.py`` and the test suite, so the benchmark
numbers and the CI floors come from the same code. Needs the ``dev`` extra (jiwer,
sacrebleu) for scoring.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lingolive.protocol import ServerMessage, TimingMsg, TranscriptMsg, TranslationMsg
from support.client import LoopbackClient, PacedFileTrack, load_pcm48

_NUMBERS = {
    "10": "ten",
    "2": "two",
    "8": "eight",
    "1": "one",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "9": "nine",
}


@dataclass
class Sample:
    """One spoken phrase of a file, as the client experienced it."""

    file: str
    index: int
    speech_end_s: float
    latency_ms: float | None  # end of speech sent -> first translated audio received
    queued: bool  # translated speech was still playing when this phrase ended
    last_audio_ms: float | None  # end of speech sent -> last translated audio received
    server: dict[str, Any] = field(default_factory=dict)  # the phrase's last `timing`
    text: str = ""  # final transcripts of the segments of this phrase
    translation: str = ""
    segments: int = 0


@dataclass
class FileRun:
    samples: list[Sample]
    events: list[ServerMessage]


Run = tuple[float, float]  # (start, end) arrival instants of a stretch of received audio


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(np.array(values), q)) if values else None


def voiced_runs(client: LoopbackClient, level: float = 300.0) -> list[Run]:
    """Non-silent runs of received audio: (start, end) arrival instants, gaps < 0.3 s joined."""
    return loud_runs(client.received.voiced(level))


def loud_runs(frames: Iterable[tuple[float, bool]]) -> list[Run]:
    """(arrival, loud) per received frame → runs of loud frames: (start, end) arrival
    instants, gaps < 0.3 s joined (one translated phrase is one run)."""
    runs: list[Run] = []
    for t, loud in frames:
        if not loud:
            continue
        if runs and t - runs[-1][1] < 0.3:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


def answers(runs: list[Run], ends: list[float]) -> list[tuple[Run | None, bool]]:
    """Match each phrase end instant to the translated audio that answers it.

    Returns, per phrase, the first voiced run that starts after it ended and before the next
    phrase ended (``None`` if none came), and whether translated speech was still playing when
    it ended (``queued``): then the answer's start measures the queue, not this phrase, so
    such phrases get no run and are counted apart.
    """
    matched: list[tuple[Run | None, bool]] = []
    for i, sent_end in enumerate(ends):
        next_end = ends[i + 1] if i + 1 < len(ends) else None
        if any(r[0] < sent_end < r[1] for r in runs):
            matched.append((None, True))
            continue
        run = next(
            (r for r in runs if r[0] >= sent_end and (next_end is None or r[0] < next_end)),
            None,
        )
        matched.append((run, False))
    return matched


def server_stages(timing: dict[str, Any]) -> dict[str, Any]:
    """A phrase's ``timing`` (as JSON: the browser benchmark reads it off the page) durations
    and stage marks, and ``ready_ahead_ms``: how long before the end decision its first
    translated audio was ready (speech made ahead; negative: after)."""
    out = {k: v for k, v in timing.items() if k.endswith("_ms")}
    stages = timing.get("stages") or {}
    if "vad_end" in stages and "tts_first_audio" in stages:
        out["ready_ahead_ms"] = round(stages["vad_end"] - stages["tts_first_audio"], 1)
    if stages:
        out["stages"] = stages  # every mark, in ms from the end of speech
    return out


def heard_before_sent(heard_ms: float | None, segments: int, sent_out_ms: float | None) -> bool:
    """The audio taken as a phrase's answer reached the client before the server sent the
    phrase's translation: it was the previous translation going on after a pause, so the
    phrase waited behind it (*queued*) and its latency is not measured.

    Only for a phrase committed as one segment: ``sent_out_ms`` is the server's end of speech
    → first frame out of the phrase's last segment, and an earlier segment's audio may
    rightly come first.
    """
    return (
        heard_ms is not None
        and segments == 1
        and sent_out_ms is not None
        and (heard_ms < sent_out_ms)
    )


async def speak_file(
    ws_url: str,
    wav: Path,
    spans: list[tuple[float, float]],
    source: str,
    target: str,
    *,
    tail_s: float = 4.0,
) -> FileRun:
    """Send ``wav`` as a live microphone; measure each phrase (``spans``: speech times)."""
    track = PacedFileTrack(load_pcm48(wav))
    client = LoopbackClient(ws_url)
    try:
        await client.connect(track, source_lang=source, target_lang=target)
        while track.started_at is None:  # noqa: ASYNC110 - set by aiortc's sender
            await asyncio.sleep(0.01)
        await asyncio.sleep(track.duration_s + 0.5)
        # Wait until every phrase is voiced and the server has gone quiet (at most 30 s),
        # then let the last translation play out.
        with contextlib.suppress(TimeoutError):
            await client.wait_settled(30)
        await asyncio.sleep(tail_s)
    finally:
        await client.close()
    assert track.started_at is not None
    t0 = track.started_at
    runs = voiced_runs(client)
    ends = [t0 + end for _, end in spans]

    # Each segment belongs to the last phrase that had ended when its final transcript came.
    finals = client.finals()
    by_phrase: dict[int, list[TranscriptMsg]] = {}
    for event in finals:
        ended = [i for i, end in enumerate(ends) if end <= client.arrival(event)]
        by_phrase.setdefault(ended[-1] if ended else 0, []).append(event)
    timings = {e.segment_id: e for e in client.of_type(TimingMsg)}
    translations = {e.segment_id: e for e in client.of_type(TranslationMsg)}

    samples = []
    for i, (sent_end, (run, queued)) in enumerate(zip(ends, answers(runs, ends), strict=True)):
        segs = by_phrase.get(i, [])
        timing = timings.get(segs[-1].segment_id) if segs else None
        sent_out = timing.first_audio_out_ms if timing is not None else None
        heard_ms = None if run is None else (run[0] - sent_end) * 1000
        if heard_before_sent(heard_ms, len(segs), sent_out):
            run, queued = None, True
        samples.append(
            Sample(
                file=wav.name,
                index=i,
                speech_end_s=spans[i][1],
                latency_ms=None if run is None else (run[0] - sent_end) * 1000,
                queued=queued,
                last_audio_ms=None if run is None else (run[1] - sent_end) * 1000 + 20,
                server=server_stages({} if timing is None else timing.model_dump(mode="json")),
                text=" ".join(e.text for e in segs),
                translation=" ".join(
                    translations[e.segment_id].text for e in segs if e.segment_id in translations
                ),
                segments=len(segs),
            )
        )
    return FileRun(samples, client.events)


# --- scoring -------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lower case, no punctuation, digits spelled (Whisper writes "10" for "ten")."""
    text = text.lower().replace("'s ", " is ").replace("’", "'")
    text = re.sub(r"[^\w' ]+", " ", text)
    return " ".join(_NUMBERS.get(w, w) for w in text.split())


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    return float(jiwer.wer(refs, hyps))


def trailing_insertions(reference: str, hypothesis: str) -> int:
    """Words the hypothesis adds after the last word of the reference it matched.

    Whisper, fed the silence after a phrase, can invent words there (its classic is a
    closing "Thank you."); insertions at the end of the alignment count those. A misheard
    last word is a substitution and does not count.
    """
    import jiwer

    ref, hyp = normalize(reference), normalize(hypothesis)
    if not hyp:
        return 0
    if not ref:
        return len(hyp.split())
    chunks = jiwer.process_words(ref, hyp).alignments[0]
    last = chunks[-1]
    return last.hyp_end_idx - last.hyp_start_idx if last.type == "insert" else 0


def chrf(references: list[str], hypotheses: list[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)


def bleu(references: list[str], hypotheses: list[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)
