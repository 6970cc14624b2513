"""The CTranslate2 MT engine on tiny models built here (no download, no fake)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lingolive.config import Settings
from lingolive.engines.base import EngineError, EngineUnavailable
from lingolive.engines.ctranslate2_mt import CTranslate2Translator, ModelRef, parse_models
from lingolive.engines.registry import build_translator
from support.tiny_models import tiny_argos, tiny_marian, tiny_multilingual


@pytest.fixture(scope="module")
def marian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_marian(tmp_path_factory.mktemp("marian"), seed=7)


def test_marian_model_translates_deterministically(marian: Path, tmp_path: Path) -> None:
    engine = CTranslate2Translator([ModelRef(str(marian), "en", "es")], cache_dir=tmp_path)
    twin_folder = tiny_marian(tmp_path / "twin", seed=7)
    twin = CTranslate2Translator([ModelRef(str(twin_folder), "en", "es")], cache_dir=tmp_path)
    other = CTranslate2Translator(
        [ModelRef(str(tiny_marian(tmp_path / "o", seed=8)), "en", "es")], cache_dir=tmp_path
    )
    try:
        text = "Good morning, I would like to book a table."
        out = engine.translate(text, "en", "es")
        assert isinstance(out, str) and out  # tokenized, decoded, detokenized
        assert "▁" not in out and "</s>" not in out
        assert engine.translate(text, "en", "es") == out  # deterministic
        assert twin.translate(text, "en", "es") == out  # same seed, same model
        assert other.translate(text, "en", "es") != out
        assert engine.pairs() == frozenset({("en", "es")})
        assert engine.translate("", "en", "es") == ""
        with pytest.raises(EngineError):
            engine.translate(text, "en", "fr")
    finally:
        for e in (engine, twin, other):
            e.close()


def test_concurrent_requests_are_batched(marian: Path, tmp_path: Path) -> None:
    engine = CTranslate2Translator([ModelRef(str(marian), "en", "es")], cache_dir=tmp_path)
    try:
        sentences = [f"Where is the station number {i}?" for i in range(12)]
        with ThreadPoolExecutor(12) as pool:
            outs = list(pool.map(lambda s: engine.translate(s, "en", "es"), sentences))
        alone = [engine.translate(s, "en", "es") for s in sentences[:3]]
        model = engine._models[0]
    finally:
        engine.close()
    assert outs[:3] == alone  # batching does not change results
    assert model.batches < 12 + 3  # some of the 12 concurrent requests shared a batch


def test_argos_package(tmp_path: Path) -> None:
    package = tiny_argos(tmp_path / "translate-en_fr-1_0.argosmodel", "en", "fr")
    engine = CTranslate2Translator([ModelRef(str(package))], cache_dir=tmp_path / "cache")
    try:
        assert engine.pairs() == frozenset({("en", "fr")})
        assert engine.translate("Thank you very much.", "en", "fr")
        assert (tmp_path / "cache" / "argos" / package.stem / ".complete").exists()
    finally:
        engine.close()


@pytest.mark.usefixtures("no_internet")
def test_hub_without_network_fails_fast_and_clearly(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(EngineUnavailable, match="could not fetch translation model"):
        CTranslate2Translator(
            [ModelRef("gaudi/opus-mt-en-es-ctranslate2", "en", "es")], cache_dir=tmp_path
        )
    assert time.monotonic() - start < 30


def test_models_override_apertium_per_pair(marian: Path, tmp_path: Path) -> None:
    settings = Settings(mt_models=f"en-es={marian}", cache_dir=tmp_path)
    translator = build_translator(settings)
    try:
        pairs = translator.pairs()
        assert ("en", "es") in pairs and ("es", "en") in pairs  # neural added, Apertium kept
        assert translator.engine_for("en", "es").name == "ct2"  # type: ignore[attr-defined]
        assert translator.engine_for("es", "en").name == "apertium"  # type: ignore[attr-defined]
        assert translator.translate("Muchas gracias.", "es", "en") == "Thank you very much."
    finally:
        translator.close()


def test_parse_models() -> None:
    refs = parse_models("en-es=/m/opus, *=nllb-ct2 , /p/x.argosmodel")
    assert [(r.location, r.source, r.target) for r in refs] == [
        ("/m/opus", "en", "es"),
        ("nllb-ct2", None, None),
        ("/p/x.argosmodel", None, None),
    ]
    with pytest.raises(ValueError):
        parse_models("english=/m")


@pytest.mark.parametrize("kind", ["nllb", "m2m"])
def test_multilingual_model_forces_the_target_language(kind: str, tmp_path: Path) -> None:
    """One NLLB/M2M-style model serves every pair; the target language token is forced as
    the first decoded token (so the output differs per target) and never reaches the text."""
    folder = tiny_multilingual(tmp_path / kind, kind)
    engine = CTranslate2Translator([ModelRef(str(folder))], cache_dir=tmp_path)
    try:
        model = engine._models[0]
        assert model.kind == kind
        tokens, prefix = model._tokens("Where is the station?", "en", "es")
        tag = {"nllb": ("eng_Latn", "spa_Latn"), "m2m": ("__en__", "__es__")}[kind]
        assert (tokens[0], tokens[-1], prefix) == (tag[0], "</s>", [tag[1]])
        assert {("en", "es"), ("es", "en"), ("en", "fr")} <= engine.pairs()
        text = "Where is the nearest train station?"
        to_es = engine.translate(text, "en", "es")
        assert to_es and engine.translate(text, "en", "es") == to_es  # deterministic
        assert engine.translate(text, "en", "fr") != to_es  # the target token steers decoding
        for out in (to_es, engine.translate(text, "es", "en")):
            assert not any(t in out for t in ("Latn", "__", "</s>", "▁"))
    finally:
        engine.close()
