"""Keeping up with a speaker who does not stop: how fast to speak, how long to pause.

Translated speech is often longer than the source (English into Spanish: about a fifth
more syllables), so a listener who hears every clause at the voice's own rate falls further
behind the longer the speaker goes on. An interpreter speeds up and shortens pauses when
behind; so does the renderer, when a phrase starts to be synthesized, reading how far behind
the speaker its listener will hear it: the output's backlog (speech queued and not yet
played) plus the time since the phrase's speech ended (a clause committed while the speaker
goes on is seconds old already; a phrase answered at a pause is not):

* **speed**: the voice's own rate up to ``from_s`` behind, then faster in proportion, up
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
    from_s: float = 1.0  # seconds behind the voice's own rate is kept up to
    full_s: float = 2.0  # seconds behind at which speech is at ``max_speed``
    clause_pause_s: float = 0.08  # after a clause that the next segment continues
    sentence_pause_s: float = 0.25  # after a sentence

    def speed(self, behind_s: float) -> float:
        """How much faster than its own rate the voice speaks, this far behind."""
        top = min(max(self.max_speed, 1.0), MAX_SPEED)
        if behind_s <= self.from_s or top <= 1.0:
            return 1.0
        share = min(1.0, (behind_s - self.from_s) / max(self.full_s - self.from_s, 1e-6))
        return round(1.0 + (top - 1.0) * share, 3)

    def pause(self, behind_s: float, *, sentence_end: bool) -> float:
        """Seconds of silence kept after a phrase's speech."""
        pause = self.sentence_pause_s if sentence_end else self.clause_pause_s
        return pause / 2 if behind_s > self.from_s else pause
