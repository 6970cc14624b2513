"""A token bucket: how much audio a client may send per second of wall time."""

from __future__ import annotations


class TokenBucket:
    """Seconds of audio allowed: refilled at ``rate`` per second of wall time, up to
    ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._level = burst
        self._at: float | None = None

    def take(self, amount: float, now: float) -> bool:
        if self._at is not None:
            self._level = min(self.burst, self._level + (now - self._at) * self.rate)
        self._at = now
        if self._level < amount:
            return False
        self._level -= amount
        return True
