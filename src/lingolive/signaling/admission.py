"""Which WebSockets may open, and how long one may stay open without a session.

A socket costs the server a task and a buffer before it asks for anything, so sockets that
never offer are bounded three ways: all open sockets (``LL_MAX_CONNECTIONS``), sockets that
have no session yet per client address (``LL_MAX_PENDING_PER_ADDRESS``: one client cannot
take every slot), and how long a socket may wait before its offer (``LL_OFFER_TIMEOUT_S``,
enforced by ``endpoint.py``). A socket beyond a limit is accepted only to be told why
(``too_many_connections``) and closed with code 1013 (try again later).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Admission:
    max_connections: int
    max_pending_per_address: int
    open: int = 0
    pending: Counter[str] = field(default_factory=Counter)

    def admit(self, address: str) -> str | None:
        """Count a new socket from ``address`` as pending; the reason if it may not open."""
        if self.open >= self.max_connections:
            return f"the server has its maximum of {self.max_connections} connections"
        if self.pending[address] >= self.max_pending_per_address:
            return (
                f"{self.max_pending_per_address} connections from your address are waiting "
                "to start a session"
            )
        self.open += 1
        self.pending[address] += 1
        return None

    def started(self, address: str) -> None:
        """The socket from ``address`` got a session (or was handed to another worker)."""
        self._unpend(address)

    def closed(self, address: str, *, pending: bool) -> None:
        self.open -= 1
        if pending:
            self._unpend(address)

    def _unpend(self, address: str) -> None:
        self.pending[address] -= 1
        if self.pending[address] <= 0:
            del self.pending[address]
