"""One ``/ws`` connection from its handshake until it is placed: relayed to the worker it
belongs to, or handed to a ``SignalingSession`` here.

Contract: ``serve`` accepts the socket and reads it (``framing``) until an ``offer`` or an
``sfu_listen`` places it. One that belongs to another worker (``relay.destination``: a room
that worker owns, or this worker is full and the next one has room) is forwarded there
with everything after it (``relay.forward``); one admitted here hands the socket to its
session until the socket closes. Until then, every other message gets what it gets on a
socket without a call (a malformed one its ``error``, a ``candidate`` or a control
``no_session``; a ``bye`` closes), and a refused offer leaves the socket waiting for the
next one. A socket not placed within ``LL_OFFER_TIMEOUT_S`` is told so (``offer_timeout``)
and closed. While it is not placed the socket counts as pending for its address
(``admission.Admission``).

Why here: where a connection belongs is settled before any session exists, so a session
never hands its socket on and nothing unwinds one with an exception.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from fastapi import WebSocket

from lingolive import logs
from lingolive.context import AppContext
from lingolive.protocol import Bye, ErrorCode, Offer, SfuListen
from lingolive.signaling import framing, relay
from lingolive.signaling.admission import Admission
from lingolive.signaling.call_admission import CallAdmission
from lingolive.signaling.listen_admission import ListenAdmission
from lingolive.signaling.outbox import Outbox
from lingolive.signaling.session import SignalingSession, not_started

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Elsewhere:
    """The connection belongs to the worker at ``url``; ``text``: the message that said so."""

    url: str
    text: str


async def serve(ws: WebSocket, ctx: AppContext, admission: Admission, address: str) -> None:
    """The whole life of a ``/ws`` connection admitted by ``admission`` from ``address``."""
    connection_id = uuid.uuid4().hex[:12]
    logs.session_id.set(connection_id)  # every line logged for this connection says so
    outbox: Outbox | None = None
    placed = False
    try:
        await ws.accept()
        outbox = Outbox(ws, connection_id)
        place = await _place_in_time(ws, ctx, outbox, connection_id)
        if place is None:
            return
        placed = True
        admission.started(address)
        if isinstance(place, SignalingSession):
            await place.run()
        else:
            await outbox.detach()  # what it was told so far goes out first
            max_size = ctx.settings.max_message_bytes * 4
            await relay.forward(ws, place.url, place.text, max_size, ctx.relays, connection_id)
    finally:
        if outbox is not None:
            await outbox.close()  # (a session or a relay has closed it already)
        if not placed:
            log.info("session closed")
        admission.closed(address, pending=not placed)


async def _place_in_time(
    ws: WebSocket, ctx: AppContext, outbox: Outbox, connection_id: str
) -> SignalingSession | Elsewhere | None:
    """``_place`` within ``LL_OFFER_TIMEOUT_S``; None (the client told why) after it."""
    limit = ctx.settings.offer_timeout_s
    deadline = asyncio.timeout(limit)
    try:
        async with deadline:
            return await _place(ws, ctx, outbox, connection_id)
    except TimeoutError:
        if not deadline.expired():
            raise
    log.info("ending session: no valid offer within %.0f s", limit)
    outbox.error(ErrorCode.OFFER_TIMEOUT, f"no valid offer within {limit:.0f} s")
    return None


async def _place(
    ws: WebSocket, ctx: AppContext, outbox: Outbox, connection_id: str
) -> SignalingSession | Elsewhere | None:
    """Read ``ws`` until a message places it; None: it closed (or said ``bye``) first."""
    settings = ctx.settings
    port = ws.scope.get("server", (None, None))[1]
    calls = CallAdmission(
        settings, ctx.engines, ctx.workers, ctx.metrics, ctx.rooms, ctx.room_secret, ctx
    )
    listeners = ListenAdmission(ctx.sfu, ctx.engines, ctx.room_secret, ctx)
    while not outbox.closed:
        frame = await framing.receive(ws, settings.max_message_bytes)
        if frame is None:
            return None
        if isinstance(frame, framing.Malformed):
            outbox.error(frame.code, frame.message)
            continue
        message = frame.message
        if isinstance(message, Bye):
            return None
        if not isinstance(message, Offer | SfuListen):
            refusal = not_started(message)
            outbox.error(refusal.code, refusal.message)
            continue
        url = relay.destination(ctx, message, port)
        if url is not None:
            return Elsewhere(url, frame.text)
        session = SignalingSession(
            ws, outbox, connection_id, calls, listeners, settings.max_message_bytes
        )
        if await session.start(message):
            return session
    return None
