"""Operating the server: metrics, limits, timeouts, origins, JSON logs, TLS, graceful stop."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from conftest import DATA, ROOT, Server, free_port, start_server, stop_server
from lingolive.config import Settings
from lingolive.hosts import host_allowed
from lingolive.protocol import ErrorCode
from lingolive.rtc.peer import TurnSecret, browser_ice_server, long_term_turn_urls
from lingolive.signaling.admission import Admission
from support.client import LoopbackClient, PacedFileTrack, load_pcm48


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One session at a time, short timeouts, JSON logs, one extra allowed origin, a room
    creation key, a 64 KiB message limit, 3 sockets without a session per address."""
    srv = start_server(
        tmp_path_factory.mktemp("strict"),
        LL_MAX_SESSIONS="1",
        LL_CONNECT_TIMEOUT_S="3",
        LL_IDLE_TIMEOUT_S="3",
        LL_LOG_FORMAT="json",
        LL_ALLOWED_ORIGINS="http://allowed.example",
        LL_ROOM_CREATE_KEY="s3cret",
        LL_MAX_MESSAGE_BYTES="65536",
        LL_OFFER_TIMEOUT_S="3",
        LL_MAX_PENDING_PER_ADDRESS="3",
    )
    yield srv
    stop_server(srv)


def metric(text: str, name: str) -> float:
    """Sum of a metric's samples in Prometheus text format."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_move_after_a_real_session(server: Server) -> None:
    async with httpx.AsyncClient() as http:
        before = (await http.get(f"{server.url}/metrics")).text
        client = LoopbackClient(server.ws_url)
        await client.connect(PacedFileTrack(load_pcm48(DATA / "en_piper_02.wav")))
        await client.wait_for(lambda e: e.type == "timing", 30)
        during = (await http.get(f"{server.url}/metrics")).text
        await asyncio.sleep(6)  # watchdog ticks after RTCP reports came: RTT, jitter
        await client.close()
        await asyncio.sleep(0.5)
        after = (await http.get(f"{server.url}/metrics")).text
    assert metric(during, "lingolive_active_sessions") >= 1
    assert metric(after, "lingolive_active_sessions") == 0
    for name in (
        "lingolive_sessions_started_total",
        "lingolive_segments_total",
        "lingolive_first_audio_out_seconds_count",
        'lingolive_stage_seconds_count{stage="stt"}',
        'lingolive_stage_seconds_count{stage="mt"}',
        'lingolive_stage_seconds_count{stage="tts_first_audio"}',
        'lingolive_stage_seconds_count{stage="vad_end_of_speech"}',
        "lingolive_voiced_chunk_seconds_count",
        "lingolive_webrtc_rtt_seconds_count",
        "lingolive_webrtc_jitter_seconds_count",
        "lingolive_stt_batches_total",
        "lingolive_stt_batched_passes_total",
    ):
        assert metric(after, name) > metric(before, name), name
    assert 'lingolive_queue_depth{stage="stt"}' in after
    assert "lingolive_track_underruns_total" in after


async def test_busy_refusal_keeps_the_running_session(strict_server: Server) -> None:
    first = LoopbackClient(strict_server.ws_url)
    await first.connect(PacedFileTrack(load_pcm48(DATA / "en_piper_01.wav")))
    try:
        second = LoopbackClient(strict_server.ws_url)
        with pytest.raises(RuntimeError, match="busy"):
            await second.connect(PacedFileTrack(np.zeros(48_000, np.int16)))
        await second.close()
        # The running session is unaffected: it still translates its whole sentence.
        await first.wait_settled(40)
        _, translated = first.said()
        assert "mesa" in translated and "personas" in translated, translated
    finally:
        await first.close()
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{strict_server.url}/metrics")).text
    assert metric(text, 'lingolive_sessions_refused_total{reason="busy"}') >= 1


async def test_room_creation_checks_the_key_before_the_body(strict_server: Server) -> None:
    """Without the key nothing is read (401 even for a huge or broken body); with it the body
    is read only up to LL_MAX_MESSAGE_BYTES (413), then validated (422)."""
    url = f"{strict_server.url}/rooms"
    key = {"authorization": "Bearer s3cret"}
    big = json.dumps({"glossary": ["x" * 60] * 100}) + " " * 2_000_000
    async with httpx.AsyncClient(timeout=20) as http:
        for body in (b"", b"{not json", big.encode()):
            assert (await http.post(url, content=body)).status_code == 401
        wrong = {"authorization": "Bearer guess"}
        assert (await http.post(url, content=b"{}", headers=wrong)).status_code == 401
        assert (await http.post(url, content=big.encode(), headers=key)).status_code == 413

        async def chunks() -> Any:  # no Content-Length: the limit holds while streaming
            for _ in range(20):
                yield b" " * 10_000

        assert (await http.post(url, content=chunks(), headers=key)).status_code == 413
        assert (await http.post(url, content=b"{not json", headers=key)).status_code == 422
        seven = json.dumps({"glossary": ["a b c d e f g"]})
        assert (await http.post(url, content=seven, headers=key)).status_code == 422
        made = await http.post(url, content=json.dumps({"glossary": ["Xochitl"]}), headers=key)
        assert made.status_code == 200 and made.json()["token"], made.text
        assert (await http.post(url, headers=key)).status_code == 200  # no body at all


async def upgrade_status(server: Server, host: str, origin: str) -> str:
    """The status line the server answers a WebSocket handshake naming ``host``."""
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    line = (await reader.readline()).decode()
    writer.close()
    return line


async def test_dns_rebinding_is_refused(strict_server: Server) -> None:
    """A page on evil.example whose name resolves to this server sends matching Host and
    Origin: the Origin check alone let it in (101). Names must be localhost, an IP address
    or in LL_ALLOWED_HOSTS."""
    assert " 403 " in await upgrade_status(strict_server, "evil.example", "http://evil.example")
    host = strict_server.url.removeprefix("http://")
    assert " 101 " in await upgrade_status(strict_server, host, f"http://{host}")
    async with httpx.AsyncClient() as http:
        refused = await http.get(
            f"{strict_server.url}/api/config", headers={"host": "evil.example"}
        )
        assert refused.status_code == 400 and "LL_ALLOWED_HOSTS" in refused.text
        assert (await http.get(f"{strict_server.url}/api/config")).status_code == 200
        named = await http.get(f"{strict_server.url}/health", headers={"host": "localhost:1"})
        assert named.status_code == 200


def test_host_names() -> None:
    assert host_allowed("127.0.0.1:8000", []) and host_allowed("[::1]:8000", [])
    assert host_allowed("localhost", []) and host_allowed("app.localhost:80", [])
    assert host_allowed("10.0.0.7", []) and not host_allowed("evil.example", [])
    assert host_allowed("LingoLive.example.org:443", ["lingolive.example.org"])
    assert host_allowed("anything", ["*"]) and not host_allowed(None, [])


async def test_sockets_that_never_offer_are_bounded(strict_server: Server) -> None:
    """Sockets without a session: at most LL_MAX_PENDING_PER_ADDRESS from one address, each
    closed after LL_OFFER_TIMEOUT_S; a refused one is told why."""
    idle = [await websockets.connect(strict_server.ws_url) for _ in range(3)]
    try:
        async with websockets.connect(strict_server.ws_url) as extra:
            refused = json.loads(await asyncio.wait_for(extra.recv(), 5))
            assert refused["code"] == ErrorCode.TOO_MANY_CONNECTIONS, refused
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(extra.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        for ws in idle:  # the offer deadline closes each, with the reason
            timeout = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert timeout["code"] == ErrorCode.OFFER_TIMEOUT, timeout
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
    finally:
        for ws in idle:
            await ws.close()
    async with websockets.connect(strict_server.ws_url) as ws:  # slots are free again
        await ws.send('{"type": "nope"}')
        assert json.loads(await ws.recv())["code"] == ErrorCode.UNKNOWN_TYPE


async def test_operator_endpoints_are_not_for_every_visitor() -> None:
    """/metrics and /api/status: from this machine only, or with LL_METRICS_KEY."""
    from lingolive.app import create_app

    async def get(app: Any, path: str, client: str, **headers: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return (await http.get(path, headers=headers)).status_code

    open_app = create_app(Settings())
    for path in ("/metrics", "/api/status"):
        assert await get(open_app, path, "127.0.0.1") == 200
        assert await get(open_app, path, "10.1.2.3") == 403
    keyed = create_app(Settings(metrics_key="k3y"))
    for path in ("/metrics", "/api/status"):
        assert await get(keyed, path, "127.0.0.1") == 401
        assert await get(keyed, path, "10.1.2.3", authorization="Bearer k3y") == 200
    assert await get(keyed, "/health", "10.1.2.3") == 200  # the rest stays public


def test_turn_credentials_are_short_lived() -> None:
    """With LL_TURN_SECRET a page gets coturn REST credentials, never a long-term password."""
    turn = TurnSecret("shared", ttl_s=600)
    server = browser_ice_server("turn:turn.example.org:3478?transport=udp", turn)
    expires, _, tag = server["username"].partition(":")
    assert tag == "lingolive" and 590 < int(expires) - time.time() <= 600
    digest = hmac.new(b"shared", server["username"].encode(), hashlib.sha1).digest()
    assert server["credential"] == base64.b64encode(digest).decode()  # what coturn checks
    assert "username" not in browser_ice_server("stun:stun.example.org:3478", turn)
    written = "turn:alice:pw@turn.example.org:3478"
    assert long_term_turn_urls(["stun:x:1", written]) == [written]


def test_admission_limits() -> None:
    gate = Admission(max_connections=3, max_pending_per_address=2)
    assert gate.admit("a") is None and gate.admit("a") is None
    assert "waiting" in (gate.admit("a") or "")  # a third pending socket from a
    gate.started("a")  # one of a's sockets got a session: it no longer waits
    assert gate.admit("a") is None
    assert "maximum of 3" in (gate.admit("b") or "")  # every connection counts
    gate.closed("a", pending=False)
    assert gate.admit("b") is None
    gate.closed("a", pending=True)
    gate.closed("b", pending=True)
    gate.closed("a", pending=True)
    assert gate.open == 0 and not gate.pending


async def test_origins(strict_server: Server) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(strict_server.ws_url, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    host = strict_server.url.removeprefix("http://")
    for origin in (f"http://{host}", "http://allowed.example", None):
        async with websockets.connect(strict_server.ws_url, origin=origin) as ws:
            await ws.send('{"type": "nope"}')
            assert json.loads(await ws.recv())["code"] == ErrorCode.UNKNOWN_TYPE


async def test_never_connected_session_times_out(strict_server: Server) -> None:
    """An offer whose peer never completes ICE: closed after LL_CONNECT_TIMEOUT_S."""
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    async with websockets.connect(strict_server.ws_url) as ws:
        await ws.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
        messages = [json.loads(m) async for m in ws]  # until the server closes the socket
    await pc.close()
    assert messages[0]["type"] == "answer"
    assert messages[-1]["code"] == ErrorCode.CONNECT_TIMEOUT, messages


class StopsTrack(MediaStreamTrack):
    """Sends one second of audio, then nothing at all: a client whose network died."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._inner = PacedFileTrack(np.zeros(48_000 * 10, np.int16))
        self._count = 0
        self._never = asyncio.Event()

    async def recv(self) -> Any:
        self._count += 1
        if self._count > 50:
            await self._never.wait()
        return await self._inner.recv()


