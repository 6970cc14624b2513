"""A fake STT for recognition-policy tests: it hears the words that were put in the audio.

``ScriptedSTT.say("How much does this cost?")`` returns audio in which every word is a
stretch of ``WORD_SAMPLES`` samples holding that word's number (unique per spoken word, so
"very very" is two stretches); silence is zeros. ``transcribe`` reads the numbers back, so
a pass over any slice of the audio (a cut segment, merged utterances, a partial) answers
exactly the words whose samples it got, with Whisper-like segments that end after every
sentence. No model, no timing noise: the recognizer's decisions are all that is tested.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lingolive.engines.base import (
    MODEL_RATE,
    EngineError,
    Float32Array,
    SttRequest,
    TimedText,
    Transcript,
)

WORD_SAMPLES = int(0.3 * MODEL_RATE)


@dataclass(frozen=True)
class Call:
    """One ``transcribe`` call, as the fake saw it."""

    heard: str
    samples: int
    prompt: str | None
    prefix: str | None
    partial: bool


def silence(seconds: float) -> Float32Array:
    return np.zeros(int(seconds * MODEL_RATE), dtype=np.float32)


class ScriptedSTT:
    name = "scripted"

    def __init__(self) -> None:
        self._vocabulary: list[str] = []
        self.calls: list[Call] = []
        #: The next this many ``transcribe`` calls raise ``EngineError``.
        self.failures = 0
        #: Cleared: ``transcribe`` waits until it is set (a pass that takes its time).
        self.gate = threading.Event()
        self.gate.set()
        #: Requests in every ``transcribe_batch`` call, in order.
        self.batches: list[int] = []
        #: Words spoken after this many are heard differently by every call (robotic or
        #: noisy speech: two passes never agree on them); None: always the same.
        self.steady: int | None = None
        #: How call number N (from 0) hears the words: ``hears(N, words)`` returns the
        #: (word, first sample, end sample) it reports instead (a word misheard, two heard
        #: as one); None: as spoken.
        self.hears: Callable[[int, list[tuple[str, int, int]]], list[tuple[str, int, int]]] | None
        self.hears = None
        self._lock = threading.Lock()

    def say(self, text: str) -> Float32Array:
        """Audio of ``text``, word by word, without silence around it."""
        chunks = []
        for word in text.split():
            self._vocabulary.append(word)
            chunks.append(np.full(WORD_SAMPLES, len(self._vocabulary), dtype=np.float32))
        return np.concatenate(chunks)

    def _codes(self, audio: Float32Array) -> list[int]:
        """The number (order of speaking) of every word with samples in ``audio``."""
        codes = np.rint(audio).astype(np.int64)
        edges = np.flatnonzero(np.diff(codes)) + 1
        starts = np.concatenate([[0], edges])
        return [int(codes[s]) for s in starts if codes[s]]

    def _words(self, audio: Float32Array) -> list[tuple[str, int, int]]:
        """(word, first sample, end sample) of every word with samples in ``audio``."""
        found: list[tuple[str, int, int]] = []
        codes = np.rint(audio).astype(np.int64)
        edges = np.flatnonzero(np.diff(codes)) + 1
        for start, end in zip(
            np.concatenate([[0], edges]), np.concatenate([edges, [len(codes)]]), strict=True
        ):
            if codes[start]:
                found.append((self._vocabulary[codes[start] - 1], int(start), int(end)))
        return found

    def languages(self) -> frozenset[str]:
        return frozenset({"en"})

    def detect_language(
        self, audio: Float32Array, candidates: frozenset[str] | None = None
    ) -> tuple[str, float]:
        return "en", 1.0

    def transcribe(
        self,
        audio: Float32Array,
        language: str | None,
        *,
        prompt: str | None = None,
        prefix: str | None = None,
        partial: bool = False,
        word_times: bool = False,
    ) -> Transcript:
        if not np.isfinite(audio).all():
            raise EngineError("audio contains NaN or infinite samples")  # as Whisper says
        heard = self._words(audio)
        with self._lock:
            if self.steady is not None:
                call = len(self.calls)
                heard = [
                    (f"{word}{'x' * (call % 3 + 1)}" if code > self.steady else word, a, b)
                    for (word, a, b), code in zip(heard, self._codes(audio), strict=True)
                ]
            if self.hears is not None:
                heard = self.hears(len(self.calls), heard)
            text = " ".join(word for word, _, _ in heard)
            self.calls.append(Call(text, len(audio), prompt, prefix, partial))
            fail = self.failures > 0
            self.failures -= fail
        self.gate.wait(5)
        if fail:
            raise EngineError("the model crashed")
        segments: list[TimedText] = []
        sentence: list[tuple[str, int, int]] = []
        for item in heard:
            sentence.append(item)
            if item[0].endswith((".", "?", "!")) or item is heard[-1]:
                segments.append(
                    TimedText(
                        start=sentence[0][1] / MODEL_RATE,
                        end=sentence[-1][2] / MODEL_RATE,
                        text=" ".join(word for word, _, _ in sentence),
                    )
                )
                sentence = []
        timed = tuple(
            TimedText(start / MODEL_RATE, end / MODEL_RATE, word) for word, start, end in heard
        )
        return Transcript(
            text=text,
            language=language or "en",
            segments=tuple(segments),
            words=timed if word_times else (),
        )

    def transcribe_batch(self, requests: Sequence[SttRequest]) -> list[Transcript]:
        with self._lock:
            self.batches.append(len(requests))
        return [
            self.transcribe(
                r.audio,
                r.language,
                prompt=r.prompt,
                prefix=r.prefix,
                partial=r.partial,
                word_times=r.word_times,
            )
            for r in requests
        ]
