"""STT once, then MT → TTS once per listener language: one speaker's whole pipeline.

Wires a ``StreamingRecognizer`` (which decides what was said and when a phrase is
committed) to one ``Renderer`` per language somebody listens in (each translates and voices
the committed phrases, in order, into its own output). A loopback session has exactly one
listener language, its own (``listen`` changes it mid-session); in a room, languages come
and go with the listeners (``add_language``/``remove_language``), and however many people
listen in one language the phrase is translated and synthesized for it once (LiveKit's
``track × language``). A conversation (two people, one device) has two languages on one
output and sends each phrase to the one it was not spoken in.

Every part runs as its own task, so the next phrase is recognized while the previous one is
spoken. No inference runs on the event loop: engine calls go to the shared ``Workers``
pools. An engine error fails that phrase (a ``StageFailed`` event with its ``segment_id``)
and the session carries on. Everything the cascade has to say goes to one ``EventSink``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from lingolive.config import RecognizerConfig
from lingolive.engines.registry import Engines
from lingolive.engines.selection import Languages, languages_reaching
from lingolive.pipeline.events import EventSink, PhraseCommitted
from lingolive.pipeline.glossary import Glossary
from lingolive.pipeline.keep_up import KeepUp
from lingolive.pipeline.phrase import Phrase
from lingolive.pipeline.playback import SpeechOutput
from lingolive.pipeline.recognizer import StreamingRecognizer
from lingolive.pipeline.renderer import Renderer
from lingolive.pipeline.segmenter import SegmenterEvent
from lingolive.pipeline.workers import Workers


class Cascade:
    """The translation pipeline of one speaker, for every language it is heard in."""

    def __init__(
        self,
        engines: Engines,
        workers: Workers,
        languages: Languages,
        *,
        events: EventSink,
        output: SpeechOutput | None,
        config: RecognizerConfig | None = None,
        glossary: Glossary | None = None,
        first_words: int = 0,
        keep_up: KeepUp | None = None,
    ) -> None:
        """``output`` given: a loopback pipeline speaking ``languages.target`` into it."""
        self._glossary = glossary
        self._first_words = first_words
        self._keep_up = keep_up
        self.languages = languages
        self._engines = engines
        self._workers = workers
        self._events = events
        self.renderers: dict[str, Renderer] = {}
        self._renderer_tasks: dict[str, asyncio.Task[None]] = {}
        self._started = False
        self._output = output
        # Speakers of a language nobody hears any more, finishing what they were given.
        self._retired: list[tuple[Renderer, asyncio.Task[None]]] = []
        self.recognizer = StreamingRecognizer(
            engines.stt,
            workers.recognition,
            None if languages.conversation else languages.source,
            candidates=self._candidates(),
            events=events,
            commit=self._commit,
            ahead=self,
            config=config or RecognizerConfig(),
            glossary=glossary,
            turn=engines.turn,
            turn_pool=workers.turn,
        )
        self._recognize_task: asyncio.Task[None] | None = None
        if output is not None:
            self.add_language(languages.target, languages.voice, output)
            if languages.conversation and languages.source is not None:
                self.add_language(languages.source, languages.source_voice, output)

    def _candidates(self) -> frozenset[str]:
        """What auto-detection may answer by default: a conversation's two languages, else
        the languages that can reach this pipeline's listener (loopback) or any listener
        (a room, until it says which with ``detect_among``)."""
        languages = self.languages
        if languages.conversation and languages.source is not None:
            return frozenset({languages.source, languages.target})
        pairs = self._engines.language_pairs()
        heard = self._engines.stt.languages()
        listeners = {t for _, t in pairs} if self._output is None else {languages.target}
        return languages_reaching(listeners, pairs, heard)

    def detect_among(self, languages: frozenset[str] | None) -> None:
        """A room's auto-detected speaker: detect each phrase's language among ``languages``
        (those that reach its listeners now; None: any). No effect on a speaker whose
        language is known."""
        self.recognizer.candidates = languages

    async def listen(self, language: str, voice: str | None) -> None:
        """A loopback listener now hears ``language``: phrases committed from now on are
        translated into it (one being spoken finishes in the old one)."""
        if self._output is None or self.languages.conversation:
            raise ValueError("only a loopback pipeline changes its one listener language")
        old = self.languages.target
        self.languages = replace(self.languages, target=language, voice=voice)
        self.recognizer.candidates = self._candidates()
        renderer = self.renderers.pop(old, None)
        task = self._renderer_tasks.pop(old, None)
        if renderer is not None and task is not None:
            renderer.finish()  # it speaks what it was given, then stops
            self._retired = [(s, t) for s, t in self._retired if not t.done()]
            self._retired.append((renderer, task))
        self.add_language(language, voice, self._output)

    def say(self, text: str, lang: str) -> None:
        """A typed phrase: committed as if it had been spoken (numbered like the others)."""
        self.recognizer.commit_text(text, lang)

    # -- listener languages -------------------------------------------------------------------

    def add_language(self, language: str, voice: str | None, output: SpeechOutput) -> None:
        """Start translating into ``language``, spoken into ``output`` (no-op if already
        done)."""
        renderer = self.renderers.get(language)
        if renderer is None:
            renderer = Renderer(
                self._engines,
                self._workers,
                language,
                voice,
                events=self._events,
                output=output,
                glossary=self._glossary,
                first_words=self._first_words,
                keep_up=self._keep_up,
            )
            self.renderers[language] = renderer
            if self._started:
                self._renderer_tasks[language] = asyncio.create_task(renderer.run())

    async def remove_language(self, language: str) -> None:
        """Nobody listens in ``language`` any more: stop translating into it."""
        renderer = self.renderers.pop(language, None)
        task = self._renderer_tasks.pop(language, None)
        if renderer is not None:
            renderer.close()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _routes(self, phrase: Phrase) -> list[tuple[str, Renderer]]:
        """The languages ``phrase`` is spoken in, with their speakers."""
        if self.languages.conversation:  # into the other person's language
            spoken = phrase.detected_lang or phrase.source_lang
            return [(lang, s) for lang, s in self.renderers.items() if lang != spoken][:1]
        return list(self.renderers.items())

    def _commit(self, phrase: Phrase) -> None:
        self._events(PhraseCommitted(phrase.segment_id, phrase.text, phrase.detected_lang or ""))
        for language, renderer in self._routes(phrase):
            renderer.say(phrase.for_language(language))  # each records its own stage marks

    def prepare(self, phrase: Phrase) -> None:
        """Recognition expects to commit ``phrase`` as it is: render it ahead, unheard."""
        routes = self._routes(phrase)
        for renderer in self.renderers.values():
            if all(renderer is not s for _, s in routes):
                renderer.withdraw()
        for language, renderer in routes:
            renderer.prepare(phrase.for_language(language))

    def withdraw(self) -> None:
        """The phrase rendered ahead will not be committed as it was."""
        for renderer in self.renderers.values():
            renderer.withdraw()

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._recognize_task = asyncio.create_task(self.recognizer.run(), name="recognize")
        for language, renderer in self.renderers.items():
            self._renderer_tasks[language] = asyncio.create_task(renderer.run(), name="speak")

    def on_event(self, event: SegmenterEvent) -> None:
        self.recognizer.on_event(event)

    async def drain(self) -> None:
        """Finish everything already handed in (file mode, graceful stop)."""
        await self.recognizer.wait_idle()
        for renderer in self.renderers.values():
            renderer.finish()
        await asyncio.gather(*self._renderer_tasks.values())

    async def close(self) -> None:
        """Stop now; phrases in flight are abandoned."""
        self.recognizer.close()
        tasks = [*self._renderer_tasks.values(), *(t for _, t in self._retired)]
        if self._recognize_task is not None:
            tasks.append(self._recognize_task)
        for renderer in [*self.renderers.values(), *(s for s, _ in self._retired)]:
            renderer.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._renderer_tasks.clear()
