"""How a translation is cut into pieces for synthesis: the first piece short, nothing lost."""

from __future__ import annotations

import pytest

from lingolive.pipeline.speaker import first_clause_apart

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
