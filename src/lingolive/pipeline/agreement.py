"""LocalAgreement: the words two consecutive recognition passes agree on are confirmed.

The policy of whisper_streaming (Macháček et al., 2023): a growing utterance is transcribed
again and again; a word is *confirmed* once two consecutive hypotheses start with the same
words up to it. Confirmed words never change afterwards: they are shown as stable captions,
forced as the prefix of later passes, and a finished sentence among them can be committed to
translation before the speaker stops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PUNCT = re.compile(r"[^\w']+", re.UNICODE)
_TERMINAL = (".", "?", "!", "。", "？", "！")


def words(text: str) -> list[str]:
    return text.split()


def norm(word: str) -> str:
    """Compare words without case or punctuation ("Morning," == "morning.")."""
    return _PUNCT.sub("", word.lower())


def common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if norm(x) != norm(y):
            break
        n += 1
    return n


#: Words a sentence does not end on (articles, prepositions, conjunctions, possessives…).
#: Whisper puts a full stop wherever the audio stops, so "a table for." at a pause is a
#: sentence cut by the pause, not a finished one.
DANGLING: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "a an the to for of and or but with in on at from by into about my your his her "
        "its our their because if than",
        "es": "el la los las un una unos unas de del a al en con por para y o u pero que mi "
        "mis tu tus su sus sin sobre entre hasta desde porque",
        "fr": "le la les un une des de du à au aux en et ou mais que pour avec dans sur par "
        "mon ma mes ton ta tes son sa ses notre votre leur ce cette sans",
        "ca": "el la els les un una uns unes de del al a en amb per i o però que meu meva teu "
        "seu seva sense",
        "pt": "o a os as um uma uns umas de do da dos das ao à em no na nos nas com por para e "
        "ou mas que meu minha teu tua seu sua sem",
        "it": "il lo la i gli le un uno una di del della dei a al alla in nel nella con per e "
        "o ma che mio mia tuo tua suo sua senza",
    }.items()
}


def ends_sentence(text: str, lang: str | None = None) -> bool:
    """Whisper's punctuation says the phrase is complete, and its last word agrees.

    An ellipsis is Whisper hearing speech trail off mid-sentence ("a table for..."): the
    opposite of an end; so is a full stop after a word no sentence ends on.
    """
    text = text.rstrip().rstrip("\"')»”")
    if not text.endswith(_TERMINAL) or text.endswith(("...", "…")):
        return False
    last = norm(text.split()[-1]) if text.split() else ""
    return last not in DANGLING.get(lang or "", frozenset())


@dataclass
class LocalAgreement:
    """Confirmed words of one segment, from the hypotheses of successive passes."""

    confirmed: list[str] = field(default_factory=list)
    _previous: list[str] = field(default_factory=list)

    def update(self, hypothesis: str) -> list[str]:
        """Feed a new hypothesis of the whole segment; returns the confirmed words."""
        current = words(hypothesis)
        agreed = common_prefix(self._previous, current)
        if agreed > len(self.confirmed) and common_prefix(self.confirmed, current) == len(
            self.confirmed
        ):
            # Keep the newest spelling (punctuation settles late), never shrink.
            self.confirmed = current[:agreed]
        self._previous = current
        return self.confirmed

    @property
    def text(self) -> str:
        return " ".join(self.confirmed)

    def drop(self, count: int) -> None:
        """Forget the first ``count`` words (they were committed as their own segment)."""
        self.confirmed = self.confirmed[count:]
        self._previous = self._previous[count:]
