"""How participants of a Janus room are named, and what the names say.

Janus rooms carry no metadata but a display name per publisher, so the name is the
contract between the page, the node and its listeners: a speaker's display ends in their
language (``"Alice [en]"``), the node's feeds are ``"LingoLive · <language>"`` (what a
listener subscribes to), and anything starting with ``LingoLive`` is never translated. Kept
apart from the translator so that the control plane can name feeds without loading aiortc.
"""

from __future__ import annotations

import re

#: What every participant of a LingoLive node shows as its display name starts with.
MARK = "LingoLive"

_LANGUAGE_SUFFIX = re.compile(
    r"^(?P<name>.*?)\s*\[\s*(?P<lang>[A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)\s*\]\s*$"
)


def feed_display(language: str) -> str:
    """The display of the node's feed in ``language``, which listeners pick theirs by."""
    return f"{MARK} · {language}"


def speaker_display(name: str, language: str) -> str:
    """The display a speaker sets so the node knows their language: ``"Alice [en]"``."""
    return f"{name} [{language}]"


def is_lingolive(display: str | None) -> bool:
    """A participant of a LingoLive node (never translated)."""
    return display is not None and (display == MARK or display.startswith(f"{MARK} · "))


def parse_speaker(display: str | None) -> tuple[str | None, str | None]:
    """``"Alice [en]"`` → ``("Alice", "en")``; without a language suffix, ``(display,
    None)``."""
    match = _LANGUAGE_SUFFIX.match(display or "")
    if match is None:
        return display, None
    return match["name"] or None, match["lang"].lower()
