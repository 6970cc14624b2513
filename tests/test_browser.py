"""The real page in headless Chromium: fake microphone in, captions and played audio out."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import DATA, Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]

#: What the page made, recorded by the test (an init script, run before the page's own):
#: ``window.spy.pcs`` every RTCPeerConnection, ``spy.streams`` every getUserMedia stream,
#: ``spy.sockets`` every WebSocket, each with the JSON messages it ``received`` and ``sent``.
#: ``spy.ws()``: the latest socket to the server's /ws; ``spy.sentTrack()``: the audio track
#: the latest peer connection sends; ``spy.receiverOf(track)``: the RTCRtpReceiver a remote
#: track comes in on.
SPY_JS = """
(() => {
  const spy = {pcs: [], streams: [], sockets: []};
  window.spy = spy;
  const RealPC = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends RealPC {
    constructor(...args) { super(...args); spy.pcs.push(this); }
  };
  const devices = navigator.mediaDevices;
  if (devices && devices.getUserMedia) {
    const real = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (...args) => {
      const stream = await real(...args);
      spy.streams.push(stream);
      return stream;
    };
  }
  const parse = (data) => { try { return JSON.parse(data); } catch { return data; } };
  const RealWS = window.WebSocket;
  window.WebSocket = class extends RealWS {
    constructor(...args) {
      super(...args);
      this.received = [];
      this.sent = [];
      spy.sockets.push(this);
      this.addEventListener("message", (e) => this.received.push(parse(e.data)));
    }
    send(data) { this.sent.push(parse(data)); return super.send(data); }
  };
  spy.ws = () => spy.sockets.filter((s) => new URL(s.url).pathname === "/ws").at(-1) || null;
  spy.sentTrack = () => {
    const pc = spy.pcs.at(-1);
    const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === "audio");
    return sender ? sender.track : null;
  };
  spy.receiverOf = (track) => {
    for (const pc of spy.pcs) {
      const receiver = pc.getReceivers().find((r) => r.track === track);
      if (receiver) return receiver;
    }
    return null;
  };
})();
"""

#: The decoder's stats of the track the page plays in its <audio id="remote">.
INBOUND_STATS_JS = """
async () => {
  const audio = document.getElementById("remote");
  const track = audio.srcObject && audio.srcObject.getAudioTracks()[0];
  const receiver = track && window.spy.receiverOf(track);
  if (!receiver) return null;
  const report = await receiver.getStats();
  let out = null;
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      out = {energy: s.totalAudioEnergy || 0, samples: s.totalSamplesReceived || 0,
             concealed: s.concealedSamples || 0, level: s.audioLevel || 0};
    }
  });
  return out;
}
"""

#: The page's session state, as its status line shows it (view.js): "idle", "connecting",
#: "reconnecting" or "listening" (speech reaches the server).
LISTENING_JS = "document.getElementById('status').dataset.state === 'listening'"


#: Captions on the page, a line each: who spoke, the source text (and whether some of it is
#: still partial), the translation shown under it, how many segments the line holds and how
#: many of them show their own translation.
CAPTIONS_JS = """
() => [...document.querySelectorAll('.captions li')].map((li) => ({
  who: (li.querySelector('.who') || {}).textContent || '',
  src: li.querySelector('.said').textContent,
  partial: li.querySelector('.src.partial') !== null,
  dst: li.querySelector('.heard').textContent,
  parts: li.querySelectorAll('.said .src').length,
  translated: [...li.querySelectorAll('.heard .dst')].filter((d) => d.textContent.trim()).length,
}))
"""

#: Silence before the speech in a fake-microphone file. Chromium starts playing the file at
#: getUserMedia, before the offer is even sent; the page says "Listening" only once media
#: flows (ICE + DTLS, up to a second or two on a loaded machine), and the speech must start
#: after that or its first word is lost.
LEAD_IN_S = 3.0


def with_lead_in(wav: Path, tmp: Path, seconds: float = LEAD_IN_S) -> Path:
    """A copy of ``wav`` with ``seconds`` more silence before it, for the fake microphone."""
    from lingolive.audio_files import decode, write_wav

    pcm = decode(wav, 16_000)
    out = tmp / f"lead-in-{wav.name}"
    write_wav(out, np.concatenate([np.zeros(int(seconds * 16_000), np.int16), pcm]), 16_000)
    return out


def launch(playwright: Any, wav: Path, tmp: Path, extra_args: tuple[str, ...] = ()) -> Any:
    """Headless Chromium whose microphone plays ``wav`` (with a lead-in, see LEAD_IN_S);
    ``extra_args`` for what one test needs more (e.g. real host addresses for Janus)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={with_lead_in(wav, tmp)}",
            "--autoplay-policy=no-user-gesture-required",
            *extra_args,
        ],
    )


def spied_page(browser: Any) -> Any:
    """A new page (in a context of its own) with SPY_JS installed."""
    page = browser.new_page()
    page.add_init_script(SPY_JS)
    return page


def start_listening(page: Any) -> None:
    """Click the microphone button; return once the page says speech reaches the server."""
    page.click("#mic")
    page.wait_for_function(LISTENING_JS, timeout=15_000)
    assert page.inner_text("#status").startswith("Listening"), page.inner_text("#status")


