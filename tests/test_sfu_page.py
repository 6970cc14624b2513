"""The page in an SFU room: two headless Chromium pages, a real Janus, a real server with
``LL_SFU=janus`` (docs/sfu.md).

A room is made with ``POST /rooms``; a Spanish listener and an English speaker open its
invite. The page asks ``sfu_listen`` on its socket, gets ``sfu_ready`` and goes through Janus
(client/sfu.js, Debian's janus.js served as ``/vendor/janus.js``): the speaker publishes its
microphone as ``"Name [lang]"``; the listener joins with "Listen only" on, so it never asks
for a microphone and never publishes (Janus lists it as a participant that does not
publish: its publisher-type handle is what gets the room's events). Both subscribe to the
node's feed in their language. The listener must play loud audio from the
``"LingoLive · es"`` feed, show the Spanish translation and list Ann (not the node's feed)
among the room's speakers; the speaker's page shows its own transcript. Then the listener's
socket to Janus closes under it (a blip between browser and Janus; Janus ends the session
made over it): the page must get back into the room by itself, with one Janus session and
nothing of the old one left, and play the Spanish feed again. Then Janus restarts: both
pages must get back in by themselves.

The test sees the page as a user or a browser's tools would: its DOM (status line and its
``data-state``, captions, participants, the <audio> elements with their ``data-feed``) and
what an init script of the test's own (test_browser.SPY_JS) records of the page's
RTCPeerConnections, getUserMedia streams and WebSockets.

Chromium runs with ``--disable-features=WebRtcHideLocalIpsWithMdns``: Janus ignores mDNS
candidates (``nat.ignore_mdns``), so the page must offer its real host address.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import DATA, start_server, stop_server
from lingolive.app import JANUS_JS
from lingolive.sfu.displays import feed_display
from lingolive.sfu.janus_api import JanusConnection, JanusParticipant, VideoRoom
from support.janus_process import JanusProcess
from test_browser import CAPTIONS_JS, CHROMIUM, LISTENING_JS, SPY_JS
from test_browser import launch as browser_launch
from test_page import loop_wav

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
    pytest.mark.skipif(
        shutil.which("janus") is None or not JANUS_JS.is_file(),
        reason="Debian janus / libjs-janus-gateway not installed (scripts/setup.sh --dev)",
    ),
]

PHRASE = "en_piper_01.wav"  # "Good morning, I would like to book a table for two people tonight."
ADMIN_KEY = "sfu-page-admin-key"
API_SECRET = "sfu-page-api-secret"  # the node's alone
TOKEN_SECRET = "sfu-page-token-secret"  # pages get a token signed with it

#: Per feed the listener plays (each in an <audio data-mid data-feed>, data-feed its Janus
#: display): the decoder's audio level now, from the receiver of the track it plays.
FEED_LEVELS_JS = """
async () => {
  const out = {};
  for (const audio of document.querySelectorAll("audio[data-mid]")) {
    const track = audio.srcObject && audio.srcObject.getAudioTracks()[0];
    const receiver = track && window.spy.receiverOf(track);
    if (!receiver) continue;
    (await receiver.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        out[audio.dataset.feed || `mid ${audio.dataset.mid}`] = s.audioLevel || 0;
      }
    });
  }
  return out;
}
"""

#: The feeds the page plays (data-feed of its <audio> elements), and how many audio streams
#: its peer connections receive (transceivers not stopped or inactive).
FEEDS_PLAYED_JS = """
() => ({
  feeds: [...document.querySelectorAll("audio[data-mid]")].map((a) => a.dataset.feed),
  receiving: window.spy.pcs.filter((pc) => pc.signalingState !== "closed")
    .flatMap((pc) => pc.getTransceivers())
    .filter((t) => t.receiver.track.kind === "audio")
    .filter((t) => ["recvonly", "sendrecv"].includes(t.currentDirection)).length,
})
"""

#: The page's sockets to Janus (janus.js speaks the "janus-protocol" subprotocol).
JANUS_SOCKETS_JS = "window.spy.sockets.filter((s) => s.protocol === 'janus-protocol')"

#: Remembers (``window.before``) the Janus sockets and peer connections the page has now.
REMEMBER_JANUS_JS = f"window.before = {{sockets: {JANUS_SOCKETS_JS}, pcs: window.spy.pcs.slice()}}"

#: True once the page has a Janus socket it did not have at REMEMBER_JANUS_JS, and listens.
REJOINED_JS = (
    f"{JANUS_SOCKETS_JS}.some((s) => !window.before.sockets.includes(s)) && {LISTENING_JS}"
)

#: Whatever the page had of its Janus session before (``window.before``, see
#: REMEMBER_JANUS_JS) is gone: its sockets closed, its peer connections closed, none of the
#: <audio> elements plays one of their tracks.
OLD_JANUS_GONE_JS = """
() => {
  const old = window.before;
  const plays = (pc) => [...document.querySelectorAll("audio[data-mid]")].some((a) =>
    pc.getReceivers().some((r) => a.srcObject && r.track === a.srcObject.getAudioTracks()[0]));
  return {
    sockets: old.sockets.map((s) => s.readyState),
    pcs: old.pcs.map((pc) => pc.signalingState),
    playing: old.pcs.filter(plays).length,
  };
}
"""


#: Counts the page's getUserMedia calls (window.gumCalls): a listener must make none.
COUNT_GET_USER_MEDIA_JS = """
(() => {
  window.gumCalls = 0;
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) return;
  const real = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (...args) => { window.gumCalls += 1; return real(...args); };
})();
"""


def janus_participants(janus: JanusProcess, room: int) -> list[JanusParticipant]:
    """Janus's ``listparticipants`` of ``room``, asked on a connection of our own (in a
    thread: Playwright's sync API holds this one's event loop)."""

    async def ask() -> list[JanusParticipant]:
        async with await JanusConnection.connect(janus.ws_url, api_secret=API_SECRET) as connection:
            session = await connection.create_session()
            return await (await VideoRoom.attach(session)).participants(room)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, ask()).result()


def loud_feed(page: Any, display: str) -> None:
    """The page plays loud audio (10 samples, 0.1 s apart) from the feed ``display``."""
    loud = 0
    levels: dict[str, float] = {}
    for _ in range(200):
        levels = page.evaluate(FEED_LEVELS_JS)
        loud += levels.get(display, 0) > 0.02
        if loud >= 10:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no loud audio from {display!r}: {levels}")


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusProcess]:
    # As deploy/janus ships it: the node holds the API secret, pages a token each.
    with JanusProcess(
        api_secret=API_SECRET, token_secret=TOKEN_SECRET, admin_key=ADMIN_KEY
    ) as process:
        yield process


def launch(playwright: Any, wav: Path, tmp: Path) -> Any:
    """tests/test_browser.py's Chromium, showing its real host address to Janus (which
    ignores mDNS candidates, docs/sfu.md)."""
    return browser_launch(
        playwright, wav, tmp, extra_args=("--disable-features=WebRtcHideLocalIpsWithMdns",)
    )


def join(page: Any, url: str, *, listen_only: bool = False) -> None:
    page.goto(url)
    page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
    assert page.inner_text("#mic") == "Join the room"
    if listen_only:
        page.check("#listen-only")
    page.click("#mic")


def listening(page: Any) -> None:
    page.wait_for_function(LISTENING_JS, timeout=20_000)
    assert "Listening" in page.inner_text("#status"), page.inner_text("#status")


def test_two_pages_in_a_janus_room(janus: JanusProcess, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    server = start_server(
        tmp_path,
        LL_SFU="janus",
        LL_JANUS_URL=janus.ws_url,
        LL_JANUS_ADMIN_KEY=ADMIN_KEY,
        LL_JANUS_API_SECRET=API_SECRET,
        LL_JANUS_TOKEN_SECRET=TOKEN_SECRET,
    )
    try:
        assert httpx.get(f"{server.url}/vendor/janus.js").status_code == 200
        created = httpx.post(f"{server.url}/rooms").json()
        assert created["sfu"]["kind"] == "janus", created
        link, fragment = created["invite_url"].split("#", 1)
        wav = loop_wav(tmp_path, "table.wav", DATA / PHRASE, gap_s=2.0)
        with sync_playwright() as pw:
            chromium = launch(pw, wav, tmp_path)
            try:
                contexts = [chromium.new_context(), chromium.new_context()]
                for context in contexts:
                    context.add_init_script(SPY_JS)
                    context.add_init_script(COUNT_GET_USER_MEDIA_JS)
                listener, speaker = (context.new_page() for context in contexts)
                # The listener first, listening only: its language's feed is published when
                # it asks for it.
                join(listener, f"{link}&source=es&target=es&name=Bob#{fragment}", listen_only=True)
                listening(listener)
                assert "Listening only" in listener.inner_text("#status")
                for control in ("#mute", "#ptt", "#mic-device"):
                    assert listener.is_disabled(control), control
                # In the Janus room as "Bob [es]", publishing nothing: no track on any of
                # its peer connections.
                janus_room = created["sfu"]["room"]
                bobs = [p for p in janus_participants(janus, janus_room) if p.display == "Bob [es]"]
                assert len(bobs) == 1 and not bobs[0].publisher, bobs
                assert listener.evaluate(
                    "window.spy.pcs.every((pc) => pc.getSenders().every((s) => !s.track))"
                )
                join(speaker, f"{link}&source=en&target=es&name=Ann#{fragment}")
                listening(speaker)

                # The Spanish translation, in the listener's captions.
                def spanish() -> str:
                    captions = listener.evaluate(CAPTIONS_JS)
                    return " ".join(c["dst"] for c in captions).lower()

                listener.wait_for_function(
                    """() => {
                      const t = [...document.querySelectorAll('.captions .dst')]
                        .map((d) => d.textContent).join(' ').toLowerCase();
                      return ['mesa', 'personas', 'noche'].every((w) => t.includes(w));
                    }""",
                    timeout=45_000,
                )
                captions = listener.evaluate(CAPTIONS_JS)
                assert any(c["who"] == "Ann" for c in captions), captions
                assert all(w in spanish() for w in ("mesa", "personas", "noche"))

                # Loud Spanish speech from the node's feed, played by the listener.
                loud_feed(listener, feed_display("es"))
                # The listener hears the node's Spanish feed, not Ann's English voice.
                played = listener.evaluate(FEEDS_PLAYED_JS)
                assert played == {"feeds": [feed_display("es")], "receiving": 1}, played

                # The speaker's own transcript, as "You".
                mine = [c for c in speaker.evaluate(CAPTIONS_JS) if c["who"] == "You"]
                assert any("table" in c["src"].lower() for c in mine), mine

                # Listening only: no microphone asked for, nothing published to Janus.
                assert listener.evaluate("window.gumCalls") == 0
                assert speaker.evaluate("window.gumCalls") >= 1  # the counter counts
                participants = janus_participants(janus, janus_room)
                publishing = [p.display for p in participants if p.publisher]
                assert "Ann [en]" in publishing and "Bob [es]" not in publishing, publishing
                # The room's speakers, from Janus: Ann, not the node's feed.
                listener.wait_for_selector("#participants li:has-text('Ann')", timeout=5_000)
                people = listener.inner_text("#participants")
                assert "English" in people and "LingoLive" not in people, people
                assert "Ann (you)" in speaker.inner_text("#participants")

                # The listener's connection to Janus drops (its socket closes; Janus ends the
                # session made over it): the page rejoins by itself (one Janus session: the
                # old one's participant is gone), leaves nothing of the old session behind
                # and plays the feed again.
                listener.evaluate(REMEMBER_JANUS_JS)
                listener.evaluate(f"{JANUS_SOCKETS_JS}.forEach((s) => s.close())")
                listener.wait_for_function(REJOINED_JS, timeout=15_000)
                old = listener.evaluate(OLD_JANUS_GONE_JS)
                assert old["sockets"] and set(old["sockets"]) == {3}, old  # WebSocket.CLOSED
                assert old["pcs"] and set(old["pcs"]) == {"closed"}, old
                assert old["playing"] == 0, old
                loud_feed(listener, feed_display("es"))
                bobs = [p for p in janus_participants(janus, janus_room) if p.display == "Bob [es]"]
                assert len(bobs) == 1 and not bobs[0].publisher, bobs
                assert listener.evaluate("document.querySelectorAll('audio[data-mid]').length") == 1
                assert listener.evaluate("window.gumCalls") == 0

                # Janus restarts under the room: the server rebuilds it (the same room number)
                # and tells both pages (sfu_recovering, then sfu_ready); they rejoin Janus by
                # themselves, Ann publishes again and Bob hears her in Spanish again.
                for page in (listener, speaker):
                    page.evaluate(REMEMBER_JANUS_JS)
                janus.restart()
                for page in (listener, speaker):
                    page.wait_for_function(REJOINED_JS, timeout=20_000)
                loud_feed(listener, feed_display("es"))
                publishing = [
                    p.display for p in janus_participants(janus, janus_room) if p.publisher
                ]
                assert sorted(publishing) == sorted(["Ann [en]", feed_display("es")]), publishing

                speaker.click("#mic")
                assert speaker.inner_text("#status") == "You left the room."
                listener.click("#mic")
            finally:
                chromium.close()
    finally:
        stop_server(server)
    log = server.log()
    assert "Traceback" not in log, log
