"""Where confirmed words are committed while the speaker goes on: sentences, or clauses."""

from __future__ import annotations

from lingolive.pipeline.commit_points import commit_point


def point(
    text: str, lang: str = "en", *, heard: int | None = None, mode: str = "clause"
) -> int | None:
    confirmed = text.split()
    return commit_point(
        confirmed,
        len(confirmed) + 1 if heard is None else heard,
        lang,
        mode=mode,  # type: ignore[arg-type]
        min_words=4,
        max_words=10,
    )


def test_a_finished_sentence_followed_by_more_words_is_a_point_in_both_modes() -> None:
    for mode in ("clause", "sentence"):
        assert point("Where is the nearest station? I", mode=mode) == 5
        # nothing heard after it: the full stop may be the window's edge
        assert point("Where is the nearest station?", heard=5, mode=mode) is None


def test_sentences_only_in_sentence_mode() -> None:
    assert point("When I arrived at the hotel, the room", mode="sentence") is None
    assert point("Good morning. I", mode="sentence") is None  # too short alone


def test_a_comma_ends_a_clause_that_more_words_follow() -> None:
    assert point("When I arrived at the hotel, the room") == 6
    assert point("Yes, I think that", lang="en") is None  # "Yes," alone is too short


def test_a_word_that_opens_a_clause_is_a_point_before_it() -> None:
    assert point("The pipes are buried deep because the") == 5
    assert point("El café llegó a Europa y muy", lang="es") == 5


def test_never_on_a_dangling_word() -> None:
    assert (
        point("I would like a table for, and") is None
        or point("I would like a table for, and") != 6
    )
    # a long run with no boundary is cut at the latest word that can end a phrase
    text = "the people who lived on the north side of the old town near"
    got = point(text)
    assert got is not None
    assert text.split()[got - 1] not in {"the", "of", "on", "near"}


def test_the_latest_point_wins() -> None:
    assert point("It was the best of times, it was the worst of times, it was") == 12


def test_a_long_run_without_a_boundary_is_committed_at_a_bounded_lag() -> None:
    text = "we were all going direct to heaven we were all going direct the other"
    got = point(text)
    assert got is not None and len(text.split()) - got <= 10


def test_the_last_confirmed_word_is_never_the_clause_end() -> None:
    assert point("When I arrived at the hotel,", heard=6) is None
