"""A direct room: its participants connect to this process, and who hears whom.

Every participant is a speaker (their own recognition pipeline: STT once, whoever listens)
and a listener (one outgoing track mixing everybody else). Who hears whom in which language
is ``rooms.routing``'s decision, the same as in a Janus-backed room; this module applies it.
For each speaker the room keeps one translation per listener language it routes
(``Cascade.add_language``), whose speech is fanned out to every listener of that language
(``FanOut``): N listeners of Spanish cost one translation and one synthesis, not N. A
listener who speaks the speaker's language hears the original voice, forwarded
untranslated, and still gets the captions. Nobody hears themselves. A listener nothing of
a speaker can reach is told so once (``unsupported_language_pair``).

Routes are re-planned whenever somebody joins, leaves or hears another language, and only
the difference is applied (``routing.changes``), so joining or leaving mid-phrase only adds
or removes that person's own sources and languages; everybody else's audio goes on. A
speaker's captions and events reach whom ``rooms.audience`` says, tagged with the speaker.

A room sees a participant through two small interfaces, not through their call: what it
asks of a speaker's pipeline (``Translating``: add or remove a listener language, narrow
auto-detection) and of a listener's track (``Hearing``: mix in or take out a source). The
first listener that plays a phrase resolves the phrase's ``Playback`` handle, which the
fan-out shares among them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol

from lingolive.engines.base import Int16Array
from lingolive.pipeline.events import EventSink, PipelineEvent
from lingolive.pipeline.playback import Playback, SpeechOutput
from lingolive.protocol import (
    ErrorCode,
    ErrorMsg,
    ParticipantEvent,
    ParticipantInfo,
    ServerMessage,
    SpeakerRef,
)
from lingolive.rooms import audience, routing
from lingolive.rtc.mixing import LiveQueue, Source, SpeechQueue

log = logging.getLogger(__name__)

Emit = Callable[[ServerMessage], None]


class Translating(Protocol):
    """A speaker's pipeline, as a room uses it (``pipeline.cascade.Cascade``)."""

    def add_language(self, language: str, voice: str | None, output: SpeechOutput) -> None: ...

    async def remove_language(self, language: str) -> None: ...

    def detect_among(self, languages: frozenset[str] | None) -> None: ...


class Hearing(Protocol):
    """What a listener hears, as a room uses it (``rtc.outbound.TranslatedAudioTrack``)."""

    def add_source(self, key: object, source: Source) -> None: ...

    def speech_source(self, key: object) -> SpeechQueue: ...

    def remove_source(self, key: object) -> None: ...


