"""Running the server: one process, or ``--workers N`` processes sharing one port.

Why our own worker supervisor instead of uvicorn's ``--workers``: on SIGTERM uvicorn closes
every WebSocket *before* the application hears about the shutdown, so clients could not be
told why their session ended. ``GracefulServer`` says goodbye to every session first, and
each worker process runs one. Workers share the listening socket (the kernel spreads new
connections across them); each loads its own models and owns the sessions it accepted,
media included (its own UDP ports for ICE). A worker that dies is started again in its slot
(``supervisor``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import secrets
import signal
import socket
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from lingolive import logs
from lingolive.app import close_sessions, create_app
from lingolive.config import Settings
from lingolive.supervisor import Supervisor

log = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    """Tells every session goodbye before uvicorn closes the sockets under it."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        ctx = getattr(getattr(app, "state", None), "ctx", None)
        if ctx is not None:
            await close_sessions(ctx)
        await super().shutdown(sockets)


@dataclass(frozen=True)
class ServeOptions:
    certfile: str | None = None
    keyfile: str | None = None
    workers: int = 1


def where_to_open(settings: Settings, options: ServeOptions) -> list[str]:
    """What to tell a person who just started the server: the address to open, and why
    another device needs https (browsers give the microphone only to secure pages, and
    ``localhost``)."""
    port = settings.port
    if options.certfile:
        lines = [f"LingoLive is ready: open https://localhost:{port}/ in a browser."]
        if settings.host not in ("127.0.0.1", "localhost", "::1"):
            lines.append(f"Other devices: https://<this machine's address>:{port}/")
        return lines
    lines = [f"LingoLive is ready: open http://localhost:{port}/ in a browser on this machine."]
    if settings.host in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"Only this machine can connect (LL_HOST={settings.host}).")
    else:
        lines.append(
            "Other devices need https: browsers allow the microphone only on secure pages. "
            "Start with --certfile and --keyfile (README: using it from another device) and "
            "open "
            f"https://<this machine's address>:{port}/ there."
        )
    return lines


def _config(settings: Settings, options: ServeOptions) -> uvicorn.Config:
    def announce() -> None:
        for line in where_to_open(settings, options):
            print(line, flush=True)

    return uvicorn.Config(
        create_app(settings, on_ready=announce if settings.worker_index in (None, 0) else None),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers go through ours (session ids, JSON)
        # Messages between our limit and 4x it get a clean `message_too_large` error;
        # beyond that uvicorn closes the socket (1009) before we could read them.
        ws_max_size=settings.max_message_bytes * 4,
        ssl_certfile=options.certfile,
        ssl_keyfile=options.keyfile,
    )


def _die_with_parent() -> None:
    """Linux: get SIGTERM if the supervisor dies, even by SIGKILL (no orphaned workers)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _worker(settings_data: dict[str, Any], options: ServeOptions, sock: socket.socket) -> None:
    _die_with_parent()
    settings = Settings(**settings_data)
    logs.setup(settings.log_level, settings.log_format)
    # The private port other workers relay this worker's rooms to (loopback only).
    private = socket.socket(socket.AF_INET)
    private.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    private.bind(
        (
            "127.0.0.1",
            (settings.worker_port_base or settings.port + 1) + (settings.worker_index or 0),
        )
    )
    GracefulServer(_config(settings, options)).run(sockets=[sock, private])


def serve(settings: Settings, options: ServeOptions) -> None:
    logs.setup(settings.log_level, settings.log_format)
    if options.workers <= 1:
        GracefulServer(_config(settings, options)).run()
        return
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.set_inheritable(True)
    spawn = multiprocessing.get_context("spawn")
    data = settings.model_dump()
    if not data["room_secret"]:
        # Every worker must verify the tokens any worker issued: one key for all of them.
        data["room_secret"] = secrets.token_hex(32)

    def make(index: int, restarts: int) -> BaseProcess:
        worker_data = {
            **data,
            "worker_index": index,
            "worker_count": options.workers,
            "worker_restarts": restarts,
        }
        return spawn.Process(
            target=_worker, args=(worker_data, options, sock), name=f"lingolive-{index}"
        )

    supervisor = Supervisor(make, options.workers)
    supervisor.start()
    log.info(
        "started %d workers on %s:%d: %s",
        options.workers,
        settings.host,
        settings.port,
        supervisor.pids,
    )

    def stop(signum: int, _frame: object) -> None:
        supervisor.stop()  # SIGTERM to each: every worker says goodbye to its sessions

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    supervisor.run()
    sock.close()
    log.info("all workers stopped")
