"""A real coturn (Debian ``coturn``) for tests, on this machine's own address, with
``use-auth-secret``: it accepts exactly the time-limited credentials LingoLive makes from
``LL_TURN_SECRET`` (the TURN REST API scheme), and refuses expired ones.

It listens on the machine's non-loopback address (Chromium and aioice ignore loopback
candidates, see docs/sfu.md "ICE, offline"), UDP only, no TLS, no CLI; its log goes to
``turnserver.log`` in the work folder. Use as a context manager.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from support.janus_process import local_ice_address

SETUP_HINT = "install it with `scripts/setup.sh --dev` (Debian package coturn)"


class CoturnNotInstalled(RuntimeError):
    pass


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


class Coturn:
    def __init__(self, secret: str, realm: str = "lingolive.test") -> None:
        binary = shutil.which("turnserver")
        if binary is None:
            raise CoturnNotInstalled(f"coturn's turnserver is not installed: {SETUP_HINT}")
        self.binary = binary
        self.secret = secret
        self.realm = realm
        self.address = local_ice_address()
        self.port = _free_udp_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="coturn-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """As ``LL_ICE_SERVERS`` takes it: no user, so credentials come from the secret."""
        return f"turn:{self.address}:{self.port}?transport=udp"

    @property
    def log_path(self) -> Path:
        return self.workdir / "turnserver.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> Coturn:
        args = [
            self.binary,
            "-n",  # no configuration file: only these options
            f"--listening-ip={self.address}",
            f"--relay-ip={self.address}",
            f"--listening-port={self.port}",
            "--min-port=49160",
            "--max-port=49260",
            "--use-auth-secret",
            f"--static-auth-secret={self.secret}",
            f"--realm={self.realm}",
            "--no-tls",
            "--no-dtls",
            "--no-tcp",
            "--no-cli",
            "--no-multicast-peers",
            "--fingerprint",
            "--log-file=stdout",
            f"--pidfile={self.workdir / 'turnserver.pid'}",
            f"--userdb={self.workdir / 'turndb'}",
        ]
        out = self.log_path.open("wb")
        self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited ({self.proc.returncode}):\n{self.log()}")
            if "SQLite DB connection success" in self.log():
                time.sleep(0.2)
                return self
            time.sleep(0.1)
        raise RuntimeError(f"turnserver did not start:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Coturn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