async def test_vanished_client_times_out(strict_server: Server) -> None:
    client = LoopbackClient(strict_server.ws_url)
    await client.connect(StopsTrack())
    try:
        error = await client.wait_for(lambda e: e.type == "error", 15)
    finally:
        await client.close()
    assert error.code == ErrorCode.IDLE_TIMEOUT, error


def test_json_logs_carry_the_session_id(strict_server: Server) -> None:
    lines = [json.loads(line) for line in strict_server.log().splitlines() if line.startswith("{")]
    assert lines, strict_server.log()[:2000]
    session_lines = [entry for entry in lines if entry["session"] != "-"]
    assert session_lines, lines[:20]
    started = [entry for entry in session_lines if "session started" in entry["message"]]
    assert started and all(len(entry["session"]) == 12 for entry in started)


def self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def spawn(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**__import__("os").environ, "LL_HOST": "127.0.0.1", "LL_PORT": str(port)}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lingolive", "serve", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def wait_ready(url: str, proc: subprocess.Popen[bytes], verify: Any = True) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(f"{url}/ready", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("server not ready")


async def test_tls_wss(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    proc = spawn(["--certfile", str(cert), "--keyfile", str(key)], port, tmp_path / "tls.log")
    try:
        context = ssl.create_default_context(cafile=str(cert))
        await asyncio.to_thread(wait_ready, f"https://localhost:{port}", proc, context)
        async with websockets.connect(f"wss://localhost:{port}/ws", ssl=context) as ws:
            pc = RTCPeerConnection()
            pc.addTransceiver("audio", direction="sendrecv")
            await pc.setLocalDescription(await pc.createOffer())
            await ws.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
            answer = json.loads(await ws.recv())
            await pc.close()
        assert answer["type"] == "answer"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def test_sigterm_tells_clients_and_exits(tmp_path: Path) -> None:
    port = free_port()
    proc = spawn([], port, tmp_path / "term.log")
    try:
        await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}", proc)
        client = LoopbackClient(f"ws://127.0.0.1:{port}/ws")
        await client.connect(PacedFileTrack(np.zeros(48_000 * 30, np.int16)))
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        error = await client.wait_for(lambda e: e.type == "error", 15)
        await client.close()
        code = await asyncio.to_thread(proc.wait, 20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert error.code == ErrorCode.SHUTDOWN
    # uvicorn finishes its shutdown, then re-raises the signal (exit by SIGTERM).
    assert code in (0, -signal.SIGTERM)
    log = (tmp_path / "term.log").read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log
