"""What a participant asks of a running call, end to end over real WebRTC: hear another
language, mute, type a phrase, skip the backlog, a conversation on one device, and the
`speaking` events. Real engines, an aiortc client speaking shared files.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from conftest import DATA, Server, start_server, stop_server
from lingolive.protocol import (
    Bye,
    ErrorCode,
    Listen,
    Mute,
    ParticipantEvent,
    Say,
    Skip,
    SpeakingMsg,
    TimingMsg,
    TranslationMsg,
)
from support.client import RATE, LoopbackClient, PacedFileTrack, load_pcm48
from support.evaluation import normalize

SAY_LIMIT = 3


@pytest.fixture(scope="module")
def control_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("controls"),
        LL_MAX_SAY_PER_MINUTE=str(SAY_LIMIT),
        LL_MAX_SESSIONS="6",
        LL_REJOIN_GRACE_S="8",
    )
    yield srv
    stop_server(srv)
    assert "Traceback" not in srv.log(), srv.log()


def phrases(*parts: str | float) -> np.ndarray:
    """A fake microphone: shared files (their speech only) and seconds of silence, in order."""
    out: list[np.ndarray] = []
    for part in parts:
        if isinstance(part, float | int):
            out.append(np.zeros(int(part * RATE), np.int16))
        else:
            audio = load_pcm48(DATA / part)
            out.append(audio[int(0.8 * RATE) : len(audio) - int(0.8 * RATE)])
    return np.concatenate(out)


async def media_flowing(client: LoopbackClient) -> None:
    """Until the server's track reaches the client (it sends silence when idle)."""
    while not client.received.arrivals:  # noqa: ASYNC110 - filled by the client's reader
        await asyncio.sleep(0.05)


def translations(client: LoopbackClient) -> list[TranslationMsg]:
    return [e for e in client.of_type(TranslationMsg) if e.text]


async def test_listen_changes_the_language_of_the_next_phrase(control_server: Server) -> None:
    client = LoopbackClient(control_server.ws_url)
    mic = PacedFileTrack(phrases(1.0, "en_piper_02.wav", 7.0, "en_piper_06.wav", 4.0))
    try:
        await client.connect(mic, source_lang="en", target_lang="es")
        first = await client.wait_for(lambda e: e.type == "translation" and e.text, 20)
        assert first.lang == "es"
        await client.send(Listen(type="listen", target_lang="ca"))
        ready = await client.wait_for(lambda e: e.type == "ready" and e.target_lang == "ca", 10)
        assert ready.source_lang == "en"
        later = await client.wait_for(
            lambda e: (
                e.type == "translation" and e.text and client.arrival(e) > client.arrival(ready)
            ),
            30,
        )
        await client.wait_settled(20)
    finally:
        await client.close()
    assert later.lang == "ca", client.events
    heard, _ = client.said()
    assert "how much does this cost" in normalize(heard)
    # The switch is checked like an offer: a pair the server cannot serve is refused.
    assert later.segment_id in {e.segment_id for e in client.of_type(TimingMsg)}


async def test_listen_to_an_unsupported_language_is_refused(control_server: Server) -> None:
    client = LoopbackClient(control_server.ws_url)
    try:
        await client.connect(PacedFileTrack(phrases(10.0)), source_lang="en", target_lang="es")
        await client.send(Listen(type="listen", target_lang="fr"))  # en->fr: not installed
        error = await client.wait_for(lambda e: e.type == "error", 10)
        assert error.code == ErrorCode.UNSUPPORTED_PAIR and "en->es" in error.message
        await client.send(Listen(type="listen", target_lang="es", voice="/etc/passwd"))
        error = await client.wait_for(
            lambda e: e.type == "error" and e.code == ErrorCode.UNKNOWN_VOICE, 10
        )
        # Toggling mute in a loop (each one would be told to a whole room) is cut off.
        for i in range(30):
            await client.send(Mute(type="mute", muted=i % 2 == 0))
        await client.wait_for(
            lambda e: e.type == "error" and e.code == ErrorCode.TOO_MANY_REQUESTS, 10
        )
        await client.send(Bye(type="bye"))
    finally:
        await client.close()


