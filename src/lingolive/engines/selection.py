"""Which languages and voice a session gets: what the client asked, checked against the
engines that are loaded.

A session names what it speaks (or ``auto``), what it wants to hear, and maybe a voice; the
server's settings fill in what it left out. Whatever cannot work here is refused before any
media starts, with a reason that names what *is* supported. Lives next to the engines
because only they know what can be heard, translated and spoken; the edge turns a
``SelectionError`` into its wire error code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from lingolive.config import Settings
from lingolive.engines.base import EngineError
from lingolive.engines.registry import Engines


@dataclass(frozen=True)
class Languages:
    """What a speaker's pipeline translates from and into, and with which voice."""

    source: str | None  # None: detect per utterance
    target: str
    voice: str | None = None
    #: Two people on one device: each phrase is detected between ``source`` and ``target``
    #: and spoken in the other one (``source_voice`` speaks ``source``).
    conversation: bool = False
    source_voice: str | None = None


def languages_reaching(
    listener_languages: Iterable[str],
    pairs: Iterable[tuple[str, str]],
    recognized: Iterable[str],
) -> frozenset[str]:
    """The spoken languages that can reach a listener of one of ``listener_languages``: a
    listener language itself (heard as is, if recognition knows it) or one the engines
    translate into one of them.

    This is what auto-detection may answer: a phrase detected in any other language could
    be neither translated nor heard by anybody. The one rule for loopback sessions (one
    listener language), rooms of both kinds (their listeners' languages) and a room
    pipeline before its room says (every language a listener could pick).
    """
    wanted = frozenset(listener_languages)
    return frozenset(s for s, t in pairs if t in wanted) | (wanted & frozenset(recognized))


class Refusal(Enum):
    """Why a choice of languages or voice was refused."""

    UNSUPPORTED_PAIR = "unsupported_pair"
    UNKNOWN_VOICE = "unknown_voice"
    SOURCE_NEEDED = "source_needed"  # rooms: the others must know what the speaker speaks


class SelectionError(Exception):
    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.message = message


def select_languages(
    engines: Engines,
    settings: Settings,
    source_lang: str | None,
    target_lang: str | None,
    voice: str | None,
    *,
    room: bool,
    conversation: bool = False,
) -> Languages:
    """The languages and voice for a session, or ``SelectionError``.

    ``source_lang`` may be ``"auto"`` (detect, loopback only). In a room each listener picks
    what they hear, so only the speaker's own side is checked here; every pair is checked
    again when the room routes it.
    """
    source = source_lang or settings.source_lang
    target = target_lang or settings.target_lang
    chosen = voice if voice is not None else settings.default_voice(target, engines.tts.voices())
    pairs = engines.language_pairs()
    supported = engines.pairs_text()
    if conversation:
        if room or source == "auto" or source == target:
            raise SelectionError(
                Refusal.SOURCE_NEEDED,
                "a conversation is two languages on one device: source_lang and "
                "target_lang, both named and different, and no room",
            )
        for pair in ((source, target), (target, source)):
            if pair not in pairs:
                raise SelectionError(
                    Refusal.UNSUPPORTED_PAIR,
                    f"a conversation needs both directions; {pair[0]}->{pair[1]} is not "
                    f"supported here; supported pairs: {supported}",
                )
    elif room:
        if source == "auto":
            raise SelectionError(
                Refusal.SOURCE_NEEDED, "rooms need source_lang: the others must know it"
            )
        if source not in {s for s, _ in pairs}:
            raise SelectionError(
                Refusal.UNSUPPORTED_PAIR,
                f"nothing can be translated from {source!r}; supported pairs: {supported}",
            )
        if target != source and target not in {t for _, t in pairs}:
            raise SelectionError(
                Refusal.UNSUPPORTED_PAIR,
                f"nothing can be translated into {target!r}; supported pairs: {supported}",
            )
    elif source == "auto":
        if not any(t == target for _, t in pairs):
            raise SelectionError(
                Refusal.UNSUPPORTED_PAIR,
                f"nothing can be translated into {target!r}; supported pairs: {supported}",
            )
    elif (source, target) not in pairs:
        raise SelectionError(
            Refusal.UNSUPPORTED_PAIR,
            f"language pair {source}->{target} is not supported here; supported pairs: {supported}",
        )
    if voice is not None:
        # A client picks among the installed voices by name (what /api/languages lists). A
        # path is the operator's choice only (LL_TTS_VOICE): from a client it would load any
        # model file on the server, and the answer would tell which files exist.
        installed = engines.tts.voices()
        if voice not in {name for names in installed.values() for name in names}:
            raise SelectionError(
                Refusal.UNKNOWN_VOICE,
                f"no voice named {voice!r}; voices for {target!r}: "
                f"{', '.join(installed.get(target, [])) or 'none'}",
            )
    if chosen is not None:
        try:
            engines.tts.check_voice(target, chosen)
        except EngineError as exc:
            raise SelectionError(Refusal.UNKNOWN_VOICE, str(exc)) from exc
    source_voice = None
    if conversation:
        source_voice = settings.default_voice(source, engines.tts.voices())
        if source_voice is not None:
            try:
                engines.tts.check_voice(source, source_voice)
            except EngineError:
                source_voice = None  # the configured voice cannot speak it: the default
    return Languages(
        source=None if source == "auto" else source,
        target=target,
        voice=chosen,
        conversation=conversation,
        source_voice=source_voice,
    )
