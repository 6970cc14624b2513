"""The segmenter on real speech: one utterance per phrase, at the right times."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from conftest import audio
from lingolive.config import SegmenterConfig
from lingolive.engines.base import MODEL_RATE
from lingolive.engines.registry import Engines
from lingolive.pipeline.segmenter import (
    Segmenter,
    SegmenterEvent,
    SpeechEnded,
    SpeechPaused,
    SpeechProgress,
    SpeechQuiet,
    SpeechResumed,
    SpeechStarted,
)


def run(
    engines: Engines, data: np.ndarray, config: SegmenterConfig, chunk: int = 320
) -> list[SegmenterEvent]:
    seg = Segmenter(engines.vad, config)
    events: list[SegmenterEvent] = []
    for pos in range(0, len(data), chunk):
        piece = data[pos : pos + chunk]
        events += seg.feed(piece, (pos + len(piece)) / MODEL_RATE)
    events += seg.flush(len(data) / MODEL_RATE)
    return events


def test_dialogue_splits_into_its_phrases(engines: Engines, manifest: list[dict[str, Any]]) -> None:
    entry = next(e for e in manifest if e["file"] == "en_piper_dialogue.wav")
    events = run(
        engines, audio(entry["file"]), SegmenterConfig(hangover_ms=200, undo_window_ms=400)
    )
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == len(entry["speech"]) == 8
    for event, (start, end) in zip(ended, entry["speech"], strict=True):
        assert abs(event.speech_start_at - start) < 0.15, (event.speech_start_at, start)
        assert abs(event.speech_end_at - end) < 0.15, (event.speech_end_at, end)
        # Ended one undo window after the end of speech (window granularity: 32 ms).
        assert 0.35 <= event.decided_at - event.speech_end_at <= 0.45
        assert not event.forced
    assert [e.utterance_id for e in ended] == list(range(1, 9))
    # Each phrase paused (hangover) before it ended (undo window), with the same audio; some
    # also paused inside (after a comma) and resumed.
    for end in ended:
        pauses = [
            e for e in events if isinstance(e, SpeechPaused) and e.utterance_id == end.utterance_id
        ]
        assert pauses, end.utterance_id
        assert 0.15 <= pauses[-1].decided_at - pauses[-1].speech_end_at <= 0.25
        assert np.array_equal(pauses[-1].audio, end.audio)
    resumed = [e for e in events if isinstance(e, SpeechResumed)]
    assert len([e for e in events if isinstance(e, SpeechPaused)]) == 8 + len(resumed)


def test_pause_shorter_than_undo_window_is_undone(engines: Engines) -> None:
    """Two phrases 0.4 s apart: paused, resumed, one utterance; 0.8 s apart: two."""
    first = audio("en_piper_02.wav")[int(0.9 * MODEL_RATE) : int(2.49 * MODEL_RATE)]
    second = audio("en_piper_03.wav")[int(0.97 * MODEL_RATE) : int(3.2 * MODEL_RATE)]
    config = SegmenterConfig(hangover_ms=200, undo_window_ms=600)
    for gap_s, utterances in ((0.4, 1), (0.8, 2)):
        gap = np.zeros(int(gap_s * MODEL_RATE), np.float32)
        tail = np.zeros(MODEL_RATE, np.float32)
        events = run(engines, np.concatenate([first, gap, second, tail]), config)
        kinds = [type(e).__name__ for e in events if not isinstance(e, SpeechProgress)]
        ended = [e for e in events if isinstance(e, SpeechEnded)]
        assert len(ended) == utterances, kinds
        if utterances == 1:
            assert kinds == [
                "SpeechStarted",
                "SpeechPaused",
                "SpeechResumed",
                "SpeechPaused",
                "SpeechEnded",
            ], kinds
            assert len(ended[0].audio) > len(first) + len(second)


def test_a_short_silence_asks_the_end_of_turn_model_before_the_pause(engines: Engines) -> None:
    """``SpeechQuiet`` comes at ``turn_check_ms`` of silence, before the pause, with the
    phrase as the pause will carry it and, for the model, the silence heard so far."""
    data = np.concatenate([audio("en_piper_01.wav"), np.zeros(MODEL_RATE, np.float32)])
    config = SegmenterConfig(turn_check_ms=200, hangover_ms=350, undo_window_ms=600)
    events = [e for e in run(engines, data, config) if not isinstance(e, SpeechProgress)]
    quiet = [e for e in events if isinstance(e, SpeechQuiet)]
    pause = [e for e in events if isinstance(e, SpeechPaused)]
    assert len(quiet) >= len(pause) >= 1  # a pause inside may be quiet, and no longer
    q, p = quiet[-1], pause[-1]
    order = [id(e) for e in events]
    assert order.index(id(q)) == order.index(id(p)) - 1
    assert np.array_equal(q.audio, p.audio) and q.speech_end_at == p.speech_end_at
    assert 0.15 <= q.at - q.speech_end_at <= 0.25 < p.decided_at - p.speech_end_at
    silence_heard = (len(q.heard) - q.speech_samples) / MODEL_RATE
    assert 0.15 <= silence_heard <= 0.25
    # Off by default (the settings turn it on where a model is installed).
    assert not any(isinstance(e, SpeechQuiet) for e in run(engines, data, SegmenterConfig()))


def test_events_are_ordered_with_progress(engines: Engines) -> None:
    events = run(engines, audio("en_piper_01.wav"), SegmenterConfig(partial_interval_ms=500))
    kinds = [type(e) for e in events]
    assert kinds[0] is SpeechStarted and kinds[-1] is SpeechEnded
    progress = [e for e in events if isinstance(e, SpeechProgress)]
    assert len(progress) >= 4  # a 3 s phrase, every 0.5 s
    lengths = [len(p.audio) for p in progress]
    assert lengths == sorted(lengths)
    end = events[-1]
    assert isinstance(end, SpeechEnded)
    # Pre-roll keeps the onset: audio starts before the first voiced window.
    assert len(end.audio) / MODEL_RATE > 3.0


def test_chunk_size_does_not_matter(engines: Engines) -> None:
    data = audio("en_piper_02.wav")
    a = [e for e in run(engines, data, SegmenterConfig(), chunk=320) if isinstance(e, SpeechEnded)]
    b = [e for e in run(engines, data, SegmenterConfig(), chunk=4410) if isinstance(e, SpeechEnded)]
    assert len(a) == len(b) == 1
    assert np.array_equal(a[0].audio, b[0].audio)


def test_silence_and_clicks_make_no_utterance(engines: Engines) -> None:
    rng = np.random.default_rng(0)
    data = (rng.normal(0, 0.002, 3 * MODEL_RATE)).astype(np.float32)
    data[MODEL_RATE : MODEL_RATE + 80] = 0.9  # a 5 ms click
    assert run(engines, data, SegmenterConfig()) == []


def test_long_speech_is_cut(engines: Engines, manifest: list[dict[str, Any]]) -> None:
    data = audio("human/beckett.wav")
    ended = [
        e
        for e in run(engines, data, SegmenterConfig(max_utterance_s=2.0, hangover_ms=2000))
        if isinstance(e, SpeechEnded)
    ]
    assert any(e.forced for e in ended)
    assert all(len(e.audio) / MODEL_RATE <= 2.05 for e in ended)


def test_a_long_utterance_is_cut_between_words_and_nothing_is_lost(engines: Engines) -> None:
    """A run-on sentence with no pause as long as the hangover: every forced cut falls
    between two words (at the weakest voice of the last 1.5 s), and the next utterance
    starts exactly where the cut one ended, so every sample of speech is in one of them."""
    import json

    from conftest import DATA

    entry = next(
        e
        for e in json.loads((DATA / "long" / "manifest.json").read_text())
        if e["file"] == "en_piper_run_on.flac"
    )
    data = audio("long/en_piper_run_on.flac")
    events = run(engines, data, SegmenterConfig(max_utterance_s=5.0))
    starts = {e.utterance_id: e.audio_t0 for e in events if isinstance(e, SpeechStarted)}
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    forced = [e for e in ended if e.forced]
    assert len(forced) >= 4
    spans = [
        (starts[e.utterance_id], starts[e.utterance_id] + len(e.audio) / MODEL_RATE) for e in ended
    ]
    for (_, end), (start, _) in itertools.pairwise(spans):
        if end > entry["speech"][0] and start < entry["speech"][1]:
            assert abs(start - end) < 1e-6 or start > end  # contiguous, or a real pause
    inside = [
        (word, round(cut, 2))
        for e in forced
        for cut in [starts[e.utterance_id] + len(e.audio) / MODEL_RATE]
        for word, w_start, w_end in entry["words"]
        if w_start + 0.08 < cut < w_end - 0.08
    ]
    # Word times come from Whisper's alignment (±50 ms or so): a cut well inside one is a cut word.
    assert len(inside) <= len(forced) // 4, inside
