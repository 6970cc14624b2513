"""How a translation becomes audio: cut for a quick first piece, trimmed, resampled.

Runs in the TTS thread (a generator driven by ``StagePool.iterate``). Engines synthesize a
whole sentence before yielding it and pad every sentence with silence; these helpers make the
first sound come sooner and keep cuts made for speed from sounding like full stops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import av
import numpy as np

from lingolive.engines.base import TTS, Int16Array, SpeechAudio

OUT_RATE = 48_000


def resampled(pieces: Iterator[SpeechAudio], rate: int = OUT_RATE) -> Iterator[Int16Array]:
    """TTS pieces at the voice's rate → mono int16 at ``rate`` (runs in the TTS thread)."""
    resampler: av.AudioResampler | None = None
    for piece in pieces:
        if resampler is None:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(
            piece.samples.reshape(1, -1).astype(np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = piece.sample_rate
        out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        if out:
            yield np.concatenate(out)
    if resampler is not None:
        tail = [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        if tail:
            yield np.concatenate(tail)


_CLAUSE_END = re.compile(r"(?<=[,;:.?!])\s+")


#: Words that start a phrase (prepositions, conjunctions, articles): cutting just before one
#: sounds like a speaker's natural break, cutting anywhere else like a stumble.
_PHRASE_START_WORDS = {
    "en": "to in on at for with from by about of and but or because that which who when if so "
    "the a an my your his her our their this these those",
    "es": "a en con de del desde por para sobre y o pero porque que cuando si el la los las un "
    "una mi tu su",
}
_PHRASE_STARTS = {lang: frozenset(words.split()) for lang, words in _PHRASE_START_WORDS.items()}


def first_clause_apart(
    text: str, min_words: int = 2, first_words: int = 0, language: str = ""
) -> list[str]:
    """Split off the first clause of a longer phrase so its audio comes sooner.

    Engines synthesize a whole sentence before yielding it; a first clause of a few words is
    ready in a fraction of the time (Piper: ~60 ms + ~55 ms per second of speech on 2 cores).
    Only the first cut is made: the rest is synthesized in one piece, keeping its
    intonation. ``first_words`` > 0: a first clause longer than that (by 3 words or more) is
    itself cut near ``first_words`` words, before a phrase-starting word of ``language`` if
    one is within two words of it, at the price of a slight phrase break there.
    """
    text = text.strip()
    parts = _CLAUSE_END.split(text, maxsplit=1)
    if not (len(parts) == 2 and len(parts[0].split()) >= min_words and len(parts[1].split()) >= 2):
        parts = [text]
    words = parts[0].split()
    if first_words <= 0 or len(words) < first_words + 3:
        return parts
    starts = _PHRASE_STARTS.get(language, frozenset())
    window = range(max(2, first_words - 1), min(len(words) - 2, first_words + 3))
    cut = next((i for i in window if words[i].lower().strip("\"'¿¡") in starts), first_words)
    return [" ".join(words[:cut]), " ".join(words[cut:] + parts[1:])]


#: Level under which synthesized audio counts as silence at a cut between pieces.
_QUIET = 300
#: Pause kept where one piece of a phrase ends and the next begins. Engines end every piece
#: as a sentence (espeak-ng with ~300 ms of silence, Piper ~150 ms); a cut made for speed
#: must not sound like a full stop.
_PAUSE_AT_CUT_S = 0.06
#: Level above which a phrase's speech has begun (about -60 dBFS: below any consonant).
_ONSET = 32
#: Lead kept before that first sample, so that an onset is never clipped.
_LEAD_S = 0.005


def without_lead_silence(pieces: Iterator[SpeechAudio]) -> Iterator[SpeechAudio]:
    """Drop the silence engines put before a phrase's first sound.

    Piper starts a sentence with 15-50 ms of silence (one in eight sentences of the shared
    set with over 200 ms), espeak-ng with up to ~50 ms: time the listener waits for nothing.
    Only the start is trimmed; silence inside the phrase is speech rhythm and stays.
    """
    note: str | None = None  # a dropped piece's fallback note goes with the next one
    for piece in pieces:
        loud = np.flatnonzero(np.abs(piece.samples) > _ONSET)
        if loud.size == 0:
            note = note or piece.fallback
            continue
        start = max(0, int(loud[0]) - int(_LEAD_S * piece.sample_rate))
        yield replace(piece, samples=piece.samples[start:], fallback=piece.fallback or note)
        yield from pieces
        return


def synthesize_phrase(
    tts: TTS,
    text: str,
    language: str,
    voice: str | None,
    notes: list[str] | None = None,
    *,
    first_words: int = 0,
    speed: float = 1.0,
    pause_s: float | None = None,
) -> Iterator[SpeechAudio]:
    """Speak ``text`` (first clause apart); fallback notes of the pieces go to ``notes``.

    The silence before the first sound is dropped; the trailing silence of every piece is
    held back as it streams (audio is never delayed, only silence) and, when the piece ends,
    cut to a short pause (between the pieces of one phrase) or to ``pause_s`` (after the
    phrase; None: as the engine made it). ``speed``: faster than the voice's own rate.
    """
    parts = first_clause_apart(text, first_words=first_words, language=language)
    for n, part in enumerate(parts):
        final = n == len(parts) - 1
        keep = pause_s if final else _PAUSE_AT_CUT_S
        held: list[SpeechAudio] = []  # this piece's trailing silence so far
        pieces = iter(tts.synthesize(part, language, voice, speed=speed))
        for piece in without_lead_silence(pieces) if n == 0 else pieces:
            if piece.fallback and notes is not None:
                notes.append(piece.fallback)
            if keep is None:
                yield piece
                continue
            loud = np.flatnonzero(np.abs(piece.samples) > _QUIET)
            if loud.size == 0:
                held.append(piece)
                continue
            yield from held  # a silence inside the piece: keep it
            held.clear()
            end = int(loud[-1]) + 1
            yield replace(piece, samples=piece.samples[:end])
            if end < len(piece.samples):
                held.append(replace(piece, samples=piece.samples[end:], fallback=None))
        if held and keep is not None:
            rate = held[0].sample_rate
            pause = np.concatenate([h.samples for h in held])[: int(keep * rate)]
            if pause.size:
                yield SpeechAudio(pause, rate)
