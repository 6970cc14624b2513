"""Hypothesis throws random JSON, SDP garbage and huge strings at `/ws`.

Every message gets an `error` reply (`message_too_large` past `LL_MAX_MESSAGE_BYTES`), except
a `bye` and a message over four times the limit, after which the socket is closed, and only
then. The server never crashes and keeps serving.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conftest import Server
from lingolive.config import Settings

LIMIT = Settings().max_message_bytes

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
sdp_garbage = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "v=0",
                "m=audio 9 UDP/TLS/RTP/SAVPF 111",
                "a=ice-ufrag:x",
                "a=fingerprint:sha-256 00",
                "c=IN IP4 0.0.0.0",
                "a=rtpmap:111",
                "m=video 0",
                "m=video 9 UDP/TLS/RTP/SAVPF 96",
                "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                "a=setup:actpass",
                "o=- 1 1 IN IP4 1.2.3.4",
            ]
        ),
        max_size=12,
    ).map("\r\n".join),
)
messages = st.one_of(
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["offer", "candidate", "bye", "answer", ""])},
        optional={
            "sdp": sdp_garbage,
            "source_lang": st.text(max_size=5),
            "target_lang": st.sampled_from(["es", "en", "xx", "auto"]),
            "candidate": st.text(max_size=80),
            "sdpMLineIndex": st.integers(-5, 100),
            "voice": st.text(max_size=20),
        },
    ).map(json.dumps),
    st.text(max_size=200),
    st.integers(200_000, 400_000).map(lambda n: json.dumps({"type": "offer", "sdp": "x" * n})),
    st.just(json.dumps({"type": "offer", "sdp": "x" * (4 * LIMIT + 1)})),
    # Integers past Python's 4300-digit limit: the parse itself fails.
    st.integers(4200, 6000).map(lambda n: '{"type": "bye", "x": ' + "9" * n + "}"),
    # Glossaries around their limits: 100 terms, 64 characters, 6 words, 8 translations.
    st.fixed_dictionaries(
        {
            "type": st.just("offer"),
            "sdp": st.just("v=0"),
            "glossary": st.lists(
                st.one_of(
                    st.lists(st.text("ab", min_size=1, max_size=11), min_size=1, max_size=7).map(
                        " ".join
                    ),
                    st.fixed_dictionaries(
                        {
                            "term": st.text(min_size=1, max_size=66),
                            "translations": st.dictionaries(
                                st.text(max_size=9), st.text(max_size=66), max_size=9
                            ),
                        }
                    ),
                ),
                max_size=101,
            ),
        }
    ).map(json.dumps),
)


def closes(message: str) -> bool:
    """The server must close the socket after this message (and after no other)."""
    if len(message.encode()) > 4 * LIMIT:
        return True
    try:
        data = json.loads(message)
    except ValueError:
        return False
    # A bye with unknown fields is not a valid bye: it is answered with bad_message.
    return data == {"type": "bye"}


class Socket:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None

    def send(self, message: str) -> dict[str, Any] | None:
        if self.ws is None:
            self.ws = connect(self.url, max_size=2**22, legacy=True)
        try:
            self.ws.send(message)
            reply: dict[str, Any] = json.loads(self.ws.recv(timeout=20))
            return reply
        except ConnectionClosed:
            self.ws = None
            return None


def test_fuzz_signaling(server: Server) -> None:
    sock = Socket(server.ws_url)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(messages)
    def check(message: str) -> None:
        reply = sock.send(message)
        if reply is None:
            assert closes(message), f"socket closed after {message[:120]!r}"
            return
        assert not closes(message), f"socket still open after {message[:120]!r}: {reply}"
        if reply["type"] == "answer":  # a valid offer slipped through: end that session
            assert sock.send('{"type": "bye"}') is None
            return
        assert reply["type"] == "error", reply
        assert reply["code"] and reply["message"]
        if len(message.encode()) > LIMIT:
            assert reply["code"] == "message_too_large", reply

    try:
        check()
    finally:
        if sock.ws is not None:
            sock.ws.close()
    assert httpx.get(f"{server.url}/ready").status_code == 200
    assert "Traceback" not in server.log()