@dataclass
class Participant:
    info: ParticipantInfo
    translates: Translating  # their voice's pipeline
    hears: Hearing  # what they hear
    emit: Emit  # to their socket
    voice: str | None = None  # the voice they want to hear
    voice_sinks: list[Callable[[Int16Array], None]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.info.id


class FanOut:
    """One speaker's speech in one language, pushed to every listener of that language."""

    def __init__(self) -> None:
        self.queues: dict[str, SpeechQueue] = {}
        self._open: dict[int, Playback] = {}  # one handle per segment, shared by the queues

    def open_segment(self, segment_id: int) -> Playback:
        playback = self._open.get(segment_id)
        if playback is None:
            playback = self._open[segment_id] = Playback(segment_id)
        for queue in list(self.queues.values()):
            queue.open_segment(segment_id, playback)
        return playback

    def push(self, segment_id: int, samples: Int16Array) -> None:
        playback = self._open.get(segment_id)
        for queue in list(self.queues.values()):
            queue.open_segment(segment_id, playback)  # a listener who joined meanwhile
            queue.push(segment_id, samples)

    def close_segment(self, segment_id: int) -> None:
        playback = self._open.pop(segment_id, None)
        for queue in list(self.queues.values()):
            queue.close_segment(segment_id)
        if playback is not None and not self.queues:
            playback.finish(time.monotonic())  # nobody listens: it is over

    @property
    def backlog_s(self) -> float:
        """The furthest-behind listener's: the pace is set for them."""
        return max((queue.backlog_s for queue in list(self.queues.values())), default=0.0)


class Room:
    """The participants of one room and the routes between them."""

    def __init__(
        self,
        room_id: str,
        max_participants: int,
        capabilities: Callable[[], routing.Capabilities],
    ) -> None:
        self.id = room_id
        self.max_participants = max_participants
        self._capabilities = capabilities
        self.participants: dict[str, Participant] = {}
        # Admitted offers still being answered: they hold a seat, so two offers racing for
        # the last one cannot both get in.
        self.reserved: set[str] = set()
        self._fanouts: dict[tuple[str, str], FanOut] = {}  # (speaker, language)
        self._forwards: dict[tuple[str, str], Callable[[Int16Array], None]] = {}
        self._routes: dict[str, routing.Route] = {}  # as applied
        # Participants whose connection dropped: their seat and identity wait for them to
        # come back (``step_away``) until the timer makes it a leave.
        self.away: dict[str, tuple[ParticipantInfo, asyncio.TimerHandle]] = {}
        #: Told when the room empties by itself (the last one away for too long).
        self.on_empty: Callable[[Room], None] | None = None
        # Joins and leaves (each may await pipelines stopping) happen one at a time.
        self._membership = asyncio.Lock()

    @property
    def full(self) -> bool:
        seats = len(self.participants) + len(self.reserved) + len(self.away)
        return seats >= self.max_participants

    @property
    def empty(self) -> bool:
        return not self.participants and not self.reserved and not self.away

    def reserve(self, participant_id: str) -> bool:
        """Hold a seat for an admitted offer until it joins or leaves; False if none is free.

        A participant coming back (``step_away``) takes their own seat again."""
        if participant_id in self.reserved:
            return True
        back = self.away.pop(participant_id, None)
        if back is not None:
            back[1].cancel()
            self.reserved.add(participant_id)
            return True
        if self.full:
            return False
        self.reserved.add(participant_id)
        return True

    def infos(self) -> list[ParticipantInfo]:
        """Everybody in the room, those whose connection dropped a moment ago included."""
        return [p.info for p in self.participants.values()] + [i for i, _ in self.away.values()]

    # -- messages -------------------------------------------------------------------------------

    def broadcast(self, message: ServerMessage) -> None:
        for participant in list(self.participants.values()):
            participant.emit(message)

    def speaker_events(self, info: ParticipantInfo) -> EventSink:
        """One speaker's pipeline events as wire messages tagged with the speaker, to whom
        ``rooms.audience`` says: what was said to everyone, a translation and its timing to
        the listeners of its language, the speaker's own session problems to them alone."""
        ref = SpeakerRef(id=info.id, display_name=info.display_name)

        def deliver(event: PipelineEvent) -> None:
            out = audience.addressed(event, ref)
            if out is None:
                return
            message, to = out
            if to.speaker:
                owner = self.participants.get(info.id)
                if owner is not None:
                    owner.emit(message)
                return
            for participant in list(self.participants.values()):
                if to.includes(participant.info.target_lang):
                    participant.emit(message)

        return deliver

    # -- membership -----------------------------------------------------------------------------

    async def join(self, participant: Participant, *, rejoin: bool = False) -> None:
        """``rejoin``: the same participant back after a dropped connection; the others
        were never told they left, so they are not told they joined."""
        async with self._membership:
            self.reserved.discard(participant.id)
            self.participants[participant.id] = participant
            await self._reroute()
        self._announce(
            "participant_joined", participant.info, to=participant.emit if rejoin else None
        )

    async def step_away(self, participant_id: str, grace_s: float) -> None:
        """The participant's connection dropped: their media goes now, but for ``grace_s``
        their seat waits and nobody is told; then it is a leave."""
        async with self._membership:
            gone = await self._remove(participant_id)
            if gone is None:
                return
            timer = asyncio.get_running_loop().call_later(
                grace_s, lambda: asyncio.ensure_future(self._away_too_long(participant_id))
            )
            self.away[participant_id] = (gone.info, timer)

    async def _away_too_long(self, participant_id: str) -> None:
        async with self._membership:
            gone = self.away.pop(participant_id, None)
        if gone is not None:
            self._announce("participant_left", gone[0])
            if self.on_empty is not None and self.empty:
                self.on_empty(self)

    async def update(
        self,
        participant_id: str,
        *,
        target_lang: str | None = None,
        voice: str | None = None,
        muted: bool | None = None,
    ) -> None:
        """A participant muted or unmuted, or now hears ``target_lang``: re-route them and
        tell everyone."""
        async with self._membership:
            who = self.participants.get(participant_id)
            if who is None:
                return
            if muted is not None:
                who.info = who.info.model_copy(update={"muted": muted})
            if target_lang is not None and target_lang != who.info.target_lang:
                who.info = who.info.model_copy(update={"target_lang": target_lang})
                who.voice = voice
                await self._reroute()
            updated = who.info
        self._announce("participant_updated", updated)

    async def leave(self, participant_id: str) -> None:
        async with self._membership:
            await self._leave(participant_id)

    async def _leave(self, participant_id: str) -> None:
        gone = await self._remove(participant_id)
        if gone is not None:
            self._announce("participant_left", gone.info)

    async def _remove(self, participant_id: str) -> Participant | None:
        """Take a participant's media out of the room (their seat and routes)."""
        self.reserved.discard(participant_id)
        gone = self.participants.pop(participant_id, None)
        if gone is None:
            return None
        await self._reroute()
        return gone

    def _announce(
        self,
        kind: Literal["participant_joined", "participant_left", "participant_updated"],
        who: ParticipantInfo,
        *,
        to: Emit | None = None,
    ) -> None:
        """Tell everyone (or only ``to``) who came, went or changed, with the room's
        participants as they are now."""
        event = ParticipantEvent(
            type=kind, room=self.id, participant=who, participants=self.infos()
        )
        if to is None:
            self.broadcast(event)
        else:
            to(event)

    # -- routes ---------------------------------------------------------------------------------

    @property
    def routes(self) -> Mapping[str, routing.Route]:
        """Every speaker's route as applied now (``rooms.routing``), by participant id."""
        return MappingProxyType(self._routes)

    async def _reroute(self) -> None:
        """Applies ``rooms.routing``'s plan for the participants now in the room: every
        participant is a speaker (their declared language) and a listener (what they hear).
        What belonged to somebody who left is only forgotten (their media is going away)."""
        everyone = self.participants
        new = routing.plan(
            [routing.Speaker(p.id, p.info.source_lang or None) for p in everyone.values()],
            [routing.Listener(p.id, p.info.target_lang) for p in everyone.values()],
            self._capabilities(),
        )
        change = routing.changes(self._routes, new)
        self._routes = new
        for speaker_id, language, listener_id in change.left:
            fanout = self._fanouts.get((speaker_id, language))
            if fanout is not None:
                fanout.queues.pop(listener_id, None)
            if listener_id in everyone:
                everyone[listener_id].hears.remove_source(speaker_id)
        for speaker_id, listener_id in change.unforwarded:
            self._drop_forward(speaker_id, listener_id)
            if listener_id in everyone:
                everyone[listener_id].hears.remove_source(speaker_id)
        for speaker_id, language in change.stopped:
            self._fanouts.pop((speaker_id, language), None)
            if speaker_id in everyone:
                await everyone[speaker_id].translates.remove_language(language)
        for speaker_id, language in change.started:
            fanout = self._fanouts[(speaker_id, language)] = FanOut()
            hearing = new[speaker_id].translations[language]
            voice = next((p.voice for p in everyone.values() if p.id in hearing and p.voice), None)
            everyone[speaker_id].translates.add_language(language, voice, fanout)
        for speaker_id, language, listener_id in change.joined:
            queue = everyone[listener_id].hears.speech_source(speaker_id)
            self._fanouts[(speaker_id, language)].queues[listener_id] = queue
        for speaker_id, listener_id in change.forwarded:
            live = LiveQueue()
            everyone[listener_id].hears.add_source(speaker_id, live)
            self._forwards[(speaker_id, listener_id)] = live.push
            everyone[speaker_id].voice_sinks.append(live.push)
        for speaker_id, listener_id, target in change.unserved:
            speaker = everyone[speaker_id].info
            everyone[listener_id].emit(
                ErrorMsg(
                    code=ErrorCode.UNSUPPORTED_PAIR,
                    message=f"{speaker.display_name} speaks {speaker.source_lang!r}, which "
                    f"cannot be translated into {target!r} here",
                    speaker=SpeakerRef(id=speaker.id, display_name=speaker.display_name),
                )
            )
        for speaker_id, candidates in change.candidates.items():
            everyone[speaker_id].translates.detect_among(candidates)

    def _drop_forward(self, speaker_id: str, listener_id: str) -> None:
        push = self._forwards.pop((speaker_id, listener_id), None)
        speaker = self.participants.get(speaker_id)
        if push is not None and speaker is not None and push in speaker.voice_sinks:
            speaker.voice_sinks.remove(push)


class RoomRegistry:
    """The rooms of one process (a room lives in exactly one process; see docs/scaling.md)."""

    def __init__(
        self, max_participants: int, capabilities: Callable[[], routing.Capabilities]
    ) -> None:
        self.rooms: dict[str, Room] = {}
        self._max = max_participants
        self._capabilities = capabilities

    def get_or_create(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room(room_id, self._max, self._capabilities)
            room.on_empty = self._forget
        return room

    def _forget(self, room: Room) -> None:
        if self.rooms.get(room.id) is room:
            del self.rooms[room.id]

    async def step_away(self, room_id: str, participant_id: str, grace_s: float) -> None:
        """A participant's connection dropped: keep their seat for ``grace_s``."""
        room = self.rooms.get(room_id)
        if room is not None:
            await room.step_away(participant_id, grace_s)

    async def leave(self, room_id: str, participant_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        await room.leave(participant_id)
        if room.empty and self.rooms.get(room_id) is room:
            del self.rooms[room_id]

    async def join(self, room: Room, participant: Participant, *, rejoin: bool = False) -> None:
        # The seat reserved at admission kept the room in the registry meanwhile.
        self.rooms.setdefault(room.id, room)
        await room.join(participant, rejoin=rejoin)
