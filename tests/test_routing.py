"""One routing rule for both kinds of room (``rooms.routing``), checked without media.

A three-language room with a speaker of English, one of Spanish and one whose language is
detected, heard in English, Spanish, French and Catalan, where the engines cannot do every
pair: first the plan itself (who is translated into what, who hears the original voice, who
cannot be served, what detection may answer) and what changes when somebody leaves or hears
another language; then the same room given to a direct room (``rooms.direct.Room`` with
participants of our own making behind its ``Translating``/``Hearing`` protocols) and to the
Janus translator's routing (``rooms.janus_translator.feed_routes``, the function its
re-routing applies), which must route every speaker alike — and the direct room must have
done what its routes say.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lingolive.engines.selection import languages_reaching
from lingolive.pipeline.playback import SpeechOutput
from lingolive.protocol import ErrorCode, ErrorMsg, ParticipantInfo, ServerMessage
from lingolive.rooms import routing
from lingolive.rooms.direct import Participant, Room
from lingolive.rooms.janus_translator import RemoteSpeaker, feed_routes
from lingolive.rooms.routing import Capabilities, Listener, Route, Speaker
from lingolive.rtc.mixing import LiveQueue, Source, SpeechQueue, TrackStats
from lingolive.sfu.displays import feed_display

#: No English → Catalan and no Spanish → French; German is only ever a source, Italian is
#: recognized but nothing translates from or into it.
CAN = Capabilities(
    pairs=frozenset(
        {("en", "es"), ("es", "en"), ("en", "fr"), ("es", "ca"), ("ca", "es"), ("de", "en")}
    ),
    recognized=frozenset({"en", "es", "fr", "ca", "de", "it"}),
)
#: What a detected speaker's phrases may be detected as in this room: the sources of every
#: pair into a listener language, and the listener languages themselves.
DETECTABLE = frozenset({"en", "es", "fr", "ca", "de"})

SPEAKERS = [Speaker("ana", "en"), Speaker("bea", "es"), Speaker("max", None)]
LISTENERS = [
    Listener("ana", "en"),  # (a speaker listens too, as in a direct room: not to herself)
    Listener("bea", "es"),
    Listener("lou", "en"),
    Listener("sol", "es"),
    Listener("fay", "fr"),
    Listener("pau", "ca"),
]


def test_languages_reaching_a_listener() -> None:
    assert languages_reaching({"en", "es", "fr", "ca"}, CAN.pairs, CAN.recognized) == DETECTABLE
    assert languages_reaching({"fr"}, CAN.pairs, CAN.recognized) == {"en", "fr"}
    assert languages_reaching({"it"}, CAN.pairs, CAN.recognized) == {"it"}  # heard as is
    assert languages_reaching({"xx"}, CAN.pairs, CAN.recognized) == frozenset()
    assert languages_reaching(set(), CAN.pairs, CAN.recognized) == frozenset()


def test_a_three_language_room_is_planned() -> None:
    routes = routing.plan(SPEAKERS, LISTENERS, CAN)
    assert routes == {
        "ana": Route(
            "ana",
            "en",
            translations={"es": frozenset({"bea", "sol"}), "fr": frozenset({"fay"})},
            forwarded=frozenset({"lou"}),
            unserved={"pau": "ca"},  # no en→ca
            candidates=None,
        ),
        "bea": Route(
            "bea",
            "es",
            translations={"en": frozenset({"ana", "lou"}), "ca": frozenset({"pau"})},
            forwarded=frozenset({"sol"}),
            unserved={"fay": "fr"},  # no es→fr
            candidates=None,
        ),
        "max": Route(
            "max",
            None,
            translations={
                "en": frozenset({"ana", "lou"}),
                "es": frozenset({"bea", "sol"}),
                "fr": frozenset({"fay"}),
                "ca": frozenset({"pau"}),
            },
            forwarded=frozenset(),
            unserved={},
            candidates=DETECTABLE,
        ),
    }


def test_corners_of_the_plan() -> None:
    # A declared language recognition does not know is detected instead.
    (route,) = routing.plan([Speaker("zoe", "xx")], [Listener("lou", "en")], CAN).values()
    assert route.language is None and route.candidates == {"en", "es", "de"}
    assert set(route.translations) == {"en"}
    # Nobody listens: nothing is translated, detection may answer anything.
    assert routing.plan([Speaker("max", None)], [], CAN)["max"] == Route("max", None)
    assert routing.plan([Speaker("ana", "en")], [Listener("ana", "es")], CAN)["ana"] == Route(
        "ana", "en"
    )  # nobody hears themselves
    # Nothing translates into Italian: its listener cannot be served by a detected speaker.
    max_route = routing.plan([Speaker("max", None)], [Listener("ivo", "it")], CAN)["max"]
    assert max_route.unserved == {"ivo": "it"} and max_route.translations == {}


def test_changes_when_somebody_leaves_or_hears_another_language() -> None:
    before = routing.plan(SPEAKERS, LISTENERS, CAN)
    unchanged = routing.changes(before, routing.plan(SPEAKERS, LISTENERS, CAN))
    assert unchanged == routing.Changes(
        frozenset(),
        frozenset(),
        frozenset(),
        frozenset(),
        frozenset(),
        frozenset(),
        frozenset(),
        {},
    )

    # Pau hears French instead of Catalan.
    moved = [lst if lst.id != "pau" else Listener("pau", "fr") for lst in LISTENERS]
    change = routing.changes(before, routing.plan(SPEAKERS, moved, CAN))
    assert change.left == {("bea", "ca", "pau"), ("max", "ca", "pau")}
    assert change.stopped == {("bea", "ca"), ("max", "ca")}  # nobody else hears Catalan
    assert change.started == set()  # French is translated for Fay already
    assert change.joined == {("ana", "fr", "pau"), ("max", "fr", "pau")}
    assert change.unserved == {("bea", "pau", "fr")}  # told again, in the new language
    assert change.forwarded == set() and change.unforwarded == set()
    assert change.candidates == {}  # Catalan still reaches Spanish listeners

    # Fay (the only French listener) leaves; Lou hears Spanish (Bea's original voice).
    gone = [
        lst if lst.id != "lou" else Listener("lou", "es") for lst in LISTENERS if lst.id != "fay"
    ]
    change = routing.changes(before, routing.plan(SPEAKERS, gone, CAN))
    assert change.stopped == {("ana", "fr"), ("max", "fr")}
    assert change.started == set()
    assert change.left == {
        ("ana", "fr", "fay"),
        ("max", "fr", "fay"),
        ("bea", "en", "lou"),
        ("max", "en", "lou"),
    }
    assert change.joined == {("ana", "es", "lou"), ("max", "es", "lou")}
    assert change.forwarded == {("bea", "lou")}
    assert change.unforwarded == {("ana", "lou")}
    assert change.unserved == set()
    assert change.candidates == {"max": frozenset({"en", "es", "ca", "de"})}  # no French

    # A speaker leaves (she still listens): everything of hers stops, nothing else changes.
    change = routing.changes(before, routing.plan(SPEAKERS[1:], LISTENERS, CAN))
    assert change.stopped == {("ana", "es"), ("ana", "fr")}
    assert change.unforwarded == {("ana", "lou")}
    assert change.left == before["ana"].seats()
    assert not (change.started or change.joined or change.forwarded or change.unserved)
    assert change.candidates == {}


# -- the same room in both kinds ---------------------------------------------------------------


@dataclass
class Pipeline:
    """A speaker's pipeline as a direct room uses it (``rooms.direct.Translating``)."""

    languages: dict[str, SpeechOutput] = field(default_factory=dict)
    detect: list[frozenset[str] | None] = field(default_factory=list)

    def add_language(self, language: str, voice: str | None, output: SpeechOutput) -> None:
        self.languages[language] = output

    async def remove_language(self, language: str) -> None:
        del self.languages[language]

    def detect_among(self, languages: frozenset[str] | None) -> None:
        self.detect.append(languages)


