"""What the pipeline says happened, in its own words: small typed events, no wire format.

Every stage reports through one ``EventSink`` (a callable). The pipeline never builds a
protocol message: the edge that owns a client (``wire_events``) turns these events
into wire messages, a room tags them with the speaker, and ``Metrics`` counts the same
events, so a fact is reported once and read by whoever cares. This is how Pipecat keeps
frames inside processors and lets one observer speak the client protocol.

Events are frozen: one event object may reach several sinks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from lingolive.pipeline.phrase import Marks

StageName = Literal["stt", "mt", "tts"]


@dataclass(frozen=True, slots=True)
class SpeechActivity:
    """The speaker started or stopped speaking (voice activity, not recognition)."""

    speaking: bool


@dataclass(frozen=True, slots=True)
class Caption:
    """What the speaker said; partials (``final`` False) replace each other."""

    segment_id: int
    lang: str
    text: str
    final: bool
    #: The start of ``text`` that will not change any more (words two passes agreed on).
    stable: str
    #: A final caption of a clause whose sentence goes on in the next segment (interpreting):
    #: a record of what was said joins them into one line.
    continues: bool = False


@dataclass(frozen=True, slots=True)
class PhraseCommitted:
    """Recognition committed a phrase: it goes on to translation (once, whoever listens)."""

    segment_id: int
    text: str
    lang: str


@dataclass(frozen=True, slots=True)
class FinalPass:
    """A final recognition pass covered this much speech."""

    voiced_s: float


@dataclass(frozen=True, slots=True)
class RecognitionBehind:
    """Recognition fell behind: an utterance was merged into a waiting one (no word lost)."""


@dataclass(frozen=True, slots=True)
class Translated:
    """A phrase's text in a listener language (``by_engine`` False: same language, as is)."""

    segment_id: int
    lang: str
    text: str
    by_engine: bool


@dataclass(frozen=True, slots=True)
class SynthesisStarted:
    segment_id: int
    lang: str


@dataclass(frozen=True, slots=True)
class RenderedAhead:
    """A phrase was translated and synthesized before it was committed: ``used`` when the
    commit matched it (its speech went out at once), else it was withdrawn unheard."""

    segment_id: int
    lang: str
    used: bool


@dataclass(frozen=True, slots=True)
class VoiceFallback:
    """The requested voice was unreachable: ``message`` says who spoke instead."""

    segment_id: int
    message: str


@dataclass(frozen=True, slots=True)
class PhraseTimed:
    """A phrase's stage marks, once its first audio played (or it ended without audio).

    ``marks`` is a copy: the phrase goes on without it.
    """

    segment_id: int
    lang: str
    marks: Marks
    audio_out_s: float
    #: How far behind the listener was when it was synthesized, and how much faster it
    #: was spoken for it (``pipeline.keep_up``).
    speed: float = 1.0
    backlog_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SpeechDropped:
    """A phrase's translated speech was dropped unplayed: playback fell too far behind."""

    segment_id: int


@dataclass(frozen=True, slots=True)
class AudioShed:
    """Incoming audio was dropped (a flood above the allowed rate, or VAD behind).

    ``tell``: the first shed in a while, worth telling the client (not every 20 ms).
    """

    seconds: float
    reason: str
    tell: bool


@dataclass(frozen=True, slots=True)
class StageFailed:
    """An engine call failed; only that phrase (``segment_id``, if known) is lost."""

    stage: StageName
    message: str
    segment_id: int | None = None


PipelineEvent = (
    SpeechActivity
    | Caption
    | PhraseCommitted
    | FinalPass
    | RecognitionBehind
    | Translated
    | SynthesisStarted
    | RenderedAhead
    | VoiceFallback
    | PhraseTimed
    | SpeechDropped
    | AudioShed
    | StageFailed
)

#: Receives every event of a pipeline, on the event loop; must not block.
EventSink = Callable[[PipelineEvent], None]


def ignore(event: PipelineEvent) -> None:
    """A sink for pipelines nobody watches."""


def fan_out(*sinks: EventSink) -> EventSink:
    """One sink that hands each event to every one of ``sinks``, in order."""

    def deliver(event: PipelineEvent) -> None:
        for sink in sinks:
            sink(event)

    return deliver
