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
import string
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from lingolive.engines.base import (
    MODEL_RATE,
    EngineError,
    Float32Array,
    SttRequest,
    TimedText,
    Transcript,
)

HOP = 160  # samples per mel frame at 16 kHz
FULL_FRAMES = 3000  # Whisper's 30 s window
TOKENS_PER_S = 50  # encoder output frames per second (the alignment's time unit)
#: Tokens per second of audio that real speech stays under; caps runaway repetition. A fast
#: speaker reaches ~6.5 text tokens per second, timestamps and misheard words (split into
#: many sub-word tokens) add more: a cap of 8 cut off the last words of 15 s windows.
MAX_TOKENS_PER_S = 14
#: A partial pass keeps the tighter cap: a tail it misses is heard by the next pass, and a
#: loop on a short window (a prompt makes them likelier) ends sooner.
PARTIAL_TOKENS_PER_S = 8
#: A decoded text that compresses better than this is a loop ("何 何 何 …"), not speech:
#: Whisper's own threshold, on which it decodes again at a higher temperature.
MAX_COMPRESSION_RATIO = 2.4
#: Temperatures tried, in order, for a pass whose first decoding looped.
FALLBACK_TEMPERATURES = (0.4, 0.8)
#: A final pass whose last segment closed this long before the end of its audio stopped
#: early: the rest is decoded on its own (see ``_rest_of``).
CONTINUE_MIN_S = 1.0
#: A continuation more likely silence than this (Whisper's own no-speech threshold) adds
#: nothing.
NO_SPEECH_MAX = 0.6
#: Words compared where a continuation may repeat the end of what came before it.
OVERLAP_WORDS = 4


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

    def _samples(self, audio: Float32Array) -> int:
        """Samples of the window this audio is encoded in (audio + padding)."""
        if self._window == "full":
            return FULL_FRAMES * HOP
        return max(len(audio) + self._pad_samples, self._min_window_samples)

    def _features(self, clips: Sequence[Float32Array]) -> Float32Array:
        """Mel features of the clips in one window (the largest any of them needs): a batch
        for the encoder, which takes windows of one length only. A short phrase batched with
        a long one is encoded with more silence after it, as it would be in a 30 s window."""
        extractor = self._model.feature_extractor
        window = min(max(self._samples(a) for a in clips), FULL_FRAMES * HOP)
        feats = [extractor(a, padding=max(self._pad_samples, window - len(a))) for a in clips]
        frames = min(FULL_FRAMES, window // HOP)
        frames -= frames % 2
        return np.ascontiguousarray(np.stack([f[:, :frames] for f in feats]), dtype=np.float32)

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
        self, encoded: object, candidates: frozenset[str] | None = None, index: int = 0
    ) -> tuple[str, float]:
        results = self._model.model.detect_language(encoded)[index]  # best first
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
        features = ctranslate2.StorageView.from_array(self._features([audio]))
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
        request = SttRequest(audio, language, prompt, prefix, partial)
        return self.transcribe_batch([request])[0]

    def _check(self, request: SttRequest) -> None:
        if request.audio.ndim != 1:
            raise EngineError(f"Whisper needs mono audio, got shape {request.audio.shape}")
        if request.language is not None and request.language not in self._languages:
            raise EngineError(f"this Whisper model does not transcribe {request.language!r}")
        if not np.isfinite(request.audio).all():
            raise EngineError("audio contains NaN or infinite samples")

    def transcribe_batch(self, requests: Sequence[SttRequest]) -> list[Transcript]:
        """One encoder and one decoder call for all the requests (see ``transcribe``).

        CTranslate2 needs the start-of-transcript token at the same place in every prompt,
        so the batch is cut in two: requests with a prompt (previous text, each cut to the
        shortest one's last tokens: it is context, the most recent words matter most) and
        requests without one.
        """
        for request in requests:
            self._check(request)
        results: list[Transcript | None] = [None] * len(requests)
        stopped: dict[int, float] = {}
        with_prompt = [i for i, r in enumerate(requests) if r.prompt and r.prompt.strip()]
        without = [i for i, r in enumerate(requests) if i not in set(with_prompt)]
        for group in (with_prompt, without):
            if group:
                for i, (transcript, stop) in zip(
                    group, self._batch([requests[i] for i in group]), strict=True
                ):
                    results[i] = transcript
                    if stop is not None:
                        stopped[i] = stop
        done = [r for r in results if r is not None]
        if stopped:
            rests = [self._rest_of(requests[i], done[i], at) for i, at in stopped.items()]
            for (i, at), rest in zip(stopped.items(), self.transcribe_batch(rests), strict=True):
                done[i] = _joined(done[i], rest, at)
        return done

    @staticmethod
    def _rest_of(request: SttRequest, heard: Transcript, at: float) -> SttRequest:
        """The audio after ``at``, where a final pass closed its last segment and stopped.

        With a forced prefix, Whisper sometimes closes the segment at a comma and ends the
        text there, seconds before the end of the audio (a 10 s window, forced to its first
        18 words, came back with those words only: the next 17 were lost). Whisper's own
        long-form decoding moves its window on after a closed segment; so do we: the rest is
        decoded on its own, with what was heard as its prompt (and again if that stops
        early too: each time at least ``CONTINUE_MIN_S`` of audio is left behind).
        """
        prompt = f"{request.prompt or ''} {heard.text}".strip()
        return SttRequest(
            request.audio[int(at * MODEL_RATE) :],
            heard.language,
            prompt=prompt,
            word_times=request.word_times,
        )

    def _batch(self, requests: Sequence[SttRequest]) -> list[tuple[Transcript, float | None]]:
        """The requests' transcripts, each with where a final pass stopped early (the end
        of its last segment, when that is ``CONTINUE_MIN_S`` or more before the end of its
        audio and nothing follows it), else None."""
        import ctranslate2

        feats = self._features([r.audio for r in requests])
        features = ctranslate2.StorageView.from_array(feats)
        with self._lock:
            encoded = self._model.model.encode(features, to_cpu=False)
            languages: list[str] = []
            probabilities: list[float | None] = []
            for i, request in enumerate(requests):
                if request.language is not None:
                    languages.append(request.language)
                    probabilities.append(None)
                elif self._multilingual:
                    lang, prob = self._detect(encoded, index=i)
                    languages.append(lang)
                    probabilities.append(prob)
                else:
                    languages.append("en")
                    probabilities.append(1.0)
            toks = [self._tokenizer(lang) for lang in languages]
            previous = [
                tok.encode(" " + r.prompt.strip())[-200:] if r.prompt and r.prompt.strip() else []
                for tok, r in zip(toks, requests, strict=True)
            ]
            keep = min(len(p) for p in previous)
            prompts: list[list[int]] = []
            caps: list[int] = []
            for tok, request, before in zip(toks, requests, previous, strict=True):
                tokens: list[int] = [tok.sot_prev, *before[len(before) - keep :]] if keep else []
                # Timestamp mode on purpose: on a trimmed window Whisper, without timestamps,
                # tends to repeat the phrase to fill the window; with them it closes the
                # segment at the end of speech and stops, and segments past the audio can be
                # dropped.
                tokens += list(tok.sot_sequence)
                if request.prefix and request.prefix.strip():
                    # Forced start: the confirmed words, from the first timestamp.
                    tokens += [tok.timestamp_begin, *tok.encode(" " + request.prefix.strip())]
                prompts.append(tokens)
                seconds = len(request.audio) / MODEL_RATE
                per_s = PARTIAL_TOKENS_PER_S if request.partial else MAX_TOKENS_PER_S
                caps.append(min(448, len(tokens) + 10 + math.ceil(per_s * seconds)))
            outputs = self._model.model.generate(
                encoded,
                prompts,
                beam_size=1 if all(r.partial for r in requests) else self._beam_size,
                max_length=max(caps),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppress[languages[0]],
                max_initial_timestamp_index=50,
            )
            ids_of = [
                self._output_ids(r, t, p, c, max(caps), o)
                for r, t, p, c, o in zip(requests, toks, prompts, caps, outputs, strict=True)
            ]
            for i, (tok, ids) in enumerate(zip(toks, ids_of, strict=True)):
                if not requests[i].partial and _looped(tok, ids):
                    ids_of[i] = self._decode_again(feats[i : i + 1], tok, prompts[i], caps[i], ids)
            word_lists: list[list[TimedText]] = [[] for _ in requests]
            if any(r.word_times for r in requests):
                word_lists = self._word_times(encoded, toks, ids_of, int(feats.shape[2]))
        transcripts = []
        for request, tok, lang, prob, ids, result, timed in zip(
            requests, toks, languages, probabilities, ids_of, outputs, word_lists, strict=True
        ):
            duration = len(request.audio) / MODEL_RATE
            segments = self._segments(tok, ids, duration)
            # The words of the segments kept (those that start inside the audio), clamped to
            # it: a last word cut off by the window's end still is a word of the text.
            kept = sum(len(s.text.split()) for s in segments)
            timed_words = (
                tuple(
                    TimedText(min(w.start, duration), min(w.end, duration), w.text)
                    for w in timed[:kept]
                )
                if request.word_times
                else ()
            )
            transcript = Transcript(
                text=collapse_repeats(" ".join(s.text for s in segments)),
                language=lang,
                language_probability=prob,
                no_speech_probability=float(result.no_speech_prob),
                segments=tuple(segments),
                words=timed_words,
            )
            stop = None if request.partial else _stopped_at(tok, ids, duration)
            transcripts.append((transcript, stop))
        return transcripts

    @staticmethod
    def _output_ids(
        request: SttRequest,
        tok: object,
        tokens: list[int],
        cap: int,
        batch_cap: int,
        result: object,
    ) -> list[int]:
        """One request's output tokens: its own length cap, the forced prefix once."""
        ids: list[int] = list(result.sequences_ids[0])  # type: ignore[attr-defined]
        sot_last = tok.sot_sequence[-1]  # type: ignore[attr-defined]
        ts_begin: int = tok.timestamp_begin  # type: ignore[attr-defined]
        if cap < batch_cap:
            # Its own length cap (the batch decoded up to the largest): the output holds
            # the forced tokens after the start-of-transcript sequence, then new ones.
            forced = len(tokens) - tokens.index(sot_last) - 1
            ids = ids[: cap - len(tokens) + forced]
        prefix = request.prefix
        if prefix and prefix.strip() and (not ids or ids[0] < ts_begin):
            # CTranslate2 returns the forced prefix with the output; keep one form of it.
            ids = [ts_begin, *ids]
        return ids

    def _decode_again(
        self, feats: Float32Array, tok: object, prompt: list[int], cap: int, looped: list[int]
    ) -> list[int]:
        """A pass whose decoding looped, decoded again alone at higher temperatures
        (Whisper's fallback); the first result that does not loop wins, else the loop is
        kept (its repeats are collapsed). Rare, so its window is simply encoded again."""
        import ctranslate2

        encoded = self._model.model.encode(ctranslate2.StorageView.from_array(feats))
        request = SttRequest(np.zeros(0, np.float32), None)
        for temperature in FALLBACK_TEMPERATURES:
            outputs = self._model.model.generate(
                encoded,
                [prompt],
                beam_size=1,
                sampling_temperature=temperature,
                sampling_topk=0,
                max_length=cap,
                suppress_blank=True,
                max_initial_timestamp_index=50,
            )
            ids = self._output_ids(request, tok, prompt, cap, cap, outputs[0])
            if not _looped(tok, ids):
                return ids
        return looped

    def _word_times(
        self, encoded: object, toks: list[object], ids_of: list[list[int]], frames: int
    ) -> list[list[TimedText]]:
        """Every word's start and end, from the decoder's cross-attention (the alignment
        faster-whisper's word timestamps use): one extra call, ~35 ms for a 7 s window on
        one core, a tenth of the pass."""
        eot: int = toks[0].eot  # type: ignore[attr-defined]
        texts = [[t for t in ids if t < eot] for ids in ids_of]
        if not any(texts):
            return [[] for _ in ids_of]
        results = self._model.model.align(
            encoded,
            toks[0].sot_sequence,  # type: ignore[attr-defined]
            [t or [eot] for t in texts],
            frames // 2 * 2,
            median_filter_width=7,
        )
        out: list[list[TimedText]] = []
        for tok, text_tokens, result in zip(toks, texts, results, strict=True):
            words, word_tokens = tok.split_to_word_tokens([*text_tokens, eot])  # type: ignore[attr-defined]
            if not text_tokens or len(word_tokens) <= 1:
                out.append([])
                continue
            pairs = result.alignments
            text_indices = np.array([p[0] for p in pairs])
            time_indices = np.array([p[1] for p in pairs])
            jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
            jump_times = time_indices[jumps] / TOKENS_PER_S
            bounds = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
            starts = jump_times[bounds[:-1]]
            ends = jump_times[bounds[1:]]
            timed: list[TimedText] = []
            for word, start, end in zip(words, starts, ends, strict=False):
                text = str(word).strip()
                if not text:
                    continue
                if timed and (
                    all(c in string.punctuation for c in text) or not word.startswith(" ")
                ):
                    # Punctuation (and a word's tail the tokenizer split off) belongs to the
                    # word before it, as in the text.
                    last = timed[-1]
                    timed[-1] = TimedText(last.start, last.end, last.text + text)
                    continue
                timed.append(TimedText(float(start), float(end), text))
            out.append(timed)
        return out


