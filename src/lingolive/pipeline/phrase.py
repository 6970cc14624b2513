"""A phrase as data: its texts and when every stage touched it.

Latency is the product, so timings travel with the phrase instead of being log lines: each
stage marks the instant it started and finished (``time.monotonic()``), and the
``PhraseTimed`` event (the client's ``timing`` message, the metrics' histograms) is computed
from those marks alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class Stage:
    """Names of the stage boundaries a phrase records."""

    SPEECH_START = "speech_start"  # arrival of the first voiced audio
    SPEECH_END = "speech_end"  # arrival of the last voiced audio
    TURN_START = "turn_start"  # the end-of-turn model started hearing the phrase
    TURN_END = "turn_end"  # ... and called it finished (then VAD_END: the same instant)
    VAD_END = "vad_end"  # the utterance was decided over (by silence, or the model)
    STT_START = "stt_start"
    STT_END = "stt_end"
    MT_START = "mt_start"
    MT_END = "mt_end"
    TTS_START = "tts_start"
    TTS_FIRST_AUDIO = "tts_first_audio"
    TTS_END = "tts_end"
    FIRST_AUDIO_OUT = "first_audio_out"  # first translated frame left on the outgoing track
    LAST_AUDIO_OUT = "last_audio_out"


@dataclass
class Marks:
    """Monotonic instants of stage boundaries."""

    at: dict[str, float] = field(default_factory=dict)

    def mark(self, stage: str, when: float | None = None) -> float:
        instant = time.monotonic() if when is None else when
        self.at[stage] = instant
        return instant

    def span_ms(self, start: str, end: str) -> float | None:
        if start in self.at and end in self.at:
            return round((self.at[end] - self.at[start]) * 1000.0, 1)
        return None

    def relative_ms(self, origin: str) -> dict[str, float]:
        if origin not in self.at:
            return {}
        zero = self.at[origin]
        ordered = sorted(self.at.items(), key=lambda kv: kv[1])
        return {name: round((t - zero) * 1000.0, 1) for name, t in ordered}

    def copy(self) -> Marks:
        return Marks(dict(self.at))


@dataclass
class Phrase:
    """One committed phrase on its way through translation and speech, in one language.

    Recognition makes it (``target_lang`` empty); the cascade hands each listener language
    its own copy (``for_language``), which records that language's stage marks.
    """

    segment_id: int
    source_lang: str | None  # None: detect
    text: str = ""
    detected_lang: str | None = None
    target_lang: str = ""
    marks: Marks = field(default_factory=Marks)
    translation: str = ""
    audio_out_s: float = 0.0
    #: The pace its speech was synthesized at (× the voice's rate) and the output backlog
    #: (seconds queued, not yet played) that chose it.
    speed: float = 1.0
    backlog_s: float = 0.0

    def for_language(self, language: str) -> Phrase:
        return Phrase(
            segment_id=self.segment_id,
            source_lang=self.source_lang,
            text=self.text,
            detected_lang=self.detected_lang,
            target_lang=language,
            marks=self.marks.copy(),
        )
