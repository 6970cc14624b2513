"""Who hears whom in which language: the routing of a room, as data.

One rule for both kinds of room (``rooms.direct``, and the Janus-backed ``rooms.janus``
through ``rooms.janus_translator``), so the two cannot drift apart. Pure: no asyncio, no
media, no I/O; the rooms apply what it decides.

Inputs: the speakers (an id and the language they declare, or None to have it detected
phrase by phrase), the listeners (an id and the language they hear), and what the engines
can do (``Capabilities``: the translation pairs served end to end, the languages recognition
knows). For each speaker, ``plan`` says (``Route``):

- the listener languages the speaker is translated into, and who listens to each: one
  translation and synthesis per language, however many hear it;
- who hears the original voice: the listeners of the speaker's own language (a
  same-language "translation" would only add a round trip through STT and TTS);
- who cannot be served: no pair from the speaker's language into theirs (a direct room
  tells them, ``unsupported_language_pair``);
- for a speaker whose language is detected: the languages detection may answer, those that
  reach one of their listeners (``engines.selection.languages_reaching``).

Nobody hears themselves: a listener with a speaker's id is not that speaker's listener (in a
direct room everyone is both). A declared language that recognition does not know is
detected instead. A detected speaker is translated into every listener language some pair
translates into (what they say is known only phrase by phrase), and nobody hears their
original voice from the room.

``changes`` says what to start and stop when somebody joins, leaves or changes language, so
the callers only apply it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lingolive.engines.selection import languages_reaching

if TYPE_CHECKING:
    from lingolive.engines.registry import Engines


@dataclass(frozen=True)
class Speaker:
    id: str
    #: What they say they speak; None: detected phrase by phrase.
    language: str | None


@dataclass(frozen=True)
class Listener:
    id: str
    #: The language they hear.
    language: str


@dataclass(frozen=True)
class Capabilities:
    """What the engines can do for a room."""

    #: (source, target) pairs served end to end: heard, translated and spoken.
    pairs: frozenset[tuple[str, str]]
    #: The languages recognition knows.
    recognized: frozenset[str]

    @classmethod
    def of(cls, engines: Engines) -> Capabilities:
        return cls(frozenset(engines.language_pairs()), frozenset(engines.stt.languages()))

    def reaches(self, language: str) -> bool:
        """Whether anything can be translated into ``language``."""
        return any(t == language for _, t in self.pairs)


@dataclass(frozen=True)
class Route:
    """Where one speaker's voice goes."""

    speaker: str
    #: The language they are recognized in; None: detected phrase by phrase.
    language: str | None
    #: Listener language → the listeners who hear the speaker translated into it.
    translations: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: The listeners who hear the original voice (they hear the speaker's language).
    forwarded: frozenset[str] = frozenset()
    #: Listener → the language they hear, for those nothing of this speaker can reach.
    unserved: Mapping[str, str] = field(default_factory=dict)
    #: A detected speaker's candidates: the languages that reach one of their listeners
    #: (None: any — the language is declared, or nobody listens yet).
    candidates: frozenset[str] | None = None

    def seats(self) -> set[tuple[str, str, str]]:
        """(speaker, language, listener) for every listener of every translation."""
        return {(self.speaker, lang, who) for lang, ids in self.translations.items() for who in ids}


def recognized_as(declared: str | None, capabilities: Capabilities) -> str | None:
    """The language a speaker is recognized in: the declared one if recognition knows it,
    else None (detected phrase by phrase)."""
    return declared if declared in capabilities.recognized else None


def plan(
    speakers: Iterable[Speaker], listeners: Iterable[Listener], capabilities: Capabilities
) -> dict[str, Route]:
    """Every speaker's route (by speaker id) for these listeners."""
    audience = list(listeners)
    routes: dict[str, Route] = {}
    for speaker in speakers:
        language = recognized_as(speaker.language, capabilities)
        translations: dict[str, set[str]] = {}
        forwarded: set[str] = set()
        unserved: dict[str, str] = {}
        others = [lst for lst in audience if lst.id != speaker.id]
        for listener in others:
            target = listener.language
            if language is None:
                translated = capabilities.reaches(target)
            elif target == language:
                forwarded.add(listener.id)
                continue
            else:
                translated = (language, target) in capabilities.pairs
            if translated:
                translations.setdefault(target, set()).add(listener.id)
            else:
                unserved[listener.id] = target
        candidates = None
        if language is None:
            heard = {lst.language for lst in others}
            reaching = languages_reaching(heard, capabilities.pairs, capabilities.recognized)
            candidates = reaching or None
        routes[speaker.id] = Route(
            speaker.id,
            language,
            {lang: frozenset(ids) for lang, ids in translations.items()},
            frozenset(forwarded),
            unserved,
            candidates,
        )
    return routes


@dataclass(frozen=True)
class Changes:
    """What turns one plan into the next; apply removals before additions (a listener
    moving from one translation to another, or to the original voice, frees their source
    for that speaker first)."""

    #: (speaker, language, listener) seats at a translation given up.
    left: frozenset[tuple[str, str, str]]
    #: (speaker, listener): original voices no longer forwarded.
    unforwarded: frozenset[tuple[str, str]]
    #: (speaker, language): translations nobody listens to any more.
    stopped: frozenset[tuple[str, str]]
    #: (speaker, language): translations to start.
    started: frozenset[tuple[str, str]]
    #: (speaker, language, listener): seats to take.
    joined: frozenset[tuple[str, str, str]]
    #: (speaker, listener): original voices to forward.
    forwarded: frozenset[tuple[str, str]]
    #: (speaker, listener, language): listeners newly out of reach (to be told once).
    unserved: frozenset[tuple[str, str, str]]
    #: Detected speakers whose candidates are new or changed → their candidates.
    candidates: Mapping[str, frozenset[str] | None]


def changes(old: Mapping[str, Route], new: Mapping[str, Route]) -> Changes:
    """What to start and stop to go from ``old`` to ``new`` (speakers absent from ``new``
    have left: all of theirs stops)."""

    def seats(routes: Mapping[str, Route]) -> set[tuple[str, str, str]]:
        return {seat for route in routes.values() for seat in route.seats()}

    def translations(routes: Mapping[str, Route]) -> set[tuple[str, str]]:
        return {(r.speaker, lang) for r in routes.values() for lang in r.translations}

    def forwards(routes: Mapping[str, Route]) -> set[tuple[str, str]]:
        return {(r.speaker, who) for r in routes.values() for who in r.forwarded}

    def unserved(routes: Mapping[str, Route]) -> set[tuple[str, str, str]]:
        return {(r.speaker, who, lang) for r in routes.values() for who, lang in r.unserved.items()}

    candidates = {
        speaker: route.candidates
        for speaker, route in new.items()
        if route.language is None
        and (speaker not in old or old[speaker].candidates != route.candidates)
    }
    return Changes(
        left=frozenset(seats(old) - seats(new)),
        unforwarded=frozenset(forwards(old) - forwards(new)),
        stopped=frozenset(translations(old) - translations(new)),
        started=frozenset(translations(new) - translations(old)),
        joined=frozenset(seats(new) - seats(old)),
        forwarded=frozenset(forwards(new) - forwards(old)),
        unserved=frozenset(unserved(new) - unserved(old)),
        candidates=candidates,
    )
