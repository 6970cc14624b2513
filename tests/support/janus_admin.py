"""A client of Janus's Admin API: what is alive inside Janus (sessions, handles).

A separate WebSocket (subprotocol ``janus-admin-protocol``), every request carrying
``admin_secret``; off unless Janus is configured with ``admin_ws`` (``JanusProcess`` with an
``admin_secret``). The tests ask it that nothing LingoLive opened is left behind. It shares
the Janus API client's transactions (``JanusSocket``); only the secret's field differs.
"""

from __future__ import annotations

from types import TracebackType
from typing import Literal

from websockets.typing import Subprotocol

from lingolive.sfu.janus_api import JSON, REQUEST_TIMEOUT_S, JanusSocket, open_socket

ADMIN_PROTOCOL = Subprotocol("janus-admin-protocol")


class JanusAdmin(JanusSocket):
    """Janus's Admin API over one WebSocket (``await JanusAdmin.connect(…)``, ``async with``)."""

    _secret_field = "admin_secret"

    @classmethod
    async def connect(
        cls,
        url: str,
        admin_secret: str,
        *,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        open_timeout_s: float = 10.0,
        proxy: str | Literal[True] | None = None,
    ) -> JanusAdmin:
        ws = await open_socket(url, ADMIN_PROTOCOL, proxy, open_timeout_s)
        return cls(ws, admin_secret, request_timeout_s)

    async def list_sessions(self) -> list[int]:
        reply = await self.request({"janus": "list_sessions"})
        return [int(s) for s in reply.get("sessions") or []]

    async def list_handles(self, session_id: int) -> list[int]:
        reply = await self.request({"janus": "list_handles", "session_id": session_id})
        return [int(h) for h in reply.get("handles") or []]

    async def handle_info(self, session_id: int, handle_id: int) -> JSON:
        reply = await self.request(
            {"janus": "handle_info", "session_id": session_id, "handle_id": handle_id}
        )
        info: JSON = reply.get("info") or {}
        return info

    async def close(self) -> None:
        await self._close_socket()

    async def __aenter__(self) -> JanusAdmin:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
