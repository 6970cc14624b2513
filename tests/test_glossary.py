"""Glossary: a rare name is recognized as spelled in the glossary and kept in translation."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from conftest import Server
from lingolive.engines.registry import Engines
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.synthesis import resampled
from lingolive.protocol import TranscriptMsg, TranslationMsg
from support.client import RATE, LoopbackClient, PacedFileTrack

SENTENCE = "My colleague Xochitl will join the meeting tomorrow."


def test_correct_and_protect() -> None:
    glossary = Glossary.parse(
        ["Xochitl", {"term": "Acme Cloud", "translations": {"es": "Nube Acme"}}]
    )
    assert glossary is not None
    assert (
        glossary.correct("My colleague, Zochitl, will join.") == "My colleague, Xochitl, will join."
    )
    assert glossary.correct("I went there and a friend came.") == "I went there and a friend came."
    text, restore = glossary.protect("Xochitl uses Acme Cloud daily.", "es")
    assert "Xochitl" not in text and "Acme" not in text
    assert restore(text.replace("uses", "usa").replace("daily", "a diario")) == (
        "Xochitl usa Nube Acme a diario."
    )
    assert Glossary.parse([]) is None


def test_renderings_are_literal_text() -> None:
    """A backslash or group reference in a term or its translation is text, not a regex
    template: it used to raise `re.error: bad escape` and fail the phrase."""
    glossary = Glossary.parse(
        ["AC\\DC", {"term": "Blink", "translations": {"es": "B\\1nk \\g<0>"}}]
    )
    assert glossary is not None
    text, restore = glossary.protect("I like AC\\DC and Blink.", "es")
    assert restore(text) == "I like AC\\DC and B\\1nk \\g<0>."


async def say(server: Server, pcm: np.ndarray, glossary: list[Any] | None) -> LoopbackClient:
    client = LoopbackClient(server.ws_url)
    extra = {"glossary": glossary} if glossary else None
    await client.connect(PacedFileTrack(pcm), source_lang="en", target_lang="es", extra=extra)
    try:
        await client.wait_for(lambda e: e.type == "translation", 30)
        await asyncio.sleep(0.5)
    finally:
        await client.close()
    return client


async def test_rare_name_in_a_live_session(server: Server, engines: Engines) -> None:
    speech = np.concatenate(list(resampled(engines.tts.synthesize(SENTENCE, "en"))))
    pcm = np.concatenate([np.zeros(RATE, np.int16), speech, np.zeros(2 * RATE, np.int16)])
    plain = await say(server, pcm, None)
    named = await say(server, pcm, ["Xochitl"])

    def final(client: LoopbackClient) -> str:
        return " ".join(e.text for e in client.of_type(TranscriptMsg) if e.final)

    def translated(client: LoopbackClient) -> str:
        return " ".join(e.text for e in client.of_type(TranslationMsg))

    assert "Xochitl" not in final(plain), final(plain)  # the test is meaningful
    assert "Xochitl" in final(named), final(named)
    assert "Xochitl" in translated(named), translated(named)
    assert "colega" in translated(named)
