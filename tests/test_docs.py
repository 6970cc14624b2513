"""The docs tell the truth about the code: every setting, message and error code is there."""

from __future__ import annotations

import json
import re
import typing

from conftest import ROOT
from lingolive import protocol
from lingolive.config import Settings

README = (ROOT / "README.md").read_text()
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()


def test_readme_lists_every_setting_with_its_default() -> None:
    for name, field in Settings.model_fields.items():
        row = re.search(rf"^\| `LL_{name.upper()}` \| ([^|]*) \|", README, re.M)
        assert row, f"LL_{name.upper()} missing from the README table"
        default = field.default
        if default == "":
            assert "(empty)" in row.group(1), (name, row.group(1))
        elif isinstance(default, (int, float, str)) and not isinstance(default, bool):
            assert f"`{default}`" in row.group(1), (name, row.group(1))
    documented = set(re.findall(r"^\| `LL_([A-Z_]+)`", README, re.M))
    assert documented == {n.upper() for n in Settings.model_fields}


def sections(text: str) -> dict[str, str]:
    """Each `### ` heading of a markdown text, with the text under it (to the next heading)."""
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.M)
    return {head: body for head, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_protocol_documents_every_message_and_error_code() -> None:
    """Every message type has a section of its own (a heading that names it, and a body that
    says something), not a mention somewhere in the text."""
    documented = {
        kind: body
        for head, body in sections(PROTOCOL).items()
        if head.startswith("### ")
        for kind in re.findall(r"`([a-z_]+)`", head)
    }
    kinds = [
        kind
        for model in typing.get_args(protocol.ServerMessage)
        for kind in typing.get_args(model.model_fields["type"].annotation)
    ]
    for kind in [*kinds, "offer", "candidate", "bye"]:
        assert kind in documented, f"no ### section for `{kind}` in docs/protocol.md"
        assert len(documented[kind].split()) >= 10, (kind, documented[kind])
    codes = [v for k, v in vars(protocol.ErrorCode).items() if k.isupper()]
    for code in codes:
        assert f"| `{code}` |" in PROTOCOL, code
    for field in protocol.TimingMsg.model_fields:
        if field != "type":
            assert f"`{field}`" in PROTOCOL, field


def test_readme_quick_start_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = "./scripts/setup.sh --dev && .venv/bin/python -m pytest"
    assert test_command in README and test_command in ci
    assert "./scripts/setup.sh && .venv/bin/lingolive serve --port 8000" in README


def test_security_doc_lists_every_limit() -> None:
    """Every setting that bounds what a client can do is in docs/security.md."""
    security = (ROOT / "docs" / "security.md").read_text()
    limits = [
        name
        for name in Settings.model_fields
        if name.startswith("max_")
        or name.endswith("timeout_s")
        or name.startswith("allowed_")
        or name in ("metrics_key", "room_create_key", "room_token_ttl_s", "turn_secret")
    ]
    assert len(limits) >= 15
    for name in limits:
        assert f"`LL_{name.upper()}`" in security, f"LL_{name.upper()} missing from security.md"


def test_readme_latency_claim_is_the_committed_benchmark() -> None:
    """The README's headline numbers are what users get, measured in the browser
    (bench/results/browser_latency.json), both ways; the speed-up over a naive cascade is
    bench/results/latency.json's (the aiortc client runs the naive cascade beside it)."""
    browser = json.loads((ROOT / "bench" / "results" / "browser_latency.json").read_text())
    naive = json.loads((ROOT / "bench" / "results" / "latency.json").read_text())
    intro = README.split("## Quick start", 1)[0]

    def seconds(ms: float) -> str:
        return f"{ms / 1000:.2f}"

    assert browser["client"] == "chromium" and browser["repeat"] >= 2
    for direction in ("en->es", "es->en"):
        stats = browser["by_set"][direction]
        assert f"**{seconds(stats['e2e_p50_ms'])} s**" in intro, (direction, stats)
        assert f"p95 {seconds(stats['e2e_p95_ms'])} s" in intro, (direction, stats)
    assert f"**{naive['baseline_over_live_p50']}×**" in intro
