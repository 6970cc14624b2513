"""The small contracts every engine implements: VAD, end of turn, STT, Translator, TTS.

They are deliberately synchronous and blocking: real engines are C/ONNX/subprocess calls that
block anyway, and the pipeline decides where they run (a worker thread, never the event loop).
Keeping the contracts small is what lets a user swap an engine by name in configuration.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Float32Array = npt.NDArray[np.float32]
Int16Array = npt.NDArray[np.int16]

#: Sample rate of every array that goes into VAD and STT engines.
MODEL_RATE = 16_000


class EngineError(RuntimeError):
    """An engine failed in a way the pipeline reports to the client and survives."""


class EngineUnavailable(EngineError):
    """An engine (or one of its models) is not installed or cannot be loaded here."""


# --- VAD ---------------------------------------------------------------------------------


@runtime_checkable
class VADStream(Protocol):
    """Per-audio-stream VAD state: recurrent models carry context from window to window."""

    def probability(self, window: Float32Array) -> float:
        """Speech probability of one window of ``VAD.window_samples`` samples at 16 kHz."""
        ...


class VAD(Protocol):
    """Voice activity detector working on fixed windows of 16 kHz mono float32 audio."""

    name: str
    window_samples: int

    def stream(self) -> VADStream:
        """A fresh state for one audio stream (one speaker)."""
        ...


# --- end of turn -------------------------------------------------------------------------


class TurnDetector(Protocol):
    """Hears whether a phrase is finished from its sound (intonation, a trailing word), so
    that a speaker who has finished is answered before a fixed silence has passed."""

    name: str

    def probability(self, audio: Float32Array) -> float:
        """Probability that the speaker has finished the phrase ``audio`` (16 kHz mono, its
        short trailing silence included)."""
        ...


# --- STT ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimedText:
    """A piece of a transcript with its place in the audio (seconds from its start)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """Result of one recognition pass."""

    text: str
    language: str
    language_probability: float | None = None
    no_speech_probability: float | None = None
    #: The text cut where the engine saw boundaries (Whisper: its timestamped segments).
    #: Streaming uses them to commit finished sentences and trim its audio buffer.
    segments: tuple[TimedText, ...] = ()
    #: Every word with its time, when the request asked for them (``SttRequest.word_times``)
    #: and the engine can tell: where the audio may be cut between two words.
    words: tuple[TimedText, ...] = ()


@dataclass(frozen=True)
class SttRequest:
    """One recognition pass, as data: what ``STT.transcribe`` takes, so that passes of
    several speakers can wait together and run as one batch (``STT.transcribe_batch``)."""

    audio: Float32Array
    language: str | None
    prompt: str | None = None
    prefix: str | None = None
    partial: bool = False
    word_times: bool = False


class STT(Protocol):
    """Speech recognizer over a whole buffer of 16 kHz mono float32 audio."""

    name: str

    def languages(self) -> frozenset[str]:
        """ISO 639-1 codes this engine can transcribe."""
        ...

    def transcribe(
        self,
        audio: Float32Array,
        language: str | None,
        *,
        prompt: str | None = None,
        prefix: str | None = None,
        partial: bool = False,
    ) -> Transcript:
        """Transcribe ``audio``; ``language=None`` means detect it.

        ``prompt``: text said just before this audio (context, not repeated in the output).
        ``prefix``: text the transcript must start with (already confirmed words); the
        result's ``text`` includes it. ``partial=True`` marks a pass over a still-growing
        utterance: engines may trade accuracy for speed there.
        """
        ...

    def transcribe_batch(self, requests: Sequence[SttRequest]) -> list[Transcript]:
        """Several passes at once, results in order: what ``transcribe`` of each would give.

        An engine that computes a batch in one call (Whisper: one encoder and one decoder
        call over all the windows) serves several speakers for much less than the sum of
        their passes; one that cannot may loop. If any request fails, the call raises (the
        caller retries the requests one by one, so only the bad one fails).
        """
        ...

    def detect_language(
        self, audio: Float32Array, candidates: frozenset[str] | None = None
    ) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the language spoken in ``audio``.

        ``candidates`` limits the answer to languages the caller can use (e.g. those with
        a translation into the listener's language).
        """
        ...


# --- MT ----------------------------------------------------------------------------------


class Translator(Protocol):
    """Text-to-text translation between ISO 639-1 languages."""

    name: str

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Every (source, target) pair this engine can translate."""
        ...

    def translate(self, text: str, source: str, target: str) -> str:
        """Translate one phrase. Raises ``EngineError`` for an unsupported pair."""
        ...

    def close(self) -> None:
        """Release processes and files."""
        ...


# --- TTS ---------------------------------------------------------------------------------


#: The fastest a voice is asked to speak (× its own rate): beyond it speech gets hard to follow.
MAX_SPEED = 1.3


@dataclass(frozen=True)
class SpeechAudio:
    """One piece of synthesized speech: mono int16 samples at ``sample_rate``."""

    samples: Int16Array
    sample_rate: int
    #: Set on the first piece when a fallback engine spoke instead of the requested one.
    fallback: str | None = None


class TTS(Protocol):
    """Text-to-speech that yields audio piece by piece, so playback starts early."""

    name: str

    def voices(self) -> dict[str, list[str]]:
        """Installed voices per ISO 639-1 language, best first."""
        ...

    def check_voice(self, language: str, voice: str | None) -> None:
        """Raise ``EngineError`` unless ``voice`` (None: the language's default) can speak
        ``language``: checked when a session starts, not at its first phrase."""
        ...

    def synthesize(
        self, text: str, language: str, voice: str | None = None, *, speed: float = 1.0
    ) -> Iterator[SpeechAudio]:
        """Speak ``text``; the first piece should come as soon as the engine has one.

        ``speed`` > 1 speaks faster than the voice's own rate (at most ``MAX_SPEED``), with
        the engine's own means (a shorter phoneme duration, a higher words-per-minute
        rate), so that translated speech can catch up with a speaker who does not stop.
        """
        ...

    def close(self) -> None:
        """Release processes and files."""
        ...