async def test_mute_keeps_the_session_and_drops_what_is_said(control_server: Server) -> None:
    """Muted, the first phrase goes nowhere; unmuted, the second is translated. The
    `speaking` events follow the voice the server hears."""
    client = LoopbackClient(control_server.ws_url)
    mic = PacedFileTrack(phrases(2.0, "en_piper_02.wav", 4.0, "en_piper_08.wav", 4.0))
    try:
        await client.connect(mic, source_lang="en", target_lang="es")
        await client.send(Mute(type="mute", muted=True))
        await client.wait_for(lambda e: e.type == "ready", 10)
        while mic.started_at is None:  # noqa: ASYNC110 - the track sets it on its first frame
            await asyncio.sleep(0.05)
        # The first phrase plays (2 s of silence, ~2 s of speech), then silence: unmute there.
        await asyncio.sleep(mic.started_at + 5.5 - time.monotonic())
        assert not client.finals(), client.events
        await client.send(Mute(type="mute", muted=False))
        await client.wait_for(lambda e: e.type == "translation" and e.text, 25)
        await client.wait_settled(20)
    finally:
        await client.close()
    heard, translated = client.said()
    assert "where is the nearest train station" not in normalize(heard), heard
    assert "thank you very much" in normalize(heard), heard
    assert translated
    speaking = [e.speaking for e in client.of_type(SpeakingMsg)]
    assert speaking[:2] == [True, False], client.events  # the second phrase only
    assert all(e.speaker is None for e in client.of_type(SpeakingMsg))


async def test_typed_phrases_are_spoken_and_limited(control_server: Server) -> None:
    client = LoopbackClient(control_server.ws_url)
    try:
        await client.connect(PacedFileTrack(phrases(30.0)), source_lang="en", target_lang="es")
        await asyncio.wait_for(media_flowing(client), 20)
        await client.send(Say(type="say", text="Where is the pharmacy?"))
        translation = await client.wait_for(lambda e: e.type == "translation", 20)
        final = client.finals()[0]
        assert final.text == "Where is the pharmacy?" and final.lang == "en"
        assert translation.segment_id == final.segment_id
        assert "farmacia" in translation.text.lower(), translation
        await client.wait_for(lambda e: e.type == "timing", 20)  # its speech plays
        await asyncio.sleep(1.0)
        assert client.received.first_voiced_after(client.arrival(translation) - 1.0) is not None
        for _ in range(SAY_LIMIT):
            await client.send(Say(type="say", text="Thank you."))
        refused = await client.wait_for(lambda e: e.type == "error", 20)
        assert refused.code == ErrorCode.TOO_MANY_REQUESTS, client.events
        await client.send_raw(json.dumps({"type": "say", "text": "x" * 501}))  # too long
        await client.wait_for(lambda e: e.type == "error" and e.code == ErrorCode.BAD_MESSAGE, 10)
    finally:
        await client.close()


LONG = (
    "Good morning everyone and welcome to the meeting. Today we will talk about the plans "
    "for the next year, the budget of every team, the new office in the city centre, and "
    "the changes to the way we travel. Please keep your questions until the end, because "
    "there is a lot to say and we want to finish before lunch. Thank you for coming."
)


async def test_skip_drops_the_backlog(control_server: Server) -> None:
    client = LoopbackClient(control_server.ws_url)
    try:
        await client.connect(PacedFileTrack(phrases(60.0)), source_lang="en", target_lang="es")
        await asyncio.wait_for(media_flowing(client), 20)
        await client.send(Say(type="say", text=LONG))
        translation = await client.wait_for(lambda e: e.type == "translation", 30)
        assert len(translation.text.split()) > 40  # some 20 s of speech to skip
        await client.wait_for(lambda e: e.type == "timing", 30)  # it started playing
        await asyncio.sleep(1.5)
        assert any(v for _, v in client.received.voiced()[-20:]), "speech plays"
        await client.send(Skip(type="skip"))
        skipped_at = time.monotonic()
        await asyncio.sleep(4.0)
    finally:
        await client.close()
    after = [(t, v) for t, v in client.received.voiced() if t > skipped_at + 0.5]
    assert len(after) > 100, "the track kept running"
    assert not any(v for _, v in after), "speech went on after skip"


async def test_conversation_translates_each_phrase_into_the_other_language(
    control_server: Server,
) -> None:
    client = LoopbackClient(control_server.ws_url)
    mic = PacedFileTrack(phrases(1.0, "en_piper_02.wav", 4.0, "es_espeak_02.wav", 4.0))
    try:
        await client.connect(mic, source_lang="en", target_lang="es", extra={"conversation": True})
        await client.wait_for(lambda e: e.type == "translation" and e.lang == "en", 40)
        await client.wait_settled(20)
    finally:
        await client.close()
    finals = client.finals()
    by_segment = {e.segment_id: e for e in translations(client)}
    directions = [(f.lang, by_segment[f.segment_id].lang) for f in finals]
    assert directions == [("en", "es"), ("es", "en")], client.events
    assert "médico" in normalize(finals[1].text) or "medico" in normalize(finals[1].text)


