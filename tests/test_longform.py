"""Long speech, live: a speaker who does not stop loses no word, and is followed closely.

Two files of the long set (``tests/data/long``, ``bench/make_longform.py``) are spoken to a
live server in real time, over WebRTC, two at a time (the suite's time): a fluent Piper
lecture whose sentences are 250 ms apart (one utterance of 40 s: it is cut at
``LL_MAX_UTTERANCE_S``) and a human reading of a run-on paragraph. Every word of the exact
text must reach a final transcript: at most ``MAX_LOST`` of the words deleted in the WER
alignment, and never ``MAX_RUN`` in a row (a lost sentence, or words lost at a commit's
cut). And it is interpreted: translated speech is heard while the speaker still talks,
segment after segment, not after they stop (how closely is ``bench/longform.py``'s to say:
a test times nothing).

Both speakers share the machine's two cores, so both are behind more than alone; the
numbers of one speaker alone are ``bench/longform.py``'s (docs/benchmarks.md, "Long speech").
"""

from __future__ import annotations

from conftest import Server, in_lanes
from support.longform import entries, speak

FILES = ["en_piper_lecture.flac", "en_human_two_cities.flac"]
#: Words of the exact text that may be missing from the final transcripts (misheard words
#: are substitutions and do not count), and the longest run of them.
MAX_LOST = 0.02
MAX_RUN = 3


async def test_long_speech_loses_no_word_and_is_followed_closely(server: Server) -> None:
    chosen = [e for e in entries() if e["file"] in FILES]
    assert len(chosen) == len(FILES)
    results = await in_lanes(chosen, 2, lambda e: speak(server.ws_url, e, tail_s=1.0))
    for result in results:
        name = result["file"]
        assert result["errors"] == [], (name, result["errors"])
        assert result["words_lost"] <= MAX_LOST, (name, result["words_lost"], result["transcript"])
        assert result["longest_lost_run"] < MAX_RUN, (name, result["transcript"])
        # interpreted while the speaker goes on: several segments, heard before the end
        assert result["segments"] >= 4, (name, result["segment_texts"])
        assert result["heard_before_end"], name
