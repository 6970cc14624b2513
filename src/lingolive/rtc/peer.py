"""Peer connections: ICE configuration, offer → answer, and trickled candidates.

aiortc gathers all its candidates before ``setLocalDescription`` returns (half-trickle), so
the answer we send is complete; the browser may still trickle its own candidates to us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass
from urllib.parse import unquote

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.jitterbuffer import JitterBuffer
from aiortc.sdp import candidate_from_sdp

log = logging.getLogger(__name__)


class BadSDP(ValueError):
    """The offer could not be applied."""


@dataclass(frozen=True)
class TurnSecret:
    """coturn's ``use-auth-secret``: credentials anyone can verify with the shared secret,
    valid until the time written in the user name (the TURN REST API). Handing these to a
    page gives it TURN for ``ttl_s``, not the server's long-term password."""

    secret: str
    ttl_s: float

    def credentials(self, now: float | None = None) -> tuple[str, str]:
        expires = int((time.time() if now is None else now) + self.ttl_s)
        user = f"{expires}:lingolive"
        digest = hmac.new(self.secret.encode(), user.encode(), hashlib.sha1).digest()
        return user, base64.b64encode(digest).decode("ascii")


def turn_secret(secret: str, ttl_s: float) -> TurnSecret | None:
    """``LL_TURN_SECRET`` / ``LL_TURN_CREDENTIAL_TTL_S``, if the operator set a secret."""
    return TurnSecret(secret, ttl_s) if secret else None


def ice_server(url: str, turn: TurnSecret | None = None) -> RTCIceServer:
    """``stun:host:port`` or ``turn:user:pass@host:port[?transport=tcp]`` → RTCIceServer.

    A ``turn:``/``turns:`` URL without a user gets fresh short-lived credentials from
    ``turn`` when the operator set ``LL_TURN_SECRET``.
    """
    scheme, _, rest = url.partition(":")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user, _, password = creds.partition(":")
        return RTCIceServer(
            urls=f"{scheme}:{host}", username=unquote(user), credential=unquote(password)
        )
    if turn is not None and scheme in ("turn", "turns"):
        user, password = turn.credentials()
        return RTCIceServer(urls=url, username=user, credential=password)
    return RTCIceServer(urls=url)


def browser_ice_server(url: str, turn: TurnSecret | None = None) -> dict[str, str]:
    """The same server in the shape the browser's RTCPeerConnection takes."""
    server = ice_server(url, turn)
    out = {"urls": str(server.urls)}
    if server.username:
        out["username"] = server.username
    if server.credential:
        out["credential"] = str(server.credential)
    return out


def long_term_turn_urls(urls: list[str]) -> list[str]:
    """TURN URLs with a password written in them: every visitor of the page receives it."""
    return [u for u in urls if u.partition(":")[0] in ("turn", "turns") and "@" in u]


def create_peer(ice_urls: list[str], turn: TurnSecret | None = None) -> RTCPeerConnection:
    servers = [ice_server(u, turn) for u in ice_urls]
    return RTCPeerConnection(
        configuration=RTCConfiguration(iceServers=servers) if servers else None
    )


async def apply_offer(pc: RTCPeerConnection, sdp: str) -> None:
    """Set the remote offer; any failure to parse or apply it becomes ``BadSDP``.

    The offer must carry exactly one audio section and nothing else: aiortc would accept a
    video section too and decode every frame into a queue nobody reads (hundreds of MB in
    seconds), and a second audio section would be a second microphone nobody listens to.
    """
    sections = [line.split()[0].removeprefix("m=") for line in sdp.splitlines() if line[:2] == "m="]
    if sections != ["audio"]:
        raise BadSDP(
            "the offer must have exactly one media section, audio (m=audio); it has "
            f"{', '.join(sections) or 'none'}"
        )
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    except Exception as exc:  # aiortc raises ValueError, KeyError, IndexError… on bad SDP
        raise BadSDP(f"{type(exc).__name__}: {exc}") from exc


def shorten_audio_jitter_buffers(pc: RTCPeerConnection, prefetch: int) -> None:
    """Make incoming audio reach the pipeline sooner.

    aiortc holds 4 frames (80 ms) of audio in each receiver's jitter buffer before decoding,
    to smooth playback. The server never plays what it receives, it only listens for the
    end of speech, so smoothing buys nothing there and each held frame is 20 ms added to
    every translation's latency. Packet order is kept whatever the prefetch. (aiortc has no
    public knob for this; the private attribute is replaced before any packet arrives.)
    """
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind == "audio" and hasattr(receiver, "_RTCRtpReceiver__jitter_buffer"):
            receiver._RTCRtpReceiver__jitter_buffer = JitterBuffer(capacity=16, prefetch=prefetch)


async def make_answer(pc: RTCPeerConnection) -> str:
    answer = await pc.createAnswer()
    await pc.setLocalDescription(answer)
    return str(pc.localDescription.sdp)


class BadCandidate(ValueError):
    """A candidate the server will not send connectivity checks to."""


def check_candidate_address(address: str) -> None:
    """The server sends STUN to every candidate it is given, so a client must not be able to
    aim it at a multicast group, a broadcast or the unspecified address. Host names (the
    browser's mDNS ``….local`` names) are resolved by aioice itself and pass."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return
    if ip.is_multicast or ip.is_unspecified or ip == ipaddress.ip_address("255.255.255.255"):
        raise BadCandidate(f"candidate address {address} is not a unicast host")


async def add_candidate(
    pc: RTCPeerConnection, candidate: str | None, sdp_mid: str | None, index: int | None
) -> None:
    """Add one trickled browser candidate; ``None``/empty means end-of-candidates."""
    if not candidate:
        return
    text = candidate.removeprefix("candidate:")
    parsed = candidate_from_sdp(text)
    check_candidate_address(parsed.ip)
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = index
    await pc.addIceCandidate(parsed)
