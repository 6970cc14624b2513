"""A real Janus for tests and benchmarks, configured from scratch in a temporary folder.

The Debian package's own ``/etc/janus`` configuration (and its ``janus.service``) is not
used: it enables every plugin and transport (HTTP on 8088, WebSockets on 8188, the SIP and
streaming plugins…) with demo secrets. ``JanusProcess`` writes a configuration of its own:

- only the VideoRoom plugin and the WebSockets transport are loaded (every other plugin,
  transport, event handler and logger file is named in a ``disable`` list, so a package
  update that adds one does not enable it);
- the Janus API listens on ``127.0.0.1`` at a free port; the Admin API only when an
  ``admin_secret`` is given (on another free port, also loopback only);
- ICE gathers on one local non-loopback IPv4 address (``nat.ice_enforce_list``), no STUN,
  no TURN, no IPv6, no mDNS resolution: nothing leaves the machine. Janus never gathers on a
  loopback interface (``ice.c`` skips ``IFF_LOOPBACK``) and aiortc never offers
  ``127.0.0.1`` either, so both meet on the machine's own address;
- the log goes to ``janus.log`` in the folder.

Use it as a context manager (``with`` or ``async with``): it returns once the WebSocket port
accepts connections and, on exit, stops Janus and checks that it exited cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

#: The plugin and transport LingoLive uses; everything else in the package stays unloaded.
VIDEOROOM_LIBRARY = "libjanus_videoroom.so"
WEBSOCKETS_LIBRARY = "libjanus_websockets.so"

SETUP_HINT = "install it with `scripts/setup.sh --dev` (or LL_SFU=janus scripts/setup.sh)"

#: Where Janus's own configuration names its module folders (Debian, and a build from
#: source installed under /opt/janus or /usr/local).
_PACKAGE_CONFIGS = (
    Path("/etc/janus/janus.jcfg"),
    Path("/opt/janus/etc/janus/janus.jcfg"),
    Path("/usr/local/etc/janus/janus.jcfg"),
)
_MODULE_ROOTS = (
    "/usr/lib/*/janus",
    "/usr/lib/janus",
    "/usr/local/lib/janus",
    "/opt/janus/lib/janus",
)


class JanusNotInstalled(RuntimeError):
    """The ``janus`` binary or its VideoRoom plugin / WebSockets transport is missing."""


class JanusFailed(RuntimeError):
    """Janus did not start, or did not exit cleanly; the message ends with its log."""


@dataclass(frozen=True)
class JanusInstall:
    """Where the installed Janus keeps its binary and module folders."""

    binary: Path
    plugins: Path
    transports: Path
    events: Path | None
    loggers: Path | None


def _folder_from_config(config: Path, key: str) -> Path | None:
    try:
        text = config.read_text(errors="replace")
    except OSError:
        return None
    match = re.search(rf'^\s*{key}\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return Path(match.group(1)) if match else None


def find_janus() -> JanusInstall:
    """The installed Janus, or ``JanusNotInstalled`` saying how to install it.

    The module folders are read from the package's ``janus.jcfg`` (Debian:
    ``/usr/lib/<triplet>/janus/{plugins,transports,events,loggers}``), falling back to the
    usual install prefixes; a folder only counts when the library we need is in it.
    """
    binary = shutil.which("janus")
    if binary is None:
        raise JanusNotInstalled(f"the Janus WebRTC server (`janus`) is not installed: {SETUP_HINT}")
    roots: list[Path] = []
    for config in _PACKAGE_CONFIGS:
        folder = _folder_from_config(config, "plugins_folder")
        if folder is not None:
            roots.append(folder.parent)
    for pattern in _MODULE_ROOTS:
        roots.extend(sorted(Path("/").glob(pattern.lstrip("/"))))
    for root in roots:
        plugins, transports = root / "plugins", root / "transports"
        if (plugins / VIDEOROOM_LIBRARY).exists() and (transports / WEBSOCKETS_LIBRARY).exists():
            events, loggers = root / "events", root / "loggers"
            return JanusInstall(
                binary=Path(binary),
                plugins=plugins,
                transports=transports,
                events=events if events.is_dir() else None,
                loggers=loggers if loggers.is_dir() else None,
            )
    raise JanusNotInstalled(
        f"`janus` is at {binary} but its VideoRoom plugin / WebSockets transport were not found "
        f"(looked under {', '.join(str(r) for r in roots) or 'nothing'}): {SETUP_HINT}"
    )


def local_ice_address() -> str:
    """The first non-loopback IPv4 address of an interface that is up.

    Janus gathers ICE candidates only there; aiortc (aioice) gathers on every address but
    ``127.0.0.1``, so it has a candidate on the same address and the pair connects without
    any network beyond this machine.
    """
    stats = psutil.net_if_stats()
    for name, addresses in psutil.net_if_addrs().items():
        if name not in stats or not stats[name].isup:
            continue
        for address in addresses:
            if address.family != socket.AF_INET:
                continue
            ip = ipaddress.ip_address(address.address)
            if not ip.is_loopback and not ip.is_link_local and not ip.is_unspecified:
                return str(address.address)
    raise JanusFailed(
        "no non-loopback IPv4 address is up, and Janus never gathers ICE candidates on "
        "loopback: add one (e.g. `ip link add ll0 type dummy && ip addr add 10.99.0.1/24 dev "
        "ll0 && ip link set ll0 up`) or pass ice_address"
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (Janus binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _disable_all_but(folder: Path | None, keep: str | None) -> str:
    """The jcfg ``disable`` value naming every module file in ``folder`` except ``keep``.

    Janus loads every ``*.so`` of a folder unless its file name is in this list.
    """
    if folder is None:
        return ""
    return ",".join(sorted(p.name for p in folder.glob("*.so") if p.name != keep))


class JanusProcess:
    """One Janus process with its own configuration in ``workdir`` (a new temp folder by
    default, removed on exit when we made it).

    ``api_secret`` makes every Janus API request carry ``apisecret`` (or a token);
    ``token_secret`` turns on signed tokens (``token_auth``, ``sfu.janus_tokens``);
    ``admin_secret``
    enables the Admin API (``admin_url``), which is off otherwise; ``admin_key`` restricts
    VideoRoom ``create`` to requests that carry it. ``ice_address`` overrides the address
    ICE uses (default: ``local_ice_address()``).
    """

    def __init__(
        self,
        *,
        workdir: Path | None = None,
        api_secret: str | None = None,
        token_secret: str | None = None,
        admin_secret: str | None = None,
        admin_key: str | None = None,
        ice_address: str | None = None,
        session_timeout_s: int = 60,
        debug_level: int = 4,
        ready_timeout_s: float = 20.0,
    ) -> None:
        self.install = find_janus()
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="janus-")) if workdir is None else workdir
        self.api_secret = api_secret
        self.token_secret = token_secret
        self.admin_secret = admin_secret
        self.admin_key = admin_key
        self.ice_address = ice_address
        self.session_timeout_s = session_timeout_s
        self.debug_level = debug_level
        self.ready_timeout_s = ready_timeout_s
        self.ws_port = 0
        self.admin_port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "janus.log"

    @property
    def ws_url(self) -> str:
        """The Janus API (WebSocket subprotocol ``janus-protocol``)."""
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def admin_url(self) -> str:
        """The Admin API (subprotocol ``janus-admin-protocol``), when ``admin_secret`` is set."""
        if self.admin_port is None:
            raise JanusFailed("the Admin API is off: pass admin_secret to enable it")
        return f"ws://127.0.0.1:{self.admin_port}"

    def log(self) -> str:
        """Janus's log (and anything it printed before its logger started)."""
        parts = []
        for path in (self.workdir / "janus.out", self.log_path):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def write_config(self) -> Path:
        """Writes the three jcfg files Janus reads, from the ones LingoLive ships in
        ``deploy/janus`` with only what this machine and test need changed (folders,
        ports, the ICE address, secrets, the log); returns the folder they are in."""
        conf = self.workdir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        # Chosen once: a restart (``restart``) listens where clients already connect.
        self.ws_port = self.ws_port or free_port()
        if self.admin_secret is not None:
            self.admin_port = self.admin_port or free_port()
        ice = self.ice_address or local_ice_address()
        install = self.install
        general: dict[str, str | None] = {
            "configs_folder": _quote(str(conf)),
            "plugins_folder": _quote(str(install.plugins)),
            "transports_folder": _quote(str(install.transports)),
            "events_folder": None if install.events is None else _quote(str(install.events)),
            "loggers_folder": None if install.loggers is None else _quote(str(install.loggers)),
            "log_to_stdout": "false",
            "log_to_file": _quote(str(self.log_path)),
            "debug_level": str(self.debug_level),
            "session_timeout": str(self.session_timeout_s),
            "server_name": _quote("LingoLive test Janus"),
            "api_secret": None if self.api_secret is None else _quote(self.api_secret),
            "token_auth": None if self.token_secret is None else "true",
            "token_auth_secret": None if self.token_secret is None else _quote(self.token_secret),
            "admin_secret": None if self.admin_secret is None else _quote(self.admin_secret),
        }
        main = _setting(_shipped("janus.jcfg"), "general", general)
        main = _setting(main, "nat", {"ice_enforce_list": _quote(ice)})
        (conf / "janus.jcfg").write_text(main)
        admin: dict[str, str | None] = {"admin_ws": "false"}
        if self.admin_port is not None:
            admin = {
                "admin_ws": "true",
                "admin_ws_port": str(self.admin_port),
                "admin_ws_ip": _quote("127.0.0.1"),
            }
        transport = _setting(
            _shipped("janus.transport.websockets.jcfg"),
            "general",
            {"ws_port": str(self.ws_port), "ws_ip": _quote("127.0.0.1")},
        )
        (conf / "janus.transport.websockets.jcfg").write_text(_setting(transport, "admin", admin))
        key = None if self.admin_key is None else _quote(self.admin_key)
        videoroom = _setting(_shipped("janus.plugin.videoroom.jcfg"), "general", {"admin_key": key})
        (conf / "janus.plugin.videoroom.jcfg").write_text(videoroom)
        return conf

    def start(self) -> JanusProcess:
        """Starts Janus and returns once its WebSocket port (and Admin port) accept
        connections; ``JanusFailed`` with the log when it exits or takes too long."""
        if self.proc is not None:
            raise JanusFailed("already started")
        conf = self.write_config()
        with (self.workdir / "janus.out").open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(self.install.binary),
                    f"--config={conf / 'janus.jcfg'}",
                    f"--configs-folder={conf}",
                    "--disable-colors",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        ports = [self.ws_port] + ([self.admin_port] if self.admin_port is not None else [])
        deadline = time.monotonic() + self.ready_timeout_s
        while ports:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise JanusFailed(
                    f"janus exited with {self.returncode} while starting:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                self._kill()
                raise JanusFailed(
                    f"janus not listening after {self.ready_timeout_s} s:\n{self.log()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", ports[0]), timeout=0.5):
                    ports.pop(0)
            except OSError:
                time.sleep(0.05)
        return self

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout_s: float = 10.0) -> int:
        """Stops Janus (SIGTERM, as systemd would) and returns its exit status; raises
        ``JanusFailed`` when it had to be killed or exited with an error (a crash on the way
        out is a bug worth seeing)."""
        proc = self.proc
        if proc is None:
            raise JanusFailed("not started")
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._kill()
                self.returncode = proc.returncode
                raise JanusFailed(
                    f"janus did not exit within {timeout_s} s of SIGTERM; killed:\n{self.log()}"
                ) from None
        self.returncode = proc.returncode
        if self.returncode != 0:
            raise JanusFailed(f"janus exited with {self.returncode}:\n{self.log()}")
        return self.returncode

    def restart(self) -> JanusProcess:
        """Stops Janus and starts it again on the same ports, as an operator's restart
        would (every session, handle and room is gone afterwards)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        self.proc = None
        return self.start()

    def cleanup(self) -> None:
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> JanusProcess:
        try:
            return self.start()
        except BaseException:
            self._kill()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.stop()
            else:  # do not hide the error that got us here behind a shutdown problem
                with contextlib.suppress(JanusFailed):
                    self.stop()
        finally:
            self._kill()
            if exc is None:
                self.cleanup()

    async def __aenter__(self) -> JanusProcess:
        try:
            return await asyncio.to_thread(self.start)
        except BaseException:
            self._kill()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.__exit__, exc_type, exc, tb)


#: The Janus configuration LingoLive ships for SFU mode (docs/sfu.md).
SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "janus"


def _shipped(name: str) -> str:
    return (SHIPPED / name).read_text()


def _setting(text: str, section: str, values: dict[str, str | None]) -> str:
    """``text`` (a jcfg file) with each ``key = value`` of ``section`` set (None: removed),
    added at the section's end where the file does not have it."""
    lines = text.splitlines()
    begin = next(i for i, line in enumerate(lines) if line.startswith(f"{section}: {{"))
    end = next(i for i in range(begin, len(lines)) if lines[i].startswith("}"))
    body = lines[begin + 1 : end]
    for key, value in values.items():
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        body = [line for line in body if not pattern.match(line)]
        if value is not None:
            body.append(f"\t{key} = {value}")
    return "\n".join([*lines[: begin + 1], *body, *lines[end:]]) + "\n"
