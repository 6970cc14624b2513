"""VAD windows → utterances: where a phrase starts, grows and ends.

A plain synchronous state machine over 16 kHz mono audio, fed in whatever chunk sizes the
transport delivers, so the live path and ``lingolive translate`` (a WAV file) share it.

* Speech starts when the VAD probability reaches ``threshold``; it continues while it stays
  above ``threshold - 0.15`` (hysteresis, as Silero's reference does, so a soft syllable
  does not end a phrase).
* A burst shorter than ``min_speech_ms`` of voiced audio is ignored (clicks, breaths).
* After ``turn_check_ms`` of silence (if set, and shorter than the hangover) a
  ``SpeechQuiet`` carries the utterance with its silence so far, for an end-of-turn model to
  hear whether the phrase is finished before the hangover has passed.
* After ``hangover_ms`` of silence the utterance *pauses* (``SpeechPaused``): the first,
  early decision, on which recognition of the phrase can start. If voice comes back within
  ``undo_window_ms`` the pause is undone (``SpeechResumed``) and the utterance goes on;
  otherwise it *ends* (``SpeechEnded``). Its audio runs from ``pre_roll_ms`` before the
  first voiced window to a short tail after the last one.
* Every ``partial_interval_ms`` of new audio a ``SpeechProgress`` carries the audio so far,
  for partial transcripts; after ``max_utterance_s`` the utterance is cut where the voice
  was weakest in its last 1.5 s (between words) and what follows opens the next one.

Each event carries the arrival instant of the audio it refers to, so stage timings can be
measured from when the speaker actually stopped, not from when the VAD noticed.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from lingolive.config import SegmenterConfig
from lingolive.engines.base import MODEL_RATE, VAD, Float32Array, VADStream

#: How far back from ``max_utterance_s`` a forced cut looks for the weakest voice.
CUT_SEARCH_S = 1.5


@dataclass(frozen=True)
class SpeechStarted:
    utterance_id: int
    at: float  # arrival of the first voiced audio
    audio_t0: float  # arrival instant of the utterance's sample 0 (pre-roll included)


@dataclass(frozen=True)
class SpeechProgress:
    utterance_id: int
    audio: Float32Array  # the utterance so far
    trailing_silence_ms: float = 0.0  # silence at its end: the phrase may be ending


@dataclass(frozen=True)
class SpeechPausing:
    """A short silence: the phrase may be ending. Recognition of it can start speculatively;
    nothing is decided until ``SpeechPaused`` (or undone by ``SpeechResumed``)."""

    utterance_id: int
    audio: Float32Array  # up to the last voiced window plus a short tail
    speech_end_at: float
    speech_samples: int = 0  # audio samples up to the end of the last voiced window


@dataclass(frozen=True)
class SpeechQuiet:
    """Silence reached ``turn_check_ms``: time to ask whether the phrase is finished (the
    segmenter decides nothing here; the pause and the end come as before)."""

    utterance_id: int
    audio: Float32Array  # up to the last voiced window plus a short tail (as SpeechPaused)
    heard: Float32Array  # the utterance so far, its silence included (what the model hears)
    speech_end_at: float  # arrival of the last voiced audio
    at: float
    speech_samples: int = 0


@dataclass(frozen=True)
class SpeechPaused:
    """Silence reached the hangover: the first decision that the phrase may be over."""

    utterance_id: int
    audio: Float32Array  # up to the last voiced window plus a short tail
    speech_end_at: float  # arrival of the last voiced audio
    decided_at: float
    speech_samples: int = 0


@dataclass(frozen=True)
class SpeechResumed:
    """Voice came back after a pause, within the undo window: the same utterance goes on."""

    utterance_id: int
    at: float


@dataclass(frozen=True)
class SpeechEnded:
    utterance_id: int
    audio: Float32Array
    speech_start_at: float
    speech_end_at: float  # arrival of the last voiced audio
    decided_at: float  # when the end was decided
    forced: bool = False  # cut by max_utterance_s, not by silence
    speech_samples: int = 0


SegmenterEvent = (
    SpeechStarted
    | SpeechProgress
    | SpeechPausing
    | SpeechQuiet
    | SpeechPaused
    | SpeechResumed
    | SpeechEnded
)


class Segmenter:
    """Turns a stream of audio chunks into utterance events; one instance per audio stream."""

    def __init__(self, vad: VAD, config: SegmenterConfig, first_utterance_id: int = 1) -> None:
        self._vad: VADStream = vad.stream()
        self._win = vad.window_samples
        self._cfg = config
        self._next_id = first_utterance_id
        self._pending = np.zeros(0, dtype=np.float32)
        win_ms = 1000.0 * self._win / MODEL_RATE
        self._win_s = self._win / MODEL_RATE
        self._hangover_windows = max(1, round(config.hangover_ms / win_ms))
        self._speculate_windows = (
            max(1, round(config.speculate_ms / win_ms)) if config.speculate_ms else 0
        )
        self._quiet_windows = (
            max(1, round(config.turn_check_ms / win_ms)) if config.turn_check_ms else 0
        )
        self._end_windows = max(self._hangover_windows, round(config.undo_window_ms / win_ms))
        self._min_voiced_windows = max(1, round(config.min_speech_ms / win_ms))
        self._pre_roll: deque[Float32Array] = deque(
            maxlen=max(0, round(config.pre_roll_ms / win_ms))
        )
        self._tail_windows = round(config.tail_ms / win_ms)
        self._max_windows = int(config.max_utterance_s * 1000 / win_ms)
        self._cut_search_windows = max(1, round(CUT_SEARCH_S * 1000 / win_ms))
        self._partial_windows = (
            max(1, round(config.partial_interval_ms / win_ms)) if config.partial_interval_ms else 0
        )
        self._reset_speech()

    def _reset_speech(self) -> None:
        self._active = False  # an utterance is open (maybe not yet confirmed)
        self._confirmed = False  # enough voiced audio: SpeechStarted was emitted
        self._paused = False  # SpeechPausing/Paused was emitted, voice has not come back
        self._windows: list[Float32Array] = []
        self._probs: list[float] = []  # each window's VAD probability
        self._voiced_count = 0
        self._silence_run = 0
        self._last_voiced_index = -1
        self._start_at = 0.0
        self._last_voiced_at = 0.0
        self._since_partial = 0
        self._utterance_id = 0

    @property
    def in_speech(self) -> bool:
        return self._confirmed

    def feed(self, audio: Float32Array, arrival: float | None = None) -> list[SegmenterEvent]:
        """Consume 16 kHz mono float32 audio whose last sample arrived at ``arrival``."""
        now = time.monotonic() if arrival is None else arrival
        data = np.concatenate([self._pending, audio.astype(np.float32, copy=False)])
        events: list[SegmenterEvent] = []
        n = len(data) // self._win
        # Arrival of each window's last sample, assuming the chunk arrived in real time.
        end_of_data = now - (len(data) - n * self._win) / MODEL_RATE
        for i in range(n):
            window = data[i * self._win : (i + 1) * self._win]
            events.extend(self._window(window, end_of_data - (n - 1 - i) * self._win_s))
        self._pending = data[n * self._win :].copy()
        return events

    def flush(self, arrival: float | None = None) -> list[SegmenterEvent]:
        """End of stream: close any open utterance as if silence followed."""
        now = time.monotonic() if arrival is None else arrival
        if self._active and self._confirmed:
            return [self._end(now, forced=False)]
        self._reset_speech()
        return []

    def _window(self, window: Float32Array, now: float) -> list[SegmenterEvent]:
        prob = self._vad.probability(window)
        threshold = self._cfg.threshold
        voiced = prob >= (threshold - 0.15 if self._active else threshold)
        events: list[SegmenterEvent] = []
        if not self._active:
            if voiced:
                self._active = True
                self._windows = list(self._pre_roll)
                self._probs = [0.0] * len(self._windows)  # (not scored: silence before)
                self._pre_roll.clear()
                self._start_at = now
            else:
                self._pre_roll.append(window.copy())
                return events
        self._windows.append(window.copy())
        self._probs.append(prob)
        if voiced:
            self._voiced_count += 1
            self._silence_run = 0
            self._last_voiced_index = len(self._windows) - 1
            self._last_voiced_at = now
            if self._paused:
                self._paused = False
                events.append(SpeechResumed(self._utterance_id, now))
        else:
            self._silence_run += 1

        if not self._confirmed:
            if self._voiced_count >= self._min_voiced_windows:
                self._confirmed = True
                self._utterance_id = self._next_id
                self._next_id += 1
                audio_t0 = self._start_at - len(self._windows) * self._win_s
                events.append(SpeechStarted(self._utterance_id, self._start_at, audio_t0))
            elif self._silence_run >= self._hangover_windows:
                # A click or breath: forget it, but keep its audio as pre-roll.
                tail = self._windows[-self._pre_roll.maxlen :] if self._pre_roll.maxlen else []
                self._reset_speech()
                self._pre_roll.extend(tail)
            return events

        if self._silence_run >= self._end_windows:
            events.append(self._end(now, forced=False))
            return events
        if (
            self._speculate_windows
            and self._silence_run == self._speculate_windows < self._hangover_windows
        ):
            self._paused = True
            events.append(
                SpeechPausing(
                    self._utterance_id,
                    self._speech_audio(),
                    self._last_voiced_at,
                    self._speech_samples(),
                )
            )
        quiet = self._quiet_windows
        if quiet and self._silence_run == quiet < self._hangover_windows:
            events.append(
                SpeechQuiet(
                    self._utterance_id,
                    self._speech_audio(),
                    self._audio(len(self._windows)),
                    self._last_voiced_at,
                    now,
                    self._speech_samples(),
                )
            )
        if self._silence_run == self._hangover_windows:
            self._paused = True
            events.append(
                SpeechPaused(
                    self._utterance_id,
                    self._speech_audio(),
                    self._last_voiced_at,
                    now,
                    self._speech_samples(),
                )
            )
        if len(self._windows) >= self._max_windows:
            events.extend(self._cut(now))
            return events
        self._since_partial += 1
        if self._partial_windows and self._since_partial >= self._partial_windows:
            self._since_partial = 0
            events.append(
                SpeechProgress(
                    self._utterance_id,
                    self._audio(len(self._windows)),
                    trailing_silence_ms=self._silence_run * self._win_s * 1000,
                )
            )
        return events

    def _audio(self, count: int) -> Float32Array:
        return np.concatenate(self._windows[:count]) if count else np.zeros(0, np.float32)

    def _speech_samples(self) -> int:
        return (self._last_voiced_index + 1) * self._win

    def _speech_audio(self) -> Float32Array:
        """The utterance up to its last voiced window plus a short tail."""
        keep = min(len(self._windows), self._last_voiced_index + 1 + self._tail_windows)
        return self._audio(keep)

    def _cut(self, now: float) -> list[SegmenterEvent]:
        """The utterance reached ``max_utterance_s``: it ends where the voice was weakest
        in its last ``CUT_SEARCH_S`` (between two words, not inside one), and what follows
        that point opens the next utterance at once, so no word is cut in two."""
        windows, probs = self._windows, self._probs
        search = range(max(1, len(windows) - self._cut_search_windows), len(windows) - 1)
        cut = min(search, key=lambda i: (probs[i], -i), default=len(windows) - 1) + 1
        rest, rest_probs = windows[cut:], probs[cut:]
        start_at = now - len(rest) * self._win_s
        self._windows, self._probs = windows[:cut], probs[:cut]
        self._last_voiced_index = min(self._last_voiced_index, cut - 1)
        self._last_voiced_at = min(self._last_voiced_at, start_at)
        ended = self._end(now, forced=True)
        if not rest:
            return [ended]
        # The rest is speech already heard: a new utterance, confirmed as it stands.
        self._active = self._confirmed = True
        self._windows, self._probs = rest, rest_probs
        threshold = self._cfg.threshold - 0.15
        voiced = [i for i, p in enumerate(rest_probs) if p >= threshold]
        self._voiced_count = len(voiced)
        self._last_voiced_index = voiced[-1] if voiced else -1
        self._silence_run = len(rest) - 1 - self._last_voiced_index
        self._start_at = start_at + self._win_s
        self._last_voiced_at = now - self._silence_run * self._win_s
        self._utterance_id = self._next_id
        self._next_id += 1
        return [ended, SpeechStarted(self._utterance_id, self._start_at, start_at)]

    def _end(self, now: float, *, forced: bool) -> SpeechEnded:
        event = SpeechEnded(
            utterance_id=self._utterance_id,
            audio=self._audio(len(self._windows)) if forced else self._speech_audio(),
            speech_start_at=self._start_at,
            speech_end_at=self._last_voiced_at,
            decided_at=now,
            forced=forced,
            speech_samples=len(self._windows) * self._win if forced else self._speech_samples(),
        )
        self._reset_speech()
        return event
