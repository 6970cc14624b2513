"""Apertium rule-based translation, one warm pipeline process per language pair.

``apertium eng-spa`` starts ~12 processes per call (0.13 s). Instead we run the pair's mode
pipeline once, every stage in null-flush mode (``-z``): we write one escaped phrase followed
by ``\\0`` and read until the ``\\0`` that comes back, so a warm call costs ~2 ms. Pairs are
discovered from the installed ``.mode`` files, so installing another ``apertium-xxx-yyy``
Debian package adds its pair without code changes.
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
        self._lock = threading.Lock()

    def translate(self, text: str) -> str:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        payload = (_escape(text.replace("\0", " ")) + "[]\0").encode("utf-8")
        with self._lock:
            if self._proc.poll() is not None:
                raise EngineError(f"apertium {self.mode} exited with {self._proc.returncode}")
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
        result = out[:-1].decode("utf-8", errors="replace")
        if result.endswith("[]"):
            result = result[:-2]
        return " ".join(_unescape(result).split())

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


class ApertiumTranslator:
    """Translator over every installed Apertium pair; pipelines start on first use."""

    name = "apertium"

    def __init__(self, modes_dir: Path = MODES_DIR) -> None:
        self._modes_dir = modes_dir
        self._modes = discover_modes(modes_dir)
        if not self._modes:
            raise EngineUnavailable(
                f"no Apertium language pairs installed in {modes_dir} "
                "(Debian packages apertium and apertium-eng-spa, …)"
            )
        self._pipelines: dict[str, _ModePipeline] = {}
        self._lock = threading.Lock()

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._modes)

    def mode_for(self, source: str, target: str) -> str | None:
        return self._modes.get((source, target))

    def _pipeline(self, mode: str) -> _ModePipeline:
        with self._lock:
            pipe = self._pipelines.get(mode)
            if pipe is None or not pipe.alive():
                if pipe is not None:
                    log.warning("apertium %s died; restarting it", mode)
                    pipe.close()
                pipe = _ModePipeline(mode, self._modes_dir)
                self._pipelines[mode] = pipe
            return pipe

    def warm(self, source: str, target: str) -> None:
        """Start the pair's pipeline now, so the first phrase does not pay for it."""
        self.translate("Hello.", source, target)

    def translate(self, text: str, source: str, target: str) -> str:
        if source == target:
            return text
        mode = self._modes.get((source, target))
        if mode is None:
            raise EngineError(f"Apertium has no {source}->{target} pair installed")
        if not text.strip():
            return ""
        return self._pipeline(mode).translate(text)

    def close(self) -> None:
        with self._lock:
            pipes = list(self._pipelines.values())
            self._pipelines.clear()
        for pipe in pipes:
            pipe.close()
