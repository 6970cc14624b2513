"""Every bad input gets a precise `error`; nothing crashes the server or other sessions."""

from __future__ import annotations

import json
import typing
from typing import Any

import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection

from conftest import Server
from lingolive.config import Settings
from lingolive.engines.piper_tts import bundled_voices
from lingolive.protocol import ErrorCode
from support.client import LoopbackClient, PacedFileTrack


async def real_offer_sdp() -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


async def ask(ws: Any, payload: str | bytes) -> dict[str, Any]:
    await ws.send(payload)
    reply: dict[str, Any] = json.loads(await ws.recv())
    return reply


@pytest.fixture
async def ws(server: Server):  # type: ignore[no-untyped-def]
    async with websockets.connect(server.ws_url, max_size=2**24) as sock:
        yield sock


@pytest.mark.parametrize(
    ("payload", "code", "hint"),
    [
        ("{not json", ErrorCode.BAD_JSON, "not valid JSON"),
        ("[1, 2, 3]", ErrorCode.BAD_MESSAGE, "JSON object"),
        ('"offer"', ErrorCode.BAD_MESSAGE, "JSON object"),
        ('{"type": "hello"}', ErrorCode.UNKNOWN_TYPE, "'hello'"),
        ('{"no_type": 1}', ErrorCode.UNKNOWN_TYPE, "None"),
        ('{"type": "offer"}', ErrorCode.BAD_MESSAGE, "sdp"),
        ('{"type": "offer", "sdp": 5}', ErrorCode.BAD_MESSAGE, "sdp"),
        ('{"type": "offer", "sdp": "v=0", "extra": 1}', ErrorCode.BAD_MESSAGE, "extra"),
        (
            '{"type": "offer", "sdp": "v=0", "source_lang": "english!"}',
            ErrorCode.BAD_MESSAGE,
            "source_lang",
        ),
        (
            '{"type": "candidate", "candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host"}',
            ErrorCode.NO_SESSION,
            "offer",
        ),
        ('{"type": "bye", "x": "\\ud800"}', ErrorCode.BAD_MESSAGE, "bye"),
        # Glossary limits: a term of at most 6 words, at most 8 translations.
        (
            '{"type": "offer", "sdp": "v=0", "glossary": ["a b c d e f g"]}',
            ErrorCode.BAD_MESSAGE,
            "at most 6 words",
        ),
        (
            '{"type": "offer", "sdp": "v=0", "glossary": [{"term": "x", "translations": '
            + json.dumps({f"l{i}": "y" for i in range(9)})
            + "}]}",
            ErrorCode.BAD_MESSAGE,
            "glossary",
        ),
        # A display name must show something: control and format characters are removed.
        (
            '{"type": "offer", "sdp": "v=0", "display_name": "\\u200b\\u202e\\u0007"}',
            ErrorCode.BAD_MESSAGE,
            "visible",
        ),
        # An integer past Python's 4300-digit conversion limit fails the parse itself.
        ('{"type": "bye", "x": ' + "9" * 5000 + "}", ErrorCode.BAD_JSON, "not valid JSON"),
    ],
)
async def test_bad_messages(ws: Any, payload: str, code: str, hint: str) -> None:
    reply = await ask(ws, payload)
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert hint in reply["message"], reply


@pytest.mark.parametrize(
    "sdp",
    [
        "garbage",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
        "v=0\r\nm=audio x y z\r\n",
    ],
)
async def test_bad_sdp(ws: Any, sdp: str) -> None:
    reply = await ask(ws, json.dumps({"type": "offer", "sdp": sdp}))
    assert reply["code"] == ErrorCode.BAD_SDP, reply


async def test_unsupported_pair_lists_pairs(ws: Any) -> None:
    sdp = await real_offer_sdp()
    reply = await ask(
        ws, json.dumps({"type": "offer", "sdp": sdp, "source_lang": "en", "target_lang": "de"})
    )
    assert reply["code"] == ErrorCode.UNSUPPORTED_PAIR, reply
    assert "en->de" in reply["message"] and "en->es" in reply["message"], reply


