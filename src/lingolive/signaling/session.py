"""One ``/ws`` connection that this worker has taken: an admitted call or SFU listener.

Contract: the endpoint makes a ``SignalingSession`` for the ``offer`` or ``sfu_listen``
that places its connection here and calls ``start`` with it; the admission runs
(``call_admission``, ``listen_admission``), and False means it was refused and the client
told why. After True, ``run`` reads the socket (``framing``) until it closes, carries each
message to the call (candidates, ``controls``; anything else gets a precise ``error``) and
tells the client why the call ended when it ends by itself (``ENDINGS``). However the
session ends, its handle is closed once, with the reason (``closing.CloseReason``): a
``bye``; the server ending it (a limit, a timeout, a failed SFU room); the connection lost
(the socket closed, the media connection failed, the client not reading); the server
stopping. Nothing outlives the socket.

The session has a fixed id, the connection's (logs, the live sessions); the client is told
the participant id its admission settled (``answer``/``ready``), which for a rejoining room
participant is their earlier one.

Why so little: framing, where a connection belongs and what an offer may get are decided
elsewhere; a session is the socket's outbox and the dispatch of its messages.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import WebSocket

from lingolive import logs
from lingolive.protocol import (
    Bye,
    Candidate,
    ClientMessageType,
    ErrorCode,
    Listen,
    Mute,
    Offer,
    Say,
    ServerMessage,
    SfuListen,
    Skip,
)
from lingolive.rtc.call import Call, CallEnd, CandidateRefused, Ending
from lingolive.signaling import framing
from lingolive.signaling.call_admission import CallAdmission, CallHandle
from lingolive.signaling.closing import CloseReason
from lingolive.signaling.listen_admission import ListenAdmission, ListenHandle
from lingolive.signaling.outbox import Outbox
from lingolive.signaling.refusals import SessionError

log = logging.getLogger(__name__)

#: A call that ended by itself: what the client is told (None: nothing), and what it means.
ENDINGS: dict[CallEnd, tuple[str | None, CloseReason]] = {
    CallEnd.CONNECTION_FAILED: (ErrorCode.CONNECTION_FAILED, CloseReason.DROPPED),
    CallEnd.CONNECTION_CLOSED: (None, CloseReason.DROPPED),
    CallEnd.CONNECT_TIMEOUT: (ErrorCode.CONNECT_TIMEOUT, CloseReason.ENDED),
    CallEnd.IDLE_TIMEOUT: (ErrorCode.IDLE_TIMEOUT, CloseReason.ENDED),
    CallEnd.EXPIRED: (ErrorCode.SESSION_EXPIRED, CloseReason.ENDED),
}


def not_started(message: Candidate | Listen | Mute | Say | Skip) -> SessionError:
    """What a request of a running call gets on a socket that has none."""
    if isinstance(message, Candidate):
        return SessionError(ErrorCode.NO_SESSION, "send an offer before ICE candidates")
    return SessionError(ErrorCode.NO_SESSION, f"send an offer before {message.type}")


class SignalingSession:
    """The server side of one ``/ws`` connection, from its admission to its close."""

    def __init__(
        self,
        ws: WebSocket,
        outbox: Outbox,
        connection_id: str,
        calls: CallAdmission,
        listeners: ListenAdmission,
        max_message_bytes: int,
    ) -> None:
        self.id = connection_id
        self._ws = ws
        self._outbox = outbox
        self._calls = calls
        self._listeners = listeners
        self._max_bytes = max_message_bytes
        self._handle: CallHandle | ListenHandle | None = None
        self._closing: CloseReason | None = None

    def emit(self, message: ServerMessage) -> None:
        """Queue a message for the client (callable from any code on the loop)."""
        if self._closing is None:
            self._outbox.put(message)

    def _refuse(self, exc: SessionError) -> None:
        self._outbox.error(exc.code, exc.message)

    def _internal(self, kind: str) -> None:
        """A bug must not take the socket (or the server) down."""
        log.exception("handling a %s message", kind)
        self._outbox.error(ErrorCode.INTERNAL, f"internal error while handling {kind!r}")

    # -- admission --------------------------------------------------------------------------

    async def start(self, message: Offer | SfuListen) -> bool:
        """Admit ``message``; False if it was refused (the client was told why)."""
        try:
            if isinstance(message, Offer):
                handle: CallHandle | ListenHandle = await self._calls.admit(message, self)
            else:
                handle = await self._listeners.admit(message, self)
        except SessionError as exc:
            self._refuse(exc)
            return False
        except Exception:
            self._internal(message.type)
            return False
        if self._closing is not None:  # ended meanwhile (the server is stopping)
            await handle.close(self._closing)
            return False
        self._handle = handle
        if isinstance(handle, CallHandle):
            handle.call.ended.add_done_callback(self._call_ended)
        return True

    # -- incoming ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the socket until it closes, whichever side closes it."""
        try:
            while self._closing is None:
                frame = await framing.receive(self._ws, self._max_bytes)
                if frame is None:
                    break
                if isinstance(frame, framing.Malformed):
                    self._outbox.error(frame.code, frame.message)
                else:
                    await self._dispatch(frame.message)
        finally:
            await self.close(CloseReason.DROPPED)  # (nothing left to do after a bye or an end)

    async def _dispatch(self, message: ClientMessageType) -> None:
        handle = self._handle
        try:
            if isinstance(message, Bye):
                await self.close(CloseReason.BYE)
            elif isinstance(message, Offer):
                raise SessionError(ErrorCode.ALREADY_STARTED, "this socket already has a session")
            elif isinstance(message, SfuListen):
                raise SessionError(
                    ErrorCode.ALREADY_STARTED,
                    "this socket already has a session or listens to a room",
                )
            elif not isinstance(handle, CallHandle):
                raise not_started(message)
            elif isinstance(message, Candidate):
                await self._candidate(handle.call, message)
            elif await handle.controls.handle(message) is not None:
                self.emit(handle.ready())  # (listen: the languages changed)
        except SessionError as exc:
            self._refuse(exc)
        except Exception:
            self._internal(message.type)

    async def _candidate(self, call: Call, message: Candidate) -> None:
        try:
            await call.add_candidate(message.candidate, message.sdpMid, message.sdpMLineIndex)
        except CandidateRefused as exc:
            raise SessionError(ErrorCode.BAD_MESSAGE, str(exc)) from exc

    # -- the end ----------------------------------------------------------------------------

    def _call_ended(self, ended: asyncio.Future[Ending]) -> None:
        """The call ended by itself (ICE failed, a limit): tell the client, close."""
        if ended.cancelled() or self._closing is not None:
            return
        ending = ended.result()
        code, reason = ENDINGS[ending.reason]
        asyncio.get_running_loop().create_task(self._end(reason, code, ending.message))

    async def end(self, code: str, message: str) -> None:
        """Ends the session with an ``error`` of ``code`` (an SFU room that failed)."""
        await self._end_from_elsewhere(CloseReason.ENDED, code, message)

    async def shutdown(self) -> None:
        """The server is stopping: tell the client, then release everything."""
        await self._end_from_elsewhere(
            CloseReason.SHUTDOWN, ErrorCode.SHUTDOWN, "the server is shutting down"
        )

    async def _end_from_elsewhere(self, reason: CloseReason, code: str, message: str) -> None:
        token = logs.session_id.set(self.id)  # called from another task than ours
        try:
            await self._end(reason, code, message)
        finally:
            logs.session_id.reset(token)

    async def _end(self, reason: CloseReason, code: str | None, message: str) -> None:
        if self._closing is not None:
            return
        log.info("ending session: %s", message)
        if code is not None:
            self._outbox.error(code, message)
        await self.close(reason)

    async def close(self, reason: CloseReason) -> None:
        """Release everything, once, whichever path gets here first."""
        if self._closing is not None:
            return
        self._closing = reason
        handle, self._handle = self._handle, None
        try:
            if handle is not None:
                await handle.close(reason)
        finally:
            await self._outbox.close()
            log.info("session closed")
