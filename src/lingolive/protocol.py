"""Every message on the ``/ws`` signaling socket, as pydantic models.

This module *is* the wire contract that ``docs/protocol.md`` documents: a field added here
and not there is a bug. Client messages are parsed through one discriminated union so that an
unknown ``type`` or a wrong field is rejected with a precise error before any code acts on it;
server messages have one too (``SERVER_MESSAGE``), for a client written in Python.

A leaf: it imports nothing of LingoLive. The pipeline, engines and media code never import
it; only the edge (signaling, rooms, the app) speaks the wire (``wire_events``
turns the pipeline's events into these messages).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

LangCode = Annotated[
    str, Field(min_length=2, max_length=8, pattern=r"^[a-z]{2,3}([-_][a-zA-Z]{2,4})?$")
]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- client -> server ---------------------------------------------------------------------


def _visible(name: str) -> str:
    """A name others will see, without control or format characters: bidi overrides
    (U+202E) would reverse the text around it, zero-width and control characters hide or
    fake parts of it."""
    clean = " ".join(
        "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf")).split()
    )
    if not clean:
        raise ValueError("the display name has no visible characters")
    return clean


#: The longest room token an offer may carry. A token carries the room's glossary: at every
#: limit in Latin letters (100 terms of 64 characters with 8 translations of 64 characters
#: each, random, so it hardly compresses) it is ~61 kB; ``POST /rooms`` refuses a glossary
#: whose token would be longer (long non-Latin text in every field), so every invite joins.
MAX_TOKEN_CHARS = 131_072

#: Words in one glossary term: names and product words are short, and the transcript
#: correction compares each term with every run of that many words.
MAX_TERM_WORDS = 6


def _few_words(text: str) -> str:
    if len(text.split()) > MAX_TERM_WORDS:
        raise ValueError(f"a glossary term has at most {MAX_TERM_WORDS} words")
    return text


#: A glossary term: a name or product word (the correction compares it with every run of
#: words in a transcript, so its length in words is bounded too).
TermText = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_few_words)]


class GlossaryTerm(_Message):
    term: TermText
    translations: (
        Annotated[
            dict[Annotated[str, Field(max_length=8)], Annotated[str, Field(max_length=64)]],
            Field(max_length=8),
        ]
        | None
    ) = None


GlossaryItem = TermText | GlossaryTerm
Glossary = Annotated[list[GlossaryItem], Field(max_length=100)]


def glossary_items(items: list[str | GlossaryTerm] | None) -> list[str | dict[str, object]]:
    return [i if isinstance(i, str) else i.model_dump(exclude_none=True) for i in items or []]


class Offer(_Message):
    """Start a session: the browser's SDP offer plus what to translate from and to."""

    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=200_000)
    source_lang: LangCode | Literal["auto"] | None = None
    target_lang: LangCode | None = None
    voice: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    room: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = (
        None
    )
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARS)] | None = None
    display_name: (
        Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_visible)] | None
    ) = None
    glossary: Glossary | None = None
    #: A room participant whose connection dropped comes back as themselves: the
    #: ``resume_token`` of their last ``ready`` (within ``LL_REJOIN_GRACE_S``).
    resume_token: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    #: Two people share one device, each speaking their own language: every phrase's
    #: language is detected between ``source_lang`` and ``target_lang`` and the phrase is
    #: translated into the other one. Loopback only.
    conversation: bool = False


class Candidate(_Message):
    """A trickled ICE candidate from the browser (``null`` candidate: end of candidates)."""

    type: Literal["candidate"]
    candidate: Annotated[str, Field(max_length=2_000)] | None = None
    sdpMid: Annotated[str, Field(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=64)] | None = None
    usernameFragment: Annotated[str, Field(max_length=256)] | None = None


class Bye(_Message):
    """End the session; the server closes the peer connection and the socket."""

    type: Literal["bye"]


