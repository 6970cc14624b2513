"""LocalAgreement and the end-of-sentence test that early commits rely on."""

from __future__ import annotations

from lingolive.pipeline.agreement import LocalAgreement
from lingolive.pipeline.sentence_end import complete_at_pause, ends_sentence


def test_words_are_confirmed_when_two_passes_agree() -> None:
    agreement = LocalAgreement()
    assert agreement.update("Good morning, I") == []
    assert agreement.update("Good morning. I would like") == ["Good", "morning.", "I"]
    # A later pass that disagrees never takes confirmed words back.
    assert agreement.update("Could morning") == ["Good", "morning.", "I"]
    assert agreement.update("Good morning. I would like a table") == ["Good", "morning.", "I"]
    assert agreement.update("Good morning. I would like a table for") == [
        "Good",
        "morning.",
        "I",
        "would",
        "like",
        "a",
        "table",
    ]
    agreement.drop(2)
    assert agreement.text == "I would like a table"


def test_ends_sentence() -> None:
    assert ends_sentence("How much does this cost?", "en")
    assert ends_sentence("I said no.", "en")
    assert not ends_sentence("I would like to book a table for.", "en")  # cut by a pause
    assert not ends_sentence("a table for...", "en")
    assert not ends_sentence("and then…", "en")
    assert not ends_sentence("Good morning,", "en")
    assert not ends_sentence("Quiero una mesa para.", "es")
    assert ends_sentence("Quiero una mesa.", "es")
    assert ends_sentence("«Oui.»", "fr")


def test_complete_at_pause_needs_a_sentence_that_stands_alone() -> None:
    """A full stop at a pause is often the window's edge: only a sentence that reads as
    finished is committed before the undo window."""
    assert complete_at_pause("How much does this cost?", "en")
    assert complete_at_pause("My flight was cancelled.", "en")
    assert complete_at_pause("Necesito un médico.", "es")
    # A greeting or address before a comma pause.
    assert not complete_at_pause("Good morning.", "en")
    assert not complete_at_pause("Muchas gracias.", "es")
    assert not complete_at_pause("Yes.", "en")
    # An opening clause whose main clause has not been said yet.
    assert not complete_at_pause("When I arrived at the hotel.", "en")
    assert not complete_at_pause("If it rains tomorrow.", "en")
    assert not complete_at_pause("Cuando llegué al hotel.", "es")
    # ...but a question, or a clause with its main clause, is finished.
    assert complete_at_pause("When does the train leave?", "en")
    assert complete_at_pause("If it rains, we stay home.", "en")
    # Still no sentence on a dangling word.
    assert not complete_at_pause("I would like to book a table for.", "en")
