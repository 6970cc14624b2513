"""How a room sees a session end and come back, as the admission decides it.

A ``bye``, an end by the server (a timeout, a limit) and a shutdown are leaves the others
hear at once; a lost connection keeps the participant's seat for ``LL_REJOIN_GRACE_S``
(nobody is told unless it is not taken back), and a valid ``resume_token`` within it gives
the same participant id back, whatever the new connection's id. Real rooms and tokens, a
stand-in for the call (no media is needed to decide any of this); over real WebRTC:
tests/test_controls.py (a dropped participant comes back) and tests/test_rooms.py.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.metrics import Metrics
from lingolive.pipeline.workers import Workers
from lingolive.protocol import Offer, ParticipantEvent, ParticipantInfo, ServerMessage
from lingolive.rooms import tokens
from lingolive.rooms.direct import Participant, Room, RoomRegistry
from lingolive.rooms.routing import Capabilities
from lingolive.rtc.call import CallEnd
from lingolive.signaling.call_admission import CallAdmission, CallHandle, Seat
from lingolive.signaling.closing import CloseReason
from lingolive.signaling.session import ENDINGS

SECRET = b"ending-test-secret"
GRACE_S = 0.2


class Quiet:
    """A participant's pipeline and track as a room sees them; no pair is translated here,
    so the room never routes anything into them."""

    def add_language(self, language: str, voice: str | None, output: object) -> None:
        raise AssertionError("nothing to translate")

    async def remove_language(self, language: str) -> None:
        pass

    def add_source(self, key: object, source: object) -> None:
        pass

    def speech_source(self, key: object) -> Any:
        raise AssertionError("nothing to hear")

    def remove_source(self, key: object) -> None:
        pass


class StandInCall:
    closed = False

    async def close(self) -> None:
        self.closed = True


def admission(rooms: RoomRegistry) -> CallAdmission:
    server = SimpleNamespace(ready=True, sessions={}, has_capacity=lambda: True)
    return CallAdmission(
        Settings(rejoin_grace_s=GRACE_S),
        cast(Engines, None),
        cast(Workers, None),
        Metrics(),
        rooms,
        SECRET,
        server,
    )


async def seat(rooms: RoomRegistry, room: Room, pid: str, heard: list[ServerMessage]) -> None:
    info = ParticipantInfo(id=pid, display_name=pid, source_lang="en", target_lang="es")
    assert room.reserve(pid)
    await rooms.join(room, Participant(info, Quiet(), Quiet(), heard.append))


def told(heard: list[ServerMessage], kind: str, pid: str) -> bool:
    return any(
        isinstance(m, ParticipantEvent) and m.type == kind and m.participant.id == pid
        for m in heard
    )


async def ended(reason: CloseReason) -> tuple[Room, list[ServerMessage], CallAdmission]:
    """Ana (connection ``conn-1``) and Ben in a room; Ana's handle closed with ``reason``."""
    rooms = RoomRegistry(4, lambda: Capabilities(frozenset(), frozenset({"en"})))
    room = rooms.get_or_create("r1")
    bens: list[ServerMessage] = []
    await seat(rooms, room, "ben", bens)
    await seat(rooms, room, "ana", [])
    by = admission(rooms)
    client = SimpleNamespace(id="conn-1")
    by.server.sessions["conn-1"] = client
    info = room.participants["ana"].info
    call = StandInCall()
    taken = Seat(room, info, rejoin=False, resume_token="", glossary=[])
    handle = CallHandle(client, cast(Any, call), cast(Any, None), taken, by)
    assert handle.participant_id == "ana"  # the room's id, not the connection's
    await handle.close(reason)
    await handle.close(CloseReason.BYE)  # once only: a second close changes nothing
    assert call.closed and by.server.sessions == {}
    return room, bens, by


@pytest.mark.parametrize("reason", [CloseReason.BYE, CloseReason.ENDED, CloseReason.SHUTDOWN])
async def test_a_bye_or_an_end_is_a_leave(reason: CloseReason) -> None:
    room, bens, _ = await ended(reason)
    assert told(bens, "participant_left", "ana")
    assert "ana" not in room.away and "ana" not in room.participants


async def test_a_lost_connection_keeps_the_seat_for_the_grace() -> None:
    room, bens, _ = await ended(CloseReason.DROPPED)
    assert "ana" in room.away and not told(bens, "participant_left", "ana")
    await asyncio.sleep(GRACE_S + 0.3)
    assert "ana" not in room.away and told(bens, "participant_left", "ana")


async def test_a_resume_token_brings_the_same_participant_back() -> None:
    room, bens, by = await ended(CloseReason.DROPPED)
    invite, _ = tokens.issue(SECRET, room.id, 60)
    resume = tokens.issue_seat(SECRET, room.id, "ana", 60)
    offer = Offer(type="offer", sdp="v=0", room=room.id, token=invite, resume_token=resume)
    languages = Languages("en", "es")
    back = by._seat(offer, languages, "conn-2")
    assert (back.info.id, back.rejoin) == ("ana", True)
    assert "ana" in room.reserved and "ana" not in room.away
    # Once that seat is taken, the same token makes a new participant of the connection.
    again = by._seat(offer, languages, "conn-3")
    assert (again.info.id, again.rejoin) == ("conn-3", False)
    assert not told(bens, "participant_left", "ana")


def test_how_each_call_ending_reaches_the_room() -> None:
    """The media connection failing or closing is a lost connection; a limit is the end."""
    dropped = {end for end, (_, reason) in ENDINGS.items() if reason is CloseReason.DROPPED}
    assert dropped == {CallEnd.CONNECTION_FAILED, CallEnd.CONNECTION_CLOSED}
    assert {reason for _, reason in ENDINGS.values()} == {CloseReason.DROPPED, CloseReason.ENDED}
