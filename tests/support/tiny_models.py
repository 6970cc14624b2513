"""Tiny real models built inside the tests: a SentencePiece tokenizer trained on a few
sentences and a randomly initialised Transformer saved with CTranslate2's spec API.

They exercise the real loading, tokenizing, translating and detokenizing code paths of the
neural MT engine without any download; their output is nonsense, but deterministic for a
seed.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

SENTENCES = [
    "Good morning, I would like to book a table for two people tonight.",
    "Where is the nearest train station?",
    "The meeting starts at ten o'clock tomorrow.",
    "Can you speak a little more slowly, please?",
    "My flight was cancelled because of the weather.",
    "How much does this cost?",
    "I have been waiting for almost an hour.",
    "Thank you very much for your help.",
]


def train_sentencepiece(folder: Path, vocab_size: int = 60) -> Path:
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 4) + "\n")
    prefix = folder / "sp"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        minloglevel=2,
        num_threads=1,
    )
    return prefix.with_suffix(".model")


def build_transformer(folder: Path, vocabulary: list[str], seed: int, d: int = 16) -> None:
    from ctranslate2 import specs

    spec = specs.TransformerSpec.from_config(num_layers=1, num_heads=2)
    rng = np.random.default_rng(seed)
    v = len(vocabulary)
    shapes = {
        "embeddings_0/weight": (v, d),
        "embeddings/weight": (v, d),
        "projection/weight": (v, d),
        "self_attention/linear_0/weight": (3 * d, d),
        "self_attention/linear_1/weight": (d, d),
        "attention/linear_0/weight": (d, d),
        "attention/linear_1/weight": (2 * d, d),
        "attention/linear_2/weight": (d, d),
        "ffn/linear_0/weight": (2 * d, d),
        "ffn/linear_1/weight": (d, 2 * d),
    }
    for name, value in spec.variables().items():
        if value is not None:
            continue
        leaf = name.split("/", 1)[1]
        leaf = leaf.split("/", 1)[1] if leaf.startswith("layer_") else leaf
        if name.endswith("gamma"):
            array = np.ones(d, np.float32)
        elif name.endswith("beta"):
            array = np.zeros(d, np.float32)
        else:
            shape = shapes[leaf]
            array = rng.normal(0, 0.5, shape).astype(np.float32)
        parts = name.split("/")
        target = spec
        for part in parts[:-1]:
            base, _, index = part.rpartition("_")
            if not hasattr(target, part) and index.isdigit():
                target = getattr(target, base)[int(index)]  # layer_0, linear_1, embeddings_0
            else:
                target = getattr(target, part)
        setattr(target, parts[-1], array)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    folder.mkdir(parents=True, exist_ok=True)
    spec.save(str(folder))


def vocabulary_of(sp_model: Path) -> list[str]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(sp_model))
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def tiny_marian(folder: Path, seed: int = 0) -> Path:
    """A Marian-style folder: model.bin + vocabularies + source.spm/target.spm."""
    sp_model = train_sentencepiece(folder / "_sp")
    build_transformer(folder, vocabulary_of(sp_model), seed)
    shutil.copy(sp_model, folder / "source.spm")
    shutil.copy(sp_model, folder / "target.spm")
    return folder


def tiny_argos(path: Path, source: str, target: str, seed: int = 1) -> Path:
    """An Argos Translate package (.argosmodel) with a tiny model inside."""
    work = path.parent / f"_{path.stem}"
    sp_model = train_sentencepiece(work / "_sp")
    build_transformer(work / "model", vocabulary_of(sp_model), seed)
    shutil.copy(sp_model, work / "sentencepiece.model")
    (work / "metadata.json").write_text(
        json.dumps(
            {"package_version": "1.0", "from_code": source, "to_code": target, "type": "translate"}
        )
    )
    with zipfile.ZipFile(path, "w") as archive:
        for file in work.rglob("*"):
            if file.is_file() and "_sp" not in file.parts:
                archive.write(file, f"{path.stem}/{file.relative_to(work)}")
    return path


def tiny_multilingual(folder: Path, kind: str, seed: int = 2) -> Path:
    """An NLLB-200 (``kind="nllb"``) or M2M-100 (``"m2m"``) style folder: one shared
    SentencePiece model and the language tokens in the vocabulary (``eng_Latn`` or
    ``__en__``), which is all that tells the two apart in a converted folder."""
    from lingolive.engines.ctranslate2_mt import NLLB_CODES

    sp_model = train_sentencepiece(folder / "_sp")
    languages = ["en", "es", "fr"]
    tokens = (
        [NLLB_CODES[c] for c in languages] if kind == "nllb" else [f"__{c}__" for c in languages]
    )
    build_transformer(folder, vocabulary_of(sp_model) + tokens, seed)
    shutil.copy(sp_model, folder / "sentencepiece.bpe.model")
    return folder
