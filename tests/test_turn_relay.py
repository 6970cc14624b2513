"""TURN for real: a coturn with ``use-auth-secret`` accepts the credentials LingoLive makes
from ``LL_TURN_SECRET`` (and refuses them once expired), and a browser allowed to use
relayed candidates only completes a session through it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import DATA, start_server, stop_server
from lingolive.rtc.peer import TurnSecret
from support.coturn import Coturn
from test_browser import launch, loud_playback_s, settled_captions, spied_page, start_listening

SECRET = "turn-test-shared-secret"

#: The page's peer connections may use relayed candidates only (as a browser behind a
#: restrictive firewall, or one configured with `iceTransportPolicy: "relay"`).
RELAY_ONLY_JS = """
(() => {
  const Real = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Real {
    constructor(config, ...rest) {
      super({...(config || {}), iceTransportPolicy: "relay"}, ...rest);
    }
  };
})();
"""

#: The candidate types of the pair the page's connection uses.
SELECTED_PAIR_JS = """
async () => {
  const stats = await window.spy.pcs.at(-1).getStats();
  const all = [...stats.values()];
  const transport = all.find((s) => s.type === "transport" && s.selectedCandidatePairId);
  const pair = transport && stats.get(transport.selectedCandidatePairId);
  if (!pair) return null;
  return {local: stats.get(pair.localCandidateId).candidateType,
          remote: stats.get(pair.remoteCandidateId).candidateType};
}
"""


@pytest.fixture(scope="module")
def coturn() -> Iterator[Coturn]:
    with Coturn(SECRET) as server:
        yield server


async def test_credentials_from_the_secret_allocate_a_relay_until_they_expire(
    coturn: Coturn,
) -> None:
    import aioice.stun
    import aioice.turn

    async def allocate(ttl_s: float) -> tuple[str, int]:
        user, password = TurnSecret(SECRET, ttl_s).credentials()
        transport, _ = await asyncio.wait_for(
            aioice.turn.create_turn_endpoint(
                asyncio.DatagramProtocol, (coturn.address, coturn.port), user, password
            ),
            10,
        )
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        transport.close()
        return relayed

    address, port = await allocate(600)
    assert address == coturn.address and 49160 <= port <= 49260
    with pytest.raises(aioice.stun.TransactionFailed, match="401"):
        await allocate(-60)  # expired a minute ago
    with pytest.raises(aioice.stun.TransactionFailed, match="401"):
        user, _ = TurnSecret(SECRET, 600).credentials()
        await aioice.turn.create_turn_endpoint(
            asyncio.DatagramProtocol, (coturn.address, coturn.port), user, "forged"
        )


@pytest.mark.browser
def test_a_browser_that_may_only_relay_is_translated(coturn: Coturn, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    server = start_server(tmp_path, LL_ICE_SERVERS=coturn.url, LL_TURN_SECRET=SECRET)
    pair: Any = None
    try:
        with sync_playwright() as pw:
            browser = launch(pw, DATA / "en_piper_01.wav", tmp_path)
            try:
                page = spied_page(browser)
                page.add_init_script(RELAY_ONLY_JS)
                page.goto(server.url + "/")
                page.wait_for_selector("#mic:not([disabled])", timeout=15_000)
                start_listening(page)
                page.wait_for_selector(".captions li .dst:not(:empty)", timeout=40_000)
                (played,) = loud_playback_s(page)
                captions = settled_captions(page)
                pair = page.evaluate(SELECTED_PAIR_JS)
            finally:
                browser.close()
    finally:
        stop_server(server)
    assert pair is not None and pair["local"] == "relay", pair
    translated = " ".join(c["dst"] for c in captions).lower()
    assert "mesa" in translated, captions
    assert played >= 1.5, f"only {played:.1f} s of loud translated speech played"
    assert ":lingolive" in coturn.log()  # the page's allocation, with minted credentials
