"""espeak-ng text-to-speech: every language, robotic, instant, from the Debian package.

One ``espeak-ng --stdout`` process per phrase, read while it writes: espeak-ng streams its
WAV output as it synthesizes, so the first piece is ready in a few milliseconds and the
process start-up (~10 ms) is the only overhead. It covers every language Whisper and
Apertium share, which is why it is the fallback voice for anything Piper has no voice for.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import numpy as np

from lingolive.engines.base import MAX_SPEED, EngineError, EngineUnavailable, SpeechAudio

RATE = 22_050
_HEADER = 44
_PIECE_BYTES = 2 * RATE // 5  # 200 ms pieces: small enough to start playback early
#: espeak-ng's own default rate; ``speed`` multiplies it.
WORDS_PER_MINUTE = 175
#: Preferred espeak-ng voice per ISO 639-1 code where the plain code is not a voice name.
_PREFERRED = {"en": "en-us", "fr": "fr-fr", "no": "nb", "zh": "cmn"}


def _list_voices(binary: str) -> dict[str, list[str]]:
    out = subprocess.run([binary, "--voices"], capture_output=True, text=True, check=True).stdout
    voices: dict[str, list[str]] = {}
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        name = fields[1]
        lang = name.split("-")[0]
        voices.setdefault(lang, []).append(name)
    for lang, preferred in _PREFERRED.items():
        if lang in voices and preferred in voices[lang]:
            voices[lang].remove(preferred)
            voices[lang].insert(0, preferred)
    return voices


class EspeakTTS:
    """espeak-ng as a TTS engine (a separate GPL program, run as a subprocess)."""

    name = "espeak"

    def __init__(self, binary: str = "espeak-ng") -> None:
        path = shutil.which(binary)
        if path is None:
            raise EngineUnavailable("espeak-ng is not installed (Debian package `espeak-ng`)")
        self._binary = path
        self._voices = _list_voices(path)

    def voices(self) -> dict[str, list[str]]:
        return {lang: list(names) for lang, names in self._voices.items()}

    def voice_for(self, language: str, voice: str | None) -> str:
        if voice:
            if any(voice in names for names in self._voices.values()):
                return voice
            raise EngineError(f"espeak-ng has no voice {voice!r}")
        names = self._voices.get(language)
        if not names:
            raise EngineError(f"espeak-ng has no voice for language {language!r}")
        return names[0]

    def check_voice(self, language: str, voice: str | None) -> None:
        self.voice_for(language, voice)

    def synthesize(
        self, text: str, language: str, voice: str | None = None, *, speed: float = 1.0
    ) -> Iterator[SpeechAudio]:
        name = self.voice_for(language, voice)
        wpm = round(WORDS_PER_MINUTE * min(max(speed, 1.0), MAX_SPEED))
        proc = subprocess.Popen(
            [self._binary, "-v", name, "-s", str(wpm), "--stdout", "--stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            proc.stdin.write(text.encode("utf-8"))
            proc.stdin.close()
            header = proc.stdout.read(_HEADER)
            if len(header) < _HEADER or header[:4] != b"RIFF":
                err = proc.stderr.read().decode(errors="replace").strip()
                raise EngineError(f"espeak-ng produced no audio: {err or 'no output'}")
            carry = b""
            while True:
                block = proc.stdout.read1(_PIECE_BYTES)  # type: ignore[attr-defined]
                if not block:
                    break
                data = carry + block
                usable = len(data) - (len(data) % 2)
                carry = data[usable:]
                if usable:
                    yield SpeechAudio(np.frombuffer(data[:usable], dtype=np.int16).copy(), RATE)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def close(self) -> None:
        """Nothing is kept running between phrases."""
