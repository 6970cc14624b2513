"""``lingolive translate``: the live pipeline run over a WAV file, for users and debugging.

The file is fed to the same pipeline as a live session
(``LiveTranslation.feed_recording``), in 20 ms chunks and as fast as the engines allow.
Each utterance's translated speech is placed in the output no earlier than the moment its
source phrase ended (like an interpreter following the speaker), so the output lines up
with the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lingolive.audio_files import decode_float
from lingolive.config import Settings
from lingolive.engines.base import MODEL_RATE, Float32Array, Int16Array
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.pipeline.events import PipelineEvent, StageFailed
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.live import LiveTranslation
from lingolive.pipeline.playback import Playback
from lingolive.pipeline.speaker import OUT_RATE
from lingolive.pipeline.utterance import Stage
from lingolive.pipeline.workers import Workers


def read_audio(path: Path) -> Float32Array:
    """Any audio file av can decode → 16 kHz mono float32, the recognisers' input."""
    return decode_float(path, MODEL_RATE)


@dataclass
class FileOutput:
    """Collects each segment's translated speech (a ``SpeechOutput``)."""

    audio: dict[int, list[Int16Array]] = field(default_factory=dict)

    def open_segment(self, segment_id: int) -> Playback:
        self.audio.setdefault(segment_id, [])
        return Playback(segment_id)  # never played: the file is laid out afterwards

    def push(self, segment_id: int, samples: Int16Array) -> None:
        self.audio.setdefault(segment_id, []).append(samples)

    def close_segment(self, segment_id: int) -> None:
        pass


@dataclass
class Caption:
    segment_id: int
    start_s: float
    end_s: float
    source_lang: str = ""
    text: str = ""
    target_lang: str = ""
    translation: str = ""
    stt_ms: float | None = None
    mt_ms: float | None = None
    tts_first_audio_ms: float | None = None
    error: str | None = None


@dataclass
class FileResult:
    captions: list[Caption]
    audio: Int16Array
    rate: int = OUT_RATE


async def translate_file(
    engines: Engines,
    settings: Settings,
    audio: Float32Array,
    languages: Languages,
    workers: Workers | None = None,
    glossary: Glossary | None = None,
) -> FileResult:
    own_workers = workers is None
    pools = workers or Workers.create()
    output = FileOutput()
    errors: dict[int, str] = {}

    def note(event: PipelineEvent) -> None:
        if isinstance(event, StageFailed) and event.segment_id is not None:
            errors[event.segment_id] = event.message

    pipeline = LiveTranslation(
        engines,
        pools,
        settings.recording_pipeline(),
        languages,
        events=note,
        output=output,
        glossary=glossary,
    )
    try:
        await pipeline.feed_recording(audio)
    finally:
        await pipeline.close()
        if own_workers:
            pools.shutdown()
    completed = pipeline.cascade.completed

    # Speech marks are audio seconds here (arrival = position in the file).
    captions: list[Caption] = []
    for utt in sorted(completed, key=lambda u: u.segment_id):
        cap = Caption(
            utt.segment_id,
            utt.marks.at.get(Stage.SPEECH_START, 0.0),
            utt.marks.at.get(Stage.SPEECH_END, 0.0),
            source_lang=utt.detected_lang or utt.source_lang or "",
            text=utt.text,
            target_lang=utt.target_lang,
            translation=utt.translation,
            stt_ms=utt.marks.span_ms(Stage.STT_START, Stage.STT_END),
            mt_ms=utt.marks.span_ms(Stage.MT_START, Stage.MT_END),
            tts_first_audio_ms=utt.marks.span_ms(Stage.TTS_START, Stage.TTS_FIRST_AUDIO),
            error=errors.pop(utt.segment_id, None),
        )
        captions.append(cap)
    for seg_id, message in sorted(errors.items()):  # phrases that failed before MT
        captions.append(Caption(seg_id, 0.0, 0.0, error=message))

    # Lay the translations on a timeline: each starts when its phrase ended, or after the
    # previous translation, whichever is later.
    pieces: list[tuple[int, Int16Array]] = []
    cursor = 0
    for cap in captions:
        chunks = output.audio.get(cap.segment_id)
        if not chunks:
            continue
        speech = np.concatenate(chunks)
        start = max(cursor, int(cap.end_s * OUT_RATE))
        pieces.append((start, speech))
        cursor = start + len(speech)
    total = max(cursor, int(len(audio) / MODEL_RATE * OUT_RATE))
    out = np.zeros(total, dtype=np.int16)
    for start, speech in pieces:
        out[start : start + len(speech)] = speech
    return FileResult(captions=captions, audio=out)


def format_caption(cap: Caption) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    head = f"[{cap.segment_id}] {cap.start_s:6.2f}-{cap.end_s:6.2f}s"
    lines = [f"{head} {cap.source_lang}: {cap.text}"]
    lines.append(f"{' ' * len(head)} {cap.target_lang}: {cap.translation}")
    lines.append(
        f"{' ' * len(head)} stt {ms(cap.stt_ms)} ms, mt {ms(cap.mt_ms)} ms, "
        f"tts first audio {ms(cap.tts_first_audio_ms)} ms"
    )
    if cap.error:
        lines.append(f"{' ' * len(head)} error: {cap.error}")
    return "\n".join(lines)
