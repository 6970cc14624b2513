"""LocalAgreement and the end-of-sentence test that early commits rely on."""

from __future__ import annotations

from lingolive.pipeline.agreement import LocalAgreement, ends_sentence


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
