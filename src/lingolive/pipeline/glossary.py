"""A glossary: names and product words a session (or room) must get right.

Meetings are full of names, and names are where every speech cascade fails: Whisper writes
what it heard ("Zachadol" for "Xochitl") and the translator then mangles it further. Three
steps, each cheap:

1. **Bias recognition**: the terms go into Whisper's prompt, the way faster-whisper's
   ``hotwords`` do, which is often enough for Whisper to spell them right.
2. **Correct the transcript**: a word (or run of words) that is close to a term is replaced
   by the term's spelling (fuzzy match on letters, only for capitalized words or very close
   matches, so "and a" never becomes "Ana").
3. **Protect it in translation**: each term is swapped for a placeholder the translator
   leaves alone, then put back as the term itself or its given translation for the target
   language ("Xochitl" stays "Xochitl"; "Acme Cloud" can become "Nube Acme").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

MAX_TERMS = 100
_PLACEHOLDER = "Llgx{}q"  # unknown to every Apertium dictionary, survives untouched


def literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement for ``re.sub`` that inserts ``text`` as it is."""
    return lambda _: text


def _key(text: str) -> str:
    return re.sub(r"[^\w]", "", text.lower())


@dataclass(frozen=True)
class Term:
    text: str
    translations: tuple[tuple[str, str], ...] = ()  # (language, rendering)

    def rendering(self, language: str) -> str:
        return dict(self.translations).get(language, self.text)


@dataclass(frozen=True)
class Glossary:
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, items: list[str | dict[str, object]] | None) -> Glossary | None:
        """``["Xochitl", {"term": "Acme Cloud", "translations": {"es": "Nube Acme"}}]``."""
        if not items:
            return None
        terms = []
        for item in items[:MAX_TERMS]:
            if isinstance(item, str):
                text, translations = item, {}
            else:
                text = str(item.get("term", ""))
                raw = item.get("translations") or {}
                translations = {str(k): str(v) for k, v in dict(raw).items()}  # type: ignore[call-overload]
            if text.strip():
                terms.append(Term(text.strip(), tuple(sorted(translations.items()))))
        return cls(tuple(terms)) if terms else None

    # 1. recognition ---------------------------------------------------------------------------

    def prompt(self) -> str:
        return "Glossary: " + ", ".join(t.text for t in self.terms) + "."

    # 2. transcript correction --------------------------------------------------------------------

    def correct(self, text: str) -> str:
        """Runs of words close to a term take the term's spelling.

        Cost: terms × 3 window sizes × words comparisons. With the offer's limits (100 terms
        of at most 64 characters and 6 words, ``protocol.py``) and RapidFuzz's C++
        ratio with a score cutoff, the worst case allowed stays in milliseconds
        (``bench/glossary.py``); it runs in the STT thread after the pass, never on the
        event loop.
        """
        words = text.split()
        keys = [_key(w) for w in words]
        for term in self.terms:
            n = len(term.text.split())
            target = _key(term.text)
            best: tuple[float, int, int] | None = None
            for size in {max(1, n - 1), n, n + 1}:
                for i in range(len(words) - size + 1):
                    candidate = "".join(keys[i : i + size])
                    if not candidate or candidate == target:
                        continue
                    capitalized = words[i][:1].isupper()
                    cutoff = 70.0 if capitalized else 85.0
                    score = fuzz.ratio(candidate, target, score_cutoff=cutoff)
                    if score and (best is None or score > best[0]):
                        best = (score, i, size)
            if best is not None:
                _, i, size = best
                tail = re.sub(r"^.*?([^\w']*)$", r"\1", words[i + size - 1])
                words[i : i + size] = [term.text + tail]
        return " ".join(words)

    # 3. translation ---------------------------------------------------------------------------

    def protect(self, text: str, target: str) -> tuple[str, Callable[[str], str]]:
        """Swap terms for placeholders; the function puts the target renderings back."""
        renderings: dict[str, str] = {}
        for index, term in enumerate(sorted(self.terms, key=lambda t: -len(t.text))):
            pattern = re.compile(rf"(?<!\w){re.escape(term.text)}(?!\w)", re.IGNORECASE)
            placeholder = _PLACEHOLDER.format(chr(ord("a") + index % 26) * (1 + index // 26))
            if pattern.search(text):
                text = pattern.sub(placeholder, text)
                renderings[placeholder] = term.rendering(target)

        def restore(translated: str) -> str:
            for placeholder, rendering in renderings.items():
                # A function as replacement: the rendering is literal text ("AC\\DC"), not a
                # template with group references and escapes.
                translated = re.sub(
                    re.escape(placeholder), literal(rendering), translated, flags=re.IGNORECASE
                )
            return translated

        return text, restore
