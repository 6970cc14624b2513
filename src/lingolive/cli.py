"""The ``lingolive`` command: serve, translate a file, and manage models."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lingolive.config import Settings

if TYPE_CHECKING:
    from lingolive.engines.registry import Engines
    from lingolive.engines.selection import Languages
    from lingolive.file_translate import Cue


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


def _check_input(path: Path) -> str | None:
    """Why ``path`` cannot be translated, or None: checked before any model loads (seconds).

    Opening the container and decoding one frame is cheap and catches what the extension
    does not: a text file named ``.wav``, a video without sound, a truncated download.
    """
    if not path.exists():
        return f"{path}: no such file; give the recording to translate"
    if not path.is_file():
        return f"{path}: not a file; give an audio file (WAV, MP3, Opus, a video's soundtrack…)"
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return f"{path}: has no audio stream; give a recording with sound"
            if next(container.decode(audio=0), None) is None:
                return f"{path}: its audio stream is empty; give a recording with sound"
    except (av.FFmpegError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return f"{path}: not audio FFmpeg can decode ({reason}); give an audio file"
    return None


def _check_writable(path: Path, what: str, suffixes: Sequence[str]) -> str | None:
    """Why ``path`` cannot be written, or None: found now rather than after the translation."""
    if path.suffix.lower() not in suffixes:
        return (
            f"{path}: {what} can be written as {' or '.join(suffixes)} only; "
            f"name it e.g. {path.with_suffix(suffixes[0]).name}"
        )
    folder = path.parent
    if not folder.is_dir():
        return f"{path}: folder {folder} does not exist; create it or write elsewhere"
    if path.is_dir():
        return f"{path}: is a folder; name a file to write"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path}: exists and is read-only; name another file or make it writable"
    try:  # the real test: permissions, a read-only mount, a full quota
        tempfile.NamedTemporaryFile(dir=folder).close()
    except OSError as exc:
        return f"{path}: cannot write in {folder} ({exc.strerror}); pick a folder you can write to"
    return None


def _check_paths(args: argparse.Namespace) -> str | None:
    from lingolive.subtitles import FORMATS

    source, output = Path(args.input), Path(args.output)
    problem = _check_input(source) or _check_writable(output, "the translated speech", [".wav"])
    if problem is None and output.resolve() == source.resolve():
        problem = f"{output}: is the input; name another file for the translation"
    for path in args.subtitles or []:
        problem = problem or _check_writable(Path(path), "subtitles", list(FORMATS))
    return problem


class _Console:
    """Where ``translate`` tells the user things: captions on stdout as phrases finish,
    status lines and the progress bar on stderr.

    The bar is drawn only for a person watching (stderr a terminal, or ``--progress``) and
    never with ``--quiet``; while it is drawn, captions and log lines go above it (tqdm
    clears and redraws it) instead of through it.
    """

    def __init__(self, args: argparse.Namespace, stack: contextlib.ExitStack) -> None:
        self._json = bool(args.json)
        self._quiet = bool(args.quiet)
        self._bar: Any = None
        self._stack = stack
        self._wants_bar = not self._quiet and (args.progress or sys.stderr.isatty())

    def status(self, line: str) -> None:
        if not self._quiet:
            print(line, file=sys.stderr)

    def start_bar(self, total_s: float) -> None:
        if not self._wants_bar:
            return
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        self._bar = self._stack.enter_context(
            tqdm(
                total=round(total_s, 1),
                desc="translated",
                file=sys.stderr,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s "
                "of audio [{elapsed}<{remaining}]",
            )
        )
        self._stack.enter_context(logging_redirect_tqdm())

    def caption(self, caption: Cue) -> None:
        """One finished phrase, flushed at once: a pipe reader sees it now, not at exit."""
        from lingolive.file_translate import caption_record, format_caption

        if self._json:
            line = json.dumps(caption_record(caption), ensure_ascii=False)
        else:
            line = format_caption(caption)
        if self._bar is None:
            print(line, flush=True)
        else:
            self._bar.write(line, file=sys.stdout)
            sys.stdout.flush()

    def progress(self, done_s: float, total_s: float) -> None:
        if self._bar is not None:
            self._bar.update(round(done_s, 1) - self._bar.n)


class _Refused(Exception):
    """The command cannot run as asked (exit code 2); the message names the fix."""


def _languages(engines: Engines, settings: Settings, args: argparse.Namespace) -> Languages:
    """The languages and voice asked for, checked against the loaded engines (``_Refused``)."""
    from lingolive.engines.base import EngineError
    from lingolive.engines.selection import SelectionError, select_languages

    try:
        languages = select_languages(
            engines,
            settings,
            args.source.strip().lower() if args.source else None,  # "auto": detect
            args.target.strip().lower() if args.target else None,
            None,  # --voice is checked below: a path is fine from whoever runs the command
            room=False,
        )
        if args.voice:
            engines.tts.check_voice(languages.target, args.voice)
            languages = replace(languages, voice=args.voice)
    except SelectionError as exc:
        raise _Refused(exc.message) from exc
    except EngineError as exc:
        raise _Refused(str(exc)) from exc
    return languages


def cmd_translate(args: argparse.Namespace) -> int:
    """Check the paths, load the engines, check the languages, translate (each phrase told
    as it finishes), write the files. Exit code 2: nothing was done (a bad path or language
    pair); 1: some phrase failed; 0: all went through."""
    problem = _check_paths(args)
    if problem is not None:
        print(f"lingolive: {problem}", file=sys.stderr)
        return 2

    from lingolive.audio_files import write_wav
    from lingolive.engines.base import MODEL_RATE, EngineUnavailable
    from lingolive.engines.registry import load_engines
    from lingolive.file_translate import read_audio, translate_file
    from lingolive.pipeline.glossary import Glossary
    from lingolive.subtitles import Cue, write_subtitles

    settings = _settings(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t = time.monotonic()
    try:
        engines = load_engines(settings)
    except EngineUnavailable as exc:
        print(f"lingolive: {exc}", file=sys.stderr)
        return 1
    try:
        with contextlib.ExitStack() as stack:
            console = _Console(args, stack)
            try:
                languages = _languages(engines, settings, args)
            except _Refused as exc:
                print(f"lingolive: {exc}", file=sys.stderr)
                return 2
            source, target = languages.source, languages.target
            if source is not None and source != target:
                # so the first caption's MT timing is not the engine's start-up
                engines.translator.translate("Hello.", source, target)
            console.status(f"engines loaded in {time.monotonic() - t:.1f} s")
            audio = read_audio(Path(args.input))
            total_s = len(audio) / MODEL_RATE
            terms: list[str | dict[str, object]] = [
                term.strip() for term in (args.glossary or "").split(",") if term.strip()
            ]
            console.start_bar(total_s)
            t = time.monotonic()
            result = asyncio.run(
                translate_file(
                    engines,
                    settings,
                    audio,
                    languages,
                    glossary=Glossary.parse(terms),
                    on_caption=console.caption,
                    on_progress=console.progress,
                )
            )
            elapsed = time.monotonic() - t
        written = [args.output]
        write_wav(Path(args.output), result.audio, result.rate)
        cues = [Cue(c.start_s, c.end_s, c.translation) for c in result.captions]
        for path in args.subtitles or []:
            count = write_subtitles(Path(path), cues, total_s)
            written.append(f"{path} ({count} cues)")
        console.status(
            f"{len(result.captions)} utterances, {total_s:.1f} s of audio "
            f"translated in {elapsed:.1f} s -> {', '.join(written)}"
        )
        return 0 if all(c.error is None for c in result.captions) else 1
    finally:
        engines.close()


def cmd_models(args: argparse.Namespace) -> int:
    from lingolive.engines.base import EngineUnavailable

    settings = _settings(args)
    try:
        if args.action == "prepare":
            from lingolive.engines.smart_turn import fetch_smart_turn
            from lingolive.engines.whisper_models import assemble_base

            print(f"whisper base: {assemble_base(settings.cache_dir)}")
            try:
                print(f"end of turn: {fetch_smart_turn(settings.cache_dir)}")
            except EngineUnavailable as exc:  # offline: the server decides without it
                print(f"end of turn: not installed ({exc}); phrases end by silence and text")
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


def _version() -> str:
    """The installed distribution's version (pyproject.toml), not a second copy of it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lingolive")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lingolive", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=f"lingolive {_version()} (GPL-3.0-or-later)"
    )
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
    tr.add_argument(
        "--source", help="spoken language, or `auto` to detect it per phrase (LL_SOURCE_LANG)"
    )
    tr.add_argument("--target", help="language to speak (LL_TARGET_LANG)")
    tr.add_argument("--voice", help="voice name or .onnx path (LL_TTS_VOICE)")
    tr.add_argument("--stt-model", dest="stt_model", help="Whisper model (LL_STT_MODEL)")
    tr.add_argument("--glossary", help="names and terms to get right, comma-separated")
    tr.add_argument(
        "--subtitles",
        action="append",
        metavar="OUT.srt|OUT.vtt",
        help="also write the translation as subtitles timed on the input (repeatable)",
    )
    tr.add_argument(
        "--json",
        action="store_true",
        help="print each phrase as one JSON object per line instead of the readable form",
    )
    tr.add_argument(
        "--progress",
        action="store_true",
        help="show the progress bar even when stderr is not a terminal",
    )
    tr.add_argument(
        "--quiet", action="store_true", help="no progress bar and no status lines on stderr"
    )
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
