"""The worker supervisor's rules, on stand-in processes and a hand-moved clock: a dead worker
comes back in its slot, one that keeps dying at start comes back ever more slowly, and
nothing comes back once the server stops. Real processes: test_workers.py."""

from __future__ import annotations

import os
import threading

from lingolive.supervisor import MAX_BACKOFF_S, Supervisor


class Proc:
    """Enough of ``multiprocessing.Process`` for the supervisor."""

    def __init__(self, index: int, restarts: int) -> None:
        self.index, self.restarts = index, restarts
        self.alive = False
        self.terminated = False
        self.pid = 1000 + 10 * index + restarts
        self.exitcode: int | None = None
        self._read, self._write = os.pipe()  # readable once it "dies"

    @property
    def sentinel(self) -> int:
        return self._read

    def start(self) -> None:
        self.alive = True

    def is_alive(self) -> bool:
        return self.alive

    def die(self) -> None:
        self.alive, self.exitcode = False, -9
        os.write(self._write, b"x")

    def terminate(self) -> None:
        self.terminated = True
        self.die()

    def join(self, timeout: float | None = None) -> None:
        pass


class World:
    def __init__(self, count: int = 2) -> None:
        self.now = 0.0
        self.made: list[Proc] = []

        def make(index: int, restarts: int) -> Proc:
            proc = Proc(index, restarts)
            self.made.append(proc)
            return proc

        self.sup = Supervisor(make, count, clock=lambda: self.now)  # type: ignore[arg-type]
        self.sup.start()

    def slot(self, index: int) -> Proc:
        proc = self.sup.slots[index].process
        assert isinstance(proc, Proc)
        return proc


def test_a_dead_worker_comes_back_in_its_slot() -> None:
    w = World()
    first = w.slot(1)
    w.now = 60.0  # it ran a minute: restarted at once
    first.die()
    w.sup.step(0)
    back = w.slot(1)
    assert back is not first and back.alive and (back.index, back.restarts) == (1, 1)
    assert w.slot(0) is w.made[0]  # the other slot untouched
    assert w.sup.slots[1].restarts == 1


def test_a_worker_that_keeps_dying_at_start_backs_off() -> None:
    w = World()
    delays = []
    for _ in range(8):
        w.slot(0).die()
        w.sup.step(0)
        died_at = w.now
        while not w.slot(0).alive:
            w.now += 0.5
            w.sup.step(0)
        delays.append(w.now - died_at)
        w.now += 1.0  # dies again a second after starting
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(delays) == MAX_BACKOFF_S
    w.now += 100.0  # then it runs: the next death restarts at once
    w.slot(0).die()
    w.sup.step(0)
    assert w.slot(0).alive


def test_nothing_comes_back_after_stop() -> None:
    w = World()
    w.sup.stop()
    assert all(p.terminated for p in w.made)
    w.now = 100.0
    w.sup.step(0)
    assert len(w.made) == 2
    done = threading.Event()
    threading.Thread(target=lambda: (w.sup.run(), done.set()), daemon=True).start()
    assert done.wait(5)
