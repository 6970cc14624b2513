"""Relaying a connection's signaling to the worker process where it belongs.

With ``--workers N`` the kernel hands a WebSocket to any worker, but a room's participants
must all be in the worker that owns it, and a worker at ``LL_MAX_SESSIONS`` hands new
sessions to the next one. ``destination`` says where the message that places a connection
(an ``offer`` or ``sfu_listen``) belongs, if not here. ``forward`` then opens a WebSocket to
that worker's private loopback port, sends it that message as it came, and copies messages
both ways until either side closes; meanwhile the socket is listed among the app's relays,
so that a shutdown of this worker still tells its client (``server_shutdown``). Only
signaling is relayed: the owner's answer carries the owner's own ICE candidates, so the
media flows straight between the client and the owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import websockets
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from lingolive import logs
from lingolive.context import LiveSession
from lingolive.protocol import ErrorCode, ErrorMsg, Offer, SfuListen

log = logging.getLogger(__name__)


class Placement(Protocol):
    """Where connections belong (``AppContext``)."""

    def room_owner_url(self, room_id: str) -> str | None: ...

    def spare_worker_url(self, arrived_on_port: int | None) -> str | None: ...

    def has_capacity(self) -> bool: ...


def destination(
    workers: Placement, message: Offer | SfuListen, arrived_on_port: int | None
) -> str | None:
    """The worker ``message`` belongs to (its WebSocket URL), or None: this one. A room
    belongs to its owner; a new loopback session, when this worker is full, to the next
    worker (if the connection came through the shared port)."""
    if message.room:
        return workers.room_owner_url(message.room)
    if isinstance(message, Offer) and not workers.has_capacity():
        return workers.spare_worker_url(arrived_on_port)
    return None


class RelayedSocket:
    """A socket this worker relays, as the app's shutdown sees it."""

    def __init__(self, ws: WebSocket, connection_id: str) -> None:
        self._ws = ws
        self._id = connection_id

    async def shutdown(self) -> None:
        """This worker closes the socket, whatever the worker behind it has sent yet, so
        the client is told here (straight on the socket: a relay has no outbox). The client
        may get the other worker's notice as well."""
        token = logs.session_id.set(self._id)  # called from the server's task, not ours
        try:
            message = ErrorMsg(code=ErrorCode.SHUTDOWN, message="the server is shutting down")
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self._ws.send_text(message.model_dump_json())
                await self._ws.close()
        finally:
            logs.session_id.reset(token)


async def forward(
    ws: WebSocket,
    url: str,
    first_message: str,
    max_size: int,
    relays: dict[str, LiveSession],
    connection_id: str,
) -> None:
    """Relays ``ws`` to ``url`` until either side closes, then closes ``ws``."""
    log.info("signaling relayed to the worker at %s", url)
    relays[connection_id] = RelayedSocket(ws, connection_id)
    try:
        await relay(ws, url, first_message, max_size)
    except Exception as exc:  # the owner worker is down: say so, do not hang
        log.warning("relay to %s failed: %s", url, exc)
    finally:
        relays.pop(connection_id, None)
    if ws.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await ws.close()


async def relay(ws: WebSocket, url: str, first_message: str, max_size: int) -> None:
    # Loopback to a sibling worker: never through a proxy from the environment
    # (websockets honours http_proxy by default), and no compression on loopback.
    async with websockets.connect(url, max_size=max_size, proxy=None, compression=None) as upstream:
        await upstream.send(first_message)

        async def down() -> None:
            async for message in upstream:
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_text(message)

        async def up() -> None:
            while True:
                event = await ws.receive()
                if event["type"] == "websocket.disconnect":
                    return
                if event.get("text") is not None:
                    await upstream.send(event["text"])
                elif event.get("bytes") is not None:
                    await upstream.send(event["bytes"])

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await ws.close()
