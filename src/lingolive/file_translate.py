"""``lingolive translate``: the live pipeline run over a WAV file, for users and debugging.

The file is fed to the same pipeline as a live session
(``SpeakerPipeline.feed_recording``), in 20 ms chunks and as fast as the engines allow.
Each utterance's translated speech is placed in the output no earlier than the moment its
source phrase ended (like an interpreter following the speaker), so the output lines up
with the input.

Captions are built from the pipeline's events, the same ones a live client is told, and
handed out as each phrase finishes (``on_caption``): a long recording shows its first
phrases while the rest is still being translated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lingolive.audio_files import decode_float
from lingolive.config import Settings
from lingolive.engines.base import MODEL_RATE, Float32Array, Int16Array
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.pipeline.events import (
    PhraseCommitted,
    PhraseTimed,
    PipelineEvent,
    StageFailed,
    Translated,
)
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.phrase import Marks, Stage
from lingolive.pipeline.playback import Playback
from lingolive.pipeline.speaker_pipeline import SpeakerPipeline
from lingolive.pipeline.synthesis import OUT_RATE
from lingolive.pipeline.workers import Workers


def read_audio(path: Path) -> Float32Array:
    """Any audio file av can decode → 16 kHz mono float32, the recognisers' input."""
    return decode_float(path, MODEL_RATE)


@dataclass
class FileOutput:
    """Collects each segment's translated speech (a ``SpeechOutput``).

    A file "plays" a segment when the last of its speech is in: closing a segment that got
    audio resolves its ``Playback``, so the speaker emits ``PhraseTimed`` for it as on a live
    call, and whoever watches the events (the CLI) learns the phrase is done. The audio is
    laid along the input's timeline afterwards (``translate_file``).
    """

    audio: dict[int, list[Int16Array]] = field(default_factory=dict)
    _playbacks: dict[int, Playback] = field(default_factory=dict, init=False, repr=False)

    def open_segment(self, segment_id: int) -> Playback:
        self.audio.setdefault(segment_id, [])
        return self._playbacks.setdefault(segment_id, Playback(segment_id))

    def push(self, segment_id: int, samples: Int16Array) -> None:
        self.audio.setdefault(segment_id, []).append(samples)

    @property
    def backlog_s(self) -> float:
        """A file plays nothing in real time: it is never behind."""
        return 0.0

    def close_segment(self, segment_id: int) -> None:
        playback = self._playbacks.pop(segment_id, None)
        # Without audio the speaker times the phrase itself; resolving it too would say so twice.
        if playback is not None and self.audio.get(segment_id):
            now = time.monotonic()
            playback.start(now)
            playback.finish(now)


@dataclass
class Cue:
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
    captions: list[Cue]
    audio: Int16Array
    rate: int = OUT_RATE


#: Told each phrase's caption once the phrase is done (translated and spoken), in order.
CueSink = Callable[[Cue], None]
#: Told ``(done_s, total_s)``: input seconds whose phrases are all done, of the whole file.
ProgressSink = Callable[[float, float], None]


