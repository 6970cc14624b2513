"""What an operator installs from `deploy/`: the systemd unit is valid and hardened."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

UNIT = ROOT / "deploy" / "lingolive.service"


def installed_unit(tmp_path: Path) -> Path:
    """The unit as installed from this checkout (its paths point here instead of /opt)."""
    unit = tmp_path / "lingolive.service"
    unit.write_text(UNIT.read_text().replace("/opt/lingolive", str(ROOT)))
    return unit


@pytest.fixture(scope="module")
def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    return tool


def test_the_unit_verifies(analyze: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [analyze, "verify", str(installed_unit(tmp_path))], capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_the_unit_is_hardened(analyze: str, tmp_path: Path) -> None:
    """systemd's own exposure score (0 safest, 10 worst; "OK" below 2) and the settings
    the issue asks for: its own user, only its state directory writable, no privilege
    gained, restarted on failure, secrets as credentials."""
    done = subprocess.run(
        [analyze, "security", "--offline=yes", str(installed_unit(tmp_path))],
        capture_output=True,
        text=True,
    )
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)
    assert score, done.stdout + done.stderr
    assert float(score.group(1)) <= 2.0, done.stdout
    text = UNIT.read_text()
    for line in (
        "User=lingolive",
        "StateDirectory=lingolive",
        "Environment=LL_CACHE_DIR=/var/lib/lingolive",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "LoadCredential=LL_ROOM_SECRET:",
        "ExecStart=/opt/lingolive/.venv/bin/lingolive serve",
    ):
        assert re.search(rf"^{re.escape(line)}", text, re.M), line


def test_the_shipped_janus_loads_only_videoroom_and_websockets() -> None:
    """deploy/janus is what the tests' Janus starts from (tests/support/janus_process.py):
    its disable lists name every other module the installed package has, the Admin API is
    off and room creation needs the admin key."""
    from support.janus_process import (
        VIDEOROOM_LIBRARY,
        WEBSOCKETS_LIBRARY,
        _disable_all_but,
        find_janus,
    )

    install = find_janus()
    main = (ROOT / "deploy" / "janus" / "janus.jcfg").read_text()
    for section, folder, keep in (
        ("plugins", install.plugins, VIDEOROOM_LIBRARY),
        ("transports", install.transports, WEBSOCKETS_LIBRARY),
        ("events", install.events, None),
        ("loggers", install.loggers, None),
    ):
        block = re.search(rf"^{section}: \{{(.*?)^\}}", main, re.S | re.M)
        assert block, section
        listed = re.search(r'disable = "([^"]*)"', block.group(1))
        assert listed, section
        disabled = set(listed.group(1).split(","))
        installed = set(_disable_all_but(folder, keep).split(",")) - {""}
        assert installed <= disabled, (section, installed - disabled)
        assert keep not in disabled
    # The node has the API secret, browsers a signed token each; no Admin API.
    assert re.search(r'^\s*api_secret = "CHANGE-ME', main, re.M)
    assert re.search(r"^\s*token_auth = true", main, re.M)
    assert re.search(r'^\s*token_auth_secret = "CHANGE-ME', main, re.M)
    assert not re.search(r"^\s*admin_secret\s*=", main, re.M)
    transport = (ROOT / "deploy" / "janus" / "janus.transport.websockets.jcfg").read_text()
    assert re.search(r"^\s*admin_ws = false", transport, re.M)
    videoroom = (ROOT / "deploy" / "janus" / "janus.plugin.videoroom.jcfg").read_text()
    assert re.search(r'^\s*admin_key = "CHANGE-ME', videoroom, re.M)
