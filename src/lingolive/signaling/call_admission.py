"""Admitting an offer: one participant's call, loopback or in a room, and its handle.

Contract: ``CallAdmission.admit(offer, client)`` checks, in this order, that the server is
ready and below ``LL_MAX_SESSIONS``, the languages (``refusals.choose_languages``) and, for
a room, its invite, the seat token and a free seat; it then answers the offer with a
started ``Call``, tells the client (``answer``, then ``ready``), seats a room participant
and returns a ``CallHandle``. A refusal is a ``SessionError``; a refusal, a failure or a
cancellation leaves nothing behind (no seat, no call, no entry among the live sessions).

Who the client is gets settled here, once: with the ``resume_token`` of a participant
whose connection dropped a moment ago, the handle's ``participant_id`` is that
participant's (their seat, and the id ``answer``, ``ready`` and the room tell), not the
connection's. ``CallHandle.close(reason)`` gives the seat back as ``reason`` says
(``closing.CloseReason``) and closes the call.

Why apart from the session: what an offer may get (capacity, invites, seats, identity) is
policy; the session only carries messages both ways.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Protocol

from lingolive.config import Settings
from lingolive.context import LiveSession
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.metrics import Metrics
from lingolive.pipeline.events import EventSink, PipelineEvent, fan_out
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.workers import Workers
from lingolive.protocol import (
    Answer,
    ErrorCode,
    Offer,
    ParticipantInfo,
    Ready,
    ServerMessage,
    glossary_items,
)
from lingolive.rooms import tokens
from lingolive.rooms.direct import Participant, Room, RoomRegistry
from lingolive.rtc.call import Call
from lingolive.rtc.peer import BadSDP
from lingolive.signaling.closing import CloseReason
from lingolive.signaling.controls import Controls
from lingolive.signaling.refusals import SessionError, choose_languages
from lingolive.wire_events import to_wire

log = logging.getLogger(__name__)


class Client(Protocol):
    """The connection a call reports to (the signaling session)."""

    @property
    def id(self) -> str: ...  # the connection's own id: its key among the live sessions

    def emit(self, message: ServerMessage) -> None: ...

    async def shutdown(self) -> None: ...


class Server(Protocol):
    """What an offer reads of the process (``AppContext``)."""

    ready: bool
    sessions: dict[str, LiveSession]

    def has_capacity(self) -> bool: ...


@dataclass(frozen=True)
class Seat:
    """A seat held in a room for one offer, and who sits in it."""

    room: Room
    info: ParticipantInfo  # its ``id``: the participant's, a rejoining one's own
    rejoin: bool  # the participant whose connection dropped, back
    resume_token: str
    glossary: list[object]  # the room's, from its invite


class CallHandle:
    """A call admitted here, until ``close``."""

    def __init__(
        self, client: Client, call: Call, controls: Controls, seat: Seat | None, by: CallAdmission
    ) -> None:
        self.call = call
        self.controls = controls  # mute, listen, say, skip
        self.participant_id = seat.info.id if seat else client.id
        self.room = seat.room if seat else None
        self._resume_token = seat.resume_token if seat else None
        self._key = client.id
        self._by = by
        self._closed = False

    def ready(self) -> Ready:
        languages = self.controls.languages
        return Ready(
            session_id=self.participant_id,
            source_lang=languages.source or "auto",
            target_lang=languages.target,
            voice=languages.voice,
            worker=os.getpid(),
            resume_token=self._resume_token,
        )

    async def close(self, reason: CloseReason) -> None:
        """Release the call; in a room, a lost connection keeps the seat a while."""
        if self._closed:
            return
        self._closed = True
        by = self._by
        by.server.sessions.pop(self._key, None)
        if self.room is not None:
            if reason is CloseReason.DROPPED:
                grace = by.settings.rejoin_grace_s
                await by.rooms.step_away(self.room.id, self.participant_id, grace)
            else:
                await by.rooms.leave(self.room.id, self.participant_id)
        await self.call.close()


@dataclass(frozen=True)
class CallAdmission:
    settings: Settings
    engines: Engines
    workers: Workers
    metrics: Metrics
    rooms: RoomRegistry
    room_secret: tokens.RoomKeys
    server: Server

    async def admit(self, offer: Offer, client: Client) -> CallHandle:
        if not self.server.ready:
            self.metrics.sessions_refused.labels("loading").inc()
            raise SessionError(ErrorCode.BUSY, "the server is still loading its models")
        if not self.server.has_capacity():
            self.metrics.sessions_refused.labels("busy").inc()
            raise SessionError(
                ErrorCode.BUSY,
                f"the server is at its limit of {self.settings.max_sessions} sessions",
            )
        languages = choose_languages(
            self.engines,
            self.settings,
            offer.source_lang,
            offer.target_lang,
            offer.voice,
            room=offer.room is not None,
            conversation=offer.conversation,
        )
        seat = self._seat(offer, languages, client.id) if offer.room is not None else None
        try:
            handle = self._handle(offer, languages, client, seat)
        except BaseException:
            if seat is not None:
                await self.rooms.leave(seat.room.id, seat.info.id)
            raise
        try:
            await self._start(handle, offer.sdp, client, seat)
        except BaseException:  # (cancelled too: the offer deadline)
            await handle.close(CloseReason.ENDED)
            raise
        log.info(
            "session started: %s -> %s%s",
            languages.source or "auto",
            languages.target,
            f" in room {seat.room.id}" if seat else "",
        )
        return handle

    def _seat(self, offer: Offer, languages: Languages, connection_id: str) -> Seat:
        """The invite and the room's size checked, a seat held (offers racing for the last
        seat cannot both get it). A valid ``resume_token`` of a participant whose
        connection dropped a moment ago gives back that participant's seat and id."""
        assert offer.room is not None
        if not offer.token:
            raise SessionError(ErrorCode.BAD_TOKEN, "joining a room needs its token")
        secret = self.room_secret
        try:
            grant = tokens.verify(secret, offer.token, offer.room)
            back = offer.resume_token and tokens.verify_seat(secret, offer.resume_token, offer.room)
        except tokens.TokenError as exc:
            raise SessionError(exc.code, str(exc)) from exc
        room = self.rooms.get_or_create(offer.room)
        rejoin = bool(back) and back in room.away
        pid = back if rejoin and back else connection_id
        resume = tokens.issue_seat(secret, room.id, pid, self.settings.max_session_s)
        if not room.reserve(pid):
            raise SessionError(
                ErrorCode.ROOM_FULL, f"the room is full ({room.max_participants} participants)"
            )
        info = ParticipantInfo(
            id=pid,
            display_name=offer.display_name or f"Guest {pid[:4]}",
            source_lang=languages.source or "",
            target_lang=languages.target,
        )
        return Seat(room, info, rejoin, resume, list(grant.glossary or []))

    def _handle(
        self, offer: Offer, languages: Languages, client: Client, seat: Seat | None
    ) -> CallHandle:
        """The call, not answered yet, and its handle."""
        terms: list[str | dict[str, object]] = glossary_items(offer.glossary)
        events: EventSink = _tell(client)
        if seat is not None:
            terms = [*seat.glossary, *terms]  # type: ignore[list-item]
            events = seat.room.speaker_events(seat.info)
        call = Call(
            self.engines,
            self.workers,
            self.settings,
            self.metrics,
            languages,
            events=fan_out(self.metrics.observe, events),
            loopback=seat is None,
            glossary=Glossary.parse(terms),
        )
        pid, room = (seat.info.id, seat.room) if seat else (client.id, None)
        controls = Controls(self.settings, self.engines, call, languages, pid, room)
        return CallHandle(client, call, controls, seat, self)

    async def _start(self, handle: CallHandle, sdp: str, client: Client, seat: Seat | None) -> None:
        """Answer the offer, start the call, tell the client; seat a room participant."""
        call = handle.call
        self.server.sessions[client.id] = client  # counted from here on (racing offers)
        try:
            answer = await call.answer(sdp)
        except BadSDP as exc:
            raise SessionError(ErrorCode.BAD_SDP, f"could not apply the offer: {exc}") from exc
        except Exception as exc:
            raise SessionError(ErrorCode.BAD_SDP, f"could not answer the offer: {exc}") from exc
        call.start()
        self.metrics.sessions_started.inc()
        client.emit(Answer(sdp=answer, session_id=handle.participant_id))
        client.emit(handle.ready())
        if seat is not None:
            voice = handle.controls.languages.voice
            cascade, track, sinks = call.pipeline.cascade, call.track, call.voice_sinks
            participant = Participant(seat.info, cascade, track, client.emit, voice, sinks)
            await self.rooms.join(seat.room, participant, rejoin=seat.rejoin)


def _tell(client: Client) -> EventSink:
    """A loopback call's pipeline events, as wire messages to its client."""

    def tell(event: PipelineEvent) -> None:
        message = to_wire(event)
        if message is not None:
            client.emit(message)

    return tell
