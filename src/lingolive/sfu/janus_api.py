"""An asyncio client of Janus's WebSocket API, and the VideoRoom requests LingoLive uses.

Janus's API is a set of JSON messages over one WebSocket (subprotocol ``janus-protocol``):

- every request carries a ``transaction`` string and gets exactly one reply with it:
  ``success`` (with ``data`` or, for a plugin's synchronous request, ``plugindata``),
  ``error`` (``{"code", "reason"}``) or, for a plugin's asynchronous request, ``ack``
  followed later by an ``event`` with the same transaction;
- everything else Janus says (``webrtcup``, ``media``, ``hangup``, ``slowlink``,
  ``detached``, a plugin's unsolicited ``event`` such as a new publisher in the room) comes
  without a transaction we wait for, naming the plugin handle in ``sender``;
- a session dies after ``session_timeout`` (60 s by default) without a request, so a
  ``keepalive`` goes out every 25 s; when the WebSocket closes, Janus destroys the sessions
  created over it (``reclaim_session_timeout`` is 0 by default).

``JanusConnection`` matches replies to requests with futures and routes the rest to the
``JanusSession`` / ``PluginHandle`` it belongs to, where ``PluginHandle.wait_for`` finds it.
Every failure Janus reports, from the core or from the plugin (``error_code`` in the plugin
data), becomes ``JanusError`` with Janus's code and reason, so callers need no knowledge of
where in the reply an error hides.

On top, ``VideoRoom`` (room administration: create, destroy, exists, list, participants),
``Publisher`` (join a room, publish an SDP offer, get the answer) and ``Subscriber`` (one
multistream subscription to the feeds of several publishers: Janus offers, we answer with
``start``) are what LingoLive needs to be a translating participant of a Janus room.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypedDict, cast

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

log = logging.getLogger(__name__)

JSON = dict[str, Any]

VIDEOROOM = "janus.plugin.videoroom"
JANUS_PROTOCOL = Subprotocol("janus-protocol")

#: Janus closes a session after ``session_timeout`` (default 60 s) without a request.
KEEPALIVE_S = 25.0
#: How long a request waits for its reply (for an asynchronous plugin request: its event).
REQUEST_TIMEOUT_S = 10.0
#: Unclaimed events a handle keeps for ``wait_for`` (the oldest go first).
MAX_PENDING_EVENTS = 256

#: ``JanusError.code`` when no reply can come: the WebSocket closed or the request timed out.
CONNECTION_CLOSED = 0
TIMED_OUT = 1

# The VideoRoom plugin's error codes (janus_videoroom.c) callers may want to tell apart.
VIDEOROOM_NO_SUCH_ROOM = 426
VIDEOROOM_ROOM_EXISTS = 427
VIDEOROOM_NO_SUCH_FEED = 428
VIDEOROOM_PUBLISHERS_FULL = 432
VIDEOROOM_UNAUTHORIZED = 433


class JanusError(Exception):
    """Janus refused or failed a request (the core's ``error`` or a plugin's
    ``error_code``), or no reply can come (``CONNECTION_CLOSED``, ``TIMED_OUT``)."""

    def __init__(self, code: int, reason: str, request: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.request = request
        where = f" ({request})" if request else ""
        super().__init__(f"Janus error {code}{where}: {reason}")


class Jsep(TypedDict):
    """A WebRTC session description as Janus carries it next to a message."""

    type: Literal["offer", "answer"]
    sdp: str


def jsep(kind: Literal["offer", "answer"], sdp: str) -> Jsep:
    return {"type": kind, "sdp": sdp}


def _jsep_of(message: JSON) -> Jsep | None:
    raw = message.get("jsep")
    if not isinstance(raw, dict) or raw.get("type") not in ("offer", "answer"):
        return None
    return jsep(raw["type"], str(raw.get("sdp", "")))


@dataclass(frozen=True)
class PluginReply:
    """What a plugin answered: its ``data`` (``plugindata.data``) and an SDP if it sent one."""

    data: JSON
    jsep: Jsep | None
    raw: JSON


def _plugin_reply(message: JSON, request: str | None) -> PluginReply:
    plugindata = message.get("plugindata")
    data = plugindata.get("data") if isinstance(plugindata, dict) else None
    if not isinstance(data, dict):
        raise JanusError(490, f"reply without plugin data: {message}", request)
    if "error_code" in data:
        raise JanusError(int(data["error_code"]), str(data.get("error", "")), request)
    return PluginReply(data, _jsep_of(message), message)


@dataclass
class _Transaction:
    request: str
    future: asyncio.Future[JSON]
    #: An asynchronous plugin request: ``ack`` only says Janus queued it; wait for the event.
    ack_is_interim: bool


class JanusSocket:
    """One WebSocket to Janus: transactions matched to replies, everything else handed to
    ``_route``. The Janus API (``JanusConnection``) is one; a client of the Admin API (the
    tests' ``support.janus_admin``) is another, with its own ``_secret_field``."""

    _secret_field = "apisecret"

    def __init__(self, ws: ClientConnection, secret: str | None, request_timeout_s: float) -> None:
        self._ws = ws
        self._secret = secret
        self.request_timeout_s = request_timeout_s
        self._transactions: dict[str, _Transaction] = {}
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._closed = False
        self._reader = asyncio.create_task(self._read(), name="janus-reader")

    @property
    def closed(self) -> bool:
        return self._closed

    async def request(
        self,
        body: Mapping[str, Any],
        *,
        ack_is_interim: bool = False,
        timeout: float | None = None,
    ) -> JSON:
        """Sends ``body`` (``janus`` names the request) and returns its final reply;
        ``JanusError`` for an ``error`` reply, a closed connection or no reply in time."""
        name = str(body.get("janus", "?"))
        if self._closed:
            raise JanusError(CONNECTION_CLOSED, "connection closed", name)
        transaction = f"{self._prefix}-{next(self._counter)}"
        message = {**body, "transaction": transaction}
        if self._secret is not None:
            message[self._secret_field] = self._secret
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._transactions[transaction] = _Transaction(name, future, ack_is_interim)
        try:
            await self._ws.send(json.dumps(message))
            async with asyncio.timeout(self.request_timeout_s if timeout is None else timeout):
                reply = await future
        except TimeoutError:
            raise JanusError(TIMED_OUT, "no reply in time", name) from None
        except ConnectionClosed:
            raise JanusError(CONNECTION_CLOSED, "connection closed", name) from None
        finally:
            self._transactions.pop(transaction, None)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusError(int(error.get("code", 490)), str(error.get("reason", "")), name)
        return reply

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("janus: not JSON: %.200r", raw)
                    continue
                if isinstance(message, dict):
                    self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            self._closed = True
            for tx in self._transactions.values():
                if not tx.future.done():
                    tx.future.set_exception(
                        JanusError(CONNECTION_CLOSED, "connection closed", tx.request)
                    )
            self._on_closed()

    def _dispatch(self, message: JSON) -> None:
        kind = message.get("janus")
        tx = self._transactions.get(str(message.get("transaction", "")))
        if tx is not None and not tx.future.done():
            if kind == "ack" and tx.ack_is_interim:
                return  # the event with the result follows
            tx.future.set_result(message)  # success, error, ack, event, server_info…
            return
        self._route(message)

    def _route(self, message: JSON) -> None:
        log.debug("janus: unrouted %s", message.get("janus"))

    def _on_closed(self) -> None:
        pass

    async def _close_socket(self) -> None:
        self._closed = True
        await self._ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def open_socket(
    url: str, protocol: Subprotocol, proxy: str | Literal[True] | None, open_timeout_s: float
) -> ClientConnection:
    """A WebSocket to Janus speaking ``protocol``; ``JanusError`` when nothing, or something
    other than that Janus API, answers at ``url``."""
    try:
        return await connect(
            url,
            subprotocols=[protocol],
            proxy=proxy,
            compression=None,
            open_timeout=open_timeout_s,
            max_size=16 * 1024 * 1024,
        )
    except (OSError, TimeoutError) as exc:
        raise JanusError(CONNECTION_CLOSED, f"cannot connect to {url}: {exc}") from exc
    except InvalidHandshake as exc:  # something answers there, but not Janus's WebSocket API
        raise JanusError(
            CONNECTION_CLOSED, f"{url} is not Janus's WebSocket API ({protocol}): {exc}"
        ) from exc


class JanusConnection(JanusSocket):
    """The Janus API over one WebSocket.

    Use ``await JanusConnection.connect(url)`` (or ``async with``); ``api_secret`` is Janus's
    ``general.api_secret``, sent as ``apisecret`` with every request. ``close()`` destroys
    the sessions made through this connection (Janus detaches their handles and hangs up
    their PeerConnections) before closing the socket, so nothing is left for Janus's session
    timeout to find.
    """

    def __init__(
        self,
        ws: ClientConnection,
        *,
        api_secret: str | None,
        keepalive_s: float,
        request_timeout_s: float,
    ) -> None:
        super().__init__(ws, api_secret, request_timeout_s)
        self.sessions: dict[int, JanusSession] = {}
        self.keepalive_s = keepalive_s
        self._keepalive = asyncio.create_task(self._keep_alive(), name="janus-keepalive")

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        api_secret: str | None = None,
        keepalive_s: float = KEEPALIVE_S,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        open_timeout_s: float = 10.0,
        proxy: str | Literal[True] | None = None,
    ) -> JanusConnection:
        """Opens the WebSocket. ``proxy`` is off by default: Janus runs next to LingoLive,
        and a desktop's ``https_proxy`` must not capture that link (pass ``True`` to use the
        environment's proxy settings)."""
        ws = await open_socket(url, JANUS_PROTOCOL, proxy, open_timeout_s)
        return cls(
            ws, api_secret=api_secret, keepalive_s=keepalive_s, request_timeout_s=request_timeout_s
        )

    async def info(self) -> JSON:
        """Janus's ``info``: version, plugins and transports loaded, settings."""
        return await self.request({"janus": "info"})

    async def create_session(self) -> JanusSession:
        reply = await self.request({"janus": "create"})
        session = JanusSession(self, int(reply["data"]["id"]))
        self.sessions[session.id] = session
        return session

    async def _keep_alive(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.keepalive_s)
            for session in list(self.sessions.values()):
                try:
                    await self.request({"janus": "keepalive", "session_id": session.id})
                except JanusError as exc:
                    log.warning("janus: keepalive of session %d failed: %s", session.id, exc)

    def _route(self, message: JSON) -> None:
        sender = message.get("sender")
        session = self.sessions.get(int(message.get("session_id") or 0))
        if session is None:
            log.debug("janus: %s for an unknown session", message.get("janus"))
            return
        if sender is not None and (handle := session.handles.get(int(sender))) is not None:
            handle._deliver(message)
        else:
            session._deliver(message)

    def _on_closed(self) -> None:
        self._keepalive.cancel()
        for session in self.sessions.values():
            session._gone("connection closed")

    async def close(self) -> None:
        """Destroys our sessions (best effort), then closes the WebSocket."""
        self._keepalive.cancel()
        for session in list(self.sessions.values()):
            with contextlib.suppress(JanusError):
                await session.destroy()
        await self._close_socket()
        with contextlib.suppress(asyncio.CancelledError):
            await self._keepalive

    async def __aenter__(self) -> JanusConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class _Inbox:
    """Events nobody was waiting for, kept (bounded) until someone asks for them."""

    def __init__(self) -> None:
        self._events: deque[JSON] = deque(maxlen=MAX_PENDING_EVENTS)
        self._arrived = asyncio.Event()
        self.gone: str | None = None

    def put(self, message: JSON) -> None:
        self._events.append(message)
        self._arrived.set()

    def close(self, why: str) -> None:
        self.gone = why
        self._arrived.set()

    async def wait_for(self, predicate: Callable[[JSON], bool], timeout: float, what: str) -> JSON:
        async with asyncio.timeout(timeout):
            while True:
                for message in self._events:
                    if predicate(message):
                        self._events.remove(message)
                        return message
                if self.gone is not None:
                    raise JanusError(CONNECTION_CLOSED, self.gone, what)
                self._arrived.clear()
                await self._arrived.wait()

    def take(self, predicate: Callable[[JSON], bool]) -> list[JSON]:
        """Removes and returns every kept event ``predicate`` accepts."""
        taken = [m for m in self._events if predicate(m)]
        for message in taken:
            self._events.remove(message)
        return taken


