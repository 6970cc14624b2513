"""Build the configured engines by name, and say which language pairs they serve together.

Engines are chosen by name through ``Settings`` (``LL_STT_ENGINE=whisper`` …) so a user swaps
one without touching code; adding an engine means adding one branch to a ``_build_*``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from lingolive.config import Settings
from lingolive.engines.base import STT, TTS, VAD, EngineUnavailable, Translator, TurnDetector
from lingolive.languages import language_name

log = logging.getLogger(__name__)


@runtime_checkable
class RunsPipelines(Protocol):
    """A translator that runs processes per pair (Apertium), and can say which run now."""

    def running_pipelines(self) -> dict[tuple[str, str], int]: ...


@dataclass
class Engines:
    """The loaded engines of one server process."""

    vad: VAD
    stt: STT
    translator: Translator
    tts: TTS
    #: Hears whether a phrase is finished (None: not installed or off; ends by silence).
    turn: TurnDetector | None = None
    load_seconds: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    #: Translation pairs started at start-up and kept warm (``warm_pairs``).
    warm_pairs: list[tuple[str, str]] = field(default_factory=list)

    def running_pipelines(self) -> dict[tuple[str, str], int]:
        """Translation pairs whose process pipeline runs now → its pid (none for engines
        that run in this process)."""
        if isinstance(self.translator, RunsPipelines):
            return self.translator.running_pipelines()
        return {}

    def language_pairs(self) -> list[tuple[str, str]]:
        """(source, target) pairs that work end to end: heard, translated and spoken."""
        heard = self.stt.languages()
        spoken = set(self.tts.voices())
        return sorted((s, t) for (s, t) in self.translator.pairs() if s in heard and t in spoken)

    def pairs_text(self) -> str:
        return ", ".join(f"{s}->{t}" for s, t in self.language_pairs())

    def describe_pairs(self) -> list[dict[str, str]]:
        return [
            {
                "source": s,
                "target": t,
                "source_name": language_name(s),
                "target_name": language_name(t),
            }
            for s, t in self.language_pairs()
        ]

    def close(self) -> None:
        for engine in (self.translator, self.tts):
            try:
                engine.close()
            except Exception:  # pragma: no cover - best effort at shutdown
                log.exception("closing %s", engine.name)


def build_turn(settings: Settings) -> TurnDetector | None:
    """The end-of-turn model, or None (off, or its file not fetched: phrases then end by
    silence and text, as before; ``lingolive models prepare`` fetches it)."""
    if settings.turn_model == "off":
        return None
    from lingolive.engines.smart_turn import SmartTurn, model_path

    path = model_path(settings.cache_dir)
    if not path.exists():
        log.warning(
            "end-of-turn model not installed (%s): phrases end after LL_VAD_HANGOVER_MS of "
            "silence; `lingolive models prepare` fetches it",
            path,
        )
        return None
    return SmartTurn(path)


def build_vad(settings: Settings) -> VAD:
    if settings.vad_engine == "silero":
        from lingolive.engines.silero_vad import SileroVAD

        return SileroVAD()
    raise EngineUnavailable(f"unknown VAD engine {settings.vad_engine!r} (known: silero)")


def _whisper(settings: Settings, model: str) -> tuple[STT, str]:
    from lingolive.engines.whisper_models import resolve_model
    from lingolive.engines.whisper_stt import WhisperSTT

    folder, source = resolve_model(model, settings.cache_dir)
    stt = WhisperSTT(
        folder,
        device=settings.stt_device,
        compute_type=settings.stt_compute_type,
        threads=settings.stt_threads,
        beam_size=settings.stt_beam_size,
        source=source,
    )
    return stt, f"whisper {model} ({source})"


def build_stt(settings: Settings) -> tuple[STT, str]:
    if settings.stt_engine != "whisper":
        raise EngineUnavailable(f"unknown STT engine {settings.stt_engine!r} (known: whisper)")
    default, described = _whisper(settings, settings.stt_model)
    if not settings.stt_models:
        return default, described
    from lingolive.engines.stt_router import RoutedSTT

    loaded: dict[str, STT] = {settings.stt_model: default}
    routes: dict[str, STT] = {}
    parts = [described]
    for lang, model in sorted(settings.stt_models.items()):
        if model not in loaded:
            loaded[model], _ = _whisper(settings, model)
        if lang not in loaded[model].languages():
            raise EngineUnavailable(f"Whisper model {model!r} does not transcribe {lang!r}")
        routes[lang] = loaded[model]
        parts.append(f"{lang}: whisper {model}")
    return RoutedSTT(default, routes), "; ".join(parts)


def warm_pairs(settings: Settings, installed: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The installed pairs a server starts at once and never stops for idleness.

    The default pair, because every session that names no languages uses it. Its reverse
    too: the page's swap button, and a two-person call with the default languages (each
    hears the other), use it, and a phrase there must not wait for a pipeline to start.
    Then ``LL_MT_WARM_PAIRS`` (``*``: all). Pairs that are not installed are left out.
    """
    available = set(installed)
    wanted: list[tuple[str, str]] = []
    source, target = settings.source_lang, settings.target_lang
    if source != "auto":
        wanted += [(source, target), (target, source)]
    for name in settings.mt_warm_pairs:
        if name == "*":
            wanted += sorted(available)
            continue
        pair_source, _, pair_target = name.partition("-")
        wanted.append((pair_source, pair_target))
    return [p for i, p in enumerate(wanted) if p in available and p not in wanted[:i]]


