"""`lingolive translate` on the shared audio, both directions, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, ROOT


def translate(src: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lingolive", "translate", str(src), str(out), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


@pytest.mark.parametrize(
    ("name", "source", "target", "heard", "spoken"),
    [
        ("en_piper_dialogue.wav", "en", "es", ["train station", "weather"], ["mesa", "gracias"]),
        ("es_espeak_dialogue.wav", "es", "en", ["muchas gracias"], ["thank you"]),
    ],
)
def test_translate_file(
    tmp_path: Path, name: str, source: str, target: str, heard: list[str], spoken: list[str]
) -> None:
    out = tmp_path / "out.wav"
    proc = translate(DATA / name, out, "--source", source, "--target", target)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.lower()
    assert text.count(f" {source}: ") == 8, proc.stdout  # eight phrases, eight captions
    for words in heard + spoken:
        assert words in text, proc.stdout
    assert "stt " in text and " ms" in text
    pcm, rate = read_wav(out)
    assert rate == 48_000
    assert len(pcm) / rate >= 20  # laid out along the input's timeline
    assert np.abs(pcm).max() > 3000


def test_translate_unsupported_pair(tmp_path: Path) -> None:
    proc = translate(
        DATA / "en_piper_02.wav", tmp_path / "o.wav", "--source", "en", "--target", "de"
    )
    assert proc.returncode == 2
    assert "en->de is not supported" in proc.stderr and "en->es" in proc.stderr
