"""One audience rule for both kinds of room (``rooms.audience``), checked without media.

One English speaker's pipeline events, given to a direct room (``Room.speaker_events``, the
participants of tests/test_routing.py behind its protocols) and to an SFU room
(``SfuRooms.speaker_events``, caption sockets of our own making): everyone gets what was
said (transcript, speaking, a phrase's error and notice), only the listeners of a language
get its translation and timing, and the speaker's own session problems go to the speaker
alone in a direct room and to the log in an SFU room. Every message names the speaker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import cast

import pytest

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.pipeline.events import (
    AudioShed,
    Caption,
    PhraseCommitted,
    PhraseTimed,
    PipelineEvent,
    RecognitionBehind,
    SpeechActivity,
    StageFailed,
    Translated,
    VoiceFallback,
)
from lingolive.pipeline.phrase import Marks
from lingolive.pipeline.workers import Workers
from lingolive.protocol import (
    ErrorMsg,
    NoticeMsg,
    ParticipantInfo,
    ServerMessage,
    SfuRoomInfo,
    SpeakerRef,
    TimingMsg,
    TranscriptMsg,
    TranslationMsg,
)
from lingolive.rooms.audience import EVERYONE, SPEAKER, Audience, audience, tagged
from lingolive.rooms.direct import Participant, Room
from lingolive.rooms.janus import SfuListener, SfuRoom, SfuRooms
from lingolive.rooms.janus_translator import RemoteSpeaker
from lingolive.wire_events import timing
from test_routing import CAN, Ears, Pipeline

#: Ana speaks; (who, what they hear). Ana listens too (her page's socket, in an SFU room).
HEARS = {"ana": "en", "bea": "es", "sol": "es", "lou": "en", "fay": "fr"}
SPOKEN = {"ana": "en", "bea": "es", "sol": "es", "lou": "en", "fay": "fr"}

#: Ana's pipeline says, in order:
EVENTS: list[PipelineEvent] = [
    SpeechActivity(True),
    Caption(1, "en", "Good morning", True, "Good morning"),
    PhraseCommitted(1, "Good morning", "en"),  # (no message)
    Translated(1, "es", "Buenos días", True),
    Translated(1, "fr", "Bonjour", True),
    PhraseTimed(1, "es", Marks(), 1.2),
    PhraseTimed(1, "fr", Marks(), 1.1),
    StageFailed("tts", "the voice failed", 1),
    VoiceFallback(1, "espeak-ng spoke instead"),
    RecognitionBehind(),
    AudioShed(0.5, "audio arrives faster than real time", True),
    StageFailed("stt", "recognition failed", None),
]
#: (type, lang or code) of what everyone gets, and what only the listeners of a language get.
SAID = [
    ("speaking", None),
    ("transcript", "en"),
    ("error", "engine_error"),
    ("notice", "tts_fallback"),
]
OWN = [("notice", "recognition_behind"), ("notice", "audio_dropped"), ("error", "engine_error")]


def summary(message: ServerMessage) -> tuple[str, str | None]:
    if isinstance(message, TranslationMsg | TimingMsg | TranscriptMsg):
        return message.type, message.lang
    if isinstance(message, ErrorMsg | NoticeMsg):
        return message.type, message.code
    return message.type, None


def expected(who: str) -> list[tuple[str, str | None]]:
    """What ``who`` gets of Ana's messages, in order (not her own session's problems)."""
    lang = HEARS[who]
    out = [("speaking", None), ("transcript", "en")]
    if lang != "en":
        out += [("translation", lang), ("timing", lang)]
    return [*out, ("error", "engine_error"), ("notice", "tts_fallback")]


def test_the_rule() -> None:
    ref = SpeakerRef(id="7", display_name="Ana")
    translation = TranslationMsg(segment_id=1, lang="es", text="Hola")
    assert audience(translation) == Audience(language="es")
    timed = timing(PhraseTimed(1, "fr", Marks(), 1.0))
    assert audience(timed) == Audience(language="fr")
    assert audience(timed.model_copy(update={"lang": None})) == EVERYONE  # (loopback's)
    assert audience(TranscriptMsg(segment_id=1, lang="en", text="Hi", final=True)) == EVERYONE
    assert audience(ErrorMsg(code="engine_error", message="x", segment_id=3)) == EVERYONE
    assert audience(NoticeMsg(code="audio_dropped", message="x")) == SPEAKER
    assert Audience(language="es").includes("es") and not Audience(language="es").includes("en")
    assert EVERYONE.includes("fr") and not SPEAKER.includes("en")
    assert cast(TranslationMsg, tagged(translation, ref)).speaker == ref
    assert translation.speaker is None  # a copy is tagged


async def test_a_direct_room_sends_each_message_to_its_audience() -> None:
    room = Room("r1", max_participants=8, capabilities=lambda: CAN)
    inbox: dict[str, list[ServerMessage]] = {}
    infos = {}
    for who, hears in HEARS.items():
        info = infos[who] = ParticipantInfo(
            id=who, display_name=who.title(), source_lang=SPOKEN[who], target_lang=hears
        )
        await room.join(Participant(info, Pipeline(), Ears(), inbox.setdefault(who, []).append))
    for messages in inbox.values():
        messages.clear()  # (joins, and the unsupported-pair warnings of the others)
    deliver = room.speaker_events(infos["ana"])
    for event in EVENTS:
        deliver(event)
    for who in HEARS:
        got = inbox[who]
        own = OWN if who == "ana" else []
        assert sorted(map(summary, got)) == sorted(expected(who) + own), who
        assert all(
            getattr(m, "speaker", None) == SpeakerRef(id="ana", display_name="Ana") for m in got
        )


@dataclass(eq=False)
class Socket:
    """A ``/ws`` caption socket listening to an SFU room (``rooms.janus.SfuListener``)."""

    inbox: list[ServerMessage] = field(default_factory=list)

    def emit(self, message: ServerMessage) -> None:
        self.inbox.append(message)

    async def end(self, code: str, message: str) -> None:
        raise AssertionError("not ended here")

    async def shutdown(self) -> None:
        raise AssertionError("not shut down here")


async def test_an_sfu_room_sends_each_message_to_its_audience(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rooms = SfuRooms(Settings(), cast(Engines, None), cast(Workers, None))
    room = SfuRoom("r1", 1, SfuRoomInfo(url="ws://127.0.0.1:8188", room=1))
    sockets = {who: Socket() for who in HEARS}
    for who, hears in HEARS.items():
        room.listeners.setdefault(hears, set()).add(cast(SfuListener, sockets[who]))
    deliver = rooms.speaker_events(room, RemoteSpeaker(7, "Ana [en]", "Ana", "en"))
    with caplog.at_level(logging.INFO, logger="lingolive.rooms.janus"):
        for event in EVENTS:
            deliver(event)
    for who, socket in sockets.items():
        assert sorted(map(summary, socket.inbox)) == sorted(expected(who)), who
        assert all(
            getattr(m, "speaker", None) == SpeakerRef(id="7", display_name="Ana")
            for m in socket.inbox
        )
    logged = [r.getMessage() for r in caplog.records]
    for text in ("merged into one", "faster than real time", "recognition failed"):
        assert any(text in line and line.startswith("room r1, Ana: ") for line in logged), logged
