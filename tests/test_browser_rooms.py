"""Two headless Chromium browsers, two fake microphones, one room: each hears the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DATA, Server
from test_browser import (
    CHROMIUM,
    launch,
    loud_playback_s,
    settled_captions,
    spied_page,
    start_listening,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]


def test_two_browsers_in_one_room(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        english = launch(pw, DATA / "en_piper_01.wav", tmp_path)
        spanish = launch(pw, DATA / "es_espeak_08.wav", tmp_path)
        try:
            host = spied_page(english)
            host.goto(server.url + "/")
            host.wait_for_selector("#create-room:not([disabled])", timeout=15_000)
            host.fill("#name", "Ann")
            host.click("#create-room")
            host.wait_for_selector("#invite-box:not([hidden])")
            invite = host.input_value("#invite")
            host.select_option("#source", "en")
            host.select_option("#target", "en")

            guest = spied_page(spanish)
            # The token is in the invite's fragment (#token=…): the query goes before it.
            link, fragment = invite.split("#", 1)
            assert fragment.startswith("token=") and "token=" not in link, invite
            guest.goto(f"{link}&source=es&target=es&name=Bob#{fragment}")
            guest.wait_for_selector("#mic:not([disabled])", timeout=15_000)
            assert guest.input_value("#source") == "es"

            start_listening(host)
            start_listening(guest)
            host.wait_for_selector("#participants li:nth-child(2)", timeout=20_000)
            people = host.inner_text("#participants")
            # Each hears the other's speech translated, and sees it captioned with the
            # speaker's name.
            other = ".captions li[data-speaker] .dst:not(:empty)"
            guest.wait_for_selector(other, timeout=40_000)
            host.wait_for_selector(other, timeout=40_000)
            guest_heard, host_heard = loud_playback_s(guest, host)
            to_guest = settled_captions(guest, others_only=True)
            to_host = settled_captions(host, others_only=True)
        finally:
            english.close()
            spanish.close()
    assert "Ann" in people and "Bob" in people, people
    assert {c["who"] for c in to_guest} == {"Ann"}, to_guest
    assert {c["who"] for c in to_host} == {"Bob"}, to_host
    # The whole phrase came across, both halves (the fake microphones start with a lead-in,
    # so the first word is not spoken before media flows).
    for_guest = " ".join(c["dst"] for c in to_guest).lower()
    for_host = " ".join(c["dst"] for c in to_host).lower()
    assert "buenos días" in for_guest and "mesa" in for_guest, to_guest
    assert "thank" in for_host and "see you" in for_host, to_host
    assert guest_heard >= 1.5 and host_heard >= 1.5, (guest_heard, host_heard)
