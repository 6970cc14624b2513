"""The application context: the one place that holds process-wide state.

Settings, the loaded engines, the shared worker pools and the registry of live sessions.
Created by the FastAPI lifespan and passed explicitly to whoever needs it; there are no
module-level globals, so two apps (tests) can live in one process.

It sits below everything that uses it: it imports no session, call or media code (a live
session is anything that can be shut down, ``LiveSession``), so the process-wide state
never drags in WebRTC.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.metrics import Metrics
from lingolive.pipeline.stage_pool import StagePool
from lingolive.pipeline.workers import Workers
from lingolive.rooms import placement, tokens
from lingolive.rooms.direct import RoomRegistry
from lingolive.rooms.janus import SfuRooms
from lingolive.rooms.routing import Capabilities


class LiveSession(Protocol):
    """A running session, as the process sees it: it can be told the server is stopping."""

    async def shutdown(self) -> None: ...


def _depth(pool: StagePool) -> Callable[[], float]:
    return lambda: float(pool.pending)


@dataclass
class AppContext:
    settings: Settings
    engines: Engines
    workers: Workers
    metrics: Metrics = field(default_factory=Metrics)
    sessions: dict[str, LiveSession] = field(default_factory=dict)
    #: Sockets this worker relays to another worker (not its sessions: told at shutdown).
    relays: dict[str, LiveSession] = field(default_factory=dict)
    ready: bool = False
    warm_seconds: float = 0.0
    rooms: RoomRegistry = field(init=False)
    room_secret: tokens.RoomKeys = field(init=False)
    #: ``LL_SFU=janus``: the rooms' Janus side (None: rooms are LingoLive's own).
    sfu: SfuRooms | None = field(init=False)

    def room_owner_url(self, room_id: str) -> str | None:
        """Where to relay a room's offer, or None if this process owns the room."""
        s = self.settings
        if s.worker_index is None or s.worker_count <= 1:
            return None
        owner = placement.owner(room_id, s.worker_count)
        if owner == s.worker_index:
            return None
        return f"ws://127.0.0.1:{self.worker_port(owner)}/ws"

    def spare_worker_url(self, arrived_on_port: int | None) -> str | None:
        """Where to hand a new session when this worker is at ``LL_MAX_SESSIONS``: the next
        worker, if the connection came through the shared port (connections on a private
        port were handed over already and are not passed on again). The kernel gives a new
        connection to whichever worker accepts first, so idle sessions can pile up on one
        worker while another has room."""
        s = self.settings
        if s.worker_index is None or s.worker_count <= 1 or arrived_on_port != s.port:
            return None
        return f"ws://127.0.0.1:{self.worker_port((s.worker_index + 1) % s.worker_count)}/ws"

    def new_room_id(self) -> str:
        """A random room id that this process owns: with ``--workers N`` the worker that
        answers ``POST /rooms`` is the one that holds the room (an SFU room is built right
        there), and every other worker relays the room's sockets to it by the hash rule."""
        while True:
            room_id = tokens.new_room_id()
            if self.room_owner_url(room_id) is None:
                return room_id

    def worker_port(self, index: int) -> int:
        return (self.settings.worker_port_base or self.settings.port + 1) + index

    def has_capacity(self) -> bool:
        return len(self.sessions) < self.settings.max_sessions

    def __post_init__(self) -> None:
        engines = self.engines
        self.rooms = RoomRegistry(
            self.settings.room_max_participants, lambda: Capabilities.of(engines)
        )
        settings = self.settings
        self.room_secret = tokens.RoomKeys(
            settings.room_secret.encode() if settings.room_secret else secrets.token_bytes(32),
            settings.room_secret_previous.encode() if settings.room_secret_previous else None,
        )
        self.sfu = (
            SfuRooms(self.settings, self.engines, self.workers)
            if self.settings.sfu == "janus"
            else None
        )
        self.metrics.rooms.set_function(lambda: len(self.rooms.rooms))
        self.metrics.worker_restarts.set(settings.worker_restarts)
        if self.sfu is not None:
            self.metrics.watch_sfu(self.sfu.counts)
        self.metrics.sessions.set_function(lambda: len(self.sessions))
        for pool in (self.workers.vad, self.workers.turn, self.workers.mt, self.workers.tts):
            self.metrics.watch_queue(pool.name, _depth(pool))
        recognition = self.workers.recognition
        self.metrics.watch_queue("stt", lambda: float(recognition.pending))
        self.metrics.watch_batches(lambda: (recognition.batches, recognition.passes))
