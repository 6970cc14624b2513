"""LingoLive as the translating participant of a Janus VideoRoom room.

In SFU mode the people of a meeting talk to Janus, not to LingoLive: Janus forwards every
voice to everyone, and LingoLive joins the room like one more participant that listens to
every speaker and speaks their translations. ``JanusTranslator`` is that participant:

- **One publisher-type handle that never publishes** (display ``"LingoLive"``): only
  publisher-type handles are told who publishes, unpublishes and leaves (room events never
  reach subscriber handles), so this is how the node learns the room's speakers.
- **One multistream subscription** (``Subscriber``) receiving the audio of every speaker in
  one aiortc peer connection, updated (``subscribe``/``unsubscribe``) as speakers come and
  go. The node unsubscribes a departed speaker itself: a publisher that ``leave``s without
  ``unpublish`` gets its subscribers no renegotiation from Janus 1.1.2 (see
  docs/sfu.md), so Janus's ``autoupdate`` cannot be relied on alone; the offers it
  does send on its own (``updated``) are answered too. Frames are routed to a speaker by
  the subscription stream's ``mid`` (Janus says which ``feed_id`` each mid carries); one
  reader per transceiver reads all the time, because aiortc queues unread frames without
  bound (``rtc.inbound.pump``).
- **One pipeline per speaker** (``pipeline.speaker_pipeline.SpeakerPipeline`` in room mode,
  no output of its own): recognition once per speaker, and one ``Renderer`` (MT → TTS) per
  listener language it is routed into. The routes are ``rooms.routing``'s plan, the one a
  direct room follows (``feed_routes``: each published language stands for its listeners),
  and can be read back (``routes``).
- **One published feed per listener language** (its own publisher handle, peer connection
  and paced ``rtc.outbound.TranslatedAudioTrack``), with display ``"LingoLive · es"``: a
  listener subscribes to the feed of their language. Every speaker translated into that
  language has its own ``SpeechQueue`` mixed into that one track, so two speakers talking
  at once are both heard, and each phrase is translated and synthesized once per language
  however many people listen to it.

**How the node knows what a speaker speaks.** A speaker's Janus ``display`` may end in the
language code in brackets, ``"Alice [en]"`` (``sfu.displays.speaker_display`` builds it, and clients
using janus.js only have to set their display name that way). Such a speaker is recognized
in that language, and is translated only into the *other* listener languages: listeners of
their own language hear the original voice straight from Janus, so the node publishes
nothing of theirs into that language's feed. A speaker without the suffix (or whose
language the speech recognizer does not know) is auto-detected phrase by phrase, among the
languages that can reach a listener of this room (a listener language itself, or one that
translates into one). A phrase detected in a listener language is not spoken into that
language's feed: its (wasted) synthesis is dropped at the feed's door (``_SameLanguageGate``)
and its same-language "translation" events are not passed on, because the cascade decides
what to translate before the language is known.

Feeds whose display starts with ``"LingoLive"`` are never translated (our own feeds, and
those of another LingoLive node in the same room: translating a translation helps nobody).

Events (captions, translations, timings, errors) of a speaker's pipeline go to the sink the
caller's ``events`` factory returns for that ``RemoteSpeaker``; this module knows no wire
protocol, the server turns them into its own messages.

``ended`` resolves with a reason when the translator stops by itself (the connection to
Janus closed, the session timed out, the room was destroyed) and with ``"closed"`` after
``close()``; in every case everything is released: pipelines, readers, peer connections,
handles and the Janus session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, SimpleNamespace
from typing import cast

from aiortc import RTCPeerConnection
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamTrack

from lingolive.config import Settings
from lingolive.engines.base import Float32Array, Int16Array
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages
from lingolive.pipeline.events import (
    EventSink,
    PhraseCommitted,
    PhraseTimed,
    PipelineEvent,
    SynthesisStarted,
    Translated,
)
from lingolive.pipeline.playback import Playback, SpeechOutput
from lingolive.pipeline.speaker_pipeline import SpeakerPipeline
from lingolive.pipeline.workers import Workers
from lingolive.rooms import routing
from lingolive.rtc import inbound
from lingolive.rtc.mixing import SpeechQueue
from lingolive.rtc.outbound import TranslatedAudioTrack
from lingolive.rtc.peer import create_peer, shorten_audio_jitter_buffers, turn_secret
from lingolive.sfu.displays import MARK, feed_display, is_lingolive, parse_speaker
from lingolive.sfu.janus_api import (
    CONNECTION_CLOSED,
    Feed,
    JanusConnection,
    JanusError,
    JanusSession,
    Jsep,
    Publisher,
    Subscriber,
)
from lingolive.sfu.sdp import description_of, local_jsep

log = logging.getLogger(__name__)

#: How long to wait for a published feed's ICE and DTLS to complete (``webrtcup``).
WEBRTC_UP_S = 10.0
#: Waits for the next room event or Janus offer are re-armed this often (no deadline).
_IDLE_WAIT_S = 3600.0


@dataclass(frozen=True)
class RemoteSpeaker:
    """A speaker of the room as the node sees them: their feed, name and language."""

    feed: int
    display: str | None
    name: str
    #: Declared in the display (``"Alice [en]"``); None: detected phrase by phrase.
    language: str | None

    @classmethod
    def from_feed(cls, feed: Feed) -> RemoteSpeaker:
        name, language = parse_speaker(feed.display)
        return cls(feed.id, feed.display, name or str(feed.id), language)


#: The caller's sink for one speaker's pipeline events (it may tag them with the speaker).
SpeakerEvents = Callable[[RemoteSpeaker], EventSink]


def feed_routes(
    speakers: Iterable[RemoteSpeaker], languages: Iterable[str], can: routing.Capabilities
) -> dict[str, routing.Route]:
    """The routes of a Janus room as the node sees them (``rooms.routing.plan``): each
    speaker by feed id (as a string), and one listener per published language, that
    language's feed (display ``"LingoLive · es"``), which stands for all its listeners:
    Janus fans the feed out and forwards the original voices itself."""
    return routing.plan(
        [routing.Speaker(str(s.feed), s.language) for s in speakers],
        [routing.Listener(feed_display(language), language) for language in languages],
        can,
    )


class _SameLanguageGate:
    """The door of one language feed for an auto-detected speaker: segments the recognizer
    detected in that very language (the listeners hear the original voice) are not let
    through. The speaker's event sink tells the gate before the phrase reaches the
    ``Renderer`` (the cascade emits ``PhraseCommitted`` first)."""

    def __init__(self, language: str, queue: SpeechQueue) -> None:
        self.language = language
        self.queue = queue
        self._held: deque[int] = deque(maxlen=64)  # segment ids only grow: the last few do

    def hold(self, segment_id: int) -> None:
        self._held.append(segment_id)

    def holds(self, segment_id: int) -> bool:
        return segment_id in self._held

    def open_segment(self, segment_id: int) -> Playback:
        if segment_id in self._held:
            playback = Playback(segment_id)
            playback.finish(time.monotonic())  # nothing will play: over before it began
            return playback
        return self.queue.open_segment(segment_id)

    def push(self, segment_id: int, samples: Int16Array) -> None:
        if segment_id not in self._held:
            self.queue.push(segment_id, samples)

    def close_segment(self, segment_id: int) -> None:
        if segment_id not in self._held:
            self.queue.close_segment(segment_id)

    @property
    def backlog_s(self) -> float:
        return self.queue.backlog_s


@dataclass
class _TranslatedSpeaker:
    """One remote speaker's pipeline and where it speaks."""

    speaker: RemoteSpeaker
    live: SpeakerPipeline
    #: Listener languages this speaker is translated into.
    routes: set[str] = field(default_factory=set)
    #: Auto-detected speakers only: the door of each language feed (see the gate).
    gates: dict[str, _SameLanguageGate] = field(default_factory=dict)