class Listen(_Message):
    """Hear another language from now on, without reconnecting (rooms: re-routed)."""

    type: Literal["listen"]
    target_lang: LangCode
    voice: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class Mute(_Message):
    """The microphone is muted (or not): nothing said meanwhile is translated; in a room
    the others see it."""

    type: Literal["mute"]
    muted: bool


#: The longest text a client may ask to have spoken (``say``): a few sentences.
MAX_SAY_CHARS = 500


class Say(_Message):
    """Text typed instead of spoken: translated and voiced like a spoken phrase."""

    type: Literal["say"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_SAY_CHARS)]
    #: The text's language; null: the session's ``source_lang`` (required when that is auto
    #: or in a conversation).
    lang: LangCode | None = None


class Skip(_Message):
    """Drop the translated speech queued for me and not yet played (a long backlog)."""

    type: Literal["skip"]


RoomId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class SfuListen(_Message):
    """SFU mode (``LL_SFU=janus``): listen to a room through Janus in ``language``. The
    server makes sure its feed in that language is published and answers ``sfu_ready``
    (which feed to subscribe to); the room's captions and translations come on this socket
    from then on. One room per socket."""

    type: Literal["sfu_listen"]
    room: RoomId
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]
    language: LangCode
    display_name: (
        Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_visible)] | None
    ) = None