async def test_in_a_room_listen_and_mute_reach_the_others(control_server: Server) -> None:
    async with httpx.AsyncClient() as http:
        room = (await http.post(f"{control_server.url}/rooms")).json()
    join = {"room": room["room"], "token": room["token"]}
    ana, ben = LoopbackClient(control_server.ws_url), LoopbackClient(control_server.ws_url)
    ana_mic = PacedFileTrack(phrases(3.0, "en_piper_02.wav", 8.0, "en_piper_06.wav", 6.0))
    try:
        await ben.connect(
            PacedFileTrack(phrases(40.0)),
            source_lang="es",
            target_lang="es",
            extra={**join, "display_name": "Ben"},
        )
        await ana.connect(
            ana_mic, source_lang="en", target_lang="es", extra={**join, "display_name": "Ana"}
        )
        first = await ben.wait_for(lambda e: e.type == "translation" and e.text, 30)
        assert first.lang == "es" and first.speaker.display_name == "Ana"
        await ben.send(Listen(type="listen", target_lang="ca"))
        updated = await ana.wait_for(lambda e: e.type == "participant_updated", 10)
        assert updated.participant.display_name == "Ben"
        assert updated.participant.target_lang == "ca"
        later = await ben.wait_for(
            lambda e: (
                e.type == "translation"
                and e.text
                and e.lang == "ca"
                and e.segment_id != first.segment_id
            ),
            30,
        )
        assert later.speaker.display_name == "Ana"
        await ana.send(Mute(type="mute", muted=True))
        muted = await ben.wait_for(
            lambda e: e.type == "participant_updated" and e.participant.muted, 10
        )
        assert muted.participant.display_name == "Ana"
    finally:
        await ana.close()
        await ben.close()
    speaking = [e for e in ben.of_type(SpeakingMsg) if e.speaker.display_name == "Ana"]
    assert [e.speaking for e in speaking][:2] == [True, False], ben.events


async def test_a_dropped_participant_comes_back_as_themselves(control_server: Server) -> None:
    """A lost connection is not a leave: rejoining with the resume token within
    LL_REJOIN_GRACE_S brings back the same participant, and the others see nothing."""
    async with httpx.AsyncClient() as http:
        room = (await http.post(f"{control_server.url}/rooms")).json()
    join = {"room": room["room"], "token": room["token"]}
    ana = LoopbackClient(control_server.ws_url)
    ben = LoopbackClient(control_server.ws_url)
    ana_mic = PacedFileTrack(phrases(3.0, "en_piper_02.wav", 9.0, "en_piper_06.wav", 8.0))
    try:
        await ben.connect(
            PacedFileTrack(phrases(60.0)),
            source_lang="es",
            target_lang="es",
            extra={**join, "display_name": "Ben"},
        )
        ready = await ben.wait_for(lambda e: e.type == "ready", 10)
        await ana.connect(
            ana_mic, source_lang="en", target_lang="es", extra={**join, "display_name": "Ana"}
        )
        first = await ben.wait_for(lambda e: e.type == "translation" and e.text, 30)
        await ben.close(bye=False)  # the network drops
        back = LoopbackClient(control_server.ws_url)
        await back.connect(
            PacedFileTrack(phrases(60.0)),
            source_lang="es",
            target_lang="es",
            extra={**join, "display_name": "Ben", "resume_token": ready.resume_token},
        )
        try:
            assert back.session_id == ben.session_id  # the same participant
            later = await back.wait_for(
                lambda e: e.type == "translation" and e.text and e.segment_id != first.segment_id,
                30,
            )
            assert later.speaker.display_name == "Ana" and later.lang == "es"
            joined = [e for e in back.of_type(ParticipantEvent) if e.type == "participant_joined"]
            assert {p.display_name for p in joined[0].participants} == {"Ana", "Ben"}
        finally:
            await back.close()  # a bye: now Ben leaves for real
        left = await ana.wait_for(lambda e: e.type == "participant_left", 10)
        assert left.participant.id == ben.session_id
    finally:
        await ana.close()
    noise = [
        e
        for e in ana.of_type(ParticipantEvent)
        if e.type in ("participant_joined", "participant_left")
        and e.participant.display_name == "Ben"
    ]
    assert [e.type for e in noise] == ["participant_left"], noise  # no leave/join blip


async def test_a_resume_token_is_bound_to_its_room(control_server: Server) -> None:
    async with httpx.AsyncClient() as http:
        one = (await http.post(f"{control_server.url}/rooms")).json()
        two = (await http.post(f"{control_server.url}/rooms")).json()
    client = LoopbackClient(control_server.ws_url)
    try:
        await client.connect(
            PacedFileTrack(phrases(20.0)),
            source_lang="en",
            target_lang="es",
            extra={"room": one["room"], "token": one["token"]},
        )
        token = (await client.wait_for(lambda e: e.type == "ready", 10)).resume_token
    finally:
        await client.close()
    other = LoopbackClient(control_server.ws_url)
    try:
        with pytest.raises(RuntimeError, match="bad_token"):
            await other.connect(
                PacedFileTrack(phrases(5.0)),
                source_lang="en",
                target_lang="es",
                extra={"room": two["room"], "token": two["token"], "resume_token": token},
            )
    finally:
        await other.close()
