"""Admitting an ``sfu_listen``: a socket that listens to an SFU room (``LL_SFU=janus``).

Contract: ``ListenAdmission.admit(message, listener)`` checks, in this order, that the
server is in SFU mode and ready, the room's invite, and that something can be translated
into the language asked for; it then opens the room (building it again if this process does
not hold it: a valid invite says it exists) and adds the listener, who gets ``sfu_ready``
from the room. It returns a ``ListenHandle``; a refusal is a ``SessionError`` and leaves the
listener out of the room. A room closed for idleness between opening and listening is
opened once more. ``ListenHandle.close(reason)`` takes the listener out, whatever the
reason (a listener holds no seat to keep).

Why apart from the session: the SFU rooms registry speaks its own errors (``SfuUnavailable``,
``SfuRoomFull``, ``SfuRoomClosed``); here they become the client's, and the session only
carries messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from lingolive.engines.registry import Engines
from lingolive.protocol import ErrorCode, SfuListen
from lingolive.rooms import tokens
from lingolive.rooms.janus import (
    SfuListener,
    SfuRoom,
    SfuRoomClosed,
    SfuRoomFull,
    SfuRooms,
    SfuUnavailable,
)
from lingolive.signaling.closing import CloseReason
from lingolive.signaling.refusals import SessionError

log = logging.getLogger(__name__)


class Server(Protocol):
    """What a listener reads of the process (``AppContext``)."""

    ready: bool


@dataclass(frozen=True)
class ListenHandle:
    """A socket listening to an SFU room in one language, until ``close``."""

    sfu: SfuRooms
    room: SfuRoom
    language: str
    listener: SfuListener

    async def close(self, reason: CloseReason) -> None:
        """The last listener of a language gone, its feed is unpublished (``unlisten``)."""
        await self.sfu.unlisten(self.room, self.language, self.listener)


@dataclass(frozen=True)
class ListenAdmission:
    sfu: SfuRooms | None
    engines: Engines
    room_secret: tokens.RoomKeys
    server: Server

    async def admit(self, message: SfuListen, listener: SfuListener) -> ListenHandle:
        sfu = self.sfu
        if sfu is None:
            raise SessionError(
                ErrorCode.SFU_UNAVAILABLE, "this server is not in SFU mode (LL_SFU is not janus)"
            )
        if not self.server.ready:
            raise SessionError(ErrorCode.BUSY, "the server is still loading its models")
        try:
            tokens.verify(self.room_secret, message.token, message.room)
        except tokens.TokenError as exc:
            raise SessionError(exc.code, str(exc)) from exc
        language = message.language
        targets = sorted({t for _, t in self.engines.language_pairs()})
        if language not in targets:
            raise SessionError(
                ErrorCode.UNSUPPORTED_PAIR,
                f"nothing can be translated into {language!r} here; listener languages: "
                f"{', '.join(targets) or 'none'}",
            )
        room = await self._listen(sfu, message.room, language, listener)
        log.info(
            "listening to room %s in %s (Janus room %d)%s",
            room.id,
            language,
            room.janus_room,
            f" as {message.display_name}" if message.display_name else "",
        )
        return ListenHandle(sfu, room, language, listener)

    async def _listen(
        self, sfu: SfuRooms, room_id: str, language: str, listener: SfuListener
    ) -> SfuRoom:
        for _ in range(2):  # (again once if the room closed for idleness meanwhile)
            try:
                # A room this process does not hold (made before the node restarted, closed
                # when idle, given up after Janus stayed away) is built again.
                room = await sfu.open(room_id)
                await sfu.listen(room, language, listener)  # sends sfu_ready
                return room
            except SfuRoomClosed:
                continue
            except SfuRoomFull as exc:
                raise SessionError(ErrorCode.ROOM_FULL, str(exc)) from exc
            except SfuUnavailable as exc:
                raise SessionError(ErrorCode.SFU_UNAVAILABLE, str(exc)) from exc
        raise SessionError(ErrorCode.SFU_UNAVAILABLE, f"room {room_id} keeps closing")
