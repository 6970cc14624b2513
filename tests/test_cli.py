"""`lingolive translate` on the shared audio, both directions, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, ROOT
from lingolive.engines.registry import Engines
from lingolive.file_translate import read_audio


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


def read_back(engines: Engines, wav: Path, language: str) -> str:
    """What the recognizer hears in ``wav``, piece by piece between its silences (≥ 0.5 s)."""
    audio = read_audio(wav)
    loud = np.abs(audio[: len(audio) // 160 * 160]).reshape(-1, 160).max(axis=1) > 0.01
    pieces, start, quiet = [], None, 0
    for i, voiced in enumerate([*loud, False]):
        if voiced:
            start = i if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= 50 or i == len(loud):
                pieces.append(audio[start * 160 : (i - quiet + 10) * 160])
                start, quiet = None, 0
    return " ".join(engines.stt.transcribe(p, language).text for p in pieces)


@pytest.mark.parametrize(
    ("name", "source", "target", "heard", "spoken"),
    [
        ("en_piper_dialogue.wav", "en", "es", ["train station", "weather"], ["mesa", "gracias"]),
        ("es_espeak_dialogue.wav", "es", "en", ["muchas gracias"], ["thank you"]),
    ],
)
def test_translate_file(
    tmp_path: Path,
    engines: Engines,
    name: str,
    source: str,
    target: str,
    heard: list[str],
    spoken: list[str],
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
    # The file says the translation: recognized again, its words are there.
    said = read_back(engines, out, target).lower()
    for words in spoken:
        assert words in said, said


def test_translate_unsupported_pair(tmp_path: Path) -> None:
    proc = translate(
        DATA / "en_piper_02.wav", tmp_path / "o.wav", "--source", "en", "--target", "de"
    )
    assert proc.returncode == 2
    assert "en->de is not supported" in proc.stderr and "en->es" in proc.stderr
