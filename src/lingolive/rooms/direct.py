"""A room: who is in it, and who hears whom in which language.

Every participant is a speaker (their own recognition pipeline: STT once, whoever listens)
and a listener (one outgoing track mixing everybody else). For each speaker the room keeps
one translation per distinct listener language (``Cascade.add_language``) whose speech is
fanned out to every listener of that language (``FanOut``): N listeners of Spanish cost one
translation and one synthesis, not N. A listener who speaks the speaker's language hears the
original voice, forwarded untranslated (no pointless STT-to-TTS round trip), and still gets
the captions. Nobody hears themselves.

Routes are recomputed whenever somebody joins or leaves, so joining or leaving mid-phrase
only adds or removes that person's own sources and languages; everybody else's audio goes
on. Captions and events are sent to every participant, tagged with the speaker.

A room sees a participant through two small interfaces, not through their call: what it
asks of a speaker's pipeline (``Translating``: add or remove a listener language) and of a
listener's track (``Hearing``: mix in or take out a source). The first listener that plays
a phrase resolves the phrase's ``Playback`` handle, which the fan-out shares among them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from lingolive.rtc.mixing import LiveQueue, Source, SpeechQueue
from lingolive.wire_events import to_wire

log = logging.getLogger(__name__)

Emit = Callable[[ServerMessage], None]


class Translating(Protocol):
    """A speaker's pipeline, as a room uses it (``pipeline.cascade.Cascade``)."""

    def add_language(self, language: str, voice: str | None, output: SpeechOutput) -> None: ...

    async def remove_language(self, language: str) -> None: ...


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


class Room:
    """The participants of one room and the routes between them."""

    def __init__(
        self, room_id: str, max_participants: int, pairs: Callable[[], list[tuple[str, str]]]
    ) -> None:
        self.id = room_id
        self.max_participants = max_participants
        self._pairs = pairs
        self.participants: dict[str, Participant] = {}
        # Admitted offers still being answered: they hold a seat, so two offers racing for
        # the last one cannot both get in.
        self.reserved: set[str] = set()
        self._fanouts: dict[tuple[str, str], FanOut] = {}  # (speaker, language)
        self._forwards: dict[tuple[str, str], Callable[[Int16Array], None]] = {}
        self._warned: set[tuple[str, str]] = set()
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
        """Captions, translations, timings and errors of one speaker's pipeline, as wire
        messages tagged with the speaker, to everyone (a speaker's own session problems to
        them alone)."""
        ref = SpeakerRef(id=info.id, display_name=info.display_name)

        def deliver(event: PipelineEvent) -> None:
            message = to_wire(event)
            if message is None:
                return
            if "speaker" in type(message).model_fields:
                message = message.model_copy(update={"speaker": ref})
            if isinstance(message, ErrorMsg) and message.segment_id is None:
                owner = self.participants.get(info.id)
                if owner is not None:
                    owner.emit(message)  # a speaker's own session problem
                return
            self.broadcast(message)

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
                self._unroute_listener(who)
                who.info = who.info.model_copy(update={"target_lang": target_lang})
                who.voice = voice
                await self._reroute()
            updated = who.info
        self._announce("participant_updated", updated)

    def _unroute_listener(self, listener: Participant) -> None:
        """Take ``listener`` out of every route that reaches them (not the ones they speak
        into): their sources, fan-out seats and forwarded voices."""
        for fanout in self._fanouts.values():
            fanout.queues.pop(listener.id, None)
        for speaker_id, listener_id in list(self._forwards):
            if listener_id == listener.id:
                self._drop_forward(speaker_id, listener_id)
        for speaker_id in self.participants:
            listener.hears.remove_source(speaker_id)
        self._warned = {w for w in self._warned if w[1] != listener.id}

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
        for (speaker, _lang), fanout in list(self._fanouts.items()):
            fanout.queues.pop(participant_id, None)
            if speaker == participant_id:
                del self._fanouts[(speaker, _lang)]
        for speaker, listener in list(self._forwards):
            if participant_id in (speaker, listener):
                self._drop_forward(speaker, listener)
        for other in self.participants.values():
            other.hears.remove_source(participant_id)
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

    async def _reroute(self) -> None:
        pairs = set(self._pairs())
        everyone = list(self.participants.values())
        for speaker in everyone:
            source = speaker.info.source_lang
            listeners = [p for p in everyone if p.id != speaker.id]
            wanted = {p.info.target_lang for p in listeners if p.info.target_lang != source}
            for language in wanted - {lang for (s, lang) in self._fanouts if s == speaker.id}:
                if (source, language) not in pairs:
                    continue
                fanout = FanOut()
                self._fanouts[(speaker.id, language)] = fanout
                voice = next(
                    (p.voice for p in listeners if p.info.target_lang == language and p.voice), None
                )
                speaker.translates.add_language(language, voice, fanout)
            for s, language in list(self._fanouts):
                if s == speaker.id and language not in wanted:
                    del self._fanouts[(s, language)]
                    await speaker.translates.remove_language(language)
            for listener in listeners:
                self._route(speaker, listener, pairs)

    def _route(
        self, speaker: Participant, listener: Participant, pairs: set[tuple[str, str]]
    ) -> None:
        source, target = speaker.info.source_lang, listener.info.target_lang
        if target == source:
            if (speaker.id, listener.id) not in self._forwards:
                queue = LiveQueue()
                listener.hears.add_source(speaker.id, queue)
                self._forwards[(speaker.id, listener.id)] = queue.push
                speaker.voice_sinks.append(queue.push)
            return
        fanout = self._fanouts.get((speaker.id, target))
        if fanout is None:
            if (speaker.id, listener.id) not in self._warned:
                self._warned.add((speaker.id, listener.id))
                listener.emit(
                    ErrorMsg(
                        code=ErrorCode.UNSUPPORTED_PAIR,
                        message=f"{speaker.info.display_name} speaks {source!r}, which cannot be "
                        f"translated into {target!r} here",
                        speaker=SpeakerRef(id=speaker.id, display_name=speaker.info.display_name),
                    )
                )
            return
        if listener.id not in fanout.queues:
            fanout.queues[listener.id] = listener.hears.speech_source(speaker.id)

    def _drop_forward(self, speaker_id: str, listener_id: str) -> None:
        push = self._forwards.pop((speaker_id, listener_id), None)
        speaker = self.participants.get(speaker_id)
        if push is not None and speaker is not None and push in speaker.voice_sinks:
            speaker.voice_sinks.remove(push)


class RoomRegistry:
    """The rooms of one process (a room lives in exactly one process; see docs/scaling.md)."""

    def __init__(self, max_participants: int, pairs: Callable[[], list[tuple[str, str]]]) -> None:
        self.rooms: dict[str, Room] = {}
        self._max = max_participants
        self._pairs = pairs

    def get_or_create(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room(room_id, self._max, self._pairs)
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
