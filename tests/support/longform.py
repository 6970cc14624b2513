"""Long speech spoken to a live server, and how well the translation kept up with it.

Shared by ``bench/longform.py`` and the long-speech tests, so the benchmark's numbers and
the CI floor come from the same code. Per file (``tests/data/long``): **word lag** (for
every source word, the estimated instant its translation is heard — the first translated
audio of the segment it was committed in, plus the word's share of that segment's audio —
minus the instant the word ended), **first audio**, **End Offset** (end of the last
translated audio minus the end of the last word), **words lost** (deletions in the WER
alignment of the joined final transcripts, and the longest run of them), WER, chrF, and
how far behind the listener is every second.

A segment's translated audio is found on the received track: segments play in order, and
the ``timing`` message of a segment reaches the client when its first frame leaves the
server, so its audio is the loud frames from then until the next segment's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from lingolive.protocol import ErrorMsg, NoticeMsg, TimingMsg, TranslationMsg
from support.client import LoopbackClient, PacedFileTrack, load_pcm48
from support.evaluation import chrf, normalize

LONG = Path(__file__).resolve().parent.parent / "data" / "long"
#: A received frame louder than this (int16 RMS) is translated speech.
LOUD_RMS = 300.0
FRAME_S = 0.02


def entries() -> list[dict[str, Any]]:
    return list(json.loads((LONG / "manifest.json").read_text()))


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.array(values), q)), 3) if values else None


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


# -- what the client got --------------------------------------------------------------------


def loud_frames(client: LoopbackClient) -> list[float]:
    """Arrival instants of the received frames that carry speech."""
    out = []
    for t, frame in zip(client.received.arrivals, client.received.frames, strict=True):
        if frame.size and float(np.sqrt(np.mean(frame.astype(np.float32) ** 2))) > LOUD_RMS:
            out.append(t)
    return out


def segment_audio(client: LoopbackClient) -> dict[int, tuple[float, float]]:
    """Per segment id: (first, last) arrival of its loud translated frames."""
    timings = sorted(
        (client.arrival(e), e.segment_id) for e in client.of_type(TimingMsg) if e.audio_ms
    )
    loud = loud_frames(client)
    spans: dict[int, tuple[float, float]] = {}
    for i, (at, segment_id) in enumerate(timings):
        until = timings[i + 1][0] if i + 1 < len(timings) else float("inf")
        mine = [t for t in loud if at - 0.05 <= t < until]
        if mine:
            spans[segment_id] = (mine[0], mine[-1] + FRAME_S)
    return spans


# -- alignment ------------------------------------------------------------------------------


def align(reference: list[str], hypothesis: list[str]) -> list[int | None]:
    """For each reference word, the index of the hypothesis word it is aligned to (equal or
    substituted), None if it was deleted: jiwer's WER alignment."""
    import jiwer

    out: list[int | None] = [None] * len(reference)
    if not hypothesis:
        return out
    chunks = jiwer.process_words(" ".join(reference), " ".join(hypothesis)).alignments[0]
    for c in chunks:
        if c.type in ("equal", "substitute"):
            for k in range(c.ref_end_idx - c.ref_start_idx):
                out[c.ref_start_idx + k] = c.hyp_start_idx + k
    return out


def longest_run(lost: list[bool]) -> int:
    best = run = 0
    for gone in lost:
        run = run + 1 if gone else 0
        best = max(best, run)
    return best


# -- one file -------------------------------------------------------------------------------


