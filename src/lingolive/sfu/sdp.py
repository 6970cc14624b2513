"""Between aiortc's session descriptions and Janus's JSEP objects.

The Janus client (``janus_api``) speaks plain JSON and never loads the media stack; whoever
holds an aiortc peer connection (the translator, tests, benchmarks) converts here.
"""

from __future__ import annotations

from aiortc import RTCPeerConnection, RTCSessionDescription

from lingolive.sfu.janus_api import Jsep, jsep


def local_jsep(pc: RTCPeerConnection) -> Jsep:
    """The peer connection's local description, as Janus wants it in a request."""
    description = pc.localDescription
    return jsep("offer" if description.type == "offer" else "answer", description.sdp)


def description_of(message: Jsep) -> RTCSessionDescription:
    """A JSEP from Janus, as aiortc's remote description."""
    return RTCSessionDescription(sdp=message["sdp"], type=message["type"])