ClientMessageType = Offer | Candidate | Bye | Listen | Mute | Say | Skip | SfuListen
ClientMessage = Annotated[ClientMessageType, Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[ClientMessageType] = TypeAdapter(ClientMessage)
#: Every client message ``type``, for the precise ``unknown_type`` error.
CLIENT_TYPES = ("offer", "candidate", "bye", "listen", "mute", "say", "skip", "sfu_listen")


# --- server -> client ---------------------------------------------------------------------


class SpeakerRef(_Message):
    """Who said it (rooms): the participant's id and display name."""

    id: str
    display_name: str


class ParticipantInfo(_Message):
    id: str
    display_name: str
    source_lang: str  # what they speak
    target_lang: str  # what they hear
    muted: bool = False


class ParticipantEvent(_Message):
    """Somebody joined, left or changed (muted, another language heard);
    ``participants`` is everybody now in the room."""

    type: Literal["participant_joined", "participant_left", "participant_updated"]
    room: str
    participant: ParticipantInfo
    participants: list[ParticipantInfo]


class Answer(_Message):
    type: Literal["answer"] = "answer"
    sdp: str
    session_id: str


class Ready(_Message):
    """Sent after the answer: the languages and voice the session actually uses."""

    type: Literal["ready"] = "ready"
    session_id: str
    source_lang: str
    target_lang: str
    voice: str | None
    worker: int | None = None  # id (pid) of the server process that holds the session
    #: Rooms: present it in the next offer after a dropped connection to come back as the
    #: same participant (``Offer.resume_token``).
    resume_token: str | None = None


class TranscriptMsg(_Message):
    """What the speaker said; partials (``final: false``) replace each other."""

    type: Literal["transcript"] = "transcript"
    segment_id: int
    lang: str
    text: str
    final: bool
    #: The start of ``text`` that will not change any more (words two passes agreed on).
    stable: str = ""
    #: Final only: this segment is a clause and its sentence goes on in the next segment of
    #: the same speaker (``LL_INTERPRET=clause``): captions kept as a record join them.
    continues: bool = False
    speaker: SpeakerRef | None = None  # rooms: who said it


class TranslationMsg(_Message):
    type: Literal["translation"] = "translation"
    segment_id: int
    lang: str
    text: str
    speaker: SpeakerRef | None = None


class TimingMsg(_Message):
    """Server-side stage timings of one utterance, in milliseconds.

    ``speech_end_ms``: from the end of speech (arrival of the last voiced audio) to the VAD's
    end-of-utterance decision. ``stt_ms``, ``mt_ms``: durations of the final recognition and
    of the translation. ``tts_first_audio_ms``: from the start of synthesis to its first
    audio. ``first_audio_out_ms``: from the end of speech to the first translated frame sent
    on the outgoing track; the server's share of end-to-end latency. ``stages``: every
    recorded boundary as milliseconds after the end of speech (negative: before it).
    """

    type: Literal["timing"] = "timing"
    segment_id: int
    speech_end_ms: float | None
    stt_ms: float | None
    mt_ms: float | None
    tts_first_audio_ms: float | None
    first_audio_out_ms: float | None
    audio_ms: float | None = None
    #: How far behind the listener was when the segment's speech was made (speech queued,
    #: not yet played) and how much faster than the voice's own rate it was spoken for it.
    backlog_ms: float | None = None
    speed: float | None = None
    stages: dict[str, float] = Field(default_factory=dict)
    lang: str | None = None  # the language this segment was spoken in (rooms: one per language)
    speaker: SpeakerRef | None = None


class SpeakingMsg(_Message):
    """A speaker started or stopped speaking (the server's voice activity detection)."""

    type: Literal["speaking"] = "speaking"
    speaking: bool
    speaker: SpeakerRef | None = None


class NoticeMsg(_Message):
    """Something the client should know that is not a failure (e.g. a fallback voice)."""

    type: Literal["notice"] = "notice"
    code: str
    message: str
    segment_id: int | None = None
    speaker: SpeakerRef | None = None


class ErrorMsg(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str
    segment_id: int | None = None
    speaker: SpeakerRef | None = None


class SfuRoomInfo(_Message):
    """Where a room's participants talk and listen in SFU mode: a Janus VideoRoom room."""

    kind: Literal["janus"] = "janus"
    url: str  # Janus's WebSocket API, as browsers reach it
    room: int  # the VideoRoom room id


class SfuReady(_Message):
    """The answer to ``sfu_listen``: subscribe to the feed whose display is ``feed_display``
    in Janus room ``sfu.room``; captions and translations follow on this socket."""

    type: Literal["sfu_ready"] = "sfu_ready"
    room: str
    language: str
    sfu: SfuRoomInfo
    feed_display: str
    #: This listener's Janus token (``token`` in every Janus request), when Janus wants
    #: them: Janus's signed format ``<expiry>,janus,<plugin>…:<signature>``, valid until
    #: ``<expiry>`` (Unix seconds) for the VideoRoom plugin only (``sfu.janus_tokens``).
    janus_token: str | None = None


ServerMessage = (
    Answer
    | Ready
    | TranscriptMsg
    | TranslationMsg
    | TimingMsg
    | ErrorMsg
    | NoticeMsg
    | SpeakingMsg
    | ParticipantEvent
    | SfuReady
)
#: What a client reads off the socket: one message, picked by its ``type``.
SERVER_MESSAGE: TypeAdapter[ServerMessage] = TypeAdapter(
    Annotated[ServerMessage, Field(discriminator="type")]
)


class NoticeCode:
    TTS_FALLBACK = "tts_fallback"
    RECOGNITION_BEHIND = "recognition_behind"
    AUDIO_DROPPED = "audio_dropped"


class ErrorCode:
    """Every ``code`` an ``error`` message can carry (documented in docs/protocol.md)."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    TOO_LARGE = "message_too_large"
    BAD_SDP = "bad_sdp"
    UNSUPPORTED_PAIR = "unsupported_language_pair"
    UNKNOWN_VOICE = "unknown_voice"
    NO_SESSION = "no_session"
    ALREADY_STARTED = "already_started"
    BUSY = "busy"
    CONNECTION_FAILED = "connection_failed"
    BAD_TOKEN = "bad_token"
    TOKEN_EXPIRED = "token_expired"
    ROOM_FULL = "room_full"
    CONNECT_TIMEOUT = "connect_timeout"
    OFFER_TIMEOUT = "offer_timeout"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    IDLE_TIMEOUT = "idle_timeout"
    TOO_MANY_REQUESTS = "too_many_requests"
    SESSION_EXPIRED = "session_expired"
    SHUTDOWN = "server_shutdown"
    ENGINE = "engine_error"
    SFU_UNAVAILABLE = "sfu_unavailable"
    SFU_FAILED = "sfu_failed"
    INTERNAL = "internal_error"