def score(entry: dict[str, Any], client: LoopbackClient, t0: float) -> dict[str, Any]:
    """The file's numbers from what ``client`` received; ``t0``: wall instant of sample 0."""
    finals = client.finals()
    translations = {e.segment_id: e.text for e in client.of_type(TranslationMsg)}
    spans = segment_audio(client)
    # Hypothesis words, each with the segment it came in and its place there.
    hyp: list[str] = []
    owner: list[tuple[int, int, int]] = []  # (segment id, index in segment, words in segment)
    for e in finals:
        seg_words = normalize(e.text).split()
        for k, word in enumerate(seg_words):
            hyp.append(word)
            owner.append((e.segment_id, k, len(seg_words)))
    words = entry["words"]
    # Tokens as the scorer sees them ("twenty-two" is two), each with its reference word.
    ref: list[str] = []
    token_word: list[int] = []
    for i, (word, _, _) in enumerate(words):
        for token in normalize(word).split():
            ref.append(token)
            token_word.append(i)
    first_match: list[int | None] = [None] * len(words)
    for i, a in zip(token_word, align(ref, hyp), strict=True):
        if a is not None and first_match[i] is None:
            first_match[i] = a
    aligned = first_match
    lost = [a is None for a in aligned]

    lags: list[float] = []
    heard_at: list[float | None] = []
    for (_, _, end), a in zip(words, aligned, strict=True):
        if a is None:
            heard_at.append(None)
            continue
        segment_id, k, n = owner[a]
        span = spans.get(segment_id)
        if span is None:
            heard_at.append(None)
            continue
        first, last = span
        heard = first + (last - first) * (k + 0.5) / n
        heard_at.append(heard)
        lags.append(heard - (t0 + end))

    loud = loud_frames(client)
    first_word = t0 + words[0][1]
    last_word = t0 + words[-1][2]
    after_start = [t for t in loud if t >= first_word]
    first_audio = after_start[0] - first_word if after_start else None
    last_audio = loud[-1] + FRAME_S if loud else None
    behind = []
    horizon = max(last_audio or last_word, last_word)
    t = first_word + 1.0
    while t <= horizon + 0.5:
        heard_ends = [
            t0 + end
            for (_, _, end), h in zip(words, heard_at, strict=True)
            if h is not None and h <= t
        ]
        spoken_until = min(t, last_word)
        behind.append(
            [
                round(t - first_word, 1),
                round(spoken_until - (max(heard_ends) if heard_ends else first_word), 2),
            ]
        )
        t += 1.0
    # Where each segment's lag comes from: its last word spoken, its commit (the final
    # transcript's arrival), its first and last translated audio, the listener's backlog and
    # the speed it was spoken at (seconds after sample 0).
    spoken_end: dict[int, float] = {}
    for (_, _, end), a in zip(words, aligned, strict=True):
        if a is not None:
            segment_id = owner[a][0]
            spoken_end[segment_id] = max(spoken_end.get(segment_id, 0.0), end)
    timing_of = {e.segment_id: e for e in client.of_type(TimingMsg) if e.audio_ms}
    stages = []
    for e in finals:
        span = spans.get(e.segment_id)
        timed = timing_of.get(e.segment_id)
        stages.append(
            {
                "segment_id": e.segment_id,
                "words": len(e.text.split()),
                "spoken_end_s": spoken_end.get(e.segment_id),
                "committed_s": round(client.arrival(e) - t0, 3),
                "audio_s": None if span is None else [round(x - t0, 3) for x in span],
                "backlog_ms": None if timed is None else timed.backlog_ms,
                "speed": None if timed is None else timed.speed,
            }
        )
    import jiwer

    hyp_text = " ".join(hyp)
    ref_text = normalize(entry["text"])
    wer = float(jiwer.wer(ref_text, hyp_text)) if hyp_text else 1.0
    translation = " ".join(translations.get(e.segment_id, "") for e in finals).strip()
    timing = client.of_type(TimingMsg)
    return {
        "file": entry["file"],
        "lang": entry["lang"],
        "target": entry["target"],
        "speech_s": round(words[-1][2] - words[0][1], 2),
        "words": len(words),
        "segments": len(finals),
        "word_lag_mean_s": mean(lags),
        "word_lag_p50_s": pct(lags, 50),
        "word_lag_p90_s": pct(lags, 90),
        "first_audio_s": None if first_audio is None else round(first_audio, 3),
        # translated speech was heard while the speaker still talked
        "heard_before_end": bool(after_start) and after_start[0] < last_word,
        "end_offset_s": None if last_audio is None else round(last_audio - last_word, 3),
        "words_lost": round(sum(lost) / len(lost), 4),
        "longest_lost_run": longest_run(lost),
        "wer": round(wer, 4),
        "chrf": round(chrf([entry["reference_translation"]], [translation]), 2),
        "behind_s": behind,
        "errors": [e.model_dump() for e in client.of_type(ErrorMsg)],
        "notices": [e.code for e in client.of_type(NoticeMsg)],
        "transcript": " ".join(e.text for e in finals),
        "translation": translation,
        "segment_texts": [e.text for e in finals],
        "segment_stages": stages,
        "timing": [
            e.model_dump(include={"segment_id", "first_audio_out_ms", "audio_ms", "stt_ms"})
            for e in timing
        ],
    }


async def speak(url: str, entry: dict[str, Any], tail_s: float = 5.0) -> dict[str, Any]:
    track = PacedFileTrack(load_pcm48(LONG / entry["file"]))
    client = LoopbackClient(url)
    try:
        await client.connect(track, source_lang=entry["lang"], target_lang=entry["target"])
        while track.started_at is None:  # noqa: ASYNC110 - set by aiortc's sender
            await asyncio.sleep(0.01)
        await asyncio.sleep(track.duration_s + 0.5)
        with contextlib.suppress(TimeoutError):
            await client.wait_settled(60)
        await asyncio.sleep(tail_s)
    finally:
        await client.close()
    assert track.started_at is not None
    return score(entry, client, track.started_at)
