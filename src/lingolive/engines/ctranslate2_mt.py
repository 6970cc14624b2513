"""Neural translation with CTranslate2: MarianMT/Opus-MT, NLLB-200 / M2M-100, Argos packages.

No pip or Debian package ships these weights, so this engine is for users who have them: a
local CTranslate2 model folder, a hub id of a CTranslate2-converted model (fetched once with
``huggingface_hub`` when the network allows; a clear error in seconds when it does not), or
an Argos Translate ``.argosmodel`` file. One engine, three conventions that differ only in
the tokens around the text:

* ``marian`` (Opus-MT): ``source.spm``/``target.spm``; source pieces + ``</s>``.
* ``nllb`` / ``m2m``: one SentencePiece model; source ``[lang] pieces </s>``, decoding
  forced to start with the target language token.
* ``argos``: an ``.argosmodel`` zip (``model/``, ``sentencepiece.model``, ``metadata.json``).

int8 on CPU. Requests that arrive together (several sessions) are translated in one batch:
a single thread owns the model and drains whatever is queued, up to ``max_batch``.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import zipfile
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lingolive.engines.base import EngineError, EngineUnavailable

log = logging.getLogger(__name__)

Kind = Literal["marian", "nllb", "m2m", "argos"]

#: ISO 639-1 -> NLLB-200 language token.
NLLB_CODES = {
    "en": "eng_Latn",
    "es": "spa_Latn",
    "fr": "fra_Latn",
    "ca": "cat_Latn",
    "pt": "por_Latn",
    "it": "ita_Latn",
    "de": "deu_Latn",
    "nl": "nld_Latn",
    "gl": "glg_Latn",
    "eu": "eus_Latn",
    "ro": "ron_Latn",
    "pl": "pol_Latn",
    "sv": "swe_Latn",
    "da": "dan_Latn",
    "no": "nob_Latn",
    "fi": "fin_Latn",
    "ru": "rus_Cyrl",
    "uk": "ukr_Cyrl",
    "bg": "bul_Cyrl",
    "cs": "ces_Latn",
    "el": "ell_Grek",
    "tr": "tur_Latn",
    "ar": "arb_Arab",
    "he": "heb_Hebr",
    "hi": "hin_Deva",
    "zh": "zho_Hans",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
    "vi": "vie_Latn",
    "id": "ind_Latn",
}


@dataclass(frozen=True)
class ModelRef:
    """One configured model: which pairs it serves and where it is."""

    location: str  # folder, .argosmodel file or hub id
    source: str | None = None  # None for multilingual models
    target: str | None = None


def parse_models(spec: str) -> list[ModelRef]:
    """``en-es=/models/opus-mt-en-es,*=facebook-nllb-ct2,/x/en_fr.argosmodel``."""
    refs = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if "=" not in part:
            refs.append(ModelRef(part))  # an .argosmodel names its own pair
            continue
        pair, location = (x.strip() for x in part.split("=", 1))
        if pair == "*":
            refs.append(ModelRef(location))
        elif "-" in pair:
            source, target = pair.split("-", 1)
            refs.append(ModelRef(location, source.lower(), target.lower()))
        else:
            raise ValueError(f"bad LL_MT_MODELS entry {part!r}: expected SRC-TGT=MODEL or *=MODEL")
    return refs


def fetch_from_hub(repo_id: str, cache_dir: Path) -> Path:
    """Download a CTranslate2 model repository (needs internet; fails fast without it)."""
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, cache_dir=str(cache_dir / "hub")))
    except Exception as exc:
        raise EngineUnavailable(
            f"could not fetch translation model {repo_id!r} from the Hugging Face hub "
            f"({type(exc).__name__}: {exc}). Offline, give a local CTranslate2 folder or an "
            ".argosmodel file in LL_MT_MODELS."
        ) from exc


def unpack_argos(package: Path, cache_dir: Path) -> Path:
    """Extract an ``.argosmodel`` once into the cache; returns its folder."""
    target = cache_dir / "argos" / package.stem
    marker = target / ".complete"
    if not marker.exists():
        with zipfile.ZipFile(package) as archive:
            names = archive.namelist()
            root = names[0].split("/")[0] if names and "/" in names[0] else ""
            target.mkdir(parents=True, exist_ok=True)
            for name in names:
                rel = name[len(root) + 1 :] if root and name.startswith(root + "/") else name
                if not rel or rel.endswith("/"):
                    continue
                dest = (target / rel).resolve()
                if target.resolve() not in dest.parents:
                    raise EngineUnavailable(f"{package}: unsafe path {name!r} in the archive")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(archive.read(name))
        marker.write_text("ok\n")
    return target


class _Model:
    """One CTranslate2 translator and its tokenizers, owned by one batching thread."""

    def __init__(
        self,
        folder: Path,
        kind: Kind,
        *,
        device: str,
        compute_type: str,
        threads: int,
        max_batch: int,
    ) -> None:
        import ctranslate2

        try:
            import sentencepiece as spm
        except ImportError as exc:
            raise EngineUnavailable(
                "neural MT needs SentencePiece: pip install 'lingolive[neural]'"
            ) from exc

        self.kind = kind
        self.folder = folder
        model_dir = folder / "model" if kind == "argos" else folder
        if not (model_dir / "model.bin").exists():
            raise EngineUnavailable(f"{model_dir} is not a CTranslate2 model (no model.bin)")
        self.translator = ctranslate2.Translator(
            str(model_dir),
            device=device,
            compute_type=compute_type,
            inter_threads=1,
            intra_threads=threads,
        )
        if kind == "marian":
            self.source_sp = spm.SentencePieceProcessor(model_file=str(folder / "source.spm"))
            self.target_sp = spm.SentencePieceProcessor(model_file=str(folder / "target.spm"))
        else:
            name = next(
                (
                    n
                    for n in ("sentencepiece.model", "sentencepiece.bpe.model", "spm.model")
                    if (folder / n).exists()
                ),
                None,
            )
            if name is None:
                raise EngineUnavailable(f"{folder}: no SentencePiece model found")
            self.source_sp = self.target_sp = spm.SentencePieceProcessor(
                model_file=str(folder / name)
            )
        self._max_batch = max_batch
        self._queue: queue.Queue[tuple[list[str], list[str] | None, Future[str]] | None] = (
            queue.Queue()
        )
        self._thread = threading.Thread(target=self._serve, name="ll-ct2-mt", daemon=True)
        self._thread.start()
        self.batches = 0  # how many translate_batch calls (tests check batching)

    def _tokens(self, text: str, source: str, target: str) -> tuple[list[str], list[str] | None]:
        pieces: list[str] = self.source_sp.encode(text, out_type=str)
        if self.kind == "marian":
            return [*pieces, "</s>"], None
        if self.kind == "nllb":
            return ([NLLB_CODES[source], *pieces, "</s>"], [NLLB_CODES[target]])
        if self.kind == "m2m":
            return ([f"__{source}__", *pieces, "</s>"], [f"__{target}__"])
        return pieces, None

    def translate(self, text: str, source: str, target: str) -> str:
        tokens, prefix = self._tokens(text, source, target)
        done: Future[str] = Future()
        self._queue.put((tokens, prefix, done))
        return done.result(timeout=60)

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            try:
                prefixes = [p for _, p, _ in batch]
                results = self.translator.translate_batch(
                    [t for t, _, _ in batch],
                    target_prefix=prefixes if any(p is not None for p in prefixes) else None,
                    beam_size=2,
                    # Real translations stay near the source length; stop runaway loops.
                    max_decoding_length=min(256, 3 * max(len(t) for t, _, _ in batch) + 10),
                )
                self.batches += 1
                for (_, prefix, done), result in zip(batch, results, strict=True):
                    out = result.hypotheses[0]
                    if prefix:
                        out = out[len(prefix) :]
                    done.set_result(self._detokenize(out))
            except Exception as exc:  # every waiting caller hears about it
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)

    def _detokenize(self, pieces: list[str]) -> str:
        pieces = [p for p in pieces if p not in ("</s>", "<s>", "<pad>")]
        return str(self.target_sp.decode(pieces)).strip()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)


def _kind_of(folder: Path, location: str) -> Kind:
    """Which token convention a model folder follows.

    A converted NLLB or M2M-100 folder carries no model-type field (CTranslate2's
    ``config.json`` holds only special tokens), but its vocabulary names the languages:
    ``eng_Latn`` or ``__en__``. The location's name decides only when no vocabulary is found.
    """
    if location.endswith(".argosmodel"):
        return "argos"
    if (folder / "source.spm").exists():
        return "marian"
    for name in ("shared_vocabulary", "target_vocabulary"):
        for suffix in (".json", ".txt"):
            vocabulary = folder / f"{name}{suffix}"
            if vocabulary.exists():
                text = vocabulary.read_text(encoding="utf-8", errors="replace")
                if "__en__" in text:
                    return "m2m"
                if "eng_Latn" in text:
                    return "nllb"
    return "m2m" if "m2m" in location.lower() else "nllb"


class CTranslate2Translator:
    """Translator over the configured CTranslate2 models (see module doc)."""

    name = "ct2"

    def __init__(
        self,
        refs: list[ModelRef],
        *,
        cache_dir: Path,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 2,
        max_batch: int = 8,
        allow_download: bool = True,
    ) -> None:
        if not refs:
            raise EngineUnavailable("no translation models configured (LL_MT_MODELS)")
        self._routes: dict[tuple[str, str], _Model] = {}
        self._models: list[_Model] = []
        self.sources: dict[str, str] = {}
        for ref in refs:
            folder, where = self._locate(ref.location, cache_dir, allow_download)
            kind = _kind_of(folder, ref.location)
            model = _Model(
                folder,
                kind,
                device=device,
                compute_type=compute_type,
                threads=threads,
                max_batch=max_batch,
            )
            self._models.append(model)
            for pair in self._pairs_of(model, ref, folder):
                self._routes.setdefault(pair, model)
                self.sources[f"{pair[0]}->{pair[1]}"] = f"{kind}: {where}"

    @staticmethod
    def _locate(location: str, cache_dir: Path, allow_download: bool) -> tuple[Path, str]:
        path = Path(location).expanduser()
        if path.suffix == ".argosmodel":
            if not path.exists():
                raise EngineUnavailable(f"Argos package {path} not found")
            return unpack_argos(path, cache_dir), f"argos package {path}"
        if path.is_dir():
            return path, f"local folder {path}"
        if path.is_absolute() or location.startswith("."):
            raise EngineUnavailable(f"translation model folder {path} not found")
        if not allow_download:
            raise EngineUnavailable(f"translation model {location!r} is not installed locally")
        return fetch_from_hub(location, cache_dir), f"hub: {location}"

    @staticmethod
    def _pairs_of(model: _Model, ref: ModelRef, folder: Path) -> list[tuple[str, str]]:
        if model.kind == "argos":
            meta = json.loads((folder / "metadata.json").read_text())
            return [(meta["from_code"], meta["to_code"])]
        if ref.source and ref.target:
            return [(ref.source, ref.target)]
        codes = list(NLLB_CODES)  # M2M-100 uses the same ISO codes in its tokens
        return [(s, t) for s in codes for t in codes if s != t]

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._routes)

    def translate(self, text: str, source: str, target: str) -> str:
        if source == target:
            return text
        model = self._routes.get((source, target))
        if model is None:
            raise EngineError(f"no CTranslate2 model for {source}->{target}")
        if not text.strip():
            return ""
        return model.translate(text, source, target)

    def close(self) -> None:
        for model in self._models:
            model.close()
