"""An utterance as data: its audio, its texts and when every stage touched it.

Latency is the product, so timings travel with the utterance instead of being log lines:
each stage marks the instant it started and finished (``time.monotonic()``), and the
``timing`` event sent to the client is computed from those marks alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from lingolive.engines.base import MODEL_RATE, Float32Array
from lingolive.signaling.messages import TimingMsg


class Stage:
    """Names of the stage boundaries an utterance records."""

    SPEECH_START = "speech_start"  # arrival of the first voiced audio
    SPEECH_END = "speech_end"  # arrival of the last voiced audio
    VAD_END = "vad_end"  # the segmenter decided the utterance is over
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


@dataclass
class Utterance:
    """One phrase on its way through the cascade."""

    segment_id: int
    audio: Float32Array
    source_lang: str | None  # None: detect
    target_lang: str
    marks: Marks = field(default_factory=Marks)
    text: str = ""
    detected_lang: str | None = None
    translation: str = ""
    audio_out_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return len(self.audio) / MODEL_RATE

    def merge(self, later: Utterance) -> None:
        """Absorb a later utterance (back-pressure: STT fell behind). Keeps every word."""
        gap = np.zeros(int(0.2 * MODEL_RATE), dtype=np.float32)
        self.audio = np.concatenate([self.audio, gap, later.audio])
        for stage in (Stage.SPEECH_END, Stage.VAD_END):
            if stage in later.marks.at:
                self.marks.at[stage] = later.marks.at[stage]

    def timing(self) -> TimingMsg:
        m = self.marks
        return TimingMsg(
            segment_id=self.segment_id,
            speech_end_ms=m.span_ms(Stage.SPEECH_END, Stage.VAD_END),
            stt_ms=m.span_ms(Stage.STT_START, Stage.STT_END),
            mt_ms=m.span_ms(Stage.MT_START, Stage.MT_END),
            tts_first_audio_ms=m.span_ms(Stage.TTS_START, Stage.TTS_FIRST_AUDIO),
            first_audio_out_ms=m.span_ms(Stage.SPEECH_END, Stage.FIRST_AUDIO_OUT),
            audio_ms=round(self.audio_out_s * 1000.0, 1) if self.audio_out_s else None,
            stages=m.relative_ms(Stage.SPEECH_END),
            lang=self.target_lang,
        )