async def test_unknown_voice(ws: Any) -> None:
    sdp = await real_offer_sdp()
    reply = await ask(ws, json.dumps({"type": "offer", "sdp": sdp, "voice": "no-such-voice"}))
    assert reply["code"] == ErrorCode.UNKNOWN_VOICE, reply


async def test_a_client_names_voices_it_cannot_give_paths(ws: Any) -> None:
    """A path to a model file on the server, however spelled, is refused like any unknown
    name: the reply does not tell which files exist, and nothing is loaded."""
    joe = bundled_voices()["en_US-joe-medium"]
    sdp = await real_offer_sdp()
    for voice in (str(joe), f"{joe.parent}/../{joe.parent.name}/{joe.name}", "/etc/passwd"):
        offer = {"type": "offer", "sdp": sdp, "target_lang": "en", "source_lang": "es"}
        reply = await ask(ws, json.dumps({**offer, "voice": voice}))
        assert reply["code"] == ErrorCode.UNKNOWN_VOICE, reply
        assert "en_US-joe-medium" in reply["message"], reply  # it lists what can be chosen
    # By its name, the same voice is accepted.
    offer = {"type": "offer", "sdp": sdp, "target_lang": "en", "source_lang": "es"}
    reply = await ask(ws, json.dumps({**offer, "voice": "en_US-joe-medium"}))
    assert reply["type"] == "answer", reply
    await ws.send(json.dumps({"type": "bye"}))


async def test_oversized_message(ws: Any) -> None:
    reply = await ask(ws, json.dumps({"type": "offer", "sdp": "x" * 300_000}))
    assert reply["code"] == ErrorCode.TOO_LARGE, reply
    reply = await ask(ws, b"{" * 300_000)
    assert reply["code"] == ErrorCode.TOO_LARGE, reply


async def test_socket_survives_errors_then_works(ws: Any) -> None:
    for payload in ["{", '{"type": "nope"}', json.dumps({"type": "offer", "sdp": "garbage"})]:
        assert (await ask(ws, payload))["type"] == "error"
    # A live offering peer (ICE with a closed one fails at once, which ends the session).
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    reply = await ask(ws, json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
    assert reply["type"] == "answer" and reply["session_id"], reply
    ready = json.loads(await ws.recv())
    assert isinstance(ready.pop("worker"), int)
    assert ready == {
        "type": "ready",
        "session_id": reply["session_id"],
        "source_lang": "en",
        "target_lang": "es",
        "voice": None,
        "resume_token": None,  # only rooms have a seat to come back to
    }
    again = await ask(ws, json.dumps({"type": "offer", "sdp": await real_offer_sdp()}))
    assert again["code"] == ErrorCode.ALREADY_STARTED, again
    bad = await ask(ws, json.dumps({"type": "candidate", "candidate": "candidate:garbage"}))
    assert bad["code"] == ErrorCode.BAD_MESSAGE, bad
    await pc.close()


async def test_far_oversized_message_closes_only_that_socket(server: Server) -> None:
    """Beyond 4x the limit uvicorn closes the socket (1009); everyone else carries on."""
    other = LoopbackClient(server.ws_url)
    import numpy as np

    await other.connect(PacedFileTrack(np.zeros(48_000, np.int16)))
    try:
        async with websockets.connect(server.ws_url, max_size=2**24) as sock:
            await sock.send("x" * 2_000_000)
            with pytest.raises(websockets.ConnectionClosed):
                await sock.recv()
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.url}/ready")).status_code == 200
        assert other.pc is not None and other.pc.connectionState in ("connecting", "connected")
        async with websockets.connect(server.ws_url) as sock:
            reply = await ask(sock, '{"type": "hello"}')
            assert reply["code"] == ErrorCode.UNKNOWN_TYPE
    finally:
        await other.close()


