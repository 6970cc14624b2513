"""The ``lingolive`` command: serve, translate a file, and manage models."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from lingolive.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    for name in ("host", "port", "stt_model"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)  # type: ignore[arg-type]


def cmd_serve(args: argparse.Namespace) -> int:
    from lingolive.serve import ServeOptions, serve

    serve(
        _settings(args),
        ServeOptions(certfile=args.certfile, keyfile=args.keyfile, workers=args.workers),
    )
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from lingolive.audio_files import write_wav
    from lingolive.engines.registry import load_engines
    from lingolive.engines.selection import Languages
    from lingolive.file_translate import format_caption, read_audio, translate_file
    from lingolive.pipeline.glossary import Glossary

    settings = _settings(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    source = args.source or settings.source_lang
    target = args.target or settings.target_lang
    t = time.monotonic()
    engines = load_engines(settings)
    try:
        pairs = engines.language_pairs()
        if source != "auto" and (source, target) not in pairs:
            print(
                f"lingolive: language pair {source}->{target} is not supported here; "
                f"supported: {engines.pairs_text()}",
                file=sys.stderr,
            )
            return 2
        if source != "auto":  # so the first caption's MT timing is not the engine's start-up
            engines.translator.translate("Hello.", source, target)
        print(f"engines loaded in {time.monotonic() - t:.1f} s", file=sys.stderr)
        audio = read_audio(Path(args.input))
        languages = Languages(
            source=None if source == "auto" else source,
            target=target,
            voice=args.voice or settings.default_voice(target),
        )
        t = time.monotonic()
        terms: list[str | dict[str, object]] = [
            t.strip() for t in (args.glossary or "").split(",") if t.strip()
        ]
        result = asyncio.run(
            translate_file(engines, settings, audio, languages, glossary=Glossary.parse(terms))
        )
        elapsed = time.monotonic() - t
        for caption in result.captions:
            print(format_caption(caption))
        write_wav(Path(args.output), result.audio, result.rate)
        print(
            f"{len(result.captions)} utterances, {len(audio) / 16000:.1f} s of audio "
            f"translated in {elapsed:.1f} s -> {args.output}",
            file=sys.stderr,
        )
        return 0 if all(c.error is None for c in result.captions) else 1
    finally:
        engines.close()


def cmd_models(args: argparse.Namespace) -> int:
    from lingolive.engines.base import EngineUnavailable

    settings = _settings(args)
    try:
        if args.action == "prepare":
            from lingolive.engines.whisper_models import assemble_base

            print(f"whisper base: {assemble_base(settings.cache_dir)}")
        elif args.action == "list":
            from lingolive.inventory import inventory

            print("\n".join(inventory(settings).lines()))
        elif args.action == "check":
            from lingolive.inventory import check

            print("\n".join(check(settings)))
        elif args.action == "pull":
            from lingolive.inventory import pull

            if not args.name:
                print(
                    "lingolive: models pull needs a NAME (whisper:small, piper:VOICE, mt:HUB_ID)",
                    file=sys.stderr,
                )
                return 2
            print(pull(settings, args.name))
    except EngineUnavailable as exc:
        print(f"lingolive: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lingolive", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (page at http://HOST:PORT/)")
    serve.add_argument("--host", help="interface to bind (LL_HOST, default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (LL_PORT, default 8000)")
    serve.add_argument("--certfile", help="TLS certificate (PEM) for https/wss")
    serve.add_argument("--keyfile", help="TLS private key (PEM)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port, each with its own models (default 1)",
    )
    serve.set_defaults(func=cmd_serve)

    tr = sub.add_parser("translate", help="translate a speech file to a speech file")
    tr.add_argument("input", help="audio file (any format ffmpeg reads)")
    tr.add_argument("output", help="WAV file to write (48 kHz mono)")
    tr.add_argument("--source", help="spoken language, or `auto` (LL_SOURCE_LANG)")
    tr.add_argument("--target", help="language to speak (LL_TARGET_LANG)")
    tr.add_argument("--voice", help="voice name (LL_TTS_VOICE)")
    tr.add_argument("--stt-model", dest="stt_model", help="Whisper model (LL_STT_MODEL)")
    tr.add_argument("--glossary", help="names and terms to get right, comma-separated")
    tr.set_defaults(func=cmd_translate)

    models = sub.add_parser(
        "models", help="list installed models and working pairs, check them, pull new ones"
    )
    models.add_argument("action", choices=["list", "check", "pull", "prepare"])
    models.add_argument("name", nargs="?", help="with pull: whisper:SIZE, piper:VOICE, mt:HUB_ID")
    models.set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