class _Captions:
    """An ``EventSink`` that turns a recording's pipeline events into captions as they finish.

    Recognition says what a phrase is (``PhraseCommitted``), translation what it became
    (``Translated``), and ``PhraseTimed`` that it is done, with its stage marks. A phrase
    whose recognition or translation failed gets no ``PhraseTimed``: its ``StageFailed`` ends
    it. Captions go out in segment order, so a failure found early (recognition runs ahead
    of speech) waits for the phrases before it.
    """

    def __init__(
        self,
        languages: Languages,
        total_s: float,
        on_caption: CueSink | None,
        on_progress: ProgressSink | None,
    ) -> None:
        self._languages = languages
        self._total_s = total_s
        self._on_caption = on_caption
        self._on_progress = on_progress
        self._said: dict[int, tuple[str, str]] = {}  # segment → (text, language)
        self._translated: dict[int, str] = {}
        self._errors: dict[int, str] = {}
        self._done: dict[int, Cue] = {}
        self._open: set[int] = set()  # segments started and not told yet
        self._unheard: set[int] = set()  # recognition failed, and nothing committed yet
        self.captions: list[Cue] = []  # told, in order
        self._done_s = 0.0

    def __call__(self, event: PipelineEvent) -> None:
        match event:
            case PhraseCommitted(segment_id=seg, text=text, lang=lang):
                self._said[seg] = (text, lang)
                self._open.add(seg)
                self._unheard.discard(seg)
                self._recognition_moved_on(seg)
            case Translated(segment_id=seg, text=text):
                self._translated[seg] = text
            case StageFailed(segment_id=int(seg), stage=stage, message=message):
                self._errors[seg] = message
                self._open.add(seg)
                if stage == "stt":
                    self._unheard.add(seg)
                    self._recognition_moved_on(seg)
                elif stage == "mt":  # nothing more will come for it (TTS still times it)
                    self.finish(seg, self._languages.target, Marks())
            case PhraseTimed(segment_id=seg, lang=lang, marks=marks):
                self.finish(seg, lang, marks)
            case _:
                pass

    def _recognition_moved_on(self, seg: int) -> None:
        """A failed pass ends its segment only once recognition is past it: a pass at a pause
        may fail and the final pass of the same segment still commit it."""
        for earlier in sorted(s for s in self._unheard if s < seg):
            self._unheard.discard(earlier)
            self.finish(earlier, self._languages.target, Marks())

    def finish(self, seg: int, target: str, marks: Marks) -> None:
        """The phrase ``seg`` is done (idempotent): tell it, and any waiting after it."""
        if seg in self._done or seg not in self._open:
            return
        text, lang = self._said.get(seg, ("", ""))
        self._done[seg] = Cue(
            seg,
            marks.at.get(Stage.SPEECH_START, 0.0),  # audio seconds: arrival = file position
            marks.at.get(Stage.SPEECH_END, 0.0),
            source_lang=lang or self._languages.source or "",
            text=text,
            target_lang=target,
            translation=self._translated.get(seg, ""),
            stt_ms=marks.span_ms(Stage.STT_START, Stage.STT_END),
            mt_ms=marks.span_ms(Stage.MT_START, Stage.MT_END),
            tts_first_audio_ms=marks.span_ms(Stage.TTS_START, Stage.TTS_FIRST_AUDIO),
            error=self._errors.get(seg),
        )
        while self._open and min(self._open) in self._done:
            self._tell(self._done[min(self._open)])

    def _tell(self, cap: Cue) -> None:
        self._open.discard(cap.segment_id)
        self.captions.append(cap)
        if self._on_caption is not None:
            self._on_caption(cap)
        # Phrases finish in order, so everything up to this one's end is done.
        if cap.end_s > self._done_s:
            self._done_s = min(cap.end_s, self._total_s)
            if self._on_progress is not None:
                self._on_progress(self._done_s, self._total_s)

    def flush(self) -> None:
        """The recording is over: tell what is left, in order."""
        for seg in sorted(self._open):
            self.finish(seg, self._languages.target, Marks())
        if self._on_progress is not None:
            self._on_progress(self._total_s, self._total_s)


async def translate_file(
    engines: Engines,
    settings: Settings,
    audio: Float32Array,
    languages: Languages,
    workers: Workers | None = None,
    glossary: Glossary | None = None,
    *,
    on_caption: CueSink | None = None,
    on_progress: ProgressSink | None = None,
) -> FileResult:
    """Translate ``audio`` (16 kHz mono); each caption goes to ``on_caption`` as its phrase
    finishes, and the whole result (captions in order, the laid-out speech) is returned."""
    own_workers = workers is None
    pools = workers or Workers.create()
    output = FileOutput()
    captions = _Captions(languages, len(audio) / MODEL_RATE, on_caption, on_progress)
    pipeline = SpeakerPipeline(
        engines,
        pools,
        settings.recording_pipeline(),
        languages,
        events=captions,
        output=output,
        glossary=glossary,
    )
    try:
        # Returns once every phrase is spoken, and each has told its ``PhraseTimed`` by then:
        # ``FileOutput`` resolves a segment's playback as the segment closes, and the
        # renderer's callbacks on that handle run before its task ends.
        await pipeline.feed_recording(audio)
        captions.flush()
    finally:
        await pipeline.close()
        if own_workers:
            pools.shutdown()

    # Lay the translations on a timeline: each starts when its phrase ended, or after the
    # previous translation, whichever is later.
    pieces: list[tuple[int, Int16Array]] = []
    cursor = 0
    for cap in captions.captions:
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
    return FileResult(captions=captions.captions, audio=out)


def caption_record(cap: Cue) -> dict[str, object]:
    """A caption as one JSON object (``lingolive translate --json``)."""
    return {
        "segment_id": cap.segment_id,
        "start_s": round(cap.start_s, 3),
        "end_s": round(cap.end_s, 3),
        "source_lang": cap.source_lang,
        "text": cap.text,
        "target_lang": cap.target_lang,
        "translation": cap.translation,
        "timings": {
            "stt_ms": cap.stt_ms,
            "mt_ms": cap.mt_ms,
            "tts_first_audio_ms": cap.tts_first_audio_ms,
        },
        "error": cap.error,
    }


def format_caption(cap: Cue) -> str:
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
