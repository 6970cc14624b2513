"""Per-language choice of STT model: e.g. fast tiny.en for English, Whisper base for the rest.

``LL_STT_MODELS="en=tiny.en"`` routes English to tiny.en while every other language (and
language detection) stays on ``LL_STT_MODEL``. Each model is loaded once.
"""

from __future__ import annotations

from collections.abc import Sequence

from lingolive.engines.base import STT, Float32Array, SttRequest, Transcript


class RoutedSTT:
    """An STT engine that hands each language to the model configured for it."""

    name = "routed"

    def __init__(self, default: STT, by_language: dict[str, STT]) -> None:
        self.default = default
        self.by_language = dict(by_language)

    def languages(self) -> frozenset[str]:
        langs = set(self.default.languages())
        for stt in self.by_language.values():
            langs |= stt.languages()
        return frozenset(langs)

    def _for(self, language: str | None) -> STT:
        if language is None:
            return self.default
        return self.by_language.get(language, self.default)

    def transcribe(
        self,
        audio: Float32Array,
        language: str | None,
        *,
        prompt: str | None = None,
        prefix: str | None = None,
        partial: bool = False,
    ) -> Transcript:
        return self._for(language).transcribe(
            audio, language, prompt=prompt, prefix=prefix, partial=partial
        )

    def transcribe_batch(self, requests: Sequence[SttRequest]) -> list[Transcript]:
        """Each model gets its own requests as one batch; results come back in order."""
        by_model: dict[int, tuple[STT, list[int]]] = {}
        for i, request in enumerate(requests):
            stt = self._for(request.language)
            by_model.setdefault(id(stt), (stt, []))[1].append(i)
        results: list[Transcript | None] = [None] * len(requests)
        for stt, indices in by_model.values():
            for i, transcript in zip(
                indices, stt.transcribe_batch([requests[i] for i in indices]), strict=True
            ):
                results[i] = transcript
        return [r for r in results if r is not None]

    def detect_language(
        self, audio: Float32Array, candidates: frozenset[str] | None = None
    ) -> tuple[str, float]:
        return self.default.detect_language(audio, candidates)
