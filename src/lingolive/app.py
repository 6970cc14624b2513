"""The FastAPI application: routes, and a lifespan that loads and warms engines once.

Models load in a worker thread before the server reports ready (``/ready``), so the first
caller never pays for loading, and the event loop stays free to answer ``/health``
meanwhile. Offers that arrive before then get a ``busy`` error, not a stall.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, ValidationError

from lingolive import worker_metrics
from lingolive.config import Settings
from lingolive.context import AppContext
from lingolive.engines.registry import Engines, load_engines, warm_engines
from lingolive.hosts import AllowedHosts
from lingolive.metrics import ProcessTree, process_tree
from lingolive.pipeline.workers import Workers
from lingolive.protocol import (
    MAX_TOKEN_CHARS,
    ErrorCode,
    ErrorMsg,
    Glossary,
    SfuRoomInfo,
    glossary_items,
)
from lingolive.rooms import tokens
from lingolive.rooms.janus import SfuUnavailable
from lingolive.rtc.peer import browser_ice_server, long_term_turn_urls, turn_secret
from lingolive.signaling.admission import Admission
from lingolive.signaling.endpoint import serve

log = logging.getLogger(__name__)

CLIENT_DIR = Path(__file__).resolve().parents[2] / "client"
#: Janus's JavaScript library (Debian ``libjs-janus-gateway``), served to pages in SFU rooms
#: as ``/vendor/janus.js``: never vendored, so that the distribution keeps it patched.
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
#: At shutdown, how long the SFU rooms may take to leave Janus and destroy their rooms.
SFU_CLOSE_S = 20.0


async def close_sessions(ctx: AppContext) -> None:
    """Graceful stop: every client is told (``server_shutdown``) before its session closes.

    Called by ``cli.GracefulServer`` on SIGTERM *before* uvicorn closes the sockets (it
    would otherwise close them first, and the message could not be sent), and again by the
    lifespan for whatever is left.
    """
    ctx.ready = False
    live = [*ctx.sessions.values(), *ctx.relays.values()]
    await asyncio.gather(*(session.shutdown() for session in live), return_exceptions=True)
    if ctx.sfu is not None:
        await ctx.sfu.shutdown_listeners()


class RoomRequest(BaseModel):
    """Optional: a glossary every participant of the room shares (names, product words)."""

    model_config = ConfigDict(extra="forbid")
    glossary: Glossary | None = None


class RoomCreated(BaseModel):
    room: str
    token: str
    expires_at: float  # Unix time
    invite_url: str
    max_participants: int
    #: SFU mode (``LL_SFU=janus``): the Janus room to publish to and subscribe in.
    sfu: SfuRoomInfo | None = None


async def room_request(request: Request, limit: int) -> RoomRequest | None:
    """The optional JSON body of ``POST /rooms``, read at most ``limit`` bytes far.

    413 beyond the limit (by Content-Length, or while streaming a body without one), 422 for
    a body that is not a valid request.
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(status_code=413, detail=f"the body exceeds {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise HTTPException(status_code=413, detail=f"the body exceeds {limit} bytes")
    if not data.strip():
        return None
    try:
        return RoomRequest.model_validate_json(bytes(data))
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        ]
        raise HTTPException(status_code=422, detail=problems[:5]) from exc


def process_info(tree: ProcessTree, engines: Engines | None = None) -> dict[str, object]:
    """What a leak would grow: threads, open file descriptors, asyncio tasks, memory.

    ``rss_mib`` is this process alone; ``tree_uss_mib`` / ``tree_pss_mib`` add its children
    (the Apertium pipelines, listed in ``mt_pipelines``), which is what the worker costs.
    """
    fd_dir = Path("/proc/self/fd")
    info: dict[str, object] = {
        "pid": os.getpid(),
        "threads": threading.active_count(),
        "open_fds": len(list(fd_dir.iterdir())) if fd_dir.exists() else -1,
        "tasks": len(asyncio.all_tasks()),
        "rss_mib": rss_mib(),
        "tree_uss_mib": tree.uss_bytes // 2**20,
        "tree_pss_mib": tree.pss_bytes // 2**20,
        "children": tree.children,
    }
    if engines is not None:
        info["mt_pipelines"] = [f"{s}-{t}" for s, t in engines.running_pipelines()]
    return info


def rss_mib() -> int:
    """Resident memory of this process (Linux ``/proc``; -1 elsewhere)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return -1
    kib = next((int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:"), -1)
    return kib // 1024 if kib >= 0 else -1


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Same-origin pages, non-browser clients (no Origin) and configured origins may connect."""
    if origin is None or "*" in allowed or origin in allowed:
        return True
    netloc = urlsplit(origin).netloc
    return bool(host) and netloc == host


