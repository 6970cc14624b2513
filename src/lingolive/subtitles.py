"""Subtitles of a translated recording: one cue per phrase, SRT or WebVTT, via pysubs2.

A cue spans the *source* phrase on the input's timeline, not the place its translated
speech got in the output WAV: whoever reads subtitles is watching the original video (or
listening to the original recording), so the translation must show while the person on
screen says it. The WAV is a different product, laid out to follow the speaker.

pysubs2 writes each format's timestamps (SRT ``00:01:02,500``, WebVTT ``00:01:02.500`` and
its ``WEBVTT`` header), numbers the cues and collapses blank lines inside a text (one would
end the cue early). What it leaves to us is the markup its model and the players read in a
text: braces open an override tag (``{\\an8}``) in pysubs2 and in SRT players, and WebVTT
takes ``<`` as a tag and ``&`` as an entity, so those are neutralized before writing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pysubs2

#: File extension → pysubs2 format name; the formats ``lingolive translate`` writes.
FORMATS = {".srt": "srt", ".vtt": "vtt"}

#: Reading speed a cue is kept on screen for, when the phrase was said faster than its
#: translation can be read (Netflix's guideline for adult viewers is 17 characters/s).
READ_CHARS_PER_S = 17.0
#: No cue shorter than this: a flash is not readable, however short the text.
MIN_CUE_S = 1.0


@dataclass(frozen=True)
class Cue:
    """A phrase's translation and where its source was said, in input seconds."""

    start_s: float
    end_s: float
    text: str


def subtitle_format(path: Path) -> str | None:
    """The pysubs2 format for ``path``'s extension, or None if we do not write it."""
    return FORMATS.get(path.suffix.lower())


def _escaped(text: str, fmt: str) -> str:
    text = " ".join(text.split()).replace("{", "(").replace("}", ")")
    return html.escape(text, quote=False) if fmt == "vtt" else text


def timed(cues: Sequence[Cue], duration_s: float) -> list[Cue]:
    """The cues in order, non-empty, each long enough to read, none past the next or the end.

    A cue is stretched to its reading time (``READ_CHARS_PER_S``, ``MIN_CUE_S``) but never
    into the next cue nor past the input's end, so cues stay in order and never overlap.
    """
    kept = sorted((c for c in cues if c.text.strip()), key=lambda c: c.start_s)
    out: list[Cue] = []
    for n, cue in enumerate(kept):
        start = min(max(cue.start_s, 0.0), duration_s)
        limit = kept[n + 1].start_s if n + 1 < len(kept) else duration_s
        wanted = max(cue.end_s, start + max(MIN_CUE_S, len(cue.text) / READ_CHARS_PER_S))
        out.append(Cue(start, max(start, min(wanted, limit, duration_s)), cue.text))
    return out


def write_subtitles(path: Path, cues: Sequence[Cue], duration_s: float) -> int:
    """Write ``cues`` (see ``timed``) to ``path`` as SRT or WebVTT, by its extension.

    Returns the number of cues written.
    """
    fmt = subtitle_format(path)
    if fmt is None:
        raise ValueError(f"{path}: subtitles are written as {' or '.join(FORMATS)}")
    subs = pysubs2.SSAFile()
    for cue in timed(cues, duration_s):
        event = pysubs2.SSAEvent(start=round(cue.start_s * 1000), end=round(cue.end_s * 1000))
        event.plaintext = _escaped(cue.text, fmt)
        subs.append(event)
    subs.save(str(path), format_=fmt, encoding="utf-8")
    return len(subs)
