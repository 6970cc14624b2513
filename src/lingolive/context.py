"""The application context: the one place that holds process-wide state.

Settings, the loaded engines, the shared worker pools and the registry of live sessions.
Created by the FastAPI lifespan and passed explicitly to whoever needs it; there are no
module-level globals, so two apps (tests) can live in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.pipeline.workers import Workers

if TYPE_CHECKING:
    from lingolive.signaling.session import SignalingSession


@dataclass
class AppContext:
    settings: Settings
    engines: Engines
    workers: Workers
    sessions: dict[str, SignalingSession] = field(default_factory=dict)
    ready: bool = False
    warm_seconds: float = 0.0

    def has_capacity(self) -> bool:
        return len(self.sessions) < self.settings.max_sessions
