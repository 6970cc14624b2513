"""Peer connections: ICE configuration, offer → answer, and trickled candidates.

aiortc gathers all its candidates before ``setLocalDescription`` returns (half-trickle), so
the answer we send is complete; the browser may still trickle its own candidates to us.
"""

from __future__ import annotations

import logging
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


def ice_server(url: str) -> RTCIceServer:
    """``stun:host:port`` or ``turn:user:pass@host:port[?transport=tcp]`` → RTCIceServer."""
    scheme, _, rest = url.partition(":")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user, _, password = creds.partition(":")
        return RTCIceServer(
            urls=f"{scheme}:{host}", username=unquote(user), credential=unquote(password)
        )
    return RTCIceServer(urls=url)


def browser_ice_server(url: str) -> dict[str, str]:
    """The same server in the shape the browser's RTCPeerConnection takes."""
    server = ice_server(url)
    out = {"urls": str(server.urls)}
    if server.username:
        out["username"] = server.username
    if server.credential:
        out["credential"] = str(server.credential)
    return out


def create_peer(ice_urls: list[str]) -> RTCPeerConnection:
    config = RTCConfiguration(iceServers=[ice_server(u) for u in ice_urls]) if ice_urls else None
    return RTCPeerConnection(configuration=config)


async def apply_offer(pc: RTCPeerConnection, sdp: str) -> None:
    """Set the remote offer; any failure to parse or apply it becomes ``BadSDP``."""
    if "m=audio" not in sdp:
        raise BadSDP("the offer has no audio media section (m=audio)")
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


async def add_candidate(
    pc: RTCPeerConnection, candidate: str | None, sdp_mid: str | None, index: int | None
) -> None:
    """Add one trickled browser candidate; ``None``/empty means end-of-candidates."""
    if not candidate:
        return
    text = candidate.removeprefix("candidate:")
    parsed = candidate_from_sdp(text)
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = index
    await pc.addIceCandidate(parsed)
