"""A Python client for the LingoLive protocol, built on aiortc.

It plays an audio file as its microphone, records the translated track with the arrival
time of every frame, and collects every signaling message as ``lingolive.protocol``'s models
(what it sends is built from them too). The test suite and the benchmarks use it as a real
WebRTC peer; it is also the simplest way to script the server.

``PacedFileTrack`` is our own microphone stand-in: it sends the file in 20 ms frames paced to
the wall clock and then silence forever (a real microphone never stops), and it remembers
when it sent its first sample, so a benchmark knows the wall-clock instant at which any
point of the file (e.g. the end of a phrase) left the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from pydantic import ValidationError

from lingolive.audio_files import decode
from lingolive.engines.base import Int16Array
from lingolive.protocol import (
    SERVER_MESSAGE,
    Answer,
    Bye,
    ClientMessageType,
    ErrorMsg,
    Offer,
    ServerMessage,
    TimingMsg,
    TranscriptMsg,
    TranslationMsg,
)

RATE = 48_000
FRAME = 960

M = TypeVar("M", bound=ServerMessage)


def load_pcm48(path: Path) -> Int16Array:
    """Any audio file → 48 kHz mono int16, the rate WebRTC audio travels at."""
    return decode(path, RATE)


class PacedFileTrack(MediaStreamTrack):
    """Sends a file as a live microphone would: paced, then silence. With a ``gate`` it
    sends silence until the event is set and the file from there (benchmarks start every
    speaker's file once all listeners are connected, on a connection already up)."""

    kind = "audio"

    def __init__(
        self, samples: Int16Array, *, loop: bool = False, gate: asyncio.Event | None = None
    ) -> None:
        super().__init__()
        self._samples = samples
        self._looping = loop
        self._gate = gate
        self._pts = 0
        self._clock: float | None = None  # monotonic instant of the first frame sent
        self._offset: int | None = None if gate is not None else 0  # pts of sample 0
        self.started_at: float | None = None  # monotonic instant of sample 0

    @property
    def duration_s(self) -> float:
        return len(self._samples) / RATE

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._clock is None:
            self._clock = now
        target = self._clock + self._pts / RATE
        if target > now:
            await asyncio.sleep(target - now)
        if self._offset is None and self._gate is not None and self._gate.is_set():
            self._offset = self._pts
        if self._offset is None:
            chunk = np.zeros(FRAME, np.int16)
        else:
            if self.started_at is None:
                self.started_at = self._clock + self._offset / RATE
            pos = self._pts - self._offset
            if self._looping:
                pos %= len(self._samples)
            chunk = self._samples[pos : pos + FRAME]
            if len(chunk) < FRAME:
                chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME
        return frame


@dataclass
class Received:
    """The translated audio as it arrived: one entry per 20 ms frame."""

    arrivals: list[float] = field(default_factory=list)
    frames: list[Int16Array] = field(default_factory=list)

    def audio(self) -> Int16Array:
        return np.concatenate(self.frames) if self.frames else np.zeros(0, np.int16)

    def voiced(self, level: float = 300.0) -> list[tuple[float, bool]]:
        """(arrival, frame is not silent) per frame."""
        out = []
        for t, f in zip(self.arrivals, self.frames, strict=True):
            rms = float(np.sqrt(np.mean(f.astype(np.float32) ** 2))) if f.size else 0.0
            out.append((t, rms > level))
        return out

    def first_voiced_after(self, instant: float, level: float = 300.0) -> float | None:
        for t, loud in self.voiced(level):
            if t >= instant and loud:
                return t
        return None


@dataclass
class LoopbackClient:
    """One session against a LingoLive server.

    It speaks the wire contract: what it sends is built from ``protocol``'s client models
    (``send``), and every message it receives is parsed with ``protocol.SERVER_MESSAGE`` into
    ``events`` (a message that does not parse fails the next ``wait_for``).
    """

    url: str  # ws://host:port/ws
    events: list[ServerMessage] = field(default_factory=list)
    received: Received = field(default_factory=Received)
    pc: RTCPeerConnection | None = None
    ws: Any = None
    session_id: str | None = None
    _arrivals: dict[int, float] = field(default_factory=dict)  # id(event) → monotonic instant
    _unreadable: list[BaseException] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _event_added: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(
        self,
        track: MediaStreamTrack,
        *,
        source_lang: str | None = None,
        target_lang: str | None = None,
        voice: str | None = None,
        timeout: float = 20.0,
        extra: dict[str, Any] | None = None,
    ) -> Answer:
        """Offer ``track`` as the microphone; returns the server's answer.

        ``extra``: more ``Offer`` fields, e.g. ``{"room": …, "token": …, "display_name": …}``.
        """
        self.ws = await websockets.connect(self.url, max_size=2**22)
        self.pc = RTCPeerConnection()
        self.pc.addTrack(track)

        @self.pc.on("track")
        def on_track(remote: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._record(remote)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = Offer(
            type="offer",
            sdp=self.pc.localDescription.sdp,
            source_lang=source_lang,
            target_lang=target_lang,
            voice=voice,
            **(extra or {}),
        )
        await self.send(offer)
        self._tasks.append(asyncio.create_task(self._read_events()))
        answer = await self.wait_for(lambda e: isinstance(e, Answer | ErrorMsg), timeout)
        if not isinstance(answer, Answer):
            raise RuntimeError(f"server refused the offer: {answer!r}")
        self.session_id = answer.session_id
        await self.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        return answer

    async def send(self, message: ClientMessageType) -> None:
        """One client message, as the contract writes it (the fields that say something: a
        default is what the server assumes anyway)."""
        await self.ws.send(message.model_dump_json(exclude_defaults=True))

    async def send_raw(self, text: str) -> None:
        """Anything at all: for a message the contract would not let ``send`` build."""
        await self.ws.send(text)

    async def _read_events(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                try:
                    event = SERVER_MESSAGE.validate_json(raw)
                except ValidationError as exc:
                    self._unreadable.append(exc)
                else:
                    self._arrivals[id(event)] = time.monotonic()
                    self.events.append(event)
                self._event_added.set()

    async def _record(self, remote: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await remote.recv()
                now = time.monotonic()
                if not isinstance(frame, av.AudioFrame):
                    continue
                for out in resampler.resample(frame):
                    self.received.arrivals.append(now)
                    pcm = out.to_ndarray().reshape(-1).astype(np.int16)
                    self.received.frames.append(pcm)

    def arrival(self, event: ServerMessage) -> float:
        """The monotonic instant ``event`` (one of ``events``) arrived."""
        return self._arrivals[id(event)]

    def _check_readable(self) -> None:
        if self._unreadable:
            raise AssertionError(
                f"the server sent a message the protocol does not allow: {self._unreadable[0]}"
            )

    async def wait_for(
        self, predicate: Callable[[ServerMessage], object], timeout: float
    ) -> ServerMessage:
        """The first event (already received or future) matching ``predicate``."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            self._check_readable()
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching event within {timeout} s; got {self.events}")
            self._event_added.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_added.wait(), left)

    def of_type(self, model: type[M]) -> list[M]:
        """The events of one model, in order (``ParticipantEvent``: all three kinds)."""
        self._check_readable()
        return [e for e in self.events if isinstance(e, model)]

    def finals(self) -> list[TranscriptMsg]:
        """Final transcripts with words, in order: the phrases the server committed."""
        return [e for e in self.of_type(TranscriptMsg) if e.final and e.text]

    def said(self) -> tuple[str, str]:
        """Everything heard and everything translated so far, each joined in order.

        What a user follows is the whole utterance, however the server cut it into phrases.
        """
        heard = " ".join(e.text for e in self.finals())
        translated = " ".join(e.text for e in self.of_type(TranslationMsg) if e.text)
        return heard, translated

    def settled(self, quiet_s: float = 1.5) -> bool:
        """Something was committed, every translation has started playing (its ``timing``
        came), and the server has said nothing for ``quiet_s``: the speech is answered."""
        if not self.finals():
            return False
        timed = {e.segment_id for e in self.of_type(TimingMsg)}
        failed = {e.segment_id for e in self.of_type(ErrorMsg)}
        pending = [e for e in self.of_type(TranslationMsg) if e.segment_id not in timed | failed]
        return not pending and time.monotonic() - self.arrival(self.events[-1]) >= quiet_s

    async def wait_settled(self, timeout: float, quiet_s: float = 1.5) -> None:
        """Until ``settled``; raises ``TimeoutError`` with the events after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.settled(quiet_s):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not settled within {timeout} s; got {self.events}")
            await asyncio.sleep(0.1)

    async def close(self, *, bye: bool = True) -> None:
        if self.ws is not None:
            if bye:
                with contextlib.suppress(Exception):
                    await self.send(Bye(type="bye"))
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.pc is not None:
            await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
