"""The few WebRTC numbers an operator needs, read from aiortc's ``getStats()``."""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import RTCPeerConnection
from aiortc.stats import RTCInboundRtpStreamStats, RTCRemoteInboundRtpStreamStats

#: Opus RTP clock: jitter is reported in these units.
RTP_RATE = 48_000


@dataclass(frozen=True)
class LinkStats:
    rtt_s: float | None  # from the client's RTCP receiver reports on our outgoing audio
    jitter_s: float | None  # of the client's incoming audio
    packets_lost: int  # incoming packets lost so far (cumulative)


async def read_link_stats(pc: RTCPeerConnection) -> LinkStats:
    report = await pc.getStats()
    rtt: float | None = None
    jitter: float | None = None
    lost = 0
    for stats in report.values():
        if isinstance(stats, RTCRemoteInboundRtpStreamStats) and stats.kind == "audio":
            # None until a receiver report references one of our sender reports.
            if stats.roundTripTime is not None:
                rtt = float(stats.roundTripTime)
        elif isinstance(stats, RTCInboundRtpStreamStats) and stats.kind == "audio":
            jitter = stats.jitter / RTP_RATE
            lost += max(0, int(stats.packetsLost))
    return LinkStats(rtt, jitter, lost)
