"""Operating the server: metrics, limits, timeouts, origins, JSON logs, TLS, graceful stop."""

from __future__ import annotations

import asyncio
import datetime
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
from lingolive.client import LoopbackClient, PacedFileTrack, load_pcm48
from lingolive.signaling.messages import ErrorCode


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One session at a time, short timeouts, JSON logs, one extra allowed origin."""
    srv = start_server(
        tmp_path_factory.mktemp("strict"),
        LL_MAX_SESSIONS="1",
        LL_CONNECT_TIMEOUT_S="3",
        LL_IDLE_TIMEOUT_S="3",
        LL_LOG_FORMAT="json",
        LL_ALLOWED_ORIGINS="http://allowed.example",
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
        await client.wait_for(lambda e: e["type"] == "timing", 30)
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
        error = await client.wait_for(lambda e: e["type"] == "error", 15)
    finally:
        await client.close()
    assert error["code"] == ErrorCode.IDLE_TIMEOUT, error


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
        error = await client.wait_for(lambda e: e["type"] == "error", 15)
        await client.close()
        code = await asyncio.to_thread(proc.wait, 20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert error["code"] == ErrorCode.SHUTDOWN
    # uvicorn finishes its shutdown, then re-raises the signal (exit by SIGTERM).
    assert code in (0, -signal.SIGTERM)
    log = (tmp_path / "term.log").read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log
