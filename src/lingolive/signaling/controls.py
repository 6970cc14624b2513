"""What a participant asks of their running call: mute, hear another language, say typed
text, skip the backlog.

Each request is checked here, in the edge's words (the engines' language selection, the
``say`` rate limit), then handed to the call (loopback) or to the room (which re-routes and
tells the others). Kept apart from ``session.py``, which owns the socket, and from
``call_admission.py``, which decides what an offer gets.
"""

from __future__ import annotations

import time

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.pipeline.rate_limit import TokenBucket
from lingolive.protocol import ErrorCode, Listen, Mute, Say, Skip
from lingolive.rooms.direct import Room
from lingolive.rtc.call import Call
from lingolive.signaling.refusals import SessionError, choose_languages

#: Mute/listen messages accepted at once (a push-to-talk user tapping quickly).
CONTROL_BURST = 10.0


class Controls:
    """The requests of one participant, for as long as their call runs."""

    def __init__(
        self,
        settings: Settings,
        engines: Engines,
        call: Call,
        languages: Languages,
        participant_id: str,
        room: Room | None,
    ) -> None:
        self._settings = settings
        self._engines = engines
        self._call = call
        self.languages = languages
        self._id = participant_id
        self._room = room
        per_minute = settings.max_say_per_minute
        self._says = TokenBucket(rate=per_minute / 60.0, burst=float(per_minute))
        # Mute and listen re-route a room and are told to everybody in it: a client
        # toggling them in a loop would flood every other participant's socket.
        self._changes = TokenBucket(rate=settings.max_controls_per_s, burst=CONTROL_BURST)

    async def handle(self, message: Listen | Mute | Say | Skip) -> Languages | None:
        """Carry out ``message``; the session's languages if they changed (``listen``)."""
        if isinstance(message, Mute | Listen) and not self._changes.take(1.0, time.monotonic()):
            raise SessionError(
                ErrorCode.TOO_MANY_REQUESTS,
                f"at most {self._settings.max_controls_per_s:g} mute/listen messages per second",
            )
        if isinstance(message, Mute):
            self._call.mute(message.muted)
            if self._room is not None:
                await self._room.update(self._id, muted=message.muted)
        elif isinstance(message, Skip):
            self._call.skip()
        elif isinstance(message, Say):
            self._call.say(message.text, self._say_language(message))
        else:
            return await self._listen(message)
        return None

    def _say_language(self, message: Say) -> str:
        languages = self.languages
        lang = message.lang or (None if languages.conversation else languages.source)
        if lang is None:
            raise SessionError(
                ErrorCode.BAD_MESSAGE, "say needs lang: this session detects the language"
            )
        if languages.conversation and lang not in (languages.source, languages.target):
            raise SessionError(
                ErrorCode.BAD_MESSAGE,
                f"this conversation is {languages.source} and {languages.target}, not {lang}",
            )
        engines = self._engines
        if lang not in {s for s, _ in engines.language_pairs()} and lang != languages.target:
            raise SessionError(
                ErrorCode.UNSUPPORTED_PAIR,
                f"nothing can be translated from {lang!r}; supported pairs: {engines.pairs_text()}",
            )
        if not self._says.take(1.0, time.monotonic()):
            limit = self._settings.max_say_per_minute
            raise SessionError(
                ErrorCode.TOO_MANY_REQUESTS, f"at most {limit} typed phrases per minute"
            )
        return lang

    async def _listen(self, message: Listen) -> Languages:
        languages = self.languages
        if languages.conversation:
            raise SessionError(
                ErrorCode.BAD_MESSAGE, "a conversation keeps its two languages: start anew"
            )
        chosen = choose_languages(
            self._engines,
            self._settings,
            languages.source or "auto",
            message.target_lang,
            message.voice,
            room=self._room is not None,
        )
        if self._room is not None:
            await self._room.update(self._id, target_lang=chosen.target, voice=chosen.voice)
        else:
            await self._call.listen(chosen.target, chosen.voice)
        self.languages = chosen
        return chosen