def settled_captions(page: Any, *, others_only: bool = False, timeout_s: float = 40) -> list[Any]:
    """The captions once every phrase is final and translated and nothing changed for 2 s.

    ``others_only``: in a room, the other participants' captions (one's own shows no
    translation in one's own language).
    """
    deadline = time.monotonic() + timeout_s
    last: list[Any] = []
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        now = [c for c in page.evaluate(CAPTIONS_JS) if not others_only or c["who"] != "You"]
        if now != last:
            last, stable_since = now, time.monotonic()
        done = last and all(not c["partial"] and c["dst"].strip() for c in last if c["src"])
        if done and time.monotonic() - stable_since >= 2.0:
            return last
        page.wait_for_timeout(200)
    raise AssertionError(f"captions did not settle in {timeout_s} s: {last}")


def loud_playback_s(*pages: Any, window_s: float = 12.0) -> list[float]:
    """Seconds of loud audio each page's remote track played, sampled every 100 ms for up
    to ``window_s`` (stops once every page has played 1.5 s of it).

    The server sends silence between phrases, so counting received samples proves nothing;
    the decoder's audio level above 0.02 (about -34 dBFS) is translated speech.
    """
    loud = [0] * len(pages)
    for _ in range(int(window_s * 10)):
        for i, page in enumerate(pages):
            loud[i] += (page.evaluate(INBOUND_STATS_JS) or {}).get("level", 0) > 0.02
        if min(loud) >= 15:
            break
        pages[0].wait_for_timeout(100)
    return [n / 10 for n in loud]


def test_page_translates_fake_microphone(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw, DATA / "en_piper_01.wav", tmp_path)
        try:
            page = spied_page(browser)
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.goto(server.url + "/")
            page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
            assert page.input_value("#source") == "en"
            assert page.input_value("#target") == "es"
            start_listening(page)
            page.wait_for_selector(".captions li .dst:not(:empty)", timeout=40_000)
            (played,) = loud_playback_s(page)
            captions = settled_captions(page)
            page.wait_for_function(
                "document.getElementById('lat-last').textContent.includes('ms')", timeout=15_000
            )
            page.click("#mic")  # stop: sends bye
            page.wait_for_selector("#mic[aria-pressed='false']")
        finally:
            browser.close()
    heard = " ".join(c["src"] for c in captions).lower()
    translated = " ".join(c["dst"] for c in captions).lower()
    assert "good morning" in heard and "book a table" in heard, captions
    assert "buenos días" in translated and "mesa" in translated, captions
    assert played >= 1.5, f"only {played:.1f} s of loud translated speech played"
    assert not [c for c in console if "rror" in c], console


def test_interpreted_clauses_read_as_one_line_per_sentence(server: Server, tmp_path: Path) -> None:
    """A speaker who goes on is interpreted clause by clause (several segments per sentence,
    each translated as it comes), and the caption log and the SRT export still read one
    line per sentence."""
    import pysubs2
    from playwright.sync_api import sync_playwright

    from lingolive.audio_files import decode, write_wav

    # Three sentences spoken without a stop (en_piper_fast: 11 s, 250 ms between them).
    speech = decode(DATA / "long" / "en_piper_fast.flac", 16_000)[: int(11.4 * 16_000)]
    wav = tmp_path / "three-sentences.wav"
    write_wav(wav, np.concatenate([speech, np.zeros(20 * 16_000, np.int16)]), 16_000)
    with sync_playwright() as pw:
        browser = launch(pw, wav, tmp_path)
        try:
            context = browser.new_context(accept_downloads=True)
            context.add_init_script(SPY_JS)
            page = context.new_page()
            page.goto(server.url + "/")
            page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
            page.evaluate("localStorage.clear()")
            start_listening(page)
            settled_captions(page, timeout_s=60)
            lines = page.evaluate(CAPTIONS_JS)
            finals = page.evaluate(
                "window.spy.ws().received.filter((m) => m.type === 'transcript' && m.final)"
            )
            # what else the server said (notices, errors, timings): the story of a failure
            said_else = page.evaluate(
                "window.spy.ws().received.filter((m) => !['transcript', 'translation']"
                ".includes(m.type))"
            )
            with page.expect_download() as info:
                page.click("#export-srt")
            srt = Path(info.value.path()).read_text(encoding="utf-8")
            page.click("#mic")
        finally:
            browser.close()
    # interpreted: more segments than sentences, some of them clauses that go on
    assert len(finals) > len(lines) and any(m.get("continues") for m in finals), finals
    said = " ".join(line["src"] for line in lines).lower()
    for words in ("booking system", "choose the day", "every train"):
        assert words in said, (lines, [m["text"] for m in finals], said_else)
    # one line per sentence (the last ends where the speaker stopped), each with its clauses
    # and their translations
    for line in lines[:-1]:
        assert line["src"].rstrip().endswith((".", "?", "!")), lines
    for line in lines:
        assert line["translated"] == line["parts"] and not line["partial"], lines
    assert any(line["parts"] > 1 for line in lines), lines
    cues = pysubs2.SSAFile.from_string(srt, format_="srt")
    assert [c.plaintext.split("\n")[0] for c in cues] == [line["src"] for line in lines], srt