def build_translator(settings: Settings) -> Translator:
    neural: Translator | None = None
    if settings.mt_models:
        from lingolive.engines.ctranslate2_mt import CTranslate2Translator, parse_models

        neural = CTranslate2Translator(
            parse_models(settings.mt_models),
            cache_dir=settings.cache_dir,
            device=settings.stt_device,
            compute_type=settings.mt_compute_type,
            threads=settings.stt_threads,
        )
    if settings.mt_engine == "ct2":
        if neural is None:
            raise EngineUnavailable("LL_MT_ENGINE=ct2 needs models in LL_MT_MODELS")
        return neural
    if settings.mt_engine != "apertium":
        raise EngineUnavailable(f"unknown MT engine {settings.mt_engine!r} (known: apertium, ct2)")
    from lingolive.engines.apertium_mt import ApertiumTranslator, discover_modes

    try:
        apertium: Translator | None = ApertiumTranslator(
            idle_s=settings.mt_idle_s, keep_warm=warm_pairs(settings, discover_modes())
        )
    except EngineUnavailable:
        if neural is None:
            raise
        apertium = None
    if neural is None:
        assert apertium is not None
        return apertium
    from lingolive.engines.mt_router import RoutedTranslator

    return RoutedTranslator([e for e in (neural, apertium) if e is not None])


def _fetch_named_piper_voices(settings: Settings, voices_dir: Path) -> None:
    """Piper voices named by id in ``LL_TTS_VOICE`` but not installed: fetch them (online)."""
    from lingolive.engines.piper_tts import VOICE_ID, bundled_voices, pull_voice

    named = set(settings.voice_map().values())
    if settings.tts_voice and "=" not in settings.tts_voice:
        named.add(settings.tts_voice)
    for name in sorted(named):
        installed = name in bundled_voices() or (voices_dir / f"{name}.onnx").exists()
        if VOICE_ID.match(name) and not installed:
            try:
                pull_voice(name, voices_dir)
                log.info("downloaded Piper voice %s", name)
            except EngineUnavailable as exc:
                log.warning("%s", exc)


def build_tts(settings: Settings) -> TTS:
    from lingolive.engines.auto_tts import AutoTTS
    from lingolive.engines.espeak_tts import EspeakTTS
    from lingolive.engines.piper_tts import PiperTTS

    voice_dirs = [settings.cache_dir / "voices"]
    _fetch_named_piper_voices(settings, voice_dirs[0])
    if settings.tts_engine == "edge":
        from lingolive.engines.edge_tts_engine import EdgeTTS
        from lingolive.engines.fallback_tts import FallbackTTS

        offline = build_tts(settings.model_copy(update={"tts_engine": "auto"}))
        voices = {k: v for k, v in settings.voice_map().items() if "Neural" in v}
        return FallbackTTS(EdgeTTS(voices), offline)
    if settings.tts_engine == "piper":
        return PiperTTS(voice_dirs)
    if settings.tts_engine == "espeak":
        return EspeakTTS()
    if settings.tts_engine == "auto":
        piper: PiperTTS | None
        espeak: EspeakTTS | None
        try:
            piper = PiperTTS(voice_dirs)
        except EngineUnavailable as exc:
            log.warning("Piper unavailable: %s", exc)
            piper = None
        try:
            espeak = EspeakTTS()
        except EngineUnavailable as exc:
            log.warning("espeak-ng unavailable: %s", exc)
            espeak = None
        return AutoTTS(piper, espeak)
    raise EngineUnavailable(
        f"unknown TTS engine {settings.tts_engine!r} (known: auto, piper, espeak, edge)"
    )


def load_engines(settings: Settings) -> Engines:
    """Load every configured engine (blocking: call it off the event loop)."""
    timings: dict[str, float] = {}
    t = time.monotonic()
    vad = build_vad(settings)
    timings["vad"] = time.monotonic() - t
    t = time.monotonic()
    stt, stt_source = build_stt(settings)
    timings["stt"] = time.monotonic() - t
    t = time.monotonic()
    translator = build_translator(settings)
    timings["mt"] = time.monotonic() - t
    t = time.monotonic()
    tts = build_tts(settings)
    timings["tts"] = time.monotonic() - t
    t = time.monotonic()
    turn = build_turn(settings)
    timings["turn"] = time.monotonic() - t
    warm = warm_pairs(settings, translator.pairs())
    for name in settings.mt_warm_pairs:
        if name != "*" and tuple(name.split("-", 1)) not in warm:
            log.warning("LL_MT_WARM_PAIRS names %s, which no translator here has", name)
    return Engines(
        vad=vad,
        stt=stt,
        translator=translator,
        tts=tts,
        turn=turn,
        load_seconds=timings,
        sources={
            "vad": vad.name,
            "turn": turn.name if turn is not None else "none (ends by silence)",
            "stt": stt_source,
            "mt": translator.name,
            "tts": tts.name,
        },
        warm_pairs=warm,
    )


def warm_engines(engines: Engines, source: str, target: str, voice: str | None = None) -> float:
    """Run each engine once on the default pair so the first real phrase is not slow."""
    import numpy as np

    t = time.monotonic()
    silence = np.zeros(16_000, dtype=np.float32)
    engines.stt.transcribe(silence, source if source != "auto" else None)
    # The warm pairs only: every other Apertium pair starts on its first phrase, so that an
    # idle server holds two pipelines, not one per installed pair (docs/scaling.md).
    pairs = engines.warm_pairs or ([(source, target)] if source != "auto" else [])
    for pair_source, pair_target in pairs:
        if (pair_source, pair_target) in engines.translator.pairs():
            engines.translator.translate("Hello.", pair_source, pair_target)
    for _ in engines.tts.synthesize("Hola.", target, voice):
        pass
    # Every loaded-on-demand voice (Piper) too: a reply in English must not pay for loading.
    for lang in engines.tts.voices():
        if lang != target and any(t == lang for _, t in engines.language_pairs()):
            for _ in engines.tts.synthesize("Ready.", lang):
                pass
    return time.monotonic() - t
