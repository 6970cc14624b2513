"""An online voice with an offline safety net: if the first engine fails before producing
any audio (no network, service down), the phrase is spoken by the second one, and the first
piece says so (``SpeechAudio.fallback``) so the client can be told.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

from lingolive.engines.base import TTS, SpeechAudio

log = logging.getLogger(__name__)


class FallbackTTS:
    name = "fallback"

    def __init__(self, primary: TTS, fallback: TTS) -> None:
        self.primary = primary
        self.fallback = fallback
        self.fallbacks = 0

    def voices(self) -> dict[str, list[str]]:
        merged = {lang: list(v) for lang, v in self.fallback.voices().items()}
        for lang, names in self.primary.voices().items():
            merged[lang] = [*names, *merged.get(lang, [])]
        return merged

    def check_voice(self, language: str, voice: str | None) -> None:
        self.primary.check_voice(language, voice)  # the fallback picks its own voice

    def synthesize(
        self, text: str, language: str, voice: str | None = None, *, speed: float = 1.0
    ) -> Iterator[SpeechAudio]:
        produced = False
        try:
            for piece in self.primary.synthesize(text, language, voice, speed=speed):
                produced = True
                yield piece
            return
        except Exception as exc:
            if produced:
                raise  # half a phrase already out: no second voice on top of it
            reason = f"{self.primary.name} unavailable ({type(exc).__name__}: {exc})"
        self.fallbacks += 1
        log.warning("%s; speaking with %s", reason, self.fallback.name)
        first = True
        # The offline engine picks its own voice: the requested one belongs to the primary.
        for piece in self.fallback.synthesize(text, language, None, speed=speed):
            yield (
                replace(piece, fallback=f"{reason}; spoke with the offline voice")
                if first
                else piece
            )
            first = False

    def close(self) -> None:
        self.primary.close()
        self.fallback.close()
