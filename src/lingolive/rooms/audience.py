"""Who in a room receives which message of a speaker's pipeline: one rule, both kinds.

A speaker's pipeline events become wire messages (``wire_events.to_wire``), tagged with the
speaker (``tagged``), and go to (``audience``):

- **everyone in the room** — what was said and by whom: ``transcript``, ``speaking``, and a
  phrase's own ``error``/``notice`` (those with a ``segment_id``). Every listener follows
  the conversation in its original words, whatever they hear, and a failed phrase is news
  to all who saw it said;
- **the listeners of one language** — a ``translation`` and its ``timing``: they go with
  the speech a listener hears. A listener gets the translation of every phrase into their
  own language and never the others: the page shows only the language it hears
  (client/app.js), so the others would be N languages × every phrase on every socket for
  nothing. The speaker is one of those listeners if they hear that language (the same in
  both kinds: in a Janus room their ``/ws`` socket is just a listener);
- **the speaker alone** — their own session's problems (``error``/``notice`` without a
  ``segment_id``: audio dropped, recognition falling behind). Nobody else can act on them.
  A Janus room's speakers are Janus participants, not LingoLive sockets: there they are
  logged.

docs/protocol.md ("Rooms") states the same rule for clients.
"""

from __future__ import annotations

from dataclasses import dataclass

from lingolive.pipeline.events import PipelineEvent
from lingolive.protocol import (
    ErrorMsg,
    NoticeMsg,
    ServerMessage,
    SpeakerRef,
    TimingMsg,
    TranslationMsg,
)
from lingolive.wire_events import to_wire


@dataclass(frozen=True)
class Audience:
    """Who receives one message: the listeners of ``language``; everyone when it is None;
    the speaker alone when ``speaker`` is set."""

    language: str | None = None
    speaker: bool = False

    def includes(self, hears: str) -> bool:
        """Whether a listener of ``hears`` receives it (never: speaker-only messages)."""
        return not self.speaker and (self.language is None or self.language == hears)


EVERYONE = Audience()
SPEAKER = Audience(speaker=True)


def tagged(message: ServerMessage, speaker: SpeakerRef) -> ServerMessage:
    """``message`` with ``speaker`` (the messages that name one)."""
    if "speaker" in type(message).model_fields:
        return message.model_copy(update={"speaker": speaker})
    return message


def audience(message: ServerMessage) -> Audience:
    """Who in a room receives ``message`` of a speaker's pipeline (the module's rule)."""
    if isinstance(message, TranslationMsg | TimingMsg) and message.lang:
        return Audience(language=message.lang)
    if isinstance(message, ErrorMsg | NoticeMsg) and message.segment_id is None:
        return SPEAKER
    return EVERYONE


def addressed(event: PipelineEvent, speaker: SpeakerRef) -> tuple[ServerMessage, Audience] | None:
    """The wire message of ``event`` tagged with ``speaker``, and who receives it; None if
    clients are not told."""
    message = to_wire(event)
    if message is None:
        return None
    return tagged(message, speaker), audience(message)