class JanusSession:
    """A Janus session: the handles attached in it live and die with it."""

    def __init__(self, connection: JanusConnection, session_id: int) -> None:
        self.connection = connection
        self.id = session_id
        self.handles: dict[int, PluginHandle] = {}
        self.events = _Inbox()  # session-level events, e.g. "timeout"

    async def attach(
        self, plugin: str = VIDEOROOM, *, opaque_id: str | None = None
    ) -> PluginHandle:
        body: JSON = {"janus": "attach", "session_id": self.id, "plugin": plugin}
        if opaque_id is not None:
            body["opaque_id"] = opaque_id
        reply = await self.connection.request(body)
        handle = PluginHandle(self, int(reply["data"]["id"]), plugin)
        self.handles[handle.id] = handle
        return handle

    async def destroy(self) -> None:
        """Destroys the session on Janus (and with it every handle attached in it)."""
        try:
            await self.connection.request({"janus": "destroy", "session_id": self.id})
        finally:
            self.connection.sessions.pop(self.id, None)
            self._gone("session destroyed")

    def _deliver(self, message: JSON) -> None:
        if message.get("janus") == "timeout":
            self.connection.sessions.pop(self.id, None)
            self._gone("session timed out on Janus")
        self.events.put(message)

    def _gone(self, why: str) -> None:
        self.events.close(why)
        for handle in self.handles.values():
            handle.events.close(why)