@dataclass
class Ears:
    """A listener's track as a direct room uses it (``rooms.direct.Hearing``)."""

    sources: dict[object, Source] = field(default_factory=dict)

    def add_source(self, key: object, source: Source) -> None:
        self.sources[key] = source

    def speech_source(self, key: object) -> SpeechQueue:
        queue = self.sources[key] = SpeechQueue(TrackStats())
        return queue

    def remove_source(self, key: object) -> None:
        self.sources.pop(key, None)


#: (id, speaks, hears): the three speakers, then listeners who (in a direct room) speak too.
ROOM = [
    ("ana", "en", "en"),
    ("bea", "es", "es"),
    ("max", None, "fr"),
    ("lou", "en", "en"),
    ("sol", "es", "es"),
    ("fay", "fr", "fr"),
    ("pau", "ca", "ca"),
]


def languages_of(route: Route, hears: dict[str, str]) -> dict[str, object]:
    """A route in the words both kinds share: languages, not listeners (the Janus node sees
    one listener per language, its feed)."""
    return {
        "language": route.language,
        "translations": set(route.translations),
        "forwarded": {hears[who] for who in route.forwarded},
        "unserved": set(route.unserved.values()),
        "candidates": route.candidates,
    }


async def test_a_direct_room_and_a_janus_room_route_alike() -> None:
    room = Room("r1", max_participants=8, capabilities=lambda: CAN)
    inbox: dict[str, list[ServerMessage]] = {}
    pipelines: dict[str, Pipeline] = {}
    ears: dict[str, Ears] = {}
    for who, speaks, hears in ROOM:
        info = ParticipantInfo(
            id=who, display_name=who.title(), source_lang=speaks or "", target_lang=hears
        )
        pipelines[who], ears[who] = Pipeline(), Ears()
        await room.join(
            Participant(info, pipelines[who], ears[who], inbox.setdefault(who, []).append)
        )

    janus = feed_routes(
        [
            RemoteSpeaker(feed, f"{who} [{speaks}]" if speaks else who, who, speaks)
            for feed, (who, speaks, _) in enumerate(ROOM[:3], start=1)
        ],
        sorted({hears for _, _, hears in ROOM}),
        CAN,
    )
    hears = {who: lang for who, _, lang in ROOM} | {feed_display(lang): lang for _, _, lang in ROOM}
    for feed, (who, _, _) in enumerate(ROOM[:3], start=1):
        direct = languages_of(room.routes[who], hears)
        assert direct == languages_of(janus[str(feed)], hears), who
    assert languages_of(room.routes["ana"], hears) == {
        "language": "en",
        "translations": {"es", "fr"},
        "forwarded": {"en"},
        "unserved": {"ca"},
        "candidates": None,
    }
    assert languages_of(room.routes["max"], hears)["candidates"] == DETECTABLE

    # The direct room did what its routes say: each speaker's pipeline translates into its
    # routed languages, the detected speaker detects among its candidates, each listener
    # mixes one source per speaker it hears, and whoever cannot be served was told once.
    for who, _, _ in ROOM:
        route = room.routes[who]
        assert set(pipelines[who].languages) == set(route.translations), who
        for listener in route.forwarded:
            assert isinstance(ears[listener].sources[who], LiveQueue), (who, listener)
        for listener in {lst for ids in route.translations.values() for lst in ids}:
            assert isinstance(ears[listener].sources[who], SpeechQueue), (who, listener)
        for listener in route.unserved:
            assert who not in ears[listener].sources
        assert who not in ears[who].sources  # nobody hears themselves
    assert pipelines["max"].detect[-1] == DETECTABLE
    assert pipelines["ana"].detect == []  # a declared language is not detected
    warned = [
        (m.speaker.id if m.speaker else None)
        for m in inbox["pau"]
        if isinstance(m, ErrorMsg) and m.code == ErrorCode.UNSUPPORTED_PAIR
    ]
    assert sorted(warned) == ["ana", "fay", "lou"], warned  # no en→ca, no fr→ca

    # Pau hears French from now on: re-routed like the plan's changes say.
    await room.update("pau", target_lang="fr")
    assert room.routes["ana"].translations["fr"] == {"max", "fay", "pau"}
    assert "ca" not in pipelines["bea"].languages and "ca" not in pipelines["max"].languages
    assert isinstance(ears["pau"].sources["ana"], SpeechQueue)
    assert isinstance(ears["pau"].sources["fay"], LiveQueue)  # Fay speaks French
    told = [m for m in inbox["pau"] if isinstance(m, ErrorMsg)][len(warned) :]
    assert sorted(m.speaker.id for m in told if m.speaker) == ["bea", "sol"]  # no es→fr
    assert len(told) == 2

    # Everybody leaves: nothing is left routed.
    for who, _, _ in ROOM:
        await room.leave(who)
    assert room.routes == {} and room.empty
