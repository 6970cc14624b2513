"""Keeping up with a speaker who does not stop: how fast to speak, how long to pause.

Translated speech is often longer than the source (English into Spanish: about a fifth
more syllables), so a listener who hears every clause at the voice's own rate falls further
behind the longer the speaker goes on. An interpreter speeds up and shortens pauses when
behind; so does the renderer, reading the backlog of its output (speech queued and not yet
played) when a phrase starts to be synthesized:

* **speed**: the voice's own rate up to ``from_s`` of backlog, then faster in proportion, up
  to ``max_speed`` (``LL_KEEP_UP_MAX_SPEED``, at most ``engines.base.MAX_SPEED``) at
  ``full_s``;
* **pause**: the silence kept after a phrase: short after a clause that the next one
  continues, a sentence's pause after a full stop, and half of either when behind.

Pure functions: the renderer calls them, the tests read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lingolive.engines.base import MAX_SPEED


@dataclass(frozen=True, slots=True)
class KeepUp:
    """The renderer's pace rule."""

    max_speed: float = 1.3  # 1.0: never faster than the voice's own rate
    from_s: float = 1.0  # backlog the voice's own rate is kept up to
    full_s: float = 4.0  # backlog at which speech is at ``max_speed``
    clause_pause_s: float = 0.08  # after a clause that the next segment continues
    sentence_pause_s: float = 0.25  # after a sentence

    def speed(self, backlog_s: float) -> float:
        """How much faster than its own rate the voice speaks, with this much queued."""
        top = min(max(self.max_speed, 1.0), MAX_SPEED)
        if backlog_s <= self.from_s or top <= 1.0:
            return 1.0
        share = min(1.0, (backlog_s - self.from_s) / max(self.full_s - self.from_s, 1e-6))
        return round(1.0 + (top - 1.0) * share, 3)

    def pause(self, backlog_s: float, *, sentence_end: bool) -> float:
        """Seconds of silence kept after a phrase's speech."""
        pause = self.sentence_pause_s if sentence_end else self.clause_pause_s
        return pause / 2 if backlog_s > self.from_s else pause
