"""The page in an SFU room: two headless Chromium pages, a real Janus, a real server with
``LL_SFU=janus`` (docs/sfu.md).

A room is made with ``POST /rooms``; a Spanish listener and an English speaker open its
invite. The page asks ``sfu_listen`` on its socket, gets ``sfu_ready`` and goes through Janus
(client/sfu.js, Debian's janus.js served as ``/vendor/janus.js``): it publishes its
microphone as ``"Name [lang]"`` and subscribes to the node's feed in its language. The
listener must play loud audio from the ``"LingoLive · es"`` feed and show the Spanish
translation; the speaker's page shows its own transcript.

Chromium runs with ``--disable-features=WebRtcHideLocalIpsWithMdns``: Janus ignores mDNS
candidates (``nat.ignore_mdns``), so the page must offer its real host address.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import DATA, start_server, stop_server
from lingolive.app import JANUS_JS
from lingolive.sfu.janus_process import JanusProcess
from lingolive.sfu.translator import feed_display
from test_browser import CAPTIONS_JS, CHROMIUM
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

#: Per feed the listener hears (by its Janus display): the decoder's audio level now.
FEED_LEVELS_JS = """
async () => {
  const sfu = window.lingolive.sfu;
  const pc = sfu && sfu.incoming;
  if (!pc) return {};
  const out = {};
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out[sfu.feedOfMid(s.mid) || `mid ${s.mid}`] = s.audioLevel || 0;
    }
  });
  return out;
}
"""


@pytest.fixture(scope="module")
def janus() -> Iterator[JanusProcess]:
    # No API secret: browsers talk to this Janus, and a page cannot keep a secret.
    with JanusProcess(admin_key=ADMIN_KEY) as process:
        yield process


def launch(playwright: Any, wav: Path, tmp: Path) -> Any:
    """tests/test_browser.py's Chromium, showing its real host address to Janus (which
    ignores mDNS candidates, docs/sfu.md)."""
    return browser_launch(
        playwright, wav, tmp, extra_args=("--disable-features=WebRtcHideLocalIpsWithMdns",)
    )


def join(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
    assert page.inner_text("#mic") == "Join the room"
    page.click("#mic")


def listening(page: Any) -> None:
    page.wait_for_function("window.lingolive.listening === true", timeout=20_000)
    assert "Listening" in page.inner_text("#status"), page.inner_text("#status")


def test_two_pages_in_a_janus_room(janus: JanusProcess, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    server = start_server(
        tmp_path, LL_SFU="janus", LL_JANUS_URL=janus.ws_url, LL_JANUS_ADMIN_KEY=ADMIN_KEY
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
                listener = chromium.new_context().new_page()
                speaker = chromium.new_context().new_page()
                # The listener first, muted at once (one fake microphone for the browser):
                # its language's feed is published when it asks for it.
                join(listener, f"{link}&source=es&target=es&name=Bob#{fragment}")
                listener.click("#mute")
                listening(listener)
                assert listener.evaluate("window.lingolive.sfu.display") == "Bob [es]"
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
                loud = 0
                for _ in range(150):
                    levels = listener.evaluate(FEED_LEVELS_JS)
                    loud += levels.get(feed_display("es"), 0) > 0.02
                    if loud >= 10:
                        break
                    listener.wait_for_timeout(100)
                assert loud >= 10, levels
                # The listener hears the node's Spanish feed, not Ann's English voice.
                feeds = listener.evaluate(
                    "window.lingolive.sfu.streams.filter((s) => s.active !== false)"
                    ".map((s) => s.feed_display)"
                )
                assert feeds == [feed_display("es")], feeds

                # The speaker's own transcript, as "You".
                mine = [c for c in speaker.evaluate(CAPTIONS_JS) if c["who"] == "You"]
                assert any("table" in c["src"].lower() for c in mine), mine

                speaker.click("#mic")
                assert speaker.inner_text("#status") == "You left the room."
                listener.click("#mic")
            finally:
                chromium.close()
    finally:
        stop_server(server)
    log = server.log()
    assert "Traceback" not in log, log