class PluginHandle:
    """One attachment to a plugin: its own PeerConnection on Janus, its own messages."""

    def __init__(self, session: JanusSession, handle_id: int, plugin: str) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.events = _Inbox()
        self.detached = False

    async def message(
        self,
        body: Mapping[str, Any],
        jsep: Jsep | None = None,
        *,
        timeout: float | None = None,
    ) -> PluginReply:
        """Sends ``body`` to the plugin, with an SDP when given, and returns the plugin's
        answer: for a synchronous request (VideoRoom ``create``, ``listparticipants``…) the
        ``success`` reply, for an asynchronous one (``join``, ``publish``, ``start``…) the
        ``event`` that follows Janus's ``ack``. An ``error_code`` in it raises ``JanusError``."""
        request = str(body.get("request", "?"))
        message: JSON = {
            "janus": "message",
            "session_id": self.session.id,
            "handle_id": self.id,
            "body": dict(body),
        }
        if jsep is not None:
            message["jsep"] = dict(jsep)
        try:
            reply = await self.session.connection.request(
                message, ack_is_interim=True, timeout=timeout
            )
        except JanusError as exc:
            raise JanusError(exc.code, exc.reason, request) from None
        return _plugin_reply(reply, request)

    async def trickle(self, candidate: Mapping[str, Any] | None) -> None:
        """One ICE candidate, or ``None`` for end-of-candidates. (aiortc puts its candidates
        in the SDP, so LingoLive never needs this; browsers' clients do.)"""
        await self.session.connection.request(
            {
                "janus": "trickle",
                "session_id": self.session.id,
                "handle_id": self.id,
                "candidate": dict(candidate) if candidate is not None else {"completed": True},
            }
        )

    async def wait_for(
        self,
        predicate: Callable[[JSON], bool],
        timeout: float = REQUEST_TIMEOUT_S,
        what: str = "event",
    ) -> JSON:
        """The first event on this handle (already arrived or to come) that ``predicate``
        accepts; events it rejects stay for later calls. ``TimeoutError`` after ``timeout``."""
        return await self.events.wait_for(predicate, timeout, what)

    async def wait_janus(self, kind: str, timeout: float = REQUEST_TIMEOUT_S) -> JSON:
        """The next core event of ``kind`` (``webrtcup``, ``media``, ``hangup``…)."""
        return await self.wait_for(lambda m: m.get("janus") == kind, timeout, kind)

    async def wait_plugin_event(
        self, predicate: Callable[[JSON], bool], timeout: float = REQUEST_TIMEOUT_S
    ) -> PluginReply:
        """The next unsolicited plugin event whose data ``predicate`` accepts."""

        def matches(message: JSON) -> bool:
            plugindata = message.get("plugindata")
            data = plugindata.get("data") if isinstance(plugindata, dict) else None
            return message.get("janus") == "event" and isinstance(data, dict) and predicate(data)

        return _plugin_reply(await self.wait_for(matches, timeout, "plugin event"), None)

    async def hangup(self) -> None:
        """Closes the handle's PeerConnection on Janus, keeping the handle."""
        await self.session.connection.request(
            {"janus": "hangup", "session_id": self.session.id, "handle_id": self.id}
        )

    async def detach(self) -> None:
        """Detaches from the plugin (Janus tears the PeerConnection down)."""
        if self.detached:
            return
        try:
            await self.session.connection.request(
                {"janus": "detach", "session_id": self.session.id, "handle_id": self.id}
            )
        finally:
            self.detached = True
            self.session.handles.pop(self.id, None)
            self.events.close("handle detached")

    def _deliver(self, message: JSON) -> None:
        if message.get("janus") == "detached":
            self.detached = True
        self.events.put(message)


