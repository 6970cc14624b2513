"""The rules that turn what a client heard into benchmark numbers (no server needed)."""

from __future__ import annotations

from support.evaluation import answers, heard_before_sent, trailing_insertions


def test_phrase_ending_while_translated_speech_plays_is_queued() -> None:
    runs = [(1.0, 3.0), (5.2, 6.0)]  # translated speech, (start, end) at the client
    ends = [0.5, 2.0, 4.8]  # phrase ends sent
    matched = answers(runs, ends)
    assert matched[0] == ((1.0, 3.0), False)  # answered 500 ms later
    assert matched[1] == (None, True)  # ended while (1.0, 3.0) played: queued behind it
    assert matched[2] == ((5.2, 6.0), False)


def test_unanswered_phrase_has_no_run() -> None:
    assert answers([(1.0, 2.0)], [0.5, 3.0]) == [((1.0, 2.0), False), (None, False)]


def test_audio_heard_before_the_server_sent_the_translation_is_the_previous_one() -> None:
    # Heard 300 ms after the phrase ended, but the server sent its translation only after
    # 650 ms: the audio heard was the previous phrase's translation resuming after a pause.
    assert heard_before_sent(300.0, 1, 650.0)
    assert not heard_before_sent(700.0, 1, 650.0)  # a real answer (transport took 50 ms)
    # A phrase committed in two segments: the first segment's audio may come before the
    # last segment was sent.
    assert not heard_before_sent(300.0, 2, 650.0)
    assert not heard_before_sent(None, 1, 650.0)
    assert not heard_before_sent(300.0, 1, None)


def test_trailing_insertions_count_words_invented_after_the_speech() -> None:
    said = "Necesito un médico, por favor."
    assert trailing_insertions(said, "Necesito un médico por favor.") == 0
    assert trailing_insertions(said, "Necesito un médico, por favor. Gracias.") == 1
    # A misheard word inside the phrase is a substitution, not an invention.
    assert trailing_insertions(said, "Necesito el médico. Famboy.") == 0
    assert trailing_insertions("", "Hola.") == 1
