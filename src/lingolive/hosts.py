"""Which ``Host`` a request may name: the defence against DNS rebinding.

A web page on ``evil.example`` can make its visitor's browser resolve ``evil.example`` to the
LingoLive server's address (a LAN IP, or 127.0.0.1) and then talk to the server as if it were
its own origin: ``Origin`` and ``Host`` both say ``evil.example``, so an Origin check that
compares the two passes. What the attacker cannot choose is a name the operator accepted, so
every HTTP request and WebSocket must name ``localhost``, an IP address, or one of
``LL_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def host_name(header: str) -> str:
    """``Host`` without its port (``[::1]:8000`` → ``::1``), lower-cased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str | None, allowed: list[str]) -> bool:
    if "*" in allowed:
        return True
    if not header:
        return False
    name = host_name(header)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return name in {h.lower() for h in allowed}


class AllowedHosts:
    """ASGI middleware: refuse requests naming another host (HTTP 400, WebSocket 403)."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # handshake answered 403
            return
        body = (
            f"host {host_name(host)!r} is not served here; the operator can allow it "
            "with LL_ALLOWED_HOSTS\n"
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body})
