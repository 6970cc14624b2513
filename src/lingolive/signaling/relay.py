"""Relaying a room's signaling to the worker process that owns the room.

With ``--workers N`` the kernel hands a WebSocket to any worker, but a room's participants
must all be in the worker that owns it. The receiving worker opens a WebSocket to the
owner's private loopback port, forwards the offer, then copies messages both ways until
either side closes. Only signaling is relayed: the owner's answer carries the owner's own
ICE candidates, so the media flows straight between the client and the owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import websockets
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

log = logging.getLogger(__name__)


class RelayTo(Exception):
    """Raised by the session: this connection belongs to another worker."""

    def __init__(self, url: str, first_message: str) -> None:
        super().__init__(url)
        self.url = url
        self.first_message = first_message


async def relay(ws: WebSocket, url: str, first_message: str, max_size: int) -> None:
    async with websockets.connect(url, max_size=max_size) as upstream:
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
