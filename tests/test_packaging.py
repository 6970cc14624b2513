"""What ships: the licence text in the package, its SPDX expression, and `--version`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from conftest import ROOT


def test_the_wheel_carries_the_licence(tmp_path: Path) -> None:
    """Built as an operator's packager would (PEP 639: the expression and the file)."""
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip, "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("lingolive-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
        licence = next(n for n in names if n.endswith(".dist-info/licenses/COPYING"))
        text = zf.read(licence).decode()
    assert meta["License-Expression"] == "GPL-3.0-or-later"
    assert meta.get_all("License-File") == ["COPYING"]
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 3, 29 June 2007" in text


def test_version_is_the_packages() -> None:
    from importlib.metadata import version

    done = subprocess.run(
        [sys.executable, "-m", "lingolive", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"lingolive {version('lingolive')} (GPL-3.0-or-later)"