@dataclass
class _LanguageFeed:
    """The node's published feed in one listener language."""

    language: str
    publisher: Publisher
    pc: RTCPeerConnection
    track: TranslatedAudioTrack


class JanusTranslator:
    """The node's participation in one Janus VideoRoom room: it hears every speaker and
    publishes one translated feed per listener language. Build it with ``join``; stop it
    with ``close`` (or learn from ``ended`` that it stopped by itself)."""

    def __init__(
        self,
        connection: JanusConnection,
        room: int,
        *,
        engines: Engines,
        workers: Workers,
        settings: Settings,
        events: SpeakerEvents,
        pin: str | None = None,
    ) -> None:
        self.connection = connection
        self.room = room
        self._engines = engines
        self._workers = workers
        self._settings = settings
        self._events_for = events
        self._pin = pin
        self._can = routing.Capabilities.of(engines)
        self._routes: dict[str, routing.Route] = {}  # as applied, by str(feed id)
        self._routing = asyncio.Lock()  # one re-route at a time (it awaits pipelines)
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._session: JanusSession | None = None
        self._watcher: Publisher | None = None  # the publisher-type handle for room events
        self.speakers: dict[int, _TranslatedSpeaker] = {}  # feed id → pipeline
        self.feeds: dict[str, _LanguageFeed] = {}  # listener language → published feed
        self._subscriber: Subscriber | None = None
        self._subscriber_pc: RTCPeerConnection | None = None
        self._subscribed: set[int] = set()  # feeds the subscription carries
        self._mid_feed: dict[str, int] = {}  # subscription stream mid → feed id
        self._pumps: dict[str, asyncio.Task[None]] = {}  # one reader per transceiver mid
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription = asyncio.Lock()  # one negotiation of the subscription at a time
        self._language_lock = asyncio.Lock()
        self._closing: asyncio.Future[None] | None = None

    # -- building -------------------------------------------------------------------------------

    @classmethod
    async def join(
        cls,
        url: str,
        room: int,
        languages: Iterable[str],
        *,
        engines: Engines,
        workers: Workers,
        settings: Settings,
        events: SpeakerEvents,
        api_secret: str | None = None,
        pin: str | None = None,
    ) -> JanusTranslator:
        """Connects to Janus at ``url``, joins ``room``, publishes a feed per listener
        language and starts translating whoever publishes there. ``JanusError`` if Janus
        refuses (nothing is left behind then)."""
        connection = await JanusConnection.connect(url, api_secret=api_secret)
        self = cls(
            connection,
            room,
            engines=engines,
            workers=workers,
            settings=settings,
            events=events,
            pin=pin,
        )
        try:
            self._session = await connection.create_session()
            self._watcher = await Publisher.join(self._session, room, display=MARK, pin=pin)
            for language in dict.fromkeys(languages):
                await self.add_language(language)
            async with self._subscription:
                await self._reconcile()
            self._tasks.append(asyncio.create_task(self._follow_room(), name="janus-room"))
        except BaseException:
            await self.close()
            raise
        return self

    @property
    def languages(self) -> set[str]:
        """The listener languages the node publishes a feed in."""
        return set(self.feeds)

    @property
    def subscribed_feeds(self) -> frozenset[int]:
        """The speakers' feeds the node's subscription carries."""
        return frozenset(self._subscribed)

    # -- listener languages ---------------------------------------------------------------------

    async def add_language(self, language: str) -> None:
        """Publishes a feed in ``language`` and translates every speaker into it (no-op if
        already published)."""
        async with self._language_lock:
            if language in self.feeds or self._closing is not None:
                return
            feed = await self._publish(language)
            self.feeds[language] = feed
            await self._reroute()

    async def remove_language(self, language: str) -> None:
        """Nobody listens in ``language`` any more: stop translating into it and unpublish
        its feed."""
        async with self._language_lock:
            feed = self.feeds.pop(language, None)
            if feed is None:
                return
            await self._reroute()
            for pipeline in self.speakers.values():
                feed.track.remove_source(pipeline.speaker.feed)
            await self._unpublish(feed)

    async def _publish(self, language: str) -> _LanguageFeed:
        assert self._session is not None
        publisher = await Publisher.join(
            self._session, self.room, display=feed_display(language), pin=self._pin
        )
        settings = self._settings
        track = TranslatedAudioTrack(max_backlog_s=settings.max_output_backlog_s)
        pc = create_peer(
            settings.ice_servers, turn_secret(settings.turn_secret, settings.turn_credential_ttl_s)
        )
        try:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())  # candidates in the SDP
            answer = await publisher.publish(
                local_jsep(pc),
                display=feed_display(language),
                descriptions=[
                    {"mid": str(transceiver.mid), "description": f"translation into {language}"}
                ],
            )
            await pc.setRemoteDescription(description_of(answer))
            await publisher.handle.wait_janus("webrtcup", timeout=WEBRTC_UP_S)
        except BaseException:
            await self._unpublish(_LanguageFeed(language, publisher, pc, track))
            raise
        log.info("janus room %d: publishing %s as feed %d", self.room, language, publisher.id)
        return _LanguageFeed(language, publisher, pc, track)

    async def _unpublish(self, feed: _LanguageFeed) -> None:
        # Unpublish before leaving: then Janus renegotiates its subscribers (listeners) at
        # once; a bare leave skips that in Janus 1.1.2.
        with contextlib.suppress(JanusError):
            await feed.publisher.unpublish()
        with contextlib.suppress(JanusError):
            await feed.publisher.leave()
        feed.track.stop()
        await feed.pc.close()

    # -- speakers -------------------------------------------------------------------------------

    def _is_speaker(self, feed: Feed) -> bool:
        ours = {f.publisher.id for f in self.feeds.values()}
        return feed.id not in ours and not is_lingolive(feed.display) and bool(feed.audio_mids)

    def _add_speaker(self, speaker: RemoteSpeaker) -> _TranslatedSpeaker:
        """A pipeline for a new speaker, not routed or started yet."""
        language = routing.recognized_as(speaker.language, self._can)
        if speaker.language is not None and language is None:
            log.warning(
                "janus room %d: %s says they speak %r, which recognition does not know; "
                "detecting their language instead",
                self.room,
                speaker.name,
                speaker.language,
            )
        speaker = RemoteSpeaker(speaker.feed, speaker.display, speaker.name, language)
        deliver = self._events_for(speaker)
        gates: dict[str, _SameLanguageGate] = {}

        def events(event: PipelineEvent) -> None:
            if isinstance(event, PhraseCommitted) and event.lang in gates:
                gates[event.lang].hold(event.segment_id)  # before the Renderer gets it
            elif isinstance(event, Translated | SynthesisStarted | PhraseTimed):
                gate = gates.get(event.lang)
                if gate is not None and gate.holds(event.segment_id):
                    return  # "translated" into the language it was spoken in
            deliver(event)

        live = SpeakerPipeline(
            self._engines,
            self._workers,
            self._settings.pipeline(),
            Languages(source=language, target=language or ""),
            events=events,
            output=None,
        )
        pipeline = _TranslatedSpeaker(speaker, live, gates=gates)
        self.speakers[speaker.feed] = pipeline
        return pipeline

    @property
    def routes(self) -> Mapping[str, routing.Route]:
        """Every speaker's route as applied now, by feed id (as a string)."""
        return MappingProxyType(self._routes)

    async def _reroute(self) -> None:
        """Applies ``feed_routes`` for the speakers and feeds now: translations started and
        stopped, auto-detection narrowed. Janus fans the feeds out and forwards the original
        voices, so seats and forwards need nothing here."""
        async with self._routing:
            new = feed_routes([p.speaker for p in self.speakers.values()], self.feeds, self._can)
            change = routing.changes(self._routes, new)
            self._routes = new
            by_id = {str(feed_id): p for feed_id, p in self.speakers.items()}
            # Starts first, before any await: they use the feeds the plan was made for.
            for speaker_id, language in sorted(change.started):
                self._translate(by_id[speaker_id], language)
            for speaker_id, candidates in change.candidates.items():
                by_id[speaker_id].live.cascade.detect_among(candidates)
            for speaker_id, language in sorted(change.stopped):
                pipeline = by_id.get(speaker_id)
                if pipeline is None:
                    continue  # left: its pipeline is closed with it
                pipeline.gates.pop(language, None)
                pipeline.routes.discard(language)
                await pipeline.live.cascade.remove_language(language)

    def _translate(self, pipeline: _TranslatedSpeaker, language: str) -> None:
        """Speaks ``pipeline``'s speaker in ``language`` into that language's feed (an
        auto-detected one through the feed's same-language gate)."""
        feed = self.feeds[language]
        output: SpeechOutput = feed.track.speech_source(pipeline.speaker.feed)
        if pipeline.speaker.language is None:
            gate = _SameLanguageGate(language, cast(SpeechQueue, output))
            pipeline.gates[language] = gate
            output = gate
        pipeline.live.cascade.add_language(language, None, output)
        pipeline.routes.add(language)

    async def _drop_speaker(self, feed_id: int) -> None:
        pipeline = self.speakers.pop(feed_id, None)
        self._routes.pop(str(feed_id), None)
        if pipeline is None:
            return
        await pipeline.live.close()
        for feed in self.feeds.values():
            feed.track.remove_source(feed_id)
        log.info("janus room %d: %s left (feed %d)", self.room, pipeline.speaker.name, feed_id)

    # -- the subscription -----------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Makes pipelines and the subscription match the room's speakers (the watcher's
        ``feeds``, kept from the room events). Called with ``_subscription`` held."""
        assert self._watcher is not None
        wanted = {
            feed_id: feed for feed_id, feed in self._watcher.feeds.items() if self._is_speaker(feed)
        }
        for feed_id in [f for f in self.speakers if f not in wanted]:
            await self._drop_speaker(feed_id)
        arrived = [
            self._add_speaker(RemoteSpeaker.from_feed(feed))
            for feed_id, feed in wanted.items()
            if feed_id not in self.speakers
        ]
        await self._reroute()
        for pipeline in arrived:
            pipeline.live.start()
            speaker = pipeline.speaker
            log.info(
                "janus room %d: translating %s (feed %d, %s) into %s",
                self.room,
                speaker.name,
                speaker.feed,
                speaker.language or "detected language",
                ", ".join(sorted(pipeline.routes)) or "nothing",
            )
        adding = [feed_id for feed_id in wanted if feed_id not in self._subscribed]
        removing = [feed_id for feed_id in self._subscribed if feed_id not in wanted]
        # One microphone per speaker: their first audio stream (never video, if any).
        subscribe = [{"feed": f, "mid": wanted[f].audio_mids[0]} for f in adding]
        unsubscribe = [{"feed": f} for f in removing]
        try:
            if self._subscriber is None:
                if not subscribe:
                    return
                assert self._session is not None
                self._subscriber = await Subscriber.join(
                    self._session,
                    self.room,
                    subscribe,
                    private_id=self._watcher.private_id,
                    pin=self._pin,
                )
                self._tasks.append(asyncio.create_task(self._follow_offers(), name="janus-offers"))
                await self._answer(self._subscriber.offer)
            elif subscribe or unsubscribe:
                offer = await self._subscriber.update(subscribe, unsubscribe)
                if offer is not None:
                    await self._answer(offer)
        except JanusError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise
            # A feed gone meanwhile (428), or unsubscribing one Janus already removed: the
            # next room event reconciles again.
            log.info("janus room %d: subscription update refused: %s", self.room, exc)
            adding = []
        # A refused unsubscribe is not retried either: Janus no longer has that feed.
        self._subscribed = (self._subscribed - set(removing)) | set(adding)

    async def _answer(self, offer: Jsep) -> None:
        """Answers Janus's offer for the subscription and routes its streams."""
        subscriber = self._subscriber
        assert subscriber is not None
        if self._subscriber_pc is None:
            settings = self._settings
            self._subscriber_pc = create_peer(
                settings.ice_servers,
                turn_secret(settings.turn_secret, settings.turn_credential_ttl_s),
            )
        pc = self._subscriber_pc
        await pc.setRemoteDescription(description_of(offer))
        new = [t for t in pc.getTransceivers() if t.kind == "audio" and t.mid not in self._pumps]
        # Only the new receivers, which have no packet yet (aiortc has no public knob).
        only_new = cast(RTCPeerConnection, SimpleNamespace(getTransceivers=lambda: new))
        shorten_audio_jitter_buffers(only_new, self._settings.rtc_audio_prefetch)
        for transceiver in new:
            mid = str(transceiver.mid)
            track: MediaStreamTrack = transceiver.receiver.track
            self._pumps[mid] = asyncio.create_task(
                inbound.pump(track, self._sink(mid)), name=f"janus-pump-{mid}"
            )
        await pc.setLocalDescription(await pc.createAnswer())
        await subscriber.start(local_jsep(pc))
        self._mid_feed = {
            str(s["mid"]): int(s["feed_id"])
            for s in subscriber.streams
            if s.get("active", True) and "feed_id" in s and "mid" in s
        }

    def _sink(self, mid: str) -> inbound.AudioSink:
        """Where the frames of one subscription stream go: the pipeline of the speaker that
        stream carries now (a stream Janus reuses for another speaker changes owner)."""

        def deliver(chunk: Float32Array, arrival: float) -> None:
            feed_id = self._mid_feed.get(mid)
            pipeline = self.speakers.get(feed_id) if feed_id is not None else None
            if pipeline is not None:
                pipeline.live.feed(chunk, arrival)

        return deliver

    # -- following Janus ------------------------------------------------------------------------

    async def _follow_room(self) -> None:
        """Room events → reconcile; the end of the connection or of the room ends us."""
        watcher = self._watcher
        assert watcher is not None
        try:
            while True:
                try:
                    reply = await watcher.room_event(timeout=_IDLE_WAIT_S)
                except TimeoutError:
                    continue
                if reply.data.get("videoroom") == "destroyed":
                    self._end("the room was destroyed")
                    break
                async with self._subscription:
                    try:
                        await self._reconcile()
                    except JanusError:
                        raise
                    except Exception:
                        log.exception("janus room %d: following the room's speakers", self.room)
        except JanusError as exc:
            self._end(f"lost Janus: {exc.reason}")
        self._begin_close()

    async def _follow_offers(self) -> None:
        """Offers Janus makes on its own (a subscribed speaker unpublished, a postponed
        update) are answered like ours."""
        subscriber = self._subscriber
        assert subscriber is not None
        while True:
            try:
                offer = await subscriber.wait_offer(timeout=_IDLE_WAIT_S)
            except TimeoutError:
                continue
            except JanusError as exc:
                if exc.code == CONNECTION_CLOSED:
                    return  # the room follower ends the translator
                log.warning("janus room %d: bad offer event: %s", self.room, exc)
                continue
            async with self._subscription:
                try:
                    await self._answer(offer)
                except JanusError as exc:
                    if exc.code == CONNECTION_CLOSED:
                        return  # Janus went away mid-answer: the room follower ends us
                    log.warning("janus room %d: Janus refused our answer: %s", self.room, exc)
                except InvalidStateError:
                    # The subscription's peer connection closed under the answer (Janus
                    # shutting down hangs it up, then its socket closes): nothing can be
                    # heard on it any more, so the translator ends and the room is rebuilt.
                    self._end("the subscription's peer connection closed")
                    return
                except Exception:
                    log.exception("janus room %d: answering Janus's offer", self.room)

    # -- the end --------------------------------------------------------------------------------

    def _end(self, reason: str) -> None:
        if not self.ended.done():
            if reason != "closed":
                log.warning("janus room %d: translator stops: %s", self.room, reason)
            self.ended.set_result(reason)

    def _begin_close(self) -> asyncio.Future[None]:
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._teardown())
        return self._closing

    async def close(self) -> None:
        """Leaves the room and releases everything; safe to call more than once."""
        await asyncio.shield(self._begin_close())

    async def _teardown(self) -> None:
        self._end("closed")
        current = asyncio.current_task()
        tasks = [t for t in [*self._tasks, *self._pumps.values()] if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for feed_id in list(self.speakers):
            await self._drop_speaker(feed_id)
        if self._subscriber is not None:
            with contextlib.suppress(JanusError):
                await self._subscriber.leave()
        if self._subscriber_pc is not None:
            await self._subscriber_pc.close()
        for language in list(self.feeds):
            await self._unpublish(self.feeds.pop(language))
        if self._watcher is not None:
            with contextlib.suppress(JanusError):
                await self._watcher.leave()
        await self.connection.close()  # destroys the session too
