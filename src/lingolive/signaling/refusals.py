"""How the signaling edge refuses a request: one error with its wire code, and the
engines' language refusals in those words.

Shared by the offer (``call_admission.py``) and the requests of a running call
(``controls.py``), so both refuse the same way and a language choice is checked by one
function.
"""

from __future__ import annotations

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages, Refusal, SelectionError, select_languages
from lingolive.protocol import ErrorCode

#: The wire error code of each way a choice of languages can be refused.
REFUSAL_CODES: dict[Refusal, str] = {
    Refusal.UNSUPPORTED_PAIR: ErrorCode.UNSUPPORTED_PAIR,
    Refusal.UNKNOWN_VOICE: ErrorCode.UNKNOWN_VOICE,
    Refusal.SOURCE_NEEDED: ErrorCode.BAD_MESSAGE,
}


class SessionError(Exception):
    """A request refused with an ``error`` message of ``code``; the socket stays usable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def choose_languages(
    engines: Engines,
    settings: Settings,
    source_lang: str | None,
    target_lang: str | None,
    voice: str | None,
    *,
    room: bool,
    conversation: bool = False,
) -> Languages:
    """``select_languages``, refused as a ``SessionError``."""
    try:
        return select_languages(
            engines,
            settings,
            source_lang,
            target_lang,
            voice,
            room=room,
            conversation=conversation,
        )
    except SelectionError as exc:
        raise SessionError(REFUSAL_CODES[exc.refusal], exc.message) from exc
