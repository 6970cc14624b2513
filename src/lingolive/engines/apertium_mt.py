"""Apertium rule-based translation, one warm pipeline process per language pair.

``apertium eng-spa`` starts ~12 processes per call (0.13 s). Instead we run the pair's mode
pipeline once, every stage in null-flush mode (``-z``): we write one escaped phrase followed
by ``\\0`` and read until the ``\\0`` that comes back, so a warm call costs ~2 ms. Pairs are
discovered from the installed ``.mode`` files, so installing another ``apertium-xxx-yyy``
Debian package adds its pair without code changes.

A warm pipeline is 10–18 programs holding their transducers, 40–160 MiB of memory that
belongs to it alone; with a dozen pairs installed that is more than the rest of the server. So a
pipeline starts on its pair's first phrase (that phrase pays the start), and one unused for
``idle_s`` is stopped (the next phrase starts it again); pairs the server is expected to use
(``keep_warm``: the default pair and its reverse, ``LL_MT_WARM_PAIRS``) are started at
start-up by ``registry.warm_engines`` and never stopped for idleness.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lingolive.engines.base import EngineError, EngineUnavailable
from lingolive.languages import to_iso1

log = logging.getLogger(__name__)

MODES_DIR = Path("/usr/share/apertium/modes")
#: Characters with a meaning in Apertium's stream format; escaped on the way in.
_SPECIAL = set("[]{}^$@/<>\\*#")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_TIMEOUT_S = 10.0


def discover_modes(modes_dir: Path = MODES_DIR) -> dict[tuple[str, str], str]:
    """Installed translation modes as {(source, target): mode name}, ISO 639-1 codes.

    Variant modes (``spa-cat_valencia``) and helper modes (``eco-…``, ``…-morph``) are skipped:
    one plain mode per direction.
    """
    found: dict[tuple[str, str], str] = {}
    if not modes_dir.is_dir():
        return found
    for path in sorted(modes_dir.glob("*.mode")):
        name = path.stem
        parts = name.split("-")
        if len(parts) != 2 or "_" in name:
            continue
        src, tgt = to_iso1(parts[0]), to_iso1(parts[1])
        if src and tgt and src != tgt:
            found.setdefault((src, tgt), name)
    return found


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in text)


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


class _ModePipeline:
    """One long-lived null-flush pipeline for one mode; one phrase at a time."""

    def __init__(self, mode: str, modes_dir: Path) -> None:
        if shutil.which("apertium-wblank-mode") is None:
            raise EngineUnavailable("apertium is not installed (Debian package `apertium`)")
        script = subprocess.run(
            ["apertium-wblank-mode", "-z", str(modes_dir / f"{mode}.mode")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # $1: generator flag (-n: unknown words unmarked), $2: tagger flag (none).
        self._proc = subprocess.Popen(
            ["bash", "-c", script, "apertium", "-n", ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.mode = mode
        self.pid = self._proc.pid  # leader of the pipeline's process group
        self._lock = threading.Lock()

    def translate(self, text: str) -> str:
        payload = (_escape(text.replace("\0", " ")) + "[]\0").encode("utf-8")
        with self._lock:
            if self._proc.poll() is not None:
                raise EngineError(f"apertium {self.mode} exited with {self._proc.returncode}")
            try:
                out = self._exchange(payload)
            except (OSError, ValueError) as exc:  # closed under us (shutdown) or a dead pipe
                raise EngineError(f"apertium {self.mode}: {exc}") from exc
        result = out[:-1].decode("utf-8", errors="replace")
        if result.endswith("[]"):
            result = result[:-2]
        return " ".join(_unescape(result).split())

    def _exchange(self, payload: bytes) -> bytearray:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(payload)
        self._proc.stdin.flush()
        out = bytearray()
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + _TIMEOUT_S
        while not out.endswith(b"\0"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                self.close()
                raise EngineError(f"apertium {self.mode} did not answer in {_TIMEOUT_S} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EngineError(f"apertium {self.mode} closed its output")
            out.extend(chunk)
        return out

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, 15)
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, 9)
            self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()


@dataclass(eq=False)
class _Slot:
    """One pair's pipeline, started on demand.

    ``lock`` serializes starting the pipeline and each phrase through it, so two MT threads
    asking a cold pair at once start it once; ``users`` (under the translator's lock) counts
    the phrases in progress, so the idle reaper never stops a pipeline someone is using.
    """

    mode: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    pipe: _ModePipeline | None = None
    users: int = 0
    last_used: float = 0.0


class ApertiumTranslator:
    """Translator over every installed Apertium pair; each pair's pipeline runs only while
    it is used.

    A pipeline starts on its pair's first phrase and, with ``idle_s`` > 0, stops after
    ``idle_s`` seconds without a phrase (a daemon thread watches), unless its pair is in
    ``keep_warm``: those are the pairs the server promised to answer fast, so their start
    cost must not come back after a quiet hour. ``pairs()`` lists every installed pair
    without starting anything. Thread-safe: the MT pool calls ``translate`` from several
    threads.
    """

    name = "apertium"

    def __init__(
        self,
        modes_dir: Path = MODES_DIR,
        *,
        idle_s: float = 0.0,
        keep_warm: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._modes_dir = modes_dir
        self._modes = discover_modes(modes_dir)
        if not self._modes:
            raise EngineUnavailable(
                f"no Apertium language pairs installed in {modes_dir} "
                "(Debian packages apertium and apertium-eng-spa, …)"
            )
        self._slots = {pair: _Slot(mode) for pair, mode in self._modes.items()}
        self.keep_warm = frozenset(keep_warm) & frozenset(self._modes)
        self.idle_s = idle_s
        self._lock = threading.Lock()  # every slot's pipe, users and last_used; _closed
        self._closed = False
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        if idle_s > 0:
            self._reaper = threading.Thread(
                target=self._reap_idle, name="apertium-idle", daemon=True
            )
            self._reaper.start()

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._modes)

    def mode_for(self, source: str, target: str) -> str | None:
        return self._modes.get((source, target))

    def running_pipelines(self) -> dict[tuple[str, str], int]:
        """Pairs whose pipeline runs now → the pid leading its process group."""
        with self._lock:
            return {
                pair: slot.pipe.pid
                for pair, slot in sorted(self._slots.items())
                if slot.pipe is not None and slot.pipe.alive()
            }

    def warm(self, source: str, target: str) -> None:
        """Start the pair's pipeline now, so the first phrase does not pay for it."""
        self.translate("Hello.", source, target)

    def translate(self, text: str, source: str, target: str) -> str:
        if source == target:
            return text
        slot = self._slots.get((source, target))
        if slot is None:
            raise EngineError(f"Apertium has no {source}->{target} pair installed")
        if not text.strip():
            return ""
        with self._lock:
            if self._closed:
                raise EngineError("the Apertium translator is closed")
            slot.users += 1
        try:
            with slot.lock:
                return self._started(slot).translate(text)
        finally:
            with self._lock:
                slot.users -= 1
                slot.last_used = time.monotonic()

    def _started(self, slot: _Slot) -> _ModePipeline:
        """The slot's pipeline, started (or restarted) if needed; called holding ``slot.lock``
        and counted in ``slot.users``, so nobody else changes ``slot.pipe`` meanwhile."""
        pipe = slot.pipe
        if pipe is not None and pipe.alive():
            return pipe
        if pipe is not None:
            log.warning("apertium %s died; restarting it", slot.mode)
            pipe.close()
        pipe = _ModePipeline(slot.mode, self._modes_dir)
        with self._lock:
            closed = self._closed
            if not closed:
                slot.pipe = pipe
        if closed:  # close() ran while it started: it must not outlive the translator
            pipe.close()
            raise EngineError("the Apertium translator is closed")
        log.info("apertium %s started", slot.mode)
        return pipe

    def stop_idle(self) -> float:
        """Stop the pipelines unused for ``idle_s`` (not ``keep_warm``, not in use).

        Returns the seconds until the next running pipeline may become idle (``idle_s``
        when none runs), which is how long the reaper sleeps.
        """
        now = time.monotonic()
        stopped: list[_ModePipeline] = []
        next_due = self.idle_s
        with self._lock:
            for pair, slot in self._slots.items():
                if slot.pipe is None or slot.users or pair in self.keep_warm:
                    continue
                due = slot.last_used + self.idle_s - now
                if due <= 0:
                    stopped.append(slot.pipe)
                    slot.pipe = None
                else:
                    next_due = min(next_due, due)
        for pipe in stopped:  # outside the lock: a stop waits for the processes to exit
            log.info("apertium %s unused for %.0f s; stopped", pipe.mode, self.idle_s)
            pipe.close()
        return max(next_due, 0.01)

    def _reap_idle(self) -> None:
        wait = self.idle_s
        while not self._stop.wait(wait):
            try:
                wait = self.stop_idle()
            except Exception:  # pragma: no cover - keep watching whatever one stop did
                log.exception("stopping idle Apertium pipelines")
                wait = self.idle_s

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pipes = [slot.pipe for slot in self._slots.values() if slot.pipe is not None]
            for slot in self._slots.values():
                slot.pipe = None
        self._stop.set()
        if self._reaper is not None:
            self._reaper.join()
        for pipe in pipes:
            pipe.close()