def _stopped_at(tok: object, ids: list[int], duration: float) -> float | None:
    """Where the decoding stopped, if it ended on a segment's closing timestamp that many
    seconds of audio follow (``CONTINUE_MIN_S``); None if it went on to the end."""
    ts_begin: int = tok.timestamp_begin  # type: ignore[attr-defined]
    if len(ids) < 2 or ids[-1] < ts_begin or ids[-2] >= ts_begin:
        return None
    at = (ids[-1] - ts_begin) * 0.02
    return at if duration - at >= CONTINUE_MIN_S else None


def _joined(first: Transcript, rest: Transcript, at: float) -> Transcript:
    """``first`` and what was heard after it (``rest``, of the audio from ``at`` on): its
    times shifted, a repeat of ``first``'s last words at its start dropped, nothing added
    if it is silence."""
    if not rest.text or (rest.no_speech_probability or 0.0) > NO_SPEECH_MAX:
        return first
    before = [_bare(w) for w in first.text.split()[-OVERLAP_WORDS:]]
    after = [_bare(w) for w in rest.text.split()[:OVERLAP_WORDS]]
    repeat = next(
        (n for n in range(min(len(before), len(after)), 0, -1) if before[-n:] == after[:n]), 0
    )
    segments: list[TimedText] = []
    skip = repeat  # repeated words still to drop, from the first segments on
    for seg in rest.segments:
        seg_words = seg.text.split()
        kept = seg_words[skip:]
        skip = max(0, skip - len(seg_words))
        if kept:
            segments.append(TimedText(seg.start + at, seg.end + at, " ".join(kept)))
    words = tuple(TimedText(w.start + at, w.end + at, w.text) for w in rest.words[repeat:])
    text = " ".join(s.text for s in segments)
    return Transcript(
        text=collapse_repeats(f"{first.text} {text}".strip()),
        language=first.language,
        language_probability=first.language_probability,
        no_speech_probability=first.no_speech_probability,
        segments=(*first.segments, *segments),
        words=(*first.words, *words) if first.words else (),
    )


def _bare(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def _looped(tok: object, ids: list[int]) -> bool:
    """The decoded text compresses like a loop, not like speech, even once its repeated
    sentences are collapsed (those cost nothing to fix: ``collapse_repeats``)."""
    eot: int = tok.eot  # type: ignore[attr-defined]
    decoded = str(tok.decode([t for t in ids if t < eot]))  # type: ignore[attr-defined]
    text = collapse_repeats(decoded.strip())
    if len(text) < 24:
        return False
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) > MAX_COMPRESSION_RATIO
