"""The real page in headless Chromium: fake microphone in, captions and played audio out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import DATA, Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]

INBOUND_STATS_JS = """
async () => {
  const pc = window.lingolive.pc;
  if (!pc) return null;
  const report = await pc.getStats();
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


def launch(playwright: Any, wav: Path, tmp: Path) -> Any:
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
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )


def test_page_translates_fake_microphone(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw, DATA / "en_piper_01.wav", tmp_path)
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.goto(server.url + "/")
            page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
            assert page.input_value("#source") == "en"
            assert page.input_value("#target") == "es"
            page.click("#mic")
            dst = page.wait_for_selector(".captions li .dst:not(:empty)", timeout=30_000)
            translation = dst.inner_text()
            src = page.inner_text(".captions li .src")
            page.wait_for_function(
                "document.getElementById('lat-last').textContent.includes('ms')", timeout=15_000
            )
            # Let some translated speech play, then read what the browser really decoded.
            stats: dict[str, float] = {}
            for _ in range(40):
                stats = page.evaluate(INBOUND_STATS_JS) or {}
                if stats.get("energy", 0) > 0.01:
                    break
                page.wait_for_timeout(250)
            page.click("#mic")  # stop: sends bye
            page.wait_for_selector("#mic[aria-pressed='false']")
        finally:
            browser.close()
    assert "book a table" in src.lower(), src
    assert "mesa" in translation, translation
    assert stats["samples"] > 48_000, stats
    assert stats["energy"] > 0.01, stats
    assert not [c for c in console if "rror" in c], console
    print("browser inbound audio stats:", stats)
