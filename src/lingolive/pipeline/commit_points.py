"""Where confirmed words may be committed while the speaker goes on.

LocalAgreement confirms words that two passes agree on; this module decides how many of
them form a unit worth translating now, before the speaker stops. Two policies
(``LL_INTERPRET``):

* ``sentence``: only a finished sentence (``sentence_end.ends_sentence``) of
  ``MIN_SENTENCE_WORDS`` words or more, followed by words already heard.
* ``clause`` (interpretation, as a human interpreter does it): also a clause, at the latest
  of these points, never shorter than ``min_words``:
  - after a comma, semicolon or colon that more words follow;
  - before a word that opens a new clause ("and", "because", "which", "que", "porque"…);
  - when ``max_words`` confirmed words pile up with no such point (a wait-k bound: the
    listener must not fall further behind than that), after the last confirmed word that
    can end a phrase.
  A clause never ends on a word that cannot end one ("the", "of", "de", "con"…): translated
  alone, a dangling word comes out wrong and the next clause without its start.

The last confirmed word is never a commit point for a clause: a pass may still add
punctuation or a word to it.
"""

from __future__ import annotations

from lingolive.config import Interpret
from lingolive.pipeline.agreement import norm
from lingolive.pipeline.sentence_end import DANGLING, ends_sentence

#: Shortest stretch committed as a sentence while the speaker goes on: a sentence of a word
#: or two ("Good morning.") spoken alone sounds choppy and translates worse.
MIN_SENTENCE_WORDS = 4

#: Words that open a new clause: a commit point before them.
CLAUSE_OPENERS: dict[str, frozenset[str]] = {
    lang: frozenset(ws.split())
    for lang, ws in {
        "en": "and but because which who whom whose where when while although though so "
        "until unless whereas",
        "es": "y e pero porque que cuando donde mientras aunque hasta sino pues",
        "fr": "et mais parce qui que quand où lorsque pendant bien",
        "ca": "i però perquè que quan on mentre encara",
        "pt": "e mas porque que quando onde enquanto embora",
        "it": "e ma perché che quando dove mentre sebbene",
    }.items()
}

_CLAUSE_MARKS = (",", ";", ":", "—", "–")


def _can_end(word: str, lang: str | None) -> bool:
    return norm(word) not in DANGLING.get(lang or "", frozenset()) and bool(norm(word))


def commit_point(
    confirmed: list[str],
    heard: int,
    lang: str | None,
    *,
    mode: Interpret,
    min_words: int = 4,
    max_words: int = 10,
) -> int | None:
    """How many of the ``confirmed`` words to commit now (None: none yet).

    ``heard``: words the latest pass heard in the segment (confirmed ones first); a point
    needs words heard after it, so that its punctuation is the speaker's, not the window's.
    """
    points = [
        i + 1
        for i, word in enumerate(confirmed)
        if ends_sentence(word, lang) and i + 1 >= MIN_SENTENCE_WORDS and heard > i + 1
    ]
    if mode == "sentence":
        return points[-1] if points else None
    openers = CLAUSE_OPENERS.get(lang or "", frozenset())
    last = len(confirmed) - 1  # never the last confirmed word
    for i in range(min_words - 1, last):
        word = confirmed[i]
        if not _can_end(word, lang):
            continue
        if word.rstrip("\"')»”").endswith(_CLAUSE_MARKS) or norm(confirmed[i + 1]) in openers:
            points.append(i + 1)
    best = max(points) if points else 0
    if len(confirmed) - best > max_words:  # the wait-k bound
        bounded = next(
            (
                i + 1
                for i in range(last - 1, best + min_words - 2, -1)
                if _can_end(confirmed[i], lang)
            ),
            None,
        )
        if bounded is not None:
            best = max(best, bounded)
    return best or None


def settled_point(
    settled: list[str], hypothesis: list[str], lang: str | None, min_words: int = 4
) -> int | None:
    """How many of the ``settled`` words (the start of ``hypothesis`` that is old enough)
    to commit when passes do not agree: the latest clause point among them, else the latest
    word that can end a phrase; None below ``min_words``."""
    if len(settled) < min_words:
        return None
    openers = CLAUSE_OPENERS.get(lang or "", frozenset())
    points = [
        i + 1
        for i in range(min_words - 1, len(settled))
        if _can_end(settled[i], lang)
        and (
            settled[i].rstrip("\"')»”").endswith((*_CLAUSE_MARKS, ".", "?", "!"))
            or (i + 1 < len(hypothesis) and norm(hypothesis[i + 1]) in openers)
        )
    ]
    if points:
        return points[-1]
    ends = [i + 1 for i in range(min_words - 1, len(settled)) if _can_end(settled[i], lang)]
    return ends[-1] if ends else None