async def test_candidates_are_bounded(ws: Any) -> None:
    """The server sends STUN to every candidate it is given: no multicast/broadcast/unspecified
    targets, and at most LL_MAX_CANDIDATES per session."""
    reply = await ask(ws, json.dumps({"type": "offer", "sdp": await real_offer_sdp()}))
    assert reply["type"] == "answer", reply
    assert json.loads(await ws.recv())["type"] == "ready"
    for address in ("224.0.0.251", "0.0.0.0", "255.255.255.255", "ff02::1"):
        line = f"candidate:1 1 udp 2122260223 {address} 50000 typ host"
        reply = await ask(ws, json.dumps({"type": "candidate", "candidate": line, "sdpMid": "0"}))
        assert reply["code"] == ErrorCode.BAD_MESSAGE and "unicast" in reply["message"], reply
    limit = Settings().max_candidates
    for port in range(50_000, 50_000 + limit - 4):  # the 4 refused above counted too
        line = f"candidate:{port} 1 udp 2122260223 192.0.2.1 {port} typ host"
        await ws.send(json.dumps({"type": "candidate", "candidate": line, "sdpMid": "0"}))
    line = "candidate:9 1 udp 2122260223 192.0.2.1 9 typ host"
    reply = await ask(ws, json.dumps({"type": "candidate", "candidate": line, "sdpMid": "0"}))
    assert reply["code"] == ErrorCode.BAD_MESSAGE and f"at most {limit}" in reply["message"]
    await ws.send(json.dumps({"type": "bye"}))


@pytest.mark.parametrize("extra", ["video", "audio"])
async def test_offer_with_more_than_one_audio_section_is_refused(ws: Any, extra: str) -> None:
    """A video section used to be accepted, and aiortc decoded its frames into a queue nobody
    read (+287 MiB in 20 s)."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver(extra, direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    reply = await ask(ws, json.dumps({"type": "offer", "sdp": sdp}))
    assert reply["code"] == ErrorCode.BAD_SDP and f"audio, {extra}" in reply["message"], reply


def test_display_names_lose_control_and_bidi_characters() -> None:
    from lingolive.protocol import CLIENT_MESSAGE

    offer = {"type": "offer", "sdp": "v=0", "display_name": "Ann\u202e lacigoL\u200b \n Bob"}
    assert CLIENT_MESSAGE.validate_python(offer).display_name == "Ann lacigoL Bob"  # type: ignore[union-attr]


def test_every_server_message_reads_back_as_what_was_sent() -> None:
    """``SERVER_MESSAGE`` (how a Python client reads the socket) picks the model by ``type``,
    for every message the server sends, the three participant events included."""
    from lingolive import protocol as p

    who = p.ParticipantInfo(id="a1", display_name="Ann", source_lang="en", target_lang="es")
    sent: list[p.ServerMessage] = [
        p.Answer(sdp="v=0", session_id="s1"),
        p.Ready(session_id="s1", source_lang="en", target_lang="es", voice=None),
        p.TranscriptMsg(segment_id=1, lang="en", text="Hi.", final=True, stable="Hi."),
        p.TranslationMsg(segment_id=1, lang="es", text="Hola."),
        p.TimingMsg(
            segment_id=1,
            speech_end_ms=1.0,
            stt_ms=None,
            mt_ms=2.0,
            tts_first_audio_ms=None,
            first_audio_out_ms=3.0,
            stages={"vad_end": 0.0},
        ),
        p.ErrorMsg(code=p.ErrorCode.BUSY, message="busy"),
        p.NoticeMsg(code=p.NoticeCode.TTS_FALLBACK, message="espeak", segment_id=2),
        p.SpeakingMsg(speaking=True, speaker=p.SpeakerRef(id="a1", display_name="Ann")),
        *(
            p.ParticipantEvent(type=kind, room="r", participant=who, participants=[who])
            for kind in ("participant_joined", "participant_left", "participant_updated")
        ),
        p.SfuReady(
            room="r", language="es", sfu=p.SfuRoomInfo(url="ws://j", room=7), feed_display="x"
        ),
    ]
    kinds = {
        kind
        for model in typing.get_args(p.ServerMessage)
        for kind in typing.get_args(model.model_fields["type"].annotation)
    }
    assert {m.type for m in sent} == kinds
    for message in sent:
        read = p.SERVER_MESSAGE.validate_json(message.model_dump_json())
        assert type(read) is type(message) and read == message
