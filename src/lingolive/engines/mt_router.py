"""Per-pair choice of translation engine: neural models where configured, Apertium elsewhere.

``LL_MT_MODELS`` names CTranslate2 models for some pairs; those pairs go to them, every other
pair stays on the default engine, so adding one good model never removes a pair.
"""

from __future__ import annotations

from lingolive.engines.base import EngineError, Translator


class RoutedTranslator:
    name = "routed"

    def __init__(self, engines: list[Translator]) -> None:
        """``engines`` in order of preference: the first that has a pair translates it."""
        self.engines = engines
        self._routes: dict[tuple[str, str], Translator] = {}
        for engine in engines:
            for pair in engine.pairs():
                self._routes.setdefault(pair, engine)

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._routes)

    def engine_for(self, source: str, target: str) -> Translator | None:
        return self._routes.get((source, target))

    def running_pipelines(self) -> dict[tuple[str, str], int]:
        """The routed engines' running process pipelines (Apertium's), for the status."""
        running: dict[tuple[str, str], int] = {}
        for engine in self.engines:
            method = getattr(engine, "running_pipelines", None)
            if callable(method):
                running.update(
                    (pair, pid)
                    for pair, pid in method().items()
                    if self._routes.get(pair) is engine
                )
        return running

    def translate(self, text: str, source: str, target: str) -> str:
        if source == target:
            return text
        engine = self._routes.get((source, target))
        if engine is None:
            raise EngineError(f"no translation engine for {source}->{target}")
        return engine.translate(text, source, target)

    def close(self) -> None:
        for engine in self.engines:
            engine.close()
