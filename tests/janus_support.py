"""What the Janus tests share: the marker for a missing Janus, the test audio, SDP glue
between aiortc and Janus's JSEP, loudness of received frames, and waiting for a condition.

The test audio is the repository's own copy (``tests/data``), so a fresh clone on any
machine finds it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable

import numpy as np
import pytest

from conftest import DATA
from lingolive.sfu.janus_api import JanusAdmin
from lingolive.sfu.janus_process import JanusProcess

#: Skipped without Debian's janus (conftest turns the skip into a failure under CI=true).
needs_janus = pytest.mark.skipif(
    shutil.which("janus") is None,
    reason="Debian janus not installed (scripts/setup.sh --dev)",
)

AUDIO = DATA
#: 20 ms frames louder than this count as speech (synthesized speech frames: ~2000).
LOUD_RMS = 300.0


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


async def until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Polls ``condition()`` every 0.1 s; fails with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def no_sessions_left(janus: JanusProcess, admin_secret: str) -> list[int]:
    """Janus's sessions, polled for up to 2 s until there are none."""
    async with await JanusAdmin.connect(janus.admin_url, admin_secret) as admin:
        for _ in range(20):
            sessions = await admin.list_sessions()
            if not sessions:
                break
            await asyncio.sleep(0.1)
    return sessions
