"""How a translation is cut into pieces for synthesis: the first piece short, nothing lost."""

from __future__ import annotations

import numpy as np
import pytest

from lingolive.engines.espeak_tts import EspeakTTS
from lingolive.pipeline.synthesis import (
    first_clause_apart,
    synthesize_phrase,
    without_lead_silence,
)

SENTENCES = [
    "Good morning, I would like to book a table for two people tonight.",
    "I like to go to the beach in summer with my friends.",
    "The train leaves at half past eight from platform three, so we should hurry.",
    "Thank you very much for your help.",
    "Me gustaría reservar una mesa para dos personas esta noche.",
    "Hola.",
]


@pytest.mark.parametrize("first_words", [0, 3, 4, 6])
@pytest.mark.parametrize("text", SENTENCES)
def test_pieces_keep_every_word_in_order(text: str, first_words: int) -> None:
    pieces = first_clause_apart(text, first_words=first_words, language="en")
    assert " ".join(pieces).split() == text.split()
    assert 1 <= len(pieces) <= 2  # one cut at most: the rest keeps its intonation


def test_first_clause_is_cut_at_its_comma() -> None:
    assert first_clause_apart("Good morning, I would like to book a table.") == [
        "Good morning,",
        "I would like to book a table.",
    ]
    assert first_clause_apart("Yes, please.") == ["Yes, please."]  # too short to gain


def test_long_first_clause_is_cut_before_a_phrase_start() -> None:
    text = "I like to go to the beach in summer with my friends."
    assert first_clause_apart(text) == [text]  # 0: only at punctuation
    assert first_clause_apart(text, first_words=4, language="en") == [
        "I like to go",
        "to the beach in summer with my friends.",
    ]
    spanish = "Me gustaría reservar una mesa para dos personas esta noche."
    assert first_clause_apart(spanish, first_words=4, language="es")[0] == "Me gustaría reservar"
    # No phrase-start word near the cut (unknown language): cut at the count.
    assert first_clause_apart(text, first_words=4, language="xx")[0] == "I like to go"
    # A tail under 3 words is not worth a break.
    assert first_clause_apart("Thank you very much indeed.", first_words=4) == [
        "Thank you very much indeed."
    ]


def longest_inner_silence_s(pcm: np.ndarray, rate: int) -> float:
    loud = np.flatnonzero(np.abs(pcm) > 300)
    return float(np.max(np.diff(loud))) / rate if loud.size > 1 else 0.0


def test_a_cut_is_a_short_pause_not_a_full_stop() -> None:
    """espeak-ng ends every piece with ~300 ms of silence; at a cut made for speed only a
    short pause is kept, and no sound is lost (real engine, no mock)."""
    tts = EspeakTTS()
    text = "Me gustaría reservar una mesa para dos personas esta noche."
    pieces = first_clause_apart(text, first_words=4, language="es")
    assert len(pieces) == 2
    raw = [np.concatenate([p.samples for p in tts.synthesize(part, "es")]) for part in pieces]
    joined_raw = np.concatenate(raw)
    cut = list(synthesize_phrase(tts, text, "es", None, first_words=4))
    rate = cut[0].sample_rate
    spoken = np.concatenate([p.samples for p in cut])
    assert longest_inner_silence_s(joined_raw, rate) > 0.25
    assert longest_inner_silence_s(spoken, rate) < 0.15
    loud = np.abs(joined_raw) > 300
    assert np.count_nonzero(np.abs(spoken) > 300) == np.count_nonzero(loud)  # nothing voiced lost


@pytest.mark.parametrize(
    ("engine", "language", "text"),
    [
        ("piper", "en", "Where is the train station?"),
        ("piper", "en", "I need a doctor, please."),
        ("espeak", "es", "¿Dónde está la estación de tren?"),
        ("espeak", "es", "Buenos días."),
    ],
)
def test_a_phrase_starts_with_its_first_sound(engine: str, language: str, text: str) -> None:
    """Engines put silence before a sentence's first sound (Piper 30-60 ms, espeak-ng up to
    ~50 ms): the listener would wait for nothing. The phrase starts within 6 ms of that
    sound, and everything from there on is kept sample for sample (real engines)."""
    from lingolive.engines.piper_tts import PiperTTS

    tts = PiperTTS() if engine == "piper" else EspeakTTS()
    pieces = list(tts.synthesize(text, language))
    rate = pieces[0].sample_rate
    raw = np.concatenate([p.samples for p in pieces])
    onset = int(np.flatnonzero(np.abs(raw) > 32)[0])
    assert onset > 0.01 * rate  # the engine's own lead
    trimmed = np.concatenate([p.samples for p in without_lead_silence(iter(pieces))])
    assert np.flatnonzero(np.abs(trimmed) > 32)[0] <= 0.006 * rate
    assert np.array_equal(trimmed, raw[len(raw) - len(trimmed) :])
    # and a phrase is spoken that way
    spoken = np.concatenate([p.samples for p in synthesize_phrase(tts, text, language, None)])
    assert np.flatnonzero(np.abs(spoken) > 32)[0] <= 0.006 * rate
