"""Microsoft Edge's online neural voices (pip ``edge-tts``): needs internet.

The service streams MP3 (edge-tts 7 fixes the format); we decode the stream in memory as it
arrives and yield PCM pieces, so the first audio goes out while the rest is still coming —
no file, no wait for the whole phrase. When the service cannot be reached the
``FallbackTTS`` around this engine speaks with the offline voice instead and says so.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterable, Iterator

import av
import numpy as np

from lingolive.engines.base import MAX_SPEED, EngineError, EngineUnavailable, SpeechAudio

#: A natural default voice per language (any Edge voice name can be configured instead).
DEFAULT_VOICES = {
    "en": "en-US-AriaNeural",
    "es": "es-ES-ElviraNeural",
    "fr": "fr-FR-DeniseNeural",
    "ca": "ca-ES-JoanaNeural",
    "pt": "pt-PT-RaquelNeural",
    "it": "it-IT-ElsaNeural",
    "de": "de-DE-KatjaNeural",
    "gl": "gl-ES-SabelaNeural",
    "nl": "nl-NL-ColetteNeural",
}
RATE = 24_000


def decode_mp3_stream(chunks: Iterable[bytes]) -> Iterator[SpeechAudio]:
    """MP3 bytes, in whatever pieces they arrive → mono int16 PCM pieces."""
    codec = av.CodecContext.create("mp3", "r")
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    for chunk in _with_end(chunks):
        for packet in codec.parse(chunk):
            try:
                frames = codec.decode(packet)
            except av.error.InvalidDataError:
                continue  # a tag or info frame, not audio: the next frames still decode
            for frame in frames:
                for out in resampler.resample(frame):
                    yield SpeechAudio(out.to_ndarray().reshape(-1).astype(np.int16), RATE)
        if chunk is None:
            for frame in codec.decode(None):
                for out in resampler.resample(frame):
                    yield SpeechAudio(out.to_ndarray().reshape(-1).astype(np.int16), RATE)


def _with_end(chunks: Iterable[bytes]) -> Iterator[bytes | None]:
    yield from chunks
    yield None


class EdgeTTS:
    """Edge's neural voices; one ``Communicate`` stream per phrase."""

    name = "edge"

    def __init__(self, voices: dict[str, str] | None = None, timeout_s: int = 5) -> None:
        try:
            import edge_tts  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(
                "Edge-TTS needs the pip package edge-tts (and internet)"
            ) from exc
        self._voices = {**DEFAULT_VOICES, **(voices or {})}
        self._timeout = timeout_s

    def voices(self) -> dict[str, list[str]]:
        return {lang: [voice] for lang, voice in self._voices.items()}

    def voice_for(self, language: str, voice: str | None) -> str:
        chosen = voice or self._voices.get(language)
        if not chosen:
            raise EngineError(f"no Edge voice for language {language!r}")
        return chosen

    def check_voice(self, language: str, voice: str | None) -> None:
        self.voice_for(language, voice)

    def _mp3(self, text: str, voice: str, rate: str = "+0%") -> Iterator[bytes]:
        """The service's MP3 stream, chunk by chunk, in this (worker) thread.

        edge-tts's own ``stream_sync`` loses any exception and then waits forever (so no
        network meant a hung thread); this bridge passes errors through.
        """
        import edge_tts

        communicate = edge_tts.Communicate(
            text,
            voice,
            rate=rate,
            connect_timeout=self._timeout,
            receive_timeout=self._timeout * 3,
        )
        items: queue.Queue[bytes | BaseException | None] = queue.Queue()

        async def pump() -> None:
            try:
                async for chunk in communicate.stream():
                    if chunk["type"] == "audio":
                        items.put(chunk["data"])
                items.put(None)
            except BaseException as exc:  # delivered to the consumer below
                items.put(exc)

        thread = threading.Thread(
            target=lambda: asyncio.run(pump()), daemon=True, name="ll-edge-tts"
        )
        thread.start()
        while True:
            item = items.get(timeout=self._timeout * 6)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise EngineError(f"Edge-TTS failed: {item}") from item
            yield item

    def synthesize(
        self, text: str, language: str, voice: str | None = None, *, speed: float = 1.0
    ) -> Iterator[SpeechAudio]:
        faster = round(100 * (min(max(speed, 1.0), MAX_SPEED) - 1.0))
        yield from decode_mp3_stream(
            self._mp3(text, self.voice_for(language, voice), f"+{faster}%")
        )

    def close(self) -> None:
        """Nothing is kept open between phrases."""
