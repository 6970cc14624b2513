"""One signaling WebSocket: parse client messages, run one loopback session, report events.

Every inbound message is size-checked, JSON-decoded and validated against
``signaling.messages`` before anything acts on it; whatever is wrong gets an ``error``
message with a precise ``code`` and the socket stays usable. The session owns its peer
connection and media path and releases all of it when the socket closes, whichever side
closes it, so nothing outlives the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from dataclasses import replace

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack
from fastapi import WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from lingolive import logs
from lingolive.context import AppContext
from lingolive.engines.base import EngineError
from lingolive.pipeline.cascade import Languages
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.live import LiveTranslation
from lingolive.rooms import tokens
from lingolive.rooms.room import Participant, Room
from lingolive.rtc import inbound
from lingolive.rtc.inbound import VoiceSink
from lingolive.rtc.outbound import TrackStats
from lingolive.rtc.peer import (
    BadSDP,
    add_candidate,
    apply_offer,
    create_peer,
    make_answer,
    shorten_audio_jitter_buffers,
    turn_secret,
)
from lingolive.rtc.stats import LinkStats, read_link_stats
from lingolive.signaling.messages import (
    CLIENT_MESSAGE,
    Answer,
    Bye,
    Candidate,
    ErrorCode,
    ErrorMsg,
    Offer,
    ParticipantInfo,
    Ready,
    ServerMessage,
    glossary_items,
)
from lingolive.signaling.relay import RelayTo, relay

log = logging.getLogger(__name__)

SEND_QUEUE = 1000
WATCH_INTERVAL_S = 1.0


class SessionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SignalingSession:
    """The server side of one ``/ws`` connection."""

    def __init__(self, ws: WebSocket, ctx: AppContext, address: str = "unknown") -> None:
        self.ws = ws
        self.ctx = ctx
        self.address = address  # the client's, for the per-address limit (admission.py)
        self.started = False  # an offer was accepted (or relayed): no longer pending
        self._deadline_fired = False
        self._candidates = 0  # trickled ICE candidates received
        self.id = uuid.uuid4().hex[:12]
        self.pc: RTCPeerConnection | None = None
        self.live: LiveTranslation | None = None
        self._pump: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[ServerMessage | None] = asyncio.Queue(SEND_QUEUE)
        self._sender: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self.room_id: str | None = None
        self.started_at = time.monotonic()
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
            self.log.info("room offer relayed to its worker at %s", to.url)
            await self._stop_sender()
            try:
                await relay(
                    self.ws, to.url, to.first_message, self.ctx.settings.max_message_bytes * 4
                )
            except Exception as exc:  # the owner worker is down: say so, do not hang
                self.log.warning("relay to %s failed: %s", to.url, exc)
        finally:
            if not self._deadline_fired:  # (if it fired, it is closing the session itself)
                deadline.cancel()
            await self.close()

    def _start(self) -> None:
        if not self.started:
            self.started = True
            self.ctx.admission.started(self.address)

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
        if kind not in ("offer", "candidate", "bye"):
            self.error(
                ErrorCode.UNKNOWN_TYPE,
                f"unknown message type {kind!r}; expected offer, candidate or bye",
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
        if isinstance(message, Offer) and message.room and self.pc is None:
            url = self.ctx.room_owner_url(message.room)
            if url is not None:
                raise RelayTo(url, raw)
        try:
            if isinstance(message, Offer):
                await self._on_offer(message)
            elif isinstance(message, Candidate):
                await self._on_candidate(message)
            elif isinstance(message, Bye):
                self._closing = True
        except SessionError as exc:
            self.error(exc.code, exc.message)
        except Exception:  # a bug must not take the socket (or the server) down
            self.log.exception("handling a %s message", kind)
            self.error(ErrorCode.INTERNAL, f"internal error while handling {kind!r}")

    # -- handlers ---------------------------------------------------------------------------

    def _languages(self, offer: Offer) -> Languages:
        settings = self.ctx.settings
        engines = self.ctx.engines
        source = offer.source_lang or settings.source_lang
        target = offer.target_lang or settings.target_lang
        voice = (
            offer.voice
            if offer.voice is not None
            else settings.default_voice(target, engines.tts.voices())
        )
        pairs = engines.language_pairs()
        if offer.room is not None:
            # In a room, each listener picks what they hear; each pair is checked per route.
            if source == "auto":
                raise SessionError(
                    ErrorCode.BAD_MESSAGE, "rooms need source_lang: the others must know it"
                )
            if source not in {s for s, _ in pairs}:
                raise SessionError(
                    ErrorCode.UNSUPPORTED_PAIR,
                    f"nothing can be translated from {source!r}; supported "
                    f"pairs: {engines.pairs_text()}",
                )
            if target != source and target not in {t for _, t in pairs}:
                raise SessionError(
                    ErrorCode.UNSUPPORTED_PAIR,
                    f"nothing can be translated into {target!r}; supported "
                    f"pairs: {engines.pairs_text()}",
                )
        elif source == "auto":
            if not any(t == target for _, t in pairs):
                raise SessionError(
                    ErrorCode.UNSUPPORTED_PAIR,
                    f"nothing can be translated into {target!r}; supported pairs: "
                    f"{engines.pairs_text()}",
                )
        elif (source, target) not in pairs:
            raise SessionError(
                ErrorCode.UNSUPPORTED_PAIR,
                f"language pair {source}->{target} is not supported here; supported pairs: "
                f"{engines.pairs_text()}",
            )
        if offer.voice is not None:
            # A client picks among the installed voices by name (what /api/languages lists).
            # A path is the operator's choice only (LL_TTS_VOICE): from a client it would load
            # any model file on the server, and the answer would tell which files exist.
            installed = engines.tts.voices()
            if offer.voice not in {name for names in installed.values() for name in names}:
                raise SessionError(
                    ErrorCode.UNKNOWN_VOICE,
                    f"no voice named {offer.voice!r}; voices for {target!r}: "
                    f"{', '.join(installed.get(target, [])) or 'none'}",
                )
        if voice is not None:
            try:
                engine_for = getattr(engines.tts, "engine_for", None)
                if engine_for is not None:
                    engine_for(target, voice)
            except EngineError as exc:
                raise SessionError(ErrorCode.UNKNOWN_VOICE, str(exc)) from exc
        return Languages(source=None if source == "auto" else source, target=target, voice=voice)

    async def _on_offer(self, offer: Offer) -> None:
        if self.pc is not None:
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
        if offer.room is not None:
            room, grant = self._admit(offer)
            terms = [*list(grant.glossary or []), *terms]  # type: ignore[list-item]
            info = ParticipantInfo(
                id=self.id,
                display_name=offer.display_name or f"Guest {self.id[:4]}",
                source_lang=languages.source or "",
                target_lang=languages.target,
            )
        live = LiveTranslation(
            self.ctx.engines,
            self.ctx.workers,
            self.ctx.settings,
            languages,
            self.emit if room is None or info is None else room.speaker_emitter(info),
            observer=self.ctx.metrics,
            loopback=room is None,
            glossary=Glossary.parse(terms),
        )
        voice_sinks: list[VoiceSink] = []
        settings = self.ctx.settings
        pc = create_peer(
            settings.ice_servers, turn_secret(settings.turn_secret, settings.turn_credential_ttl_s)
        )
        self.pc, self.live = pc, live
        self.ctx.sessions[self.id] = self

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and self._pump is None:
                self._pump = asyncio.create_task(inbound.pump(track, live.feed, voice_sinks))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            self.log.info("peer connection %s", pc.connectionState)
            if self.pc is not pc:  # a peer we already released (e.g. after a bad offer)
                return
            if pc.connectionState == "failed":
                self.error(ErrorCode.CONNECTION_FAILED, "the media connection failed (ICE)")
            if pc.connectionState in ("failed", "closed"):
                await self.close()

        try:
            await apply_offer(pc, offer.sdp)
        except BadSDP as exc:
            await self._release_media()
            raise SessionError(ErrorCode.BAD_SDP, f"could not apply the offer: {exc}") from exc
        shorten_audio_jitter_buffers(pc, self.ctx.settings.rtc_audio_prefetch)
        pc.addTrack(live.track)
        try:
            sdp = await make_answer(pc)
        except Exception as exc:
            await self._release_media()
            raise SessionError(ErrorCode.BAD_SDP, f"could not answer the offer: {exc}") from exc
        live.start()
        self._start()
        self.ctx.metrics.sessions_started.inc()
        self._watch = asyncio.create_task(self._watch_loop(), name=f"watch-{self.id}")
        self.emit(Answer(sdp=sdp, session_id=self.id))
        self.emit(
            Ready(
                session_id=self.id,
                source_lang=languages.source or "auto",
                target_lang=languages.target,
                voice=languages.voice,
                worker=os.getpid(),
            )
        )
        if room is not None and info is not None:
            participant = Participant(info, live, self.emit, languages.voice, voice_sinks)
            await self.ctx.rooms.join(room, participant)
        self.log.info(
            "session started: %s -> %s%s",
            languages.source or "auto",
            languages.target,
            f" in room {room.id}" if room else "",
        )

    def _admit(self, offer: Offer) -> tuple[Room, tokens.RoomGrant]:
        """Check the room token and the room's size; the room to join."""
        assert offer.room is not None
        if not offer.token:
            raise SessionError(ErrorCode.BAD_TOKEN, "joining a room needs its token")
        try:
            grant = tokens.verify(self.ctx.room_secret, offer.token, offer.room)
        except tokens.TokenError as exc:
            raise SessionError(exc.code, str(exc)) from exc
        room = self.ctx.rooms.get_or_create(offer.room)
        if not room.reserve(self.id):
            raise SessionError(
                ErrorCode.ROOM_FULL, f"the room is full ({room.max_participants} participants)"
            )
        self.room_id = room.id  # from here on, teardown gives the seat back
        return room, grant

    async def _on_candidate(self, message: Candidate) -> None:
        if self.pc is None:
            raise SessionError(ErrorCode.NO_SESSION, "send an offer before ICE candidates")
        if self.pc.iceConnectionState == "completed":
            return  # a path was chosen: late candidates change nothing (and cost checks)
        limit = self.ctx.settings.max_candidates
        if message.candidate:
            self._candidates += 1
            if self._candidates > limit:
                raise SessionError(
                    ErrorCode.BAD_MESSAGE, f"at most {limit} ICE candidates per session"
                )
        try:
            await add_candidate(self.pc, message.candidate, message.sdpMid, message.sdpMLineIndex)
        except Exception as exc:
            raise SessionError(ErrorCode.BAD_MESSAGE, f"bad ICE candidate: {exc}") from exc

    # -- limits and stats -----------------------------------------------------------------

    async def _watch_loop(self) -> None:
        """Once a second: session limits, and the numbers only polling can give."""
        settings = self.ctx.settings
        metrics = self.ctx.metrics
        seen = TrackStats()
        lost = 0
        media_start = time.monotonic()
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            live, pc = self.live, self.pc
            if live is None or pc is None:
                return
            now = time.monotonic()
            stats = live.track.stats
            metrics.underruns.inc(stats.underruns - seen.underruns)
            metrics.late_frames.inc(stats.late_frames - seen.late_frames)
            metrics.dropped_segments.inc(stats.dropped_segments - seen.dropped_segments)
            seen = replace(stats)
            if pc.connectionState != "closed":
                try:
                    link = await asyncio.wait_for(read_link_stats(pc), WATCH_INTERVAL_S)
                except Exception:  # stats are best effort; the limits below must still run
                    self.log.exception("reading WebRTC stats")
                    link = LinkStats(None, None, lost)
                if link.rtt_s is not None:
                    metrics.rtt_seconds.observe(link.rtt_s)
                if link.jitter_s is not None:
                    metrics.jitter_seconds.observe(link.jitter_s)
                metrics.packets_lost.inc(max(0, link.packets_lost - lost))
                lost = max(lost, link.packets_lost)
            if now - self.started_at > settings.max_session_s:
                await self._end(
                    ErrorCode.SESSION_EXPIRED,
                    f"sessions last at most {settings.max_session_s:.0f} s",
                )
                return
            if live.last_audio_at is None:
                if now - media_start > settings.connect_timeout_s:
                    await self._end(
                        ErrorCode.CONNECT_TIMEOUT,
                        f"no audio arrived within {settings.connect_timeout_s:.0f} s "
                        "(did ICE complete?)",
                    )
                    return
            elif now - live.last_audio_at > settings.idle_timeout_s:
                await self._end(
                    ErrorCode.IDLE_TIMEOUT, f"no audio for {settings.idle_timeout_s:.0f} s"
                )
                return

    async def _end(self, code: str, message: str) -> None:
        self.log.info("ending session: %s", message)
        self.error(code, message)
        await self.close()

    async def shutdown(self) -> None:
        """The server is stopping: tell the client, then release everything."""
        token = logs.session_id.set(self.id)  # called from the server's task, not ours
        try:
            await self._end(ErrorCode.SHUTDOWN, "the server is shutting down")
        finally:
            logs.session_id.reset(token)

    # -- teardown ---------------------------------------------------------------------------

    async def _release_media(self) -> None:
        self.ctx.sessions.pop(self.id, None)
        room_id, self.room_id = self.room_id, None
        if room_id is not None:
            await self.ctx.rooms.leave(room_id, self.id)
        watch, self._watch = self._watch, None
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        live, self.live = self.live, None
        if live is not None:
            await live.close()
        pc, self.pc = self.pc, None
        if pc is not None:
            await pc.close()

    async def close(self) -> None:
        """Release everything; safe to call more than once, from any path."""
        if self._closing and self.pc is None and self._sender is None:
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