def create_app(
    settings: Settings | None = None, on_ready: Callable[[], None] | None = None
) -> FastAPI:
    """``on_ready``: called once the engines are warm (``serve`` tells the user where to
    open the page then, not while the models are still loading)."""
    settings = settings or Settings()
    state: dict[str, AppContext] = {}
    # Which sockets may open (counted from the handshake on, before the engines are loaded).
    admission = Admission(settings.max_connections, settings.max_pending_per_address)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        t = time.monotonic()
        engines = await asyncio.to_thread(load_engines, settings)
        ctx = AppContext(
            settings=settings,
            engines=engines,
            workers=Workers.create(stt_max_batch=settings.stt_max_batch),
        )
        state["ctx"] = ctx
        app.state.ctx = ctx
        log.info("engines loaded in %.1f s: %s", time.monotonic() - t, engines.sources)
        pairs = engines.language_pairs()
        source, target = settings.source_lang, settings.target_lang
        if source != "auto" and (source, target) not in pairs:
            log.warning(
                "default pair %s->%s is not available; pairs: %s",
                source,
                target,
                engines.pairs_text(),
            )
        else:
            ctx.warm_seconds = await asyncio.to_thread(
                warm_engines, engines, source, target, settings.default_voice(target)
            )
        ctx.ready = True
        log.info("ready in %.1f s; language pairs: %s", time.monotonic() - t, engines.pairs_text())
        if on_ready is not None:
            on_ready()
        if long_term_turn_urls(settings.ice_servers):
            log.warning(
                "LL_ICE_SERVERS holds a TURN password: /api/config gives it to every visitor; "
                "set LL_TURN_SECRET (coturn use-auth-secret) and drop it from the URL"
            )
        try:
            yield
        finally:
            await close_sessions(ctx)
            if ctx.sfu is not None:
                try:  # every translator, every Janus room we created
                    await asyncio.wait_for(ctx.sfu.close(), SFU_CLOSE_S)
                except TimeoutError:
                    log.warning(
                        "Janus did not answer within %.0f s; rooms may be left", SFU_CLOSE_S
                    )
            ctx.workers.shutdown()
            engines.close()

    app = FastAPI(title="LingoLive", lifespan=lifespan)
    app.add_middleware(AllowedHosts, allowed=settings.allowed_hosts)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        ctx = state.get("ctx")
        ok = ctx is not None and ctx.ready
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    def operator_only(request: Request) -> None:
        """``/metrics`` and ``/api/status`` tell how busy the server is and what it runs:
        for the operator (the bearer key, or from this machine), not for every visitor."""
        if settings.metrics_key:
            given = request.headers.get("authorization", "").encode()
            if hmac.compare_digest(given, f"Bearer {settings.metrics_key}".encode()):
                return
            raise HTTPException(status_code=401, detail="this endpoint needs LL_METRICS_KEY")
        client = request.client.host if request.client else ""
        try:
            if ipaddress.ip_address(client).is_loopback:
                return
        except ValueError:
            pass
        raise HTTPException(
            status_code=403, detail="only from this machine (or set LL_METRICS_KEY)"
        )

    @app.get("/api/status")
    async def status(request: Request) -> dict[str, object]:
        """Live sessions and engine readiness (operators; tests use it to check teardown)."""
        operator_only(request)
        ctx = state.get("ctx")
        if ctx is None:
            return {"ready": False, "sessions": 0}
        return {
            "ready": ctx.ready,
            "sessions": len(ctx.sessions),
            "max_sessions": settings.max_sessions,
            "engines": ctx.engines.sources,
            "warm_seconds": round(ctx.warm_seconds, 2),
            # The tree's memory maps are read in a thread (tens of ms): never on the loop.
            "process": process_info(await asyncio.to_thread(process_tree), ctx.engines),
        }

    @app.get("/api/languages")
    async def languages() -> dict[str, object]:
        """The language pairs this server can serve end to end, and its voices."""
        ctx = state["ctx"]
        return {
            "pairs": ctx.engines.describe_pairs(),
            "default_source": settings.source_lang,
            "default_target": settings.target_lang,
            "voices": ctx.engines.tts.voices(),
        }

    @app.get("/api/config")
    async def client_config() -> dict[str, object]:
        """Everything the page needs to start: languages plus the ICE servers to use."""
        info = await languages()
        turn = turn_secret(settings.turn_secret, settings.turn_credential_ttl_s)
        info["ice_servers"] = [browser_ice_server(url, turn) for url in settings.ice_servers]
        return info

    @app.websocket("/ws")
    async def ws_endpoint(ws: WebSocket) -> None:
        if not origin_allowed(
            ws.headers.get("origin"), ws.headers.get("host"), settings.allowed_origins
        ):
            # Closing before accepting answers the handshake with 403: a page on another
            # site cannot drive this server with its visitors' browsers.
            await ws.close(code=1008)
            return
        ctx = state["ctx"]
        address = ws.client.host if ws.client else "unknown"
        refusal = admission.admit(address)
        if refusal is not None:
            ctx.metrics.sessions_refused.labels("connections").inc()
            await ws.accept()
            error = ErrorMsg(code=ErrorCode.TOO_MANY_CONNECTIONS, message=refusal)
            await ws.send_text(error.model_dump_json())
            await ws.close(code=1013)  # try again later
            return
        await serve(ws, ctx, admission, address)

    @app.post("/rooms")
    async def create_room(request: Request) -> RoomCreated:
        """A new room and an invite (signed, expiring token) to join it.

        Room ids are always random: a name chosen by the caller could be somebody else's
        room, and the token would let the caller in. The key is checked before a byte of the
        body is read, and the body is read only up to ``LL_MAX_MESSAGE_BYTES``.
        """
        if settings.room_create_key:
            expected = f"Bearer {settings.room_create_key}"
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise HTTPException(status_code=401, detail="creating rooms needs the room key")
        body = await room_request(request, settings.max_message_bytes)
        ctx = state["ctx"]
        room = ctx.new_room_id()
        glossary = glossary_items(body.glossary) if body and body.glossary else None
        token, expires = tokens.issue(
            ctx.room_secret, room, settings.room_token_ttl_s, glossary=list(glossary or [])
        )
        if len(token) > MAX_TOKEN_CHARS:  # only with long non-Latin text in every field
            raise HTTPException(
                status_code=422,
                detail=f"the glossary makes an invite of {len(token)} characters; a room "
                f"token holds at most {MAX_TOKEN_CHARS}: use fewer or shorter terms",
            )
        sfu: SfuRoomInfo | None = None
        if ctx.sfu is not None:
            if not ctx.ready:
                raise HTTPException(status_code=503, detail="the server is still loading")
            try:
                sfu = (await ctx.sfu.open(room)).info
            except SfuUnavailable as exc:
                log.warning("POST /rooms: %s", exc)
                raise HTTPException(status_code=503, detail=str(exc)) from exc
        base = str(request.base_url).rstrip("/")
        return RoomCreated(
            room=room,
            token=token,
            expires_at=expires,
            # The token rides in the fragment: browsers never send it, so it stays out of
            # access logs and proxies, and its length does not meet URL limits.
            invite_url=f"{base}/?{urlencode({'room': room})}#{urlencode({'token': token})}",
            max_participants=settings.room_max_participants,
            sfu=sfu,
        )

    @app.get("/api/rooms/{room_id}")
    async def room_info(room_id: str) -> dict[str, object]:
        """Who is in a room (no token needed to see the count; names need to join)."""
        room = state["ctx"].rooms.rooms.get(room_id)
        return {
            "room": room_id,
            "participants": len(room.participants) if room else 0,
            "max_participants": settings.room_max_participants,
        }

    @app.get("/metrics")
    async def metrics(request: Request, scope: str = "server") -> Response:
        """This process's metrics; with ``--workers N`` (and no ``scope=worker``, which is
        how the workers ask each other) every worker's, labelled (``worker_metrics``)."""
        operator_only(request)
        ctx = state.get("ctx")
        # Rendering reads every child process's memory map (10–25 ms for ~30 processes):
        # in a thread, so that a scrape never stalls the event loop the media runs on.
        body = await asyncio.to_thread(ctx.metrics.render) if ctx is not None else b""
        me = settings.worker_index
        if settings.worker_count > 1 and me is not None and scope != "worker":
            base = settings.worker_port_base or settings.port + 1
            urls = worker_metrics.sibling_urls(base, settings.worker_count, me)
            texts = await worker_metrics.fetch(urls, settings.metrics_key)
            body = worker_metrics.combine({**texts, me: body.decode()})
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/vendor/janus.js")
    def janus_js() -> FileResponse:
        """janus.js for the page's SFU rooms (docs/sfu.md), from the Debian package (sync:
        FastAPI runs it in a thread, so the file check never blocks the loop)."""
        if not JANUS_JS.is_file():
            raise HTTPException(
                status_code=404,
                detail=f"janus.js is not installed on this server ({JANUS_JS}): install the "
                "Debian package libjs-janus-gateway (scripts/setup.sh --dev)",
            )
        return FileResponse(JANUS_JS, media_type="text/javascript")

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(CLIENT_DIR / "index.html")

    if CLIENT_DIR.is_dir():
        app.mount("/client", StaticFiles(directory=CLIENT_DIR), name="client")
    return app
