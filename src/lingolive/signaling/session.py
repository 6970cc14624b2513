"""One signaling WebSocket: parse client messages, start one call, tell the client.

Every inbound message is size-checked, JSON-decoded and validated against ``protocol``
before anything acts on it; whatever is wrong gets an ``error`` message with a precise
``code`` and the socket stays usable. An offer is admitted (capacity, languages, room
token), then becomes a ``Call`` (``rtc.call``: the media of one participant); the session
keeps the socket, its outbox, and the mapping of the call's events and ending to wire
messages. When the socket closes, whichever side closes it, the call is released with it,
so nothing outlives the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid

from fastapi import WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from lingolive import logs
from lingolive.context import AppContext
from lingolive.engines.selection import Languages
from lingolive.pipeline.events import EventSink, PipelineEvent, fan_out
from lingolive.pipeline.glossary import Glossary
from lingolive.protocol import (
    CLIENT_MESSAGE,
    CLIENT_TYPES,
    Answer,
    Bye,
    Candidate,
    ErrorCode,
    ErrorMsg,
    Listen,
    Mute,
    Offer,
    ParticipantInfo,
    Ready,
    Say,
    ServerMessage,
    SfuListen,
    Skip,
    glossary_items,
)
from lingolive.rooms import tokens
from lingolive.rooms.direct import Participant, Room
from lingolive.rooms.janus import SfuRoom, SfuRoomClosed, SfuRoomFull, SfuUnavailable
from lingolive.rtc.call import Call, CallEnd, CandidateRefused, Ending
from lingolive.rtc.peer import BadSDP
from lingolive.sfu.janus_api import JanusError
from lingolive.signaling.admission import Admission
from lingolive.signaling.controls import Controls
from lingolive.signaling.refusals import SessionError, choose_languages
from lingolive.signaling.relay import RelayTo, relay
from lingolive.wire_events import to_wire

log = logging.getLogger(__name__)

SEND_QUEUE = 1000

#: What the client is told when its call ends by itself (None: nothing to tell).
ENDING_CODES: dict[CallEnd, str | None] = {
    CallEnd.CONNECTION_FAILED: ErrorCode.CONNECTION_FAILED,
    CallEnd.CONNECTION_CLOSED: None,
    CallEnd.CONNECT_TIMEOUT: ErrorCode.CONNECT_TIMEOUT,
    CallEnd.IDLE_TIMEOUT: ErrorCode.IDLE_TIMEOUT,
    CallEnd.EXPIRED: ErrorCode.SESSION_EXPIRED,
}


class SignalingSession:
    """The server side of one ``/ws`` connection."""

    def __init__(
        self, ws: WebSocket, ctx: AppContext, admission: Admission, address: str = "unknown"
    ) -> None:
        self.ws = ws
        self.ctx = ctx
        self._admission = admission
        self.address = address  # the client's, for the per-address limit (admission.py)
        self.started = False  # an offer was accepted (or relayed): no longer pending
        self._deadline_fired = False
        self.id = uuid.uuid4().hex[:12]
        self.call: Call | None = None
        self.controls: Controls | None = None  # mute, listen, say, skip, once a call runs
        # How the session ends decides what a room hears: a `bye` or a limit is a leave; a
        # dropped connection keeps the seat for LL_REJOIN_GRACE_S (``Room.step_away``).
        self._said_bye = False
        self._ended_by_server = False
        self._rejoining = False  # this offer brings back a participant who dropped
        self._resume_token: str | None = None  # rooms: the seat to come back to
        self._outbox: asyncio.Queue[ServerMessage | None] = asyncio.Queue(SEND_QUEUE)
        self._sender: asyncio.Task[None] | None = None
        self.room_id: str | None = None
        #: SFU mode: the room this socket listens to, and in which language.
        self._sfu: tuple[SfuRoom, str] | None = None
        self._closing = False
        self.log = log

    # -- outgoing ---------------------------------------------------------------------------

    def emit(self, message: ServerMessage) -> None:
        """Queue a message for the client (callable from any code on the loop)."""
        if self._closing:
            return
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.log.warning("client is not reading its socket; closing session")
            asyncio.get_running_loop().create_task(self.close())

    async def _send_loop(self) -> None:
        while True:
            message = await self._outbox.get()
            if message is None:
                return
            try:
                await self.ws.send_text(message.model_dump_json())
            except (WebSocketDisconnect, RuntimeError, OSError):
                return

    def error(self, code: str, message: str) -> None:
        self.emit(ErrorMsg(code=code, message=message))

    def _tell(self, event: PipelineEvent) -> None:
        """The loopback call's pipeline events, as wire messages to this client."""
        message = to_wire(event)
        if message is not None:
            self.emit(message)

    # -- incoming ---------------------------------------------------------------------------

    async def run(self) -> None:
        logs.session_id.set(self.id)  # every line logged on behalf of this session says so
        await self.ws.accept()
        self._sender = asyncio.create_task(self._send_loop(), name=f"ws-send-{self.id}")
        deadline = asyncio.create_task(self._offer_deadline(), name=f"offer-{self.id}")
        try:
            while not self._closing:
                event = await self.ws.receive()
                if event["type"] == "websocket.disconnect":
                    break
                raw = event.get("text")
                if raw is None and event.get("bytes") is not None:
                    raw_bytes: bytes = event["bytes"]
                    if len(raw_bytes) > self.ctx.settings.max_message_bytes:
                        self.error(ErrorCode.TOO_LARGE, self._too_large(len(raw_bytes)))
                        continue
                    try:
                        raw = raw_bytes.decode("utf-8")
                    except UnicodeDecodeError:
                        self.error(ErrorCode.BAD_JSON, "binary message is not UTF-8 JSON")
                        continue
                if raw is None:
                    continue
                await self._handle_text(raw)
        except WebSocketDisconnect:
            pass
        except RelayTo as to:
            self._start()
            deadline.cancel()
            self.log.info("signaling relayed to the worker at %s", to.url)
            await self._stop_sender()
            self.ctx.relays[self.id] = self
            try:
                await relay(
                    self.ws, to.url, to.first_message, self.ctx.settings.max_message_bytes * 4
                )
            except Exception as exc:  # the owner worker is down: say so, do not hang
                self.log.warning("relay to %s failed: %s", to.url, exc)
            finally:
                self.ctx.relays.pop(self.id, None)
        finally:
            if not self._deadline_fired:  # (if it fired, it is closing the session itself)
                deadline.cancel()
            await self.close()

    def _start(self) -> None:
        if not self.started:
            self.started = True
            self._admission.started(self.address)

    async def _offer_deadline(self) -> None:
        """A socket that has not started a session in ``LL_OFFER_TIMEOUT_S`` is closed."""
        limit = self.ctx.settings.offer_timeout_s
        await asyncio.sleep(limit)
        if not self.started and not self._closing:
            self._deadline_fired = True
            await self._end(ErrorCode.OFFER_TIMEOUT, f"no valid offer within {limit:.0f} s")

    def _too_large(self, size: int) -> str:
        return f"message of {size} bytes exceeds the limit of {self.ctx.settings.max_message_bytes}"

    async def _handle_text(self, raw: str) -> None:
        size = len(raw.encode("utf-8", errors="replace"))
        if size > self.ctx.settings.max_message_bytes:
            self.error(ErrorCode.TOO_LARGE, self._too_large(size))
            return
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            # ValueError: besides malformed JSON, an integer of more than 4300 digits
            # (Python's int-conversion limit) fails the parse.
            self.error(ErrorCode.BAD_JSON, f"not valid JSON: {exc}")
            return
        if not isinstance(data, dict):
            self.error(ErrorCode.BAD_MESSAGE, "a message must be a JSON object with a 'type'")
            return
        kind = data.get("type")
        if kind not in CLIENT_TYPES:
            self.error(
                ErrorCode.UNKNOWN_TYPE,
                f"unknown message type {kind!r}; expected one of {', '.join(CLIENT_TYPES)}",
            )
            return
        try:
            message = CLIENT_MESSAGE.validate_python(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'][1:]) or 'message'}: {err['msg']}"
                for err in exc.errors()[:5]
            )
            self.error(ErrorCode.BAD_MESSAGE, f"invalid {kind} message: {problems}")
            return
        if (
            isinstance(message, Offer | SfuListen)
            and message.room
            and self.call is None
            and self._sfu is None
        ):
            url = self.ctx.room_owner_url(message.room)
            if url is not None:
                raise RelayTo(url, raw)
        if (
            isinstance(message, Offer)
            and not message.room
            and self.call is None
            and not self.ctx.has_capacity()
        ):
            url = self.ctx.spare_worker_url(self.ws.scope.get("server", (None, None))[1])
            if url is not None:
                raise RelayTo(url, raw)
        try:
            if isinstance(message, Offer):
                await self._on_offer(message)
            elif isinstance(message, Candidate):
                await self._on_candidate(message)
            elif isinstance(message, SfuListen):
                await self._on_sfu_listen(message)
            elif isinstance(message, Bye):
                self._said_bye = True
                self._closing = True
            else:
                await self._on_control(message)
        except SessionError as exc:
            self.error(exc.code, exc.message)
        except Exception:  # a bug must not take the socket (or the server) down
            self.log.exception("handling a %s message", kind)
            self.error(ErrorCode.INTERNAL, f"internal error while handling {kind!r}")

    # -- handlers ---------------------------------------------------------------------------

    def _languages(self, offer: Offer) -> Languages:
        return choose_languages(
            self.ctx.engines,
            self.ctx.settings,
            offer.source_lang,
            offer.target_lang,
            offer.voice,
            room=offer.room is not None,
            conversation=offer.conversation,
        )

    async def _on_control(self, message: Listen | Mute | Say | Skip) -> None:
        """What a participant asks of their running call (``controls.py``)."""
        if self.controls is None:
            raise SessionError(ErrorCode.NO_SESSION, f"send an offer before {message.type}")
        languages = await self.controls.handle(message)
        if languages is not None:
            self._ready(languages)

    def _ready(self, languages: Languages) -> None:
        self.emit(
            Ready(
                session_id=self.id,
                source_lang=languages.source or "auto",
                target_lang=languages.target,
                voice=languages.voice,
                worker=os.getpid(),
                resume_token=self._resume_token,
            )
        )

    async def _on_offer(self, offer: Offer) -> None:
        if self.call is not None or self._sfu is not None:
            raise SessionError(ErrorCode.ALREADY_STARTED, "this socket already has a session")
        if not self.ctx.ready:
            self.ctx.metrics.sessions_refused.labels("loading").inc()
            raise SessionError(ErrorCode.BUSY, "the server is still loading its models")
        if not self.ctx.has_capacity():
            self.ctx.metrics.sessions_refused.labels("busy").inc()
            raise SessionError(
                ErrorCode.BUSY,
                f"the server is at its limit of {self.ctx.settings.max_sessions} sessions",
            )
        languages = self._languages(offer)
        room: Room | None = None
        info: ParticipantInfo | None = None
        terms: list[str | dict[str, object]] = glossary_items(offer.glossary)
        events: EventSink = self._tell
        if offer.room is not None:
            room, grant = self._admit(offer)
            terms = [*list(grant.glossary or []), *terms]  # type: ignore[list-item]
            info = ParticipantInfo(
                id=self.id,
                display_name=offer.display_name or f"Guest {self.id[:4]}",
                source_lang=languages.source or "",
                target_lang=languages.target,
            )
            events = room.speaker_events(info)
        call = Call(
            self.ctx.engines,
            self.ctx.workers,
            self.ctx.settings,
            self.ctx.metrics,
            languages,
            events=fan_out(self.ctx.metrics.observe, events),
            loopback=room is None,
            glossary=Glossary.parse(terms),
        )
        self.call = call
        self.ctx.sessions[self.id] = self
        try:
            sdp = await call.answer(offer.sdp)
        except BadSDP as exc:
            await self._release_media()
            raise SessionError(ErrorCode.BAD_SDP, f"could not apply the offer: {exc}") from exc
        except Exception as exc:
            await self._release_media()
            raise SessionError(ErrorCode.BAD_SDP, f"could not answer the offer: {exc}") from exc
        call.start()
        call.ended.add_done_callback(self._call_ended)
        self._start()
        self.ctx.metrics.sessions_started.inc()
        self.controls = Controls(self.ctx, call, languages, self.id, room)
        self.emit(Answer(sdp=sdp, session_id=self.id))
        self._ready(languages)
        if room is not None and info is not None:
            participant = Participant(
                info,
                call.pipeline.cascade,
                call.track,
                self.emit,
                languages.voice,
                call.voice_sinks,
            )
            await self.ctx.rooms.join(room, participant, rejoin=self._rejoining)
        self.log.info(
            "session started: %s -> %s%s",
            languages.source or "auto",
            languages.target,
            f" in room {room.id}" if room else "",
        )

    async def _on_sfu_listen(self, message: SfuListen) -> None:
        """SFU mode: this socket listens to a room through Janus (``rooms/janus.py``)."""
        if self.call is not None or self._sfu is not None:
            raise SessionError(
                ErrorCode.ALREADY_STARTED, "this socket already has a session or listens to a room"
            )
        sfu = self.ctx.sfu
        if sfu is None:
            raise SessionError(
                ErrorCode.SFU_UNAVAILABLE, "this server is not in SFU mode (LL_SFU is not janus)"
            )
        if not self.ctx.ready:
            raise SessionError(ErrorCode.BUSY, "the server is still loading its models")
        try:
            tokens.verify(self.ctx.room_secret, message.token, message.room)
        except tokens.TokenError as exc:
            raise SessionError(exc.code, str(exc)) from exc
        language = message.language
        targets = sorted({t for _, t in self.ctx.engines.language_pairs()})
        if language not in targets:
            raise SessionError(
                ErrorCode.UNSUPPORTED_PAIR,
                f"nothing can be translated into {language!r} here; listener languages: "
                f"{', '.join(targets) or 'none'}",
            )
        for _ in range(2):  # (again once if the room closed for idleness meanwhile)
            try:
                # A room this process does not hold (made before the node restarted, closed
                # when idle, given up after Janus stayed away) is built again: a valid token
                # says it exists.
                room = await sfu.open(message.room)
            except SfuUnavailable as exc:
                raise SessionError(ErrorCode.SFU_UNAVAILABLE, str(exc)) from exc
            self._sfu = (room, language)  # from here on, teardown takes the listener out
            try:
                await sfu.listen(room, language, self)  # sends sfu_ready
                break
            except SfuRoomClosed:
                self._sfu = None
            except SfuRoomFull as exc:
                self._sfu = None
                raise SessionError(ErrorCode.ROOM_FULL, str(exc)) from exc
            except JanusError as exc:
                self._sfu = None
                raise SessionError(
                    ErrorCode.SFU_UNAVAILABLE, f"Janus did not publish the {language} feed: {exc}"
                ) from exc
        else:
            raise SessionError(ErrorCode.SFU_UNAVAILABLE, f"room {message.room} keeps closing")
        self._start()  # a listener needs no offer
        self.log.info(
            "listening to room %s in %s (Janus room %d)%s",
            room.id,
            language,
            room.janus_room,
            f" as {message.display_name}" if message.display_name else "",
        )

    async def end(self, code: str, message: str) -> None:
        """Ends the session with an ``error`` of ``code`` (an SFU room that failed)."""
        token = logs.session_id.set(self.id)  # called from another task
        try:
            await self._end(code, message)
        finally:
            logs.session_id.reset(token)

    def _call_ended(self, ended: asyncio.Future[Ending]) -> None:
        """The call ended by itself (ICE failed, a limit): tell the client, close. A lost
        connection is not the participant leaving: a room keeps their seat a while."""
        if ended.cancelled() or self._closing:
            return
        ending = ended.result()
        code = ENDING_CODES[ending.reason]
        dropped = ending.reason in (CallEnd.CONNECTION_FAILED, CallEnd.CONNECTION_CLOSED)
        if code is None:
            asyncio.get_running_loop().create_task(self.close())
        else:
            asyncio.get_running_loop().create_task(self._end(code, ending.message, dropped=dropped))

    def _admit(self, offer: Offer) -> tuple[Room, tokens.RoomGrant]:
        """Check the room token and the room's size; the room to join.

        With a valid ``resume_token`` of a participant whose connection dropped a moment
        ago, this session *is* that participant again (same id, same seat)."""
        assert offer.room is not None
        if not offer.token:
            raise SessionError(ErrorCode.BAD_TOKEN, "joining a room needs its token")
        secret = self.ctx.room_secret
        try:
            grant = tokens.verify(secret, offer.token, offer.room)
            back = offer.resume_token and tokens.verify_seat(secret, offer.resume_token, offer.room)
        except tokens.TokenError as exc:
            raise SessionError(exc.code, str(exc)) from exc
        room = self.ctx.rooms.get_or_create(offer.room)
        if back and back in room.away:
            self.id, self._rejoining = back, True
            logs.session_id.set(back)
        self._resume_token = tokens.issue_seat(
            secret, room.id, self.id, self.ctx.settings.max_session_s
        )
        if not room.reserve(self.id):
            raise SessionError(
                ErrorCode.ROOM_FULL, f"the room is full ({room.max_participants} participants)"
            )
        self.room_id = room.id  # from here on, teardown gives the seat back
        return room, grant

    async def _on_candidate(self, message: Candidate) -> None:
        if self.call is None:
            raise SessionError(ErrorCode.NO_SESSION, "send an offer before ICE candidates")
        try:
            await self.call.add_candidate(message.candidate, message.sdpMid, message.sdpMLineIndex)
        except CandidateRefused as exc:
            raise SessionError(ErrorCode.BAD_MESSAGE, str(exc)) from exc

    async def _end(self, code: str, message: str, *, dropped: bool = False) -> None:
        self.log.info("ending session: %s", message)
        self._ended_by_server = not dropped
        self.error(code, message)
        await self.close()

    async def shutdown(self) -> None:
        """The server is stopping: tell the client, then release everything."""
        token = logs.session_id.set(self.id)  # called from the server's task, not ours
        try:
            if self.id in self.ctx.relays:
                await self._end_relay()
            else:
                await self._end(ErrorCode.SHUTDOWN, "the server is shutting down")
        finally:
            logs.session_id.reset(token)

    async def _end_relay(self) -> None:
        """A relayed socket at shutdown: this worker closes it, whatever the worker behind it
        has sent yet, so the client is told here (straight on the socket: the relay has no
        outbox). The client may get the other worker's notice as well."""
        message = ErrorMsg(code=ErrorCode.SHUTDOWN, message="the server is shutting down")
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.ws.send_text(message.model_dump_json())
            await self.ws.close()

    # -- teardown ---------------------------------------------------------------------------

    async def _release_media(self) -> None:
        self.ctx.sessions.pop(self.id, None)
        listening, self._sfu = self._sfu, None
        if listening is not None and self.ctx.sfu is not None:
            await self.ctx.sfu.unlisten(*listening, self)
        room_id, self.room_id = self.room_id, None
        if room_id is not None:
            if self.started and not self._said_bye and not self._ended_by_server:
                grace = self.ctx.settings.rejoin_grace_s
                await self.ctx.rooms.step_away(room_id, self.id, grace)
            else:
                await self.ctx.rooms.leave(room_id, self.id)
        call, self.call = self.call, None
        self.controls = None
        if call is not None:
            await call.close()

    async def close(self) -> None:
        """Release everything; safe to call more than once, from any path."""
        if self._closing and self.call is None and self._sfu is None and self._sender is None:
            return
        self._closing = True
        await self._release_media()
        await self._stop_sender()
        if self.ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close()
        self.log.info("session closed")

    async def _stop_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(None)
            try:
                await asyncio.wait_for(sender, timeout=2)
            except (TimeoutError, asyncio.CancelledError):
                sender.cancel()
