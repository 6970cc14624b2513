"""Every ``LL_*`` environment variable, in one pydantic-settings object.

One object (not scattered ``os.environ`` reads) so that the README's configuration table,
validation and defaults all come from the same place, and so tests can build a ``Settings``
with overrides instead of patching the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)


@dataclass(frozen=True)
class SegmenterConfig:
    """The voice-activity segmenter's thresholds (``pipeline.segmenter``)."""

    threshold: float = 0.5
    speculate_ms: int = 0  # silence that starts a speculative final pass (0: at the pause)
    turn_check_ms: int = 0  # silence after which an end-of-turn model is asked (0: never)
    hangover_ms: int = 400  # silence that pauses the utterance (first end decision)
    undo_window_ms: int = 400  # silence that ends it for good (>= hangover_ms)
    min_speech_ms: int = 200
    partial_interval_ms: int = 800
    max_utterance_s: float = 15.0
    pre_roll_ms: int = 200
    tail_ms: int = 150


#: What is committed while the speaker goes on: clauses (interpretation) or sentences.
Interpret = Literal["clause", "sentence"]


@dataclass(frozen=True)
class RecognizerConfig:
    """The streaming recognizer's policy (``pipeline.recognizer``)."""

    partials: bool = True
    early_commit: bool = True  # commit at the pause when the text ends a sentence
    sentence_commit: bool = True  # commit confirmed units while the speaker goes on
    #: The unit committed while the speaker goes on (``commit_points``).
    interpret: Interpret = "clause"
    clause_min_words: int = 4
    clause_max_words: int = 10
    #: Interpreting: audio a segment may wait for passes to agree before its settled words
    #: are committed anyway.
    clause_max_wait_s: float = 4.0
    #: Interpreting: an utterance shorter than this is a phrase, committed whole.
    clause_min_audio_s: float = 3.0
    #: End of turn: a phrase the model calls finished with at least this probability (and
    #: whose text reads finished) is committed at ``SpeechQuiet``.
    turn_threshold: float = 0.95
    max_pending: int = 3


@dataclass(frozen=True)
class PipelineConfig:
    """Everything one speaker's pipeline needs from the settings, as plain data.

    The pipeline takes this, not ``Settings``, so that a recording (``lingolive
    translate``) and a live call build the same pipeline with different policies.
    """

    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)
    first_words: int = 0  # see synthesis.first_clause_apart
    #: The fastest translated speech goes when the listener is behind (``keep_up``).
    keep_up_max_speed: float = 1.3
    #: Audio accepted per second of wall time (x real time); None: a recording, fed as fast
    #: as the engines go, nothing dropped.
    max_audio_rate: float | None = 1.2


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "lingolive"


#: Settings that may also come from a file each (``LL_SECRETS_DIR``, systemd credentials).
SECRET_FIELDS = frozenset(
    {
        "room_secret",
        "room_secret_previous",
        "turn_secret",
        "janus_api_secret",
        "janus_admin_key",
        "janus_token_secret",
        "metrics_key",
        "room_create_key",
    }
)


class _SecretFiles(SecretsSettingsSource):
    """The secret settings from files named ``LL_<FIELD NAME>`` (nothing else: a stray file
    in a credentials folder must not change how the server runs)."""

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__call__().items() if k in SECRET_FIELDS}


def secret_folders() -> list[Path]:
    """Where secret files are looked for: ``LL_SECRETS_DIR`` (a container's secrets), then
    ``$CREDENTIALS_DIRECTORY`` (systemd's ``LoadCredential=``)."""
    names = (os.environ.get("LL_SECRETS_DIR"), os.environ.get("CREDENTIALS_DIRECTORY"))
    return [Path(name) for name in names if name]


