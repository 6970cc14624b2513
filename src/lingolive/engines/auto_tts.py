"""The default TTS: Piper where a Piper voice exists for the language, espeak-ng otherwise.

Users name one voice (``LL_TTS_VOICE`` or the offer's ``voice``); it may belong to either
engine, so the choice of engine follows the voice, then the language.
"""

from __future__ import annotations

from collections.abc import Iterator

from lingolive.engines.base import EngineError, SpeechAudio
from lingolive.engines.espeak_tts import EspeakTTS
from lingolive.engines.piper_tts import PiperTTS


class AutoTTS:
    """Routes each phrase to Piper or espeak-ng."""

    name = "auto"

    def __init__(self, piper: PiperTTS | None, espeak: EspeakTTS | None) -> None:
        if piper is None and espeak is None:
            raise EngineError("no TTS engine available")
        self.piper = piper
        self.espeak = espeak

    def voices(self) -> dict[str, list[str]]:
        merged: dict[str, list[str]] = {}
        for engine in (self.piper, self.espeak):
            if engine is not None:
                for lang, names in engine.voices().items():
                    merged.setdefault(lang, []).extend(names)
        return merged

    def engine_for(self, language: str, voice: str | None) -> PiperTTS | EspeakTTS:
        """The engine that has ``voice`` (or, without one, the best for ``language``)."""
        if self.piper is not None and self.piper.has_voice(language, voice):
            return self.piper
        if self.espeak is not None and (
            voice is None or any(voice in v for v in self.espeak.voices().values())
        ):
            return self.espeak
        raise EngineError(f"no voice {voice or ''} for language {language!r}".replace("  ", " "))

    def check_voice(self, language: str, voice: str | None) -> None:
        self.engine_for(language, voice)

    def synthesize(
        self, text: str, language: str, voice: str | None = None, *, speed: float = 1.0
    ) -> Iterator[SpeechAudio]:
        return self.engine_for(language, voice).synthesize(text, language, voice, speed=speed)

    def close(self) -> None:
        for engine in (self.piper, self.espeak):
            if engine is not None:
                engine.close()
