"""LocalAgreement: the words two consecutive recognition passes agree on are confirmed.

The policy of whisper_streaming (Macháček et al., 2023): a growing utterance is transcribed
again and again; a word is *confirmed* once two consecutive hypotheses start with the same
words up to it. Confirmed words never change afterwards: they are shown as stable captions,
forced as the prefix of later passes, and a finished sentence among them can be committed to
translation before the speaker stops (whether text ends a sentence: ``sentence_end``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PUNCT = re.compile(r"[^\w']+", re.UNICODE)


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
