"""The page's features as a user meets them, in headless Chromium with fake microphones.

One server (this module's own, so that it can be restarted) and one page in a session for
most tests, in file order: level meter, mute, push-to-talk, typed text, "I hear" changed
mid-session, exports, accessibility (and the screenshot docs/page.png), captions kept across
a reload, reconnection after a server restart. Conversation mode and the error messages use
pages of their own.

The fake microphone loops one short phrase with long silences. A probe in the page (an
analyser on an always-enabled clone of the microphone track) tells when the fake speaker
starts and stops, so a test waits for "a whole phrase was spoken while muted" instead of
sleeping.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from conftest import DATA, ROOT, Server, start_server, stop_server
from test_browser import CHROMIUM, LISTENING_JS, SPY_JS, launch, start_listening

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]

#: Installs ``window.probe``: when the fake microphone's speech starts and ends (page clock,
#: ms), whatever the page's mute does to the track it sends (the probe listens to a clone of
#: it, always enabled), and the page's level meter's highest value during a phrase spoken
#: while the page is muted.
PROBE_JS = """
() => {
  if (window.probe) clearInterval(window.probe.timer);
  const track = window.spy.sentTrack().clone();
  track.enabled = true;
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const probe = {starts: [], ends: [], loud: false, lastLoud: 0, mutedMeter: 0, track};
  probe.timer = setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    const loud = 10 * Math.log10(sum / buf.length + 1e-12) > -45;
    const now = Date.now();
    const muted = document.body.classList.contains('muted');
    if (loud) {
      if (!probe.loud) {
        probe.starts.push(now);
        probe.mutedPhrase = muted;
      }
      probe.loud = true;
      probe.lastLoud = now;
      if (probe.mutedPhrase && muted) {
        probe.mutedMeter = Math.max(probe.mutedMeter, document.getElementById('level').value);
      }
    } else if (probe.loud && now - probe.lastLoud > 500) {
      probe.loud = false;
      probe.ends.push(probe.lastLoud);
    }
  }, 20);
  window.probe = probe;
}
"""

#: True once the fake microphone spoke a whole phrase that started after ``t`` and the
#: silence after it lasted until the next phrase started (any translation of it would have
#: come by then).
PHRASE_PASSED_JS = """
(t) => {
  const p = window.probe;
  const s = p.starts.find((x) => x > t);
  const e = s === undefined ? undefined : p.ends.find((x) => x > s);
  return e !== undefined && p.starts.some((x) => x > e);
}
"""

#: The page's captions, as it shows them: when each phrase came (its <time>, page clock, ms),
#: what was said and its language, the translation and its language.
CAPTIONS_SHOWN_JS = """
[...document.querySelectorAll('#captions li')].map((li) => ({
  src: li.querySelector('.said').textContent, srcLang: li.querySelector('.src').lang,
  dst: li.querySelector('.heard').textContent, dstLang: li.querySelector('.dst').lang,
  at: Date.parse(li.querySelector('time').dateTime),
}))
"""

#: The page's phrases (captions) whose first message came at or after ``t`` (page clock, ms).
PHRASES_SINCE_JS = f"(t) => {CAPTIONS_SHOWN_JS}.filter((p) => p.at >= t)"

TRANSLATED_SINCE_JS = f"""
([t, lang]) => {CAPTIONS_SHOWN_JS}.some((p) => p.at >= t && p.dst && (!lang || p.dstLang === lang))
"""

#: True once the latest ``ready`` the page's socket received says it hears ``lang``.
READY_HEARS_JS = """
(lang) => {
  const ws = window.spy.ws();
  const ready = ws && ws.received.filter((m) => m.type === 'ready').at(-1);
  return !!ready && ready.target_lang === lang;
}
"""

#: The session id the server gave in its ``answer`` on socket ``ws`` (null before it came).
ANSWER_JS = "((ws) => (ws.received.find((m) => m.type === 'answer') || {}).session_id)"

#: The phrases the page keeps (localStorage, read by the exports and after a reload).
STORED_JS = "(JSON.parse(localStorage.getItem('lingolive.captions.v1')) || {phrases: []}).phrases"

NOW_JS = "Date.now()"


def loop_wav(tmp: Path, name: str, *parts: Path, gap_s: float = 1.5) -> Path:
    """The shared recordings one after another with ``gap_s`` of silence between, as one
    fake-microphone file (``launch`` adds its lead-in; Chromium loops the file)."""
    from lingolive.audio_files import decode, write_wav

    silence = np.zeros(int(gap_s * 16_000), np.int16)
    pieces = [piece for part in parts for piece in (decode(part, 16_000), silence)]
    out = tmp / name
    write_wav(out, np.concatenate(pieces), 16_000)
    return out


class OwnServer:
    """This module's server, which the reconnection test stops and starts on the same port."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.server = start_server(tmp)
        self.logs: list[str] = []

    @property
    def port(self) -> int:
        return int(self.server.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        stop_server(self.server)
        self.logs.append(self.server.log())

    def start_again(self) -> None:
        """The same server (same port) started again, as after a crash or an upgrade."""
        log_path = self.tmp / f"server-{self.port}-again.log"
        env = {**os.environ, "LL_HOST": "127.0.0.1", "LL_PORT": str(self.port)}
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lingolive", "serve"],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.server = Server(self.server.url, self.server.ws_url, proc, log_path)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{self.server.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server did not start again: {log_path.read_text()}")


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnServer]:
    own = OwnServer(tmp_path_factory.mktemp("page-server"))
    yield own
    own.stop()
    for log in own.logs:
        assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium whose microphone says "How much does this cost?" every 7 s or so."""
    tmp = tmp_path_factory.mktemp("page-mic")
    chromium = launch(playwright, loop_wav(tmp, "cost.wav", DATA / "en_piper_06.wav"), tmp)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def page(browser: Any, own_server: OwnServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1000, "height": 1000}, accept_downloads=True)
    context.add_init_script(SPY_JS)
    page = context.new_page()
    page.goto(own_server.server.url + "/")
    page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
    yield page
    context.close()


def now(page: Any) -> float:
    return float(page.evaluate(NOW_JS))


def wait_translated_since(page: Any, t: float, lang: str | None = None) -> None:
    page.wait_for_function(TRANSLATED_SINCE_JS, arg=[t, lang], timeout=40_000)


def wait_phrase_passed(page: Any, t: float) -> float:
    """Wait until a whole phrase started after ``t`` was spoken (and its silence passed);
    return when it started."""
    page.wait_for_function(PHRASE_PASSED_JS, arg=t, timeout=40_000)
    return float(page.evaluate("(t) => window.probe.starts.find((x) => x > t)", t))


def test_level_meter_moves_while_the_microphone_speaks(page: Any) -> None:
    start_listening(page)
    assert page.inner_text("#status").startswith("Listening: English → Spanish")
    # The meter rises with the phrase and falls in the silence after it.
    page.wait_for_function("document.getElementById('level').value > 0.4", timeout=20_000)
    page.wait_for_function("document.getElementById('level').value < 0.05", timeout=20_000)
    page.wait_for_function("document.getElementById('level').value > 0.4", timeout=20_000)
    # The server's voice activity detection hears it too.
    page.wait_for_selector("#speaking", state="visible", timeout=20_000)


def wait_silence(page: Any) -> None:
    """Wait until the fake microphone has just finished a phrase (seconds of silence ahead)."""
    page.wait_for_function(
        "(t) => window.probe.ends.some((x) => x > t) && !window.probe.loud",
        arg=now(page),
        timeout=20_000,
    )


def test_mute_stops_translations_and_unmute_resumes(page: Any) -> None:
    page.wait_for_selector("#captions li .dst:not(:empty)", timeout=40_000)
    page.evaluate(PROBE_JS)
    wait_silence(page)
    muted_at = now(page)
    page.keyboard.press("m")
    try:
        assert page.get_attribute("#mute", "aria-pressed") == "true"
        assert page.evaluate("window.spy.sentTrack().enabled") is False
        assert "muted" in page.inner_text("#status")
        silent_from = wait_phrase_passed(page, muted_at)
        assert page.evaluate(PHRASES_SINCE_JS, silent_from) == []
        assert page.evaluate("window.probe.mutedMeter") < 0.05  # the meter shows the mute
    finally:
        unmuted_at = now(page)
        page.click("#mute")
    assert page.get_attribute("#mute", "aria-pressed") == "false"
    wait_translated_since(page, unmuted_at)


def test_push_to_talk_lets_through_only_while_space_is_held(page: Any) -> None:
    page.check("#ptt")
    try:
        assert page.is_visible("#talk")
        assert page.evaluate("window.spy.sentTrack().enabled") is False
        # Start holding in the silence after a phrase, hold through the next one.
        wait_silence(page)
        held_at = now(page)
        page.keyboard.down("Space")
        assert page.get_attribute("#talk", "aria-pressed") == "true"
        wait_translated_since(page, held_at)
        page.keyboard.up("Space")
        released_at = now(page)
        assert page.get_attribute("#talk", "aria-pressed") == "false"
        assert page.is_checked("#ptt"), "Space must not toggle the focused checkbox"
        silent_from = wait_phrase_passed(page, released_at)
        assert page.evaluate(PHRASES_SINCE_JS, silent_from) == []
    finally:
        page.keyboard.up("Space")
        page.uncheck("#ptt")
    assert page.evaluate("window.spy.sentTrack().enabled") is True


def test_typed_text_is_translated(page: Any) -> None:
    page.fill("#say-text", "Where is the pharmacy?")
    page.press("#say-text", "Enter")
    assert page.input_value("#say-text") == ""
    page.wait_for_function(
        f"() => {CAPTIONS_SHOWN_JS}.some((p) => p.src.includes('pharmacy') && p.dst)",
        timeout=30_000,
    )
    said = [p for p in page.evaluate(PHRASES_SINCE_JS, 0) if "pharmacy" in p["src"]]
    assert "farmacia" in said[0]["dst"].lower(), said


def test_skip_is_accepted_and_notices_are_dismissable(page: Any) -> None:
    page.click("#skip")
    note = page.locator("#notices li", has_text="Skipped")
    note.wait_for()
    note.get_by_role("button", name="Dismiss").click()
    note.wait_for(state="detached")
    assert page.locator("#notices li.error").count() == 0  # the server took the skip


def test_a_lost_microphone_can_be_replaced_mid_session(page: Any) -> None:
    # The probe is done: its clone of the microphone would share the fake capture device.
    page.evaluate("clearInterval(window.probe.timer), window.probe.track.stop()")
    old = page.evaluate("window.spy.sentTrack().id")
    pcs = page.evaluate("window.spy.pcs.length")
    page.evaluate("window.spy.sentTrack().dispatchEvent(new Event('ended'))")  # unplugged
    assert page.inner_text("#status").startswith("The microphone stopped")
    assert page.get_attribute("#devices", "open") is not None  # the picker is offered
    switched_at = now(page)
    page.click("#notices li >> text=Use the default microphone")
    page.wait_for_function("(old) => window.spy.sentTrack().id !== old", arg=old)
    # The new track went into the same connection (replaceTrack): phrases still arrive.
    assert page.evaluate(
        "window.spy.sentTrack() === window.spy.streams.at(-1).getAudioTracks()[0]"
    ), "the connection does not send the new microphone"
    assert page.evaluate("window.spy.pcs.length") == pcs, "a new connection instead of replaceTrack"
    assert page.evaluate(LISTENING_JS) is True
    wait_translated_since(page, switched_at)
    page.click("#devices summary")  # fold the pickers away again


def test_changing_i_hear_mid_session_changes_the_next_translation(page: Any) -> None:
    spanish = {p["dst"] for p in page.evaluate(PHRASES_SINCE_JS, 0) if p["dstLang"] == "es"}
    page.select_option("#target", "ca")
    try:
        page.wait_for_function(READY_HEARS_JS, arg="ca")
        sent = page.evaluate("window.spy.ws().sent")
        assert {"type": "listen", "target_lang": "ca"} in sent, sent  # no reconnection
        page.wait_for_function(
            "document.getElementById('status').textContent.includes('→ Catalan')"
        )
        switched_at = now(page)
        wait_translated_since(page, switched_at, "ca")
        catalan = [p for p in page.evaluate(PHRASES_SINCE_JS, switched_at) if p["dstLang"] == "ca"]
        assert catalan[0]["dst"] not in spanish, (catalan, spanish)
    finally:
        page.select_option("#target", "es")
    page.wait_for_function(READY_HEARS_JS, arg="es")


def download(page: Any, button: str) -> str:
    with page.expect_download() as info:
        page.click(button)
    return Path(info.value.path()).read_text(encoding="utf-8")


def test_exports_parse_with_the_phrases_in_order(page: Any) -> None:
    import pysubs2

    page.wait_for_function(
        f"{STORED_JS}.filter((p) => p.src && p.dst).length >= 3",
        timeout=40_000,
    )
    data = json.loads(download(page, "#export-json"))
    phrases = data["phrases"]
    assert len(phrases) >= 3, data
    starts = [p["start_s"] for p in phrases]
    assert starts == sorted(starts)
    assert all(p["end_s"] > p["start_s"] for p in phrases), phrases
    assert any("cost" in p["source"].lower() and p["target_lang"] == "es" for p in phrases)
    assert any("pharmacy" in p["source"] for p in phrases), phrases

    srt = download(page, "#export-srt")
    assert re.search(r"^00:00:\d\d,\d{3} --> 00:\d\d:\d\d,\d{3}$", srt, re.M), srt
    vtt = download(page, "#export-vtt")
    assert vtt.startswith("WEBVTT\n\n"), vtt
    assert re.search(r"^00:00:\d\d\.\d{3} --> 00:\d\d:\d\d\.\d{3}$", vtt, re.M), vtt
    for text, fmt in ((srt, "srt"), (vtt, "vtt")):
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
        # The same phrases, in the same order, at the same times (ms).
        assert len(subs) >= len(phrases), (fmt, text)
        for event, phrase in zip(subs, phrases, strict=False):
            assert event.start == round(phrase["start_s"] * 1000), (fmt, event, phrase)
            assert phrase["source"] in event.plaintext, (fmt, event, phrase)
            assert phrase["translation"] in event.plaintext, (fmt, event, phrase)
    txt = download(page, "#export-txt")
    assert all(p["source"] in txt for p in phrases), txt


def test_captions_read_top_to_bottom_and_follow_the_newest(page: Any) -> None:
    """Newest line at the bottom, as in a call's captions, so the order on screen is the
    DOM's (what a screen reader reads); the log keeps the newest line in view unless the
    reader scrolled up to read."""
    order = page.evaluate(
        """() => {
          const list = document.getElementById('captions');
          const tops = [...list.children].map((li) => li.getBoundingClientRect().top);
          return { tops, direction: getComputedStyle(list).flexDirection };
        }"""
    )
    assert len(order["tops"]) >= 3 and order["direction"] == "column", order
    assert order["tops"] == sorted(order["tops"]), order  # DOM order = visual order
    follows = page.evaluate(
        """async () => {
          const list = document.getElementById('captions');
          const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)));
          const add = async () => {
            const li = document.createElement('li');
            li.style.height = '400px';
            li.dataset.probe = '1';
            list.append(li);
            await frame();
            return li;
          };
          const bottom = () => list.scrollHeight - list.scrollTop - list.clientHeight;
          list.scrollTop = list.scrollHeight; await frame();
          const first = await add();
          const followed = bottom() < 2;
          list.scrollTop = 0; await frame();
          const second = await add();
          const stayed = list.scrollTop;
          first.remove(); second.remove();
          list.scrollTop = list.scrollHeight; await frame();
          return { followed, stayed };
        }"""
    )
    assert follows == {"followed": True, "stayed": 0}, follows


def test_controls_are_named_and_captions_are_a_log(page: Any) -> None:
    snapshot = page.locator("body").aria_snapshot()
    for control in (
        'button "Stop" [pressed]',
        'button "Mute"',
        'checkbox "Push to talk"',
        'button "Skip backlog"',
        'combobox "I speak"',
        'combobox "I hear"',
        'checkbox "Conversation on this device"',
        'button "Copy"',
        'button "Export TXT"',
        'button "Export SRT"',
        'button "Export WebVTT"',
        'button "Export JSON"',
        'checkbox "Show timings"',
        'textbox "Text to speak"',
        'log "Captions"',
        "status",
    ):
        assert control in snapshot, f"{control} not in\n{snapshot}"
    assert re.search(r'(meter|progressbar) "Mic level', snapshot), snapshot
    # Final lines are announced; partial text is not (aria-live="off" until final).
    finals = page.evaluate(
        "[...document.querySelectorAll('#captions li .src:not(.partial)')]"
        ".map((e) => e.closest('[aria-live]').getAttribute('aria-live'))"
    )
    assert finals and set(finals) == {"polite"}, finals
    partials = page.evaluate(
        "[...document.querySelectorAll('#captions li .src.partial')]"
        ".map((e) => e.getAttribute('aria-live'))"
    )
    assert set(partials) <= {"off"}, partials
    # Timings are behind a toggle.
    assert not page.is_visible("#latency")
    page.check("#show-timings")
    assert page.is_visible("#latency")
    page.uncheck("#show-timings")
    # Mid-phrase, for the screenshot.
    page.wait_for_function("document.getElementById('level').value > 0.4", timeout=20_000)
    page.screenshot(path=str(ROOT / "docs" / "page.png"))


def test_captions_survive_a_reload(page: Any) -> None:
    page.click("#mic")  # stop, so that no phrase comes in between
    page.wait_for_selector("#mic[aria-pressed='false']")
    # Stopping saved the phrases (localStorage): what the page shows after a reload.
    before = page.evaluate(f"{STORED_JS}.map((p) => [p.src, p.dst])")
    assert len(before) >= 3
    page.reload()
    page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
    shown = page.evaluate(
        "[...document.querySelectorAll('#captions li')]"
        ".map((li) => [li.querySelector('.said').textContent,"
        " li.querySelector('.heard').textContent])"
    )
    assert shown == before
    assert page.get_attribute("#mic", "aria-pressed") == "false"


def test_server_restart_reconnects_and_captions_continue(page: Any, own_server: OwnServer) -> None:
    start_listening(page)
    kept = page.locator("#captions li").count()
    own_server.stop()
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('Reconnecting')",
        timeout=20_000,
    )
    assert page.get_attribute("#status", "data-state") == "reconnecting"
    own_server.start_again()
    page.wait_for_function(LISTENING_JS, timeout=60_000)
    back_at = now(page)
    wait_translated_since(page, back_at)
    assert page.locator("#captions li").count() > kept
    assert page.get_attribute("#mic", "aria-pressed") == "true"
    page.click("#mic")
    page.wait_for_selector("#mic[aria-pressed='false']")


def test_room_shows_leave_who_speaks_and_who_is_muted(browser: Any, own_server: OwnServer) -> None:
    host_context, guest_context = browser.new_context(), browser.new_context()
    guest_context.add_init_script(SPY_JS)
    try:
        host = host_context.new_page()
        host.goto(own_server.server.url + "/")
        assert not host.is_visible("#participants")  # nothing to show before a room
        host.fill("#name", "Ann")
        host.click("#create-room")
        host.wait_for_selector("#invite-box:not([hidden])")
        link, fragment = host.input_value("#invite").split("#", 1)
        guest = guest_context.new_page()
        guest.goto(f"{link}&source=en&target=es&name=Bob#{fragment}")
        guest.wait_for_selector("#mic:not([disabled])", timeout=15_000)
        assert guest.inner_text("#mic") == "Join the room"
        start_listening(host)
        start_listening(guest)
        assert host.inner_text("#mic") == "Leave" and guest.inner_text("#mic") == "Leave"
        guest.wait_for_selector("#participants li:nth-child(2)", timeout=20_000)
        # Both fake microphones speak: each sees the other highlighted while they speak.
        guest.wait_for_selector("#participants li.speaking", timeout=30_000)
        host.click("#mute")
        guest.wait_for_selector("#participants li.muted:has-text('Ann')", timeout=10_000)
        # The guest's connection drops: the page comes back as the same participant, and
        # the host never sees Bob leave.
        bob = guest.evaluate(f"{ANSWER_JS}(window.spy.ws())")
        sockets = guest.evaluate("window.spy.sockets.length")
        guest.evaluate("window.spy.ws().close()")
        guest.wait_for_function(
            f"""([sockets, bob]) => window.spy.sockets.length > sockets
                && {ANSWER_JS}(window.spy.ws()) === bob && {LISTENING_JS}""",
            arg=[sockets, bob],
            timeout=40_000,
        )
        offer = guest.evaluate("window.spy.ws().sent.find((m) => m.type === 'offer')")
        assert offer["resume_token"], offer
        guest.get_by_text(
            "Reconnected: back in the room (the others did not see you leave)."
        ).wait_for()
        assert "left" not in host.inner_text("#room-info"), host.inner_text("#room-info")
        assert host.locator("#participants li").count() == 2
        guest.click("#mic")
        assert guest.inner_text("#status") == "You left the room."
        host.wait_for_function("document.querySelectorAll('#participants li').length === 1")
        host.click("#mic")
    finally:
        host_context.close()
        guest_context.close()


def test_conversation_mode_translates_both_ways(
    playwright: Any, own_server: OwnServer, tmp_path: Path
) -> None:
    wav = loop_wav(tmp_path, "dialogue.wav", DATA / "en_piper_02.wav", DATA / "es_espeak_04.wav")
    chromium = launch(playwright, wav, tmp_path)
    try:
        page = chromium.new_page()
        page.goto(own_server.server.url + "/")
        page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
        page.check("#conversation")
        page.select_option("#source", "en")
        page.select_option("#target", "es")
        start_listening(page)
        assert "conversation" in page.inner_text("#status")
        wait_translated_since(page, 0, "es")
        wait_translated_since(page, 0, "en")
        sides = page.evaluate(
            "[...document.querySelectorAll('#captions li')].map((li) => "
            "[li.dataset.side, li.querySelector('.src').lang, li.querySelector('.dst').lang])"
        )
        page.click("#mic")
    finally:
        chromium.close()
    assert ["left", "en", "es"] in sides, sides
    assert ["right", "es", "en"] in sides, sides


def test_errors_name_the_fix(browser: Any, own_server: OwnServer) -> None:
    context = browser.new_context()
    context.add_init_script(
        """
        if (sessionStorage.gumError) navigator.mediaDevices.getUserMedia = () =>
          Promise.reject(new DOMException('refused', sessionStorage.gumError));
        if (sessionStorage.insecure)
          Object.defineProperty(window, 'isSecureContext', {value: false});
        """
    )
    page = context.new_page()
    try:
        page.goto(own_server.server.url + "/")
        for name, says in (
            ("NotAllowedError", "Microphone blocked: allow it in the address bar"),
            ("NotFoundError", "No microphone found: plug one in"),
            ("NotReadableError", "The microphone is busy in another app"),
        ):
            page.evaluate(f"sessionStorage.gumError = '{name}'")
            page.reload()
            page.click("#mic")
            page.wait_for_function(
                "(says) => document.getElementById('status').textContent.startsWith(says)",
                arg=says,
            )
        page.evaluate("sessionStorage.clear(); sessionStorage.insecure = '1'")
        page.reload()
        page.wait_for_selector("#mic:not([disabled])")
        assert page.inner_text("#status").startswith("Open this page over https (or on localhost)")

        page.evaluate("sessionStorage.clear()")
        page.goto(own_server.server.url + "/?room=nosuchroom#token=forged")
        page.click("#mic")
        page.wait_for_function(
            "document.getElementById('status').textContent.startsWith("
            "'This invite expired or is not from this server: ask for a new invite')"
        )
        assert page.get_attribute("#mic", "aria-pressed") == "false"
    finally:
        context.close()


def test_languages_are_named_in_the_viewers_language(browser: Any, own_server: OwnServer) -> None:
    """The menus name languages as the viewer's browser would (`Intl.DisplayNames`): a
    Spanish browser offers «Inglés» and «Español», an English one "English" and "Spanish".
    And reconnection waits are spread (equal jitter: half the doubled wait, then up to as
    much again at random), so pages cut off together do not come back in the same second."""
    options = """() => Object.fromEntries(
      [...document.querySelectorAll('#source option')].map((o) => [o.value, o.textContent]))"""
    for locale, english, spanish in (
        ("es-ES", "Inglés", "Español"),
        ("en-US", "English", "Spanish"),
    ):
        context = browser.new_context(locale=locale)
        try:
            page = context.new_page()
            page.goto(own_server.server.url + "/")
            page.wait_for_selector("#source option[value='es']", state="attached", timeout=15_000)
            names = page.evaluate(options)
            assert (names["en"], names["es"]) == (english, spanish), names
        finally:
            context.close()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(own_server.server.url + "/")
        waits: dict[str, float] = page.evaluate(
            """async () => {
              const { jittered } = await import('/client/signaling.js');
              const draws = Array.from({ length: 200 }, () => jittered(2, 10));
              return { low: jittered(3, 10, () => 0), high: jittered(3, 10, () => 1),
                       capped: jittered(9, 10, () => 1), min: Math.min(...draws),
                       max: Math.max(...draws), distinct: new Set(draws).size };
            }"""
        )
    finally:
        context.close()
    assert (waits["low"], waits["high"], waits["capped"]) == (4, 8, 10), waits
    assert 2 <= waits["min"] < waits["max"] <= 4 and waits["distinct"] > 100, waits


def test_page_subtitles_follow_the_cli_cue_rules(page: Any) -> None:
    """The page's SRT/WebVTT export times its cues as `lingolive translate --subtitles`
    does (`subtitles.timed`: reading time at 17 characters/s, at least 1 s, never into the
    next cue), checked on the same phrases: short ones, long ones, close and overlapping."""
    from lingolive.subtitles import Cue, timed

    rng = np.random.default_rng(7)
    phrases = []
    start = 0
    for n in range(40):
        start += int(rng.integers(0, 4000))
        length = int(rng.integers(100, 3000))
        text = "palabra " * int(rng.integers(1, 12)) + str(n)
        phrases.append({"start": start, "end": start + length, "src": f"word {n}", "dst": text})
    ours = page.evaluate(
        """async (phrases) => {
          const { subtitleCues, toSRT } = await import('/client/captions.js');
          return { cues: subtitleCues(phrases).map((c) => [c.start, c.end, c.dst]),
                   srt: toSRT(phrases) };
        }""",
        phrases,
    )
    last = max(p["end"] for p in phrases) / 1000 + 60  # the CLI also stops at the input's end
    cli = timed([Cue(p["start"] / 1000, p["end"] / 1000, p["dst"]) for p in phrases], last)
    assert [c[2].strip() for c in ours["cues"]] == [c.text.strip() for c in cli]
    for (start_ms, end_ms, _), cue in zip(ours["cues"], cli, strict=True):
        assert start_ms == round(cue.start_s * 1000)
        assert abs(end_ms - cue.end_s * 1000) <= 1, (start_ms, end_ms, cue)
    assert ours["srt"].count(" --> ") == len(phrases)
