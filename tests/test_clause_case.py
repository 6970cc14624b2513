"""A clause that goes on a sentence is translated in the case it was said in."""

from __future__ import annotations

from lingolive.engines.registry import Engines
from lingolive.pipeline.renderer import continued_case


def test_apertium_capitalizes_a_clause_and_the_renderer_undoes_it(engines: Engines) -> None:
    """Apertium takes every input for a sentence: the second clause of "…were built more
    than a century ago." comes back capitalized, and would read "…más Que hace un siglo."
    in a caption line or an export that joins the clauses of a sentence."""
    clause = "than a century ago."
    translated = engines.translator.translate(clause, "en", "es")
    assert translated.startswith("Que"), translated
    assert continued_case(clause, translated) == "que" + translated[3:]


def test_only_a_source_in_lower_case_lowers_its_translation() -> None:
    assert continued_case("and they can hear it", "Y pueden oírlo") == "y pueden oírlo"
    assert continued_case("When a sensor hears", "Cuándo un sensor") == "Cuándo un sensor"
    assert continued_case("I think so", "Creo que sí") == "Creo que sí"
    assert continued_case("¿where is it?", "¿Dónde está?") == "¿Dónde está?"
    assert continued_case("", "") == ""
