"""Silero VAD v6 run with onnxruntime, from the ONNX file that faster-whisper ships.

The ``silero-vad`` pip package needs torch (gigabytes); faster-whisper already carries the
ONNX export, so we run it directly. The model is recurrent: each 512-sample window (32 ms at
16 kHz) is fed with the last 64 samples of the previous window as context plus the LSTM
state, exactly as the streaming reference does, which is why state lives in a ``VADStream``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from lingolive.engines.base import EngineUnavailable, Float32Array

WINDOW = 512
CONTEXT = 64


def silero_model_path() -> Path:
    """Path of the Silero VAD ONNX file inside the installed faster-whisper package."""
    try:
        import faster_whisper
    except ImportError as exc:  # pragma: no cover - faster-whisper is a core dependency
        raise EngineUnavailable("faster-whisper is not installed") from exc
    path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    if not path.exists():
        raise EngineUnavailable(f"Silero VAD model not found at {path}")
    return path


class SileroStream:
    """State of one audio stream: LSTM h/c and the previous window's tail."""

    def __init__(self, vad: SileroVAD) -> None:
        self._vad = vad
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def probability(self, window: Float32Array) -> float:
        if window.shape != (WINDOW,):
            raise ValueError(f"Silero VAD needs windows of {WINDOW} samples, got {window.shape}")
        batch = np.concatenate([self._context, window]).astype(np.float32)[None, :]
        prob, self._h, self._c = self._vad.run(batch, self._h, self._c)
        self._context = window[-CONTEXT:].astype(np.float32)
        return float(prob)


class SileroVAD:
    """Silero VAD v6 (ONNX): one session shared by all streams, one thread at a time."""

    name = "silero"
    window_samples = WINDOW

    def __init__(self, model_path: Path | None = None) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        # One 32 ms window is tiny: extra threads only add scheduling noise on 2 cores.
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(model_path or silero_model_path()),
            providers=["CPUExecutionProvider"],
            sess_options=opts,
        )
        self._lock = threading.Lock()

    def stream(self) -> SileroStream:
        return SileroStream(self)

    def run(
        self, batch: Float32Array, h: Float32Array, c: Float32Array
    ) -> tuple[float, Float32Array, Float32Array]:
        """One model step; returns (probability, new h, new c)."""
        with self._lock:
            prob, hn, cn = self._session.run(None, {"input": batch, "h": h, "c": c})
        return float(np.asarray(prob).reshape(-1)[0]), hn, cn
