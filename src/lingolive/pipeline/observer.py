"""What the pipeline reports to whoever watches it (the metrics), without knowing who.

The pipeline calls these hooks at the moments that matter; ``metrics.Metrics`` implements
them for Prometheus, ``NullObserver`` ignores them (file mode, tests).
"""

from __future__ import annotations

from typing import Protocol

from lingolive.pipeline.utterance import Utterance


class PipelineObserver(Protocol):
    def segment_out(self, segment: Utterance) -> None:
        """A segment's first translated frame left (its stage marks are complete)."""

    def engine_error(self, engine: str) -> None:
        """An engine call failed (``stt``, ``mt``, ``tts``)."""

    def voiced(self, seconds: float) -> None:
        """A final recognition pass covered this much speech."""

    def merged(self) -> None:
        """An utterance was merged into a waiting one (recognition fell behind)."""

    def dropped_input(self, seconds: float) -> None:
        """Incoming audio was dropped (the VAD fell behind)."""

    def recognized(self) -> None:
        """A segment was committed by recognition (once per phrase, whoever listens)."""

    def translated(self, language: str) -> None:
        """A segment was translated into ``language``."""

    def synthesized(self, language: str) -> None:
        """A translated segment was handed to speech synthesis in ``language``."""


class NullObserver:
    def segment_out(self, segment: Utterance) -> None:
        pass

    def engine_error(self, engine: str) -> None:
        pass

    def voiced(self, seconds: float) -> None:
        pass

    def merged(self) -> None:
        pass

    def dropped_input(self, seconds: float) -> None:
        pass

    def recognized(self) -> None:
        pass

    def translated(self, language: str) -> None:
        pass

    def synthesized(self, language: str) -> None:
        pass