class Settings(BaseSettings):
    """Server configuration; each field is read from ``LL_<FIELD NAME>``; the secrets also
    from files (``secret_folders``), an environment variable winning over a file."""

    model_config = SettingsConfigDict(env_prefix="LL_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        folders = [f for f in secret_folders() if f.is_dir()]
        if not folders:
            return (init_settings, env_settings)
        return (init_settings, env_settings, _SecretFiles(settings_cls, secrets_dir=folders))

    secrets_dir: Path | None = Field(
        None,
        description="A folder of files named after the secret settings (`LL_ROOM_SECRET`, "
        "`LL_ROOM_SECRET_PREVIOUS`, `LL_TURN_SECRET`, `LL_JANUS_API_SECRET`, "
        "`LL_JANUS_ADMIN_KEY`, `LL_METRICS_KEY`, `LL_ROOM_CREATE_KEY`), each holding its "
        "value: container secrets. systemd's credentials (`$CREDENTIALS_DIRECTORY`) are read "
        "too. An environment variable wins over a file.",
    )

    @field_validator("secrets_dir")
    @classmethod
    def _secrets_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"LL_SECRETS_DIR={value} is not a folder")
        return value

    # --- serving -------------------------------------------------------------------------
    host: str = Field("0.0.0.0", description="Interface `lingolive serve` binds to.")
    port: int = Field(8000, description="Port `lingolive serve` listens on.")
    log_level: str = Field("info", description="Python log level (debug, info, warning…).")
    ice_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="STUN/TURN URLs for the server's peer connections, comma-separated; "
        "`turn:` URLs take `user:pass@host:port`. Empty: host candidates only (LAN).",
    )
    rtc_audio_prefetch: int = Field(
        1,
        description="Frames the server's WebRTC receive buffer holds before decoding "
        "(aiortc's default is 4, i.e. 80 ms; the server does not play audio, so 1 suffices).",
    )
    max_message_bytes: int = Field(
        262_144,
        description="Largest signaling message, and largest `POST /rooms` body, accepted (bytes).",
    )
    max_sessions: int = Field(8, description="Concurrent sessions; more get `busy`.")
    max_session_s: float = Field(
        14_400.0, description="A session is closed (`session_expired`) after this long."
    )
    idle_timeout_s: float = Field(
        60.0,
        description="A session whose microphone audio stops arriving for this long is closed "
        "(`idle_timeout`): the client vanished.",
    )
    connect_timeout_s: float = Field(
        20.0,
        description="A session whose media never starts flowing (ICE never completes) is "
        "closed after this long (`connect_timeout`).",
    )
    max_candidates: int = Field(
        32,
        description="Trickled ICE candidates accepted per session (a browser sends a few); "
        "more get `bad_message`. Candidates after ICE completed are ignored.",
    )
    rejoin_grace_s: float = Field(
        20.0,
        description="A room participant whose connection drops (no `bye`) keeps their seat "
        "this long: rejoining with the `resume_token` brings them back as the same "
        "participant, and the others see no leave and join.",
    )
    max_say_per_minute: int = Field(
        20,
        description="Typed phrases (`say`) a session may have spoken per minute (each costs "
        "a translation and a synthesis); more get `too_many_requests`.",
    )
    max_controls_per_s: float = Field(
        5.0,
        description="`mute` and `listen` messages a session may send per second (10 at "
        "once): in a room each one is told to everybody; more get `too_many_requests`.",
    )
    metrics_key: str = Field(
        "",
        description="If set, `GET /metrics` and `/api/status` need `Authorization: Bearer "
        "<key>`; empty: they answer only requests from this machine (loopback).",
    )
    turn_secret: str = Field(
        "",
        description="coturn's `static-auth-secret` (`use-auth-secret`): `turn:` URLs in "
        "`LL_ICE_SERVERS` written without a user get credentials valid for "
        "`LL_TURN_CREDENTIAL_TTL_S` only, for the page and the server alike.",
    )
    turn_credential_ttl_s: float = Field(
        3600.0, description="How long TURN credentials made with `LL_TURN_SECRET` stay valid."
    )
    max_audio_rate: float = Field(
        1.2,
        description="Microphone audio accepted per second of time (1.0 = real time; 1 s of "
        "burst allowed); a client sending faster has the excess dropped (`audio_dropped`).",
    )
    offer_timeout_s: float = Field(
        10.0,
        description="A WebSocket that has not made a valid offer after this long is closed "
        "(`offer_timeout`).",
    )
    max_connections: int = Field(
        100,
        description="Open WebSockets, with or without a session; more are refused "
        "(`too_many_connections`).",
    )
    max_pending_per_address: int = Field(
        4,
        description="WebSockets from one client address that have no session yet; more are "
        "refused (`too_many_connections`).",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra `Origin`s allowed to open `/ws` (comma-separated, `*` for any). "
        "Same-origin pages and clients that send no Origin are always allowed.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names this server answers to, besides localhost and IP addresses "
        "(comma-separated, `*` for any): a request for any other name is refused, so a web "
        "page cannot reach the server through a name it controls (DNS rebinding).",
    )
    log_format: str = Field(
        "text", description="`text` or `json` (one object per line); every line has the session."
    )

    # --- workers (set by `lingolive serve --workers N`; leave unset) ----------------------
    worker_index: int | None = Field(
        None, description="Set by `--workers`: this process's index (leave unset)."
    )
    worker_count: int = Field(
        1, description="Set by `--workers`: how many processes (leave unset)."
    )
    worker_restarts: int = Field(
        0,
        description="Set by `--workers`: how often this worker's slot was started again "
        "after its process died (leave unset; `lingolive_worker_restarts` in `/metrics`).",
    )
    worker_port_base: int = Field(
        0,
        description="Worker i also listens on 127.0.0.1:(base + i), for rooms relayed between "
        "workers. 0: `LL_PORT` + 1.",
    )

    # --- rooms -------------------------------------------------------------------------
    room_secret: str = Field(
        "",
        description="Key that signs room tokens. Empty: a random key per start (tokens die "
        "with a restart); set it to keep invites valid across restarts.",
    )
    room_secret_previous: str = Field(
        "",
        description="The key `LL_ROOM_SECRET` replaces: tokens it signed still verify, so "
        "invites already sent stay valid until they expire (drop it after "
        "`LL_ROOM_TOKEN_TTL_S`). New tokens are signed with `LL_ROOM_SECRET`.",
    )
    room_token_ttl_s: float = Field(86_400.0, description="How long a room invite is valid.")
    room_max_participants: int = Field(
        8, description="Participants per room; more get `room_full`."
    )
    room_create_key: str = Field(
        "",
        description="If set, `POST /rooms` needs `Authorization: Bearer <key>`; empty: anyone "
        "who can reach the server may create rooms.",
    )

    # --- SFU mode (docs/sfu.md) ------------------------------------------------------------
    sfu: Literal["none", "janus"] = Field(
        "none",
        description="`janus`: every `POST /rooms` also creates an audio room on a Janus "
        "VideoRoom and the server joins it as the translating participant (listeners hear "
        "Janus feeds, captions come over `/ws`, `sfu_listen`); `none`: rooms are LingoLive's "
        "own. With `--workers N` a room lives in the worker that created it.",
    )
    janus_url: str = Field(
        "ws://127.0.0.1:8188",
        description="Janus's WebSocket API as this server reaches it (`LL_SFU=janus`).",
    )
    janus_public_url: str = Field(
        "",
        description="Janus's WebSocket API as browsers reach it, handed to clients in "
        "`POST /rooms` and `sfu_ready` (e.g. `wss://janus.example.org/`); empty: "
        "`LL_JANUS_URL`.",
    )
    janus_api_secret: str = Field(
        "", description="Janus's `general.api_secret`, if it has one (sent as `apisecret`)."
    )
    janus_admin_key: str = Field(
        "",
        description="The VideoRoom plugin's `general.admin_key`, if it has one (needed to "
        "create rooms then).",
    )
    janus_token_secret: str = Field(
        "",
        description="Janus's `general.token_auth_secret` (`token_auth = true`, signed "
        "tokens): every listener then gets a Janus token of its own in `sfu_ready`, good "
        "for the VideoRoom plugin only, so browsers get into Janus without its API secret. "
        "Empty: no tokens (a Janus without `token_auth`).",
    )
    janus_token_ttl_s: float = Field(
        86400.0,
        ge=10,
        description="How long a listener's Janus token is valid. Janus checks it on every "
        "request, keepalives included, so the listener gets a fresh `sfu_ready` in the "
        "token's last tenth (at most 5 min before it expires) and the page joins Janus "
        "again with it (a moment without the room's audio).",
    )

    sfu_recover_s: float = Field(
        60.0,
        gt=0,
        description="How long a room whose Janus went away (restarted, room destroyed) is "
        "rebuilt for, retrying with backoff, before its listeners get `sfu_failed` "
        "(`LL_SFU=janus`).",
    )
    sfu_idle_s: float = Field(
        300.0,
        gt=0,
        description="An SFU room nobody has listened to for this long is closed (the node "
        "leaves, its Janus room is destroyed); its invite opens it again.",
    )
    sfu_max_listeners: int = Field(
        1000,
        ge=1,
        description="Listeners (`sfu_listen` sockets) one SFU room accepts; the next gets "
        "`room_full`. Each costs the node one caption socket, not media.",
    )

    # --- languages -----------------------------------------------------------------------
    source_lang: str = Field("en", description="Language spoken when the offer names none.")
    target_lang: str = Field("es", description="Language heard when the offer names none.")
    tts_voice: str | None = Field(
        None,
        description="Voice when the offer names none: one voice (a Piper voice name or path, "
        "an espeak-ng or Edge voice), or one per language (`es=es_ES-davefx-medium,en=…`); "
        "empty picks the best installed voice for each language.",
    )

    # --- engines -------------------------------------------------------------------------
    vad_engine: str = Field("silero", description="VAD engine: `silero`.")
    turn_model: Literal["smart-turn", "off"] = Field(
        "off",
        description="End-of-turn model that may end a phrase before LL_VAD_HANGOVER_MS: "
        "`smart-turn` (Smart Turn v3.2, fetched by `lingolive models prepare`; without the "
        "file, phrases end by silence and text as with `off`). Off by default: it pays "
        "where recognition finishes before the hangover (a fast recognizer: `tiny.en` for "
        "English, p50 −82 ms in Chromium), not with Whisper base on 2 cores "
        '(docs/benchmarks.md, "End of turn").',
    )
    stt_engine: str = Field("whisper", description="STT engine: `whisper` (faster-whisper).")
    stt_model: str = Field(
        "base",
        description="Whisper model: `base` (bundled, multilingual), `tiny.en` (bundled, "
        "English only), a local CTranslate2 folder, or any faster-whisper size/hub id "
        "(needs internet once).",
    )
    stt_models: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Per-language Whisper models overriding `LL_STT_MODEL`, e.g. "
        "`en=tiny.en` (comma-separated `lang=model`).",
    )
    stt_device: str = Field("cpu", description="`cpu` or `cuda`.")
    stt_compute_type: str = Field("int8", description="CTranslate2 compute type.")
    stt_threads: int = Field(
        1,
        description="CPU threads for one STT call. On 2 cores one is as fast as two and leaves "
        "the other core to VAD, TTS and WebRTC (docs/benchmarks.md).",
    )
    stt_beam_size: int = Field(1, description="Beam size for final transcripts.")
    stt_max_batch: int = Field(
        8,
        ge=1,
        description="Most recognition passes run together as one batch when several speakers "
        "finish at once (1: one at a time).",
    )
    mt_engine: str = Field(
        "apertium",
        description="MT engine: `apertium` (with `LL_MT_MODELS` overriding its pairs) or `ct2` "
        "(only the models in `LL_MT_MODELS`).",
    )
    mt_models: str = Field(
        "",
        description="Neural models (CTranslate2) per pair, comma-separated: `en-es=FOLDER_OR_"
        "HUB_ID` (MarianMT/Opus-MT), `*=FOLDER_OR_HUB_ID` (NLLB-200/M2M-100, every pair), or "
        "a path to an Argos `.argosmodel`.",
    )
    mt_compute_type: str = Field("int8", description="CTranslate2 compute type for MT models.")
    mt_warm_pairs: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Apertium pairs started with the server besides the default pair and its "
        "reverse, comma-separated (`en-ca,ca-en`; `*`: every installed pair). Any other pair "
        "starts on its first phrase, which waits for it once (docs/scaling.md).",
    )
    mt_idle_s: float = Field(
        600.0,
        ge=0,
        description="An Apertium pipeline unused this long is stopped (each holds 40–160 MiB) "
        "and starts again on its next phrase; the default pair, its reverse and "
        "`LL_MT_WARM_PAIRS` are never stopped. 0: never stop one.",
    )
    tts_engine: str = Field(
        "auto",
        description="TTS engine: `auto` (Piper where a Piper voice exists, espeak-ng "
        "otherwise), `piper` or `espeak`.",
    )
    tts_first_chunk_words: int = Field(
        4,
        ge=0,
        description="A translation whose first clause is longer than this (by 3 words or "
        "more) has its first N words synthesized apart, so audio starts sooner (a slight "
        "phrase break there). 0: cut only at the first comma or full stop.",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where assembled models are cached (default ~/.cache/lingolive).",
    )

    # --- segmentation and streaming ------------------------------------------------------
    vad_threshold: float = Field(0.5, description="Speech probability that counts as voiced.")
    speculate_ms: int = Field(
        64,
        description="Silence after which the final recognition pass starts speculatively, "
        "before the end decision; the phrase's translated speech is then made ahead, unheard, "
        "and goes out at the decision (0: start it at the decision).",
    )
    vad_hangover_ms: int = Field(
        350,
        description="Silence after speech before the first end decision: a phrase whose text "
        "reads as a finished sentence (3+ words, not an opening clause) is spoken at once; "
        "longer than the pause at a comma, so a sentence is not cut there.",
    )
    undo_window_ms: int = Field(
        600,
        description="Silence after which a phrase ends for good. Speech resuming before it "
        "continues the same phrase (unless it was already committed at a sentence end).",
    )
    turn_check_ms: int = Field(
        200,
        ge=32,
        le=2_000,
        description="Silence after which the end-of-turn model hears the phrase; a phrase "
        "it calls finished (LL_TURN_THRESHOLD) whose text also reads as one is spoken then, "
        "without waiting for LL_VAD_HANGOVER_MS.",
    )
    turn_threshold: float = Field(
        0.95,
        gt=0.0,
        le=1.0,
        description="Probability of a finished phrase from the end-of-turn model that ends it "
        "at LL_TURN_CHECK_MS.",
    )
    early_commit: bool = Field(
        True,
        description="Commit a phrase at the first end decision when its text reads as a "
        "finished sentence.",
    )
    sentence_commit: bool = Field(
        True,
        description="Translate confirmed words while the speaker goes on (the unit: LL_INTERPRET).",
    )
    interpret: Interpret = Field(
        "clause",
        description="While the speaker goes on, translate each clause, as an interpreter "
        "does (clause: after a comma, before a word that opens a clause, at the latest after "
        "LL_INTERPRET_MAX_WORDS confirmed words; only once an utterance has gone on for "
        "LL_INTERPRET_MIN_AUDIO_S), "
        "or only each finished sentence (sentence: closer to a translation of the whole, "
        "further behind the speaker).",
    )
    interpret_max_words: int = Field(
        10,
        ge=2,
        le=60,
        description="LL_INTERPRET=clause: confirmed words that may wait for a clause "
        "boundary before they are committed anyway.",
    )
    interpret_min_audio_s: float = Field(
        3.0,
        ge=0.0,
        le=30.0,
        description="LL_INTERPRET=clause: an utterance shorter than this is a phrase, "
        "translated whole; clauses are committed only once the speaker goes on past it.",
    )
    min_speech_ms: int = Field(200, description="Shorter voiced bursts are ignored.")
    partial_interval_ms: int = Field(
        800, description="New voiced audio between two partial transcripts (0: no partials)."
    )
    max_utterance_s: float = Field(
        15.0, description="An utterance is cut (and finalized) after this much audio."
    )
    pre_roll_ms: int = Field(
        200, description="Audio kept before the first voiced frame so onsets are not clipped."
    )

    # --- back-pressure -------------------------------------------------------------------
    max_pending_utterances: int = Field(
        3,
        description="Finished utterances waiting for STT; beyond it the newest is merged "
        "into the last waiting one (nothing dropped).",
    )
    keep_up_max_speed: float = Field(
        1.3,
        ge=1.0,
        le=1.3,
        description="When translated speech falls behind the speaker (the listener would "
        "hear it more than 1 s after it was said: speech queued for them, plus the time it "
        "took to come), it is spoken faster, up to this many times the voice's own rate at "
        "2 s behind, with shorter pauses (1.0: never faster).",
    )
    max_output_backlog_s: float = Field(
        20.0,
        description="Translated speech queued for playback; beyond it the oldest unplayed "
        "utterance is dropped and counted.",
    )

    @field_validator("ice_servers", "allowed_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("mt_warm_pairs", mode="before")
    @classmethod
    def _split_pairs(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        for pair in value if isinstance(value, list) else []:
            source, _, target = str(pair).partition("-")
            if pair != "*" and not (source.isalpha() and target.isalpha()):
                raise ValueError(f"expected source-target[,source-target…] or *, got {pair!r}")
        return value

    @field_validator("stt_models", mode="before")
    @classmethod
    def _split_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
            if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
                raise ValueError("expected lang=model[,lang=model…]")
            return {k.strip().lower(): v.strip() for k, v in pairs}
        return value

    def janus_browser_url(self) -> str:
        """Where browsers reach Janus: ``LL_JANUS_PUBLIC_URL``, else ``LL_JANUS_URL``."""
        return self.janus_public_url or self.janus_url

    def voice_map(self) -> dict[str, str]:
        """``LL_TTS_VOICE`` in its per-language form (empty when it names a single voice)."""
        if not self.tts_voice or "=" not in self.tts_voice:
            return {}
        pairs = (part.split("=", 1) for part in self.tts_voice.split(",") if "=" in part)
        return {lang.strip().lower(): voice.strip() for lang, voice in pairs}

    def default_voice(self, language: str, known: dict[str, list[str]] | None = None) -> str | None:
        """The configured voice for ``language``.

        A single voice (no ``lang=``) applies where it can speak: with ``known`` (the TTS
        engine's voices per language), only to the language it belongs to, so an English
        voice never reads Spanish.
        """
        if self.tts_voice and "=" not in self.tts_voice:
            if known is not None and not self.tts_voice.endswith(".onnx"):
                return self.tts_voice if self.tts_voice in known.get(language, []) else None
            return self.tts_voice
        return self.voice_map().get(language)

    def segmenter(self) -> SegmenterConfig:
        return SegmenterConfig(
            threshold=self.vad_threshold,
            speculate_ms=self.speculate_ms,
            turn_check_ms=self.turn_check_ms if self.turn_model != "off" else 0,
            hangover_ms=self.vad_hangover_ms,
            undo_window_ms=self.undo_window_ms,
            min_speech_ms=self.min_speech_ms,
            partial_interval_ms=self.partial_interval_ms,
            max_utterance_s=self.max_utterance_s,
            pre_roll_ms=self.pre_roll_ms,
        )

    def recognizer(self, *, partials: bool = True) -> RecognizerConfig:
        return RecognizerConfig(
            partials=partials and self.partial_interval_ms > 0,
            early_commit=self.early_commit,
            sentence_commit=self.sentence_commit,
            interpret=self.interpret,
            clause_max_words=self.interpret_max_words,
            clause_min_audio_s=self.interpret_min_audio_s,
            turn_threshold=self.turn_threshold,
            max_pending=self.max_pending_utterances,
        )

    def pipeline(self) -> PipelineConfig:
        """A live call's pipeline."""
        return PipelineConfig(
            segmenter=self.segmenter(),
            recognizer=self.recognizer(),
            first_words=self.tts_first_chunk_words,
            keep_up_max_speed=self.keep_up_max_speed,
            max_audio_rate=self.max_audio_rate,
        )

    def recording_pipeline(self) -> PipelineConfig:
        """A recording's pipeline: no partials (nobody watches captions grow), no limit on
        waiting phrases, nothing dropped."""
        return PipelineConfig(
            segmenter=self.segmenter(),
            recognizer=replace(self.recognizer(partials=False), max_pending=10_000),
            first_words=self.tts_first_chunk_words,
            max_audio_rate=None,
        )

    @field_validator("source_lang", "target_lang")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("tts_voice", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value
