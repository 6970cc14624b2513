"""`lingolive translate` on the shared audio, both directions, through the real CLI."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pysubs2
import pytest

from conftest import DATA, ROOT, Server
from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.file_translate import read_audio
from lingolive.serve import ServeOptions, where_to_open


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


def test_subtitles_json_and_captions_as_phrases_finish(
    tmp_path: Path, manifest: list[dict[str, Any]]
) -> None:
    """One run of an eight-phrase file: JSON lines streamed while the process still works,
    SRT and WebVTT cues on the input's timeline, the same texts everywhere."""
    name = "en_piper_dialogue.wav"
    speech = next(e["speech"] for e in manifest if e["file"] == name)
    duration = len(read_audio(DATA / name)) / 16_000
    out, srt, vtt = tmp_path / "out.wav", tmp_path / "out.srt", tmp_path / "out.vtt"
    args = ["--source", "en", "--target", "es", "--json", "--progress"]
    args += ["--subtitles", str(srt), "--subtitles", str(vtt)]
    with (tmp_path / "stderr.txt").open("w+") as err:  # a file: a full pipe would block it
        proc = subprocess.Popen(
            [sys.executable, "-m", "lingolive", "translate", str(DATA / name), str(out), *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        # Ordering, not timing: the first caption is out while later phrases are still in
        # the works and before the WAV is written at the end.
        still_running, wav_yet = proc.poll() is None, out.exists()
        rest, _ = proc.communicate(timeout=300)
        err.seek(0)
        stderr = err.read()
    assert proc.returncode == 0, stderr
    assert still_running and not wav_yet, (first, rest)
    records = [json.loads(line) for line in [first, *rest.splitlines()]]
    assert len(records) == len(speech), records  # one line per phrase
    assert [r["segment_id"] for r in records] == sorted(r["segment_id"] for r in records)
    for record, (start, end) in zip(records, speech, strict=True):
        assert set(record) >= {"segment_id", "text", "translation", "timings", "error"}
        assert record["source_lang"] == "en" and record["target_lang"] == "es"
        assert record["translation"] and record["error"] is None
        assert record["timings"]["stt_ms"] is not None
        assert abs(record["start_s"] - start) < 0.5 and abs(record["end_s"] - end) < 0.5
    assert "100%|" in stderr  # --progress: the bar even though stderr is not a terminal

    srt_text, vtt_text = srt.read_text(), vtt.read_text()
    assert vtt_text.startswith("WEBVTT")
    for text, sep in ((srt_text, ","), (vtt_text, r"\.")):  # SRT 00:00:01,500, VTT 00:00:01.500
        stamp = rf"\d\d:\d\d:\d\d{sep}\d\d\d"
        timed = [line for line in text.splitlines() if "-->" in line]
        assert len(timed) == len(records), text
        assert all(re.fullmatch(f"{stamp} --> {stamp}", t) for t in timed), text
    for path, unescape in ((srt, str), (vtt, html.unescape)):
        cues = list(pysubs2.load(str(path)))
        said = [" ".join(r["translation"].split()) for r in records]  # one line per cue
        assert [unescape(c.plaintext) for c in cues] == said
        starts = [c.start / 1000 for c in cues]
        ends = [c.end / 1000 for c in cues]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        assert all(0 <= s < e <= duration + 0.001 for s, e in zip(starts, ends, strict=True))
        assert all(e <= s for e, s in zip(ends, starts[1:], strict=False))  # no overlap
        for cue_start, (start, _) in zip(starts, speech, strict=True):
            assert abs(cue_start - start) < 0.5  # when the source phrase is said


@pytest.mark.parametrize(
    ("name", "target", "spoken"),
    [("en_piper_02.wav", "es", "en"), ("es_espeak_01.wav", "en", "es")],
)
def test_source_auto_detects_each_phrase(
    tmp_path: Path, name: str, target: str, spoken: str
) -> None:
    proc = translate(
        DATA / name, tmp_path / "o.wav", "--source", "auto", "--target", target, "--json", "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert records and all(r["source_lang"] == spoken for r in records), records
    assert all(r["translation"] for r in records), records
    assert "engines loaded" not in proc.stderr  # --quiet: no status lines


def _not_audio(tmp: Path) -> Path:
    fake = tmp / "speech.wav"
    fake.write_text("not a recording, only a text file with an audio name\n")
    return fake


@pytest.mark.parametrize(
    ("make_input", "output", "extra", "says"),
    [
        (lambda t: t / "missing.wav", "o.wav", [], "no such file"),
        (lambda t: t, "o.wav", [], "not a file"),
        (_not_audio, "o.wav", [], "not audio FFmpeg can decode"),
        (None, "no-such-folder/o.wav", [], "does not exist"),
        # sysfs refuses new files even to root (a chmod-ed folder does not stop root)
        (None, "/sys/o.wav", [], "cannot write in /sys"),
        (None, "o.mp3", [], "written as .wav only"),
        (None, "o.wav", ["--subtitles", "o.txt"], "written as .srt or .vtt only"),
        (None, "o.wav", ["--subtitles", "none/o.srt"], "does not exist"),
    ],
    ids=[
        "missing-input",
        "input-is-a-folder",
        "input-not-audio",
        "output-folder-missing",
        "output-folder-unwritable",
        "output-not-wav",
        "subtitles-bad-extension",
        "subtitles-folder-missing",
    ],
)
def test_bad_paths_refused_before_engines_load(
    tmp_path: Path, make_input: Any, output: str, extra: list[str], says: str
) -> None:
    source = DATA / "en_piper_02.wav" if make_input is None else make_input(tmp_path)
    extra = [str(tmp_path / a) if a.startswith(("o.", "none/")) else a for a in extra]
    proc = translate(source, tmp_path / output, *extra)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr, proc.stderr
    assert proc.stderr.startswith("lingolive: ") and proc.stderr.count("\n") == 1
    assert "engines loaded" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / output).exists()


def test_serve_says_where_to_open_the_page(server: Server) -> None:
    """Once ready, `serve` prints the address to open (not uvicorn's 0.0.0.0), and why other
    devices need https."""
    port = server.url.rsplit(":", 1)[1]
    log = server.log()
    assert f"open http://localhost:{port}/ in a browser" in log, log[-2000:]
    assert "Only this machine can connect (LL_HOST=127.0.0.1)" in log  # conftest binds loopback
    lan = where_to_open(Settings(host="0.0.0.0", port=8000), ServeOptions())
    assert "need https" in lan[1] and "--certfile" in lan[1]
    tls = where_to_open(Settings(host="0.0.0.0", port=8443), ServeOptions(certfile="c.pem"))
    assert tls[0].endswith("open https://localhost:8443/ in a browser.")
