"""Socket framing: the next WebSocket message, as a validated client message or a refusal.

Contract: ``receive(ws, max_bytes)`` waits for the next text or binary message and returns
a ``Frame`` (the validated message, with its text as it came: a relay forwards that), a
``Malformed`` (the ``error`` the client is to get; the socket stays usable), or None once
the socket has closed. Checks run cheapest first and each refusal names what is wrong: the
size (``LL_MAX_MESSAGE_BYTES``, before anything is decoded), UTF-8, JSON, an object with a
known ``type``, then that type's model in ``protocol``.

Why apart: the endpoint reads a socket before any session exists and the session reads it
afterwards; both must refuse the same input in the same words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from lingolive.protocol import CLIENT_MESSAGE, CLIENT_TYPES, ClientMessageType, ErrorCode


@dataclass(frozen=True)
class Frame:
    message: ClientMessageType
    text: str


@dataclass(frozen=True)
class Malformed:
    code: str
    message: str


async def receive(ws: WebSocket, max_bytes: int) -> Frame | Malformed | None:
    """The next message of ``ws`` (None: the socket closed)."""
    while True:
        try:
            event = await ws.receive()
        except WebSocketDisconnect:
            return None
        if event["type"] == "websocket.disconnect":
            return None
        text: str | None = event.get("text")
        if text is None:
            data: bytes | None = event.get("bytes")
            if data is None:
                continue
            if len(data) > max_bytes:
                return _too_large(len(data), max_bytes)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return Malformed(ErrorCode.BAD_JSON, "binary message is not UTF-8 JSON")
        return parse(text, max_bytes)


def parse(text: str, max_bytes: int) -> Frame | Malformed:
    size = len(text.encode("utf-8", errors="replace"))
    if size > max_bytes:
        return _too_large(size, max_bytes)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError: besides malformed JSON, an integer of more than 4300 digits
        # (Python's int-conversion limit) fails the parse.
        return Malformed(ErrorCode.BAD_JSON, f"not valid JSON: {exc}")
    if not isinstance(data, dict):
        return Malformed(ErrorCode.BAD_MESSAGE, "a message must be a JSON object with a 'type'")
    kind = data.get("type")
    if kind not in CLIENT_TYPES:
        return Malformed(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {kind!r}; expected one of {', '.join(CLIENT_TYPES)}",
        )
    try:
        return Frame(CLIENT_MESSAGE.validate_python(data), text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'message'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        return Malformed(ErrorCode.BAD_MESSAGE, f"invalid {kind} message: {problems}")


def _too_large(size: int, max_bytes: int) -> Malformed:
    return Malformed(
        ErrorCode.TOO_LARGE, f"message of {size} bytes exceeds the limit of {max_bytes}"
    )