# --------------------------------------------------------------------------- VideoRoom


@dataclass(frozen=True)
class JanusParticipant:
    """One entry of ``listparticipants``: a participant that joined as a publisher
    (publishing or not; subscriptions are not participants)."""

    id: int
    display: str | None
    publisher: bool
    talking: bool | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JanusParticipant:
        talking = data.get("talking")
        return cls(
            id=int(data["id"]),
            display=data.get("display"),
            publisher=bool(data.get("publisher", False)),
            talking=bool(talking) if talking is not None else None,
        )


@dataclass(frozen=True)
class Feed:
    """An active publisher as ``joined`` and ``publishers`` events describe it."""

    id: int
    display: str | None
    streams: list[JSON]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Feed:
        return cls(int(data["id"]), data.get("display"), list(data.get("streams") or []))

    @property
    def audio_mids(self) -> list[str]:
        return [
            str(s["mid"])
            for s in self.streams
            if s.get("type") == "audio" and not s.get("disabled") and "mid" in s
        ]


class VideoRoom:
    """Room administration through one VideoRoom handle.

    ``admin_key`` is the plugin's ``general.admin_key``: when Janus has one, only ``create``
    requests carrying it succeed (and ``list`` shows private rooms only with it). Rooms are
    created ``permanent: false`` (never written to Janus's configuration); ``close()`` also
    destroys the rooms this object created and did not destroy, so a test or a crashed
    meeting does not leave rooms behind on a long-running Janus.
    """

    def __init__(self, handle: PluginHandle, *, admin_key: str | None = None) -> None:
        self.handle = handle
        self.admin_key = admin_key
        self.created: dict[int, str | None] = {}  # room → its secret

    @classmethod
    async def attach(cls, session: JanusSession, *, admin_key: str | None = None) -> VideoRoom:
        return cls(await session.attach(VIDEOROOM), admin_key=admin_key)

    async def create_room(
        self,
        room: int | None = None,
        *,
        description: str | None = None,
        secret: str | None = None,
        pin: str | None = None,
        publishers: int = 16,
        is_private: bool = True,
        notify_joining: bool = False,
        audiolevel_event: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> int:
        """Creates an audio room (Opus only, in-band FEC, no DTX) and returns its id (Janus
        picks one when ``room`` is None). ``publishers`` caps who may publish at once: every
        speaker, plus one LingoLive feed per listener language. ``extra`` adds any other
        room setting of ``janus.plugin.videoroom.jcfg`` (e.g. ``require_pvtid``)."""
        body: JSON = {
            "request": "create",
            "permanent": False,
            "publishers": publishers,
            "is_private": is_private,
            "audiocodec": "opus",
            "opus_fec": True,
            "opus_dtx": False,
            "notify_joining": notify_joining,
            "audiolevel_ext": True,
            "audiolevel_event": audiolevel_event,
            # no video in a translation room: nothing to encode, nothing to key-frame
            "fir_freq": 0,
        }
        if room is not None:
            body["room"] = room
        if description is not None:
            body["description"] = description
        if secret is not None:
            body["secret"] = secret
        if pin is not None:
            body["pin"] = pin
        if self.admin_key is not None:
            body["admin_key"] = self.admin_key
        body.update(extra or {})
        reply = await self.handle.message(body)
        created = int(reply.data["room"])
        self.created[created] = secret
        return created

    async def destroy_room(self, room: int, *, secret: str | None = None) -> None:
        """Destroys the room; everybody in it gets a ``destroyed`` event and is dropped.
        ``JanusError`` 426 (``VIDEOROOM_NO_SUCH_ROOM``) when there is no such room."""
        if secret is None:
            secret = self.created.get(room)
        body: JSON = {"request": "destroy", "room": room, "permanent": False}
        if secret is not None:
            body["secret"] = secret
        try:
            await self.handle.message(body)
        finally:
            self.created.pop(room, None)

    async def exists(self, room: int) -> bool:
        reply = await self.handle.message({"request": "exists", "room": room})
        return bool(reply.data.get("exists"))

    async def list_rooms(self) -> list[JSON]:
        """The rooms Janus lists (private ones only when ``admin_key`` is right)."""
        body: JSON = {"request": "list"}
        if self.admin_key is not None:
            body["admin_key"] = self.admin_key
        reply = await self.handle.message(body)
        return list(reply.data.get("list") or [])

    async def participants(self, room: int) -> list[JanusParticipant]:
        reply = await self.handle.message({"request": "listparticipants", "room": room})
        return [JanusParticipant.from_json(p) for p in reply.data.get("participants") or []]

    async def kick(self, room: int, participant: int, *, secret: str | None = None) -> None:
        """Removes a participant from the room (its handle gets ``kicked``; its feed, if
        any, is unpublished for every subscriber)."""
        body: JSON = {"request": "kick", "room": room, "id": participant}
        if secret is not None:
            body["secret"] = secret
        await self.handle.message(body)

    async def close(self) -> None:
        """Destroys the rooms this object created (best effort) and detaches."""
        for room in list(self.created):
            with contextlib.suppress(JanusError):
                await self.destroy_room(room)
        with contextlib.suppress(JanusError):
            await self.handle.detach()


@dataclass
class Publisher:
    """A participant of a room, on its own handle: it sees who publishes (``feeds``,
    updated from the ``publishers``/``unpublished``/``leaving`` events it is sent) and can
    publish one PeerConnection of its own."""

    handle: PluginHandle
    room: int
    id: int
    private_id: int | None
    feeds: dict[int, Feed] = field(default_factory=dict)

    @classmethod
    async def join(
        cls,
        session: JanusSession,
        room: int,
        *,
        display: str | None = None,
        participant_id: int | None = None,
        pin: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
    ) -> Publisher:
        """Attaches a handle and joins ``room`` as a (not yet publishing) participant."""
        handle = await session.attach(VIDEOROOM)
        body: JSON = {"request": "join", "ptype": "publisher", "room": room}
        if display is not None:
            body["display"] = display
        if participant_id is not None:
            body["id"] = participant_id
        if pin is not None:
            body["pin"] = pin
        if token is not None:
            body["token"] = token
        try:
            reply = await handle.message(body, timeout=timeout)
        except BaseException:
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise
        if reply.data.get("videoroom") != "joined":
            raise JanusError(490, f"unexpected reply to join: {reply.data}", "join")
        private = reply.data.get("private_id")
        publisher = cls(handle, room, int(reply.data["id"]), int(private) if private else None)
        publisher._note_publishers(reply.data.get("publishers") or [])
        return publisher

    def _note_publishers(self, publishers: Iterable[Mapping[str, Any]]) -> None:
        for data in publishers:
            feed = Feed.from_json(data)
            self.feeds[feed.id] = feed

    def _apply(self, message: JSON) -> PluginReply | None:
        try:
            reply = _plugin_reply(message, None)
        except JanusError:
            return None
        self._note_publishers(reply.data.get("publishers") or [])
        for key in ("unpublished", "leaving"):
            gone = reply.data.get(key)
            if isinstance(gone, int):
                self.feeds.pop(gone, None)
        return reply

    def apply_events(self) -> list[PluginReply]:
        """Folds the room events received so far into ``feeds`` and returns them."""
        messages = self.handle.events.take(lambda m: m.get("janus") == "event")
        return [r for r in map(self._apply, messages) if r is not None]

    async def room_event(self, timeout: float = REQUEST_TIMEOUT_S) -> PluginReply:
        """Waits for the next room event (a feed published, unpublished, left…), folds it
        into ``feeds`` and returns it."""
        while True:
            message = await self.handle.wait_for(
                lambda m: m.get("janus") == "event", timeout, "room event"
            )
            if (reply := self._apply(message)) is not None:
                return reply

    async def publish(
        self,
        offer: Jsep,
        *,
        display: str | None = None,
        descriptions: Sequence[Mapping[str, str]] | None = None,
        timeout: float | None = None,
    ) -> Jsep:
        """Publishes the PeerConnection described by ``offer`` (Opus audio) and returns
        Janus's answer. The feed becomes visible to the room once ICE and DTLS complete
        (``webrtcup`` on this handle)."""
        if offer["type"] != "offer":
            raise ValueError("publish needs an SDP offer")
        body: JSON = {"request": "publish", "audiocodec": "opus"}
        if display is not None:
            body["display"] = display
        if descriptions is not None:
            body["descriptions"] = [dict(d) for d in descriptions]
        reply = await self.handle.message(body, offer, timeout=timeout)
        if reply.data.get("configured") != "ok" or reply.jsep is None:
            raise JanusError(490, f"publish not configured: {reply.data}", "publish")
        return reply.jsep

    async def unpublish(self) -> None:
        """Stops publishing (Janus hangs the PeerConnection up); stays in the room."""
        await self.handle.message({"request": "unpublish"})

    async def leave(self) -> None:
        """Leaves the room and detaches the handle."""
        try:
            await self.handle.message({"request": "leave"})
        finally:
            with contextlib.suppress(JanusError):
                await self.handle.detach()


def _streams(feeds: Iterable[int | Mapping[str, Any]]) -> list[JSON]:
    """``[{"feed": id}, …]`` from feed ids or ready-made stream objects (``mid`` etc.)."""
    return [{"feed": f} if isinstance(f, int) else dict(f) for f in feeds]


@dataclass
class Subscriber:
    """One multistream subscription: a single PeerConnection receiving the streams of one or
    several publishers of a room. Janus makes the offer (``offer`` after ``join``, or after
    ``update``), we send the answer with ``start``."""

    handle: PluginHandle
    room: int
    streams: list[JSON]
    offer: Jsep

    @classmethod
    async def join(
        cls,
        session: JanusSession,
        room: int,
        feeds: Sequence[int | Mapping[str, Any]],
        *,
        private_id: int | None = None,
        use_msid: bool = False,
        autoupdate: bool = True,
        pin: str | None = None,
        timeout: float | None = None,
    ) -> Subscriber:
        """Attaches a handle and subscribes to ``feeds`` (publisher ids: all their streams;
        or ``{"feed": id, "mid": …}`` for one stream). ``private_id`` ties the subscription
        to our publisher participant (required in rooms with ``require_pvtid``)."""
        handle = await session.attach(VIDEOROOM)
        body: JSON = {
            "request": "join",
            "ptype": "subscriber",
            "room": room,
            "streams": _streams(feeds),
            "use_msid": use_msid,
            "autoupdate": autoupdate,
        }
        if private_id is not None:
            body["private_id"] = private_id
        if pin is not None:
            body["pin"] = pin
        try:
            reply = await handle.message(body, timeout=timeout)
            if reply.data.get("videoroom") != "attached" or reply.jsep is None:
                raise JanusError(490, f"subscription without an offer: {reply.data}", "join")
        except BaseException:
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise
        return cls(handle, room, list(reply.data.get("streams") or []), reply.jsep)

    async def start(self, answer: Jsep, *, timeout: float | None = None) -> None:
        """Answers Janus's offer; media flows once ICE and DTLS complete (``webrtcup``)."""
        if answer["type"] != "answer":
            raise ValueError("start needs an SDP answer")
        reply = await self.handle.message({"request": "start"}, answer, timeout=timeout)
        if reply.data.get("started") != "ok":
            raise JanusError(490, f"subscription not started: {reply.data}", "start")

    async def update(
        self,
        subscribe: Sequence[int | Mapping[str, Any]] = (),
        unsubscribe: Sequence[int | Mapping[str, Any]] = (),
        *,
        timeout: float | None = None,
    ) -> Jsep | None:
        """Adds and removes streams on the running subscription. Returns Janus's new offer
        (answer it with ``start``), or None when Janus sent none: nothing changed in the
        SDP, or it postponed the renegotiation (``updating``) and will send an ``updated``
        event with the offer later (see ``wait_offer``)."""
        body: JSON = {"request": "update"}
        if subscribe:
            body["subscribe"] = _streams(subscribe)
        if unsubscribe:
            body["unsubscribe"] = _streams(unsubscribe)
        reply = await self.handle.message(body, timeout=timeout)
        if "streams" in reply.data:
            self.streams = list(reply.data["streams"])
        if reply.jsep is not None:
            self.offer = reply.jsep
        return reply.jsep

    async def wait_offer(self, timeout: float = REQUEST_TIMEOUT_S) -> Jsep:
        """The next offer Janus sends on its own: after a postponed update, or when a
        subscribed publisher leaves (``autoupdate``)."""
        message = await self.handle.wait_for(
            lambda m: m.get("janus") == "event" and _jsep_of(m) is not None, timeout, "offer"
        )
        reply = _plugin_reply(message, None)
        if "streams" in reply.data:
            self.streams = list(reply.data["streams"])
        self.offer = cast(Jsep, reply.jsep)
        return self.offer

    async def leave(self) -> None:
        """Ends the subscription and detaches the handle."""
        try:
            await self.handle.message({"request": "leave"})
        finally:
            with contextlib.suppress(JanusError):
                await self.handle.detach()
