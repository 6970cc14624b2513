"""A call: one participant's media, from the peer connection to the pipeline and back.

A ``Call`` owns everything media about one participant: the peer connection, the inbound
pump (microphone → pipeline), the speaker's pipeline, the outgoing track (what they hear),
the watchdog (limits and link stats), and the teardown of all of it. It knows nothing of
sockets or of the wire protocol: the signaling session hands it an offer and gets an
answer, hands it candidates, and learns from ``ended`` when and why the call is over
(``CallEnd``), which it then tells the client in its own words.

In a loopback call the pipeline speaks into this call's own track; in a room
(``loopback=False``) the room routes other speakers into the track and this speaker's
pipeline into other tracks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from enum import Enum

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from lingolive.config import Settings
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.metrics import Metrics
from lingolive.pipeline.events import EventSink
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.speaker_pipeline import SpeakerPipeline
from lingolive.pipeline.workers import Workers
from lingolive.rtc import inbound
from lingolive.rtc.inbound import VoiceSink
from lingolive.rtc.outbound import TrackStats, TranslatedAudioTrack
from lingolive.rtc.peer import (
    add_candidate,
    apply_offer,
    create_peer,
    make_answer,
    shorten_audio_jitter_buffers,
    turn_secret,
)
from lingolive.rtc.stats import LinkStats, read_link_stats

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0


class CallEnd(Enum):
    """Why a call ended by itself (the client's ``bye`` is the signaling's business)."""

    CONNECTION_FAILED = "connection_failed"  # ICE failed
    CONNECTION_CLOSED = "connection_closed"  # the peer connection closed
    CONNECT_TIMEOUT = "connect_timeout"  # media never started
    IDLE_TIMEOUT = "idle_timeout"  # the microphone stopped arriving
    EXPIRED = "expired"  # the longest call allowed


@dataclass(frozen=True)
class Ending:
    reason: CallEnd
    message: str


class CandidateRefused(ValueError):
    """A trickled ICE candidate that this call will not take."""


class Call:
    """The media of one participant."""

    def __init__(
        self,
        engines: Engines,
        workers: Workers,
        settings: Settings,
        metrics: Metrics,
        languages: Languages,
        *,
        events: EventSink,
        loopback: bool,
        glossary: Glossary | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self.track = TranslatedAudioTrack(max_backlog_s=settings.max_output_backlog_s)
        self.pipeline = SpeakerPipeline(
            engines,
            workers,
            settings.pipeline(),
            languages,
            events=events,
            output=self.track if loopback else None,
            glossary=glossary,
        )
        #: Listeners hearing this speaker's own voice (rooms); the pump reads it live.
        self.voice_sinks: list[VoiceSink] = []
        self.pc: RTCPeerConnection = create_peer(
            settings.ice_servers, turn_secret(settings.turn_secret, settings.turn_credential_ttl_s)
        )
        self.ended: asyncio.Future[Ending] = asyncio.get_running_loop().create_future()
        self._pump: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._candidates = 0
        self._closed = False
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    # -- negotiation ------------------------------------------------------------------------------

    async def answer(self, offer_sdp: str) -> str:
        """Apply the client's offer; the answer's SDP (``BadSDP`` if the offer is unusable)."""
        await apply_offer(self.pc, offer_sdp)
        shorten_audio_jitter_buffers(self.pc, self._settings.rtc_audio_prefetch)
        self.pc.addTrack(self.track)
        return await make_answer(self.pc)

    async def add_candidate(
        self, candidate: str | None, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        """A trickled candidate; ``CandidateRefused`` beyond the limit or if unusable."""
        if self.pc.iceConnectionState == "completed":
            return  # a path was chosen: late candidates change nothing (and cost checks)
        limit = self._settings.max_candidates
        if candidate:
            self._candidates += 1
            if self._candidates > limit:
                raise CandidateRefused(f"at most {limit} ICE candidates per session")
        try:
            await add_candidate(self.pc, candidate, sdp_mid, sdp_mline_index)
        except Exception as exc:
            raise CandidateRefused(f"bad ICE candidate: {exc}") from exc

    def start(self) -> None:
        """The answer is out: run the pipeline and watch the call."""
        self.pipeline.start()
        if self._watch is None:
            self._watch = asyncio.create_task(self._watch_loop(), name="call-watch")

    # -- what the participant asks of their call -----------------------------------------------

    def mute(self, muted: bool) -> None:
        """Muted: what still arrives from the microphone counts as silence."""
        self.pipeline.muted = muted

    def skip(self) -> None:
        """Drop the translated speech queued for this participant and not yet heard."""
        self.track.skip()

    def say(self, text: str, lang: str) -> None:
        """A typed phrase, translated and spoken like a spoken one."""
        self.pipeline.cascade.say(text, lang)

    async def listen(self, language: str, voice: str | None) -> None:
        """Loopback: hear ``language`` from the next phrase on (rooms re-route instead)."""
        await self.pipeline.cascade.listen(language, voice)

    # -- peer connection events -----------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._pump is None:
            self._pump = asyncio.create_task(
                inbound.pump(track, self.pipeline.feed, self.voice_sinks), name="call-pump"
            )

    async def _on_state(self) -> None:
        state = self.pc.connectionState
        log.info("peer connection %s", state)
        if state == "failed":
            self._end(CallEnd.CONNECTION_FAILED, "the media connection failed (ICE)")
        elif state == "closed":
            self._end(CallEnd.CONNECTION_CLOSED, "the media connection closed")

    def _end(self, reason: CallEnd, message: str) -> None:
        if not self.ended.done() and not self._closed:
            self.ended.set_result(Ending(reason, message))

    # -- the watchdog ---------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        """Once a second: the call's limits, and the numbers only polling can give."""
        settings = self._settings
        metrics = self._metrics
        started = time.monotonic()
        seen = TrackStats()
        lost = 0
        while not self.ended.done():
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = time.monotonic()
            stats = self.track.stats
            metrics.underruns.inc(stats.underruns - seen.underruns)
            metrics.late_frames.inc(stats.late_frames - seen.late_frames)
            metrics.dropped_segments.inc(stats.dropped_segments - seen.dropped_segments)
            seen = replace(stats)
            if self.pc.connectionState != "closed":
                try:
                    link = await asyncio.wait_for(read_link_stats(self.pc), WATCH_INTERVAL_S)
                except Exception:  # stats are best effort; the limits below must still run
                    log.exception("reading WebRTC stats")
                    link = LinkStats(None, None, lost)
                if link.rtt_s is not None:
                    metrics.rtt_seconds.observe(link.rtt_s)
                if link.jitter_s is not None:
                    metrics.jitter_seconds.observe(link.jitter_s)
                metrics.packets_lost.inc(max(0, link.packets_lost - lost))
                lost = max(lost, link.packets_lost)
            last_audio = self.pipeline.last_audio_at
            if now - started > settings.max_session_s:
                self._end(CallEnd.EXPIRED, f"sessions last at most {settings.max_session_s:.0f} s")
            elif last_audio is None and now - started > settings.connect_timeout_s:
                self._end(
                    CallEnd.CONNECT_TIMEOUT,
                    f"no audio arrived within {settings.connect_timeout_s:.0f} s "
                    "(did ICE complete?)",
                )
            elif last_audio is not None and now - last_audio > settings.idle_timeout_s:
                self._end(CallEnd.IDLE_TIMEOUT, f"no audio for {settings.idle_timeout_s:.0f} s")

    # -- teardown -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Release everything the call holds; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if not self.ended.done():
            self.ended.cancel()
        for task in (self._watch, self._pump):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._watch = self._pump = None
        await self.pipeline.close()
        self.track.stop()
        await self.pc.close()
