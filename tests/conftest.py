"""Shared fixtures: real engines, a real server process, the shared test audio."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from lingolive.config import Settings
from lingolive.engines.registry import Engines, load_engines
from lingolive.file_translate import read_audio

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="session")
def manifest() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((DATA / "manifest.json").read_text())
    return entries


@pytest.fixture(scope="session")
def human_manifest() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((DATA / "human" / "manifest.json").read_text())
    return entries


def audio(name: str) -> np.ndarray:
    return read_audio(DATA / name)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def engines(settings: Settings) -> Iterator[Engines]:
    loaded = load_engines(settings)
    yield loaded
    loaded.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    ws_url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(tmp: Path, **env: str) -> Server:
    port = free_port()
    log_path = tmp / f"server-{port}.log"
    full_env = {**os.environ, "LL_HOST": "127.0.0.1", "LL_PORT": str(port), **env}
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lingolive", "serve"],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return Server(url, f"ws://127.0.0.1:{port}/ws", proc, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server not ready in 90 s: {log_path.read_text()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    stop_server(srv)
    assert "Traceback" not in srv.log(), srv.log()
