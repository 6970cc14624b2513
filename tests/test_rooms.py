"""Rooms over real WebRTC: 1:1 calls, multi-party fan-out, churn, tokens, limits."""

from __future__ import annotations

import asyncio
import json
import random
import string
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from conftest import DATA, Server, start_server, stop_server
from lingolive.protocol import (
    MAX_TERM_WORDS,
    MAX_TOKEN_CHARS,
    ErrorCode,
    ParticipantEvent,
    TimingMsg,
    TranscriptMsg,
    TranslationMsg,
)
from lingolive.rooms import tokens
from support.client import RATE, LoopbackClient, PacedFileTrack, load_pcm48
from test_operations import metric

SECRET = "room-test-secret"
PREVIOUS = "the-key-before"  # rotated out: invites it signed stay valid until they expire


@pytest.fixture(scope="module")
def room_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The room keys come from files (as container secrets or systemd credentials do)."""
    folder = tmp_path_factory.mktemp("secrets")
    (folder / "LL_ROOM_SECRET").write_text(SECRET + "\n")
    (folder / "LL_ROOM_SECRET_PREVIOUS").write_text(PREVIOUS + "\n")
    srv = start_server(
        tmp_path_factory.mktemp("rooms"),
        LL_SECRETS_DIR=str(folder),
        LL_ROOM_MAX_PARTICIPANTS="4",
        LL_MAX_SESSIONS="12",
        LL_REJOIN_GRACE_S="2",
    )
    yield srv
    stop_server(srv)
    assert "Traceback" not in srv.log(), srv.log()


async def new_room(server: Server) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/rooms")
    assert response.status_code == 200
    room: dict[str, Any] = response.json()
    assert room["invite_url"].startswith(server.url) and room["token"] in room["invite_url"]
    return room


def speech(name: str, start: float, end: float, lead_s: float, total_s: float) -> np.ndarray:
    """``lead_s`` of silence, the phrase from ``name``, then silence up to ``total_s``."""
    phrase = load_pcm48(DATA / name)[int(start * RATE) : int(end * RATE)]
    out = np.zeros(int(total_s * RATE), np.int16)
    at = int(lead_s * RATE)
    out[at : at + len(phrase)] = phrase
    return out


def silent(total_s: float = 60.0) -> np.ndarray:
    return np.zeros(int(total_s * RATE), np.int16)


async def join(
    server: Server, room: dict[str, Any], pcm: np.ndarray, source: str, target: str, name: str
) -> tuple[LoopbackClient, PacedFileTrack]:
    client = LoopbackClient(server.ws_url)
    track = PacedFileTrack(pcm)
    await client.connect(
        track,
        source_lang=source,
        target_lang=target,
        extra={"room": room["room"], "token": room["token"], "display_name": name},
    )
    return client, track


def loud_between(client: LoopbackClient, t0: float, start: float, end: float) -> float:
    """Seconds of non-silent received audio between t0+start and t0+end."""
    return 0.02 * sum(
        1 for t, loud in client.received.voiced() if loud and t0 + start <= t < t0 + end
    )


async def test_one_to_one_call(room_server: Server) -> None:
    """English and Spanish speakers: each hears the other translated, never themselves."""
    room = await new_room(room_server)
    ana, ana_mic = await join(
        room_server, room, speech("en_piper_01.wav", 0.9, 4.2, 1.0, 20.0), "en", "en", "Ana"
    )
    bea, bea_mic = await join(
        room_server, room, speech("es_espeak_08.wav", 0.9, 3.0, 11.0, 20.0), "es", "es", "Bea"
    )
    try:
        await bea.wait_for(lambda e: e.type == "translation", 20)
        await ana.wait_for(lambda e: e.type == "translation" and e.lang == "en", 25)
        await asyncio.sleep(4)
    finally:
        await ana.close()
        await bea.close()
    assert ana_mic.started_at is not None and bea_mic.started_at is not None
    joined = [e for e in ana.of_type(ParticipantEvent) if e.type == "participant_joined"]
    assert {p.display_name for p in joined[-1].participants} == {"Ana", "Bea"}
    # Bea heard Ana in Spanish, captioned with Ana's name.
    to_bea = [e for e in bea.of_type(TranslationMsg) if e.speaker.display_name == "Ana"]
    assert to_bea and to_bea[0].lang == "es" and "mesa" in to_bea[0].text
    heard_ana = [e for e in bea.of_type(TranscriptMsg) if e.final and e.speaker]
    assert heard_ana and heard_ana[0].speaker.display_name == "Ana"
    # Ana heard Bea in English.
    to_ana = [
        e for e in ana.of_type(TranslationMsg) if e.speaker.display_name == "Bea" and e.lang == "en"
    ]
    assert to_ana and "thank" in to_ana[0].text.lower(), to_ana
    # Translations and their timings go only to the listeners of their language (Bea never
    # gets her own phrases in English, nor Ana hers in Spanish); what was said goes to all.
    assert {e.lang for e in bea.of_type(TranslationMsg)} == {"es"}
    assert {e.lang for e in ana.of_type(TranslationMsg)} == {"en"}
    assert all(e.lang == "es" for e in bea.of_type(TimingMsg))
    assert all(e.lang == "en" for e in ana.of_type(TimingMsg))
    said_to_ana = {
        e.speaker.display_name for e in ana.of_type(TranscriptMsg) if e.final and e.speaker
    }
    assert said_to_ana == {"Ana", "Bea"}, said_to_ana
    # Audio: Bea got Ana's translation; Ana got nothing while only she spoke (no echo of
    # her own voice or of her own translation), then Bea's translation.
    t_ana, t_bea = ana_mic.started_at, bea_mic.started_at
    assert loud_between(bea, t_ana, 4.0, 11.0) > 1.0
    assert loud_between(ana, t_ana, 0.0, 10.5) == 0.0
    assert loud_between(ana, t_bea, 12.0, 20.0) > 0.5


async def test_fan_out_runs_once_per_language(room_server: Server) -> None:
    """One English speaker, two Spanish listeners, one Catalan: STT once, MT once per language."""
    room = await new_room(room_server)
    async with httpx.AsyncClient() as http:
        before = (await http.get(f"{room_server.url}/metrics")).text
    speaker, _ = await join(
        room_server, room, speech("en_piper_05.wav", 0.9, 3.3, 2.0, 30.0), "en", "en", "Eve"
    )
    listeners = [
        (await join(room_server, room, silent(), lang, lang, name))[0]
        for lang, name in (("es", "Sol"), ("es", "Luz"), ("ca", "Pau"))
    ]
    try:
        for client in listeners:
            await client.wait_for(lambda e: e.type == "timing", 30)
        await asyncio.sleep(3)
    finally:
        for client in [speaker, *listeners]:
            await client.close()
    async with httpx.AsyncClient() as http:
        after = (await http.get(f"{room_server.url}/metrics")).text

    def delta(name: str) -> float:
        return metric(after, name) - metric(before, name)

    recognized = delta("lingolive_recognized_segments_total")
    assert recognized >= 1
    assert delta('lingolive_translations_total{target="es"}') == recognized
    assert delta('lingolive_translations_total{target="ca"}') == recognized
    assert delta('lingolive_syntheses_total{target="es"}') == recognized
    for client, lang in zip(listeners, ("es", "es", "ca"), strict=True):
        said = [e for e in client.of_type(TranslationMsg) if e.lang == lang]
        assert said and said[0].speaker.display_name == "Eve"
        assert sum(loud for _, loud in client.received.voiced()) * 0.02 > 1.0
        # Only their own language's translations and timings; Eve's words as she said them.
        assert {e.lang for e in client.of_type(TranslationMsg)} == {lang}
        assert {e.lang for e in client.of_type(TimingMsg)} == {lang}
        heard = [e for e in client.of_type(TranscriptMsg) if e.final]
        assert heard and {e.speaker.display_name for e in heard if e.speaker} == {"Eve"}
        assert all(e.speaker for e in heard)
    # Eve hears English, which nothing of hers is translated into: her own words, no
    # translations.
    mine = speaker.of_type(TranscriptMsg)
    assert mine and all(e.speaker and e.speaker.display_name == "Eve" for e in mine)
    assert speaker.of_type(TranslationMsg) == [] and speaker.of_type(TimingMsg) == []


async def test_joining_and_leaving_mid_speech(room_server: Server) -> None:
    room = await new_room(room_server)
    speaker, _ = await join(
        room_server, room, load_pcm48(DATA / "en_piper_dialogue.wav"), "en", "en", "Max"
    )
    stays, _ = await join(room_server, room, silent(), "es", "es", "Stay")
    leaves, _ = await join(room_server, room, silent(), "es", "es", "Leave")
    try:
        await leaves.wait_for(lambda e: e.type == "translation", 30)
        await leaves.close(bye=False)  # vanishes mid-dialogue (gone for good after 2 s)
        late, _ = await join(room_server, room, silent(), "ca", "ca", "Late")
        try:
            await late.wait_for(lambda e: e.type == "translation" and e.lang == "ca", 30)
            left = await stays.wait_for(lambda e: e.type == "participant_left", 10)
            assert left.participant.display_name == "Leave"
            count_before = len(stays.of_type(TranslationMsg))
            await asyncio.sleep(8)
            # The remaining listener keeps getting the speaker's translations.
            assert len(stays.of_type(TranslationMsg)) > count_before
            assert sum(loud for _, loud in late.received.voiced()) * 0.02 > 0.5
        finally:
            await late.close()
    finally:
        await speaker.close()
        await stays.close()


async def room_error(server: Server, message: dict[str, Any]) -> dict[str, Any]:
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    async with websockets.connect(server.ws_url) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "offer",
                    "sdp": pc.localDescription.sdp,
                    "source_lang": "en",
                    "target_lang": "es",
                    **message,
                }
            )
        )
        reply: dict[str, Any] = json.loads(await ws.recv())
    await pc.close()
    return reply


async def test_last_seats_are_not_oversold(room_server: Server) -> None:
    """Offers racing for the last seats: a seat is held from admission to join, so exactly
    as many get in as there are seats, and the rest hear ``room_full``."""
    from aiortc import RTCPeerConnection

    room = await new_room(room_server)
    members = [(await join(room_server, room, silent(), "en", "es", f"P{i}"))[0] for i in range(2)]
    peers: list[RTCPeerConnection] = []
    sockets: list[Any] = []

    async def offer() -> dict[str, Any]:
        pc = RTCPeerConnection()
        peers.append(pc)
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        ws = await websockets.connect(room_server.ws_url)
        sockets.append(ws)
        message = {"type": "offer", "sdp": pc.localDescription.sdp}
        message.update(room=room["room"], token=room["token"])
        await ws.send(json.dumps(message))
        reply: dict[str, Any] = json.loads(await ws.recv())
        return reply

    try:
        replies = await asyncio.gather(*(offer() for _ in range(4)))
        kinds = sorted(r["type"] if r["type"] == "answer" else r["code"] for r in replies)
        assert kinds == ["answer", "answer", ErrorCode.ROOM_FULL, ErrorCode.ROOM_FULL], replies
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient() as http:
            info = (await http.get(f"{room_server.url}/api/rooms/{room['room']}")).json()
        assert info["participants"] == 4, info
    finally:
        for ws in sockets:
            await ws.close()
        for pc in peers:
            await pc.close()
        for client in members:
            await client.close()


async def test_tokens_are_checked(room_server: Server) -> None:
    room = await new_room(room_server)
    other = await new_room(room_server)
    expired, _ = tokens.issue(SECRET.encode(), room["room"], ttl_s=-5)
    forged, _ = tokens.issue(b"not-the-secret", room["room"], ttl_s=60)
    rotated, _ = tokens.issue(PREVIOUS.encode(), room["room"], ttl_s=60)
    rotated_expired, _ = tokens.issue(PREVIOUS.encode(), room["room"], ttl_s=-5)
    cases = [
        ({"room": room["room"], "token": rotated_expired}, ErrorCode.TOKEN_EXPIRED),
        ({"room": room["room"]}, ErrorCode.BAD_TOKEN),
        ({"room": room["room"], "token": "garbage"}, ErrorCode.BAD_TOKEN),
        ({"room": room["room"], "token": forged}, ErrorCode.BAD_TOKEN),
        ({"room": room["room"], "token": other["token"]}, ErrorCode.BAD_TOKEN),
        ({"room": room["room"], "token": expired}, ErrorCode.TOKEN_EXPIRED),
    ]
    for message, code in cases:
        reply = await room_error(room_server, message)
        assert reply["type"] == "error" and reply["code"] == code, (message, reply)
    async with httpx.AsyncClient() as http:
        info = (await http.get(f"{room_server.url}/api/rooms/{room['room']}")).json()
    assert info["participants"] == 0  # nobody got in
    # The room key was rotated: an invite signed with the previous one still lets in.
    reply = await room_error(room_server, {"room": room["room"], "token": rotated})
    assert reply["type"] == "answer", reply


def largest_glossary() -> list[dict[str, Any]]:
    """A glossary at every limit of the offer, in random letters that do not compress."""
    rng = random.Random(11)
    letters = string.ascii_letters + string.digits

    def text(chars: int) -> str:
        return "".join(rng.choice(letters) for _ in range(chars))

    return [
        {
            "term": " ".join(text(9) for _ in range(MAX_TERM_WORDS)),  # 59 characters
            "translations": {f"l{i}": text(64) for i in range(8)},
        }
        for _ in range(100)
    ]


async def test_room_with_the_largest_glossary_is_joinable(room_server: Server) -> None:
    """The token carries the glossary; an offer must accept the largest one allowed (a
    60-term glossary used to make every join a bad_message: the token was capped at 1 kB)."""
    async with httpx.AsyncClient() as http:
        made = await http.post(f"{room_server.url}/rooms", json={"glossary": largest_glossary()})
    assert made.status_code == 200, made.text
    room = made.json()
    assert len(room["token"]) <= MAX_TOKEN_CHARS, len(room["token"])
    assert f"#token={room['token']}" in room["invite_url"]  # not in the query: never logged
    client, _ = await join(room_server, room, silent(5), "en", "es", "Max")
    try:
        ready = await client.wait_for(lambda e: e.type == "ready", 10)
        assert ready.type == "ready"
    finally:
        await client.close()
    # Long text in 4-byte characters in every field fits the body limit but not a token:
    # refused when the room is made, not at every join.
    rng = random.Random(5)
    wide = [
        {
            "term": "".join(chr(rng.randrange(0x20000, 0x2A6DF)) for _ in range(60)),
            "translations": {
                f"l{i}": "".join(chr(rng.randrange(0x20000, 0x2A6DF)) for _ in range(64))
                for i in range(8)
            },
        }
        for _ in range(100)
    ]
    body = json.dumps({"glossary": wide}, ensure_ascii=False).encode()
    async with httpx.AsyncClient() as http:
        refused = await http.post(f"{room_server.url}/rooms", content=body)
    assert refused.status_code == 422 and "at most 131072" in refused.text, refused.text


async def test_room_full(room_server: Server) -> None:
    room = await new_room(room_server)
    members = [(await join(room_server, room, silent(), "en", "es", f"P{i}"))[0] for i in range(4)]
    try:
        reply = await room_error(room_server, {"room": room["room"], "token": room["token"]})
        assert reply["code"] == ErrorCode.ROOM_FULL, reply
    finally:
        for client in members:
            await client.close()


def test_rotated_keys_verify_invites_and_seats_until_they_expire() -> None:
    old, new = b"the-key-before", b"the-key-now"
    keys = tokens.RoomKeys(new, previous=old)
    invite, _ = tokens.issue(old, "r1", 60, now=1000)
    assert tokens.verify(keys, invite, "r1", now=1030).room == "r1"
    with pytest.raises(tokens.TokenError, match="not issued by this server"):
        tokens.verify(tokens.RoomKeys(new), invite, "r1", now=1030)  # the old key dropped
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(keys, invite, "r1", now=1061)
    seat = tokens.issue_seat(old, "r1", "ana", 60, now=1000)
    assert tokens.verify_seat(keys, seat, "r1", now=1030) == "ana"
    fresh, _ = tokens.issue(keys, "r1", 60, now=1000)
    assert tokens.verify(new, fresh, "r1", now=1030).room == "r1"  # signed with the new key
