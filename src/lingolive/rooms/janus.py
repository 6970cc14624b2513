"""The SFU rooms of one server (``LL_SFU=janus``): a Janus VideoRoom room and a
``JanusTranslator`` per LingoLive room, and who listens to each over ``/ws``.

``POST /rooms`` calls ``open``: a private audio room on Janus (through one admin connection
this registry keeps, reconnected if Janus restarted) and the node joined to it with **no
listener language yet**: a feed costs a peer connection and one translation and synthesis
of every phrase, so it is published when its first listener arrives (``listen``), not for a
default language nobody may hear, and unpublished when its last listener leaves
(``unlisten``). Speakers are still recognized meanwhile, so the captions of the source
reach every listener.

**A Janus room is a cache of the LingoLive room, not its identity.** Its number is derived
from the LingoLive room id (``janus_room_id``), and the room itself lives in the signed
invite, so whatever goes away can be rebuilt without anybody making a new room:

- Janus restarts (or the room is destroyed under us): the translator ends by itself, every
  listener gets a ``sfu_recovering`` notice, and the room is rebuilt — same Janus room
  number, the node rejoined, a feed per language that has listeners — retrying with backoff
  for ``LL_SFU_RECOVER_S``; then every listener gets a fresh ``sfu_ready`` (the page
  rejoins Janus with it). Only when Janus stays away that long do the listeners get
  ``sfu_failed``; the room is then forgotten, and the next ``sfu_listen`` tries again.
- This node restarts (with a fixed ``LL_ROOM_SECRET``, so old invites still verify): the
  first ``sfu_listen`` of a room this process does not know opens it again; the Janus room,
  if it outlived the node, is joined as it is, with the speakers still in it.

Every speaker's pipeline events become wire messages here, tagged with the speaker
(``SpeakerRef``: the Janus feed id and the name of their display), for the listeners
``rooms.audience`` names (the rule of both kinds of room): what was said goes to every
listener of the room, a translation (and its timing) only to the listeners of its language.

``close`` (server shutdown) closes every translator and destroys every VideoRoom room this
registry holds. ``JanusTranslator`` (and with it aiortc) is imported only when a room is
built, so the app context can hold this registry without loading the media stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.metrics import SfuCounts
from lingolive.pipeline.events import EventSink, PipelineEvent
from lingolive.pipeline.workers import Workers
from lingolive.protocol import (
    ErrorCode,
    ErrorMsg,
    NoticeMsg,
    ServerMessage,
    SfuReady,
    SfuRoomInfo,
    SpeakerRef,
)
from lingolive.rooms import audience
from lingolive.sfu import janus_tokens
from lingolive.sfu.displays import feed_display, is_lingolive
from lingolive.sfu.janus_api import VIDEOROOM_ROOM_EXISTS, JanusConnection, JanusError, VideoRoom

if TYPE_CHECKING:
    from lingolive.rooms.janus_translator import JanusTranslator, RemoteSpeaker

log = logging.getLogger(__name__)

#: Publishers a room accepts at once: its speakers plus one LingoLive feed per language.
ROOM_PUBLISHERS = 32
#: Between two tries to rebuild a room: doubling from the first, up to the last.
REBUILD_BACKOFF_S = (0.5, 5.0)
#: ``sfu_recovering``: the notice listeners get while their room is being rebuilt.
RECOVERING = "sfu_recovering"


def janus_room_id(room_id: str) -> int:
    """The Janus room number of a LingoLive room. Derived, not stored, so that a rebuilt
    room (Janus or this node restarted) lands on the same number; below 2**53 because
    browsers read it as a JavaScript number."""
    digest = hashlib.sha256(f"lingolive-room:{room_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2**53 - 2) + 1


def _cancel_renewals(room: SfuRoom) -> None:
    for renewal in room.renewals.values():
        renewal.cancel()
    room.renewals.clear()


def janus_room_secret(number: int, settings: Settings) -> str | None:
    """The secret of Janus room ``number`` (VideoRoom asks it to destroy the room, kick or
    edit): listeners' pages hold Janus tokens and know the room number, and without a
    secret any of them could destroy the room. Derived from the node's own Janus
    credentials, which change only with a Janus restart (that empties every room), so a
    node that restarted still holds its rooms; None when it has none (a Janus without an
    API secret or admin key keeps nobody out anyway)."""
    key = f"{settings.janus_api_secret}\0{settings.janus_admin_key}"
    if key == "\0":
        return None
    digest = hmac.new(key.encode(), f"lingolive-janus-room:{number}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


class SfuListener(Protocol):
    """A ``/ws`` socket listening to an SFU room (``signaling.session``)."""

    def emit(self, message: ServerMessage) -> None: ...

    async def end(self, code: str, message: str) -> None: ...

    async def shutdown(self) -> None: ...


class SfuUnavailable(Exception):
    """Janus could not be reached or refused (``POST /rooms`` answers 503)."""


class SfuRoomFull(Exception):
    """The room has ``LL_SFU_MAX_LISTENERS`` listeners already."""


class SfuRoomClosed(Exception):
    """The room was closed for idleness between ``open`` and ``listen``: open it again."""


@dataclass(eq=False)
class SfuRoom:
    """One LingoLive room in SFU mode."""

    id: str
    janus_room: int
    info: SfuRoomInfo
    #: The Janus room's ``secret`` (``janus_room_secret``).
    secret: str | None = None
    translator: JanusTranslator | None = None
    #: Listener language → the sockets listening in it.
    listeners: dict[str, set[SfuListener]] = field(default_factory=dict)
    #: Why the translator stopped by itself, while the room is being rebuilt (None: it runs).
    recovering: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Closes the room once it has had no listener for ``LL_SFU_IDLE_S``.
    idle: asyncio.TimerHandle | None = None
    #: Listener → when it gets a fresh ``sfu_ready`` (its Janus token is about to expire).
    renewals: dict[SfuListener, asyncio.TimerHandle] = field(default_factory=dict)
    closed: bool = False

    def everyone(self) -> list[SfuListener]:
        return [listener for group in list(self.listeners.values()) for listener in group]

    def stop_renewal(self, listener: SfuListener) -> None:
        """``listener`` gets no fresh ``sfu_ready`` from the timer set before."""
        renewal = self.renewals.pop(listener, None)
        if renewal is not None:
            renewal.cancel()


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
        self._opening: dict[str, asyncio.Future[SfuRoom]] = {}
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._rebuilt = 0
        self._failed = 0

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
                    await self._check_tokens(connection)
                    session = await connection.create_session()
                    self._videoroom = await VideoRoom.attach(
                        session, admin_key=s.janus_admin_key or None
                    )
                except BaseException:
                    await connection.close()
                    raise
                self._admin = connection
            return self._videoroom

    async def _check_tokens(self, connection: JanusConnection) -> None:
        """A Janus that wants tokens (``token_auth``) from a node that cannot sign them
        would let the node in (with its API secret) and refuse every page: say so at once,
        in ``POST /rooms``, rather than in each listener's browser."""
        info = await connection.info()
        if info.get("auth_token") and not self.settings.janus_token_secret:
            raise SfuUnavailable(
                f"Janus at LL_JANUS_URL={self.settings.janus_url} wants tokens (token_auth = "
                "true) and LL_JANUS_TOKEN_SECRET is not set: browsers could not join its "
                "rooms; set it to Janus's token_auth_secret (docs/sfu.md)"
            )

    def ready(self, room: SfuRoom, language: str) -> SfuReady:
        """``sfu_ready`` for one listener: with a Janus token of its own when this node
        signs them (``LL_JANUS_TOKEN_SECRET``)."""
        s = self.settings
        token = None
        if s.janus_token_secret:
            token = janus_tokens.sign(s.janus_token_secret, s.janus_token_ttl_s)
        return SfuReady(
            room=room.id,
            language=language,
            sfu=room.info,
            feed_display=feed_display(language),
            janus_token=token,
        )

    def send_ready(self, room: SfuRoom, language: str, listener: SfuListener) -> None:
        """Sends ``sfu_ready`` and, with tokens, a fresh one before the token expires: Janus
        checks the token on every request (keepalives too), so a page must join again
        with a new one; it does so on any new ``sfu_ready`` (a moment without audio)."""
        listener.emit(self.ready(room, language))
        room.stop_renewal(listener)
        if self.settings.janus_token_secret:
            room.renewals[listener] = asyncio.get_running_loop().call_later(
                janus_tokens.renew_after(self.settings.janus_token_ttl_s),
                self._renew,
                room,
                language,
                listener,
            )

    def _renew(self, room: SfuRoom, language: str, listener: SfuListener) -> None:
        room.renewals.pop(listener, None)
        if room.closed or room.recovering is not None:  # (the rebuild sends sfu_ready)
            return
        if listener in room.listeners.get(language, ()):
            self.send_ready(room, language, listener)

    async def open(self, room_id: str) -> SfuRoom:
        """The SFU room of ``room_id``, built if this process does not hold it (a new room,
        or one made before this node restarted); ``SfuUnavailable`` when Janus cannot be
        reached or refuses (nothing is left behind then). Two callers opening one room
        share one build."""
        room = self.rooms.get(room_id)
        if room is not None:
            return room
        opening = self._opening.get(room_id)
        if opening is None:
            opening = asyncio.ensure_future(self._open(room_id))
            self._opening[room_id] = opening
            opening.add_done_callback(lambda _: self._opening.pop(room_id, None))
        return await asyncio.shield(opening)

    async def _open(self, room_id: str) -> SfuRoom:
        number = janus_room_id(room_id)
        room = SfuRoom(
            room_id,
            number,
            SfuRoomInfo(url=self.settings.janus_browser_url(), room=number),
            janus_room_secret(number, self.settings),
        )
        async with room.lock:
            await self._build(room)
        self.rooms[room_id] = room
        self._watch_idle(room)
        log.info("room %s: Janus room %d, translating", room_id, number)
        return room

    def _watch_idle(self, room: SfuRoom) -> None:
        """(Re)starts the idle clock of a room nobody listens to: an SFU room holds a Janus
        room, a peer connection and a pipeline per speaker, so one that everybody left is
        closed after ``LL_SFU_IDLE_S``; its invite opens it again."""
        if room.idle is not None:
            room.idle.cancel()
            room.idle = None
        if room.everyone() or self._closing:
            return

        def close_idle() -> None:
            task = asyncio.get_running_loop().create_task(self._close_idle(room))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        room.idle = asyncio.get_running_loop().call_later(self.settings.sfu_idle_s, close_idle)

    async def _close_idle(self, room: SfuRoom) -> None:
        async with room.lock:
            if room.everyone() or room.recovering is not None or room.closed:
                return
            room.closed = True
            if self.rooms.get(room.id) is room:
                del self.rooms[room.id]
            translator, room.translator = room.translator, None
        log.info(
            "room %s: nobody listened for %.0f s; closing it", room.id, self.settings.sfu_idle_s
        )
        if translator is not None:
            await translator.close()
        try:
            await (await self._rooms_handle()).destroy_room(room.janus_room, secret=room.secret)
        except (JanusError, OSError, SfuUnavailable) as exc:
            log.warning("room %s: destroying Janus room %d: %s", room.id, room.janus_room, exc)

    async def _build(self, room: SfuRoom) -> None:
        """Makes sure the Janus room exists and joins the node to it with a feed per
        language that has listeners (``room.lock`` held). ``SfuUnavailable`` otherwise."""
        from lingolive.rooms.janus_translator import JanusTranslator  # aiortc: only in SFU mode

        s = self.settings
        created = False
        try:
            videoroom = await self._rooms_handle()
            await videoroom.create_room(
                room.janus_room,
                description=f"LingoLive {room.id}",
                secret=room.secret,
                publishers=ROOM_PUBLISHERS,
            )
            created = True
        except JanusError as exc:
            if exc.code != VIDEOROOM_ROOM_EXISTS:  # (exists: it outlived a restart of ours)
                raise SfuUnavailable(
                    f"Janus at LL_JANUS_URL={s.janus_url} did not create the room: {exc}"
                ) from exc
        except OSError as exc:
            raise SfuUnavailable(f"Janus at LL_JANUS_URL={s.janus_url}: {exc}") from exc
        if not created:
            await self._kick_stale(videoroom, room)
        try:
            translator = await JanusTranslator.join(
                s.janus_url,
                room.janus_room,
                list(room.listeners),
                engines=self.engines,
                workers=self.workers,
                settings=s,
                events=lambda speaker: self.speaker_events(room, speaker),
                api_secret=s.janus_api_secret or None,
            )
        except (JanusError, OSError) as exc:
            if created:
                with contextlib.suppress(JanusError, OSError):
                    await videoroom.destroy_room(room.janus_room, secret=room.secret)
            raise SfuUnavailable(
                f"joining the Janus room at LL_JANUS_URL={s.janus_url} failed: {exc}"
            ) from exc
        room.translator = translator
        room.recovering = None
        translator.ended.add_done_callback(lambda ended: self._ended(room, translator, ended))

    async def _kick_stale(self, videoroom: VideoRoom, room: SfuRoom) -> None:
        """A Janus room that outlived this node still holds the dead node's participants
        until Janus times their session out (a minute): its silent feeds would be heard
        instead of the new ones. The room has one owner, so every LingoLive participant
        there before the node joins is stale."""
        try:
            stale = [
                p for p in await videoroom.participants(room.janus_room) if is_lingolive(p.display)
            ]
            for participant in stale:
                await videoroom.kick(room.janus_room, participant.id, secret=room.secret)
        except JanusError as exc:
            log.warning("room %s: removing stale LingoLive feeds: %s", room.id, exc)
            return
        if stale:
            log.info("room %s: removed %d stale LingoLive participants", room.id, len(stale))

    def _ended(
        self, room: SfuRoom, translator: JanusTranslator, ended: asyncio.Future[str]
    ) -> None:
        reason = ended.result() if not ended.cancelled() else "cancelled"
        if reason == "closed" or self._closing or room.closed or room.translator is not translator:
            return
        room.recovering = reason
        log.warning("room %s: the translation stopped (%s); rebuilding it", room.id, reason)
        task = asyncio.get_running_loop().create_task(self._recover(room, translator, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recover(self, room: SfuRoom, old: JanusTranslator, reason: str) -> None:
        """Rebuilds a room whose translator stopped by itself; tells its listeners."""
        limit = self.settings.sfu_recover_s
        notice = NoticeMsg(
            code=RECOVERING,
            message=f"the room's audio server went away ({reason}); rebuilding the room "
            f"(for up to {limit:.0f} s)",
        )
        for listener in room.everyone():
            listener.emit(notice)
        await old.close()
        deadline = time.monotonic() + limit
        delay, longest = REBUILD_BACKOFF_S
        while True:
            await asyncio.sleep(delay)
            async with room.lock:
                try:
                    await self._build(room)
                except SfuUnavailable as exc:
                    error = str(exc)
                else:
                    self._rebuilt += 1
                    self._watch_idle(room)
                    log.info("room %s: rebuilt on Janus room %d", room.id, room.janus_room)
                    for language, group in list(room.listeners.items()):
                        for listener in list(group):
                            self.send_ready(room, language, listener)
                    return
            if time.monotonic() + delay > deadline:
                break
            delay = min(delay * 2, longest)
        self._failed += 1
        room.closed = True
        if room.idle is not None:
            room.idle.cancel()
        _cancel_renewals(room)
        if self.rooms.get(room.id) is room:
            del self.rooms[room.id]  # the next sfu_listen tries again from scratch
        log.warning("room %s: not rebuilt in %.0f s: %s", room.id, limit, error)
        message = (
            f"the translation of room {room.id} stopped ({reason}) and could not be rebuilt "
            f"in {limit:.0f} s ({error}); join again when the room's audio server is back"
        )
        await asyncio.gather(
            *(listener.end(ErrorCode.SFU_FAILED, message) for listener in room.everyone()),
            return_exceptions=True,
        )

    # -- listeners ------------------------------------------------------------------------------

    async def listen(self, room: SfuRoom, language: str, listener: SfuListener) -> None:
        """``listener`` hears ``room`` in ``language``; the first listener of a language has
        its feed published, and the listener gets ``sfu_ready`` (at once, or when a room
        being rebuilt is back). ``SfuRoomFull`` past ``LL_SFU_MAX_LISTENERS``;
        ``SfuUnavailable`` if Janus refuses the feed (nothing changed then)."""
        async with room.lock:
            if room.closed:
                raise SfuRoomClosed(room.id)
            limit = self.settings.sfu_max_listeners
            if len(room.everyone()) >= limit:
                raise SfuRoomFull(
                    f"room {room.id} has its {limit} listeners (LL_SFU_MAX_LISTENERS)"
                )
            group = room.listeners.setdefault(language, set())
            group.add(listener)
            self._watch_idle(room)
            if room.recovering is not None:
                listener.emit(
                    NoticeMsg(
                        code=RECOVERING,
                        message=f"the room is being rebuilt ({room.recovering}); "
                        "you will hear it when it is back",
                    )
                )
                return  # the rebuild publishes the feed and sends sfu_ready
            if len(group) == 1:
                assert room.translator is not None
                try:
                    await room.translator.add_language(language)
                except BaseException as exc:
                    group.discard(listener)
                    if not group:
                        room.listeners.pop(language, None)
                    self._watch_idle(room)
                    if isinstance(exc, JanusError):
                        message = f"Janus did not publish the {language} feed: {exc}"
                        raise SfuUnavailable(message) from exc
                    raise
            self.send_ready(room, language, listener)

    async def unlisten(self, room: SfuRoom, language: str, listener: SfuListener) -> None:
        """The last listener of a language gone: its feed is unpublished."""
        async with room.lock:
            room.stop_renewal(listener)
            group = room.listeners.get(language)
            if group is None or listener not in group:
                return
            group.discard(listener)
            if group:
                return
            room.listeners.pop(language, None)
            self._watch_idle(room)
            if room.translator is not None and room.recovering is None and not self._closing:
                try:
                    await room.translator.remove_language(language)
                except JanusError as exc:
                    log.warning("room %s: unpublishing %s: %s", room.id, language, exc)

    def speaker_events(self, room: SfuRoom, speaker: RemoteSpeaker) -> EventSink:
        """One speaker's pipeline events as wire messages tagged with the speaker, to the
        room's listeners ``rooms.audience`` names: what was said to all, a translation and
        its timing to the listeners of its language. The speaker's own session problems
        are logged: the speaker is a Janus participant, not one of our sockets."""
        ref = SpeakerRef(id=str(speaker.feed), display_name=speaker.name)

        def deliver(event: PipelineEvent) -> None:
            out = audience.addressed(event, ref)
            if out is None:
                return
            message, to = out
            if to.speaker:
                text = message.message if isinstance(message, ErrorMsg | NoticeMsg) else message
                log.info("room %s, %s: %s", room.id, speaker.name, text)
                return
            for language, group in list(room.listeners.items()):
                if to.includes(language):
                    for listener in list(group):
                        listener.emit(message)

        return deliver

    def counts(self) -> SfuCounts:
        """For ``/metrics``; read from the scrape's thread, so only copies are iterated."""
        rooms = list(self.rooms.values())
        translators = [room.translator for room in rooms if room.translator is not None]
        return SfuCounts(
            rooms=len(rooms),
            recovering=sum(room.recovering is not None for room in rooms),
            listeners=sum(len(g) for room in rooms for g in list(room.listeners.values())),
            feeds=sum(len(t.feeds) for t in translators),
            speakers=sum(len(t.speakers) for t in translators),
            rebuilt=self._rebuilt,
            failed=self._failed,
        )

    # -- the end --------------------------------------------------------------------------------

    async def shutdown_listeners(self) -> None:
        """The server is stopping: every listener is told (``server_shutdown``)."""
        self._closing = True
        listeners = [listener for room in self.rooms.values() for listener in room.everyone()]
        await asyncio.gather(*(lst.shutdown() for lst in listeners), return_exceptions=True)

    async def close(self) -> None:
        """Closes every translator and destroys every room this registry holds."""
        self._closing = True
        await self.shutdown_listeners()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        rooms, self.rooms = list(self.rooms.values()), {}
        for room in rooms:
            if room.idle is not None:
                room.idle.cancel()
            _cancel_renewals(room)
            if room.translator is not None:
                await room.translator.close()
        videoroom: VideoRoom | None = None
        if rooms:
            try:
                videoroom = await self._rooms_handle()
            except (JanusError, OSError, SfuUnavailable) as exc:
                log.warning("cannot destroy the Janus rooms: %s", exc)
        for room in rooms:
            if videoroom is not None:
                try:
                    await videoroom.destroy_room(room.janus_room, secret=room.secret)
                except JanusError as exc:
                    log.warning("destroying Janus room %d: %s", room.janus_room, exc)
        if self._admin is not None:
            await self._admin.close()  # (VideoRoom.close is not needed: rooms are gone)
        self._admin = self._videoroom = None
