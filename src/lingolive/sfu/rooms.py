"""The SFU rooms of one server (``LL_SFU=janus``): a Janus VideoRoom room and a
``JanusTranslator`` per LingoLive room, and who listens to each over ``/ws``.

``POST /rooms`` calls ``create``: a private audio room on Janus (through one admin
connection this registry keeps, reconnected if Janus restarted) and the node joined to it
with **no listener language yet**: a feed costs a peer connection and one translation and
synthesis of every phrase, so it is published when its first listener arrives
(``listen``), not for a default language nobody may hear, and unpublished when its last
listener leaves (``unlisten``). Speakers are still recognized meanwhile, so the captions of
the source reach every listener.

Every speaker's pipeline events become wire messages here (``wire_events.to_wire``), tagged
with the speaker (``SpeakerRef``: the Janus feed id and the name of their display): what
was said (transcripts, speaking) goes to every listener of the room, a translation (and its
timing) only to the listeners of its language.

When a translator stops by itself (Janus went away, the room was destroyed) the room is
marked failed and every listener is ended with ``sfu_failed``. ``close`` (server shutdown)
closes every translator and destroys every VideoRoom room this registry created.

``JanusTranslator`` (and with it aiortc) is imported only when a room is created, so the
app context can hold this registry without loading the media stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.pipeline.events import EventSink, PipelineEvent
from lingolive.pipeline.workers import Workers
from lingolive.protocol import (
    ErrorCode,
    ErrorMsg,
    NoticeMsg,
    ServerMessage,
    SfuRoomInfo,
    SpeakerRef,
    TimingMsg,
    TranslationMsg,
)
from lingolive.sfu.janus_api import JanusConnection, JanusError, VideoRoom
from lingolive.wire_events import to_wire

if TYPE_CHECKING:
    from lingolive.sfu.translator import JanusTranslator, RemoteSpeaker

log = logging.getLogger(__name__)

#: Publishers a room accepts at once: its speakers plus one LingoLive feed per language.
ROOM_PUBLISHERS = 32


class SfuListener(Protocol):
    """A ``/ws`` socket listening to an SFU room (``signaling.session``)."""

    def emit(self, message: ServerMessage) -> None: ...

    async def end(self, code: str, message: str) -> None: ...

    async def shutdown(self) -> None: ...


class SfuUnavailable(Exception):
    """Janus could not be reached or refused (``POST /rooms`` answers 503)."""


@dataclass(eq=False)
class SfuRoom:
    """One LingoLive room in SFU mode."""

    id: str
    janus_room: int
    info: SfuRoomInfo
    translator: JanusTranslator | None = None
    #: Listener language → the sockets listening in it.
    listeners: dict[str, set[SfuListener]] = field(default_factory=dict)
    #: Why the translator stopped by itself (None: it runs).
    failed: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def everyone(self) -> list[SfuListener]:
        return [listener for group in self.listeners.values() for listener in group]


class SfuRooms:
    """The SFU rooms of this server; owned by the ``AppContext``."""

    def __init__(self, settings: Settings, engines: Engines, workers: Workers) -> None:
        self.settings = settings
        self.engines = engines
        self.workers = workers
        self.rooms: dict[str, SfuRoom] = {}
        self._admin: JanusConnection | None = None
        self._videoroom: VideoRoom | None = None
        self._admin_lock = asyncio.Lock()
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # -- rooms ----------------------------------------------------------------------------------

    async def _rooms_handle(self) -> VideoRoom:
        """The VideoRoom handle rooms are created with (one admin connection, reconnected
        when Janus went away)."""
        async with self._admin_lock:
            if self._admin is None or self._admin.closed or self._videoroom is None:
                if self._admin is not None:
                    await self._admin.close()
                self._admin = self._videoroom = None
                s = self.settings
                connection = await JanusConnection.connect(
                    s.janus_url, api_secret=s.janus_api_secret or None
                )
                try:
                    session = await connection.create_session()
                    self._videoroom = await VideoRoom.attach(
                        session, admin_key=s.janus_admin_key or None
                    )
                except BaseException:
                    await connection.close()
                    raise
                self._admin = connection
            return self._videoroom

    async def create(self, room_id: str) -> SfuRoom:
        """A Janus room for ``room_id`` with the node in it; ``SfuUnavailable`` when Janus
        cannot be reached or refuses (nothing is left behind then)."""
        from lingolive.sfu.translator import JanusTranslator  # aiortc: only in SFU mode

        s = self.settings
        try:
            videoroom = await self._rooms_handle()
            janus_room = await videoroom.create_room(
                description=f"LingoLive {room_id}", publishers=ROOM_PUBLISHERS
            )
        except JanusError as exc:
            raise SfuUnavailable(
                f"Janus at LL_JANUS_URL={s.janus_url} did not create the room: {exc}"
            ) from exc
        room = SfuRoom(room_id, janus_room, SfuRoomInfo(url=s.janus_browser_url(), room=janus_room))
        try:
            room.translator = await JanusTranslator.join(
                s.janus_url,
                janus_room,
                [],
                engines=self.engines,
                workers=self.workers,
                settings=s,
                events=lambda speaker: self._speaker_events(room, speaker),
                api_secret=s.janus_api_secret or None,
            )
        except JanusError as exc:
            with contextlib.suppress(JanusError):
                await videoroom.destroy_room(janus_room)
            raise SfuUnavailable(
                f"joining the Janus room at LL_JANUS_URL={s.janus_url} failed: {exc}"
            ) from exc
        self.rooms[room_id] = room
        room.translator.ended.add_done_callback(lambda ended: self._ended(room, ended))
        log.info("room %s: Janus room %d, translating", room_id, janus_room)
        return room

    def _ended(self, room: SfuRoom, ended: asyncio.Future[str]) -> None:
        reason = ended.result() if not ended.cancelled() else "cancelled"
        if reason == "closed" or self._closing:
            return
        room.failed = reason
        log.warning("room %s: the translation stopped: %s", room.id, reason)
        task = asyncio.get_running_loop().create_task(self._fail(room, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fail(self, room: SfuRoom, reason: str) -> None:
        message = (
            f"the translation of room {room.id} stopped ({reason}): the server lost its "
            "Janus room; create a new room"
        )
        await asyncio.gather(
            *(listener.end(ErrorCode.SFU_FAILED, message) for listener in room.everyone()),
            return_exceptions=True,
        )

    # -- listeners ------------------------------------------------------------------------------

    async def listen(self, room: SfuRoom, language: str, listener: SfuListener) -> None:
        """``listener`` hears ``room`` in ``language``; the first listener of a language has
        its feed published (``JanusError`` if Janus refuses: nothing changed then)."""
        async with room.lock:
            assert room.translator is not None
            group = room.listeners.setdefault(language, set())
            group.add(listener)
            if len(group) > 1:
                return
            try:
                await room.translator.add_language(language)
            except BaseException:
                group.discard(listener)
                if not group:
                    room.listeners.pop(language, None)
                raise

    async def unlisten(self, room: SfuRoom, language: str, listener: SfuListener) -> None:
        """The last listener of a language gone: its feed is unpublished."""
        async with room.lock:
            group = room.listeners.get(language)
            if group is None or listener not in group:
                return
            group.discard(listener)
            if group:
                return
            room.listeners.pop(language, None)
            if room.translator is not None and room.failed is None and not self._closing:
                try:
                    await room.translator.remove_language(language)
                except JanusError as exc:
                    log.warning("room %s: unpublishing %s: %s", room.id, language, exc)

    def _speaker_events(self, room: SfuRoom, speaker: RemoteSpeaker) -> EventSink:
        """One speaker's pipeline events, as wire messages to the room's listeners."""
        ref = SpeakerRef(id=str(speaker.feed), display_name=speaker.name)

        def deliver(event: PipelineEvent) -> None:
            message = to_wire(event)
            if message is None:
                return
            if "speaker" in type(message).model_fields:
                message = message.model_copy(update={"speaker": ref})
            if isinstance(message, TranslationMsg | TimingMsg):
                targets: Iterable[SfuListener] = room.listeners.get(message.lang or "", ())
            elif isinstance(message, ErrorMsg | NoticeMsg) and message.segment_id is None:
                # The speaker's own connection (audio shed, recognition behind): the node's
                # business, not the listeners'.
                log.info("room %s, %s: %s", room.id, speaker.name, message.message)
                return
            else:
                targets = room.everyone()
            for listener in list(targets):
                listener.emit(message)

        return deliver

    # -- the end --------------------------------------------------------------------------------

    async def shutdown_listeners(self) -> None:
        """The server is stopping: every listener is told (``server_shutdown``)."""
        self._closing = True
        listeners = [listener for room in self.rooms.values() for listener in room.everyone()]
        await asyncio.gather(*(lst.shutdown() for lst in listeners), return_exceptions=True)

    async def close(self) -> None:
        """Closes every translator and destroys every room this registry created."""
        self._closing = True
        await self.shutdown_listeners()
        for task in list(self._tasks):
            task.cancel()
        rooms, self.rooms = list(self.rooms.values()), {}
        for room in rooms:
            if room.translator is not None:
                await room.translator.close()
        videoroom: VideoRoom | None = None
        if any(room.failed is None for room in rooms):
            try:
                videoroom = await self._rooms_handle()
            except JanusError as exc:
                log.warning("cannot destroy the Janus rooms: %s", exc)
        for room in rooms:
            if videoroom is not None and room.failed is None:
                try:
                    await videoroom.destroy_room(room.janus_room)
                except JanusError as exc:
                    log.warning("destroying Janus room %d: %s", room.janus_room, exc)
        if self._admin is not None:
            await self._admin.close()  # (VideoRoom.close is not needed: rooms are gone)
        self._admin = self._videoroom = None
