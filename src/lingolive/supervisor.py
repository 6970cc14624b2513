"""Keeping ``--workers N`` processes running: a worker that dies comes back in its slot.

A worker that crashes (a native library, the kernel's OOM killer, ``kill -9``) takes its
sessions with it; those cannot be saved (their media was in that process). What can be saved
is the slot: the supervisor starts a new worker with the same index, so it listens on the
same private port and owns the same rooms (``rooms.placement``), and the server is back at
full capacity. A worker that dies again within ``QUICK_DEATH_S`` of starting is restarted
after a doubling delay (1 s up to ``MAX_BACKOFF_S``), so a worker that cannot start (a bad
setting, a port taken) does not spin the CPU; one that ran long enough starts at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

#: A worker that dies sooner than this after starting counts as failing to start.
QUICK_DEATH_S = 10.0
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


@dataclass
class Slot:
    """One worker's place: its index, the process in it now, and how often it came back."""

    index: int
    process: BaseProcess | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_deaths: int = 0  # in a row
    restart_at: float | None = None  # scheduled after a death, not yet done


@dataclass
class Supervisor:
    """Starts ``count`` workers and restarts any that dies until ``stop``.

    ``make(index, restarts)`` builds (does not start) the process for a slot.
    """

    make: Callable[[int, int], BaseProcess]
    count: int
    clock: Callable[[], float] = time.monotonic
    slots: list[Slot] = field(init=False)
    stopping: bool = False

    def __post_init__(self) -> None:
        self.slots = [Slot(i) for i in range(self.count)]

    def start(self) -> None:
        for slot in self.slots:
            self._launch(slot)

    def _launch(self, slot: Slot) -> None:
        proc = self.make(slot.index, slot.restarts)
        proc.start()
        slot.process, slot.started_at, slot.restart_at = proc, self.clock(), None

    @property
    def pids(self) -> list[int | None]:
        return [s.process.pid if s.process is not None else None for s in self.slots]

    def stop(self) -> None:
        """No more restarts; every running worker gets SIGTERM (it says goodbye first)."""
        self.stopping = True
        for slot in self.slots:
            proc = slot.process
            if proc is not None and proc.is_alive():
                proc.terminate()

    def step(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a worker to die, then schedule or do restarts."""
        alive = [s.process.sentinel for s in self.slots if s.process is not None]
        if alive:
            wait(alive, timeout)
        else:
            time.sleep(timeout)
        now = self.clock()
        for slot in self.slots:
            proc = slot.process
            if self.stopping or proc is None:
                continue
            if slot.restart_at is None and not proc.is_alive():
                self._died(slot, proc, now)
            if slot.restart_at is not None and now >= slot.restart_at:
                slot.restarts += 1
                log.warning("restarting worker %d (restart %d)", slot.index, slot.restarts)
                self._launch(slot)

    def _died(self, slot: Slot, proc: BaseProcess, now: float) -> None:
        proc.join(0)
        lived = now - slot.started_at
        slot.quick_deaths = slot.quick_deaths + 1 if lived < QUICK_DEATH_S else 0
        delay = (
            min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (slot.quick_deaths - 1))
            if slot.quick_deaths
            else 0.0
        )
        slot.restart_at = now + delay
        log.error(
            "worker %d (pid %s) died with exit code %s after %.0f s: its sessions are lost; "
            "restarting it in %.0f s",
            slot.index,
            proc.pid,
            proc.exitcode,
            lived,
            delay,
        )

    def run(self) -> None:
        """Supervise until ``stop`` and every worker has exited."""
        while not self.stopping:
            self.step(0.5)
        for slot in self.slots:
            if slot.process is not None:
                slot.process.join()
