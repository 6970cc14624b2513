"""The sending side of one ``/ws`` socket: a bounded queue and the one task that drains it.

Contract: ``put`` never blocks and may be called from any code on the loop (a pipeline
event, a room broadcasting, another session's task); messages go out in the order put.
A client that lets ``SEND_QUEUE`` messages pile up is not reading: its socket is closed,
which its reader sees as the connection lost. ``close`` sends what is queued (for up to
``FLUSH_S``) and closes the socket; ``detach`` does the same but leaves the socket open
for whoever reads it next (a relay). After either, ``put`` drops messages.

Why: sending is the one thing every part of a connection does, before a session exists
and during it; one queue keeps the order and keeps a slow client from stalling the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from lingolive.protocol import ErrorMsg, ServerMessage

log = logging.getLogger(__name__)

SEND_QUEUE = 1000
#: How long closing waits for the queued messages to go out.
FLUSH_S = 2.0


class Outbox:
    def __init__(self, ws: WebSocket, name: str) -> None:
        self._ws = ws
        self._queue: asyncio.Queue[ServerMessage | None] = asyncio.Queue(SEND_QUEUE)
        self._sender: asyncio.Task[None] | None = asyncio.create_task(
            self._send_loop(), name=f"ws-send-{name}"
        )
        self.closed = False

    def put(self, message: ServerMessage) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("client is not reading its socket; closing session")
            self.closed = True  # (once: what else is put meanwhile is dropped)
            asyncio.get_running_loop().create_task(self.close())

    def error(self, code: str, message: str) -> None:
        self.put(ErrorMsg(code=code, message=message))

    async def close(self) -> None:
        await self.detach()
        if self._ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def detach(self) -> None:
        self.closed = True
        sender, self._sender = self._sender, None
        if sender is None:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(sender, timeout=FLUSH_S)
        except (TimeoutError, asyncio.CancelledError):
            sender.cancel()

    async def _send_loop(self) -> None:
        while True:
            message = await self._queue.get()
            if message is None:
                return
            try:
                await self._ws.send_text(message.model_dump_json())
            except (WebSocketDisconnect, RuntimeError, OSError):
                return
