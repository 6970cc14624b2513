"""Whisper speech recognition through faster-whisper's CTranslate2 model, tuned for latency.

faster-whisper's ``transcribe()`` always pads audio to Whisper's 30 s window: on 2 CPU cores
the encoder then costs ~1.2 s whether the phrase lasts 0.5 s or 5 s. CTranslate2's encoder
accepts shorter inputs, so for live phrases we encode the audio plus 1 s of silence, in a
window of at least 5 s (``window="fit"``): a 3 s phrase encodes in under 0.1 s. Measured on
the shared English/Spanish sets (docs/benchmarks.md): windows under ~5 s make tiny.en loop on
its own sentence; 5 s keeps both models at or below the 30 s window's word error rate.
Decoding uses timestamp tokens: on a trimmed window Whisper otherwise tends to repeat the
phrase to fill it; with timestamps it closes the segment at the end of speech.

We reuse faster-whisper for model loading (local folder or hub), features and tokenizer,
and call the CTranslate2 model directly. ``window="full"`` keeps the standard 30 s window.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Literal

import numpy as np

from lingolive.engines.base import MODEL_RATE, EngineError, Float32Array, TimedText, Transcript

HOP = 160  # samples per mel frame at 16 kHz
FULL_FRAMES = 3000  # Whisper's 30 s window
#: Tokens per second of audio that any real speech stays under; caps runaway repetition.
MAX_TOKENS_PER_S = 8


_SENTENCE = re.compile(r"[^.?!…。？！]+[.?!…。？！]*")


def collapse_repeats(text: str) -> str:
    """Drop Whisper's loops: a sentence repeated back to back, and a trailing fragment that
    restarts the sentence before it ("Fail better. Fail better. Fail" -> "Fail better.").

    Real speech almost never repeats a whole sentence verbatim within one short phrase; a
    decoder conditioned on a prompt, on a trimmed window, sometimes does.
    """
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    kept: list[str] = []
    for sentence in sentences:
        key = re.sub(r"[^\w ]", "", sentence.lower()).strip()
        if kept:
            last = re.sub(r"[^\w ]", "", kept[-1].lower()).strip()
            if key == last or (key and last.startswith(key) and sentence is sentences[-1]):
                continue
        kept.append(sentence)
    return " ".join(kept)


class WhisperSTT:
    """One loaded Whisper model; calls are serialized because 2 cores fit one at a time."""

    name = "whisper"

    def __init__(
        self,
        folder: Path,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 2,
        beam_size: int = 1,
        window: Literal["fit", "full"] = "fit",
        pad_s: float = 1.0,
        min_window_s: float = 5.0,
        source: str = "",
    ) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        self.folder = folder
        self.source = source
        self._model = WhisperModel(
            str(folder),
            device=device,
            compute_type=compute_type,
            cpu_threads=threads,
            num_workers=1,
        )
        self._multilingual: bool = bool(self._model.model.is_multilingual)
        self._languages = frozenset(_LANGUAGE_CODES) if self._multilingual else frozenset({"en"})
        self._beam_size = beam_size
        self._window = window
        self._pad_samples = int(pad_s * MODEL_RATE)
        self._min_window_samples = int(min_window_s * MODEL_RATE)
        self._lock = threading.Lock()
        self._tokenizers: dict[str, object] = {}
        self._suppress: dict[str, list[int]] = {}

    @property
    def multilingual(self) -> bool:
        return self._multilingual

    def languages(self) -> frozenset[str]:
        return self._languages

    # -- internals ------------------------------------------------------------------------

    def _features(self, audio: Float32Array) -> Float32Array:
        extractor = self._model.feature_extractor
        if self._window == "full":
            feats = extractor(audio, padding=FULL_FRAMES * HOP)
            return np.ascontiguousarray(feats[:, :FULL_FRAMES], dtype=np.float32)
        padding = max(self._pad_samples, self._min_window_samples - len(audio))
        feats = extractor(audio, padding=padding)
        frames = min(FULL_FRAMES, feats.shape[1] - (feats.shape[1] % 2))
        return np.ascontiguousarray(feats[:, :frames], dtype=np.float32)

    def _tokenizer(self, language: str):  # type: ignore[no-untyped-def]
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        tok = self._tokenizers.get(language)
        if tok is None:
            tok = Tokenizer(
                self._model.hf_tokenizer,
                self._multilingual,
                task="transcribe",
                language=language if self._multilingual else "en",
            )
            self._tokenizers[language] = tok
            self._suppress[language] = list(get_suppressed_tokens(tok, (-1,)) or [])
        return tok

    def _detect(
        self, encoded: object, candidates: frozenset[str] | None = None
    ) -> tuple[str, float]:
        results = self._model.model.detect_language(encoded)[0]  # best first
        for token, prob in results:
            code = str(token)[2:-2]
            if candidates is None or code in candidates:
                return code, float(prob)
        token, prob = results[0]
        return str(token)[2:-2], float(prob)

    @staticmethod
    def _segments(tok: object, ids: list[int], duration: float) -> list[TimedText]:
        """Timestamped segments that start inside the audio (timestamps are 20 ms steps).

        Segments starting in the padding after the audio are Whisper filling the window, and
        are dropped; an unclosed last segment ends at the end of the audio.
        """
        ts_begin: int = tok.timestamp_begin  # type: ignore[attr-defined]
        out: list[TimedText] = []
        tokens: list[int] = []
        start: float | None = None

        def close(end: float) -> None:
            text = str(tok.decode(tokens)).strip()  # type: ignore[attr-defined]
            if text and (start or 0.0) < duration - 0.1:
                out.append(TimedText(start or 0.0, min(end, duration), text))

        for token in ids:
            if token >= ts_begin:
                stamp = (token - ts_begin) * 0.02
                if tokens:
                    close(stamp)
                    tokens, start = [], None
                elif start is None:
                    start = stamp
                continue
            tokens.append(token)
        if tokens:
            close(duration)
        return out

    def detect_language(
        self, audio: Float32Array, candidates: frozenset[str] | None = None
    ) -> tuple[str, float]:
        import ctranslate2

        if not self._multilingual:
            return "en", 1.0
        features = ctranslate2.StorageView.from_array(self._features(audio)[None])
        with self._lock:
            encoded = self._model.model.encode(features, to_cpu=False)
            return self._detect(encoded, candidates)

    # -- contract -------------------------------------------------------------------------

    def transcribe(
        self,
        audio: Float32Array,
        language: str | None,
        *,
        prompt: str | None = None,
        prefix: str | None = None,
        partial: bool = False,
    ) -> Transcript:
        import ctranslate2

        if audio.ndim != 1:
            raise EngineError(f"Whisper needs mono audio, got shape {audio.shape}")
        if language is not None and language not in self._languages:
            raise EngineError(f"this Whisper model does not transcribe {language!r}")
        if not np.isfinite(audio).all():
            raise EngineError("audio contains NaN or infinite samples")
        duration = len(audio) / MODEL_RATE
        features = ctranslate2.StorageView.from_array(self._features(audio)[None])
        with self._lock:
            encoded = self._model.model.encode(features, to_cpu=False)
            lang_prob: float | None = None
            if language is None:
                language, lang_prob = self._detect(encoded) if self._multilingual else ("en", 1.0)
            tok = self._tokenizer(language)
            tokens: list[int] = []
            if prompt:
                tokens = [tok.sot_prev, *tok.encode(" " + prompt.strip())[-200:]]
            # Timestamp mode on purpose: on a trimmed window Whisper, without timestamps, tends
            # to repeat the phrase to fill the window; with them it closes the segment at the
            # end of speech and stops, and segments past the audio can be dropped.
            tokens += list(tok.sot_sequence)
            if prefix and prefix.strip():
                # Forced start: the confirmed words, from the first timestamp.
                tokens += [tok.timestamp_begin, *tok.encode(" " + prefix.strip())]
            result = self._model.model.generate(
                encoded,
                [tokens],
                beam_size=1 if partial else self._beam_size,
                max_length=min(448, len(tokens) + 10 + math.ceil(MAX_TOKENS_PER_S * duration)),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppress[language],
                max_initial_timestamp_index=50,
            )[0]
        ids = result.sequences_ids[0]
        if prefix and prefix.strip() and (not ids or ids[0] < tok.timestamp_begin):
            # CTranslate2 returns the forced prefix with the output; keep one form of it.
            ids = [tok.timestamp_begin, *ids]
        segments = self._segments(tok, ids, duration)
        return Transcript(
            text=collapse_repeats(" ".join(s.text for s in segments)),
            language=language,
            language_probability=lang_prob,
            no_speech_probability=float(result.no_speech_prob),
            segments=tuple(segments),
        )
